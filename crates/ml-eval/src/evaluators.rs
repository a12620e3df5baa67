//! The [`Evaluator`] trait and Spark's three evaluators: [`BinaryClassificationEvaluator`],
//! [`MulticlassClassificationEvaluator`] and [`RegressionEvaluator`].
//!
//! Each reads named columns of a [`Dataset`] (a model's output), computes one metric with the
//! functions of [`crate::metrics`], and says whether larger is better, which is what
//! [`crate::CrossValidator`] needs. Parameters follow Spark's names and defaults and can be set
//! by name through [`Params`] (`metricName` or `metric_name`).

use std::fmt::Debug;

use arrow::datatypes::DataType;
use ml_core::dataset::{is_numeric, type_error};
use ml_core::{impl_params, Dataset, MlError, Params, Result};

use crate::metrics::{self, MulticlassCounts, Names, RegressionStats};
use ml_core::dataset::{column_to_f64, NullPolicy};

/// Judges a model's output with one number.
pub trait Evaluator: Send + Sync + Debug {
    /// The metric on `data` (a model's output: prediction, score and label columns).
    fn evaluate(&self, data: &Dataset) -> Result<f64>;
    /// True when a larger value is better (AUC, accuracy, R²); false for errors and losses.
    fn is_larger_better(&self) -> bool;
    /// The name of the metric computed (`areaUnderROC`, `rmse`, ...).
    fn metric(&self) -> &str;
}

/// A numeric column as `f64` values; nulls and NaN are errors naming the row.
pub(crate) fn numeric_values(data: &Dataset, col: &str) -> Result<Vec<f64>> {
    let arr = column_to_f64(data, col, NullPolicy::Error)?;
    Ok(arr.values().to_vec())
}

fn weights(data: &Dataset, col: &Option<String>) -> Result<Option<Vec<f64>>> {
    match col.as_deref() {
        None | Some("") => Ok(None),
        Some(c) => numeric_values(data, c).map(Some),
    }
}

/// The score of class 1 per row: element 1 of a width-2 vector column (Spark's `rawPrediction`
/// or `probability`), or the value of a numeric column.
pub(crate) fn binary_scores(data: &Dataset, col: &str) -> Result<Vec<f64>> {
    let field = data.field(col)?;
    match field.data_type() {
        DataType::FixedSizeList(_, 2) => Ok(data.features(col)?.column(1).to_vec()),
        DataType::FixedSizeList(_, n) => Err(MlError::data(format!(
            "column '{col}' holds vectors of {n} values; a binary evaluator needs 2 \
             (element 1 is the score of class 1) or a numeric score column"
        ))),
        dt if is_numeric(dt) => numeric_values(data, col),
        dt => Err(type_error(
            col,
            "a FixedSizeList<Float64> of width 2 or a numeric score column",
            dt,
        )),
    }
}

fn check_eps(eps: f64) -> Result<()> {
    if eps > 0.0 && eps < 0.5 {
        Ok(())
    } else {
        Err(MlError::param(
            "eps",
            format!("must be in (0, 0.5), got {eps}"),
        ))
    }
}

ml_core::param_enum! {
    /// What [`BinaryClassificationEvaluator`] computes (Spark's `metricName`).
    #[derive(Default)]
    pub enum BinaryMetric: "metric_name" {
        /// Area under the ROC curve, exact (the default).
        #[default]
        AreaUnderRoc => "areaUnderROC",
        /// Area under the precision-recall curve, exact.
        AreaUnderPr => "areaUnderPR",
        /// Log loss of the class-1 probabilities.
        LogLoss => "logLoss",
    }
}

