//! The boosting loop: input checks, binning, then per round the gradients of the objective,
//! one tree per class grown on them, the margins of the training rows (and of the evaluation
//! set) moved by the new trees' leaves, the evaluation metric and early stopping.

use arrow::array::Array;
use arrow::datatypes::{DataType, Schema};
use ndarray::{CowArray, Ix2};
use rayon::prelude::*;

use ml_core::attributes::categorical_slots;
use ml_core::dataset::{field_of, unit_uniform};
use ml_core::stream::BatchSource;
use ml_core::{Dataset, Estimator, MlError, Params, Result};
use ml_dist::{Collective, LocalCollective};

use crate::binned_walk::BinnedTree;
use crate::binning::{BinMapper, BinMatrix};
use crate::constraints::Constraints;
use crate::fixed::{exact_sum, local_max_bits, Quantizer};
use crate::forest::row_major;
use crate::gather::{bin_source, BatchRows, Gathered};
use crate::grow::{grow_tree, GrowInputs, Leaves};
use crate::hist::{QPair, RowPair};
use crate::loss::LossParams;
use crate::metric::Metric;
use crate::model::GradientBoostedTreesModel;
use crate::objective::{gradients, logistic_fixed, logistic_weight_max, Objective};
use crate::params::{GradientBoostedTrees, RoundInfo};
use crate::sample::avalanche;
use crate::tree::Tree;

/// Checked training inputs.
pub(crate) struct Inputs<'a> {
    pub x: CowArray<'a, f64, Ix2>,
    pub y: Vec<f64>,
    pub w: Option<Vec<f64>>,
}

/// What the schema says of the training data: the number of features (the vector column's
/// width), the categorical slots `(slot, categories)` and the feature names.
struct SchemaInfo {
    d: usize,
    cats: Vec<(usize, usize)>,
    names: Vec<String>,
}

/// A worker's training rows after its local checks: gathered (not yet binned), with the
/// evaluation inputs, the categorical slots and the feature names.
pub(crate) struct Checked<'a> {
    pub gathered: Gathered,
    pub eval: Option<Inputs<'a>>,
    pub cats: Vec<(usize, usize)>,
    pub names: Vec<String>,
    /// Starting margins of the training rows (`n * k`) when they are not the base score's:
    /// from `base_margin_col` and/or the trees of the model training continues from.
    pub start: Option<Vec<f64>>,
    /// The same for the evaluation rows.
    pub eval_start: Option<Vec<f64>>,
}

/// The rows as every fit with the same binning parameters (`max_bin`, the columns, row keys
/// for `subsample < 1`) sees them: labels, weights, global counts, cut points and bins.
pub(crate) struct Prepared<'a> {
    y: Vec<f64>,
    w: Option<Vec<f64>>,
    row_keys: Option<Vec<u64>>,
    d: usize,
    /// Training rows over all workers.
    n_global: u64,
    /// Sum of weights over all workers (`n_global` without a weight column).
    sum_w: f64,
    mapper: BinMapper,
    bins: BinMatrix,
    eval: Option<Inputs<'a>>,
    feature_names: Vec<String>,
    /// See [`Checked`].
    start: Option<Vec<f64>>,
    eval_start: Option<Vec<f64>>,
}

/// The value of each leaf of a grown tree, in the order [`scatter_ids`] numbers them: one per
/// range, then two per last-level split.
fn leaf_values(leaves: &Leaves) -> Vec<f64> {
    let mut values: Vec<f64> = leaves.ranges.iter().map(|r| r.2).collect();
    for f in &leaves.splits {
        values.extend(f.values);
    }
    values
}

/// Adds each leaf's value to the margins of its rows. The leaves' row ranges are disjoint
/// parts of `rows` and of the second buffer `rows_b`, which together hold each row at most
/// once.
///
/// Two passes: the leaves write the index of their value into a byte (or `u16`) per row, in
/// parallel over leaves (scattered stores into an array small enough for the L2 cache), then
/// the margins are updated in row order, in parallel over chunks of rows. Scattering the
/// updates into the margins themselves (8 bytes a row, `k` outputs apart) missed the cache
/// at nearly every row. Each margin gets the same single addition either way.
#[allow(clippy::too_many_arguments)]
fn add_leaf_values(
    margins: &mut [f64],
    k: usize,
    class: usize,
    rows: &[u32],
    rows_b: &[u32],
    leaves: &Leaves,
    bins: &BinMatrix,
    ids: &mut Vec<u8>,
) {
    let values = leaf_values(leaves);
    let n = margins.len() / k.max(1);
    if values.len() < u8::MAX as usize {
        leaf_ids(n, [rows, rows_b], leaves, bins, ids);
        add_by_ids(margins, k, class, ids, &values);
    } else if values.len() < u16::MAX as usize {
        let mut wide: Vec<u16> = Vec::new();
        leaf_ids(n, [rows, rows_b], leaves, bins, &mut wide);
        add_by_ids(margins, k, class, &wide, &values);
    } else {
        // More leaves than a u16 counts: the values added where the rows are.
        let shared = SharedSlice(margins.as_mut_ptr(), margins.len());
        scatter_ids(
            &shared,
            [rows, rows_b],
            leaves,
            bins,
            |r| r as usize * k + class,
            |m, id| *m += values[id],
        );
    }
}

/// The margin update of a tree of one output, left pending: each row's leaf index in `ids`
/// (see [`leaf_ids`]) and the values to add, which the next round's gradient pass applies
/// while it reads the margins anyway ([`crate::objective::logistic_fixed`]). `None` when the
/// tree has too many leaves for a byte each: the margins are then updated at once.
fn pending_leaf_values(
    margins: &mut [f64],
    bufs: [&[u32]; 2],
    leaves: &Leaves,
    bins: &BinMatrix,
    ids: &mut Vec<u8>,
) -> Option<Vec<f64>> {
    let values = leaf_values(leaves);
    if values.len() < u8::MAX as usize {
        leaf_ids(margins.len(), bufs, leaves, bins, ids);
        Some(values)
    } else {
        add_leaf_values(margins, 1, 0, bufs[0], bufs[1], leaves, bins, ids);
        None
    }
}

/// A slice written by several threads at disjoint indices.
struct SharedSlice<T>(*mut T, usize);
// SAFETY: every index is written by exactly one task (see `scatter_ids`).
unsafe impl<T> Sync for SharedSlice<T> {}

