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

mod logistic;
mod optim;

pub use logistic::{LogisticRegression, LogisticRegressionModel, TrainingSummary};
pub use optim::StopReason;