/// Spark's `BinaryClassificationEvaluator`: `areaUnderROC` (default), `areaUnderPR`, and
/// `logLoss`, with optional sample weights.
///
/// The score column (`raw_prediction_col`, default `rawPrediction`) may be a width-2 vector
/// (element 1 is used: the margin or probability of class 1) or a plain numeric score. The
/// areas are exact (Spark's `numBins = 0`); see [`crate::metrics`] for the definitions.
/// `logLoss` reads `probability_col` (default `probability`, a width-2 vector or a numeric
/// column of probabilities of class 1). Labels must be 0 or 1.
///
/// ```
/// use std::sync::Arc;
/// use arrow::array::{ArrayRef, Float64Array};
/// use ml_core::Dataset;
/// use ml_eval::{BinaryClassificationEvaluator, Evaluator};
///
/// let data = Dataset::from_columns(vec![
///     ("score", Arc::new(Float64Array::from(vec![0.1, 0.4, 0.35, 0.8])) as ArrayRef),
///     ("label", Arc::new(Float64Array::from(vec![0.0, 0.0, 1.0, 1.0])) as ArrayRef),
/// ]).unwrap();
/// let ev = BinaryClassificationEvaluator::new().with_raw_prediction_col("score");
/// assert_eq!(ev.evaluate(&data).unwrap(), 0.75); // sklearn roc_auc_score: 0.75
/// assert!(ev.is_larger_better());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct BinaryClassificationEvaluator {
    /// Score column: a width-2 vector (element 1 is used) or a numeric column.
    pub raw_prediction_col: String,
    /// Probability column for `logLoss`.
    pub probability_col: String,
    /// Label column (0 or 1).
    pub label_col: String,
    /// Optional sample weight column.
    pub weight_col: Option<String>,
    /// `areaUnderROC`, `areaUnderPR` or `logLoss`.
    pub metric_name: BinaryMetric,
    /// Probabilities are clipped to `[eps, 1 - eps]` for `logLoss`.
    pub eps: f64,
}

impl Default for BinaryClassificationEvaluator {
    fn default() -> Self {
        BinaryClassificationEvaluator {
            raw_prediction_col: "rawPrediction".into(),
            probability_col: "probability".into(),
            label_col: "label".into(),
            weight_col: None,
            metric_name: BinaryMetric::AreaUnderRoc,
            eps: metrics::DEFAULT_EPS,
        }
    }
}

fn validate_binary(e: &BinaryClassificationEvaluator) -> Result<()> {
    check_eps(e.eps)
}

impl_params!(BinaryClassificationEvaluator {
    raw_prediction_col: "Score column: a width-2 vector (element 1 is used) or a numeric column.",
    probability_col: "Probability column, read by logLoss.",
    label_col: "Label column, values 0 or 1.",
    weight_col: "Optional sample weight column (non-negative).",
    metric_name: "areaUnderROC (default), areaUnderPR or logLoss.",
    eps: "Probabilities are clipped to [eps, 1 - eps] for logLoss (default 1e-15).",
} validate = validate_binary);

macro_rules! builder {
    ($($setter:ident => $field:ident: $t:ty),* $(,)?) => {$(
        #[doc = concat!("Sets `", stringify!($field), "`.")]
        pub fn $setter(mut self, value: $t) -> Self {
            self.$field = value.into();
            self
        }
    )*};
}

impl BinaryClassificationEvaluator {
    /// The evaluator with Spark's defaults (`areaUnderROC` on `rawPrediction` and `label`).
    pub fn new() -> Self {
        Self::default()
    }
    builder!(
        with_raw_prediction_col => raw_prediction_col: &str,
        with_probability_col => probability_col: &str,
        with_label_col => label_col: &str,
        with_metric_name => metric_name: BinaryMetric,
        with_eps => eps: f64,
    );
    /// Sets the sample weight column.
    pub fn with_weight_col(mut self, col: &str) -> Self {
        self.weight_col = Some(col.to_string());
        self
    }
}

impl Evaluator for BinaryClassificationEvaluator {
    fn evaluate(&self, data: &Dataset) -> Result<f64> {
        self.validate()?;
        let labels = numeric_values(data, &self.label_col)?;
        let w = weights(data, &self.weight_col)?;
        let wname = self.weight_col.as_deref().unwrap_or("weights");
        match self.metric_name {
            BinaryMetric::LogLoss => {
                let p = binary_scores(data, &self.probability_col)?;
                let names = Names {
                    scores: &self.probability_col,
                    labels: &self.label_col,
                    weights: wname,
                };
                metrics::binary_log_loss_named(&p, &labels, w.as_deref(), self.eps, names)
            }
            m @ (BinaryMetric::AreaUnderRoc | BinaryMetric::AreaUnderPr) => {
                let s = binary_scores(data, &self.raw_prediction_col)?;
                let names = Names {
                    scores: &self.raw_prediction_col,
                    labels: &self.label_col,
                    weights: wname,
                };
                if m == BinaryMetric::AreaUnderPr {
                    metrics::pr_auc_named(&s, &labels, w.as_deref(), names)
                } else {
                    metrics::roc_auc_named(&s, &labels, w.as_deref(), names)
                }
            }
        }
    }
    fn is_larger_better(&self) -> bool {
        self.metric_name != BinaryMetric::LogLoss
    }
    fn metric(&self) -> &str {
        self.metric_name.as_str()
    }
}

