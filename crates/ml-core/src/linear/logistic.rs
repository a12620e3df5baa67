//! [`LogisticRegression`] (binomial and multinomial, elastic net) and its model.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Float64Array};
use arrow::datatypes::{DataType, Field, Schema};
use ndarray::ArrayView2;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::optim::{Minimizer, StopReason};
use crate::dataset::{
    field_of, schema_with_field, type_error, vector_column_from_vec, vector_type,
};
use crate::error::{MlError, Result};
use crate::params::{ParamSpec, ParamValue, Params};
use crate::traits::{Estimator, Transformer};
use crate::Dataset;

/// Logistic regression with elastic-net regularization, as Spark MLlib's `LogisticRegression`.
///
/// Minimizes, over coefficients `beta` on the standardized feature scale and an unpenalized
/// intercept,
/// `(1 / sum w) * sum_i w_i * logloss_i + reg_param * ((1 - a) / 2 * |beta|_2^2 + a * |beta|_1)`
/// with `a = elastic_net_param`, by L-BFGS (`a = 0` or `reg_param = 0`) or OWL-QN, following
/// Breeze's algorithm step by step (see [`crate::linear`]). Features are standardized with the
/// weighted sample standard deviation and centred (virtually: the data is never copied), and the
/// coefficients are returned on the original scale. With `standardization = false` the penalty
/// applies to the original-scale coefficients instead, as in Spark.
///
/// Labels are `0, 1, ..., K-1` (any numeric column holding whole numbers). `family = "auto"`
/// picks binomial for `K <= 2`, multinomial otherwise.
///
/// Defined edge cases: a constant feature (zero variance) gets a zero coefficient; a single
/// class with `fit_intercept` is not optimized (Spark would return an infinite intercept): the
/// model has zero coefficients and the finite intercept(s) `log((n_k + 0.5) / (n_other + 0.5))`
/// (binomial) or `log(n_k + 0.5)` centred (multinomial), so it predicts that class with a
/// probability below one; perfectly separable data without regularization runs until `max_iter`
/// with growing, finite coefficients (the summary says it did not converge). Outputs never hold
/// NaN.
///
/// ```
/// use std::sync::Arc;
/// use arrow::array::{ArrayRef, Float64Array};
/// use ml_core::{Dataset, Estimator, Transformer};
/// use ml_core::dataset::vector_column_from_vec;
/// use ml_core::linear::LogisticRegression;
///
/// let x = vec![0.0, 1.0, 1.0, 0.5, 2.0, 2.5, 3.0, 3.5, 0.5, 0.0, 2.5, 3.0];
/// let y = vec![0.0, 0.0, 1.0, 1.0, 0.0, 1.0];
/// let data = Dataset::from_columns(vec![
///     ("features", vector_column_from_vec(x, 6, 2)),
///     ("label", Arc::new(Float64Array::from(y)) as ArrayRef),
/// ]).unwrap();
/// let lr = LogisticRegression::new().with_reg_param(0.1).with_elastic_net_param(0.5);
/// let model = lr.fit(&data).unwrap();
/// assert!(model.summary.converged);
/// let out = model.transform(&data).unwrap();
/// assert!(out.has_column("probability") && out.has_column("prediction"));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogisticRegression {
    /// Feature column (`FixedSizeList<Float64>`), default `features`.
    pub features_col: String,
    /// Label column (numeric, values 0..K-1), default `label`.
    pub label_col: String,
    /// Optional instance-weight column (numeric, >= 0); unset means weight 1.
    pub weight_col: Option<String>,
    /// Output: margins, default `rawPrediction`.
    pub raw_prediction_col: String,
    /// Output: class probabilities, default `probability`.
    pub probability_col: String,
    /// Output: predicted class, default `prediction`.
    pub prediction_col: String,
    /// Maximum number of optimizer iterations, default 100.
    pub max_iter: usize,
    /// Regularization strength (>= 0), default 0.
    pub reg_param: f64,
    /// Elastic-net mixing in [0, 1]: 0 is L2, 1 is L1. Default 0.
    pub elastic_net_param: f64,
    /// Convergence tolerance (>= 0), default 1e-6.
    pub tol: f64,
    /// Fit an (unpenalized) intercept, default true.
    pub fit_intercept: bool,
    /// Penalize standardized coefficients (true, default) or original-scale ones.
    pub standardization: bool,
    /// Binary decision threshold on P(class 1), in [0, 1]; default 0.5.
    pub threshold: f64,
    /// Per-class thresholds (prediction = argmax p_k / t_k); overrides `threshold` when set.
    pub thresholds: Option<Vec<f64>>,
    /// `auto`, `binomial` or `multinomial`; default `auto`.
    pub family: String,
    /// Threads for the gradient (0 = rayon's global pool). Results do not depend on it.
    pub n_threads: usize,
}

