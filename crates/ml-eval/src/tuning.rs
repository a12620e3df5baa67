//! Model selection: [`ParamGridBuilder`] (parameter maps by name), [`CrossValidator`] (k-fold)
//! and [`TrainValidationSplit`] (one split), as Spark's `ml.tuning`.
//!
//! Both tuners take any [`Estimator`] (a single stage or a whole [`ml_core::Pipeline`], whose
//! parameters are addressed `stage.param`) or a boxed [`DynEstimator`], an [`Evaluator`] and a
//! list of [`ParamMap`]s (a grid, or drawn by [`crate::RandomSearch`]). For each split they fit
//! every map through the estimator's [`Estimator::fit_multiple`], evaluate each model on the
//! held-out rows, average the metric per map, pick the best map (the largest metric, or the
//! smallest when the evaluator says smaller is better: rmse, mse, mae, logLoss; ties go to the
//! first map), and refit the estimator with the best map on all the data.
//!
//! ## Work shared between maps
//! `fit_multiple` gives each map the model of its own `fit`, bit for bit, but shares what the
//! maps have in common: a pipeline fits the stages that no map changes once per split, and
//! boosted trees (ml-tree) bin the split's rows once and grow the maps that differ only in the
//! number of rounds in one run, cutting the shorter models from the longer one. So a grid over
//! `max_depth x eta x num_round` costs one binning per split and one boosting run per
//! `(max_depth, eta)`.
//!
//! ## Folds
//! Row `i` goes to fold `floor(u * k)` where `u = unit_uniform(seed, i)`
//! ([`ml_core::dataset::unit_uniform`]): Spark's `kFold` draws one uniform per row the same way
//! (through `randomSplit`-style Bernoulli cells), so fold sizes are about `n / k`, and the
//! assignment depends on the seed and row order only. [`TrainValidationSplit`] puts row `i` in
//! the training part when `u < train_ratio`.
//! [`CrossValidator::with_fold_col`] takes the folds from a column (Spark's `foldCol`),
//! [`CrossValidator::with_stratify_col`] keeps each class's share in every fold (scikit-learn's
//! `StratifiedKFold`) and [`CrossValidator::with_group_col`] keeps a group's rows in one fold
//! (`GroupKFold`); see [`crate::folds`].
//!
//! ## Threads
//! With `parallelism = 1` (the default) the splits are fitted one after another on the calling
//! thread, and each fit may use all the threads it likes (a tree learner's own `n_threads`, or
//! rayon's global pool). With `parallelism = p > 1`, `p` splits are fitted at a time in a rayon
//! pool of `p` threads; work an estimator hands to rayon from inside that pool stays inside it.
//! An estimator that builds its *own* pool of `n_threads` threads would run `p x n_threads`
//! threads; ml-tree's boosting uses the pool it runs in when that pool has `n_threads` threads
//! (`n_threads = 0`, the default, means the current pool's). On a 2-core machine,
//! `parallelism = 1` with the trees using both cores is usually the better choice. Results are
//! gathered in (split, map) order and reduced in split order, so metrics are identical whatever
//! `parallelism` is (provided the estimator itself is deterministic for a seed).

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use arrow::array::Array;
use arrow::datatypes::Schema;
use ml_core::dataset::unit_uniform;
use ml_core::params::{normalize_param_name, unknown_param, ParamSpec};
use ml_core::{
    impl_params, Dataset, DynEstimator, Estimator, MlError, ParamValue, Params, Result, Transformer,
};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::evaluators::Evaluator;
use crate::folds;

/// An ordered list of parameter settings `name -> value` (names as the estimator accepts
/// them: `max_depth`, or `stage.max_depth` inside a pipeline).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ParamMap(Vec<(String, ParamValue)>);

impl ParamMap {
    /// An empty map.
    pub fn new() -> Self {
        ParamMap(Vec::new())
    }

    /// Sets `name` to `value`, replacing an earlier value of the same name in place.
    pub fn put(mut self, name: &str, value: impl Into<ParamValue>) -> Self {
        self.insert(name, value.into());
        self
    }

    fn insert(&mut self, name: &str, value: ParamValue) {
        match self.0.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = value,
            None => self.0.push((name.to_string(), value)),
        }
    }

    /// The value set for `name`, if any.
    pub fn get(&self, name: &str) -> Option<&ParamValue> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// The settings in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &ParamValue)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v))
    }

    /// Number of settings.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when nothing is set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Sets every parameter on `target`, in order.
    pub fn apply(&self, target: &mut dyn Params) -> Result<()> {
        for (n, v) in &self.0 {
            target.set_param(n, v.clone())?;
        }
        Ok(())
    }
}

impl fmt::Display for ParamMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{")?;
        for (i, (n, v)) in self.0.iter().enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            write!(f, "{n}: {v}")?;
        }
        write!(f, "}}")
    }
}

