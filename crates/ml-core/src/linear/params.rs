//! [`LogisticRegression`]: the estimator's parameters, their defaults, builders and validation.
//!
//! Everything here is checked by [`Params::validate`](crate::Params::validate) before any work: `fit` and
//! `transform_schema` call it first, and `set_param` rejects a value that would not pass.

use serde::{Deserialize, Serialize};

use crate::error::{MlError, Result};

crate::param_enum! {
    /// Which model [`LogisticRegression`] fits (Spark's `family`; any letter case parses).
    #[derive(Default)]
    pub enum Family: "family", ignore_case {
        /// Binomial for one or two classes, multinomial for more (the default).
        #[default]
        Auto => "auto",
        /// One coefficient set, P(class 1) by the sigmoid; one or two classes only.
        Binomial => "binomial",
        /// One coefficient set per class, probabilities by the softmax.
        Multinomial => "multinomial",
    }
}

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
    pub family: Family,
    /// Threads used to fit (0 = the current rayon pool; see [`crate::threads`]). Results do
    /// not depend on it.
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
            family: Family::Auto,
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
    crate::threads::check_n_threads("n_threads", p.n_threads)?;
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
    n_threads: "Threads used to fit (0 = the current rayon pool, see ml_core::threads); results do not depend on it.",
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
    pub fn with_family(mut self, v: Family) -> Self {
        self.family = v;
        self
    }
    /// Sets `raw_prediction_col`.
    pub fn with_raw_prediction_col(mut self, v: &str) -> Self {
        self.raw_prediction_col = v.into();
        self
    }
    /// Sets `probability_col`.
    pub fn with_probability_col(mut self, v: &str) -> Self {
        self.probability_col = v.into();
        self
    }
    /// Sets `prediction_col`.
    pub fn with_prediction_col(mut self, v: &str) -> Self {
        self.prediction_col = v.into();
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

    pub(super) fn is_multinomial(&self, num_classes: usize) -> Result<bool> {
        match self.family {
            Family::Binomial => {
                if num_classes > 2 {
                    Err(MlError::param(
                        "family",
                        format!("binomial supports 1 or 2 classes, but label column '{}' has {num_classes}", self.label_col),
                    ))
                } else {
                    Ok(false)
                }
            }
            Family::Multinomial => Ok(true),
            Family::Auto => Ok(num_classes > 2),
        }
    }
}