ml_core::param_enum! {
    /// What [`MulticlassClassificationEvaluator`] computes (Spark's `metricName`).
    #[derive(Default)]
    pub enum MulticlassMetric: "metric_name" {
        /// Spark's weighted F-measure (the default).
        #[default]
        F1 => "f1",
        /// Share of correct predictions.
        Accuracy => "accuracy",
        /// Precision per class, weighted by the class's share of labels.
        WeightedPrecision => "weightedPrecision",
        /// Recall per class, weighted by the class's share of labels.
        WeightedRecall => "weightedRecall",
        /// Log loss of the class probabilities.
        LogLoss => "logLoss",
    }
}

/// Spark's `MulticlassClassificationEvaluator`: `f1` (default, Spark's weighted F-measure),
/// `accuracy`, `weightedPrecision`, `weightedRecall`, `logLoss`.
///
/// Labels and predictions are class indices stored as numbers (0.0, 1.0, ...). `logLoss` reads
/// `probability_col` (a vector of class probabilities, as Spark's `probability`).
///
/// ```
/// use std::sync::Arc;
/// use arrow::array::{ArrayRef, Float64Array};
/// use ml_core::Dataset;
/// use ml_eval::{Evaluator, MulticlassClassificationEvaluator, MulticlassMetric};
///
/// let data = Dataset::from_columns(vec![
///     ("prediction", Arc::new(Float64Array::from(vec![0.0, 2.0, 2.0, 2.0])) as ArrayRef),
///     ("label", Arc::new(Float64Array::from(vec![0.0, 1.0, 2.0, 2.0])) as ArrayRef),
/// ]).unwrap();
/// let acc = MulticlassClassificationEvaluator::new().with_metric_name(MulticlassMetric::Accuracy);
/// assert_eq!(acc.evaluate(&data).unwrap(), 0.75);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct MulticlassClassificationEvaluator {
    /// Predicted class column.
    pub prediction_col: String,
    /// Label column.
    pub label_col: String,
    /// Optional sample weight column.
    pub weight_col: Option<String>,
    /// Class probability vector column, read by `logLoss`.
    pub probability_col: String,
    /// `f1`, `accuracy`, `weightedPrecision`, `weightedRecall` or `logLoss`.
    pub metric_name: MulticlassMetric,
    /// Probabilities below `eps` count as `eps` for `logLoss`.
    pub eps: f64,
}

impl Default for MulticlassClassificationEvaluator {
    fn default() -> Self {
        MulticlassClassificationEvaluator {
            prediction_col: "prediction".into(),
            label_col: "label".into(),
            weight_col: None,
            probability_col: "probability".into(),
            metric_name: MulticlassMetric::F1,
            eps: metrics::DEFAULT_EPS,
        }
    }
}

fn validate_multiclass(e: &MulticlassClassificationEvaluator) -> Result<()> {
    check_eps(e.eps)
}

impl_params!(MulticlassClassificationEvaluator {
    prediction_col: "Predicted class column.",
    label_col: "Label column (class indices 0, 1, ...).",
    weight_col: "Optional sample weight column (non-negative).",
    probability_col: "Class probability vector column, read by logLoss.",
    metric_name: "f1 (default), accuracy, weightedPrecision, weightedRecall or logLoss.",
    eps: "Probabilities below eps count as eps for logLoss (default 1e-15).",
} validate = validate_multiclass);

impl MulticlassClassificationEvaluator {
    /// The evaluator with Spark's defaults (`f1` on `prediction` and `label`).
    pub fn new() -> Self {
        Self::default()
    }
    builder!(
        with_prediction_col => prediction_col: &str,
        with_label_col => label_col: &str,
        with_probability_col => probability_col: &str,
        with_metric_name => metric_name: MulticlassMetric,
        with_eps => eps: f64,
    );
    /// Sets the sample weight column.
    pub fn with_weight_col(mut self, col: &str) -> Self {
        self.weight_col = Some(col.to_string());
        self
    }
}