/// Builds the cartesian product of parameter values, as Spark's `ParamGridBuilder`.
///
/// Order is fixed: the first parameter added varies fastest (Spark's `build` loop), and each
/// map lists the `base_on` settings first, then the grid parameters in the order added. Adding a
/// parameter again replaces its values.
///
/// ```
/// use ml_eval::ParamGridBuilder;
/// let maps = ParamGridBuilder::new()
///     .add_grid("gbt.max_depth", [4i64, 7])
///     .add_grid("gbt.step_size", [0.1, 0.6])
///     .build();
/// assert_eq!(maps.len(), 4);
/// assert_eq!(maps[1].to_string(), "{gbt.max_depth: 7, gbt.step_size: 0.1}");
/// ```
#[derive(Debug, Clone, Default)]
pub struct ParamGridBuilder {
    base: ParamMap,
    grid: Vec<(String, Vec<ParamValue>)>,
}

impl ParamGridBuilder {
    /// An empty grid (builds one empty map).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a parameter with the values to try.
    pub fn add_grid<V: Into<ParamValue>>(
        mut self,
        name: &str,
        values: impl IntoIterator<Item = V>,
    ) -> Self {
        let values: Vec<ParamValue> = values.into_iter().map(Into::into).collect();
        match self.grid.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = values,
            None => self.grid.push((name.to_string(), values)),
        }
        self
    }

    /// Fixes a parameter to one value in every map (Spark's `baseOn`).
    pub fn base_on(mut self, name: &str, value: impl Into<ParamValue>) -> Self {
        self.base.insert(name, value.into());
        self
    }

    /// Every combination: the product of the value counts (zero if some list is empty).
    pub fn build(&self) -> Vec<ParamMap> {
        let mut maps = vec![self.base.clone()];
        for (name, values) in &self.grid {
            // New maps: for each value, a copy of every map so far (first-added fastest).
            let mut next = Vec::with_capacity(maps.len() * values.len());
            for v in values {
                for m in &maps {
                    let mut m = m.clone();
                    m.insert(name, v.clone());
                    next.push(m);
                }
            }
            maps = next;
        }
        maps
    }
}

/// What a progress callback is told after each fitted and evaluated (fold, map), and after the
/// final refit.
#[derive(Debug, Clone, PartialEq)]
pub struct FitProgress {
    /// The fold (0-based), or `None` for the final refit of the best map on all the data.
    /// A [`TrainValidationSplit`] reports fold 0.
    pub fold: Option<usize>,
    /// Index of the parameter map.
    pub map_index: usize,
    /// The metric on the held-out rows (`None` for the refit).
    pub metric: Option<f64>,
    /// Fits finished so far, this one included (in completion order).
    pub done: usize,
    /// Fits in all: folds x maps, plus one for the refit.
    pub total: usize,
}

/// A progress callback; called from worker threads when `parallelism > 1`.
pub type ProgressFn = Arc<dyn Fn(&FitProgress) + Send + Sync>;

/// Spark's default number of folds.
pub const DEFAULT_NUM_FOLDS: usize = 3;
/// Default seed of the fold assignment and the train/validation split.
pub const DEFAULT_SEED: u64 = 42;

#[derive(Debug, Clone, PartialEq)]
struct CvSettings {
    num_folds: usize,
    seed: u64,
    parallelism: usize,
    collect_sub_models: bool,
    fold_col: Option<String>,
    stratify_col: Option<String>,
    group_col: Option<String>,
}

impl Default for CvSettings {
    fn default() -> Self {
        CvSettings {
            num_folds: DEFAULT_NUM_FOLDS,
            seed: DEFAULT_SEED,
            parallelism: 1,
            collect_sub_models: false,
            fold_col: None,
            stratify_col: None,
            group_col: None,
        }
    }
}

/// `parallelism`: 1 up to [`ml_core::threads::MAX_THREADS`].
fn check_parallelism(n: usize) -> Result<()> {
    let max = ml_core::threads::MAX_THREADS;
    if !(1..=max).contains(&n) {
        return Err(MlError::param(
            "parallelism",
            format!("must be in [1, {max}], got {n}"),
        ));
    }
    Ok(())
}

fn validate_cv(s: &CvSettings) -> Result<()> {
    if s.num_folds < 2 {
        return Err(MlError::param(
            "num_folds",
            format!("must be at least 2, got {}", s.num_folds),
        ));
    }
    check_parallelism(s.parallelism)?;
    let set: Vec<&str> = [
        ("fold_col", &s.fold_col),
        ("stratify_col", &s.stratify_col),
        ("group_col", &s.group_col),
    ]
    .iter()
    .filter(|(_, v)| v.is_some())
    .map(|(n, _)| *n)
    .collect();
    if set.len() > 1 {
        return Err(MlError::param(
            set[1],
            format!(
                "{} and {} are both set; folds come from one of them",
                set[0], set[1]
            ),
        ));
    }
    Ok(())
}

impl_params!(CvSettings {
    num_folds: "Number of folds, >= 2 (default 3).",
    seed: "Seed of the fold assignment.",
    parallelism: "Number of folds fitted at once, >= 1 (default 1).",
    collect_sub_models: "Keep every fold's model (default false).",
    fold_col: "Integer column giving each row's fold in [0, num_folds) (Spark's foldCol; unset = random folds).",
    stratify_col: "Column whose classes every fold keeps in proportion (stratified k-fold; unset = random folds).",
    group_col: "Column whose groups never straddle folds (group k-fold; unset = random folds).",
} validate = validate_cv);

