//! Metric functions over plain slices: binary (ROC AUC, PR AUC, log loss, curves), multiclass
//! (accuracy, weighted precision / recall / F1, log loss) and regression (MSE, RMSE, MAE, R²).
//!
//! Every function takes optional sample weights (non-negative, finite) and checks its input
//! first: lengths must agree, labels must be what the metric expects, scores must not be NaN.
//! Errors are [`MlError::InvalidValue`] naming the argument (`scores`, `labels`, `weights`,
//! ...) and the row, or [`MlError::InvalidData`] for data that leaves the metric undefined (one
//! class only, total weight zero, no rows).
//!
//! ## Definitions
//! - **ROC AUC** is ml-core's [`ml_core::metrics::roc_auc`], the one AUC of the workspace:
//!   exact, the trapezoid rule over the ROC points of every distinct score threshold, so tied
//!   scores count half, exactly as scikit-learn's `roc_auc_score` and Spark's
//!   `BinaryClassificationMetrics(numBins = 0).areaUnderROC`. The curves and PR AUC here are
//!   built on the same threshold points ([`ml_core::metrics::binary_curve`]).
//! - **PR AUC** follows Spark's `BinaryClassificationMetrics.areaUnderPR` (with `numBins = 0`):
//!   one (recall, precision) point per distinct threshold, in decreasing score order, with
//!   precision = TP / (TP + FP) (1 when nothing is predicted positive), preceded by the point
//!   (0, p0) where p0 is the precision at the highest threshold, then the trapezoid rule. It is
//!   not scikit-learn's `average_precision_score` (a step sum).
//! - **Log loss** clips probabilities to `[eps, 1 - eps]` (Spark's `eps`, 1e-15 by default).
//! - **Weighted precision / recall / F1** are Spark's `MulticlassMetrics.weightedPrecision`
//!   etc. (per-label values averaged with the label's share of the total weight), which equal
//!   scikit-learn's `average="weighted"` scores (a label never predicted has precision 0).

use std::collections::BTreeMap;

use ml_core::metrics::{binary_curve, check_inputs as check_common, ArgNames, BinaryCurve};
use ml_core::{MlError, Result};

use crate::evaluators::{MulticlassMetric, RegressionMetric};

/// Names of the arguments, for error messages (column names when called by an evaluator).
pub(crate) type Names<'a> = ArgNames<'a>;

/// The names of the function arguments.
pub(crate) const ARG_NAMES: Names<'static> = ArgNames::ARGS;

/// Area under the ROC curve, exact, ties counted half (scikit-learn's `roc_auc_score`).
///
/// `labels` are 0 or 1; `weights` are optional non-negative sample weights. An input with a
/// single class is an [`MlError::InvalidData`] error. This is ml-core's
/// [`ml_core::metrics::roc_auc`], the one AUC of the workspace.
///
/// ```
/// use ml_eval::metrics::roc_auc;
/// // sklearn: roc_auc_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75
/// let auc = roc_auc(&[0.1, 0.4, 0.35, 0.8], &[0.0, 0.0, 1.0, 1.0], None).unwrap();
/// assert_eq!(auc, 0.75);
/// assert!(roc_auc(&[0.1, 0.2], &[1.0, 1.0], None).is_err());
/// ```
pub fn roc_auc(scores: &[f64], labels: &[f64], weights: Option<&[f64]>) -> Result<f64> {
    roc_auc_named(scores, labels, weights, ARG_NAMES)
}

pub(crate) fn roc_auc_named(
    scores: &[f64],
    labels: &[f64],
    weights: Option<&[f64]>,
    names: Names<'_>,
) -> Result<f64> {
    ml_core::metrics::roc_auc_named(scores, labels, weights, names)
}

/// Area under the precision-recall curve as Spark's `BinaryClassificationMetrics.areaUnderPR`
/// defines it (trapezoids over (recall, precision) points, starting at (0, p0)); see the
/// [module docs](self).
///
/// ```
/// use ml_eval::metrics::pr_auc;
/// // Spark 4.3 BinaryClassificationMetrics(numBins=0).areaUnderPR on these points: 0.7916...
/// let a = pr_auc(&[0.1, 0.4, 0.35, 0.8], &[0.0, 0.0, 1.0, 1.0], None).unwrap();
/// assert!((a - 0.7916666666666666).abs() < 1e-15);
/// ```
pub fn pr_auc(scores: &[f64], labels: &[f64], weights: Option<&[f64]>) -> Result<f64> {
    pr_auc_named(scores, labels, weights, ARG_NAMES)
}

