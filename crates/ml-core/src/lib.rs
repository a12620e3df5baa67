//! # ml-core
//!
//! The foundation of the `ml` crates: Arrow-based [`Dataset`]s, the stage traits
//! ([`Transformer`], [`Estimator`], [`Params`]), [`Pipeline`]s with stage-qualified parameters,
//! persistence of fitted stages ([`persist`]), column metadata ([`attributes`]), CSV and Parquet
//! IO ([`io`]), feature stages ([`feature`]) and linear models ([`linear`]).
//!
//! ```
//! use std::sync::Arc;
//! use arrow::array::{ArrayRef, Float64Array};
//! use ml_core::{Dataset, Estimator, Pipeline, Transformer};
//! use ml_core::testing::{AddConstant, MeanCenter};
//!
//! let data = Dataset::from_columns(vec![
//!     ("x", Arc::new(Float64Array::from(vec![1.0, 2.0, 6.0])) as ArrayRef),
//! ]).unwrap();
//! let pipeline = Pipeline::new()
//!     .transformer("plus_one", AddConstant::new("x", "y", 1.0))
//!     .estimator("center", MeanCenter::new("y", "z"));
//! let model = pipeline.fit(&data).unwrap();
//! let out = model.transform(&data).unwrap();
//! assert_eq!(out.f64_column("z").unwrap().values(), &[-2.0, -1.0, 3.0]);
//! ```
#![deny(missing_docs)]

pub mod attributes;
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