#[derive(Debug, Clone, PartialEq)]
struct TvsSettings {
    train_ratio: f64,
    seed: u64,
    parallelism: usize,
    collect_sub_models: bool,
}

impl Default for TvsSettings {
    fn default() -> Self {
        TvsSettings {
            train_ratio: 0.75,
            seed: DEFAULT_SEED,
            parallelism: 1,
            collect_sub_models: false,
        }
    }
}

fn validate_tvs(s: &TvsSettings) -> Result<()> {
    if !(s.train_ratio > 0.0 && s.train_ratio < 1.0) {
        return Err(MlError::param(
            "train_ratio",
            format!("must be in (0, 1), got {}", s.train_ratio),
        ));
    }
    check_parallelism(s.parallelism)?;
    Ok(())
}

impl_params!(TvsSettings {
    train_ratio: "Share of rows used for training, in (0, 1) (default 0.75).",
    seed: "Seed of the split.",
    parallelism: "Number of fits run at once, >= 1 (default 1).",
    collect_sub_models: "Keep every map's model (default false).",
} validate = validate_tvs);

/// The parts shared by both tuners.
#[derive(Clone)]
struct Tuner {
    estimator: Box<dyn DynEstimator>,
    evaluator: Arc<dyn Evaluator>,
    maps: Vec<ParamMap>,
    progress: Option<ProgressFn>,
}

impl fmt::Debug for Tuner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tuner")
            .field("estimator", &self.estimator)
            .field("evaluator", &self.evaluator)
            .field("estimator_param_maps", &self.maps)
            .field("progress", &self.progress.as_ref().map(|_| "callback"))
            .finish()
    }
}

/// A fitted (split, map): its metric and, when sub-models are kept, its model.
type TaskResult = Result<(f64, Option<Box<dyn Transformer>>)>;

/// Per (split, map): metric and optional model.
struct Outcome {
    /// [split][map]
    metrics: Vec<Vec<f64>>,
    sub_models: Option<Vec<Vec<Box<dyn Transformer>>>>,
    best_index: usize,
    best_model: Box<dyn Transformer>,
}

impl Tuner {
    /// One configured estimator per map; errors name the map.
    fn estimators(&self) -> Result<Vec<Box<dyn DynEstimator>>> {
        if self.maps.is_empty() {
            return Err(MlError::param(
                "estimator_param_maps",
                "no parameter maps; build at least one (an empty ParamMap tunes nothing)",
            ));
        }
        self.maps
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let mut e = self.estimator.clone_dyn();
                m.apply(e.as_mut()).map_err(|err| match err {
                    MlError::InvalidParam { param, message } => MlError::InvalidParam {
                        param,
                        message: format!("in estimator_param_maps[{i}] ({m}): {message}"),
                    },
                    other => other,
                })?;
                e.validate()?;
                Ok(e)
            })
            .collect()
    }

    /// Fits and evaluates every (split, map), picks the best map by mean metric and refits it.
    fn run(
        &self,
        data: &Dataset,
        splits: &[(Dataset, Dataset)],
        parallelism: usize,
        collect: bool,
    ) -> Result<Outcome> {
        let estimators = self.estimators()?;
        let (metrics, models) = self.evaluate(&estimators, data, splits, parallelism, collect)?;
        let avg = mean_per_map(&metrics);
        let best_index = best_of(&avg, self.evaluator.is_larger_better());
        let best_model = estimators[best_index].fit_dyn(data)?;
        if let Some(cb) = &self.progress {
            let total = splits.len() * self.maps.len() + 1;
            cb(&FitProgress {
                fold: None,
                map_index: best_index,
                metric: None,
                done: total,
                total,
            });
        }
        Ok(Outcome {
            metrics,
            sub_models: collect.then_some(models),
            best_index,
            best_model,
        })
    }

    /// Fits and evaluates every (split, map): the metrics as `[split][map]` and, when
    /// `collect`, the models.
    #[allow(clippy::type_complexity)]
    fn evaluate(
        &self,
        estimators: &[Box<dyn DynEstimator>],
        data: &Dataset,
        splits: &[(Dataset, Dataset)],
        parallelism: usize,
        collect: bool,
    ) -> Result<(Vec<Vec<f64>>, Vec<Vec<Box<dyn Transformer>>>)> {
        // Fail fast on column errors, before any fitting.
        self.estimator.transform_schema_dyn(&data.schema())?;
        let nmaps = estimators.len();
        let tasks: Vec<(usize, usize)> = (0..splits.len())
            .flat_map(|f| (0..nmaps).map(move |m| (f, m)))
            .collect();
        let total = tasks.len() + 1;
        let done = AtomicUsize::new(0);
        let report = |fold: Option<usize>, map_index: usize, metric: Option<f64>| {
            let d = done.fetch_add(1, Ordering::SeqCst) + 1;
            if let Some(cb) = &self.progress {
                cb(&FitProgress {
                    fold,
                    map_index,
                    metric,
                    done: d,
                    total,
                });
            }
        };
        // Per split, every map in one `fit_multiple`: the estimator shares what the maps
        // have in common (a pipeline's unchanged stages, boosted trees' bins and rounds),
        // with the same models as separate fits.
        let variants: Vec<&dyn DynEstimator> = estimators.iter().map(|e| e.as_ref()).collect();
        let run_split = |f: usize| -> Result<Vec<TaskResult>> {
            let (train, valid) = &splits[f];
            let models = self.estimator.fit_multiple_dyn(train, &variants)?;
            Ok(models
                .into_iter()
                .enumerate()
                .map(|(m, model)| {
                    let out = model.transform(valid)?;
                    let metric = self.evaluator.evaluate(&out)?;
                    report(Some(f), m, Some(metric));
                    Ok((metric, collect.then_some(model)))
                })
                .collect())
        };
        let per_split: Vec<Result<Vec<TaskResult>>> = if parallelism <= 1 {
            (0..splits.len()).map(run_split).collect()
        } else {
            // The workspace's one pool helper: the current pool when it has `parallelism`
            // threads, else a kept pool of that size.
            ml_core::threads::install(parallelism, || {
                (0..splits.len()).into_par_iter().map(run_split).collect()
            })?
        };
        let mut results: Vec<TaskResult> = Vec::with_capacity(tasks.len());
        for r in per_split {
            results.extend(r?);
        }
        let mut metrics = vec![vec![0.0; nmaps]; splits.len()];
        let mut models: Vec<Vec<Box<dyn Transformer>>> =
            (0..splits.len()).map(|_| Vec::new()).collect();
        for ((f, m), r) in tasks.iter().zip(results) {
            let (metric, model) = r?;
            if metric.is_nan() {
                return Err(MlError::data(format!(
                    "the {} metric is NaN for estimator_param_maps[{m}] ({}) on fold {f}",
                    self.evaluator.metric(),
                    self.maps[*m]
                )));
            }
            metrics[*f][*m] = metric;
            if let Some(model) = model {
                models[*f].push(model);
            }
        }
        Ok((metrics, models))
    }
}

