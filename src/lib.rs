//! # ml
//!
//! End-to-end machine learning in one Rust process. This facade re-exports the member crates:
//!
//! - [`core`]: Arrow-based datasets, the Estimator / Transformer / Params traits, pipelines,
//!   feature stages, CSV/Parquet IO and linear models.
//! - [`tree`]: histogram gradient boosted trees with native categorical splits.
//! - [`fpm`]: FP-growth, association rules and PrefixSpan.
//! - [`eval`]: metrics, evaluators, the business-value confusion matrix, ParamGrid and
//!   CrossValidator.
//! - `vision` (feature `vision`, on by default): video frames, image tables and a pretrained CNN
//!   featurizer on tract. Turn default features off to build without tract.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub use ml_core as core;
pub use ml_eval as eval;
pub use ml_fpm as fpm;
pub use ml_tree as tree;
#[cfg(feature = "vision")]
pub use ml_vision as vision;
