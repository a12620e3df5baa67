//! Hyper-parameters: the [`GradientBoostedTrees`] estimator's parameters (XGBoost's names and
//! defaults, Spark's and scikit-learn's as aliases), their validation before any work, the
//! options with a fixed set of values as enums parsed from their XGBoost names, the shape
//! parameters one tree is grown with, and the fitted model's own parameters ([`ModelParams`]).

use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use ml_core::params::ParamValue;
use ml_core::{impl_params, Dataset, MlError, Result};

use crate::custom::CustomObjective;
use crate::loss::LossParams;
use crate::metric::Metric;
use crate::model::GradientBoostedTreesModel;
use crate::objective::Objective;

/// Reads an option with a fixed set of values from a string parameter value; the error names
/// the parameter actually set (an alias, say).
pub(crate) fn enum_from_param<T: FromStr<Err = MlError>>(
    param: &str,
    value: ParamValue,
) -> Result<T> {
    match value {
        ParamValue::Str(s) => s.parse().map_err(|e| match e {
            MlError::InvalidParam { message, .. } => MlError::param(param, message),
            other => other,
        }),
        v => Err(MlError::param(
            param,
            format!("expected a string, got {} ({v})", v.kind()),
        )),
    }
}

ml_core::param_enum! {
    /// The order nodes are split in (parameter `grow_policy`), by XGBoost's names.
    pub enum GrowPolicy: "grow_policy" {
        /// `depthwise`: a level at a time (XGBoost's default).
        Depthwise => "depthwise",
        /// `lossguide`: the open node with the largest gain first (LightGBM's order).
        Lossguide => "lossguide",
    }
}

ml_core::param_enum! {
    /// How the training rows' bins are held in memory (parameter `bin_layout`). The model is
    /// the same bytes in every layout: histograms are integer sums.
    pub enum BinLayout: "bin_layout" {
        /// `auto` (the default): `fast` up to [`COMPACT_ABOVE_BINS`] bins (a worker's training
        /// rows times features), `compact` beyond, where the copies of the fast layout
        /// would dominate the memory of training.
        Auto => "auto",
        /// `fast`: the row-major bins, a column-major copy (partitions read a feature's
        /// column contiguously) and the joint slots of feature groups (fewer histogram
        /// updates per row): about `2d + 2g` bytes per row for `d` features in `g` groups.
        Fast => "fast",
        /// `compact`: the row-major bins alone, `d` bytes per row; histograms update one slot
        /// per feature and partitions read a feature with a stride, so training is slower
        /// (about 1.4x on the clicks medium features, 2 threads; `benches/larger_than_memory.md`).
        Compact => "compact",
    }
}

/// Above this many bins (a worker's training rows times features) `bin_layout = auto` keeps
/// the compact layout: 2^28, for instance 11.7M rows of 23 features.
pub const COMPACT_ABOVE_BINS: usize = 1 << 28;

