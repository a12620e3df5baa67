//! The [`GradientBoostedTrees`] estimator: parameters (XGBoost's names and defaults), input
//! checks and the boosting loop.

use std::sync::Arc;

use arrow::array::Array;
use arrow::datatypes::Schema;
use ndarray::{ArrayView2, CowArray, Ix2};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use ml_core::attributes::categorical_slots;
use ml_core::dataset::{field_of, unit_uniform};
use ml_core::{impl_params, Dataset, Estimator, MlError, Params, Result};

use crate::binning::{BinMapper, BinMatrix};
use crate::grow::{grow_tree, Leaves, TreeParams};
use crate::hist::RowPair;
use crate::model::GradientBoostedTreesModel;
use crate::objective::{gradients, Metric, Objective};
use crate::tree::Tree;

/// What the per-round callback is told.
#[derive(Debug, Clone, PartialEq)]
pub struct RoundInfo {
    /// Zero-based boosting round just finished.
    pub round: usize,
    /// Total number of rounds asked for.
    pub num_round: usize,
    /// Metric values on the evaluation set, as `("eval-<metric>", value)` (empty without one).
    pub metrics: Vec<(String, f64)>,
}

/// A per-round callback; returning `false` stops training after this round.
#[derive(Clone)]
pub struct RoundCallback(pub Arc<dyn Fn(&RoundInfo) -> bool + Send + Sync>);

impl std::fmt::Debug for RoundCallback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RoundCallback(..)")
    }
}

/// Histogram gradient boosted trees (XGBoost's `hist` method), as a classifier or a regressor
/// depending on `objective`.
///
/// Reads the vector column `features_col` (`FixedSizeList<Float64>`, NaN = missing) and the
/// per-slot attributes VectorAssembler leaves on it: nominal slots are split on subsets of
/// categories. Parameters carry XGBoost's names and defaults; Spark's `max_iter`, `step_size`
/// and `max_bins` (and scikit-learn's `n_estimators`, `learning_rate`, `reg_lambda`,
/// `reg_alpha`) are accepted as aliases.
///
/// ```
/// use std::sync::Arc;
/// use arrow::array::{ArrayRef, Float64Array};
/// use ml_core::dataset::vector_column_from_vec;
/// use ml_core::{Dataset, Estimator, Params, ParamValue, Transformer};
/// use ml_tree::GradientBoostedTrees;
///
/// // y = 1 when x0 > 0.5.
/// let n = 200;
/// let x: Vec<f64> = (0..n).flat_map(|i| [i as f64 / n as f64, (i % 7) as f64]).collect();
/// let y: Vec<f64> = (0..n).map(|i| if i * 2 > n { 1.0 } else { 0.0 }).collect();
/// let data = Dataset::from_columns(vec![
///     ("features", vector_column_from_vec(x, n, 2)),
///     ("label", Arc::new(Float64Array::from(y)) as ArrayRef),
/// ]).unwrap();
/// let mut gbt = GradientBoostedTrees::default();
/// gbt.set_param("maxIter", ParamValue::Int(10)).unwrap();
/// let model = gbt.fit(&data).unwrap();
/// let out = model.transform(&data).unwrap();
/// let pred = out.f64_column("prediction").unwrap();
/// assert_eq!(pred.value(10), 0.0);
/// assert_eq!(pred.value(190), 1.0);
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GradientBoostedTrees {
    /// `binary:logistic`, `reg:squarederror` or `multi:softmax`.
    pub objective: String,
    /// Boosting rounds (Spark: `max_iter`).
    pub num_round: usize,
    /// Learning rate (Spark: `step_size`).
    pub eta: f64,
    /// Maximum depth of a tree (0 = unlimited, lossguide only).
    pub max_depth: usize,
    /// Maximum number of leaves (0 = unlimited).
    pub max_leaves: usize,
    /// `depthwise` (level by level) or `lossguide` (best leaf first).
    pub grow_policy: String,
    /// Maximum number of bins per feature (Spark: `max_bins`); at most 255 value bins are used.
    pub max_bin: usize,
    /// Minimum sum of hessians in a child.
    pub min_child_weight: f64,
    /// L2 regularization on leaf weights.
    pub lambda: f64,
    /// L1 regularization on leaf weights.
    pub alpha: f64,
    /// Minimum loss reduction to make a split.
    pub gamma: f64,
    /// Fraction of rows used per round.
    pub subsample: f64,
    /// Fraction of features used per tree.
    pub colsample_bytree: f64,
    /// Weight multiplier of positive rows (binary).
    pub scale_pos_weight: f64,
    /// Initial prediction (a probability for binary:logistic); `None` estimates it from the
    /// labels (their weighted mean), as XGBoost 2+ does.
    pub base_score: Option<f64>,
    /// Number of classes for `multi:softmax`.
    pub num_class: usize,
    /// Categorical features with at most this many categories are split one category against
    /// the rest; larger ones on sorted-gradient subsets.
    pub max_cat_to_onehot: usize,
    /// Seed for row and column sampling.
    pub seed: u64,
    /// Threads (0 = all cores, or the current rayon pool's threads). When the current pool
    /// (the global one, outside any pool) has this many threads, training runs in it;
    /// otherwise in a pool of its own. The model is the same either way.
    pub n_threads: usize,
    /// Metric on the evaluation set: `auc`, `logloss`, `rmse`, `mlogloss`, `error`
    /// (`None` = the objective's default).
    pub eval_metric: Option<String>,
    /// Stop when the evaluation metric has not improved for this many rounds (needs an
    /// evaluation set); the model keeps the best round's trees.
    pub early_stopping_rounds: Option<usize>,
    /// Input vector column.
    pub features_col: String,
    /// Label column (numeric).
    pub label_col: String,
    /// Optional sample weight column (numeric, >= 0).
    pub weight_col: Option<String>,
    /// Output column of margins.
    pub raw_prediction_col: String,
    /// Output column of class probabilities.
    pub probability_col: String,
    /// Output column of predictions.
    pub prediction_col: String,
    #[serde(skip)]
    eval_set: Option<Dataset>,
    #[serde(skip)]
    callback: Option<RoundCallback>,
}

