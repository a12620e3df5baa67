//! # ml-core
//!
//! The foundation of the `ml` crates: Arrow-based [`Dataset`]s, the stage traits
//! ([`Transformer`], [`Estimator`], [`Params`]), [`Pipeline`]s with stage-qualified parameters,
//! persistence of fitted stages ([`persist`]), column metadata ([`attributes`]), CSV and Parquet
//! IO ([`io`]), feature stages ([`feature`]) and linear models ([`linear`]). Data larger than
//! memory flows through re-openable sources of record batches ([`stream`]): stages fit from
//! them in passes (`Estimator::fit_source`, with [`quantile`] sketches for medians) and fitted
//! pipelines map a stream to a stream. One row at a time, without batches, goes through [`row`]:
//! a fitted pipeline compiled once into a `Send + Sync` [`row::RowScorer`], bit-identical to
//! `transform`.
//!
//! ```
//! use std::sync::Arc;
//! use arrow::array::{ArrayRef, Float64Array};
//! use ml_core::{Dataset, Estimator, Pipeline, Transformer};
//! use ml_core::feature::{Imputer, StandardScaler, VectorAssembler};
//!
//! let data = Dataset::from_columns(vec![
//!     ("x", Arc::new(Float64Array::from(vec![Some(1.0), None, Some(6.0)])) as ArrayRef),
//! ]).unwrap();
//! let pipeline = Pipeline::new()
//!     .estimator("fill", Imputer::single("x", "x_filled"))
//!     .transformer("assemble", VectorAssembler::new(&["x_filled"], "raw"))
//!     .estimator("scale", StandardScaler::new("raw", "features").with_mean(true));
//! let model = pipeline.fit(&data).unwrap();
//! let out = model.transform(&data).unwrap();
//! // The gap gets the mean 3.5; (x - 3.5) / 2.5 with the sample standard deviation 2.5.
//! assert_eq!(out.features("features").unwrap().as_slice().unwrap(), &[-1.0, 0.0, 1.0]);
//! ```
#![deny(missing_docs)]

pub mod attributes;
mod crc32;
pub mod dataset;
pub mod error;
pub mod feature;
pub mod hash;
pub mod io;
pub mod linear;
pub mod metrics;
pub mod params;
pub mod persist;
pub mod pipeline;
pub mod quantile;
pub mod row;
pub mod stream;
#[doc(hidden)]
pub mod testing;
pub mod threads;
pub mod traits;

pub use dataset::Dataset;
pub use error::{MlError, Result};
pub use params::{ParamSpec, ParamType, ParamValue, Params};
pub use pipeline::{Pipeline, PipelineModel, PipelineStage};
pub use traits::{AsAny, DynEstimator, Estimator, Transformer};

// Re-exported so that downstream crates implementing `Transformer` use the same versions.
pub use arrow;
pub use ndarray;
pub use typetag;