pub(crate) fn pr_auc_named(
    scores: &[f64],
    labels: &[f64],
    weights: Option<&[f64]>,
    names: Names<'_>,
) -> Result<f64> {
    let c = binary_curve(scores, labels, weights, names)?;
    let pts = pr_points(&c);
    let mut area = 0.0;
    for w in pts.windows(2) {
        let ((r0, p0), (r1, p1)) = (w[0], w[1]);
        area += (r1 - r0) * (p0 + p1) / 2.0;
    }
    Ok(area)
}

fn precision(tp: f64, fp: f64) -> f64 {
    if tp + fp == 0.0 {
        1.0
    } else {
        tp / (tp + fp)
    }
}

fn pr_points(c: &BinaryCurve) -> Vec<(f64, f64)> {
    let mut pts = Vec::with_capacity(c.points.len() + 1);
    if let Some(&(_, tp, fp)) = c.points.first() {
        pts.push((0.0, precision(tp, fp)));
    }
    for &(_, tp, fp) in &c.points {
        pts.push((tp / c.pos_total, precision(tp, fp)));
    }
    pts
}

/// One point of a ROC or PR curve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CurvePoint {
    /// Score threshold (rows with score >= threshold are predicted positive); `+inf` for the
    /// starting point.
    pub threshold: f64,
    /// x: false positive rate (ROC) or recall (PR).
    pub x: f64,
    /// y: true positive rate (ROC) or precision (PR).
    pub y: f64,
}

/// The ROC curve: (0, 0), one point per distinct threshold (decreasing), ending at (1, 1).
/// As scikit-learn's `roc_curve(drop_intermediate=False)` with the starting point's threshold
/// `+inf`.
pub fn roc_curve(
    scores: &[f64],
    labels: &[f64],
    weights: Option<&[f64]>,
) -> Result<Vec<CurvePoint>> {
    let c = binary_curve(scores, labels, weights, ARG_NAMES)?;
    let mut out = Vec::with_capacity(c.points.len() + 1);
    out.push(CurvePoint {
        threshold: f64::INFINITY,
        x: 0.0,
        y: 0.0,
    });
    for &(t, tp, fp) in &c.points {
        out.push(CurvePoint {
            threshold: t,
            x: fp / c.neg_total,
            y: tp / c.pos_total,
        });
    }
    Ok(out)
}

/// The PR curve as Spark builds it: (0, p0), then (recall, precision) per distinct threshold.
pub fn pr_curve(
    scores: &[f64],
    labels: &[f64],
    weights: Option<&[f64]>,
) -> Result<Vec<CurvePoint>> {
    let c = binary_curve(scores, labels, weights, ARG_NAMES)?;
    let pts = pr_points(&c);
    let thresholds = std::iter::once(f64::INFINITY).chain(c.points.iter().map(|p| p.0));
    Ok(pts
        .into_iter()
        .zip(thresholds)
        .map(|((x, y), threshold)| CurvePoint { threshold, x, y })
        .collect())
}

/// Spark's default `eps` for log loss.
pub const DEFAULT_EPS: f64 = 1e-15;

fn check_eps(eps: f64) -> Result<()> {
    if !(eps > 0.0 && eps < 0.5) {
        return Err(MlError::param(
            "eps",
            format!("must be in (0, 0.5), got {eps}"),
        ));
    }
    Ok(())
}

/// Binary log loss (cross-entropy) of probabilities `p` of class 1, clipped to
/// `[eps, 1 - eps]`, weighted mean over rows (scikit-learn's `log_loss` on two classes).
///
/// ```
/// use ml_eval::metrics::{binary_log_loss, DEFAULT_EPS};
/// let l = binary_log_loss(&[0.9, 0.2], &[1.0, 0.0], None, DEFAULT_EPS).unwrap();
/// assert!((l - (-(0.9f64.ln() + 0.8f64.ln()) / 2.0)).abs() < 1e-15);
/// ```
pub fn binary_log_loss(
    probabilities: &[f64],
    labels: &[f64],
    weights: Option<&[f64]>,
    eps: f64,
) -> Result<f64> {
    binary_log_loss_named(
        probabilities,
        labels,
        weights,
        eps,
        Names {
            scores: "probabilities",
            ..ARG_NAMES
        },
    )
}