impl Default for GradientBoostedTrees {
    fn default() -> Self {
        GradientBoostedTrees {
            objective: "binary:logistic".into(),
            num_round: 100,
            eta: 0.3,
            max_depth: 6,
            max_leaves: 0,
            grow_policy: "depthwise".into(),
            max_bin: 256,
            min_child_weight: 1.0,
            lambda: 1.0,
            alpha: 0.0,
            gamma: 0.0,
            subsample: 1.0,
            colsample_bytree: 1.0,
            scale_pos_weight: 1.0,
            base_score: None,
            num_class: 0,
            max_cat_to_onehot: 4,
            seed: 0,
            n_threads: 0,
            eval_metric: None,
            early_stopping_rounds: None,
            features_col: "features".into(),
            label_col: "label".into(),
            weight_col: None,
            raw_prediction_col: "rawPrediction".into(),
            probability_col: "probability".into(),
            prediction_col: "prediction".into(),
            eval_set: None,
            callback: None,
        }
    }
}

fn check(p: &GradientBoostedTrees) -> Result<()> {
    let obj = Objective::parse(&p.objective)?;
    let bad = |name: &str, msg: &str| Err(MlError::param(name, msg.to_string()));
    if p.num_round == 0 {
        return bad("num_round", "must be >= 1");
    }
    if !(p.eta > 0.0 && p.eta.is_finite()) {
        return bad("eta", "must be > 0");
    }
    if !matches!(p.grow_policy.as_str(), "depthwise" | "lossguide") {
        return bad("grow_policy", "must be 'depthwise' or 'lossguide'");
    }
    if p.max_depth == 0 && (p.grow_policy != "lossguide" || p.max_leaves == 0) {
        return bad(
            "max_depth",
            "0 (unlimited) needs grow_policy 'lossguide' and max_leaves > 0",
        );
    }
    if p.max_depth > 64 {
        return bad("max_depth", "must be <= 64");
    }
    if p.max_leaves == 1 {
        return bad("max_leaves", "must be 0 (unlimited) or >= 2");
    }
    if p.max_bin < 2 {
        return bad("max_bin", "must be >= 2");
    }
    for (name, v) in [
        ("min_child_weight", p.min_child_weight),
        ("lambda", p.lambda),
        ("alpha", p.alpha),
        ("gamma", p.gamma),
    ] {
        if !(v >= 0.0 && v.is_finite()) {
            return bad(name, "must be a finite number >= 0");
        }
    }
    for (name, v) in [
        ("subsample", p.subsample),
        ("colsample_bytree", p.colsample_bytree),
    ] {
        if !(v > 0.0 && v <= 1.0) {
            return bad(name, "must be in (0, 1]");
        }
    }
    if !(p.scale_pos_weight > 0.0 && p.scale_pos_weight.is_finite()) {
        return bad("scale_pos_weight", "must be > 0");
    }
    if let Some(b) = p.base_score {
        if !b.is_finite() || (obj == Objective::BinaryLogistic && !(b > 0.0 && b < 1.0)) {
            return bad(
                "base_score",
                "must be finite (in (0, 1) for binary:logistic)",
            );
        }
    }
    if obj == Objective::MultiSoftmax && p.num_class < 2 {
        return bad("num_class", "multi:softmax needs num_class >= 2");
    }
    if let Some(m) = &p.eval_metric {
        Metric::parse(m)?;
    }
    if p.early_stopping_rounds == Some(0) {
        return bad("early_stopping_rounds", "must be >= 1");
    }
    Ok(())
}