impl BinLayout {
    /// Whether training on `n_rows` rows of `n_features` features keeps the compact layout.
    pub fn is_compact(self, n_rows: usize, n_features: usize) -> bool {
        match self {
            BinLayout::Auto => n_rows.saturating_mul(n_features) > COMPACT_ABOVE_BINS,
            BinLayout::Fast => false,
            BinLayout::Compact => true,
        }
    }
}

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
/// // Options with a fixed set of values parse from their XGBoost names; others are errors.
/// assert!(gbt.set_param("objective", "binary:logitraw".into()).is_err());
/// let model = gbt.fit(&data).unwrap();
/// let out = model.transform(&data).unwrap();
/// let pred = out.f64_column("prediction").unwrap();
/// assert_eq!(pred.value(10), 0.0);
/// assert_eq!(pred.value(190), 1.0);
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct GradientBoostedTrees {
    /// The loss, by XGBoost's name (see [`Objective`]; by name through
    /// [`Params::set_param`](ml_core::Params::set_param), or [`Objective`]'s [`FromStr`](std::str::FromStr)).
    #[serde(with = "crate::objective::by_name")]
    pub objective: Objective,
    /// `reg:pseudohubererror`'s slope (> 0; default 1).
    pub huber_slope: f64,
    /// `reg:quantileerror`'s quantiles, each in `[0, 1]`: the model has one output per alpha
    /// (as XGBoost's). Must be set for that objective.
    pub quantile_alpha: Vec<f64>,
    /// The largest step a leaf may take (before `eta`; XGBoost's `max_delta_step`, >= 0, 0 =
    /// no limit): leaf weights are clipped to `[-max_delta_step, max_delta_step]` and split
    /// gains computed at the clipped weights. `None` is XGBoost's default: 0.7 for
    /// `count:poisson` (whose hessian `e^(p + max_delta_step)` also uses it), 0 otherwise.
    pub max_delta_step: Option<f64>,
    /// `reg:tweedie`'s variance power, in `[1, 2)` (default 1.5).
    pub tweedie_variance_power: f64,
    /// Boosting rounds (Spark: `max_iter`).
    pub num_round: usize,
    /// Learning rate (Spark: `step_size`).
    pub eta: f64,
    /// Maximum depth of a tree (0 = unlimited, lossguide only).
    pub max_depth: usize,
    /// Maximum number of leaves (0 = unlimited).
    pub max_leaves: usize,
    /// `depthwise` (level by level) or `lossguide` (best leaf first).
    pub grow_policy: GrowPolicy,
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
    /// Weight multiplier of positive rows (binary; and rows of label 1 for `reg:gamma`, as
    /// XGBoost).
    pub scale_pos_weight: f64,
    /// Initial prediction (a probability for binary:logistic); `None` estimates it from the
    /// labels (their weighted mean), as XGBoost 2+ does.
    pub base_score: Option<f64>,
    /// Number of classes for `multi:softmax`.
    pub num_class: usize,
    /// Categorical features with at most this many categories are split one category against
    /// the rest; larger ones on sorted-gradient subsets.
    pub max_cat_to_onehot: usize,
    /// XGBoost's `monotone_constraints`, in its string syntax: one of -1, 0, 1 per feature
    /// in order, `"(1,0,-1)"` (shorter lists are padded with 0), or by feature name as a
    /// JSON object, `{"int_rate": 1}`. Predictions then never decrease (1) or increase (-1)
    /// as that feature grows (XGBoost's bounds and mid-point rule; the crate docs'
    /// "Constraints" section).
    /// Empty (the default): none.
    pub monotone_constraints: String,
    /// XGBoost's `interaction_constraints`: a JSON list of the sets of features allowed to
    /// interact, by index `"[[0,1],[2,3,4]]"` or by name `[["grade","int_rate"]]`. Every
    /// root-to-leaf path then splits only on features of one set (a feature in no set only
    /// with itself). Empty (the default): none.
    pub interaction_constraints: String,
    /// Seed for row and column sampling.
    pub seed: u64,
    /// Threads, as [`ml_core::threads`] defines them for every stage: 0 = the current rayon
    /// pool (the global one, all cores, outside any pool); n = run on n threads, in the
    /// current pool when it has exactly n, else in a kept pool of n. The model is the same
    /// either way.
    pub n_threads: usize,
    /// How the training rows' bins are held in memory: `auto` (default), `fast` or `compact`
    /// (see [`BinLayout`]; the model is the same in each).
    pub bin_layout: BinLayout,
    /// Metric on the evaluation set: `auc`, `logloss`, `rmse`, `mlogloss`, `error`, `mae`,
    /// `mphe`, `quantile`, `poisson-nloglik`, `tweedie-nloglik`, `gamma-nloglik`,
    /// `gamma-deviance`
    /// (`None` = the objective's default).
    pub eval_metric: Option<Metric>,
    /// Stop when the evaluation metric has not improved for this many rounds (needs an
    /// evaluation set); the model keeps the best round's trees.
    pub early_stopping_rounds: Option<usize>,
    /// Input vector column.
    pub features_col: String,
    /// Label column (numeric).
    pub label_col: String,
    /// Optional sample weight column (numeric, >= 0).
    pub weight_col: Option<String>,
    /// Optional boolean (or 0/1) column marking the rows to evaluate on instead of training
    /// on (Spark's and xgboost.spark's `validationIndicatorCol`): those rows are the
    /// evaluation set for `eval_metric` and early stopping, so a fit inside a
    /// CrossValidator fold evaluates on rows of that fold. Not with an evaluation set
    /// ([`GradientBoostedTrees::with_eval_set`]), `base_margin_col`, continued training, or
    /// training from a stream of batches.
    pub validation_indicator_col: Option<String>,
    /// Optional column of per-row starting margins (XGBoost's `base_margin`; xgboost.spark's
    /// `base_margin_col`, xgboost4j-spark's `baseMarginCol`): training starts each row from
    /// it instead of the base score, and the model adds its trees to it when scoring data
    /// that has the column. A number per row, or a vector of one margin per output for
    /// models with several outputs. An evaluation set must have the column too.
    pub base_margin_col: Option<String>,
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
    #[serde(skip)]
    xgb_model: Option<Arc<GradientBoostedTreesModel>>,
    #[serde(skip)]
    custom_objective: Option<CustomObjectiveRef>,
}