/// For every row of every leaf, `apply(&mut out[index(row)], value index)` with the index of
/// the leaf's value (for a last-level split, that of the child the row's bin goes to),
/// leaves in parallel.
fn scatter_ids<T>(
    out: &SharedSlice<T>,
    bufs: [&[u32]; 2],
    leaves: &Leaves,
    bins: &BinMatrix,
    index: impl Fn(u32) -> usize + Sync,
    apply: impl Fn(&mut T, usize) + Sync,
) {
    let n_ranges = leaves.ranges.len();
    let n_tasks = n_ranges + leaves.splits.len();
    let put = |r: u32, id: usize| {
        let i = index(r);
        assert!(i < out.1, "row index within the output");
        // SAFETY: `i` is in bounds (checked above), and no other task accesses it: the
        // leaves' ranges are disjoint and no row appears twice in the two buffers.
        apply(unsafe { &mut *out.0.add(i) }, id);
    };
    (0..n_tasks)
        .into_par_iter()
        .with_min_len(n_tasks.div_ceil(8).max(1))
        .for_each(|t| match leaves.ranges.get(t) {
            Some(&(s, e, _, in_b)) => {
                for &r in &bufs[in_b as usize][s..e] {
                    put(r, t);
                }
            }
            None => {
                let j = t - n_ranges;
                let f = &leaves.splits[j];
                let col = bins.column(f.feature);
                let base = n_ranges + 2 * j;
                for &r in &bufs[f.in_b as usize][f.start..f.end] {
                    let right = !f.table[col.get(r as usize) as usize];
                    put(r, base + right as usize);
                }
            }
        });
}

/// Each of `n` rows' index of its leaf value ([`leaf_values`]'s order) into `ids`, `T::MAX`
/// for rows in no leaf (rows left out of the round).
fn leaf_ids<T>(n: usize, bufs: [&[u32]; 2], leaves: &Leaves, bins: &BinMatrix, ids: &mut Vec<T>)
where
    T: Copy + Send + Sync + TryFrom<usize> + Bounded,
{
    ids.clear();
    ids.resize(n, T::MAX);
    let shared = SharedSlice(ids.as_mut_ptr(), ids.len());
    scatter_ids(
        &shared,
        bufs,
        leaves,
        bins,
        |r| r as usize,
        |o, id| *o = T::try_from(id).unwrap_or(T::MAX),
    );
}

/// `margins[i * k + class] += values[ids[i]]` for every row `i` in a leaf, in row order, in
/// parallel over chunks of rows.
fn add_by_ids<T>(margins: &mut [f64], k: usize, class: usize, ids: &[T], values: &[f64])
where
    T: Copy + Send + Sync + PartialEq + Into<usize> + Bounded,
{
    const CHUNK: usize = 1 << 14;
    margins
        .par_chunks_mut(CHUNK * k)
        .zip(ids.par_chunks(CHUNK))
        .for_each(|(m, ids)| {
            if k == 1 {
                add_by_ids_one(m, ids, values);
                return;
            }
            for (m, &id) in m.chunks_exact_mut(k).zip(ids) {
                if id != T::MAX {
                    m[class] += values[id.into()];
                }
            }
        });
}

/// [`add_by_ids`] for one output: `m[i] += values[ids[i]]` where `ids[i]` is not `T::MAX`.
#[inline]
pub(crate) fn add_by_ids_one<T>(m: &mut [f64], ids: &[T], values: &[f64])
where
    T: Copy + PartialEq + Into<usize> + Bounded,
{
    for (m, &id) in m.iter_mut().zip(ids) {
        if id != T::MAX {
            *m += values[id.into()];
        }
    }
}

/// The largest value of an unsigned index type.
pub(crate) trait Bounded {
    const MAX: Self;
}
impl Bounded for u8 {
    const MAX: u8 = u8::MAX;
}
impl Bounded for u16 {
    const MAX: u16 = u16::MAX;
}