/// Mean over splits, summed in split order.
fn mean_per_map(metrics: &[Vec<f64>]) -> Vec<f64> {
    let nmaps = metrics.first().map_or(0, Vec::len);
    (0..nmaps)
        .map(|m| metrics.iter().map(|row| row[m]).sum::<f64>() / metrics.len() as f64)
        .collect()
}

/// Population standard deviation over splits (Spark's `stdMetrics`).
fn std_per_map(metrics: &[Vec<f64>], mean: &[f64]) -> Vec<f64> {
    mean.iter()
        .enumerate()
        .map(|(m, mu)| {
            let v =
                metrics.iter().map(|row| (row[m] - mu).powi(2)).sum::<f64>() / metrics.len() as f64;
            v.sqrt()
        })
        .collect()
}

/// Index of the best value; the first one on ties.
fn best_of(values: &[f64], larger_is_better: bool) -> usize {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate().skip(1) {
        let better = if larger_is_better {
            v > values[best]
        } else {
            v < values[best]
        };
        if better {
            best = i;
        }
    }
    best
}

fn delegate_params(settings: &dyn Params, name: &str) -> Option<String> {
    let n = normalize_param_name(name);
    settings
        .param_specs()
        .iter()
        .any(|s| s.name == n)
        .then_some(n)
}

macro_rules! tuner_common {
    ($ty:ident) => {
        impl $ty {
            /// Sets the parameter maps to try (from [`ParamGridBuilder::build`]).
            pub fn with_estimator_param_maps(mut self, maps: Vec<ParamMap>) -> Self {
                self.tuner.maps = maps;
                self
            }
            /// Sets the seed.
            pub fn with_seed(mut self, seed: u64) -> Self {
                self.settings.seed = seed;
                self
            }
            /// Sets how many fits run at once (see the [module docs](crate::tuning)).
            pub fn with_parallelism(mut self, n: usize) -> Self {
                self.settings.parallelism = n;
                self
            }
            /// Keeps every fitted model (sub-models) in the result.
            pub fn with_collect_sub_models(mut self, keep: bool) -> Self {
                self.settings.collect_sub_models = keep;
                self
            }
            /// Calls `f` after each fitted (fold, map) and after the final refit.
            pub fn on_progress(mut self, f: impl Fn(&FitProgress) + Send + Sync + 'static) -> Self {
                self.tuner.progress = Some(Arc::new(f));
                self
            }
            /// The parameter maps.
            pub fn get_estimator_param_maps(&self) -> &[ParamMap] {
                &self.tuner.maps
            }
            /// The evaluator.
            pub fn evaluator(&self) -> &dyn Evaluator {
                self.tuner.evaluator.as_ref()
            }
        }

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($ty))
                    .field("settings", &self.settings)
                    .field("tuner", &self.tuner)
                    .finish()
            }
        }

        impl Params for $ty {
            fn param_specs(&self) -> Vec<ParamSpec> {
                self.settings.param_specs()
            }
            fn get_param(&self, name: &str) -> Result<ParamValue> {
                self.settings.get_param(name)
            }
            fn set_param(&mut self, name: &str, value: ParamValue) -> Result<()> {
                match delegate_params(&self.settings, name) {
                    Some(n) => self.settings.set_param(&n, value),
                    None => Err(unknown_param(name, &self.param_specs())),
                }
            }
            fn validate(&self) -> Result<()> {
                self.settings.validate()
            }
        }
    };
}