impl Default for LogisticRegression {
    fn default() -> Self {
        LogisticRegression {
            features_col: "features".into(),
            label_col: "label".into(),
            weight_col: None,
            raw_prediction_col: "rawPrediction".into(),
            probability_col: "probability".into(),
            prediction_col: "prediction".into(),
            max_iter: 100,
            reg_param: 0.0,
            elastic_net_param: 0.0,
            tol: 1e-6,
            fit_intercept: true,
            standardization: true,
            threshold: 0.5,
            thresholds: None,
            family: "auto".into(),
            n_threads: 0,
        }
    }
}

fn validate(p: &LogisticRegression) -> Result<()> {
    if !(p.reg_param >= 0.0 && p.reg_param.is_finite()) {
        return Err(MlError::param(
            "reg_param",
            format!("must be a finite number >= 0, got {}", p.reg_param),
        ));
    }
    if !(0.0..=1.0).contains(&p.elastic_net_param) {
        return Err(MlError::param(
            "elastic_net_param",
            format!("must be in [0, 1], got {}", p.elastic_net_param),
        ));
    }
    if !(p.tol >= 0.0 && p.tol.is_finite()) {
        return Err(MlError::param(
            "tol",
            format!("must be a finite number >= 0, got {}", p.tol),
        ));
    }
    if !(0.0..=1.0).contains(&p.threshold) {
        return Err(MlError::param(
            "threshold",
            format!("must be in [0, 1], got {}", p.threshold),
        ));
    }
    if let Some(t) = &p.thresholds {
        if t.is_empty()
            || t.iter().any(|v| !(v.is_finite() && *v >= 0.0))
            || t.iter().filter(|v| **v == 0.0).count() > 1
        {
            return Err(MlError::param(
                "thresholds",
                "must be finite values >= 0 with at most one zero, one per class",
            ));
        }
    }
    if !matches!(
        p.family.to_ascii_lowercase().as_str(),
        "auto" | "binomial" | "multinomial"
    ) {
        return Err(MlError::param(
            "family",
            format!("expected auto, binomial or multinomial, got '{}'", p.family),
        ));
    }
    for (name, v) in [
        ("features_col", &p.features_col),
        ("label_col", &p.label_col),
        ("prediction_col", &p.prediction_col),
    ] {
        if v.is_empty() {
            return Err(MlError::param(name, "column name must not be empty"));
        }
    }
    Ok(())
}

crate::impl_params!(LogisticRegression {
    features_col: "Feature column (FixedSizeList<Float64>).",
    label_col: "Label column: numeric, values 0, 1, ..., K-1.",
    weight_col: "Optional instance-weight column (numeric, >= 0); none means weight 1.",
    raw_prediction_col: "Output column for the margins (rawPrediction).",
    probability_col: "Output column for class probabilities.",
    prediction_col: "Output column for the predicted class.",
    max_iter: "Maximum number of L-BFGS / OWL-QN iterations (>= 0).",
    reg_param: "Regularization strength lambda (>= 0).",
    elastic_net_param: "Elastic-net mixing alpha in [0, 1]: 0 = L2 (ridge), 1 = L1 (lasso).",
    tol: "Convergence tolerance of the optimizer (>= 0).",
    fit_intercept: "Fit an unpenalized intercept.",
    standardization: "Penalize coefficients of standardized features (Spark's default).",
    threshold: "Binary threshold on P(class 1) in [0, 1].",
    thresholds: "Per-class thresholds; prediction = argmax p_k / t_k. Overrides threshold.",
    family: "auto | binomial | multinomial.",
    n_threads: "Threads for the gradient (0 = rayon's global pool); results do not depend on it.",
} validate = validate);