impl Evaluator for MulticlassClassificationEvaluator {
    fn evaluate(&self, data: &Dataset) -> Result<f64> {
        self.validate()?;
        let labels = numeric_values(data, &self.label_col)?;
        let w = weights(data, &self.weight_col)?;
        let wname = self.weight_col.as_deref().unwrap_or("weights");
        if self.metric_name == MulticlassMetric::LogLoss {
            let probs = data.features(&self.probability_col)?;
            let width = probs.ncols();
            let flat: Vec<f64> = probs.iter().copied().collect();
            let names = Names {
                scores: &self.probability_col,
                labels: &self.label_col,
                weights: wname,
            };
            return metrics::multiclass_log_loss_named(
                &flat,
                width,
                &labels,
                w.as_deref(),
                self.eps,
                names,
            );
        }
        let preds = numeric_values(data, &self.prediction_col)?;
        let names = Names {
            scores: &self.prediction_col,
            labels: &self.label_col,
            weights: wname,
        };
        let counts = MulticlassCounts::new(&preds, &labels, w.as_deref(), names)?;
        metrics::multiclass_metric_from_counts(&counts, self.metric_name)
            .ok_or_else(|| MlError::param("metric_name", "logLoss is not computed from counts"))
    }
    fn is_larger_better(&self) -> bool {
        self.metric_name != MulticlassMetric::LogLoss
    }
    fn metric(&self) -> &str {
        self.metric_name.as_str()
    }
}

ml_core::param_enum! {
    /// What [`RegressionEvaluator`] computes (Spark's `metricName`).
    #[derive(Default)]
    pub enum RegressionMetric: "metric_name" {
        /// Root mean squared error (the default).
        #[default]
        Rmse => "rmse",
        /// Mean squared error.
        Mse => "mse",
        /// Mean absolute error.
        Mae => "mae",
        /// Coefficient of determination.
        R2 => "r2",
    }
}

/// Spark's `RegressionEvaluator`: `rmse` (default), `mse`, `mae`, `r2`, with optional weights.
///
/// ```
/// use std::sync::Arc;
/// use arrow::array::{ArrayRef, Float64Array};
/// use ml_core::Dataset;
/// use ml_eval::{Evaluator, RegressionEvaluator, RegressionMetric};
///
/// let data = Dataset::from_columns(vec![
///     ("prediction", Arc::new(Float64Array::from(vec![1.0, 2.0, 5.0])) as ArrayRef),
///     ("label", Arc::new(Float64Array::from(vec![1.0, 3.0, 3.0])) as ArrayRef),
/// ]).unwrap();
/// let mae = RegressionEvaluator::new().with_metric_name(RegressionMetric::Mae);
/// assert_eq!(mae.evaluate(&data).unwrap(), 1.0);
/// assert!(!mae.is_larger_better());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RegressionEvaluator {
    /// Prediction column.
    pub prediction_col: String,
    /// Label column.
    pub label_col: String,
    /// Optional sample weight column.
    pub weight_col: Option<String>,
    /// `rmse`, `mse`, `mae` or `r2`.
    pub metric_name: RegressionMetric,
}

impl Default for RegressionEvaluator {
    fn default() -> Self {
        RegressionEvaluator {
            prediction_col: "prediction".into(),
            label_col: "label".into(),
            weight_col: None,
            metric_name: RegressionMetric::Rmse,
        }
    }
}

impl_params!(RegressionEvaluator {
    prediction_col: "Prediction column.",
    label_col: "Label column.",
    weight_col: "Optional sample weight column (non-negative).",
    metric_name: "rmse (default), mse, mae or r2.",
});

impl RegressionEvaluator {
    /// The evaluator with Spark's defaults (`rmse` on `prediction` and `label`).
    pub fn new() -> Self {
        Self::default()
    }
    builder!(
        with_prediction_col => prediction_col: &str,
        with_label_col => label_col: &str,
        with_metric_name => metric_name: RegressionMetric,
    );
    /// Sets the sample weight column.
    pub fn with_weight_col(mut self, col: &str) -> Self {
        self.weight_col = Some(col.to_string());
        self
    }
}

impl Evaluator for RegressionEvaluator {
    fn evaluate(&self, data: &Dataset) -> Result<f64> {
        self.validate()?;
        let labels = numeric_values(data, &self.label_col)?;
        let preds = numeric_values(data, &self.prediction_col)?;
        let w = weights(data, &self.weight_col)?;
        let names = Names {
            scores: &self.prediction_col,
            labels: &self.label_col,
            weights: self.weight_col.as_deref().unwrap_or("weights"),
        };
        let stats = RegressionStats::new(&preds, &labels, w.as_deref(), names)?;
        Ok(stats.metric(self.metric_name))
    }
    fn is_larger_better(&self) -> bool {
        self.metric_name == RegressionMetric::R2
    }
    fn metric(&self) -> &str {
        self.metric_name.as_str()
    }
}