impl_params!(GradientBoostedTrees {
    objective: "binary:logistic | reg:squarederror | multi:softmax.",
    num_round: "Number of boosting rounds (>= 1).",
    eta: "Learning rate (> 0).",
    max_depth: "Maximum tree depth (0 = unlimited, lossguide only).",
    max_leaves: "Maximum leaves per tree (0 = unlimited).",
    grow_policy: "depthwise | lossguide.",
    max_bin: "Maximum bins per feature (>= 2; at most 255 value bins are used).",
    min_child_weight: "Minimum hessian sum in a child (>= 0).",
    lambda: "L2 regularization (>= 0).",
    alpha: "L1 regularization (>= 0).",
    gamma: "Minimum loss reduction to split (>= 0).",
    subsample: "Row fraction per round, in (0, 1].",
    colsample_bytree: "Feature fraction per tree, in (0, 1].",
    scale_pos_weight: "Weight multiplier of positive rows (> 0).",
    base_score: "Initial prediction; unset = estimated from the labels.",
    num_class: "Number of classes (multi:softmax).",
    max_cat_to_onehot: "Categorical features with at most this many categories split one-vs-rest.",
    seed: "Seed for row and column sampling.",
    n_threads: "Threads (0 = all cores).",
    eval_metric: "auc | logloss | rmse | mlogloss | error (unset = objective default).",
    early_stopping_rounds: "Stop after this many rounds without improvement on the evaluation set.",
    features_col: "Input vector column.",
    label_col: "Label column.",
    weight_col: "Optional sample weight column.",
    raw_prediction_col: "Output margin column.",
    probability_col: "Output probability column.",
    prediction_col: "Output prediction column.",
} aliases {
    "max_iter" => num_round,
    "n_estimators" => num_round,
    "num_boost_round" => num_round,
    "step_size" => eta,
    "learning_rate" => eta,
    "max_bins" => max_bin,
    "reg_lambda" => lambda,
    "reg_alpha" => alpha,
    "min_split_loss" => gamma,
    "nthread" => n_threads,
    "random_state" => seed,
} validate = check);

/// Checked training inputs.
pub(crate) struct Inputs<'a> {
    pub x: CowArray<'a, f64, Ix2>,
    pub y: Vec<f64>,
    pub w: Option<Vec<f64>>,
}