/// k-fold cross-validation over parameter maps, as Spark's `CrossValidator` (see the
/// [module docs](crate::tuning) for folds and threads).
///
/// ```
/// use std::sync::Arc;
/// use arrow::array::{ArrayRef, Float64Array};
/// use ml_core::feature::VectorAssembler;
/// use ml_core::linear::LogisticRegression;
/// use ml_core::{Dataset, Estimator, Pipeline};
/// use ml_eval::{BinaryClassificationEvaluator, BinaryMetric, CrossValidator, ParamGridBuilder};
///
/// // Class 1 above x = 3, with every fifth label flipped (so the classes overlap).
/// let x: Vec<f64> = (0..60).map(|i| i as f64 / 10.0).collect();
/// let label: Vec<f64> = (0..60).map(|i| ((i >= 30) != (i % 5 == 0)) as u8 as f64).collect();
/// let data = Dataset::from_columns(vec![
///     ("x", Arc::new(Float64Array::from(x)) as ArrayRef),
///     ("label", Arc::new(Float64Array::from(label)) as ArrayRef),
/// ]).unwrap();
/// let pipeline = Pipeline::new()
///     .transformer("assemble", VectorAssembler::new(&["x"], "features"))
///     .estimator("lr", LogisticRegression::new());
/// // A heavy penalty flattens the probabilities: the log loss should pick reg_param = 0.
/// let grid = ParamGridBuilder::new().add_grid("lr.reg_param", [0.0, 1.0]).build();
/// let evaluator = BinaryClassificationEvaluator::new().with_metric_name(BinaryMetric::LogLoss);
/// let cv = CrossValidator::new(pipeline, evaluator)
///     .with_estimator_param_maps(grid)
///     .with_num_folds(3)
///     .with_seed(7);
/// let model = cv.fit(&data).unwrap();
/// assert_eq!(model.best_index(), 0);
/// assert!(model.avg_metrics()[0] < model.avg_metrics()[1]);
/// ```
#[derive(Clone)]
pub struct CrossValidator {
    tuner: Tuner,
    settings: CvSettings,
}

tuner_common!(CrossValidator);

impl CrossValidator {
    /// A cross-validator of `estimator` judged by `evaluator`, with Spark's defaults (3 folds,
    /// parallelism 1, no sub-models) and one empty parameter map.
    pub fn new(estimator: impl Estimator, evaluator: impl Evaluator + 'static) -> Self {
        Self::from_dyn(Box::new(estimator), Arc::new(evaluator))
    }

    /// The same from a boxed estimator and a shared evaluator.
    pub fn from_dyn(estimator: Box<dyn DynEstimator>, evaluator: Arc<dyn Evaluator>) -> Self {
        CrossValidator {
            tuner: Tuner {
                estimator,
                evaluator,
                maps: vec![ParamMap::new()],
                progress: None,
            },
            settings: CvSettings::default(),
        }
    }

    /// Sets the number of folds (>= 2).
    pub fn with_num_folds(mut self, k: usize) -> Self {
        self.settings.num_folds = k;
        self
    }

    /// Folds from an integer column of the data (Spark's `foldCol`): each row's fold number,
    /// in `[0, num_folds)`.
    pub fn with_fold_col(mut self, col: &str) -> Self {
        self.settings.fold_col = Some(col.to_string());
        self
    }

    /// Stratified folds (scikit-learn's `StratifiedKFold`, shuffled by the seed): each fold
    /// holds every class of `col` (usually the label) in proportion, within one row.
    pub fn with_stratify_col(mut self, col: &str) -> Self {
        self.settings.stratify_col = Some(col.to_string());
        self
    }

    /// Group folds (scikit-learn's `GroupKFold`): the rows of one value of `col` (a customer,
    /// a session) are never split between training and validation.
    pub fn with_group_col(mut self, col: &str) -> Self {
        self.settings.group_col = Some(col.to_string());
        self
    }

    /// The fold of each row for random folds: `floor(unit_uniform(seed, row) * k)`
    /// ([`folds::random_folds`]).
    pub fn fold_of_rows(n: usize, num_folds: usize, seed: u64) -> Vec<usize> {
        folds::random_folds(n, num_folds, seed)
    }

