//! Feature binning: weighted quantile cut points for numeric slots, category codes for nominal
//! slots, and the row-major `u8` bin matrix the histograms are built from.
//!
//! Values are compared as `f32` (as XGBoost does), so a threshold learned here splits the data
//! exactly as the same threshold does in an exported XGBoost model. A numeric feature with `nb`
//! value bins has `nb - 1` thresholds `t`; a value `v` falls in bin `#{t_j <= v}`, so "bin <= b"
//! is the same as `v < t[b]`. NaN goes to the missing bin, whose index is `nb` (at most 255).

use ndarray::ArrayView2;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

#[cfg(test)]
use crate::sample::{CutSampler, CUT_SAMPLE_ROWS};

/// Largest number of value bins per feature (the missing bin takes index 255 at most).
pub const MAX_VALUE_BINS: usize = 255;
/// Slots per feature in a histogram: every `u8` bin index, so lookups need no bounds check.
pub const HIST_SLOTS: usize = 256;
/// Rows per block when filling the bin matrix.
const BIN_BLOCK: usize = 8192;
/// Columns of the column-major copy of the bins filled together from the row-major bins.
const TRANSPOSE_COLUMNS: usize = 8;
/// Rows of the row-major bins read together when the column-major copy is filled.
const TRANSPOSE_ROWS: usize = 1024;
/// Features whose columns are copied out together when cut points are computed.
const FEATURE_BLOCK: usize = 8;

/// Largest joint histogram of a feature group: the product of its members' slot counts.
const MAX_GROUP_SLOTS: usize = 1024;

/// How one feature is cut into bins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum FeatureCuts {
    /// A continuous feature: thresholds between consecutive bins (`n_bins - 1` of them).
    Numeric {
        /// Increasing thresholds; bin `b` holds `t[b-1] <= v < t[b]`.
        thresholds: Vec<f32>,
    },
    /// A nominal feature holding category codes `0..num_categories`.
    Categorical {
        /// Number of categories the schema declares.
        num_categories: usize,
        /// Bin of each code; codes without their own bin (beyond the most frequent 255) map to
        /// the missing bin.
        bin_of_code: Vec<u8>,
        /// Code held by each value bin.
        code_of_bin: Vec<u32>,
    },
}

impl FeatureCuts {
    /// Number of value bins (the missing bin index).
    pub fn n_bins(&self) -> usize {
        match self {
            FeatureCuts::Numeric { thresholds } => thresholds.len() + 1,
            FeatureCuts::Categorical { code_of_bin, .. } => code_of_bin.len(),
        }
    }

    /// The bin of a value.
    #[inline]
    pub fn bin(&self, v: f64) -> u8 {
        match self {
            FeatureCuts::Numeric { thresholds } => {
                let v = v as f32;
                if v.is_nan() {
                    (thresholds.len() + 1) as u8
                } else {
                    thresholds.partition_point(|&t| t <= v) as u8
                }
            }
            FeatureCuts::Categorical {
                bin_of_code,
                code_of_bin,
                ..
            } => match category_code(v, bin_of_code.len()) {
                Some(c) => bin_of_code[c],
                None => code_of_bin.len() as u8,
            },
        }
    }
}

/// The bits of a non-NaN `f32` as a `u32` that sorts in the same order (`-0.0` before `0.0`,
/// as `f32::total_cmp` orders them).
#[inline]
fn sortable_bits(v: f32) -> u32 {
    let b = v.to_bits();
    if b >> 31 == 1 {
        !b
    } else {
        b | 0x8000_0000
    }
}

/// The inverse of [`sortable_bits`].
#[inline]
fn from_sortable_bits(k: u32) -> f32 {
    f32::from_bits(if k >> 31 == 1 { k & 0x7FFF_FFFF } else { !k })
}

/// The code of a categorical value, when it is an integer in `0..num_categories`.
#[inline]
pub fn category_code(v: f64, num_categories: usize) -> Option<usize> {
    if !(v >= 0.0 && v < num_categories as f64) {
        return None;
    }
    // In range, `v` is an integer exactly when truncating it changes nothing (a conversion
    // in registers; `fract` is a call to the C library's `trunc` without SSE4.1).
    let code = v as usize;
    (code as f64 == v).then_some(code)
}

/// Cut points of every feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BinMapper {
    /// One entry per feature.
    pub features: Vec<FeatureCuts>,
}

impl BinMapper {
    /// Finds cut points from the rows of `x` (weighted by `weights` when given) on one
    /// worker: from the sample of [`CutSampler`](crate::sample::CutSampler) (every row when there are at most
    /// 200,000). `max_bin` and `categorical` as for [`BinMapper::from_sample`].
    #[cfg(test)]
    pub fn fit(
        x: ArrayView2<'_, f64>,
        weights: Option<&[f64]>,
        categorical: &[(usize, usize)],
        max_bin: usize,
    ) -> BinMapper {
        let mut s = CutSampler::new(x.ncols(), CUT_SAMPLE_ROWS, weights.is_some());
        s.push(x, weights).expect("weights match the rows");
        s.finish(categorical, max_bin)
    }

    /// Finds cut points from every row of the sample `x` (weighted by `weights` when given),
    /// with at most `max_bin` value bins per feature (capped at 255). `categorical` lists
    /// `(slot, num_categories)`. The cuts depend on the rows' order only through sums of
    /// weights of equal values (taken in row order): [`CutSampler::finish`](crate::sample::CutSampler::finish) passes its sample
    /// in a canonical order.
    pub fn from_sample(
        x: ArrayView2<'_, f64>,
        weights: Option<&[f64]>,
        categorical: &[(usize, usize)],
        max_bin: usize,
    ) -> BinMapper {
        let (n, d) = x.dim();
        let max_bins = max_bin.clamp(2, MAX_VALUE_BINS);
        let sample: Vec<usize> = (0..n).collect();
        let mut cat_of = vec![None; d];
        for &(slot, k) in categorical {
            if slot < d {
                cat_of[slot] = Some(k);
            }
        }
        // Features in blocks: each block's columns are copied out row by row (reading a
        // row-major column directly would touch one cache line per value), then each column's
        // cuts are computed from its contiguous copy.
        let flat = row_major(x);
        let features = (0..d.div_ceil(FEATURE_BLOCK))
            .into_par_iter()
            .flat_map_iter(|b| {
                let fs = b * FEATURE_BLOCK..((b + 1) * FEATURE_BLOCK).min(d);
                let cols = copy_columns(&flat, n, d, fs.clone());
                fs.zip(cols)
            })
            .map(|(f, col)| {
                match cat_of[f] {
                    Some(k) => categorical_cuts(&sample, |i| col[i], weights, k, max_bins),
                    None if weights.is_none() => {
                        // Unweighted: sort the values alone (4-byte keys), then count runs.
                        let mut keys: Vec<u32> = col
                            .iter()
                            .map(|&v| v as f32)
                            .filter(|v| !v.is_nan())
                            .map(sortable_bits)
                            .collect();
                        // A column of few distinct values (a one-hot slot, a flag) is counted
                        // instead of sorted: the same (value, weight) runs, so the same cuts.
                        let thresholds = match distinct_counts(&keys, FEW_DISTINCT) {
                            Some(counts) => numeric_thresholds(
                                counts
                                    .into_iter()
                                    .map(|(k, n)| (from_sortable_bits(k), n as f64)),
                                max_bins,
                            ),
                            None => {
                                keys.sort_unstable();
                                let vals = keys.into_iter().map(|k| (from_sortable_bits(k), 1.0));
                                numeric_thresholds(vals, max_bins)
                            }
                        };
                        FeatureCuts::Numeric { thresholds }
                    }
                    None => {
                        let mut vals: Vec<(f32, f64)> = sample
                            .iter()
                            .filter_map(|&i| {
                                let v = col[i] as f32;
                                let w = weights.map_or(1.0, |w| w[i]);
                                (!v.is_nan() && w > 0.0).then_some((v, w))
                            })
                            .collect();
                        // By value, then weight: a canonical order of the (value, weight)
                        // pairs, so the weights of equal values are summed in one order.
                        vals.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
                        FeatureCuts::Numeric {
                            thresholds: numeric_thresholds(vals.into_iter(), max_bins),
                        }
                    }
                }
            })
            .collect();
        BinMapper { features }
    }