impl GradientBoostedTrees {
    /// Reads and checks features, labels and weights. An empty set is an error unless
    /// `allow_empty` (a worker's shard may be empty; the global count is checked later).
    fn inputs<'a>(&self, data: &'a Dataset, what: &str, allow_empty: bool) -> Result<Inputs<'a>> {
        self.inputs_at(data, what, allow_empty, 0)
    }

    /// [`GradientBoostedTrees::inputs`] of a batch whose first row is row `offset` of the data
    /// (errors name the row of the data).
    fn inputs_at<'a>(
        &self,
        data: &'a Dataset,
        what: &str,
        allow_empty: bool,
        offset: usize,
    ) -> Result<Inputs<'a>> {
        let x = data.features(&self.features_col)?;
        let (n, d) = x.dim();
        if n == 0 && !allow_empty {
            return Err(MlError::data(format!("the {what} set has no rows")));
        }
        if d == 0 {
            return Err(MlError::data(format!(
                "column '{}' has vectors of width 0 (no features)",
                self.features_col
            )));
        }
        let labels = data.numeric_column(&self.label_col)?;
        let obj = self.objective;
        let mut y = Vec::with_capacity(n);
        for i in 0..n {
            if labels.is_null(i) || labels.value(i).is_nan() {
                return Err(MlError::value(
                    &self.label_col,
                    offset + i,
                    "missing label (null or NaN)",
                ));
            }
            let v = labels.value(i);
            match obj {
                Objective::BinaryLogistic if v != 0.0 && v != 1.0 => {
                    return Err(MlError::value(
                        &self.label_col,
                        offset + i,
                        format!("label {v} is not 0 or 1 (binary:logistic)"),
                    ))
                }
                Objective::MultiSoftmax
                    if !(v >= 0.0 && v < self.num_class as f64 && v.fract() == 0.0) =>
                {
                    return Err(MlError::value(
                        &self.label_col,
                        offset + i,
                        format!("label {v} is not a class in 0..{}", self.num_class),
                    ))
                }
                Objective::SquaredError if !v.is_finite() => {
                    return Err(MlError::value(
                        &self.label_col,
                        offset + i,
                        "label is infinite",
                    ))
                }
                o if o.is_regression() => {
                    if let Err(msg) = crate::loss::check_label(o, v) {
                        return Err(MlError::value(&self.label_col, offset + i, msg));
                    }
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
                            offset + i,
                            format!("weight {v} is not a finite number >= 0"),
                        ));
                    }
                    w.push(v);
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

    /// Fits on `data`, also returning the per-round evaluation history
    /// (`(round, metric value)`; empty without an evaluation set).
    pub fn fit_with_history(
        &self,
        data: &Dataset,
    ) -> Result<(GradientBoostedTreesModel, Vec<f64>)> {
        self.fit_with_history_on(data, &LocalCollective)
    }

    /// Fits on the rows of all workers of `collective`, each worker passing its own shard of
    /// rows as `data` (any worker's shard may be empty, not all of them). Every worker returns
    /// the same model: the same bytes as [`Estimator::fit`] on all rows in one process,
    /// whatever the number of workers and however the rows are split between them (see the
    /// crate docs, "Training on several workers"). [`Estimator::fit`] is this with one worker
    /// ([`LocalCollective`]).
    ///
    /// Every worker must use the same parameters (checked: a mismatch is an error on every
    /// worker). With an evaluation set ([`GradientBoostedTrees::with_eval_set`]), each worker
    /// passes its own shard of the evaluation rows, and the metric is computed over all of
    /// them. A failure on one worker (bad input, a lost connection) makes every worker return
    /// an error, at the latest after the collective's timeout.
    ///
    /// With more than one worker, training runs on a thread pool of its own (of `n_threads`
    /// threads), so that workers sharing a process never wait for each other inside one pool.
    pub fn fit_with(
        &self,
        data: &Dataset,
        collective: &dyn Collective,
    ) -> Result<GradientBoostedTreesModel> {
        self.fit_with_history_on(data, collective).map(|(m, _)| m)
    }

    /// [`GradientBoostedTrees::fit_with`], also returning the evaluation history (as
    /// [`GradientBoostedTrees::fit_with_history`]).
    pub fn fit_with_history_on(
        &self,
        data: &Dataset,
        collective: &dyn Collective,
    ) -> Result<(GradientBoostedTreesModel, Vec<f64>)> {
        let shard = collective.world_size() > 1;
        let mut features: Option<Inputs<'_>> = None;
        let local = self
            .checked_inputs(data, shard)
            .and_then(|(t, eval, cats, names)| {
                let g = Gathered::in_memory(
                    &BatchRows {
                        x: t.x.view(),
                        y: &t.y,
                        w: t.w.as_deref(),
                    },
                    self.subsample < 1.0,
                    &cats,
                    self.max_bin,
                    collective.world_size(),
                )?;
                let start = self.start_margins(data, &t, 0)?;
                let eval_start = match (self.eval_set(), &eval) {
                    (Some(e), Some(ev)) => self.start_margins(e, ev, 0)?,
                    _ => None,
                };
                features = Some(t);
                Ok(Checked {
                    gathered: g,
                    eval,
                    cats,
                    names,
                    start,
                    eval_start,
                })
            });
        // In memory the rows are binned straight from the (borrowed) feature matrix.
        let bin = |mapper: &BinMapper, compact: bool| -> Result<BinMatrix> {
            let t = features
                .as_ref()
                .expect("binned only after the checks passed");
            Ok(mapper.transform_with_layout(t.x.view(), compact))
        };
        self.fit_checked(local, bin, collective)
    }

    /// Fits on the rows of `source`, read batch by batch: one pass gathers labels, weights and
    /// the cut sample, a second bins each batch, so no more than one batch of features is held
    /// as `f64` at a time (see the crate docs for the bytes per row kept). The model is the
    /// same bytes as [`Estimator::fit`] on the same rows in memory. The source must give the
    /// same rows each time it is opened (a file, a directory of part files, or a pipeline over
    /// one); with several workers each passes its own shard, as with
    /// [`GradientBoostedTrees::fit_with`]. An evaluation set
    /// ([`GradientBoostedTrees::with_eval_set`]) stays in memory.
    pub fn fit_source_with(
        &self,
        source: &dyn BatchSource,
        collective: &dyn Collective,
    ) -> Result<GradientBoostedTreesModel> {
        self.fit_source_with_history_on(source, collective)
            .map(|(m, _)| m)
    }

    /// [`GradientBoostedTrees::fit_source_with`], also returning the evaluation history.
    pub fn fit_source_with_history_on(
        &self,
        source: &dyn BatchSource,
        collective: &dyn Collective,
    ) -> Result<(GradientBoostedTreesModel, Vec<f64>)> {
        let shard = collective.world_size() > 1;
        let local = (|| {
            let schema = source.schema()?;
            let SchemaInfo { d, cats, names } = self.checked_schema(&schema)?;
            if self.validation_indicator_col.is_some() {
                return Err(MlError::param(
                    "validation_indicator_col",
                    "is not supported when training from a stream of batches; pass the \
                     evaluation rows with with_eval_set",
                ));
            }
            let mut g = Gathered::streamed(d, self.weight_col.is_some(), self.subsample < 1.0);
            let mut start: Option<Vec<f64>> = None;
            for batch in source.open()? {
                let data = Dataset::new(batch?);
                let t = self.inputs_at(&data, "training", true, g.n_rows())?;
                if let Some(s) = self.start_margins(&data, &t, g.n_rows())? {
                    start.get_or_insert_with(Vec::new).extend(s);
                }
                g.push(&BatchRows {
                    x: t.x.view(),
                    y: &t.y,
                    w: t.w.as_deref(),
                })?;
            }
            if g.n_rows() == 0 && !shard {
                return Err(MlError::data("the training set has no rows"));
            }
            if start.is_none() && (self.xgb_model().is_some() || self.base_margin_col.is_some()) {
                start = Some(Vec::new());
            }
            let eval = self.checked_eval(d, shard)?;
            let eval_start = match (self.eval_set(), &eval) {
                (Some(e), Some(ev)) => self.start_margins(e, ev, 0)?,
                _ => None,
            };
            Ok(Checked {
                gathered: g,
                eval,
                cats,
                names,
                start,
                eval_start,
            })
        })();
        let expected = local.as_ref().map_or(0, |l| l.gathered.n_rows());
        let bin = |mapper: &BinMapper, compact: bool| {
            bin_source(source, mapper, expected, compact, |data, offset, sink| {
                let t = self.inputs_at(data, "training", true, offset)?;
                sink(t.x.view());
                Ok(())
            })
        };
        self.fit_checked(local, bin, collective)
    }

    /// The agreement between workers on the local checks, then training on a pool of
    /// `n_threads` threads.
    fn fit_checked(
        &self,
        local: Result<Checked<'_>>,
        bin: impl FnOnce(&BinMapper, bool) -> Result<BinMatrix> + Send,
        collective: &dyn Collective,
    ) -> Result<(GradientBoostedTreesModel, Vec<f64>)> {
        let shard = collective.world_size() > 1;
        // Every worker learns whether all passed their checks and agree on the shape and the
        // parameters, before any other collective call.
        let (d, has_eval) = match &local {
            Ok(l) => (l.gathered.d as i64, l.eval.is_some() as i64),
            Err(_) => (0, 0),
        };
        let ph = (self.params_hash() >> 2) as i64;
        let mut agree = [local.is_err() as i64, d, -d, has_eval, -has_eval, ph, -ph];
        collective.all_reduce_max_i64(&mut agree)?;
        let checked = local?;
        if agree[0] != 0 {
            return Err(MlError::data(
                "another worker's training data failed its checks (see that worker's error)",
            ));
        }
        if agree[1] != -agree[2] || agree[3] != -agree[4] || agree[5] != -agree[6] {
            return Err(MlError::data(
                "the workers disagree on the number of features, on having an evaluation set \
                 or on the parameters; every worker must pass the same parameters and columns",
            ));
        }
        let run = || self.train(checked, bin, collective);
        if shard {
            let threads = ml_core::threads::effective_num_threads(self.n_threads);
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .map_err(|e| {
                    MlError::param(
                        "n_threads",
                        format!("cannot start a pool of {threads} threads: {e}"),
                    )
                })?;
            pool.install(run)
        } else {
            // On `n_threads` threads (ml-core's one meaning of it): the current pool when it
            // has that many, so its threads are warm for the predictions that usually follow.
            ml_core::threads::install(self.n_threads, run)?
        }
    }

    /// The local checks: parameters, schema, training and evaluation inputs, categorical
    /// slots and feature names.
    #[allow(clippy::type_complexity)]
    pub(crate) fn checked_inputs<'a>(
        &'a self,
        data: &'a Dataset,
        allow_empty: bool,
    ) -> Result<(
        Inputs<'a>,
        Option<Inputs<'a>>,
        Vec<(usize, usize)>,
        Vec<String>,
    )> {
        let cats = self.checked_schema(&data.schema())?.cats;
        let field = field_of(&data.schema(), &self.features_col)?;
        if let Some(col) = &self.validation_indicator_col {
            let (train, eval) = self.split_by_indicator(data, col, allow_empty)?;
            let names = ml_core::attributes::slot_names(&field, train.x.ncols());
            return Ok((train, Some(eval), cats, names));
        }
        let train = self.inputs(data, "training", allow_empty)?;
        let names = ml_core::attributes::slot_names(&field, train.x.ncols());
        let eval = self.checked_eval(train.x.ncols(), allow_empty)?;
        Ok((train, eval, cats, names))
    }

    /// The training and evaluation rows of `data` by `validation_indicator_col` (`col`):
    /// rows marked true (non-zero) are evaluated on, the others trained on.
    fn split_by_indicator<'b>(
        &self,
        data: &Dataset,
        col: &str,
        allow_empty: bool,
    ) -> Result<(Inputs<'b>, Inputs<'b>)> {
        let refuse = |with: &str| {
            Err(MlError::param(
                "validation_indicator_col",
                format!("cannot be combined with {with}; use one or the other"),
            ))
        };
        if self.eval_set().is_some() {
            return refuse("an evaluation set (with_eval_set)");
        }
        if self.base_margin_col.is_some() {
            return refuse("base_margin_col");
        }
        if self.xgb_model().is_some() {
            return refuse("continued training (with_xgb_model)");
        }
        let flags =
            ml_core::dataset::column_to_f64(data, col, ml_core::dataset::NullPolicy::Error)?;
        let (eval_rows, train_rows): (Vec<usize>, Vec<usize>) =
            (0..data.num_rows()).partition(|&i| flags.value(i) != 0.0);
        let owned = |d: &Dataset, what: &str| -> Result<Inputs<'b>> {
            let i = self.inputs(d, what, allow_empty)?;
            Ok(Inputs {
                x: CowArray::from(i.x.into_owned()),
                y: i.y,
                w: i.w,
            })
        };
        let train = owned(&data.take(&train_rows)?, "training")?;
        let eval = owned(&data.take(&eval_rows)?, "evaluation")?;
        Ok((train, eval))
    }

    /// The starting margins of `t`'s rows (`rows * k`, row-major) when they are not the base
    /// score's: `base_margin_col`'s values (rows whose first row is row `offset` of the
    /// data), then the trees of the model training continues from, added in their order (the
    /// order training added them, so the margins are the same bits).
    pub(crate) fn start_margins(
        &self,
        data: &Dataset,
        t: &Inputs<'_>,
        offset: usize,
    ) -> Result<Option<Vec<f64>>> {
        let k = self.num_outputs();
        let n = t.y.len();
        let init = self.xgb_model();
        let mut m = match (&self.base_margin_col, init) {
            (Some(c), _) => GradientBoostedTreesModel::read_base_margins(c, data, k, offset)?,
            (None, Some(model)) => {
                let b = model.base_margins();
                (0..n * k).map(|i| b[i % k]).collect()
            }
            (None, None) => return Ok(None),
        };
        if let Some(model) = init {
            self.check_init_model(model, t.x.ncols())?;
            let x =
                t.x.as_slice()
                    .ok_or_else(|| MlError::data("features are not contiguous"))?;
            let d = t.x.ncols();
            m.par_chunks_mut(k).enumerate().for_each(|(i, row_m)| {
                let row = &x[i * d..(i + 1) * d];
                for (ti, tree) in model.trees.iter().enumerate() {
                    row_m[ti % k] += tree.predict_row(row);
                }
            });
        }
        Ok(Some(m))
    }

    /// Checks that training can continue from `model` (parameter `xgb_model`).
    fn check_init_model(&self, model: &GradientBoostedTreesModel, d: usize) -> Result<()> {
        let bad = |msg: String| Err(MlError::param("xgb_model", msg));
        if model.objective != self.objective {
            return bad(format!(
                "the model was trained with objective {}, not {}",
                model.objective, self.objective
            ));
        }
        if model.num_features != d {
            return bad(format!(
                "the model has {} features, the training data {d}",
                model.num_features
            ));
        }
        if model.num_class != self.num_outputs() {
            return bad(format!(
                "the model has {} outputs, these parameters {}",
                model.num_class,
                self.num_outputs()
            ));
        }
        if model.best_iteration.is_some() {
            return bad(
                "the model was early-stopped; continue from its kept rounds only after \
                        clearing best_iteration"
                    .into(),
            );
        }
        Ok(())
    }

    /// Parameter and schema checks: the number of features (the vector column's width), the
    /// categorical slots and the feature names.
    fn checked_schema(&self, schema: &Schema) -> Result<SchemaInfo> {
        self.validate()?;
        self.loss_params().check(self.objective)?;
        Estimator::transform_schema(self, schema)?;
        let field = field_of(schema, &self.features_col)?;
        let d = match field.data_type() {
            DataType::FixedSizeList(_, n) => *n as usize,
            other => {
                return Err(ml_core::dataset::type_error(
                    &self.features_col,
                    "FixedSizeList<Float64>",
                    other,
                ))
            }
        };
        if d == 0 {
            return Err(MlError::data(format!(
                "column '{}' has vectors of width 0 (no features)",
                self.features_col
            )));
        }
        let cats = categorical_slots(&field);
        let names = ml_core::attributes::slot_names(&field, d);
        self.constraints(&names, d)?;
        Ok(SchemaInfo { d, cats, names })
    }

    /// The monotone and interaction constraints resolved for `d` features named `names`.
    pub(crate) fn constraints(&self, names: &[String], d: usize) -> Result<Constraints> {
        Constraints::parse(
            &self.monotone_constraints,
            &self.interaction_constraints,
            names,
            d,
        )
    }

    /// The evaluation set's inputs (when one is set), checked against `d` training features,
    /// and the early-stopping parameter's need of one.
    fn checked_eval(&self, d: usize, allow_empty: bool) -> Result<Option<Inputs<'_>>> {
        let eval = match self.eval_set() {
            Some(e) => {
                let ev = self.inputs(e, "evaluation", allow_empty)?;
                if ev.x.ncols() != d {
                    return Err(MlError::data(format!(
                        "the evaluation set has {} features, the training set {d}",
                        ev.x.ncols(),
                    )));
                }
                Some(ev)
            }
            None => None,
        };
        self.check_early_stopping(eval.is_some())?;
        Ok(eval)
    }

    /// Early stopping needs an evaluation set.
    pub(crate) fn check_early_stopping(&self, has_eval: bool) -> Result<()> {
        if self.early_stopping_rounds.is_some() && !has_eval {
            return Err(MlError::param(
                "early_stopping_rounds",
                "early stopping needs an evaluation set (with_eval_set)",
            ));
        }
        Ok(())
    }

    /// A hash of every parameter but `n_threads` and `bin_layout` (which do not change the model), to check
    /// that all workers train with the same ones.
    fn params_hash(&self) -> u64 {
        let mut h = 0xcbf2_9ce4_8422_2325u64;
        let init = self.xgb_model().map(|m| {
            format!(
                "xgb_model={}:{}:{};",
                m.trees.len(),
                m.base_score.to_bits(),
                m.trees
                    .iter()
                    .flat_map(|t| t.nodes.iter())
                    .fold(0u64, |a, n| a.rotate_left(5) ^ n.value.to_bits())
            )
        });
        for (name, value) in self.param_values() {
            // Neither changes the model.
            if name == "n_threads" || name == "bin_layout" {
                continue;
            }
            for b in format!("{name}={value:?};").bytes() {
                h = (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3);
            }
        }
        let custom = if self.custom_objective().is_some() {
            "custom_objective;"
        } else {
            ""
        };
        for b in init.unwrap_or_default().bytes().chain(custom.bytes()) {
            h = (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3);
        }
        h
    }

    /// The base score of each output estimated from the labels of all workers (before the
    /// link), as XGBoost 3.2 does: the weighted mean for binary:logistic (clamped),
    /// squared error and the log-link losses; 0.5 for multi:softmax; the weighted median
    /// (absolute error) or alpha-quantile (quantile error) of the labels, over all workers'
    /// labels exactly (see the `adaptive` module); one Newton step from margin 0 for
    /// pseudo-Huber.
    #[allow(clippy::too_many_arguments)]
    fn estimate_base_scores(
        &self,
        y: &[f64],
        w: Option<&[f64]>,
        n_global: u64,
        sum_w: f64,
        lp: &LossParams,
        k: usize,
        c: &dyn Collective,
    ) -> Result<Vec<f64>> {
        let obj = self.objective;
        let n = y.len();
        let wi = |i: usize| w.map_or(1.0, |w| w[i]);
        let mean = || -> Result<f64> {
            let wy = (0..n).map(|i| wi(i) * y[i]);
            Ok(exact_sum(wy, n_global, c)? / sum_w)
        };
        Ok(match obj {
            Objective::BinaryLogistic => vec![mean()?.clamp(1e-6, 1.0 - 1e-6)],
            Objective::SquaredError => vec![mean()?],
            Objective::MultiSoftmax => vec![0.5; k],
            Objective::Gamma if (self.scale_pos_weight - 1.0).abs() > 1e-6 => {
                // As XGBoost: one Newton step from margin 0 when label-1 rows are reweighted.
                let (mut g, mut h) = (Vec::with_capacity(n), Vec::with_capacity(n));
                for (i, &yi) in y.iter().enumerate() {
                    let spw = if yi == 1.0 {
                        self.scale_pos_weight
                    } else {
                        1.0
                    };
                    let [gi, hi] = crate::loss::weighted_pair(obj, lp, 0.0, yi, wi(i) * spw, 0);
                    g.push(gi as f64);
                    h.push(hi as f64);
                }
                let g = exact_sum(g.into_iter(), n_global, c)?;
                let h = exact_sum(h.into_iter(), n_global, c)?;
                vec![if h > 0.0 { (-g / h).exp() } else { 1.0 }]
            }
            Objective::Poisson | Objective::Tweedie | Objective::Gamma => {
                let m = mean()?;
                if m <= 0.0 {
                    return Err(MlError::data(format!(
                        "the labels' mean is {m}, whose log ({obj}'s base margin) is not \
                         finite; set base_score"
                    )));
                }
                vec![m]
            }
            Objective::PseudoHuberError => {
                let pairs: Vec<[f32; 2]> = (0..n)
                    .map(|i| crate::loss::weighted_pair(obj, lp, 0.0, y[i], wi(i), 0))
                    .collect();
                let g = exact_sum(pairs.iter().map(|p| p[0] as f64), n_global, c)?;
                let h = exact_sum(pairs.iter().map(|p| p[1] as f64), n_global, c)?;
                vec![if h > 0.0 { -g / h } else { 0.0 }]
            }
            Objective::AbsoluteError | Objective::QuantileError => {
                let items: Vec<(u32, f32, f32)> =
                    (0..n).map(|i| (0, y[i] as f32, wi(i) as f32)).collect();
                let all = crate::adaptive::gather_items(items, c)?;
                let mut v: Vec<(f32, f32)> = all.iter().map(|&(_, v, w)| (v, w)).collect();
                match obj {
                    // XGBoost's alphas are single precision.
                    Objective::QuantileError => lp
                        .quantile_alpha
                        .iter()
                        .map(|&a| {
                            let a = (a as f32) as f64;
                            crate::adaptive::quantile(a, &mut v, w.is_some()) as f64
                        })
                        .collect(),
                    _ => {
                        // The median, then XGBoost's weighted average over workers (times
                        // the weight sum in f32, divided by it again).
                        let q = crate::adaptive::quantile(0.5, &mut v, w.is_some());
                        let scaled = (q as f64 * sum_w) as f32;
                        vec![((scaled as f64) / sum_w) as f32 as f64]
                    }
                }
            }
        })
    }

    /// Replaces the values of `tree`'s leaves by `eta` times the alpha-quantile of the
    /// residuals `y - margin` of the rows (of all workers) reaching them (XGBoost's
    /// `UpdateTreeLeaf`; a leaf no row reaches keeps its value). Returns each used row with
    /// the node of its leaf.
    #[allow(clippy::too_many_arguments)]
    fn refresh_leaves(
        &self,
        tree: &mut Tree,
        mapper: &BinMapper,
        bins: &BinMatrix,
        sampled: Option<&[u32]>,
        (margins, k, class): (&[f64], usize, usize),
        (y, w): (&[f64], Option<&[f64]>),
        alpha: f64,
        c: &dyn Collective,
    ) -> Result<Vec<(u32, u32)>> {
        let walk = BinnedTree::new(tree, mapper);
        let rows: Vec<u32> = match sampled {
            Some(s) => s.to_vec(),
            None => (0..y.len() as u32).collect(),
        };
        let leaf_of: Vec<(u32, u32)> = rows
            .par_iter()
            .map(|&r| (r, walk.leaf_index(bins.row(r as usize)) as u32))
            .collect();
        let items: Vec<(u32, f32, f32)> = leaf_of
            .iter()
            .map(|&(r, l)| {
                let i = r as usize;
                let resid = y[i] as f32 - margins[i * k + class] as f32;
                (l, resid, w.map_or(1.0, |w| w[i]) as f32)
            })
            .collect();
        let q = crate::adaptive::group_quantiles(items, tree.nodes.len(), alpha, w.is_some(), c)?;
        for (node, q) in tree.nodes.iter_mut().zip(q) {
            if node.is_leaf() && !q.is_nan() {
                node.value = (q * self.eta as f32) as f64;
            }
        }
        Ok(leaf_of)
    }

    /// The boosting loop over gathered rows; `bin` bins them once the cut points are known.
    fn train(
        &self,
        checked: Checked<'_>,
        bin: impl FnOnce(&BinMapper, bool) -> Result<BinMatrix>,
        c: &dyn Collective,
    ) -> Result<(GradientBoostedTreesModel, Vec<f64>)> {
        let prepared = self.prepare(checked, bin, c)?;
        self.boost(&prepared, c)
    }

    /// Global row counts and weight sum, the cut points (from the sample of all workers'
    /// rows) and the binned rows: what every fit with the same binning parameters shares.
    pub(crate) fn prepare<'a>(
        &self,
        checked: Checked<'a>,
        bin: impl FnOnce(&BinMapper, bool) -> Result<BinMatrix>,
        c: &dyn Collective,
    ) -> Result<Prepared<'a>> {
        let Checked {
            gathered,
            eval,
            cats,
            names: feature_names,
            start,
            eval_start,
        } = checked;
        let Gathered {
            cuts: sample,
            y,
            w,
            row_keys,
            d,
            codes,
        } = gathered;
        let n = y.len();
        // Row counts over all workers.
        let mut counts = [n as i64, eval.as_ref().map_or(0, |e| e.y.len() as i64)];
        c.all_reduce_sum_i64(&mut counts)?;
        let n_global = counts[0] as u64;
        if n_global == 0 {
            return Err(MlError::data("the training set has no rows"));
        }
        if eval.is_some() && counts[1] == 0 {
            return Err(MlError::data("the evaluation set has no rows"));
        }
        let sum_w = match (&self.weight_col, w.as_deref()) {
            (Some(col), Some(w)) => {
                let s = exact_sum(w.iter().copied(), n_global, c)?;
                if s <= 0.0 {
                    return Err(MlError::data(format!("weights in column '{col}' sum to 0")));
                }
                s
            }
            _ => n_global as f64,
        };
        // Cut points from the sample of all workers' rows, then the rows binned (in the
        // layout `bin_layout` asks for at this worker's size: the model is the same).
        let mapper = sample.finish(&cats, self.max_bin, c)?;
        let compact = self.bin_layout.is_compact(n, d);
        let bins = match codes.and_then(|codes| codes.bin(&mapper, compact)) {
            Some(bins) => bins,
            None => bin(&mapper, compact)?,
        };
        Ok(Prepared {
            y,
            w,
            row_keys,
            d,
            n_global,
            sum_w,
            mapper,
            bins,
            eval,
            feature_names,
            start,
            eval_start,
        })
    }

    /// Boosts `num_round` rounds on prepared rows.
    pub(crate) fn boost(
        &self,
        p: &Prepared<'_>,
        c: &dyn Collective,
    ) -> Result<(GradientBoostedTreesModel, Vec<f64>)> {
        let Prepared {
            y,
            w,
            row_keys,
            d,
            n_global,
            sum_w,
            mapper,
            bins,
            eval,
            feature_names,
            start,
            eval_start,
        } = p;
        let (d, n_global, sum_w) = (*d, *n_global, *sum_w);
        let eval = eval.as_ref();
        let obj = self.objective;
        let k = self.num_outputs();
        let n = y.len();
        let w = w.as_deref();

        let lp = self.loss_params();
        let init = self.xgb_model();
        // The base score of each output: the model's when continuing, else estimated.
        let base_scores: Vec<f64> = match (init, self.base_score) {
            (Some(m), _) => {
                if m.base_scores.len() == k {
                    m.base_scores.clone()
                } else {
                    vec![m.base_score; k]
                }
            }
            (None, Some(b)) => vec![(b as f32) as f64; k],
            (None, None) => self
                .estimate_base_scores(y, w, n_global, sum_w, &lp, k, c)?
                .into_iter()
                .map(|b| (b as f32) as f64)
                .collect(),
        };
        let base_margins: Vec<f64> = base_scores
            .iter()
            .map(|&b| obj.margin_of_score(b))
            .collect();
        if base_margins.iter().any(|m| !m.is_finite()) {
            return Err(MlError::data(format!(
                "the base score {base_scores:?} has no finite margin under {obj} (set base_score)"
            )));
        }
        let start_margins = |s: Option<Vec<f64>>, rows: usize| -> Result<Vec<f64>> {
            match s {
                Some(s) if s.len() == rows * k => Ok(s),
                Some(s) => Err(MlError::data(format!(
                    "{} starting margins for {rows} rows of {k} outputs",
                    s.len()
                ))),
                None => Ok((0..rows * k).map(|i| base_margins[i % k]).collect()),
            }
        };
        let mut margins = start_margins(start.clone(), n)?;
        let metric = self.eval_metric.unwrap_or_else(|| Metric::default_for(obj));
        let mut eval_margins = match eval {
            Some(e) => Some(start_margins(eval_start.clone(), e.y.len())?),
            None => None,
        };
        let tp = self.tree_params();
        let cons = self.constraints(feature_names, d)?;
        let first_round = init.map_or(0, |m| m.num_rounds());
        let mut trees: Vec<Tree> = Vec::with_capacity((first_round + self.num_round) * k);
        if let Some(m) = init {
            trees.extend(m.trees.iter().cloned());
        }
        let mut custom_gh: Vec<(f64, f64)> = Vec::new();
        // Each row's f32 pair, where the pairs are not computed and quantized in one pass.
        let mut gh: Vec<RowPair> = Vec::new();
        let mut ghq: Vec<QPair> = Vec::with_capacity(n);
        let mut rows: Vec<u32> = Vec::with_capacity(n);
        let mut scratch: Vec<u32> = Vec::new();
        // Per-row leaf value indices of the margin update, kept across trees.
        let mut leaf_ids_buf: Vec<u8> = Vec::new();
        let mut history = Vec::new();
        let mut best: Option<(usize, f64)> = None;
        let n_feat_tree = ((d as f64 * self.colsample_bytree).round() as usize).clamp(1, d);
        // The logistic objective of one output: the pairs' fixed-point scale from their bound
        // (the largest weight over all workers), so each round computes, quantizes and
        // applies the previous tree's margin update in one pass over the rows; bounded pairs
        // keep fewer bits, which the histogram kernel sums two at a time (`fixed` module).
        let logistic_quant =
            if obj == Objective::BinaryLogistic && k == 1 && self.custom_objective().is_none() {
                let mut m = [logistic_weight_max(y, w, self.scale_pos_weight)];
                c.all_reduce_max_f64(&mut m)?;
                Some(Quantizer::from_bound([m[0], m[0] / 4.0], n_global)?)
            } else {
                None
            };
        // The last tree's leaf values not yet added to the margins (see `pending_leaf_values`).
        let mut pending: Option<Vec<f64>> = None;
        // Row sampling decides per row from its content, the seed and the round (never from
        // its position), so it is the same however rows are split between workers.
        for round in first_round..first_round + self.num_round {
            // A round is many short parallel steps (one or more per tree level): the pool's
            // other threads poll for them instead of sleeping between them. One guard per
            // round, so that a job of other work in the pool that a poller started on top of
            // (see `keep_polling`) waits for a round at most, not for the whole training. Not
            // across workers: there every level waits on the network, and a worker's pollers
            // would spin through the wait on cores other workers' processes may share.
            let _polling = (c.world_size() == 1).then(ml_core::threads::keep_polling);
            // Rows of this round.
            let sampled: Option<Vec<u32>> = row_keys.as_ref().map(|keys| {
                let salt = avalanche(self.seed ^ avalanche(round as u64 ^ 0x5AB5_A3D1));
                (0..n as u32)
                    .filter(|&i| unit(avalanche(keys[i as usize] ^ salt)) < self.subsample)
                    .collect()
            });
            let mut n_used = [sampled.as_ref().map_or(n, |s| s.len()) as i64];
            if sampled.is_some() {
                c.all_reduce_sum_i64(&mut n_used)?;
                if n_used[0] == 0 {
                    continue;
                }
            } else {
                n_used[0] = n_global as i64;
            }
            if let Some(custom) = self.custom_objective() {
                // All outputs' pairs once per round, from the margins at its start.
                custom_gh.clear();
                custom_gh.resize(n * k, (0.0, 0.0));
                custom.gradients(&margins, y, k, &mut custom_gh);
                if let Some(i) = custom_gh
                    .iter()
                    .position(|(g, h)| !g.is_finite() || !h.is_finite())
                {
                    return Err(MlError::value(
                        &self.label_col,
                        i / k,
                        "the custom objective's gradient or hessian is not finite",
                    ));
                }
            }
            for class in 0..k {
                let quant = if let Some(quant) = logistic_quant {
                    let update = pending.take();
                    let bits = logistic_fixed(
                        &mut margins,
                        y,
                        w,
                        self.scale_pos_weight,
                        update.as_deref().map(|v| (&leaf_ids_buf[..], v)),
                        &quant,
                        &mut ghq,
                    );
                    // Every worker learns whether any worker's pairs are not finite.
                    let mut bad = [(bits[0] >= 0x7F80_0000 || bits[1] >= 0x7F80_0000) as i64];
                    c.all_reduce_max_i64(&mut bad)?;
                    if bad[0] != 0 {
                        return Err(MlError::data(
                            "gradients or hessians are not finite (NaN or infinite): labels, \
                             weights or margins out of range",
                        ));
                    }
                    quant
                } else {
                    gh.resize(n, [0.0, 0.0]);
                    // This worker's largest |g| and |h|, for the fixed-point scale.
                    let max_bits = if self.custom_objective().is_some() {
                        for (i, o) in gh.iter_mut().enumerate() {
                            let wi = w.map_or(1.0, |w| w[i]);
                            let (g, h) = custom_gh[i * k + class];
                            *o = [(g * wi) as f32, (h * wi) as f32];
                        }
                        local_max_bits(&gh)
                    } else {
                        gradients(
                            obj,
                            &margins,
                            y,
                            w,
                            self.scale_pos_weight,
                            &lp,
                            k,
                            class,
                            &mut gh,
                        )
                    };
                    let quant = Quantizer::from_local_bits(max_bits, n_global, c)?;
                    quant.quantize_all(&gh, &mut ghq);
                    quant
                };
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
                let inputs = GrowInputs {
                    bins,
                    mapper,
                    features: &features,
                    params: &tp,
                    gh: &ghq,
                    quant: &quant,
                    collective: c,
                    constraints: &cons,
                };
                let (mut tree, leaves) =
                    grow_tree(&inputs, &mut rows, n_used[0] as u64, identity, &mut scratch)?;
                if obj.has_adaptive_leaves() && self.custom_objective().is_none() {
                    // Leaf values refreshed to a quantile of their rows' residuals; the
                    // margins of the rows used then from the leaf each row reaches.
                    let alpha = match obj {
                        Objective::QuantileError => (lp.quantile_alpha[class] as f32) as f64,
                        _ => 0.5,
                    };
                    let leaf_of = self.refresh_leaves(
                        &mut tree,
                        mapper,
                        bins,
                        sampled.as_deref(),
                        (&margins, k, class),
                        (y, w),
                        alpha,
                        c,
                    )?;
                    for (i, l) in leaf_of {
                        margins[i as usize * k + class] += tree.nodes[l as usize].value;
                    }
                } else if logistic_quant.is_some() {
                    // Added by the next round's gradient pass.
                    pending = pending_leaf_values(
                        &mut margins,
                        [&rows, &scratch],
                        &leaves,
                        bins,
                        &mut leaf_ids_buf,
                    );
                } else {
                    // Margins of the rows used, from the leaf each ended in.
                    add_leaf_values(
                        &mut margins,
                        k,
                        class,
                        &rows,
                        &scratch,
                        &leaves,
                        bins,
                        &mut leaf_ids_buf,
                    );
                }
                if let Some(s) = &sampled {
                    // Rows left out of this round: the tree walked on their bins.
                    let mut used = vec![false; n];
                    for &r in s {
                        used[r as usize] = true;
                    }
                    let walk = BinnedTree::new(&tree, mapper);
                    margins
                        .par_chunks_mut(k * 4096)
                        .enumerate()
                        .for_each(|(ci, chunk)| {
                            for (j, m) in chunk.chunks_mut(k).enumerate() {
                                let i = ci * 4096 + j;
                                if !used[i] {
                                    m[class] += walk.predict(bins.row(i));
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
                let v = metric.evaluate_global(obj, &lp, em, k, &e.y, e.w.as_deref(), c)?;
                history.push(v);
                metrics.push((format!("eval-{}", metric.report_name(&lp)), v));
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
            // A worker's callback may stop training: every worker stops then.
            let mut stop = [0i64];
            if let Some(cb) = self.callback() {
                let info = RoundInfo {
                    round,
                    num_round: self.num_round,
                    metrics,
                };
                stop[0] = !(cb.0)(&info) as i64;
            }
            c.all_reduce_max_i64(&mut stop)?;
            if stop[0] != 0 {
                break;
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
        let has_loss_params = !matches!(
            obj,
            Objective::BinaryLogistic | Objective::SquaredError | Objective::MultiSoftmax
        );
        let model = GradientBoostedTreesModel {
            objective: obj,
            num_features: d,
            num_class: k,
            base_score: base_scores[0],
            base_scores: if base_scores.iter().any(|&b| b != base_scores[0]) {
                base_scores.clone()
            } else {
                Vec::new()
            },
            loss: has_loss_params.then(|| lp.clone()),
            trees,
            feature_names: feature_names.clone(),
            best_iteration,
            params: self.model_params(),
            forest: Default::default(),
        };
        Ok((model, history))
    }
}

/// A uniform number in `[0, 1)` from 64 random bits.
#[inline]
fn unit(bits: u64) -> f64 {
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

impl Estimator for GradientBoostedTrees {
    type Model = GradientBoostedTreesModel;

    /// Fits on all rows in this process: [`GradientBoostedTrees::fit_with`] with one worker.
    fn fit(&self, data: &Dataset) -> Result<GradientBoostedTreesModel> {
        self.fit_with(data, &LocalCollective)
    }

    /// Fits from a stream of batches, binning each batch as it is read:
    /// [`GradientBoostedTrees::fit_source_with`] with one worker.
    fn fit_source(&self, source: &dyn BatchSource) -> Result<GradientBoostedTreesModel> {
        self.fit_source_with(source, &LocalCollective)
    }

    /// Fits every variant sharing what they can: the binned rows among variants with the same
    /// binning parameters, and one boosting run among variants that differ only in
    /// `num_round` (see the `multi` module). Each model is the same bytes as the variant's own
    /// [`fit`](Estimator::fit).
    fn fit_multiple(
        &self,
        data: &Dataset,
        variants: &[GradientBoostedTrees],
    ) -> Result<Vec<GradientBoostedTreesModel>> {
        self.fit_variants(data, variants)
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
            objective: self.objective,
            num_features: 0,
            num_class: self.num_outputs(),
            base_score: 0.0,
            base_scores: Vec::new(),
            loss: None,
            trees: Vec::new(),
            feature_names: Vec::new(),
            best_iteration: None,
            params: self.model_params(),
            forest: Default::default(),
        };
        model.output_schema(schema, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::binning::HIST_SLOTS;
    use crate::grow::FinalSplit;
    use crate::testing::Rng;

    /// The margin update through leaf indices (u8 with few leaves, u16 with many) adds to each
    /// row of a leaf or last-level split exactly its value, and leaves rows in no leaf alone,
    /// for one and several outputs.
    #[test]
    fn leaf_values_reach_exactly_their_rows() {
        let n = 3000usize;
        let mut rng = Rng(11);
        let col: Vec<u8> = (0..n).map(|_| (rng.next() * 8.0) as u8).collect();
        // Two features, the split on the second, in both layouts (the compact one reads the
        // column strided from the row-major bins).
        let other: Vec<u8> = (0..n).map(|_| (rng.next() * 8.0) as u8).collect();
        let row_major: Vec<u8> = (0..n).flat_map(|r| [other[r], col[r]]).collect();
        let layouts = [false, true]
            .map(|compact| BinMatrix::with_layout(n, 2, row_major.clone(), vec![8, 8], compact));
        // A permutation of the rows; each position's row is in one of the two buffers (the
        // other holds a stale copy), as after partitioning.
        let mut perm: Vec<u32> = (0..n as u32).collect();
        for i in (1..n).rev() {
            perm.swap(i, (rng.next() * (i + 1) as f64) as usize);
        }
        let (rows, rows_b) = (perm.clone(), perm.clone());
        // u8 indices, u16 indices, and more values than a u16 counts (empty ranges after
        // the first 2000 rows).
        for n_ranges in [5usize, 400, 70_000] {
            let mut leaves = Leaves::default();
            let per = (2000 / n_ranges).max(1);
            for j in 0..n_ranges {
                let (s, e) = ((j * per).min(2000), ((j + 1) * per).min(2000));
                let v = (j as f64 + 0.5) * if j % 2 == 0 { 1.0 } else { -1e-3 };
                leaves.ranges.push((s, e, v, j % 3 == 0));
            }
            let mut table = [false; HIST_SLOTS];
            table[..3].fill(true);
            // Positions 2000..2900 of the second buffer: a last-level split; the last 100
            // positions hold rows in no leaf.
            leaves.splits.push(FinalSplit {
                start: 2000,
                end: 2900,
                feature: 1,
                table,
                values: [0.25, -0.75],
                in_b: true,
            });
            let bufs = [&rows[..], &rows_b[..]];
            for k in [1usize, 3] {
                let start: Vec<f64> = (0..n * k).map(|i| i as f64 * 1e-3).collect();
                let mut expect = start.clone();
                for &(s, e, v, in_b) in &leaves.ranges {
                    for &r in &bufs[in_b as usize][s..e] {
                        expect[r as usize * k + 1 % k] += v;
                    }
                }
                for &r in &rows_b[2000..2900] {
                    let left = table[col[r as usize] as usize];
                    expect[r as usize * k + 1 % k] += if left { 0.25 } else { -0.75 };
                }
                for bins in &layouts {
                    let mut got = start.clone();
                    let mut ids = Vec::new();
                    add_leaf_values(&mut got, k, 1 % k, &rows, &rows_b, &leaves, bins, &mut ids);
                    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                    let compact = bins.is_compact();
                    assert_eq!(
                        bits(&got),
                        bits(&expect),
                        "{n_ranges} leaves, k = {k}, compact {compact}"
                    );
                    let untouched = (0..n * k).filter(|&i| got[i] == start[i]).count();
                    assert!(untouched >= 100 * k, "rows in no leaf keep their margins");
                }
            }
        }
    }
}