    /// The fold of each row of `data` under the current settings: from `fold_col`,
    /// stratified by `stratify_col`, grouped by `group_col`, or random.
    pub fn folds_of(&self, data: &Dataset) -> Result<Vec<usize>> {
        self.settings.validate()?;
        let s = &self.settings;
        let k = s.num_folds;
        if let Some(col) = &s.fold_col {
            let values = data.numeric_column(col)?;
            return (0..values.len())
                .map(|i| {
                    let v = values.value(i);
                    if values.is_null(i) || v.fract() != 0.0 || !(0.0..k as f64).contains(&v) {
                        return Err(MlError::value(
                            col,
                            i,
                            format!("fold {v} is not an integer in [0, {k})"),
                        ));
                    }
                    Ok(v as usize)
                })
                .collect();
        }
        if let Some(col) = &s.stratify_col {
            return Ok(folds::stratified_folds(
                &folds::column_keys(data, col)?,
                k,
                s.seed,
            ));
        }
        if let Some(col) = &s.group_col {
            return folds::group_folds(&folds::column_keys(data, col)?, k);
        }
        Ok(Self::fold_of_rows(data.num_rows(), k, s.seed))
    }

    /// The mean metric per map over the folds, without the refit (successive halving's
    /// rungs).
    pub(crate) fn avg_metrics_of(&self, data: &Dataset) -> Result<Vec<f64>> {
        let splits = self.splits(data)?;
        let estimators = self.tuner.estimators()?;
        let (metrics, _) =
            self.tuner
                .evaluate(&estimators, data, &splits, self.settings.parallelism, false)?;
        Ok(mean_per_map(&metrics))
    }

    /// (training, validation) rows of each fold.
    fn splits(&self, data: &Dataset) -> Result<Vec<(Dataset, Dataset)>> {
        self.settings.validate()?;
        let k = self.settings.num_folds;
        let folds = self.folds_of(data)?;
        let mut splits = Vec::with_capacity(k);
        for f in 0..k {
            let (valid, train): (Vec<usize>, Vec<usize>) =
                (0..data.num_rows()).partition(|&i| folds[i] == f);
            if valid.is_empty() || train.is_empty() {
                return Err(MlError::data(format!(
                    "fold {f} of {k} is empty: {} rows are too few for {k} folds",
                    data.num_rows()
                )));
            }
            splits.push((data.take(&train)?, data.take(&valid)?));
        }
        Ok(splits)
    }

    /// Runs the cross-validation and refits the best map on all of `data`.
    pub fn fit(&self, data: &Dataset) -> Result<CrossValidatorModel> {
        let splits = self.splits(data)?;
        let out = self.tuner.run(
            data,
            &splits,
            self.settings.parallelism,
            self.settings.collect_sub_models,
        )?;
        let avg = mean_per_map(&out.metrics);
        let std = std_per_map(&out.metrics, &avg);
        Ok(CrossValidatorModel {
            best_model: out.best_model,
            best_index: out.best_index,
            avg_metrics: avg,
            std_metrics: std,
            fold_metrics: out.metrics,
            param_maps: self.tuner.maps.clone(),
            metric_name: self.tuner.evaluator.metric().to_string(),
            larger_is_better: self.tuner.evaluator.is_larger_better(),
            sub_models: out.sub_models,
        })
    }
}

impl Estimator for CrossValidator {
    type Model = CrossValidatorModel;
    fn fit(&self, data: &Dataset) -> Result<CrossValidatorModel> {
        CrossValidator::fit(self, data)
    }
    fn transform_schema(&self, schema: &Schema) -> Result<Schema> {
        self.tuner.estimator.transform_schema_dyn(schema)
    }
}

/// The result of [`CrossValidator::fit`]: the best model refitted on all the data, and the
/// metrics of every map. As a [`Transformer`] it applies the best model; it saves and loads
/// through [`ml_core::persist`] (sub-models are not saved).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CrossValidatorModel {
    best_model: Box<dyn Transformer>,
    best_index: usize,
    avg_metrics: Vec<f64>,
    std_metrics: Vec<f64>,
    fold_metrics: Vec<Vec<f64>>,
    param_maps: Vec<ParamMap>,
    metric_name: String,
    larger_is_better: bool,
    #[serde(skip)]
    sub_models: Option<Vec<Vec<Box<dyn Transformer>>>>,
}

macro_rules! tuned_model_common {
    ($ty:ident, $tag:literal) => {
        impl $ty {
            /// The best map's model, refitted on all the data.
            pub fn best_model(&self) -> &dyn Transformer {
                self.best_model.as_ref()
            }
            /// The best model as its concrete type (`PipelineModel`, say).
            pub fn best_model_as<T: 'static>(&self) -> Option<&T> {
                self.best_model.as_any().downcast_ref::<T>()
            }
            /// Index of the best map in [`Self::param_maps`].
            pub fn best_index(&self) -> usize {
                self.best_index
            }
            /// The best parameter map.
            pub fn best_param_map(&self) -> &ParamMap {
                &self.param_maps[self.best_index]
            }
            /// The parameter maps tried, in order.
            pub fn param_maps(&self) -> &[ParamMap] {
                &self.param_maps
            }
            /// Name of the metric, and whether larger is better.
            pub fn metric(&self) -> (&str, bool) {
                (&self.metric_name, self.larger_is_better)
            }
        }

        impl Params for $ty {
            fn param_specs(&self) -> Vec<ParamSpec> {
                self.best_model.param_specs()
            }
            fn get_param(&self, name: &str) -> Result<ParamValue> {
                self.best_model.get_param(name)
            }
            fn set_param(&mut self, name: &str, value: ParamValue) -> Result<()> {
                self.best_model.set_param(name, value)
            }
        }

        #[typetag::serde(name = $tag)]
        impl Transformer for $ty {
            /// The best model's structure, and a best index and metrics that match the maps.
            fn validate_structure(&self) -> Result<()> {
                let n = self.param_maps.len();
                if self.best_index >= n {
                    return Err(MlError::data(format!(
                        "{}: best index {} but {n} parameter maps",
                        $tag, self.best_index
                    )));
                }
                self.check_metric_lengths(n)?;
                self.best_model
                    .validate_structure()
                    .map_err(|e| e.in_context(concat!($tag, " best model")))
            }

            fn transform(&self, data: &Dataset) -> Result<Dataset> {
                self.best_model.transform(data)
            }
            fn transform_schema(&self, schema: &Schema) -> Result<Schema> {
                self.best_model.transform_schema(schema)
            }
        }
    };
}