pub(crate) fn binary_log_loss_named(
    probabilities: &[f64],
    labels: &[f64],
    weights: Option<&[f64]>,
    eps: f64,
    names: Names<'_>,
) -> Result<f64> {
    check_eps(eps)?;
    let total = check_common(
        probabilities.len(),
        &[(names.labels, labels.len())],
        weights,
        names.weights,
    )?;
    let mut sum = 0.0;
    for (row, (&p, &y)) in probabilities.iter().zip(labels).enumerate() {
        if !(0.0..=1.0).contains(&p) {
            return Err(MlError::value(
                names.scores,
                row,
                format!("log loss needs a probability in [0, 1], got {p}"),
            ));
        }
        let p = p.clamp(eps, 1.0 - eps);
        let l = if y == 1.0 {
            -p.ln()
        } else if y == 0.0 {
            -(1.0 - p).ln()
        } else {
            return Err(MlError::value(
                names.labels,
                row,
                format!("binary label must be 0 or 1, got {y}"),
            ));
        };
        sum += weights.map_or(1.0, |w| w[row]) * l;
    }
    Ok(sum / total)
}

/// Weighted counts of a multiclass problem: per (label, prediction) cell.
#[derive(Debug, Clone)]
pub(crate) struct MulticlassCounts {
    /// (label, prediction) -> weight, keys as `f64` bits of non-negative integers.
    cells: BTreeMap<(u64, u64), f64>,
    total: f64,
}

fn class_value(v: f64, name: &str, row: usize) -> Result<u64> {
    if !(v.is_finite() && v >= 0.0 && v.fract() == 0.0) {
        return Err(MlError::value(
            name,
            row,
            format!("class must be a non-negative integer value, got {v}"),
        ));
    }
    Ok(v as u64)
}

impl MulticlassCounts {
    pub(crate) fn new(
        predictions: &[f64],
        labels: &[f64],
        weights: Option<&[f64]>,
        names: Names<'_>,
    ) -> Result<Self> {
        let total = check_common(
            predictions.len(),
            &[(names.labels, labels.len())],
            weights,
            names.weights,
        )?;
        let mut cells = BTreeMap::new();
        for (row, (&p, &y)) in predictions.iter().zip(labels).enumerate() {
            let p = class_value(p, names.scores, row)?;
            let y = class_value(y, names.labels, row)?;
            *cells.entry((y, p)).or_insert(0.0) += weights.map_or(1.0, |w| w[row]);
        }
        Ok(MulticlassCounts { cells, total })
    }

    fn accuracy(&self) -> f64 {
        let tp: f64 = self
            .cells
            .iter()
            .filter(|((y, p), _)| y == p)
            .map(|(_, w)| w)
            .sum();
        tp / self.total
    }

    /// Per label present in the labels: (weight share, precision, recall).
    fn per_label(&self) -> Vec<(f64, f64, f64)> {
        let mut label_w: BTreeMap<u64, f64> = BTreeMap::new();
        let mut pred_w: BTreeMap<u64, f64> = BTreeMap::new();
        let mut tp: BTreeMap<u64, f64> = BTreeMap::new();
        for (&(y, p), &w) in &self.cells {
            *label_w.entry(y).or_insert(0.0) += w;
            *pred_w.entry(p).or_insert(0.0) += w;
            if y == p {
                *tp.entry(y).or_insert(0.0) += w;
            }
        }
        label_w
            .iter()
            .map(|(l, &lw)| {
                let t = tp.get(l).copied().unwrap_or(0.0);
                let pw = pred_w.get(l).copied().unwrap_or(0.0);
                let precision = if pw == 0.0 { 0.0 } else { t / pw };
                let recall = if lw == 0.0 { 0.0 } else { t / lw };
                (lw / self.total, precision, recall)
            })
            .collect()
    }

    fn weighted_precision(&self) -> f64 {
        self.per_label().iter().map(|(s, p, _)| s * p).sum()
    }

    fn weighted_recall(&self) -> f64 {
        self.per_label().iter().map(|(s, _, r)| s * r).sum()
    }