    /// Bins every row of `x` into a row-major matrix (fast layout).
    #[cfg(test)]
    pub fn transform(&self, x: ArrayView2<'_, f64>) -> BinMatrix {
        self.transform_with_layout(x, false)
    }

    /// [`BinMapper::transform`] into the compact layout (`compact` true) or the fast one (see
    /// [`BinMatrix`]).
    pub fn transform_with_layout(&self, x: ArrayView2<'_, f64>, compact: bool) -> BinMatrix {
        let mut data = Vec::new();
        self.bin_rows_into(x, &mut data);
        self.matrix(x.nrows(), data, compact)
    }

    /// The matrix of `n_rows` rows already binned under this mapper (`data`, row-major, one
    /// bin per feature), in the compact layout or the fast one (see [`BinMatrix`]).
    pub(crate) fn matrix(&self, n_rows: usize, data: Vec<u8>, compact: bool) -> BinMatrix {
        BinMatrix::with_layout(
            n_rows,
            self.features.len(),
            data,
            self.features.iter().map(|c| c.n_bins() as u8).collect(),
            compact,
        )
    }

    /// Appends the bins of every row of `x` to `out`, row-major (a batch of a larger matrix).
    pub fn bin_rows_into(&self, x: ArrayView2<'_, f64>, out: &mut Vec<u8>) {
        RowBinner::new(self).bin_rows_into(x, out);
    }
}

/// Bins rows under a [`BinMapper`], each feature's search prepared once for many batches (see
/// [`FeatureSearch`]).
pub(crate) struct RowBinner<'m> {
    mapper: &'m BinMapper,
    searches: Vec<FeatureSearch>,
}

/// How the bins of one feature's values are found: the same bin as [`FeatureCuts::bin`] in
/// every case.
enum FeatureSearch {
    /// Numeric thresholds padded with NaN to 256 entries, for a search of at most 8 halving
    /// steps (as few as the number of thresholds needs: one for a 0/1 column): see
    /// [`search_padded`]. With a table of the bins of the whole values from just below the
    /// first threshold to just above the last, when the thresholds are whole numbers in a
    /// range of at most [`WHOLE_TABLE_MAX`] (counts, codes, identifiers): a whole value's bin
    /// is then one look-up, other values are searched.
    Padded {
        thresholds: Box<[f32; HIST_SLOTS]>,
        first: usize,
        whole: Option<WholeTable>,
    },
    /// [`FeatureCuts::bin`] itself (categorical features, or 256 thresholds and more).
    General,
}

/// Most entries of one feature's [`WholeTable`] (1 MiB); features of a wider range of
/// thresholds are searched.
const WHOLE_TABLE_MAX: usize = 1 << 20;
/// Most bytes of [`WholeTable`]s over all features of a [`RowBinner`].
const WHOLE_TABLES_BUDGET: usize = 16 << 20;

/// The bins of the whole values `lo..lo + bins.len()` of a numeric feature: `bins[k - lo]` is
/// the number of thresholds at most `k`. `lo` is below the first threshold and the last entry's
/// value above the last one, so a whole value below the range has the first entry's bin, one
/// above it the last entry's.
struct WholeTable {
    lo: i64,
    bins: Vec<u8>,
}

impl WholeTable {
    /// The table of `thresholds` (ascending), when they are whole numbers of magnitude below
    /// 2^23 (so the values around them are exact in `f32`, as [`FeatureCuts::bin`] compares
    /// them) spanning at most `max` entries.
    fn new(thresholds: &[f32], max: usize) -> Option<WholeTable> {
        const EXACT: f32 = (1 << 23) as f32;
        let (&first, &last) = (thresholds.first()?, thresholds.last()?);
        if !thresholds
            .iter()
            .all(|t| t.abs() < EXACT && t.trunc() == *t)
        {
            return None;
        }
        let (lo, hi) = (first as i64 - 1, last as i64 + 1);
        let len = usize::try_from(hi - lo + 1).ok().filter(|&n| n <= max)?;
        let mut bins = Vec::with_capacity(len);
        let mut bin = 0usize;
        for k in lo..=hi {
            while bin < thresholds.len() && thresholds[bin] <= k as f32 {
                bin += 1;
            }
            bins.push(bin as u8);
        }
        Some(WholeTable { lo, bins })
    }

    /// The bin of `v` when it is a whole number (of any magnitude: those outside the range
    /// have an end's bin), else `None`.
    #[inline(always)]
    fn bin(&self, v: f64) -> Option<u8> {
        let k = v as i64;
        if k as f64 != v {
            return None;
        }
        let hi = self.lo + self.bins.len() as i64 - 1;
        Some(self.bins[(k.clamp(self.lo, hi) - self.lo) as usize])
    }
}