impl LogisticRegression {
    /// The estimator with Spark's defaults.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets `max_iter`.
    pub fn with_max_iter(mut self, v: usize) -> Self {
        self.max_iter = v;
        self
    }
    /// Sets `reg_param`.
    pub fn with_reg_param(mut self, v: f64) -> Self {
        self.reg_param = v;
        self
    }
    /// Sets `elastic_net_param`.
    pub fn with_elastic_net_param(mut self, v: f64) -> Self {
        self.elastic_net_param = v;
        self
    }
    /// Sets `tol`.
    pub fn with_tol(mut self, v: f64) -> Self {
        self.tol = v;
        self
    }
    /// Sets `fit_intercept`.
    pub fn with_fit_intercept(mut self, v: bool) -> Self {
        self.fit_intercept = v;
        self
    }
    /// Sets `standardization`.
    pub fn with_standardization(mut self, v: bool) -> Self {
        self.standardization = v;
        self
    }
    /// Sets `family` (`auto`, `binomial`, `multinomial`).
    pub fn with_family(mut self, v: &str) -> Self {
        self.family = v.into();
        self
    }
    /// Sets `weight_col`.
    pub fn with_weight_col(mut self, v: &str) -> Self {
        self.weight_col = Some(v.into());
        self
    }
    /// Sets `features_col`.
    pub fn with_features_col(mut self, v: &str) -> Self {
        self.features_col = v.into();
        self
    }
    /// Sets `label_col`.
    pub fn with_label_col(mut self, v: &str) -> Self {
        self.label_col = v.into();
        self
    }
    /// Sets `threshold`.
    pub fn with_threshold(mut self, v: f64) -> Self {
        self.threshold = v;
        self
    }
    /// Sets `thresholds`.
    pub fn with_thresholds(mut self, v: Vec<f64>) -> Self {
        self.thresholds = Some(v);
        self
    }
    /// Sets `n_threads`.
    pub fn with_n_threads(mut self, v: usize) -> Self {
        self.n_threads = v;
        self
    }

    fn is_multinomial(&self, num_classes: usize) -> Result<bool> {
        match self.family.to_ascii_lowercase().as_str() {
            "binomial" => {
                if num_classes > 2 {
                    Err(MlError::param(
                        "family",
                        format!("binomial supports 1 or 2 classes, but label column '{}' has {num_classes}", self.label_col),
                    ))
                } else {
                    Ok(false)
                }
            }
            "multinomial" => Ok(true),
            _ => Ok(num_classes > 2),
        }
    }
}

/// What happened during training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingSummary {
    /// Objective (regularized loss, as Spark defines it) at the start and after each iteration.
    pub objective_history: Vec<f64>,
    /// Number of optimizer iterations.
    pub total_iterations: usize,
    /// True when the optimizer met its convergence test (not merely `max_iter`).
    pub converged: bool,
    /// Why the optimizer stopped.
    pub stop_reason: StopReason,
}

impl TrainingSummary {
    /// The final objective value.
    pub fn objective(&self) -> f64 {
        self.objective_history.last().copied().unwrap_or(f64::NAN)
    }
}

/// A fitted [`LogisticRegression`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogisticRegressionModel {
    /// The parameters it was fitted with (threshold(s) and columns can still be changed).
    pub params: LogisticRegression,
    /// Number of classes K.
    pub num_classes: usize,
    /// Number of features.
    pub num_features: usize,
    /// True for a multinomial model (K coefficient rows), false for binomial (one row).
    pub is_multinomial: bool,
    /// Coefficients on the original feature scale, row-major: one row per coefficient set.
    pub coefficient_matrix: Vec<f64>,
    /// One intercept per coefficient set.
    pub intercept_vector: Vec<f64>,
    /// The training summary.
    pub summary: TrainingSummary,
}

impl LogisticRegressionModel {
    /// Binomial coefficients (the single row); for a multinomial model, the first row.
    pub fn coefficients(&self) -> &[f64] {
        &self.coefficient_matrix[..self.num_features]
    }
    /// Binomial intercept (for a multinomial model, the first class's).
    pub fn intercept(&self) -> f64 {
        self.intercept_vector[0]
    }
    /// Number of coefficient sets (1 for binomial, K for multinomial).
    pub fn num_coefficient_sets(&self) -> usize {
        self.intercept_vector.len()
    }

    /// Margins (rawPrediction) of one feature row.
    pub fn predict_raw(&self, x: &[f64]) -> Vec<f64> {
        let p = self.num_features;
        let margins: Vec<f64> = (0..self.num_coefficient_sets())
            .map(|k| {
                dot(&self.coefficient_matrix[k * p..(k + 1) * p], x) + self.intercept_vector[k]
            })
            .collect();
        if self.is_multinomial {
            margins
        } else {
            vec![-margins[0], margins[0]]
        }
    }

    /// Probabilities from margins.
    pub fn raw_to_probability(&self, raw: &[f64]) -> Vec<f64> {
        if self.is_multinomial {
            softmax(raw)
        } else {
            // As Spark: P(0) = sigmoid(raw[0]) with raw[0] = -margin, P(1) = 1 - P(0).
            let p0 = 1.0 / (1.0 + (-raw[0]).exp());
            vec![p0, 1.0 - p0]
        }
    }

