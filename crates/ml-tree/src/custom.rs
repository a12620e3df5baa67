//! Losses of your own: the [`CustomObjective`] trait (XGBoost's `obj=` argument).

/// A loss given by its gradient and hessian with respect to each margin, used instead of the
/// estimator's `objective` by [`GradientBoostedTrees::with_custom_objective`](crate::GradientBoostedTrees::with_custom_objective).
///
/// Once per boosting round, the boosting loop passes the current margins of the training rows
/// (`rows * outputs`, row-major), their labels and the number of outputs, and reads back one
/// `(gradient, hessian)` pair per margin. Sample weights (`weight_col`) multiply the pairs
/// afterwards, so the trait sees unweighted rows. Pairs are rounded to single precision, as
/// every built-in loss's; a non-finite pair is an error naming the row. The estimator's
/// `objective` keeps saying how margins become predictions, the number of outputs and (unless
/// `base_score` is set) how the base score is estimated. With several workers
/// ([`GradientBoostedTrees::fit_with`](crate::GradientBoostedTrees::fit_with)) each worker
/// calls it on its own rows.
///
/// ```
/// use std::sync::Arc;
/// use arrow::array::{ArrayRef, Float64Array};
/// use ml_core::dataset::vector_column_from_vec;
/// use ml_core::{Dataset, Estimator};
/// use ml_tree::{CustomObjective, GradientBoostedTrees, Objective};
///
/// /// Squared error, written by hand: gradient `m - y`, hessian 1.
/// struct MySquaredError;
///
/// impl CustomObjective for MySquaredError {
///     fn gradients(&self, margins: &[f64], labels: &[f64], outputs: usize, out: &mut [(f64, f64)]) {
///         for (i, (o, m)) in out.iter_mut().zip(margins).enumerate() {
///             *o = (m - labels[i / outputs], 1.0);
///         }
///     }
/// }
///
/// let n = 300;
/// let x: Vec<f64> = (0..n).flat_map(|i| [(i % 30) as f64, (i / 30) as f64]).collect();
/// let y: Vec<f64> = (0..n).map(|i| ((i % 30) as f64).sqrt() + (i / 30) as f64).collect();
/// let data = Dataset::from_columns(vec![
///     ("features", vector_column_from_vec(x.clone(), n, 2)),
///     ("label", Arc::new(Float64Array::from(y)) as ArrayRef),
/// ]).unwrap();
/// let gbt = GradientBoostedTrees::new()
///     .with_objective(Objective::SquaredError)
///     .with_num_round(20);
/// let builtin = gbt.fit(&data).unwrap();
/// let custom = gbt.with_custom_objective(MySquaredError).fit(&data).unwrap();
/// // The same loss by hand gives the same model as the built-in one.
/// let xs = ndarray::Array2::from_shape_vec((n, 2), x).unwrap();
/// assert_eq!(builtin.predict(xs.view()).unwrap(), custom.predict(xs.view()).unwrap());
/// ```
pub trait CustomObjective: Send + Sync {
    /// Writes `out[i * outputs + j]` = (gradient, hessian) of row `i`'s loss with respect to
    /// its margin `j` (`margins[i * outputs + j]`), for label `labels[i]`. The hessian should
    /// be > 0 where the row should count (`min_child_weight` compares sums of them).
    fn gradients(&self, margins: &[f64], labels: &[f64], outputs: usize, out: &mut [(f64, f64)]);
}