impl<'m> RowBinner<'m> {
    /// Every feature's search under `mapper`, prepared.
    pub fn new(mapper: &'m BinMapper) -> Self {
        let mut budget = WHOLE_TABLES_BUDGET;
        let searches = mapper
            .features
            .iter()
            .map(|c| match c {
                FeatureCuts::Numeric { thresholds } if thresholds.len() < HIST_SLOTS => {
                    let mut t = Box::new([f32::NAN; HIST_SLOTS]);
                    t[..thresholds.len()].copy_from_slice(thresholds);
                    let whole = WholeTable::new(thresholds, WHOLE_TABLE_MAX.min(budget));
                    budget -= whole.as_ref().map_or(0, |w| w.bins.len());
                    FeatureSearch::Padded {
                        thresholds: t,
                        first: first_step(thresholds.len()),
                        whole,
                    }
                }
                _ => FeatureSearch::General,
            })
            .collect();
        RowBinner { mapper, searches }
    }

    /// The cut points it bins under.
    pub fn mapper(&self) -> &'m BinMapper {
        self.mapper
    }

    /// Appends the bins of every row of `x` to `out`, row-major (a batch of a larger matrix).
    pub fn bin_rows_into(&self, x: ArrayView2<'_, f64>, out: &mut Vec<u8>) {
        let (n, d) = x.dim();
        let start_len = out.len();
        out.resize(start_len + n * d, 0);
        let data = &mut out[start_len..];
        if d == 0 {
            return;
        }
        let flat = row_major(x);
        // Tiles of rows small enough to stay in the first-level cache, binned a feature at a
        // time: each feature's search runs with its own number of steps over the whole tile.
        data.par_chunks_mut(BIN_BLOCK * d)
            .zip(flat.par_chunks(BIN_BLOCK * d))
            .for_each(|(out, x)| {
                for (out, x) in out.chunks_mut(BIN_TILE * d).zip(x.chunks(BIN_TILE * d)) {
                    for (f, (cuts, search)) in
                        self.mapper.features.iter().zip(&self.searches).enumerate()
                    {
                        let cells = out.chunks_exact_mut(d).zip(x.chunks_exact(d));
                        match search {
                            FeatureSearch::Padded {
                                thresholds,
                                first,
                                whole: Some(table),
                            } => cells.for_each(|(o, x)| {
                                o[f] = match table.bin(x[f]) {
                                    Some(b) => b,
                                    None => search_padded(
                                        thresholds,
                                        *first,
                                        x[f] as f32,
                                        cuts.n_bins() as u8,
                                    ),
                                }
                            }),
                            FeatureSearch::Padded {
                                thresholds,
                                first,
                                whole: None,
                            } => bin_tile_column(thresholds, *first, cuts.n_bins() as u8, f, cells),
                            FeatureSearch::General => {
                                cells.for_each(|(o, x)| o[f] = cuts.bin(x[f]))
                            }
                        }
                    }
                }
            });
    }
}

/// Rows binned together, a feature at a time (64 rows of 100 features are 50 KB of `f64`).
const BIN_TILE: usize = 64;

/// The values of `x` in row-major order: `x` itself when it is laid out so, else a copy.
fn row_major<'a>(x: ArrayView2<'a, f64>) -> std::borrow::Cow<'a, [f64]> {
    match x.to_slice() {
        Some(s) => std::borrow::Cow::Borrowed(s),
        None => std::borrow::Cow::Owned(x.iter().copied().collect()),
    }
}

/// Columns `fs` of the `n x d` row-major values `flat`, each copied out contiguously.
fn copy_columns(flat: &[f64], n: usize, d: usize, fs: std::ops::Range<usize>) -> Vec<Vec<f64>> {
    let mut cols: Vec<Vec<f64>> = fs.clone().map(|_| vec![0.0; n]).collect();
    if d > 0 {
        fill_columns(flat, d, fs.start, BIN_TILE, &mut cols);
    }
    cols
}

/// Fills `cols[j]` with column `f0 + j` of the row-major values `flat` (`d > 0` per row).
/// Rows are read `tile` at a time, and each tile a column at a time, so that every cache line
/// of the rows is loaded once for the whole block of columns.
fn fill_columns<T: Copy, C: AsMut<[T]>>(
    flat: &[T],
    d: usize,
    f0: usize,
    tile: usize,
    cols: &mut [C],
) {
    for (t, rows) in flat.chunks(tile * d).enumerate() {
        let r0 = t * tile;
        for (j, c) in cols.iter_mut().enumerate() {
            for (v, row) in c.as_mut()[r0..].iter_mut().zip(rows.chunks_exact(d)) {
                *v = row[f0 + j];
            }
        }
    }
}

/// Writes the bin of feature `f` of every `(output row, input row)` pair in `cells`, with
/// [`search_padded`] specialised to the number of halving steps `first` needs (the loop then
/// has no data-dependent branch and a fixed trip count).
fn bin_tile_column<'a>(
    t: &[f32; HIST_SLOTS],
    first: usize,
    missing: u8,
    f: usize,
    cells: impl Iterator<Item = (&'a mut [u8], &'a [f64])>,
) {
    fn run<'a, const FIRST: usize>(
        t: &[f32; HIST_SLOTS],
        missing: u8,
        f: usize,
        cells: impl Iterator<Item = (&'a mut [u8], &'a [f64])>,
    ) {
        for (o, x) in cells {
            o[f] = search_padded(t, FIRST, x[f] as f32, missing);
        }
    }
    match first {
        0 => run::<0>(t, missing, f, cells),
        1 => run::<1>(t, missing, f, cells),
        2 => run::<2>(t, missing, f, cells),
        4 => run::<4>(t, missing, f, cells),
        8 => run::<8>(t, missing, f, cells),
        16 => run::<16>(t, missing, f, cells),
        32 => run::<32>(t, missing, f, cells),
        64 => run::<64>(t, missing, f, cells),
        // 128, the most any padded search needs (more steps than needed find the same bin).
        _ => run::<128>(t, missing, f, cells),
    }
}

/// The first step of the halving search over `len` thresholds (`len < 256`): the largest
/// power of two at most `len` (1 when there are none), so that the steps from it down to 1
/// reach every threshold.
fn first_step(len: usize) -> usize {
    (len + 1).next_power_of_two() / 2
}

/// The bin of `v` (the number of thresholds `<= v`, or `missing` for NaN) among thresholds
/// padded with NaN to 256 entries: halving steps from `first` (see [`first_step`]) down to 1,
/// without branches on the data, the same result as [`FeatureCuts::bin`].
#[inline(always)]
fn search_padded(t: &[f32; HIST_SLOTS], first: usize, v: f32, missing: u8) -> u8 {
    let mut i = 0usize;
    let mut step = first;
    while step > 0 {
        // NaN padding compares false, so the thresholds `<= v` stay a prefix.
        i += if t[i + step - 1] <= v { step } else { 0 };
        step /= 2;
    }
    if v.is_nan() {
        missing
    } else {
        i as u8
    }
}

/// Thresholds for sorted `(value, weight)` pairs: one bin per distinct value when they fit,
/// weighted quantiles otherwise.
/// Up to this many distinct values, a column's cut points are found by counting its values
/// rather than sorting them.
const FEW_DISTINCT: usize = 8;

