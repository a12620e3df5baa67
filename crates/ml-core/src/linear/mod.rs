//! Linear models: [`LogisticRegression`] (binomial and multinomial, elastic net), trained as
//! Spark MLlib trains it.
//!
//! The optimizer is a port of the rules of Breeze's L-BFGS (L2 or no penalty) and OWL-QN (L1 and
//! elastic net), which Spark calls: the same initial point, line searches, memory, stopping tests
//! and objective history, so a fit stopped after `max_iter` iterations lands where Spark's does
//! and a converged fit reaches the same optimum as Spark and scikit-learn (checked in
//! `tests/logreg_spark.rs` against figures measured with both). The loss and gradient read the
//! feature matrix in place (row-major, never standardized into a copy), one fused pass per
//! evaluation, in parallel over fixed row blocks reduced in a fixed order: the result does not
//! depend on the number of threads.
//!
//! ## Layout
//!
//! One file per step, so a reader finds a step by its name:
//!
//! | file | holds |
//! |---|---|
//! | `params.rs` | [`LogisticRegression`]: parameters, defaults, builders, validation (run before any work) |
//! | `fit.rs` | the training driver: checked inputs, feature statistics, the optimizer run, back to the original scale |
//! | `loss.rs` | the logistic loss and gradient over fixed row blocks, and the dot-product kernels |
//! | `optim.rs` | Breeze's L-BFGS and OWL-QN ([`StopReason`]) |
//! | `model.rs` | [`LogisticRegressionModel`]: coefficients, prediction, [`TrainingSummary`] |
//!
//! ## Why linear models stay in ml-core
//!
//! They could live in a crate of their own (`ml-linear`), beside ml-tree. They stay here for
//! now because that crate would buy nothing yet: there is one model family, it needs no
//! dependency ml-core does not already have (rayon, ndarray, serde), it adds little to
//! ml-core's build, and it depends only on ml-core's public seams (`Dataset`, `Params`, the stage
//! traits), so moving it later is a mechanical change with no API cost beyond a path. The move
//! becomes worth it when a second family (linear regression, linear SVM, generalized linear
//! models) arrives or when linear models need a dependency of their own (sparse or BLAS kernels):
//! then the shared optimizer and loss kernels form a crate with one job, and users of ml-core
//! alone (trees, itemsets) stop compiling them.
//!
//! ```
//! use std::sync::Arc;
//! use arrow::array::{ArrayRef, Float64Array};
//! use ml_core::{Dataset, Estimator};
//! use ml_core::dataset::vector_column_from_vec;
//! use ml_core::linear::LogisticRegression;
//!
//! // y = 1 when x0 + x1 is large, with overlap so the optimum is finite.
//! let x = vec![0.0, 0.1, 0.2, 0.4, 1.0, 0.9, 1.1, 1.3, 0.6, 0.5, 0.4, 0.7];
//! let y = vec![0.0, 0.0, 1.0, 1.0, 1.0, 0.0];
//! let data = Dataset::from_columns(vec![
//!     ("features", vector_column_from_vec(x, 6, 2)),
//!     ("label", Arc::new(Float64Array::from(y)) as ArrayRef),
//! ]).unwrap();
//! let model = LogisticRegression::new().with_reg_param(0.01).fit(&data).unwrap();
//! assert_eq!(model.coefficients().len(), 2);
//! assert!(model.summary.objective() < std::f64::consts::LN_2);
//! ```

mod fit;
mod loss;
mod model;
mod optim;
mod params;

pub use model::{LogisticRegressionModel, TrainingSummary};
pub use optim::StopReason;
pub use params::{Family, LogisticRegression};