/// A shared [`CustomObjective`].
#[derive(Clone)]
pub(crate) struct CustomObjectiveRef(pub Arc<dyn CustomObjective>);

impl std::fmt::Debug for CustomObjectiveRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CustomObjective(..)")
    }
}

impl Default for GradientBoostedTrees {
    fn default() -> Self {
        GradientBoostedTrees {
            objective: Objective::BinaryLogistic,
            huber_slope: 1.0,
            quantile_alpha: Vec::new(),
            max_delta_step: None,
            tweedie_variance_power: 1.5,
            num_round: 100,
            eta: 0.3,
            max_depth: 6,
            max_leaves: 0,
            grow_policy: GrowPolicy::Depthwise,
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
            monotone_constraints: String::new(),
            interaction_constraints: String::new(),
            seed: 0,
            n_threads: 0,
            bin_layout: BinLayout::Auto,
            eval_metric: None,
            early_stopping_rounds: None,
            features_col: "features".into(),
            label_col: "label".into(),
            weight_col: None,
            validation_indicator_col: None,
            base_margin_col: None,
            raw_prediction_col: "rawPrediction".into(),
            probability_col: "probability".into(),
            prediction_col: "prediction".into(),
            eval_set: None,
            callback: None,
            xgb_model: None,
            custom_objective: None,
        }
    }
}

/// Checks the parameters together, before any work (run by `set_param` and `fit`).
fn check(p: &GradientBoostedTrees) -> Result<()> {
    let obj = p.objective;
    let bad = |name: &str, msg: String| Err(MlError::param(name, msg));
    if p.num_round == 0 {
        return bad("num_round", "must be >= 1, got 0".into());
    }
    if !(p.eta > 0.0 && p.eta.is_finite()) {
        return bad("eta", format!("must be a finite number > 0, got {}", p.eta));
    }
    if p.max_depth == 0 && (p.grow_policy != GrowPolicy::Lossguide || p.max_leaves == 0) {
        return bad(
            "max_depth",
            "0 (unlimited) needs grow_policy 'lossguide' and max_leaves > 0".into(),
        );
    }
    if p.max_depth > 64 {
        return bad(
            "max_depth",
            format!("must be in [0, 64], got {}", p.max_depth),
        );
    }
    if p.max_leaves == 1 {
        return bad("max_leaves", "must be 0 (unlimited) or >= 2, got 1".into());
    }
    if p.max_bin < 2 {
        return bad("max_bin", format!("must be >= 2, got {}", p.max_bin));
    }
    for (name, v) in [
        ("min_child_weight", p.min_child_weight),
        ("lambda", p.lambda),
        ("alpha", p.alpha),
        ("gamma", p.gamma),
    ] {
        if !(v >= 0.0 && v.is_finite()) {
            return bad(name, format!("must be a finite number >= 0, got {v}"));
        }
    }
    for (name, v) in [
        ("subsample", p.subsample),
        ("colsample_bytree", p.colsample_bytree),
    ] {
        if !(v > 0.0 && v <= 1.0) {
            return bad(name, format!("must be in (0, 1], got {v}"));
        }
    }
    if !(p.scale_pos_weight > 0.0 && p.scale_pos_weight.is_finite()) {
        return bad(
            "scale_pos_weight",
            format!("must be a finite number > 0, got {}", p.scale_pos_weight),
        );
    }
    if let Some(b) = p.base_score {
        if !b.is_finite() || (obj == Objective::BinaryLogistic && !(b > 0.0 && b < 1.0)) {
            return bad(
                "base_score",
                format!("must be finite (in (0, 1) for binary:logistic), got {b}"),
            );
        }
        if obj.has_log_link() && b <= 0.0 {
            return bad("base_score", format!("must be > 0 for {obj}, got {b}"));
        }
    }
    // An empty quantile_alpha is checked at fit time, so that the objective and its alphas
    // can be set one after the other.
    let mut lp = p.loss_params();
    if lp.quantile_alpha.is_empty() {
        lp.quantile_alpha.push(0.5);
    }
    lp.check(obj)?;
    if let Some(m) = p.max_delta_step {
        if !(m >= 0.0 && m.is_finite()) {
            return bad(
                "max_delta_step",
                format!("must be a finite number >= 0, got {m}"),
            );
        }
    }
    if obj == Objective::MultiSoftmax && p.num_class < 2 {
        return bad(
            "num_class",
            format!("multi:softmax needs num_class >= 2, got {}", p.num_class),
        );
    }
    if p.early_stopping_rounds == Some(0) {
        return bad(
            "early_stopping_rounds",
            "must be >= 1 (or unset), got 0".into(),
        );
    }
    crate::constraints::check_syntax(&p.monotone_constraints, &p.interaction_constraints)?;
    ml_core::threads::check_n_threads("n_threads", p.n_threads)
}