    fn weighted_f1(&self) -> f64 {
        self.per_label()
            .iter()
            .map(|&(s, p, r)| {
                if p + r == 0.0 {
                    0.0
                } else {
                    s * 2.0 * p * r / (p + r)
                }
            })
            .sum()
    }
}

/// Accuracy: the weighted share of rows whose prediction equals the label.
///
/// Classes are non-negative integer values (0.0, 1.0, 2.0, ...), as Spark's indexed labels.
pub fn accuracy(predictions: &[f64], labels: &[f64], weights: Option<&[f64]>) -> Result<f64> {
    Ok(MulticlassCounts::new(predictions, labels, weights, pred_names())?.accuracy())
}

/// Spark's `weightedPrecision` (scikit-learn's `precision_score(average="weighted")`).
pub fn weighted_precision(
    predictions: &[f64],
    labels: &[f64],
    weights: Option<&[f64]>,
) -> Result<f64> {
    Ok(MulticlassCounts::new(predictions, labels, weights, pred_names())?.weighted_precision())
}

/// Spark's `weightedRecall` (scikit-learn's `recall_score(average="weighted")`; equals accuracy).
pub fn weighted_recall(
    predictions: &[f64],
    labels: &[f64],
    weights: Option<&[f64]>,
) -> Result<f64> {
    Ok(MulticlassCounts::new(predictions, labels, weights, pred_names())?.weighted_recall())
}

/// Spark's `f1` / `weightedFMeasure` (scikit-learn's `f1_score(average="weighted")`).
///
/// ```
/// use ml_eval::metrics::weighted_f1;
/// // sklearn: f1_score([0, 1, 2, 2], [0, 2, 2, 2], average="weighted") == 0.65
/// let f = weighted_f1(&[0.0, 2.0, 2.0, 2.0], &[0.0, 1.0, 2.0, 2.0], None).unwrap();
/// assert!((f - 0.65).abs() < 1e-15);
/// ```
pub fn weighted_f1(predictions: &[f64], labels: &[f64], weights: Option<&[f64]>) -> Result<f64> {
    Ok(MulticlassCounts::new(predictions, labels, weights, pred_names())?.weighted_f1())
}

fn pred_names() -> Names<'static> {
    Names {
        scores: "predictions",
        ..ARG_NAMES
    }
}

/// A multiclass metric from the counts; `None` for `logLoss`, which needs probabilities.
pub(crate) fn multiclass_metric_from_counts(
    c: &MulticlassCounts,
    metric: MulticlassMetric,
) -> Option<f64> {
    Some(match metric {
        MulticlassMetric::Accuracy => c.accuracy(),
        MulticlassMetric::F1 => c.weighted_f1(),
        MulticlassMetric::WeightedPrecision => c.weighted_precision(),
        MulticlassMetric::WeightedRecall => c.weighted_recall(),
        MulticlassMetric::LogLoss => return None,
    })
}

/// Multiclass log loss: `-log(max(p[label], eps))`, weighted mean over rows, where each row of
/// `probabilities` (row-major, `width` classes) holds the class probabilities (Spark's
/// `MulticlassClassificationEvaluator` `logLoss`; scikit-learn's `log_loss` when rows sum to 1).
pub fn multiclass_log_loss(
    probabilities: &[f64],
    width: usize,
    labels: &[f64],
    weights: Option<&[f64]>,
    eps: f64,
) -> Result<f64> {
    multiclass_log_loss_named(
        probabilities,
        width,
        labels,
        weights,
        eps,
        Names {
            scores: "probabilities",
            ..ARG_NAMES
        },
    )
}

pub(crate) fn multiclass_log_loss_named(
    probabilities: &[f64],
    width: usize,
    labels: &[f64],
    weights: Option<&[f64]>,
    eps: f64,
    names: Names<'_>,
) -> Result<f64> {
    check_eps(eps)?;
    if width == 0 || !probabilities.len().is_multiple_of(width) {
        return Err(MlError::data(format!(
            "'{}' holds {} values, not a whole number of rows of width {width}",
            names.scores,
            probabilities.len()
        )));
    }
    let n = probabilities.len() / width;
    let total = check_common(n, &[(names.labels, labels.len())], weights, names.weights)?;
    let mut sum = 0.0;
    for (row, &y) in labels.iter().enumerate() {
        let k = class_value(y, names.labels, row)? as usize;
        if k >= width {
            return Err(MlError::value(
                names.labels,
                row,
                format!(
                    "label {y} has no probability: '{}' has {width} classes",
                    names.scores
                ),
            ));
        }
        let p = probabilities[row * width + k];
        if !(0.0..=1.0).contains(&p) {
            return Err(MlError::value(
                names.scores,
                row,
                format!("log loss needs probabilities in [0, 1], got {p}"),
            ));
        }
        sum += weights.map_or(1.0, |w| w[row]) * -p.max(eps).ln();
    }
    Ok(sum / total)
}

