//! # ml
//!
//! End-to-end machine learning in one Rust process. This facade re-exports the member crates:
//!
//! - [`core`]: Arrow-based datasets, the Estimator / Transformer / Params traits, pipelines,
//!   feature stages, CSV/Parquet IO and linear models.
#![deny(missing_docs)]

pub use ml_core as core;