    /// The predicted class from probabilities.
    pub fn probability_to_prediction(&self, prob: &[f64]) -> f64 {
        if let Some(t) = &self.params.thresholds {
            let mut best = 0usize;
            let mut best_v = f64::NEG_INFINITY;
            for (k, (&pk, &tk)) in prob.iter().zip(t).enumerate() {
                let v = if tk == 0.0 { f64::INFINITY } else { pk / tk };
                if v > best_v {
                    best_v = v;
                    best = k;
                }
            }
            best as f64
        } else if !self.is_multinomial {
            if prob[1] > self.params.threshold {
                1.0
            } else {
                0.0
            }
        } else {
            argmax(prob) as f64
        }
    }

    /// The number of nonzero coefficients (intercepts excluded).
    pub fn num_nonzero(&self) -> usize {
        self.coefficient_matrix
            .iter()
            .filter(|v| **v != 0.0)
            .count()
    }

    fn check_features(&self, schema: &Schema) -> Result<()> {
        let col = &self.params.features_col;
        let f = field_of(schema, col)?;
        match f.data_type() {
            DataType::FixedSizeList(item, n) if item.data_type() == &DataType::Float64 => {
                if *n as usize != self.num_features {
                    return Err(MlError::ColumnType {
                        column: col.clone(),
                        expected: format!(
                            "vectors of width {} (as in training)",
                            self.num_features
                        ),
                        found: format!("width {n}"),
                    });
                }
                Ok(())
            }
            other => Err(type_error(col, "FixedSizeList<Float64>", other)),
        }
    }
}

fn argmax(v: &[f64]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

fn softmax(raw: &[f64]) -> Vec<f64> {
    let max = raw.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = raw.iter().map(|m| (m - max).exp()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|v| v / s).collect()
}

impl Params for LogisticRegressionModel {
    fn param_specs(&self) -> Vec<ParamSpec> {
        self.params.param_specs()
    }
    fn get_param(&self, name: &str) -> Result<ParamValue> {
        self.params.get_param(name)
    }
    fn set_param(&mut self, name: &str, value: ParamValue) -> Result<()> {
        let mut next = self.params.clone();
        next.set_param(name, value)?;
        if let Some(t) = &next.thresholds {
            if t.len() != self.num_classes {
                return Err(MlError::param(
                    "thresholds",
                    format!(
                        "needs {} values (one per class), got {}",
                        self.num_classes,
                        t.len()
                    ),
                ));
            }
        }
        self.params = next;
        Ok(())
    }
    fn validate(&self) -> Result<()> {
        self.params.validate()
    }
}

fn output_schema(p: &LogisticRegression, schema: &Schema, width: usize) -> Result<Schema> {
    let s = schema_with_field(
        schema,
        Field::new(&p.raw_prediction_col, vector_type(width), true),
    )?;
    let s = schema_with_field(&s, Field::new(&p.probability_col, vector_type(width), true))?;
    schema_with_field(&s, Field::new(&p.prediction_col, DataType::Float64, true))
}

#[typetag::serde]
impl Transformer for LogisticRegressionModel {
    fn transform(&self, data: &Dataset) -> Result<Dataset> {
        let schema = self.transform_schema(&data.schema())?;
        let x = data.features(&self.params.features_col)?;
        let n = x.nrows();
        let width = self.num_classes.max(2);
        let rows: Vec<(Vec<f64>, Vec<f64>, f64)> = (0..n)
            .into_par_iter()
            .with_min_len(256)
            .map(|i| {
                let row = x.row(i);
                let row: Vec<f64> = row.iter().copied().collect();
                let mut raw = self.predict_raw(&row);
                raw.resize(width, 0.0);
                let prob = self.raw_to_probability(&raw);
                let pred = self.probability_to_prediction(&prob);
                (raw, prob, pred)
            })
            .collect();
        let mut raw_all = Vec::with_capacity(n * width);
        let mut prob_all = Vec::with_capacity(n * width);
        let mut pred_all = Vec::with_capacity(n);
        for (r, p, y) in rows {
            raw_all.extend(r);
            prob_all.extend(p);
            pred_all.push(y);
        }
        let cols = [
            vector_column_from_vec(raw_all, n, width),
            vector_column_from_vec(prob_all, n, width),
            Arc::new(Float64Array::from(pred_all)) as ArrayRef,
        ];
        let mut out = data.clone();
        let k = schema.fields().len() - 3;
        for (f, c) in schema.fields()[k..].iter().zip(cols) {
            out = out.with_field(f.as_ref().clone(), c)?;
        }
        Ok(out)
    }
    fn transform_schema(&self, schema: &Schema) -> Result<Schema> {
        self.check_features(schema)?;
        output_schema(&self.params, schema, self.num_classes.max(2))
    }
}

/// Checked training inputs.
struct Inputs<'a> {
    x: std::borrow::Cow<'a, [f64]>,
    n: usize,
    p: usize,
    y: Vec<f64>,
    w: Vec<f64>,
}