/// The distinct keys of `keys` in ascending order with their counts, or `None` when there are
/// more than `limit` of them.
fn distinct_counts(keys: &[u32], limit: usize) -> Option<Vec<(u32, u64)>> {
    let mut seen: Vec<(u32, u64)> = Vec::with_capacity(limit);
    for &k in keys {
        if let Some((_, n)) = seen.iter_mut().find(|(s, _)| *s == k) {
            *n += 1;
        } else if seen.len() < limit {
            seen.push((k, 1));
        } else {
            return None;
        }
    }
    seen.sort_unstable_by_key(|&(k, _)| k);
    Some(seen)
}

fn numeric_thresholds(sorted: impl Iterator<Item = (f32, f64)>, max_bins: usize) -> Vec<f32> {
    let mut dv: Vec<f32> = Vec::new();
    let mut dw: Vec<f64> = Vec::new();
    for (v, w) in sorted {
        if dv.last() == Some(&v) {
            *dw.last_mut().unwrap_or(&mut 0.0) += w;
        } else {
            dv.push(v);
            dw.push(w);
        }
    }
    if dv.len() <= max_bins {
        return dv.iter().skip(1).copied().collect();
    }
    let total: f64 = dw.iter().sum();
    let mut out = Vec::with_capacity(max_bins - 1);
    let mut acc = 0.0;
    for i in 0..dv.len() - 1 {
        acc += dw[i];
        let target = total * (out.len() + 1) as f64 / max_bins as f64;
        if acc >= target {
            out.push(dv[i + 1]);
            if out.len() == max_bins - 1 {
                break;
            }
        }
    }
    out
}

/// Bins of a nominal feature: every code its own bin when they fit, else the most frequent
/// (by weight) `max_bins` codes, in code order.
fn categorical_cuts(
    sample: &[usize],
    value: impl Fn(usize) -> f64,
    weights: Option<&[f64]>,
    num_categories: usize,
    max_bins: usize,
) -> FeatureCuts {
    let code_of_bin: Vec<u32> = if num_categories <= max_bins {
        (0..num_categories as u32).collect()
    } else {
        let mut freq = vec![0.0f64; num_categories];
        for &i in sample {
            if let Some(c) = category_code(value(i), num_categories) {
                freq[c] += weights.map_or(1.0, |w| w[i]);
            }
        }
        let mut order: Vec<u32> = (0..num_categories as u32).collect();
        order.sort_by(|&a, &b| {
            freq[b as usize]
                .total_cmp(&freq[a as usize])
                .then(a.cmp(&b))
        });
        order.truncate(max_bins);
        order.sort_unstable();
        order
    };
    let mut bin_of_code = vec![code_of_bin.len() as u8; num_categories];
    for (b, &c) in code_of_bin.iter().enumerate() {
        bin_of_code[c as usize] = b as u8;
    }
    FeatureCuts::Categorical {
        num_categories,
        bin_of_code,
        code_of_bin,
    }
}

/// Binned features, row-major: the bins of row `r` are `data[r * n_features..(r + 1) * n_features]`.
///
/// Histograms over these bins are compact: feature `f` owns the slots
/// `offsets[f]..=offsets[f] + missing_bin[f]` (its value bins, then its missing bin), so a
/// histogram has [`BinMatrix::hist_len`] slots rather than 256 per feature.
///
/// In the fast layout ([`BinMatrix::new`]) the matrix also keeps a column-major copy (for
/// partitioning a node's rows by one feature) and, where they fit, the joint slots of feature
/// groups (fewer histogram updates per row): about `2d + 2g` bytes per row for `d` features
/// in `g` groups. The compact layout ([`BinMatrix::compact`]) keeps the row-major bins alone,
/// `d` bytes per row, and reads a feature's column with a stride. Histograms are integer sums
/// either way, so both layouts give the same histograms, splits and models.
#[derive(Debug, Clone)]
pub struct BinMatrix {
    n_rows: usize,
    n_features: usize,
    data: Vec<u8>,
    /// The column-major copy (empty in the compact layout).
    cols: Vec<u8>,
    /// Joint histogram slots of feature groups, when they fit in `u16`.
    joint: Option<JointSlots>,
    missing_bin: Vec<u8>,
    offsets: Vec<usize>,
}

/// Features counted together: the histogram kernel adds a row's pair to one slot per group
/// of features rather than one per feature.
///
/// Features with few bins are packed into groups whose joint histogram (one slot per
/// combination of their bins, at most 1,024 slots) is small. The histogram of each member is
/// the joint histogram summed over the other members' bins (see
/// [`crate::hist::build_histograms`]). On click logs, where many columns have 4-60
/// categories, this takes the clicks sample from 23 slot updates per row to 17.
#[derive(Debug, Clone)]
pub struct JointSlots {
    /// The features of each group, the first one varying fastest in the joint slot index.
    pub groups: Vec<Vec<usize>>,
    /// First joint slot of each group, then the total number of joint slots.
    pub base: Vec<usize>,
    /// Slot count of each feature in the joint index (`sizes[f]`): its bins, with its
    /// missing bin only when some row is missing.
    pub sizes: Vec<usize>,
    /// Row-major joint slots: `slots[r * groups.len() + g]` is row `r`'s slot in group `g`,
    /// `base[g] + bin(f0) + n0 * (bin(f1) + n1 * ...)` with `n_i` the slot count of member `i`.
    pub slots: Vec<u16>,
}

