//! Training: checked inputs, feature statistics, the optimizer run and the way back to the
//! original feature scale.

use arrow::array::Array;
use arrow::datatypes::{DataType, Schema};
use ndarray::ArrayView2;
use rayon::prelude::*;

use super::loss::{axpy, log1p_exp, LossFn};
use super::model::{output_schema, LogisticRegressionModel, TrainingSummary};
use super::optim::{Minimizer, StopReason};
use super::params::LogisticRegression;
use crate::dataset::{field_of, type_error};
use crate::error::{MlError, Result};
use crate::params::Params;
use crate::traits::Estimator;
use crate::Dataset;

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
        crate::dataset::check_class_label(&est.label_col, i, v, n)?;
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
        let result = minimizer.minimize(|c: &[f64]| loss.eval(c), x0, |_, _| {});

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
    /// Fits on `n_threads` threads ([`crate::threads::install`]): input checks, feature
    /// statistics and every loss evaluation run in that pool.
    fn fit(&self, data: &Dataset) -> Result<LogisticRegressionModel> {
        crate::threads::install(self.n_threads, || self.fit_impl(data))?
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