fn read_inputs<'a>(est: &LogisticRegression, data: &'a Dataset) -> Result<Inputs<'a>> {
    let view: ArrayView2<'a, f64> = data.features(&est.features_col)?;
    let (n, p) = view.dim();
    if n == 0 {
        return Err(MlError::data(format!(
            "cannot fit LogisticRegression on an empty dataset (column '{}')",
            est.features_col
        )));
    }
    let x: std::borrow::Cow<'a, [f64]> = match view.to_slice() {
        Some(s) => std::borrow::Cow::Borrowed(s),
        None => std::borrow::Cow::Owned(view.iter().copied().collect()),
    };
    if p > 0 {
        let bad = x
            .par_chunks(p)
            .with_min_len(64)
            .position_first(|row| row.iter().any(|v| !v.is_finite()));
        if let Some(row) = bad {
            return Err(MlError::value(
                &est.features_col,
                row,
                "feature vector holds NaN or infinity; impute or drop such rows first",
            ));
        }
    }
    let labels = data.numeric_column(&est.label_col)?;
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        if labels.is_null(i) {
            return Err(MlError::value(&est.label_col, i, "null label"));
        }
        let v = labels.value(i);
        if !(v.is_finite() && v >= 0.0 && v.fract() == 0.0) {
            return Err(MlError::value(
                &est.label_col,
                i,
                format!("labels must be whole numbers 0, 1, ..., K-1; found {v}"),
            ));
        }
        y.push(v);
    }
    let w = match &est.weight_col {
        None => vec![1.0; n],
        Some(col) => {
            let wc = data.numeric_column(col)?;
            let mut w = Vec::with_capacity(n);
            for i in 0..n {
                if wc.is_null(i) {
                    return Err(MlError::value(col, i, "null instance weight"));
                }
                let v = wc.value(i);
                if !(v.is_finite() && v >= 0.0) {
                    return Err(MlError::value(
                        col,
                        i,
                        format!("instance weights must be finite and >= 0; found {v}"),
                    ));
                }
                w.push(v);
            }
            w
        }
    };
    Ok(Inputs { x, n, p, y, w })
}

/// Row blocks processed as independent tasks; depends on the row count only, so the reduction
/// order (and the result) is the same whatever the number of threads.
fn row_blocks(n: usize) -> Vec<(usize, usize)> {
    const MIN_ROWS: usize = 256;
    const MAX_BLOCKS: usize = 64;
    let blocks = n.div_ceil(MIN_ROWS).clamp(1, MAX_BLOCKS);
    let size = n.div_ceil(blocks);
    (0..blocks)
        .map(|b| (b * size, ((b + 1) * size).min(n)))
        .filter(|(a, b)| a < b)
        .collect()
}

/// Dot product with eight independent accumulators (vectorizes without fast-math).
#[inline]
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f64; 8];
    let ca = a.chunks_exact(8);
    let cb = b.chunks_exact(8);
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for j in 0..8 {
            acc[j] += x[j] * y[j];
        }
    }
    let mut tail = 0.0;
    for (x, y) in ra.iter().zip(rb) {
        tail += x * y;
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}

#[inline]
fn axpy(alpha: f64, x: &[f64], y: &mut [f64]) {
    for (yv, xv) in y.iter_mut().zip(x) {
        *yv += alpha * xv;
    }
}

#[inline]
fn log1p_exp(x: f64) -> f64 {
    if x > 0.0 {
        x + (-x).exp().ln_1p()
    } else {
        x.exp().ln_1p()
    }
}

/// The logistic loss and its gradient on the standardized (and, with an intercept, centred)
/// problem, evaluated straight from the raw row-major features.
struct LossFn<'a> {
    x: &'a [f64],
    y: &'a [f64],
    w: &'a [f64],
    n: usize,
    p: usize,
    /// Coefficient sets (1 binomial, K multinomial).
    k: usize,
    multinomial: bool,
    fit_intercept: bool,
    inv_std: Vec<f64>,
    mean: Vec<f64>,
    weight_sum: f64,
    l2: f64,
    /// Per-feature L2 multiplier (1 with standardization, 1/std^2 without, 0 for constant ones).
    l2_scale: Vec<f64>,
    blocks: Vec<(usize, usize)>,
}

