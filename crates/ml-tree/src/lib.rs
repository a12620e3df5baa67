//! # ml-tree
//!
//! Histogram gradient boosted trees in the manner of XGBoost's `hist` method, on ml-core
//! [`Dataset`](ml_core::Dataset)s: [`GradientBoostedTrees`] (an [`Estimator`](ml_core::Estimator)
//! with XGBoost's parameter names and defaults) fits a [`GradientBoostedTreesModel`] (a
//! [`Transformer`](ml_core::Transformer) adding `rawPrediction`, `probability` and `prediction`).
//!
//! How it works, one module per step of the algorithm (the seams of LightGBM's and XGBoost's
//! sources):
//!
//! | module | step |
//! |---|---|
//! | `params` | hyper-parameters ([`GradientBoostedTrees`]), defaults and their validation before any work; [`Objective`], [`GrowPolicy`] and [`Metric`] parse from XGBoost's names |
//! | `sample` | the rows cut points are computed from: the `k` smallest content hashes (every row when there are fewer), mergeable across batches and workers |
//! | `binning` | every feature cut into at most 255 bins (weighted quantiles of the sample; one bin per category for nominal slots, which the schema marks), held as `u8` matrices (row-major and column-major); features with few bins share joint histogram slots |
//! | `gather` | training rows taken in batch by batch (labels, weights, the cut sample), then binned straight into the matrices |
//! | `binned_walk` | a tree walked on a row's bins instead of its values (rows left out by `subsample`) |
//! | `fixed` | gradients and hessians as fixed-point integers scaled from their global maximum, so sums are exact and order-free; exact sums for the base score |
//! | `boost` | the boosting loop: per round the objective's gradients, one tree per class, the margins moved by its leaves, the evaluation metric and early stopping |
//! | `objective` | gradients and hessians of the loss ([`Objective`]) |
//! | `loss` | the regression losses beyond squared error (absolute, pseudo-Huber, quantile, Poisson, Tweedie, gamma) and their parameters ([`LossParams`]) |
//! | `adaptive` | XGBoost's quantiles: the base score and the leaf values of absolute and quantile error |
//! | `custom` | losses of your own ([`CustomObjective`]) |
//! | `grow` | one tree, depthwise (a level at a time) or lossguide (best leaf first) |
//! | `hist` | (gradient, hessian) histograms of a node's rows, summed in integers and all-reduced across workers; only the smaller child's is built, the larger one is the parent's minus it |
//! | `constraints` | monotone and interaction constraints: their string syntax, bounds on node weights (mid-point rule), the features a node may use |
//! | `split` | XGBoost's gain with L1/L2 regularization and the best split of a node: numeric thresholds with a learned direction for missing values, nominal slots one-vs-rest for few categories or on subsets ordered by gradient ratio (LightGBM's method) |
//! | `partition` | a split sends its node's rows to the children: each node's rows are a contiguous range of one of two index buffers, partitioned into the other |
//! | `metric` | evaluation metrics ([`Metric`]) |
//! | [`tree`] | the fitted tree ([`tree::Tree`]) |
//! | `forest` | the flattened predictor: all trees in one array of 16-byte nodes, walked by blocks of rows |
//! | `model` | the fitted model ([`GradientBoostedTreesModel`]): output columns, importances, saving and loading with structure checks |
//! | [`xgboost`] | XGBoost's JSON model format |
//!
//! Work is spread over blocks of rows with rayon, and every sum is either exact (histograms,
//! in fixed-point integers) or runs in a fixed order, so the model depends on the seed alone,
//! not on the number of threads.
//!
//! ## Training on several workers
//!
//! [`GradientBoostedTrees::fit_with`] trains on rows spread over the workers of an
//! [`ml_dist::Collective`], each worker passing its shard; `fit` is the one-worker case
//! ([`ml_dist::LocalCollective`]), the same code. The model is the same bytes as `fit` on all
//! rows, whatever the number of workers and however the rows are split or ordered, because
//! nothing depends on where a row is:
//!
//! - cut points come from the rows with the smallest content hashes (a hash of the row's
//!   feature values and weight), merged across workers by an all-gather, and computed from the
//!   sample in a canonical order; exact when there are at most 200,000 rows;
//! - histograms are fixed-point integer sums (scale from the global maximum of `|g|` and
//!   `|h|`, bounds proven in the `fixed` module), all-reduced per tree level;
//! - row counts (may a node split, which child's histogram is built) are global, all-reduced;
//!   the base score is an exact fixed-point sum;
//! - `subsample` decides per row from a hash of its content, the seed and the round;
//!   `colsample_bytree` from the seed and the tree number alone;
//! - evaluation metrics gather every worker's evaluation rows and compute the metric over them
//!   in a canonical order, so early stopping stops at the same round everywhere.
//!
//! The rounding of fixed point is far below `f32` gradients' own: a row keeps 30 bits relative
//! to the largest `|g|` (or `|h|`) of the tree, for up to 2^32 rows.
//!
//! ## Data larger than memory
//!
//! [`Estimator::fit_source`](ml_core::Estimator::fit_source) trains from a re-readable stream of
//! record batches ([`ml_core::stream::BatchSource`]: a Parquet file or directory read with
//! column projection, a CSV file, a pipeline over one), and
//! [`GradientBoostedTrees::fit_source_with`] does so on each worker of a collective. The
//! source is read twice: the first pass keeps each row's label (and weight) and offers the
//! batch to the cut sample; the second bins each batch straight into the `u8` matrices. Only
//! one batch is ever held as `f64`, and the model is the same bytes as `fit` on the same rows
//! in memory (tested at batch sizes from 1 row up). What training then holds per row, with `d`
//! features of which `g` joint groups (see `binning`) and `k` outputs: the bins, 8 bytes for
//! the label, `8k` for the margins, 16 for the gradient pair and its fixed-point copy, 8 for
//! the two row-index buffers, 1 for the leaf index of the margin update (2 for trees of more
//! than 254 leaves); 8 more with a weight column and 8 more with `subsample < 1`. The bins
//! take `2d + 2g` bytes in the fast layout (row-major, column-major, joint slots) and `d` in
//! the compact one (row-major alone; [`BinLayout`], parameter `bin_layout`: by default
//! compact above [`COMPACT_ABOVE_BINS`] rows x features, the same model either way, slower
//! training). For 23 click-log features that is about 120 bytes per row fast and 64
//! compact; measured with `train_gbdt`, which streams its Parquet input: 1.03 GB peak for 8M
//! training rows (fast), 2.17 GB for 32M (compact, chosen by `auto`).
//!
//! ## Losses, continued training, base margins
//!
//! Besides `binary:logistic`, `reg:squarederror` and `multi:softmax`, [`Objective`] has
//! XGBoost's `reg:absoluteerror`, `reg:pseudohubererror` (`huber_slope`),
//! `reg:quantileerror` (`quantile_alpha`, one output per alpha), `count:poisson`
//! (`max_delta_step`), `reg:tweedie` (`tweedie_variance_power`) and `reg:gamma`, with
//! XGBoost's gradients, base scores (median / quantiles / means through the log link) and, for
//! absolute and quantile error, leaf values refreshed to quantiles of the leaf's residuals;
//! [`Metric`] has their metrics. A loss of your own is a [`CustomObjective`].
//! [`GradientBoostedTrees::with_xgb_model`] continues training from a model (ours or one
//! imported from XGBoost): `a` rounds then `b` more is the same model, byte for byte, as
//! `a + b` rounds. `base_margin_col` gives per-row starting margins (XGBoost's
//! `base_margin`). All of them train through a [`ml_dist::Collective`] to the same bytes as
//! `fit`: the quantiles gather every worker's values (see the `adaptive` module).
//!
//! ## Constraints
//!
//! `monotone_constraints` and `interaction_constraints` take XGBoost's string syntax
//! (`"(1,0,-1)"`, `"[[0,1],[2,3,4]]"`, or features by name: `{"int_rate": 1}`,
//! `[["grade","int_rate"]]`) and its semantics, for both grow policies:
//!
//! - monotone (XGBoost's `TreeEvaluator`): every node carries bounds on its children's
//!   weights (none at the root); child weights are clamped to them, a split on a `+1` feature
//!   whose left weight exceeds its right is rejected (`-1`: the reverse), gains are taken at the
//!   clamped weights, and after a split on a constrained feature the mid-point of the two child
//!   weights becomes the left child's upper and the right child's lower bound (`-1`: the
//!   reverse). So predictions never go the wrong way along a constrained feature. As in
//!   XGBoost, giving the parameter at all switches to that bounded evaluation, and a
//!   constraint on a categorical slot only orders the two children's weights (left: the split's
//!   categories), which does not make predictions monotone in the category code. The leaves of
//!   `reg:absoluteerror` / `reg:quantileerror`, refreshed to residual quantiles after growth, are
//!   not clamped again.
//! - interaction (XGBoost's `FeatureInteractionConstraintHost`): the root may split on any
//!   feature; below it, a node may use the features already on its path and those of every
//!   allowed set that contains all of them, so a feature in no set is used only with itself.
//!
//! Both act on the all-reduced histograms, so constrained training through a
//! [`ml_dist::Collective`] gives the same bytes as `fit` too.
//!
//! Models save through [`ml_core::persist`] and export to / import from XGBoost's JSON model
//! format ([`xgboost`]) for numeric splits.
//!
//! ```
//! use std::sync::Arc;
//! use arrow::array::{ArrayRef, Float64Array};
//! use ml_core::dataset::vector_column_from_vec;
//! use ml_core::{Dataset, Estimator, Transformer};
//! use ml_tree::{GradientBoostedTrees, ImportanceType, Objective};
//!
//! // y = x0 * 2 + noise-free step on x1.
//! let n = 500;
//! let x: Vec<f64> = (0..n).flat_map(|i| [(i % 50) as f64, (i / 50) as f64]).collect();
//! let y: Vec<f64> = (0..n).map(|i| 2.0 * (i % 50) as f64 + if i / 50 > 4 { 10.0 } else { 0.0 }).collect();
//! let data = Dataset::from_columns(vec![
//!     ("features", vector_column_from_vec(x, n, 2)),
//!     ("label", Arc::new(Float64Array::from(y)) as ArrayRef),
//! ]).unwrap();
//! let gbt = GradientBoostedTrees::new().with_objective(Objective::SquaredError);
//! let model = gbt.fit(&data).unwrap();
//! let pred = model.transform(&data).unwrap();
//! let p = pred.f64_column("prediction").unwrap();
//! assert!((p.value(499) - 108.0).abs() < 0.5);
//! assert!(model.feature_importances(ImportanceType::Weight).iter().all(|&w| w > 0.0));
//! ```
#![deny(missing_docs)]