/// Adds each leaf's value to the margins of its rows, leaves in parallel. The leaves' row
/// ranges are disjoint parts of `rows` and of the second buffer `rows_b`, which together hold
/// each row at most once.
#[allow(clippy::too_many_arguments)]
fn add_leaf_values(
    margins: &mut [f64],
    k: usize,
    class: usize,
    rows: &[u32],
    rows_b: &[u32],
    leaves: &Leaves,
    bins: &BinMatrix,
) {
    /// The margins, written by several threads at disjoint indices.
    struct Shared(*mut f64, usize);
    // SAFETY: every index is written by exactly one task (see below).
    unsafe impl Sync for Shared {}
    let shared = Shared(margins.as_mut_ptr(), margins.len());
    let shared = &shared;
    let add = |r: u32, v: f64| {
        let i = r as usize * k + class;
        assert!(i < shared.1, "row index within the margins");
        // SAFETY: `i` is in bounds (checked above), and no other task writes it: the
        // leaves' ranges are disjoint and no row appears twice in the two buffers.
        unsafe { *shared.0.add(i) += v };
    };
    let bufs = [rows, rows_b];
    // Leaves, then last-level splits, as one list of tasks in a few pieces.
    let n_tasks = leaves.ranges.len() + leaves.splits.len();
    (0..n_tasks)
        .into_par_iter()
        .with_min_len(n_tasks.div_ceil(8).max(1))
        .for_each(|t| match leaves.ranges.get(t) {
            Some(&(s, e, v, in_b)) => {
                for &r in &bufs[in_b as usize][s..e] {
                    add(r, v);
                }
            }
            None => {
                let f = &leaves.splits[t - leaves.ranges.len()];
                let col = bins.column(f.feature);
                for &r in &bufs[f.in_b as usize][f.start..f.end] {
                    let left = f.table[col[r as usize] as usize];
                    add(r, if left { f.values[0] } else { f.values[1] });
                }
            }
        });
}