impl LossFn<'_> {
    fn dim(&self) -> usize {
        self.k * self.p + if self.fit_intercept { self.k } else { 0 }
    }

    /// Objective and gradient at `coef` (layout: class-major coefficients, then intercepts).
    fn eval(&self, coef: &[f64]) -> (f64, Vec<f64>) {
        let (p, k) = (self.p, self.k);
        // Effective raw-scale coefficients and offsets: margin = x . v_k + c_k.
        let mut v = vec![0.0; k * p];
        let mut c = vec![0.0; k];
        for cls in 0..k {
            let mut off = if self.fit_intercept {
                coef[k * p + cls]
            } else {
                0.0
            };
            for j in 0..p {
                let b = coef[cls * p + j];
                v[cls * p + j] = b * self.inv_std[j];
                if self.fit_intercept {
                    off -= b * self.inv_std[j] * self.mean[j];
                }
            }
            c[cls] = off;
        }
        let partials: Vec<(f64, Vec<f64>, Vec<f64>)> = self
            .blocks
            .par_iter()
            .map(|&(lo, hi)| self.block(lo, hi, &v, &c))
            .collect();
        let mut loss = 0.0;
        let mut g = vec![0.0; k * p];
        let mut s = vec![0.0; k];
        for (l, gb, sb) in &partials {
            loss += l;
            for (a, b) in g.iter_mut().zip(gb) {
                *a += b;
            }
            for (a, b) in s.iter_mut().zip(sb) {
                *a += b;
            }
        }
        let ws = self.weight_sum;
        let mut grad = vec![0.0; self.dim()];
        let mut reg = 0.0;
        for cls in 0..k {
            for j in 0..p {
                let idx = cls * p + j;
                let centred = if self.fit_intercept {
                    g[idx] - self.mean[j] * s[cls]
                } else {
                    g[idx]
                };
                let b = coef[idx];
                let r = self.l2 * self.l2_scale[j];
                reg += 0.5 * r * b * b;
                grad[idx] = self.inv_std[j] * centred / ws + r * b;
            }
            if self.fit_intercept {
                grad[k * p + cls] = s[cls] / ws;
            }
        }
        (loss / ws + reg, grad)
    }

    fn block(&self, lo: usize, hi: usize, v: &[f64], c: &[f64]) -> (f64, Vec<f64>, Vec<f64>) {
        let (p, k) = (self.p, self.k);
        let mut g = vec![0.0; k * p];
        let mut s = vec![0.0; k];
        let mut loss = 0.0;
        let mut margins = vec![0.0; k];
        for i in lo..hi {
            let wi = self.w[i];
            if wi == 0.0 {
                continue;
            }
            let row = &self.x[i * p..(i + 1) * p];
            let yi = self.y[i];
            if !self.multinomial {
                let m = dot(row, &v[..p]) + c[0];
                let (l, mult) = if yi > 0.0 {
                    (log1p_exp(-m), wi * (1.0 / (1.0 + (-m).exp()) - 1.0))
                } else {
                    (log1p_exp(m), wi * (1.0 / (1.0 + (-m).exp())))
                };
                loss += wi * l;
                s[0] += mult;
                axpy(mult, row, &mut g[..p]);
            } else {
                let mut max = f64::NEG_INFINITY;
                for cls in 0..k {
                    margins[cls] = dot(row, &v[cls * p..(cls + 1) * p]) + c[cls];
                    max = max.max(margins[cls]);
                }
                let label = yi as usize;
                let label_margin = margins[label];
                let mut sum = 0.0;
                for m in margins.iter_mut() {
                    *m = (*m - max).exp();
                    sum += *m;
                }
                let l = sum.ln() + max - label_margin;
                loss += wi * l;
                for cls in 0..k {
                    let pk = margins[cls] / sum;
                    let mult = wi * (pk - if cls == label { 1.0 } else { 0.0 });
                    s[cls] += mult;
                    axpy(mult, row, &mut g[cls * p..(cls + 1) * p]);
                }
            }
        }
        (loss, g, s)
    }
}