mod adaptive;
mod binned_walk;
mod binning;
mod boost;
mod codes;
#[cfg(target_arch = "x86_64")]
mod codes_avx512;
mod constraints;
mod custom;
mod fixed;
mod forest;
mod gather;
mod grow;
mod hist;
mod loss;
mod metric;
mod model;
mod multi;
mod objective;
mod params;
mod partition;
#[cfg(target_arch = "x86_64")]
mod partition_avx512;
mod row;
mod sample;
#[cfg(target_arch = "x86_64")]
mod sample_avx512;
pub mod shap;
mod split;
#[doc(hidden)]
pub mod testing;
pub mod tree;
pub mod xgboost;

pub use custom::CustomObjective;
pub use loss::LossParams;
pub use metric::Metric;
pub use model::{GradientBoostedTreesModel, ImportanceType};
pub use objective::Objective;
pub use params::{
    BinLayout, GradientBoostedTrees, GrowPolicy, ModelParams, RoundCallback, RoundInfo,
    COMPACT_ABOVE_BINS,
};

/// Internals the benchmarks in `benches/` drive directly; not part of the API.
#[doc(hidden)]
pub mod bench {
    pub use crate::binning::BinMatrix;
    pub use crate::hist::{build_histogram, new_histogram, QPair};
}