impl JointSlots {
    /// Packs features into groups (fewest slots first, while the product of slot counts stays
    /// within [`MAX_GROUP_SLOTS`]) and fills the joint slots of every row. Falls back to one
    /// group per feature when the groups would take more than 65,536 slots, and gives `None`
    /// when even that does not fit. A feature no row is missing in (`has_missing[f]` false)
    /// takes no slot for its missing bin, so that, for instance, ten 0/1 columns share one
    /// group of 1,024 slots rather than six of 729.
    fn new(
        n_features: usize,
        data: &[u8],
        missing_bin: &[u8],
        has_missing: &[bool],
    ) -> Option<JointSlots> {
        if n_features == 0 {
            return None;
        }
        let size = |f: usize| (missing_bin[f] as usize + has_missing[f] as usize).max(1);
        let mut order: Vec<usize> = (0..n_features).collect();
        order.sort_by_key(|&f| (size(f), f));
        let mut groups: Vec<Vec<usize>> = Vec::new();
        let mut product = 1usize;
        for f in order {
            match groups.last_mut() {
                Some(g) if product.saturating_mul(size(f)) <= MAX_GROUP_SLOTS => {
                    g.push(f);
                    product *= size(f);
                }
                _ => {
                    groups.push(vec![f]);
                    product = size(f);
                }
            }
        }
        // First joint slot of each group, then the total.
        let bases = |groups: &[Vec<usize>]| -> Vec<usize> {
            let mut base = vec![0usize];
            for g in groups {
                let last = base[base.len() - 1];
                base.push(last + g.iter().map(|&f| size(f)).product::<usize>());
            }
            base
        };
        let fits = |base: &[usize]| base[base.len() - 1] <= u16::MAX as usize + 1;
        let mut base = bases(&groups);
        if !fits(&base) {
            // Joint slots would not fit u16 (many features of moderate cardinality): one
            // group per feature, in feature order, when those fit.
            groups = (0..n_features).map(|f| vec![f]).collect();
            base = bases(&groups);
            if !fits(&base) {
                return None;
            }
        }
        // Per group: (member, multiplier) pairs.
        let radix: Vec<Vec<(usize, usize)>> = groups
            .iter()
            .map(|g| {
                let mut m = 1;
                g.iter()
                    .map(|&f| {
                        let r = (f, m);
                        m *= size(f);
                        r
                    })
                    .collect()
            })
            .collect();
        let ng = groups.len();
        let mut slots = vec![0u16; data.len() / n_features * ng];
        slots
            .par_chunks_mut(BIN_BLOCK * ng)
            .zip(data.par_chunks(BIN_BLOCK * n_features))
            .for_each(|(out, rows)| {
                for (o, r) in out.chunks_exact_mut(ng).zip(rows.chunks_exact(n_features)) {
                    for ((o, members), &b0) in o.iter_mut().zip(&radix).zip(&base) {
                        let j: usize = members.iter().map(|&(f, m)| r[f] as usize * m).sum();
                        *o = (b0 + j) as u16;
                    }
                }
            });
        Some(JointSlots {
            groups,
            base,
            sizes: (0..n_features).map(size).collect(),
            slots,
        })
    }

    /// Number of groups (slots per row).
    #[inline]
    pub fn n_groups(&self) -> usize {
        self.groups.len()
    }

    /// Number of slots in a joint histogram.
    #[inline]
    pub fn len(&self) -> usize {
        self.base[self.groups.len()]
    }

    /// True when there are no groups.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }
}

/// The bins of one feature, one per row: a column of the column-major copy (stride 1), or a
/// strided view of the row-major bins in the compact layout.
#[derive(Debug, Clone, Copy)]
pub struct BinColumn<'a> {
    data: &'a [u8],
    stride: usize,
}

impl BinColumn<'_> {
    /// The bin of row `r`.
    #[inline]
    pub fn get(&self, r: usize) -> u8 {
        self.data[r * self.stride]
    }

    /// The address of row `r`'s bin, for prefetching (not dereferenced).
    #[inline]
    pub(crate) fn ptr(&self, r: usize) -> *const u8 {
        self.data.as_ptr().wrapping_add(r * self.stride)
    }

    /// The bytes from row 0's bin on (row `r`'s bin is at `r * stride`) and the stride, for
    /// vector kernels.
    #[inline]
    pub(crate) fn raw(&self) -> (&[u8], usize) {
        (self.data, self.stride)
    }
}

impl BinMatrix {
    /// A matrix from row-major bins, in the fast layout (see [`BinMatrix`]). Every bin of
    /// feature `f` must be at most `missing_bin[f]`; values above it are clamped to the
    /// missing bin.
    pub fn new(n_rows: usize, n_features: usize, data: Vec<u8>, missing_bin: Vec<u8>) -> Self {
        Self::with_layout(n_rows, n_features, data, missing_bin, false)
    }

    /// A matrix from row-major bins in the compact layout: the row-major bins alone (see
    /// [`BinMatrix`]). Bins above a feature's missing bin are clamped to it.
    pub fn compact(n_rows: usize, n_features: usize, data: Vec<u8>, missing_bin: Vec<u8>) -> Self {
        Self::with_layout(n_rows, n_features, data, missing_bin, true)
    }

    /// [`BinMatrix::new`] (`compact` false) or [`BinMatrix::compact`] (true).
    pub fn with_layout(
        n_rows: usize,
        n_features: usize,
        mut data: Vec<u8>,
        missing_bin: Vec<u8>,
        compact: bool,
    ) -> Self {
        assert_eq!(
            data.len(),
            n_rows * n_features,
            "bins: rows x features values"
        );
        assert_eq!(missing_bin.len(), n_features, "one missing bin per feature");
        if n_features > 0 {
            // The histogram kernel relies on this bound to index without checks.
            data.par_chunks_mut(BIN_BLOCK * n_features).for_each(|c| {
                for row in c.chunks_exact_mut(n_features) {
                    for (b, &m) in row.iter_mut().zip(&missing_bin) {
                        if *b > m {
                            *b = m;
                        }
                    }
                }
            });
        }
        let mut offsets = Vec::with_capacity(n_features + 1);
        let mut acc = 0usize;
        for &m in &missing_bin {
            offsets.push(acc);
            acc += m as usize + 1;
        }
        offsets.push(acc);
        if compact {
            return BinMatrix {
                n_rows,
                n_features,
                data,
                cols: Vec::new(),
                joint: None,
                missing_bin,
                offsets,
            };
        }
        let mut cols = vec![0u8; data.len()];
        if n_features > 0 && n_rows > 0 {
            // Blocks of columns, each filled from tiles of rows read once per column of the
            // block while they are in cache (a column read alone would load a cache line per
            // row, for every column).
            cols.par_chunks_mut(n_rows * TRANSPOSE_COLUMNS)
                .enumerate()
                .for_each(|(b, block)| {
                    let mut block: Vec<&mut [u8]> = block.chunks_exact_mut(n_rows).collect();
                    let f0 = b * TRANSPOSE_COLUMNS;
                    fill_columns(&data, n_features, f0, TRANSPOSE_ROWS, &mut block);
                });
        }
        // Features with a row in their missing bin.
        let mut has_missing = vec![false; n_features];
        if n_rows > 0 {
            cols.par_chunks(n_rows)
                .zip(&missing_bin)
                .map(|(c, m)| c.contains(m))
                .collect_into_vec(&mut has_missing);
        }
        let joint = JointSlots::new(n_features, &data, &missing_bin, &has_missing);
        BinMatrix {
            n_rows,
            n_features,
            data,
            cols,
            joint,
            missing_bin,
            offsets,
        }
    }

    /// A matrix from column-major bins (`data[f * n_rows + r]`).
    pub fn from_columns(
        n_rows: usize,
        n_features: usize,
        data: Vec<u8>,
        missing_bin: Vec<u8>,
    ) -> Self {
        assert_eq!(
            data.len(),
            n_rows * n_features,
            "bins: rows x features values"
        );
        let mut rows = vec![0u8; data.len()];
        for f in 0..n_features {
            for r in 0..n_rows {
                rows[r * n_features + f] = data[f * n_rows + r];
            }
        }
        BinMatrix::new(n_rows, n_features, rows, missing_bin)
    }