/// The matrix as contiguous row-major rows.
pub(crate) fn row_major(x: ArrayView2<'_, f64>) -> CowArray<'_, f64, Ix2> {
    if x.is_standard_layout() {
        CowArray::from(x)
    } else {
        CowArray::from(x.as_standard_layout().into_owned())
    }
}

impl GradientBoostedTrees {
    /// A classifier/regressor with XGBoost's defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the evaluation set used for the per-round metrics and early stopping (same
    /// columns as the training data).
    pub fn with_eval_set(mut self, eval: Dataset) -> Self {
        self.eval_set = Some(eval);
        self
    }

    /// Sets a callback run after every round with the evaluation metrics; returning `false`
    /// stops training.
    pub fn with_callback(mut self, f: impl Fn(&RoundInfo) -> bool + Send + Sync + 'static) -> Self {
        self.callback = Some(RoundCallback(Arc::new(f)));
        self
    }

    fn objective_kind(&self) -> Objective {
        Objective::parse(&self.objective).unwrap_or(Objective::BinaryLogistic)
    }

    fn num_outputs(&self) -> usize {
        if self.objective_kind() == Objective::MultiSoftmax {
            self.num_class
        } else {
            1
        }
    }

    /// Reads and checks features, labels and weights.
    fn inputs<'a>(&self, data: &'a Dataset, what: &str) -> Result<Inputs<'a>> {
        let x = data.features(&self.features_col)?;
        let (n, d) = x.dim();
        if n == 0 {
            return Err(MlError::data(format!("the {what} set has no rows")));
        }
        if d == 0 {
            return Err(MlError::data(format!(
                "column '{}' has vectors of width 0 (no features)",
                self.features_col
            )));
        }
        let labels = data.numeric_column(&self.label_col)?;
        let obj = self.objective_kind();
        let mut y = Vec::with_capacity(n);
        for i in 0..n {
            if labels.is_null(i) || labels.value(i).is_nan() {
                return Err(MlError::value(
                    &self.label_col,
                    i,
                    "missing label (null or NaN)",
                ));
            }
            let v = labels.value(i);
            match obj {
                Objective::BinaryLogistic if v != 0.0 && v != 1.0 => {
                    return Err(MlError::value(
                        &self.label_col,
                        i,
                        format!("label {v} is not 0 or 1 (binary:logistic)"),
                    ))
                }
                Objective::MultiSoftmax
                    if !(v >= 0.0 && v < self.num_class as f64 && v.fract() == 0.0) =>
                {
                    return Err(MlError::value(
                        &self.label_col,
                        i,
                        format!("label {v} is not a class in 0..{}", self.num_class),
                    ))
                }
                Objective::SquaredError if !v.is_finite() => {
                    return Err(MlError::value(&self.label_col, i, "label is infinite"))
                }
                _ => {}
            }
            y.push(v);
        }
        let w = match &self.weight_col {
            None => None,
            Some(c) => {
                let col = data.numeric_column(c)?;
                let mut w = Vec::with_capacity(n);
                for i in 0..n {
                    let v = if col.is_null(i) {
                        f64::NAN
                    } else {
                        col.value(i)
                    };
                    if !(v >= 0.0 && v.is_finite()) {
                        return Err(MlError::value(
                            c,
                            i,
                            format!("weight {v} is not a finite number >= 0"),
                        ));
                    }
                    w.push(v);
                }
                if w.iter().sum::<f64>() <= 0.0 {
                    return Err(MlError::data(format!("weights in column '{c}' sum to 0")));
                }
                Some(w)
            }
        };
        Ok(Inputs {
            x: row_major(x),
            y,
            w,
        })
    }

    fn pool(&self) -> Result<rayon::ThreadPool> {
        rayon::ThreadPoolBuilder::new()
            .num_threads(self.n_threads)
            .build()
            .map_err(|e| MlError::param("n_threads", format!("cannot start the thread pool: {e}")))
    }

    fn tree_params(&self) -> TreeParams {
        TreeParams {
            max_depth: self.max_depth,
            max_leaves: self.max_leaves,
            lossguide: self.grow_policy == "lossguide",
            min_child_weight: self.min_child_weight,
            lambda: self.lambda,
            alpha: self.alpha,
            gamma: self.gamma,
            eta: self.eta,
            max_cat_to_onehot: self.max_cat_to_onehot,
        }
    }

    /// Fits on `data`, also returning the per-round evaluation history
    /// (`(round, metric value)`; empty without an evaluation set).
    pub fn fit_with_history(
        &self,
        data: &Dataset,
    ) -> Result<(GradientBoostedTreesModel, Vec<f64>)> {
        self.validate()?;
        let schema = data.schema();
        Estimator::transform_schema(self, &schema)?;
        let train = self.inputs(data, "training")?;
        let field = field_of(&schema, &self.features_col)?;
        let cats = categorical_slots(&field);
        let names = ml_core::attributes::slot_names(&field, train.x.ncols());
        let eval = match &self.eval_set {
            Some(e) => {
                let ev = self.inputs(e, "evaluation")?;
                if ev.x.ncols() != train.x.ncols() {
                    return Err(MlError::data(format!(
                        "the evaluation set has {} features, the training set {}",
                        ev.x.ncols(),
                        train.x.ncols()
                    )));
                }
                Some(ev)
            }
            None => None,
        };
        if self.early_stopping_rounds.is_some() && eval.is_none() {
            return Err(MlError::param(
                "early_stopping_rounds",
                "early stopping needs an evaluation set (with_eval_set)",
            ));
        }
        // The current (usually the global) pool when it has the threads asked for, so its
        // threads are warm for the predictions that usually follow; a pool of our own
        // otherwise. Either way training runs on one of the pool's threads, so the parallel
        // steps inside it are scheduled within the pool rather than sent in from outside.
        if self.n_threads == 0 || self.n_threads == rayon::current_num_threads() {
            return rayon::scope(|_| self.train(&train, eval.as_ref(), &cats, names));
        }
        let pool = self.pool()?;
        pool.install(|| self.train(&train, eval.as_ref(), &cats, names))
    }

    fn train(
        &self,
        t: &Inputs<'_>,
        eval: Option<&Inputs<'_>>,
        cats: &[(usize, usize)],
        feature_names: Vec<String>,
    ) -> Result<(GradientBoostedTreesModel, Vec<f64>)> {
        let obj = self.objective_kind();
        let k = self.num_outputs();
        let (n, d) = t.x.dim();
        let x = t.x.view();
        let w = t.w.as_deref();
        let mapper = BinMapper::fit(x, w, cats, self.max_bin);
        let bins = mapper.transform(x);

        let base_score = match self.base_score {
            Some(b) => b,
            None => match obj {
                Objective::BinaryLogistic | Objective::SquaredError => {
                    let (mut s, mut ws) = (0.0, 0.0);
                    for i in 0..n {
                        let wi = w.map_or(1.0, |w| w[i]);
                        s += wi * t.y[i];
                        ws += wi;
                    }
                    let m = s / ws;
                    if obj == Objective::BinaryLogistic {
                        m.clamp(1e-6, 1.0 - 1e-6)
                    } else {
                        m
                    }
                }
                Objective::MultiSoftmax => 0.5,
            },
        };
        let base_score = (base_score as f32) as f64;
        let base_margin = match obj {
            Objective::BinaryLogistic => (base_score / (1.0 - base_score)).ln(),
            _ => base_score,
        };
        let mut margins = vec![base_margin; n * k];
        let metric = match &self.eval_metric {
            Some(m) => Metric::parse(m)?,
            None => obj.default_metric(),
        };
        let mut eval_margins = eval.map(|e| vec![base_margin; e.y.len() * k]);
        let tp = self.tree_params();
        let mut trees: Vec<Tree> = Vec::with_capacity(self.num_round * k);
        let mut gh: Vec<RowPair> = vec![[0.0, 0.0]; n];
        let mut rows: Vec<u32> = Vec::with_capacity(n);
        let mut scratch: Vec<u32> = Vec::new();
        let mut history = Vec::new();
        let mut best: Option<(usize, f64)> = None;
        let x_rows = x
            .as_slice()
            .ok_or_else(|| MlError::data("features are not contiguous"))?;
        let n_feat_tree = ((d as f64 * self.colsample_bytree).round() as usize).clamp(1, d);
        for round in 0..self.num_round {
            // Rows of this round.
            let sampled: Option<Vec<u32>> = (self.subsample < 1.0).then(|| {
                (0..n as u32)
                    .filter(|&i| {
                        unit_uniform(self.seed, (round as u64) * n as u64 + i as u64)
                            < self.subsample
                    })
                    .collect()
            });
            if sampled.as_ref().is_some_and(|s| s.is_empty()) {
                continue;
            }
            for class in 0..k {
                gradients(
                    obj,
                    &margins,
                    &t.y,
                    w,
                    self.scale_pos_weight,
                    k,
                    class,
                    &mut gh,
                );
                let tree_no = (round * k + class) as u64;
                let features: Vec<usize> = if n_feat_tree < d {
                    let mut order: Vec<usize> = (0..d).collect();
                    let key = |f: usize| {
                        unit_uniform(self.seed ^ 0x05EE_DC01, tree_no * d as u64 + f as u64)
                    };
                    order.sort_by(|&a, &b| key(a).total_cmp(&key(b)).then(a.cmp(&b)));
                    order.truncate(n_feat_tree);
                    order.sort_unstable();
                    order
                } else {
                    (0..d).collect()
                };
                // The row buffer is reused across trees (no fresh pages to fault in).
                rows.clear();
                let identity = match &sampled {
                    Some(s) => {
                        rows.extend_from_slice(s);
                        false
                    }
                    None => {
                        rows.extend(0..n as u32);
                        true
                    }
                };
                let (tree, leaves) = grow_tree(
                    &bins,
                    &mapper,
                    &features,
                    &tp,
                    &mut rows,
                    &gh,
                    identity,
                    &mut scratch,
                );
                // Margins of the rows used, from the leaf each ended in.
                add_leaf_values(&mut margins, k, class, &rows, &scratch, &leaves, &bins);
                if let Some(s) = &sampled {
                    let mut used = vec![false; n];
                    for &r in s {
                        used[r as usize] = true;
                    }
                    margins
                        .par_chunks_mut(k * 4096)
                        .enumerate()
                        .for_each(|(ci, chunk)| {
                            for (j, m) in chunk.chunks_mut(k).enumerate() {
                                let i = ci * 4096 + j;
                                if !used[i] {
                                    m[class] += tree.predict_row(&x_rows[i * d..(i + 1) * d]);
                                }
                            }
                        });
                }
                if let (Some(e), Some(em)) = (eval, eval_margins.as_mut()) {
                    let ex =
                        e.x.as_slice()
                            .ok_or_else(|| MlError::data("features are not contiguous"))?;
                    em.par_chunks_mut(k * 4096)
                        .enumerate()
                        .for_each(|(ci, chunk)| {
                            for (j, m) in chunk.chunks_mut(k).enumerate() {
                                let i = ci * 4096 + j;
                                m[class] += tree.predict_row(&ex[i * d..(i + 1) * d]);
                            }
                        });
                }
                trees.push(tree);
            }
            let mut metrics = Vec::new();
            if let (Some(e), Some(em)) = (eval, eval_margins.as_ref()) {
                let v = metric.evaluate(obj, em, k, &e.y, e.w.as_deref());
                history.push(v);
                metrics.push((format!("eval-{}", metric.name()), v));
                let improved = match best {
                    None => true,
                    Some((_, b)) => {
                        if metric.higher_is_better() {
                            v > b
                        } else {
                            v < b
                        }
                    }
                };
                if improved {
                    best = Some((round, v));
                }
            }
            if let Some(cb) = &self.callback {
                let info = RoundInfo {
                    round,
                    num_round: self.num_round,
                    metrics,
                };
                if !(cb.0)(&info) {
                    break;
                }
            }
            if let (Some(es), Some((b, _))) = (self.early_stopping_rounds, best) {
                if round >= b + es {
                    break;
                }
            }
        }
        let mut best_iteration = None;
        if let (Some(_), Some((b, _))) = (self.early_stopping_rounds, best) {
            trees.truncate((b + 1) * k);
            best_iteration = Some(b);
        }
        let model = GradientBoostedTreesModel {
            objective: obj,
            num_features: d,
            num_class: k,
            base_score,
            trees,
            feature_names,
            best_iteration,
            features_col: self.features_col.clone(),
            raw_prediction_col: self.raw_prediction_col.clone(),
            probability_col: self.probability_col.clone(),
            prediction_col: self.prediction_col.clone(),
        };
        Ok((model, history))
    }
}