/// Weighted mean and unbiased weighted standard deviation per feature (Spark's Summarizer).
fn feature_stats(inp: &Inputs, blocks: &[(usize, usize)]) -> (Vec<f64>, Vec<f64>, f64) {
    let p = inp.p;
    let x = &inp.x;
    let w = &inp.w;
    let sums: Vec<(Vec<f64>, f64, f64)> = blocks
        .par_iter()
        .map(|&(lo, hi)| {
            let mut s = vec![0.0; p];
            let (mut ws, mut ws2) = (0.0, 0.0);
            for i in lo..hi {
                axpy(w[i], &x[i * p..(i + 1) * p], &mut s);
                ws += w[i];
                ws2 += w[i] * w[i];
            }
            (s, ws, ws2)
        })
        .collect();
    let mut mean = vec![0.0; p];
    let (mut ws, mut ws2) = (0.0, 0.0);
    for (s, a, b) in &sums {
        for (m, v) in mean.iter_mut().zip(s) {
            *m += v;
        }
        ws += a;
        ws2 += b;
    }
    if ws > 0.0 {
        for m in mean.iter_mut() {
            *m /= ws;
        }
    }
    let m2s: Vec<Vec<f64>> = blocks
        .par_iter()
        .map(|&(lo, hi)| {
            let mut s = vec![0.0; p];
            for i in lo..hi {
                let row = &x[i * p..(i + 1) * p];
                for ((acc, &v), &m) in s.iter_mut().zip(row).zip(&mean) {
                    let d = v - m;
                    *acc += w[i] * d * d;
                }
            }
            s
        })
        .collect();
    let mut m2 = vec![0.0; p];
    for s in &m2s {
        for (a, b) in m2.iter_mut().zip(s) {
            *a += b;
        }
    }
    let denom = if ws > 0.0 { ws - ws2 / ws } else { 0.0 };
    let std = m2
        .iter()
        .map(|&v| {
            if denom > 0.0 {
                (v / denom).max(0.0).sqrt()
            } else {
                0.0
            }
        })
        .collect();
    (mean, std, ws)
}

impl LogisticRegression {
    fn fit_impl(&self, data: &Dataset) -> Result<LogisticRegressionModel> {
        self.validate()?;
        let inp = read_inputs(self, data)?;
        let (n, p) = (inp.n, inp.p);
        let blocks = row_blocks(n);
        let num_classes = inp.y.iter().cloned().fold(0.0, f64::max) as usize + 1;
        let mut histogram = vec![0.0; num_classes];
        for (&y, &w) in inp.y.iter().zip(&inp.w) {
            histogram[y as usize] += w;
        }
        let multinomial = self.is_multinomial(num_classes)?;
        if let Some(t) = &self.thresholds {
            if t.len() != num_classes {
                return Err(MlError::param(
                    "thresholds",
                    format!(
                        "needs {num_classes} values (one per class in '{}'), got {}",
                        self.label_col,
                        t.len()
                    ),
                ));
            }
        }
        let k = if multinomial { num_classes } else { 1 };
        let (mean, std, weight_sum) = feature_stats(&inp, &blocks);
        if weight_sum <= 0.0 {
            return Err(MlError::data(format!(
                "the instance weights in '{}' sum to zero",
                self.weight_col.as_deref().unwrap_or("weight")
            )));
        }
        let model = |coef: Vec<f64>, intercepts: Vec<f64>, summary: TrainingSummary| {
            LogisticRegressionModel {
                params: self.clone(),
                num_classes,
                num_features: p,
                is_multinomial: multinomial,
                coefficient_matrix: coef,
                intercept_vector: intercepts,
                summary,
            }
        };

        let constant_label = histogram.iter().filter(|&&h| h != 0.0).count() == 1;
        if self.fit_intercept && constant_label {
            // Spark returns +/-inf intercepts here; we return finite, smoothed log-odds.
            let intercepts = if multinomial {
                let raw: Vec<f64> = histogram.iter().map(|h| (h + 0.5).ln()).collect();
                let m = raw.iter().sum::<f64>() / k as f64;
                raw.iter().map(|r| r - m).collect()
            } else {
                let h1 = histogram.get(1).copied().unwrap_or(0.0);
                let h0 = histogram[0];
                vec![((h1 + 0.5) / (h0 + 0.5)).ln()]
            };
            let mut m = model(
                vec![0.0; k * p],
                intercepts,
                TrainingSummary {
                    objective_history: vec![],
                    total_iterations: 0,
                    converged: true,
                    stop_reason: StopReason::NotNeeded,
                },
            );
            // The objective of this model (zero coefficients: no penalty).
            let b = &m.intercept_vector;
            let mut loss = 0.0;
            for (&y, &w) in inp.y.iter().zip(&inp.w) {
                let l = if multinomial {
                    let max = b.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                    let s: f64 = b.iter().map(|v| (v - max).exp()).sum();
                    s.ln() + max - b[y as usize]
                } else if y > 0.0 {
                    log1p_exp(-b[0])
                } else {
                    log1p_exp(b[0])
                };
                loss += w * l;
            }
            m.summary.objective_history = vec![loss / weight_sum];
            return Ok(m);
        }

        let inv_std: Vec<f64> = std
            .iter()
            .map(|&s| if s != 0.0 { 1.0 / s } else { 0.0 })
            .collect();
        let l2 = (1.0 - self.elastic_net_param) * self.reg_param;
        let l1 = self.elastic_net_param * self.reg_param;
        let l2_scale: Vec<f64> = std
            .iter()
            .map(|&s| {
                if self.standardization {
                    1.0
                } else if s != 0.0 {
                    1.0 / (s * s)
                } else {
                    0.0
                }
            })
            .collect();
        let loss = LossFn {
            x: &inp.x,
            y: &inp.y,
            w: &inp.w,
            n,
            p,
            k,
            multinomial,
            fit_intercept: self.fit_intercept,
            inv_std: inv_std.clone(),
            mean: mean.clone(),
            weight_sum,
            l2,
            l2_scale,
            blocks,
        };
        let dim = loss.dim();
        debug_assert!(loss.n == n);

        // Initial point (Spark): zero coefficients, intercepts from the label distribution.
        let mut x0 = vec![0.0; dim];
        if self.fit_intercept {
            if multinomial {
                let raw: Vec<f64> = histogram.iter().map(|h| h.ln_1p()).collect();
                let m = raw.iter().sum::<f64>() / raw.len() as f64;
                for cls in 0..k {
                    x0[k * p + cls] = raw[cls] - m;
                }
            } else {
                x0[p] = (histogram[1] / histogram[0]).ln();
            }
        }
        let l1_weights = if l1 != 0.0 {
            let mut v = vec![0.0; dim];
            for cls in 0..k {
                for j in 0..p {
                    v[cls * p + j] = if self.standardization {
                        l1
                    } else if std[j] != 0.0 {
                        l1 / std[j]
                    } else {
                        0.0
                    };
                }
            }
            Some(v)
        } else {
            None
        };
        let minimizer = Minimizer {
            max_iter: self.max_iter,
            memory: 10,
            tol: self.tol,
            l1: l1_weights,
        };
        let run = || minimizer.minimize(|c: &[f64]| loss.eval(c), x0.clone(), |_, _| {});
        let result = if self.n_threads > 0 {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(self.n_threads)
                .build()
                .map_err(|e| {
                    MlError::param("n_threads", format!("cannot start a thread pool: {e}"))
                })?;
            pool.install(run)
        } else {
            run()
        };

        // Back to the original scale: undo the centring, then the scaling.
        let sol = result.x;
        let mut coef = vec![0.0; k * p];
        let mut intercepts = vec![0.0; k];
        for cls in 0..k {
            let mut shift = 0.0;
            for j in 0..p {
                let b = sol[cls * p + j];
                shift += b * inv_std[j] * mean[j];
                coef[cls * p + j] = if std[j] != 0.0 { b / std[j] } else { 0.0 };
            }
            if self.fit_intercept {
                intercepts[cls] = sol[k * p + cls] - shift;
            }
        }
        if multinomial {
            if self.reg_param == 0.0 {
                for j in 0..p {
                    let c = (0..k).map(|cls| coef[cls * p + j]).sum::<f64>() / k as f64;
                    for cls in 0..k {
                        coef[cls * p + j] -= c;
                    }
                }
            }
            if self.fit_intercept {
                let m = intercepts.iter().sum::<f64>() / k as f64;
                for b in intercepts.iter_mut() {
                    *b -= m;
                }
            }
        }
        Ok(model(
            coef,
            intercepts,
            TrainingSummary {
                objective_history: result.history,
                total_iterations: result.iterations,
                converged: result.reason.is_converged(),
                stop_reason: result.reason,
            },
        ))
    }
}