tuned_model_common!(CrossValidatorModel, "CrossValidatorModel");

impl CrossValidatorModel {
    /// One average, one deviation and, per fold, one metric for each of `n` maps.
    fn check_metric_lengths(&self, n: usize) -> Result<()> {
        if self.avg_metrics.len() != n
            || self.std_metrics.len() != n
            || self.fold_metrics.iter().any(|f| f.len() != n)
        {
            return Err(MlError::data(format!(
                "CrossValidatorModel: the metrics do not hold one value per parameter map ({n})"
            )));
        }
        Ok(())
    }
    /// Mean metric over folds, per map (Spark's `avgMetrics`).
    pub fn avg_metrics(&self) -> &[f64] {
        &self.avg_metrics
    }
    /// Population standard deviation of the metric over folds, per map (`stdMetrics`).
    pub fn std_metrics(&self) -> &[f64] {
        &self.std_metrics
    }
    /// The metric of every fold: `[fold][map]`.
    pub fn fold_metrics(&self) -> &[Vec<f64>] {
        &self.fold_metrics
    }
    /// The models of every (fold, map) as `[fold][map]`, when `collect_sub_models` was set.
    pub fn sub_models(&self) -> Option<&[Vec<Box<dyn Transformer>>]> {
        self.sub_models.as_deref()
    }
}

/// One train/validation split over parameter maps, as Spark's `TrainValidationSplit`
/// (`train_ratio` 0.75 by default; see the [module docs](crate::tuning)).
///
/// ```
/// use std::sync::Arc;
/// use arrow::array::{ArrayRef, Float64Array};
/// use ml_core::feature::VectorAssembler;
/// use ml_core::linear::LogisticRegression;
/// use ml_core::{Dataset, Pipeline};
/// use ml_eval::{BinaryClassificationEvaluator, BinaryMetric, ParamGridBuilder, TrainValidationSplit};
///
/// // Class 1 above x = 2, with every fifth label flipped (so the classes overlap).
/// let x: Vec<f64> = (0..40).map(|i| i as f64 / 10.0).collect();
/// let label: Vec<f64> = (0..40).map(|i| ((i >= 20) != (i % 5 == 0)) as u8 as f64).collect();
/// let data = Dataset::from_columns(vec![
///     ("x", Arc::new(Float64Array::from(x)) as ArrayRef),
///     ("label", Arc::new(Float64Array::from(label)) as ArrayRef),
/// ]).unwrap();
/// let pipeline = Pipeline::new()
///     .transformer("assemble", VectorAssembler::new(&["x"], "features"))
///     .estimator("lr", LogisticRegression::new());
/// let grid = ParamGridBuilder::new().add_grid("lr.reg_param", [1.0, 0.0]).build();
/// let evaluator = BinaryClassificationEvaluator::new().with_metric_name(BinaryMetric::LogLoss);
/// let tvs = TrainValidationSplit::new(pipeline, evaluator).with_estimator_param_maps(grid);
/// let model = tvs.fit(&data).unwrap();
/// assert_eq!(model.best_param_map().get("lr.reg_param"), Some(&0.0.into()));
/// let m = model.validation_metrics();
/// assert!(m[1] < m[0], "{m:?}");
/// ```
#[derive(Clone)]
pub struct TrainValidationSplit {
    tuner: Tuner,
    settings: TvsSettings,
}

tuner_common!(TrainValidationSplit);

impl TrainValidationSplit {
    /// A train/validation split tuner with Spark's defaults (train_ratio 0.75).
    pub fn new(estimator: impl Estimator, evaluator: impl Evaluator + 'static) -> Self {
        Self::from_dyn(Box::new(estimator), Arc::new(evaluator))
    }

    /// The same from a boxed estimator and a shared evaluator.
    pub fn from_dyn(estimator: Box<dyn DynEstimator>, evaluator: Arc<dyn Evaluator>) -> Self {
        TrainValidationSplit {
            tuner: Tuner {
                estimator,
                evaluator,
                maps: vec![ParamMap::new()],
                progress: None,
            },
            settings: TvsSettings::default(),
        }
    }

    /// Sets the share of rows used for training, in (0, 1).
    pub fn with_train_ratio(mut self, r: f64) -> Self {
        self.settings.train_ratio = r;
        self
    }

