//! # ml-tree
//!
//! Histogram gradient boosted trees in the manner of XGBoost's `hist` method, on ml-core
//! [`Dataset`](ml_core::Dataset)s: [`GradientBoostedTrees`] (an [`Estimator`](ml_core::Estimator)
//! with XGBoost's parameter names and defaults) fits a [`GradientBoostedTreesModel`] (a
//! [`Transformer`](ml_core::Transformer) adding `rawPrediction`, `probability` and `prediction`).
//!
//! How it works: every feature is cut into at most 255 bins (weighted quantiles; one bin per
//! category for nominal slots, which the schema marks), held as `u8` matrices (row-major and
//! column-major), and features with few bins share joint histogram slots
//! ([`binning::JointSlots`]). Trees grow depthwise, a level at a time, or best-leaf-first
//! (`lossguide`); each node's rows are a contiguous range of one of two index buffers, and a
//! split partitions them into the other. For each split only the smaller child's (gradient,
//! hessian) histogram is built; the larger one is the parent's minus it. Split search follows
//! XGBoost's gain with L1/L2 regularization, learns where missing values go, and splits
//! nominal slots on subsets of categories ordered by their gradient ratio (LightGBM's method),
//! one-vs-rest for few categories. Work is spread over fixed blocks of rows with rayon and
//! every sum runs in a fixed order, so the model depends on the seed alone, not on the number
//! of threads.
//!
//! Models save through [`ml_core::persist`] and export to / import from XGBoost's JSON model
//! format ([`xgboost`]) for numeric splits.
//!
//! ```
//! use std::sync::Arc;
//! use arrow::array::{ArrayRef, Float64Array};
//! use ml_core::dataset::vector_column_from_vec;
//! use ml_core::{Dataset, Estimator, Transformer};
//! use ml_tree::{GradientBoostedTrees, ImportanceType};
//!
//! // y = x0 * 2 + noise-free step on x1.
//! let n = 500;
//! let x: Vec<f64> = (0..n).flat_map(|i| [(i % 50) as f64, (i / 50) as f64]).collect();
//! let y: Vec<f64> = (0..n).map(|i| 2.0 * (i % 50) as f64 + if i / 50 > 4 { 10.0 } else { 0.0 }).collect();
//! let data = Dataset::from_columns(vec![
//!     ("features", vector_column_from_vec(x, n, 2)),
//!     ("label", Arc::new(Float64Array::from(y)) as ArrayRef),
//! ]).unwrap();
//! let mut gbt = GradientBoostedTrees::new();
//! gbt.objective = "reg:squarederror".into();
//! let model = gbt.fit(&data).unwrap();
//! let pred = model.transform(&data).unwrap();
//! let p = pred.f64_column("prediction").unwrap();
//! assert!((p.value(499) - 108.0).abs() < 0.5);
//! assert!(model.feature_importances(ImportanceType::Weight).iter().all(|&w| w > 0.0));
//! ```
#![deny(missing_docs)]

pub mod binning;
mod estimator;
mod grow;
pub mod hist;
mod model;
pub mod objective;
pub mod tree;
pub mod xgboost;

pub use estimator::{GradientBoostedTrees, RoundCallback, RoundInfo};
pub use model::{GradientBoostedTreesModel, ImportanceType};
pub use objective::{auc, Metric, Objective};