    /// Number of rows.
    #[inline]
    pub fn n_rows(&self) -> usize {
        self.n_rows
    }

    /// Number of features.
    #[inline]
    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// The missing bin of each feature (its number of value bins).
    #[inline]
    pub fn missing_bins(&self) -> &[u8] {
        &self.missing_bin
    }

    /// The bins of one row, one per feature.
    #[inline]
    pub fn row(&self, r: usize) -> &[u8] {
        &self.data[r * self.n_features..(r + 1) * self.n_features]
    }

    /// The features' groups and every row's joint histogram slots, when the joint slot
    /// indices fit in `u16` (at most 65,536 joint slots).
    #[inline]
    pub fn joint(&self) -> Option<&JointSlots> {
        self.joint.as_ref()
    }

    /// All bins, row after row.
    #[inline]
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// The bin of feature `f` in row `r`.
    #[inline]
    pub fn get(&self, r: usize, f: usize) -> u8 {
        self.data[r * self.n_features + f]
    }

    /// The bins of one feature, one per row.
    #[inline]
    pub fn column(&self, f: usize) -> BinColumn<'_> {
        if self.is_compact() {
            BinColumn {
                data: self.data.get(f..).unwrap_or_default(),
                stride: self.n_features,
            }
        } else {
            BinColumn {
                data: &self.cols[f * self.n_rows..(f + 1) * self.n_rows],
                stride: 1,
            }
        }
    }

    /// Whether the matrix keeps the row-major bins alone (see [`BinMatrix`]).
    #[inline]
    pub fn is_compact(&self) -> bool {
        self.cols.len() != self.data.len()
    }

    /// First histogram slot of each feature, plus the total at the end.
    #[inline]
    pub fn offsets(&self) -> &[usize] {
        &self.offsets
    }

    /// The histogram slots of feature `f`: its value bins, then its missing bin.
    #[inline]
    pub fn slots(&self, f: usize) -> std::ops::Range<usize> {
        self.offsets[f]..self.offsets[f + 1]
    }

    /// Number of slots in a histogram over these bins.
    #[inline]
    pub fn hist_len(&self) -> usize {
        self.offsets[self.n_features]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    /// The cut points of a column as the sorting path computes them: every value sorted,
    /// one run per distinct value.
    fn sorted_cuts(col: &[f64], max_bins: usize) -> Vec<f32> {
        let mut v: Vec<f32> = col
            .iter()
            .map(|&x| x as f32)
            .filter(|x| !x.is_nan())
            .collect();
        v.sort_by(f32::total_cmp);
        numeric_thresholds(v.into_iter().map(|x| (x, 1.0)), max_bins)
    }

    /// Feature `f`'s bins, row by row.
    fn column(b: &BinMatrix, f: usize) -> Vec<u8> {
        (0..b.n_rows()).map(|r| b.column(f).get(r)).collect()
    }

    #[test]
    fn the_compact_layout_keeps_the_row_major_bins_alone_and_reads_the_same_columns() {
        let (n, d) = (1000, 7);
        let mut state = 11u64;
        let data: Vec<u8> = (0..n * d)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (state >> 59) as u8
            })
            .collect();
        // Bins above the missing bin (12) are clamped in both layouts.
        let fast = BinMatrix::new(n, d, data.clone(), vec![12; d]);
        let compact = BinMatrix::compact(n, d, data.clone(), vec![12; d]);
        assert!(!fast.is_compact() && compact.is_compact());
        assert!(fast.joint().is_some() && compact.joint().is_none());
        assert_eq!(fast.data(), compact.data());
        assert_eq!(fast.hist_len(), compact.hist_len());
        for f in 0..d {
            let expected: Vec<u8> = (0..n).map(|r| data[r * d + f].min(12)).collect();
            assert_eq!(column(&fast, f), expected, "fast, feature {f}");
            assert_eq!(column(&compact, f), expected, "compact, feature {f}");
        }
    }

    #[test]
    fn columns_of_few_values_are_counted_into_the_cuts_sorting_gives() {
        // A small deterministic generator (splitmix64) for the columns.
        let mut state = 7u64;
        let mut next = move || {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        // 1 to 12 distinct values (the counting path takes up to FEW_DISTINCT), with -0.0
        // beside 0.0 and missing values among them, at several max_bin.
        for k in 1..=12usize {
            let pool: Vec<f64> = (0..k)
                .map(|i| match i {
                    0 => 0.0,
                    1 => -0.0,
                    2 => f64::NAN,
                    _ => (next() % 6_000) as f64 / 1_000.0 - 3.0,
                })
                .collect();
            let col: Vec<f64> = (0..2_000).map(|_| pool[next() as usize % k]).collect();
            let x = Array2::from_shape_vec((col.len(), 1), col.clone()).unwrap();
            for max_bin in [2, 3, 256] {
                let m = BinMapper::from_sample(x.view(), None, &[], max_bin);
                assert_eq!(
                    m.features[0],
                    FeatureCuts::Numeric {
                        thresholds: sorted_cuts(&col, max_bin.clamp(2, MAX_VALUE_BINS))
                    },
                    "{k} distinct values, max_bin {max_bin}"
                );
            }
        }
        assert_eq!(
            distinct_counts(&[5, 1, 5, 9, 1, 5], 3),
            Some(vec![(1, 2), (5, 3), (9, 1)])
        );
        assert_eq!(distinct_counts(&[5, 1, 5, 9, 1, 5], 2), None);
    }

    #[test]
    fn distinct_values_get_one_bin_each_and_nan_goes_to_the_missing_bin() {
        let x = Array2::from_shape_vec((5, 1), vec![3.0, 1.0, f64::NAN, 2.0, 1.0]).unwrap();
        let m = BinMapper::fit(x.view(), None, &[], 256);
        assert_eq!(
            m.features[0],
            FeatureCuts::Numeric {
                thresholds: vec![2.0, 3.0]
            }
        );
        let b = m.transform(x.view());
        assert_eq!(column(&b, 0), [2, 0, 3, 1, 0]);
        assert_eq!(b.missing_bins(), &[3]);
    }

    #[test]
    fn weighted_quantiles_follow_the_weights() {
        // 100 distinct values, 4 bins; the first 10 values carry 90% of the weight, so three
        // of the four bins fall among them.
        let x = Array2::from_shape_fn((100, 1), |(i, _)| i as f64);
        let w: Vec<f64> = (0..100).map(|i| if i < 10 { 81.0 } else { 1.0 }).collect();
        let m = BinMapper::fit(x.view(), Some(&w), &[], 4);
        let FeatureCuts::Numeric { thresholds } = &m.features[0] else {
            panic!("numeric expected")
        };
        assert_eq!(thresholds.len(), 3);
        assert!(thresholds.iter().filter(|&&t| t <= 10.0).count() >= 3);
        let u = BinMapper::fit(x.view(), None, &[], 4);
        assert_eq!(
            u.features[0],
            FeatureCuts::Numeric {
                thresholds: vec![25.0, 50.0, 75.0]
            }
        );
    }

    #[test]
    fn joint_slots_pack_small_features_and_encode_every_member_bin() {
        // Slot counts 4, 3, 256, 2, 9, 200: 2 x 3 x 4 x 9 = 216 fit one group, 200 and 256
        // stay alone.
        let missing = vec![3u8, 2, 255, 1, 8, 199];
        let (n, d) = (50, missing.len());
        let mut data: Vec<u8> = (0..n * d)
            .map(|i| ((i * 7 + i / d) % (missing[i % d] as usize + 1)) as u8)
            .collect();
        // Row 0 missing everywhere: every feature keeps its missing slot.
        data[..d].copy_from_slice(&missing);
        let b = BinMatrix::new(n, d, data, missing.clone());
        let j = b.joint().expect("joint slots");
        assert_eq!(j.groups, vec![vec![3, 1, 0, 4], vec![5], vec![2]]);
        assert_eq!(j.base, vec![0, 216, 416, 672]);
        for r in 0..n {
            let s = j.slots[r * 3] as usize;
            let expect = b.get(r, 3) as usize
                + 2 * (b.get(r, 1) as usize
                    + 3 * (b.get(r, 0) as usize + 4 * b.get(r, 4) as usize));
            assert_eq!(s, expect, "row {r}");
            assert_eq!(j.slots[r * 3 + 1] as usize, 216 + b.get(r, 5) as usize);
            assert_eq!(j.slots[r * 3 + 2] as usize, 416 + b.get(r, 2) as usize);
        }
    }

    /// The tiled binning (a feature at a time over tiles of rows, specialised searches), the
    /// tiled column copy of the cut-point search and the blocked column-major copy give what
    /// `FeatureCuts::bin` gives value by value: features with 0 to 254 thresholds and a
    /// categorical one, NaN, a row count that is no multiple of the tiles, and the input both
    /// row-major and as a transposed (column-major) view.
    #[test]
    fn tiled_binning_equals_binning_each_value() {
        let (n, d) = (3 * BIN_TILE + 2 * TRANSPOSE_ROWS / 3 + 5, 12);
        let mut rng = crate::testing::Rng(5);
        let mut values: Vec<f64> = (0..n * d)
            .map(|i| match i % d {
                0 => (rng.next() * 2.0).floor(),       // a 0/1 column: one threshold
                1 => (rng.next() * 5.0).floor(),       // few values
                3 => (rng.next() * 9.0).floor() - 1.0, // categorical codes, -1 invalid
                _ => rng.next() * 100.0 - 50.0,
            })
            .collect();
        for i in (0..n * d).step_by(17) {
            values[i] = f64::NAN;
        }
        let x = Array2::from_shape_vec((n, d), values).expect("n x d");
        let max_bins = [255, 255, 255, 255, 2, 3, 4, 5, 9, 17, 64, 200];
        let mappers: Vec<BinMapper> = max_bins
            .iter()
            .map(|&m| BinMapper::from_sample(x.view(), None, &[(3, 6)], m))
            .collect();
        // One mapper whose features have many different threshold counts.
        let features: Vec<FeatureCuts> = (0..d).map(|f| mappers[f].features[f].clone()).collect();
        let mapper = BinMapper { features };
        let counts: Vec<usize> = (0..d).map(|f| mapper.features[f].n_bins()).collect();
        assert!(counts.iter().any(|&c| c <= 3) && counts.iter().any(|&c| c > 100));
        let expected: Vec<u8> = (0..n * d)
            .map(|i| mapper.features[i % d].bin(x[[i / d, i % d]]))
            .collect();
        let mut row_major = Vec::new();
        mapper.bin_rows_into(x.view(), &mut row_major);
        assert_eq!(row_major, expected);
        // A column-major input, seen through a transposed view.
        let t = x.t().to_owned();
        let mut from_view = Vec::new();
        mapper.bin_rows_into(t.t(), &mut from_view);
        assert_eq!(from_view, expected);
        // The cut points do not depend on the layout either.
        let again = BinMapper::from_sample(t.t(), None, &[(3, 6)], 17);
        assert_eq!(again, mappers[9]);
        // The column-major copy of the fast layout.
        let b = mapper.transform_with_layout(x.view(), false);
        for f in 0..d {
            let want: Vec<u8> = (0..n)
                .map(|r| expected[r * d + f].min(counts[f] as u8))
                .collect();
            assert_eq!(column(&b, f), want, "feature {f}");
        }
    }

    /// Features of whole thresholds are binned through a table of their whole values: the
    /// same bins as `FeatureCuts::bin` for whole values inside, at and beyond the table's
    /// range, huge ones, `-0.0`, infinities, NaN and fractions, with thresholds near 0, in the
    /// thousands, negative, wider than a table may span, and not whole (no table).
    #[test]
    fn whole_value_tables_give_the_searched_bins() {
        let threshold_sets: Vec<Vec<f32>> = vec![
            vec![1.0],
            vec![0.0, 1.0, 2.0, 5.0, 9.0],
            (0..254).map(|i| (i * 97 + 387) as f32).collect(),
            (0..40).map(|i| (i * 3 - 70) as f32).collect(),
            vec![-3.0, 0.0, 2_000_000.0],
            vec![0.5, 1.5, 7.25],
            vec![8_388_000.0, 8_388_600.0],
        ];
        let features: Vec<FeatureCuts> = threshold_sets
            .iter()
            .map(|t| FeatureCuts::Numeric {
                thresholds: t.clone(),
            })
            .collect();
        let d = features.len();
        let mapper = BinMapper { features };
        let binner = RowBinner::new(&mapper);
        let tables: Vec<bool> = binner
            .searches
            .iter()
            .map(|s| matches!(s, FeatureSearch::Padded { whole: Some(_), .. }))
            .collect();
        // The wide one (2M entries) and the fractional one have none.
        assert_eq!(tables, [true, true, true, true, false, false, true]);
        let mut rng = crate::testing::Rng(9);
        let special = [
            -0.0,
            0.0,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            9.223_372_036_854_776e18,
            -9.223_372_036_854_776e18,
            1e300,
            -1e300,
            0.5,
            -70.0,
            -71.0,
            8_388_601.0,
            8_388_608.0,
            16_777_217.0,
        ];
        let n = 5_000;
        let values: Vec<f64> = (0..n * d)
            .map(|i| match i / d {
                r if r < special.len() => special[r],
                r if r % 3 == 0 => (rng.next() * 30_000.0 - 100.0).floor(),
                r if r % 3 == 1 => (rng.next() * 20.0 - 5.0).floor(),
                _ => rng.next() * 40.0 - 20.0,
            })
            .collect();
        let x = Array2::from_shape_vec((n, d), values).expect("n x d");
        let mut got = Vec::new();
        binner.bin_rows_into(x.view(), &mut got);
        for r in 0..n {
            for f in 0..d {
                let v = x[[r, f]];
                assert_eq!(
                    got[r * d + f],
                    mapper.features[f].bin(v),
                    "value {v}, feature {f}"
                );
            }
        }
    }

    #[test]
    fn padded_search_and_sorted_keys_agree_with_the_plain_versions() {
        let thresholds: Vec<f32> = (0..254).map(|i| (i as f32 - 100.0) * 0.5).collect();
        let cuts = FeatureCuts::Numeric {
            thresholds: thresholds.clone(),
        };
        let mut t = [f32::NAN; HIST_SLOTS];
        t[..254].copy_from_slice(&thresholds);
        let few = FeatureCuts::Numeric {
            thresholds: vec![1.0, 2.5],
        };
        let mut t2 = [f32::NAN; HIST_SLOTS];
        t2[..2].copy_from_slice(&[1.0, 2.5]);
        for i in -700..700 {
            let v = i as f32 * 0.13;
            assert_eq!(
                search_padded(&t, first_step(254), v, 255),
                cuts.bin(v as f64),
                "{v}"
            );
            assert_eq!(
                search_padded(&t2, first_step(2), v, 3),
                few.bin(v as f64),
                "{v}"
            );
            // The full 8 steps give the same bins as the shortened search.
            assert_eq!(search_padded(&t2, 128, v, 3), few.bin(v as f64), "{v}");
        }
        for v in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, -0.0, 0.0] {
            assert_eq!(
                search_padded(&t, first_step(254), v, 255),
                cuts.bin(v as f64),
                "{v}"
            );
        }
        // Every threshold count from 0 to 255: the shortened search against a linear count.
        for len in 0..HIST_SLOTS {
            let th: Vec<f32> = (0..len).map(|i| i as f32).collect();
            let mut tp = [f32::NAN; HIST_SLOTS];
            tp[..len].copy_from_slice(&th);
            for v in [
                -1.0f32,
                0.0,
                0.5,
                len as f32 / 2.0,
                len as f32 - 1.0,
                len as f32 + 3.0,
            ] {
                let linear = th.iter().filter(|&&x| x <= v).count() as u8;
                assert_eq!(
                    search_padded(&tp, first_step(len), v, 255),
                    linear,
                    "{len} {v}"
                );
            }
        }
        let mut vals = [
            3.5f32,
            -0.0,
            0.0,
            -2.0,
            f32::INFINITY,
            -1e30,
            7.0,
            f32::MIN_POSITIVE,
        ];
        let mut keys: Vec<u32> = vals.iter().map(|&v| sortable_bits(v)).collect();
        keys.sort_unstable();
        vals.sort_by(|a, b| a.total_cmp(b));
        let back: Vec<f32> = keys.into_iter().map(from_sortable_bits).collect();
        assert_eq!(
            back.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            vals.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
    }

    /// Ten 0/1 features never missing share one group of 1,024 slots (with their missing
    /// slots they would need two groups), and the histograms unfolded from it equal direct
    /// per-feature sums, missing slots zero.
    #[test]
    fn features_never_missing_take_no_joint_slot_for_the_missing_bin() {
        let (n, d) = (200, 10);
        let data: Vec<u8> = (0..n * d).map(|i| ((i * 31 + i / 7) % 2) as u8).collect();
        let b = BinMatrix::new(n, d, data, vec![2; d]);
        let j = b.joint().expect("joint slots");
        assert_eq!(j.groups.len(), 1);
        assert_eq!(j.len(), 1024);
        let gh: Vec<crate::hist::QPair> = (0..n as i32).map(|i| [i - 50, 1 + i % 3]).collect();
        let all: Vec<usize> = (0..d).collect();
        let mut h = crate::hist::new_histogram(&b);
        crate::hist::build_histogram(&b, &all, None, &gh, &mut h);
        let mut direct = crate::hist::new_histogram(&b);
        for r in 0..n {
            for f in 0..d {
                let e = &mut direct[b.slots(f).start + b.get(r, f) as usize];
                e[0] += gh[r][0] as i64;
                e[1] += gh[r][1] as i64;
            }
        }
        assert_eq!(h, direct);
    }

    #[test]
    fn joint_slots_fall_back_to_single_features_when_groups_overflow_u16() {
        // 300 features of 32 slots: pairs would take 150 x 1,024 slots, more than u16 holds;
        // one group per feature takes 9,600.
        let (n, d) = (3, 300);
        // Row 0 in every feature's missing bin, so each takes all 32 slots.
        let mut data = vec![5; n * d];
        data[..d].fill(31);
        let b = BinMatrix::new(n, d, data, vec![31; d]);
        let j = b.joint().expect("single-feature groups fit");
        assert_eq!(j.n_groups(), d);
        assert_eq!(j.len(), b.hist_len());
        assert_eq!(j.slots[d + 7] as usize, b.slots(7).start + 5);
        // 300 features of 256 slots do not fit at all.
        let wide = BinMatrix::new(n, d, vec![5; n * d], vec![255; d]);
        assert!(wide.joint().is_none());
    }

    #[test]
    fn category_codes_are_the_integers_in_range() {
        let values = [
            -0.0,
            0.0,
            f64::MIN_POSITIVE,
            0.5,
            1.0,
            2.999_999_999,
            3.0,
            68.0,
            69.0,
            69.5,
            70.0,
            -1.0,
            1e300,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            1.7e19,
            4_503_599_627_370_495.5,
        ];
        for n in [0, 1, 70, usize::MAX] {
            for &v in &values {
                let expected = (v >= 0.0 && v < n as f64 && v.fract() == 0.0).then_some(v as usize);
                assert_eq!(category_code(v, n), expected, "{v} of {n}");
            }
        }
    }

    #[test]
    fn categorical_codes_map_to_bins_and_invalid_codes_are_missing() {
        let x = Array2::from_shape_vec((4, 1), vec![2.0, 0.0, 7.0, 1.5]).unwrap();
        let m = BinMapper::fit(x.view(), None, &[(0, 3)], 256);
        let b = m.transform(x.view());
        assert_eq!(column(&b, 0), [2, 0, 3, 3]);
    }
}