impl_params!(GradientBoostedTrees {
    objective: "binary:logistic | reg:squarederror | multi:softmax | reg:absoluteerror | reg:pseudohubererror | reg:quantileerror | count:poisson | reg:tweedie | reg:gamma.",
    huber_slope: "reg:pseudohubererror's slope (> 0).",
    quantile_alpha: "reg:quantileerror's quantiles, each in [0, 1] (one output per alpha).",
    max_delta_step: "Largest leaf step before eta (>= 0, 0 = none; unset = 0.7 for count:poisson, else 0).",
    tweedie_variance_power: "reg:tweedie's variance power, in [1, 2).",
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
    monotone_constraints: "Per-feature monotone constraints, XGBoost's syntax: \"(1,0,-1)\" or {\"name\": 1} (empty = none).",
    interaction_constraints: "Allowed feature interaction sets, XGBoost's syntax: \"[[0,1],[2,3,4]]\" or by name (empty = none).",
    seed: "Seed for row and column sampling.",
    n_threads: "Threads (0 = the current rayon pool; see ml_core::threads).",
    bin_layout: "auto | fast | compact: how the training bins are held in memory (same model).",
    eval_metric: "auc | logloss | rmse | mlogloss | error | mae | mphe | quantile | poisson-nloglik | tweedie-nloglik | gamma-nloglik | gamma-deviance (unset = objective default).",
    early_stopping_rounds: "Stop after this many rounds without improvement on the evaluation set.",
    features_col: "Input vector column.",
    label_col: "Label column.",
    weight_col: "Optional sample weight column.",
    validation_indicator_col: "Optional boolean column: rows marked true are the evaluation set (Spark's validationIndicatorCol).",
    base_margin_col: "Optional column of per-row starting margins (XGBoost's base_margin).",
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

/// Writes `with_*` builders, each setting one public field.
macro_rules! builders {
    ($($with:ident => $field:ident : $ty:ty),* $(,)?) => {
        impl GradientBoostedTrees {
            $(
                #[doc = concat!("Sets [`GradientBoostedTrees::", stringify!($field), "`].")]
                pub fn $with(mut self, value: $ty) -> Self {
                    self.$field = value;
                    self
                }
            )*
        }
    };
}

builders!(
    with_objective => objective: Objective,
    with_huber_slope => huber_slope: f64,
    with_quantile_alpha => quantile_alpha: Vec<f64>,
    with_max_delta_step => max_delta_step: Option<f64>,
    with_tweedie_variance_power => tweedie_variance_power: f64,
    with_num_round => num_round: usize,
    with_eta => eta: f64,
    with_max_depth => max_depth: usize,
    with_max_leaves => max_leaves: usize,
    with_grow_policy => grow_policy: GrowPolicy,
    with_max_bin => max_bin: usize,
    with_min_child_weight => min_child_weight: f64,
    with_lambda => lambda: f64,
    with_alpha => alpha: f64,
    with_gamma => gamma: f64,
    with_subsample => subsample: f64,
    with_colsample_bytree => colsample_bytree: f64,
    with_scale_pos_weight => scale_pos_weight: f64,
    with_base_score => base_score: Option<f64>,
    with_num_class => num_class: usize,
    with_max_cat_to_onehot => max_cat_to_onehot: usize,
    with_monotone_constraints => monotone_constraints: String,
    with_interaction_constraints => interaction_constraints: String,
    with_seed => seed: u64,
    with_n_threads => n_threads: usize,
    with_bin_layout => bin_layout: BinLayout,
    with_eval_metric => eval_metric: Option<Metric>,
    with_early_stopping_rounds => early_stopping_rounds: Option<usize>,
    with_features_col => features_col: String,
    with_label_col => label_col: String,
    with_weight_col => weight_col: Option<String>,
    with_validation_indicator_col => validation_indicator_col: Option<String>,
    with_base_margin_col => base_margin_col: Option<String>,
    with_raw_prediction_col => raw_prediction_col: String,
    with_probability_col => probability_col: String,
    with_prediction_col => prediction_col: String,
);

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

    /// Continues training from `model` (XGBoost's `xgb_model` argument): the new model is
    /// `model`'s trees followed by `num_round` more rounds, starting from `model`'s base
    /// score and margins. `model` may be one of ours or one imported from XGBoost
    /// ([`crate::xgboost`]); it must have this objective, the training data's number of
    /// features and the same number of outputs. With the same data and parameters, training
    /// `a` rounds and then `b` more gives the same model, byte for byte, as `a + b` rounds at
    /// once (row and column sampling continue from round `a`).
    pub fn with_xgb_model(mut self, model: GradientBoostedTreesModel) -> Self {
        self.xgb_model = Some(Arc::new(model));
        self
    }

    /// Trains on the gradients and hessians of a loss of your own instead of
    /// `objective`'s (see [`CustomObjective`]). `objective` still says how the model's
    /// margins become predictions (`reg:squarederror`: the margin itself), the number of
    /// outputs and, unless `base_score` is set, how the base score is estimated.
    pub fn with_custom_objective(mut self, objective: impl CustomObjective + 'static) -> Self {
        self.custom_objective = Some(CustomObjectiveRef(Arc::new(objective)));
        self
    }

    /// The model training continues from, if one was given.
    pub(crate) fn xgb_model(&self) -> Option<&GradientBoostedTreesModel> {
        self.xgb_model.as_deref()
    }

    /// The custom objective, if one was given.
    pub(crate) fn custom_objective(&self) -> Option<&dyn CustomObjective> {
        self.custom_objective.as_ref().map(|c| &*c.0)
    }

    /// The losses' parameters.
    pub(crate) fn loss_params(&self) -> LossParams {
        LossParams {
            huber_slope: self.huber_slope,
            quantile_alpha: self.quantile_alpha.clone(),
            max_delta_step: self.max_delta_step.unwrap_or(0.7),
            tweedie_variance_power: self.tweedie_variance_power,
        }
    }

    /// The evaluation set, if one was given.
    pub(crate) fn eval_set(&self) -> Option<&Dataset> {
        self.eval_set.as_ref()
    }

    /// The per-round callback, if one was given.
    pub(crate) fn callback(&self) -> Option<&RoundCallback> {
        self.callback.as_ref()
    }

    /// Outputs per row: the number of classes for `multi:softmax`, of alphas for
    /// `reg:quantileerror`, else 1.
    pub(crate) fn num_outputs(&self) -> usize {
        match self.objective {
            Objective::MultiSoftmax => self.num_class,
            Objective::QuantileError => self.quantile_alpha.len().max(1),
            _ => 1,
        }
    }

    /// The shape parameters each tree is grown with.
    pub(crate) fn tree_params(&self) -> TreeParams {
        TreeParams {
            max_depth: self.max_depth,
            max_leaves: self.max_leaves,
            grow_policy: self.grow_policy,
            min_child_weight: self.min_child_weight,
            lambda: self.lambda,
            alpha: self.alpha,
            gamma: self.gamma,
            eta: self.eta,
            max_cat_to_onehot: self.max_cat_to_onehot,
            max_delta_step: self.max_delta_step.unwrap_or(
                if self.objective == Objective::Poisson {
                    0.7
                } else {
                    0.0
                },
            ),
        }
    }

    /// The fitted model's parameters (its input and output columns).
    pub(crate) fn model_params(&self) -> ModelParams {
        ModelParams {
            features_col: self.features_col.clone(),
            raw_prediction_col: self.raw_prediction_col.clone(),
            probability_col: self.probability_col.clone(),
            prediction_col: self.prediction_col.clone(),
            contrib_prediction_col: None,
            base_margin_col: self.base_margin_col.clone(),
        }
    }
}

/// The tree-shape parameters one tree is grown with.
#[derive(Debug, Clone)]
pub(crate) struct TreeParams {
    pub max_depth: usize,
    pub max_leaves: usize,
    pub grow_policy: GrowPolicy,
    pub min_child_weight: f64,
    pub lambda: f64,
    pub alpha: f64,
    pub gamma: f64,
    pub eta: f64,
    pub max_cat_to_onehot: usize,
    /// Leaf weights clipped to this magnitude (0 = no limit).
    pub max_delta_step: f64,
}

/// The parameters of a fitted [`GradientBoostedTreesModel`](crate::GradientBoostedTreesModel):
/// its input and output columns. Kept apart from the trees, so setting one by name does not
/// copy the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelParams {
    /// Input vector column.
    pub features_col: String,
    /// Output margin column.
    pub raw_prediction_col: String,
    /// Output probability column.
    pub probability_col: String,
    /// Output prediction column.
    pub prediction_col: String,
    /// Output column of the rows' TreeSHAP contributions (xgboost4j-spark's
    /// `contribPredictionCol`): a vector of `num_class * (num_features + 1)` values per row,
    /// for each class one per feature and then the bias, summing to the class's margin (see
    /// [`GradientBoostedTreesModel::predict_contributions`](crate::GradientBoostedTreesModel::predict_contributions)).
    /// Unset by default: no column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contrib_prediction_col: Option<String>,
    /// Column of per-row starting margins (XGBoost's `base_margin`): when set and the data
    /// has it, each row's margins start from it instead of the base score. Unset by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_margin_col: Option<String>,
}

