//! # ml-eval
//!
//! Judging and tuning models: metric functions ([`metrics`]), Spark's evaluators
//! ([`BinaryClassificationEvaluator`], [`MulticlassClassificationEvaluator`],
//! [`RegressionEvaluator`], all behind the [`Evaluator`] trait), a confusion matrix with money per
//! cell ([`ConfusionMatrix`], [`BusinessValue`]), and model selection ([`ParamGridBuilder`],
//! [`RandomSearch`], [`CrossValidator`] with random, stratified or group [`folds`],
//! [`SuccessiveHalving`], [`TrainValidationSplit`]) for any ml-core estimator or whole pipeline.
//!
//! Errors are ml-core's [`MlError`](ml_core::MlError): a bad row is `InvalidValue` (naming the
//! column and row), data that leaves a metric undefined (a single class, zero total weight, no
//! rows) is `InvalidData`, a bad setting is `InvalidParam`.
//!
//! ```
//! use std::sync::Arc;
//! use arrow::array::{ArrayRef, Float64Array};
//! use ml_core::Dataset;
//! use ml_eval::{BinaryClassificationEvaluator, Evaluator};
//!
//! let data = Dataset::from_columns(vec![
//!     ("rawPrediction", Arc::new(Float64Array::from(vec![0.2, 0.7, 0.7, 0.9])) as ArrayRef),
//!     ("label", Arc::new(Float64Array::from(vec![0.0, 0.0, 1.0, 1.0])) as ArrayRef),
//! ]).unwrap();
//! // Tied scores count half: sklearn roc_auc_score([0, 0, 1, 1], [0.2, 0.7, 0.7, 0.9]) == 0.875
//! let auc = BinaryClassificationEvaluator::new().evaluate(&data).unwrap();
//! assert_eq!(auc, 0.875);
//! ```
#![deny(missing_docs)]

pub mod confusion;
pub mod evaluators;
pub mod folds;
pub mod metrics;
pub mod search;
pub mod tuning;

pub use confusion::{BusinessValue, Cell, ConfusionMatrix, ConfusionTable};
pub use evaluators::{
    BinaryClassificationEvaluator, BinaryMetric, Evaluator, MulticlassClassificationEvaluator,
    MulticlassMetric, RegressionEvaluator, RegressionMetric,
};
pub use search::{Distribution, HalvingModel, RandomSearch, Rung, SuccessiveHalving};
pub use tuning::{
    CrossValidator, CrossValidatorModel, FitProgress, ParamGridBuilder, ParamMap, ProgressFn,
    TrainValidationSplit, TrainValidationSplitModel,
};