impl Estimator for LogisticRegression {
    type Model = LogisticRegressionModel;
    fn fit(&self, data: &Dataset) -> Result<LogisticRegressionModel> {
        self.fit_impl(data)
    }
    fn transform_schema(&self, schema: &Schema) -> Result<Schema> {
        self.validate()?;
        let f = field_of(schema, &self.features_col)?;
        if !matches!(f.data_type(), DataType::FixedSizeList(item, _) if item.data_type() == &DataType::Float64)
        {
            return Err(type_error(
                &self.features_col,
                "FixedSizeList<Float64>",
                f.data_type(),
            ));
        }
        let l = field_of(schema, &self.label_col)?;
        if !crate::dataset::is_numeric(l.data_type()) {
            return Err(type_error(&self.label_col, "a numeric type", l.data_type()));
        }
        if let Some(wc) = &self.weight_col {
            let wf = field_of(schema, wc)?;
            if !crate::dataset::is_numeric(wf.data_type()) {
                return Err(type_error(wc, "a numeric type", wf.data_type()));
            }
        }
        // The number of classes is only known from the data; the width here assumes binary
        // unless thresholds say otherwise.
        let width = self
            .thresholds
            .as_ref()
            .map(|t| t.len())
            .unwrap_or(2)
            .max(2);
        output_schema(self, schema, width)
    }
}