impl Estimator for GradientBoostedTrees {
    type Model = GradientBoostedTreesModel;

    fn fit(&self, data: &Dataset) -> Result<GradientBoostedTreesModel> {
        self.fit_with_history(data).map(|(m, _)| m)
    }

    fn transform_schema(&self, schema: &Schema) -> Result<Schema> {
        self.validate()?;
        let f = field_of(schema, &self.label_col)?;
        if !ml_core::dataset::is_numeric(f.data_type()) {
            return Err(ml_core::dataset::type_error(
                &self.label_col,
                "a numeric type",
                f.data_type(),
            ));
        }
        if let Some(wc) = &self.weight_col {
            let f = field_of(schema, wc)?;
            if !ml_core::dataset::is_numeric(f.data_type()) {
                return Err(ml_core::dataset::type_error(
                    wc,
                    "a numeric type",
                    f.data_type(),
                ));
            }
        }
        let model = GradientBoostedTreesModel {
            objective: self.objective_kind(),
            num_features: 0,
            num_class: self.num_outputs(),
            base_score: 0.0,
            trees: Vec::new(),
            feature_names: Vec::new(),
            best_iteration: None,
            features_col: self.features_col.clone(),
            raw_prediction_col: self.raw_prediction_col.clone(),
            probability_col: self.probability_col.clone(),
            prediction_col: self.prediction_col.clone(),
        };
        model.output_schema(schema, None)
    }
}