impl Default for ModelParams {
    fn default() -> Self {
        ModelParams {
            features_col: "features".into(),
            raw_prediction_col: "rawPrediction".into(),
            probability_col: "probability".into(),
            prediction_col: "prediction".into(),
            contrib_prediction_col: None,
            base_margin_col: None,
        }
    }
}

impl_params!(ModelParams {
    features_col: "Input vector column.",
    raw_prediction_col: "Output margin column.",
    probability_col: "Output probability column.",
    prediction_col: "Output prediction column.",
    contrib_prediction_col: "Output column of the TreeSHAP contributions (unset: none).",
    base_margin_col: "Column of per-row starting margins (unset: the base score).",
});

#[cfg(test)]
mod tests {
    use super::*;
    use ml_core::Params;

    #[test]
    fn options_are_set_by_name_and_unknown_names_are_errors_naming_the_parameter() {
        let mut gbt = GradientBoostedTrees::default();
        gbt.set_param("objective", "reg:squarederror".into())
            .unwrap();
        assert_eq!(gbt.objective, Objective::SquaredError);
        assert_eq!(
            gbt.get_param("objective").unwrap(),
            ParamValue::Str("reg:squarederror".into())
        );
        gbt.set_param("growPolicy", "lossguide".into()).unwrap();
        assert_eq!(gbt.grow_policy, GrowPolicy::Lossguide);
        gbt.set_param("eval_metric", "auc".into()).unwrap();
        assert_eq!(gbt.eval_metric, Some(Metric::Auc));
        gbt.set_param("eval_metric", ParamValue::None).unwrap();
        assert_eq!(gbt.eval_metric, None);
        // Before this change an unknown objective became binary:logistic.
        let e = gbt
            .set_param("objective", "binary:logitraw".into())
            .unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("'objective'") && msg.contains("binary:logitraw"),
            "{msg}"
        );
        assert!(
            msg.contains("binary:logistic, reg:squarederror, multi:softmax, reg:absoluteerror"),
            "{msg}"
        );
        assert_eq!(gbt.objective, Objective::SquaredError, "unchanged");
        let msg = gbt
            .set_param("grow_policy", "levelwise".into())
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("'grow_policy'") && msg.contains("depthwise, lossguide"),
            "{msg}"
        );
        let msg = gbt
            .set_param("objective", ParamValue::Int(1))
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("'objective'") && msg.contains("expected a string"),
            "{msg}"
        );
    }

    #[test]
    fn the_estimator_persists_options_by_their_xgboost_names() {
        let gbt = GradientBoostedTrees::new()
            .with_objective(Objective::MultiSoftmax)
            .with_num_class(3)
            .with_grow_policy(GrowPolicy::Lossguide)
            .with_eval_metric(Some(Metric::Error));
        let json = serde_json::to_value(&gbt).unwrap();
        assert_eq!(json["objective"], "multi:softmax");
        assert_eq!(json["grow_policy"], "lossguide");
        assert_eq!(json["eval_metric"], "error");
        let back: GradientBoostedTrees = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(back.objective, Objective::MultiSoftmax);
        assert_eq!(back.grow_policy, GrowPolicy::Lossguide);
        let mut bad = json;
        bad["objective"] = "rank:pairwise".into();
        let e = serde_json::from_value::<GradientBoostedTrees>(bad).unwrap_err();
        assert!(e.to_string().contains("rank:pairwise"), "{e}");
    }
}