/// Regression error sums, weighted.
pub(crate) struct RegressionStats {
    sse: f64,
    sae: f64,
    sst: f64,
    total: f64,
}

impl RegressionStats {
    pub(crate) fn new(
        predictions: &[f64],
        labels: &[f64],
        weights: Option<&[f64]>,
        names: Names<'_>,
    ) -> Result<Self> {
        let total = check_common(
            predictions.len(),
            &[(names.labels, labels.len())],
            weights,
            names.weights,
        )?;
        let w = |i: usize| weights.map_or(1.0, |w| w[i]);
        let mut mean = 0.0;
        for (row, (&p, &y)) in predictions.iter().zip(labels).enumerate() {
            if !p.is_finite() {
                return Err(MlError::value(
                    names.scores,
                    row,
                    format!("prediction is {p}"),
                ));
            }
            if !y.is_finite() {
                return Err(MlError::value(names.labels, row, format!("label is {y}")));
            }
            mean += w(row) * y;
        }
        mean /= total;
        let (mut sse, mut sae, mut sst) = (0.0, 0.0, 0.0);
        for (row, (&p, &y)) in predictions.iter().zip(labels).enumerate() {
            let e = y - p;
            sse += w(row) * e * e;
            sae += w(row) * e.abs();
            sst += w(row) * (y - mean) * (y - mean);
        }
        Ok(RegressionStats {
            sse,
            sae,
            sst,
            total,
        })
    }

    pub(crate) fn metric(&self, metric: RegressionMetric) -> f64 {
        match metric {
            RegressionMetric::Mse => self.sse / self.total,
            RegressionMetric::Rmse => (self.sse / self.total).sqrt(),
            RegressionMetric::Mae => self.sae / self.total,
            RegressionMetric::R2 => 1.0 - self.sse / self.sst,
        }
    }
}

fn regression(
    predictions: &[f64],
    labels: &[f64],
    weights: Option<&[f64]>,
    metric: RegressionMetric,
) -> Result<f64> {
    let s = RegressionStats::new(predictions, labels, weights, pred_names())?;
    Ok(s.metric(metric))
}

/// Mean squared error, weighted.
pub fn mse(predictions: &[f64], labels: &[f64], weights: Option<&[f64]>) -> Result<f64> {
    regression(predictions, labels, weights, RegressionMetric::Mse)
}

/// Root mean squared error, weighted.
pub fn rmse(predictions: &[f64], labels: &[f64], weights: Option<&[f64]>) -> Result<f64> {
    regression(predictions, labels, weights, RegressionMetric::Rmse)
}

/// Mean absolute error, weighted.
pub fn mae(predictions: &[f64], labels: &[f64], weights: Option<&[f64]>) -> Result<f64> {
    regression(predictions, labels, weights, RegressionMetric::Mae)
}

/// Coefficient of determination R² = 1 - SSE / SST (weighted; SST around the weighted mean of
/// the labels), as scikit-learn's `r2_score`. Constant labels give `-inf` or NaN, as Spark.
pub fn r2(predictions: &[f64], labels: &[f64], weights: Option<&[f64]>) -> Result<f64> {
    regression(predictions, labels, weights, RegressionMetric::R2)
}

#[cfg(test)]
mod tests {
    use super::*;

    // roc_auc's input checks are ml_core::metrics::roc_auc's, tested there.
    #[test]
    fn bad_inputs_are_typed_errors_naming_the_argument_and_row() {
        let e = binary_log_loss(&[1.5], &[1.0], None, DEFAULT_EPS).unwrap_err();
        assert!(
            matches!(e, MlError::InvalidValue { ref column, row: 0, .. } if column == "probabilities")
        );
        let e = accuracy(&[0.5], &[1.0], None).unwrap_err();
        assert!(
            matches!(e, MlError::InvalidValue { ref column, row: 0, .. } if column == "predictions")
        );
    }
}