    /// Fits every map on the training part, evaluates on the rest, refits the best on all.
    pub fn fit(&self, data: &Dataset) -> Result<TrainValidationSplitModel> {
        self.settings.validate()?;
        let (train, valid): (Vec<usize>, Vec<usize>) = (0..data.num_rows())
            .partition(|&i| unit_uniform(self.settings.seed, i as u64) < self.settings.train_ratio);
        if train.is_empty() || valid.is_empty() {
            return Err(MlError::data(format!(
                "{} rows are too few to split with train_ratio {}: one part is empty",
                data.num_rows(),
                self.settings.train_ratio
            )));
        }
        let splits = [(data.take(&train)?, data.take(&valid)?)];
        let out = self.tuner.run(
            data,
            &splits,
            self.settings.parallelism,
            self.settings.collect_sub_models,
        )?;
        Ok(TrainValidationSplitModel {
            best_model: out.best_model,
            best_index: out.best_index,
            validation_metrics: out.metrics.into_iter().next().unwrap_or_default(),
            param_maps: self.tuner.maps.clone(),
            metric_name: self.tuner.evaluator.metric().to_string(),
            larger_is_better: self.tuner.evaluator.is_larger_better(),
            sub_models: out.sub_models.map(|mut s| s.pop().unwrap_or_default()),
        })
    }
}

impl Estimator for TrainValidationSplit {
    type Model = TrainValidationSplitModel;
    fn fit(&self, data: &Dataset) -> Result<TrainValidationSplitModel> {
        TrainValidationSplit::fit(self, data)
    }
    fn transform_schema(&self, schema: &Schema) -> Result<Schema> {
        self.tuner.estimator.transform_schema_dyn(schema)
    }
}

/// The result of [`TrainValidationSplit::fit`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainValidationSplitModel {
    best_model: Box<dyn Transformer>,
    best_index: usize,
    validation_metrics: Vec<f64>,
    param_maps: Vec<ParamMap>,
    metric_name: String,
    larger_is_better: bool,
    #[serde(skip)]
    sub_models: Option<Vec<Box<dyn Transformer>>>,
}

tuned_model_common!(TrainValidationSplitModel, "TrainValidationSplitModel");

impl TrainValidationSplitModel {
    /// One validation metric for each of `n` maps.
    fn check_metric_lengths(&self, n: usize) -> Result<()> {
        if self.validation_metrics.len() != n {
            return Err(MlError::data(format!(
                "TrainValidationSplitModel: {} validation metrics for {n} parameter maps",
                self.validation_metrics.len()
            )));
        }
        Ok(())
    }
    /// The metric of each map on the validation rows (Spark's `validationMetrics`).
    pub fn validation_metrics(&self) -> &[f64] {
        &self.validation_metrics
    }
    /// Every map's model, when `collect_sub_models` was set.
    pub fn sub_models(&self) -> Option<&[Box<dyn Transformer>]> {
        self.sub_models.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_is_the_cartesian_product_first_added_fastest() {
        let maps = ParamGridBuilder::new()
            .base_on("lr.max_iter", 10i64)
            .add_grid("a", [1i64, 2])
            .add_grid("b", ["x", "y", "z"])
            .add_grid("a", [1i64, 2, 3]) // replaces the values of "a"
            .build();
        let shown: Vec<String> = maps.iter().map(|m| m.to_string()).collect();
        let mut expected = Vec::new();
        for b in ["x", "y", "z"] {
            for a in 1..=3 {
                expected.push(format!("{{lr.max_iter: 10, a: {a}, b: {b}}}"));
            }
        }
        assert_eq!(shown, expected);
        assert_eq!(ParamGridBuilder::new().build(), vec![ParamMap::new()]);
        assert!(ParamGridBuilder::new()
            .add_grid("a", Vec::<i64>::new())
            .build()
            .is_empty());
        let m = ParamMap::new().put("a", 1i64).put("a", 2i64);
        assert_eq!((m.len(), m.get("a")), (1, Some(&ParamValue::Int(2))));
    }

    #[test]
    fn best_of_takes_the_first_of_equal_values_in_either_direction() {
        assert_eq!(best_of(&[0.5, 0.7, 0.7, 0.1], true), 1);
        assert_eq!(best_of(&[0.5, 0.1, 0.7, 0.1], false), 1);
        let m = [vec![1.0, 2.0], vec![3.0, 6.0]];
        let mean = mean_per_map(&m);
        assert_eq!(mean, vec![2.0, 4.0]);
        assert_eq!(std_per_map(&m, &mean), vec![1.0, 2.0]);
    }

    #[test]
    fn folds_cover_every_row_once_and_depend_on_the_seed_only() {
        let f = CrossValidator::fold_of_rows(3000, 4, 1);
        assert_eq!(f, CrossValidator::fold_of_rows(3000, 4, 1));
        for k in 0..4 {
            let n = f.iter().filter(|&&x| x == k).count();
            assert!((650..850).contains(&n), "fold {k}: {n}");
        }
        assert!(f.iter().all(|&x| x < 4));
    }
}
