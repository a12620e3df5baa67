//! The sample cut points are computed from: the rows with the `k` smallest content hashes.
//!
//! A row's hash depends only on its feature values and its weight, never on its position, its
//! batch or its worker, so "the `k` rows with the smallest hashes" is a property of the set of
//! rows alone: the same sample (and so the same cut points) whatever the row order, the
//! partitioning between workers or the batching of a stream. When there are at most `k` rows
//! the sample is every row and the cuts are exact (the weighted quantiles of all values).
//!
//! [`CutSampler`] is built for that: [`CutSampler::push`] takes a batch of rows and keeps the
//! `k` smallest seen so far, [`CutSampler::merge`] combines two samplers (the `k` smallest of
//! a union are the `k` smallest of the union of each part's `k` smallest),
//! [`CutSampler::merge_across`] merges every worker's sampler through a
//! [`Collective`](ml_dist::Collective) (all-gather of each worker's sample), and
//! [`CutSampler::finish`] computes the cut points from the merged sample in a canonical order
//! (sorted by hash, then by content), so the cuts are a function of the sample's content
//! alone. The in-memory `fit` pushes its whole matrix as one batch; streamed training (issue
//! 14) pushes each record batch as it is read, in any order, and gets the same cuts.
//!
//! Ties: rows with equal hashes are ordered by their values' bits, then their weight's, so the
//! order is total on distinct rows; identical rows are interchangeable, so which copies are
//! kept does not matter. Identical rows have identical hashes and are kept or dropped
//! together (except at the boundary), so heavily duplicated data gives a sample of distinct
//! rows with their multiplicities; the quantiles it estimates stay those of all rows.
//!
//! Memory: `k * (d + 2) * 8` bytes (200,000 rows by default: 35 MB for 20 features), and the
//! hash of each row of the batch being pushed.

use std::cmp::Ordering;

use ml_core::{MlError, Result};
use ml_dist::Collective;
use ndarray::{ArrayView2, Axis};
use rayon::prelude::*;

use crate::binning::BinMapper;

/// Rows kept in the cut-point sample (as LightGBM's `bin_construct_sample_cnt`).
pub(crate) const CUT_SAMPLE_ROWS: usize = 200_000;

/// The bits of a value as hashed and compared: NaN of any payload as one NaN.
#[inline]
fn canonical_bits(v: f64) -> u64 {
    if v.is_nan() {
        f64::NAN.to_bits()
    } else {
        v.to_bits()
    }
}

/// SplitMix64's finalizer: every input bit affects every output bit.
#[inline]
pub(crate) fn avalanche(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The content hash of a row: of its feature values (NaN canonical) and its weight.
#[inline]
pub(crate) fn row_hash(row: impl Iterator<Item = f64>, weight: f64) -> u64 {
    let h = row.fold(ROW_HASH_SEED, hash_value);
    hash_weight(h, weight)
}

/// Where a row's hash starts.
pub(crate) const ROW_HASH_SEED: u64 = 0x243F_6A88_85A3_08D3;

/// A row's hash `h` so far, with its next value `v` taken in.
#[inline(always)]
fn hash_value(h: u64, v: f64) -> u64 {
    avalanche(h ^ canonical_bits(v)).wrapping_add(0x9E37_79B9_7F4A_7C15)
}

/// A row's hash from its values' hash `h` and its weight.
#[inline(always)]
fn hash_weight(h: u64, weight: f64) -> u64 {
    avalanche(h ^ canonical_bits(weight))
}

/// Rows hashed together by [`row_hashes`]: their hash chains are independent, so the CPU
/// overlaps them (one row's chain is a sequence of multiplications, each waiting for the last).
const HASH_LANES: usize = 8;

/// [`row_hash`] of every row of the row-major `values` (`out.len()` rows of `d` values), the
/// weight of row `i` being `weight(i)`: the same hashes, [`HASH_LANES`] rows at a time, or 32
/// at a time with AVX-512 where the CPU has it.
pub(crate) fn row_hashes(values: &[f64], d: usize, weight: impl Fn(usize) -> f64, out: &mut [u64]) {
    let n = out.len();
    assert_eq!(values.len(), n * d, "row_hashes: rows x features values");
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512dq")
    {
        // SAFETY: the CPU has AVX-512F and AVX-512DQ (checked just above); the lengths were
        // checked just before.
        return unsafe { crate::sample_avx512::row_hashes(values, d, weight, out) };
    }
    row_hashes_portable(values, d, weight, out);
}

/// [`row_hashes`] without AVX-512.
fn row_hashes_portable(values: &[f64], d: usize, weight: impl Fn(usize) -> f64, out: &mut [u64]) {
    let n = out.len();
    let full = n / HASH_LANES * HASH_LANES;
    for r0 in (0..full).step_by(HASH_LANES) {
        let rows: [&[f64]; HASH_LANES] =
            std::array::from_fn(|l| &values[(r0 + l) * d..(r0 + l + 1) * d]);
        let mut h = [ROW_HASH_SEED; HASH_LANES];
        for j in 0..d {
            for (h, row) in h.iter_mut().zip(&rows) {
                *h = hash_value(*h, row[j]);
            }
        }
        for (l, h) in h.into_iter().enumerate() {
            out[r0 + l] = hash_weight(h, weight(r0 + l));
        }
    }
    for (r, o) in out.iter_mut().enumerate().skip(full) {
        *o = row_hash(values[r * d..(r + 1) * d].iter().copied(), weight(r));
    }
}

/// Rows per task when a batch's rows are hashed.
const HASH_BLOCK: usize = 4096;

/// The rows with the `k` smallest content hashes of all rows pushed or merged into it (see
/// the module docs).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CutSampler {
    k: usize,
    d: usize,
    weighted: bool,
    hashes: Vec<u64>,
    weights: Vec<f64>,
    /// Row-major values of the kept rows.
    values: Vec<f64>,
    /// The largest hash a row can have and still be among the `k` smallest: the `k`-th
    /// smallest hash held after a pruning (`u64::MAX` before one). Rows pushed with a larger
    /// hash are not copied.
    threshold: u64,
}

impl CutSampler {
    /// An empty sampler of rows of `d` features keeping `k` rows; `weighted` when rows carry
    /// weights (rows of weight 0 are then not sampled: they do not move any quantile).
    pub fn new(d: usize, k: usize, weighted: bool) -> Self {
        CutSampler {
            k: k.max(1),
            d,
            weighted,
            hashes: Vec::new(),
            weights: Vec::new(),
            values: Vec::new(),
            threshold: u64::MAX,
        }
    }

    /// Number of rows held (up to `2k` plus a batch between prunings; the sample is the `k`
    /// smallest of them).
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    /// Orders kept rows `a` and `b`: by hash, then by values' bits, then by weight's bits.
    fn cmp_rows(&self, a: usize, b: usize) -> Ordering {
        let d = self.d;
        self.hashes[a]
            .cmp(&self.hashes[b])
            .then_with(|| {
                let (ra, rb) = (
                    &self.values[a * d..(a + 1) * d],
                    &self.values[b * d..(b + 1) * d],
                );
                ra.iter()
                    .map(|&v| canonical_bits(v))
                    .cmp(rb.iter().map(|&v| canonical_bits(v)))
            })
            .then_with(|| canonical_bits(self.weights[a]).cmp(&canonical_bits(self.weights[b])))
    }

    /// Keeps the listed rows, in that order.
    fn keep(&mut self, order: &[usize]) {
        let d = self.d;
        self.hashes = order.iter().map(|&i| self.hashes[i]).collect();
        self.weights = order.iter().map(|&i| self.weights[i]).collect();
        let mut values = vec![0.0; order.len() * d];
        values
            .par_chunks_mut(d.max(1))
            .zip(order.par_iter())
            .with_min_len(1024)
            .for_each(|(dst, &i)| dst.copy_from_slice(&self.values[i * d..(i + 1) * d]));
        self.values = values;
    }

    /// Drops all but the `k` smallest rows.
    fn prune(&mut self) {
        let n = self.len();
        if n <= self.k {
            return;
        }
        // Each row's hash beside its index, so the selection reads them in order (rows are
        // compared by content only where hashes are equal).
        let mut idx: Vec<(u64, usize)> = self.hashes.iter().copied().zip(0..n).collect();
        idx.select_nth_unstable_by(self.k - 1, |a, b| {
            a.0.cmp(&b.0).then_with(|| self.cmp_rows(a.1, b.1))
        });
        idx.truncate(self.k);
        idx.sort_unstable_by_key(|&(_, i)| i);
        // Kept rows moved down in place (`idx[j] >= j`, ascending), so the buffers keep their
        // capacity (and their pages) for the rows pushed next.
        let d = self.d;
        for (j, &(_, i)) in idx.iter().enumerate() {
            self.hashes[j] = self.hashes[i];
            self.weights[j] = self.weights[i];
            self.values.copy_within(i * d..(i + 1) * d, j * d);
        }
        self.hashes.truncate(self.k);
        self.weights.truncate(self.k);
        self.values.truncate(self.k * d);
        self.threshold = self.hashes.iter().copied().max().unwrap_or(u64::MAX);
    }

    /// Offers a batch of rows (`x`, with `weights` when the sampler is weighted).
    pub fn push(&mut self, x: ArrayView2<'_, f64>, weights: Option<&[f64]>) -> Result<()> {
        let (n, d) = x.dim();
        if d != self.d {
            return Err(MlError::data(format!(
                "a batch of {d} features offered to a cut sample of {} features",
                self.d
            )));
        }
        if weights.is_some() != self.weighted || weights.is_some_and(|w| w.len() != n) {
            return Err(MlError::data(
                "a batch offered to the cut sample has weights where it should not, or the \
                 wrong number of them",
            ));
        }
        let w = |i: usize| weights.map_or(1.0, |w| w[i]);
        // Rows and their hashes (rows of weight 0 left out), but for rows that cannot be
        // among the k smallest: once k rows are held, a row whose hash is larger than all of
        // theirs ranks after each of them (ties, broken by content, are kept).
        let threshold = self.threshold;
        let mut cand: Vec<(u64, usize)> = match x.as_slice() {
            // Row-major rows (the usual batch): hashed a block of rows at a time.
            Some(flat) if d > 0 => flat
                .par_chunks(HASH_BLOCK * d)
                .enumerate()
                .flat_map_iter(|(b, rows)| {
                    let first = b * HASH_BLOCK;
                    let mut h = vec![0u64; rows.len() / d];
                    row_hashes(rows, d, |i| w(first + i), &mut h);
                    h.into_iter()
                        .enumerate()
                        .map(move |(i, h)| (h, first + i))
                        .filter(move |&(h, i)| w(i) > 0.0 && h <= threshold)
                })
                .collect(),
            _ => (0..n)
                .into_par_iter()
                .with_min_len(HASH_BLOCK)
                .filter(|&i| w(i) > 0.0)
                .map(|i| (row_hash(x.row(i).iter().copied(), w(i)), i))
                .filter(|&(h, _)| h <= threshold)
                .collect(),
        };
        // Only the batch's k smallest can be among the sampler's k smallest.
        if cand.len() > self.k {
            let row_bits = |i: usize| {
                x.row(i)
                    .iter()
                    .map(|&v| canonical_bits(v))
                    .collect::<Vec<_>>()
            };
            let cmp = |a: &(u64, usize), b: &(u64, usize)| {
                a.0.cmp(&b.0)
                    .then_with(|| row_bits(a.1).cmp(&row_bits(b.1)))
                    .then_with(|| canonical_bits(w(a.1)).cmp(&canonical_bits(w(b.1))))
            };
            cand.select_nth_unstable_by(self.k - 1, cmp);
            cand.truncate(self.k);
            cand.sort_unstable_by_key(|&(_, i)| i);
        }
        self.hashes.extend(cand.iter().map(|&(h, _)| h));
        self.weights.extend(cand.iter().map(|&(_, i)| w(i)));
        // The rows' values, copied in parallel.
        let at = self.values.len();
        // Room for as many rows as are held before a pruning (twice the sample) and this
        // batch, reserved once: the buffer is not copied as it grows.
        if self.values.capacity() < at + cand.len() * d {
            let rows = (2 * self.k + cand.len()).max(self.len() + cand.len());
            self.values.reserve_exact(rows * d - at);
        }
        self.values.resize(at + cand.len() * d, 0.0);
        self.values[at..]
            .par_chunks_mut(d.max(1))
            .zip(cand.par_iter())
            .with_min_len(1024)
            .for_each(|(dst, &(_, i))| {
                let row = x.row(i);
                match row.as_slice() {
                    Some(src) => dst.copy_from_slice(src),
                    None => dst.iter_mut().zip(row).for_each(|(o, &v)| *o = v),
                }
            });
        // Pruned once the held rows pass 2k, not at every batch: a stream of batches would
        // otherwise select and copy k rows per batch. Which rows survive does not depend on
        // when pruning happens (the k smallest of all rows, in a total order).
        if self.len() > 2 * self.k {
            self.prune();
        }
        Ok(())
    }

    /// Adds `other`'s rows (a sampler of the same shape): the result holds the `k` smallest of
    /// the rows of both.
    pub fn merge(&mut self, other: &CutSampler) -> Result<()> {
        if (other.d, other.k, other.weighted) != (self.d, self.k, self.weighted) {
            return Err(MlError::data(format!(
                "cannot merge cut samples of different shapes: {} features, k {}, weighted {} \
                 against {} features, k {}, weighted {}",
                other.d, other.k, other.weighted, self.d, self.k, self.weighted
            )));
        }
        self.hashes.extend_from_slice(&other.hashes);
        self.weights.extend_from_slice(&other.weights);
        self.values.extend_from_slice(&other.values);
        self.prune();
        Ok(())
    }

    /// The sampler as bytes (little-endian): `k`, `d`, weighted, row count, then hashes,
    /// weights and values.
    pub fn to_bytes(&self) -> Vec<u8> {
        if self.len() > self.k {
            let mut pruned = self.clone();
            pruned.prune();
            return pruned.to_bytes();
        }
        let n = self.len();
        let mut out = Vec::with_capacity(25 + n * (16 + 8 * self.d));
        out.extend((self.k as u64).to_le_bytes());
        out.extend((self.d as u64).to_le_bytes());
        out.push(self.weighted as u8);
        out.extend((n as u64).to_le_bytes());
        out.extend(self.hashes.iter().flat_map(|h| h.to_le_bytes()));
        out.extend(self.weights.iter().flat_map(|w| w.to_le_bytes()));
        out.extend(self.values.iter().flat_map(|v| v.to_le_bytes()));
        out
    }

    /// A sampler from [`CutSampler::to_bytes`], with its structure checked.
    pub fn from_bytes(b: &[u8]) -> Result<Self> {
        let bad = || MlError::data("a cut sample received from another worker is malformed");
        let word = |at: usize| -> Result<u64> {
            b.get(at..at + 8)
                .map(|s| u64::from_le_bytes(s.try_into().unwrap_or_default()))
                .ok_or_else(bad)
        };
        let (k, d) = (word(0)? as usize, word(8)? as usize);
        let weighted = *b.get(16).ok_or_else(bad)? != 0;
        let n = word(17)? as usize;
        let body = &b[25..];
        let expect = n
            .checked_mul(d.checked_add(2).ok_or_else(bad)?)
            .and_then(|c| c.checked_mul(8))
            .ok_or_else(bad)?;
        if body.len() != expect || k == 0 {
            return Err(bad());
        }
        let words: Vec<u64> = body
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default()))
            .collect();
        Ok(CutSampler {
            k,
            d,
            weighted,
            hashes: words[..n].to_vec(),
            weights: words[n..2 * n].iter().map(|&w| f64::from_bits(w)).collect(),
            values: words[2 * n..].iter().map(|&v| f64::from_bits(v)).collect(),
            threshold: u64::MAX,
        })
    }

    /// Every worker's sampler merged, on every worker (all-gather; workers merged in rank
    /// order, though the result does not depend on it). With one worker, the sampler itself.
    pub fn merge_across(mut self, collective: &dyn Collective) -> Result<Self> {
        self.prune();
        if collective.world_size() == 1 {
            return Ok(self);
        }
        let parts = collective.all_gather(&self.to_bytes())?;
        let mut merged = CutSampler::new(self.d, self.k, self.weighted);
        for p in parts {
            merged.merge(&CutSampler::from_bytes(&p)?)?;
        }
        Ok(merged)
    }

    /// The cut points from the sample (at most `max_bin` value bins per feature;
    /// `categorical` lists `(slot, num_categories)`), computed over the rows in canonical
    /// order (by hash, then content) so that they depend on the sample's content alone.
    ///
    /// Without weights the cuts depend on the multiset of sampled values alone (see
    /// [`BinMapper::from_sample`]), so the rows are not put in that order first.
    pub fn finish(&self, categorical: &[(usize, usize)], max_bin: usize) -> BinMapper {
        if !self.weighted && self.len() <= self.k {
            let x = ArrayView2::from_shape((self.len(), self.d), &self.values)
                .expect("values hold rows x features");
            return BinMapper::from_sample(x, None, categorical, max_bin);
        }
        let mut sorted = self.clone();
        sorted.prune();
        let mut order: Vec<usize> = (0..sorted.len()).collect();
        order.sort_unstable_by(|&a, &b| sorted.cmp_rows(a, b));
        sorted.keep(&order);
        let x = ArrayView2::from_shape((sorted.len(), self.d), &sorted.values)
            .expect("values hold rows x features");
        debug_assert_eq!(x.len_of(Axis(0)), sorted.len());
        let w = self.weighted.then_some(&sorted.weights[..]);
        BinMapper::from_sample(x, w, categorical, max_bin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Rng;
    use ndarray::Array2;

    fn data(n: usize, d: usize, seed: u64) -> (Array2<f64>, Vec<f64>) {
        let mut rng = Rng(seed);
        let x = Array2::from_shape_fn((n, d), |(_, f)| {
            let u = rng.next();
            if f == 1 && u < 0.1 {
                f64::NAN
            } else {
                (u * 1000.0).floor() / 7.0
            }
        });
        let w = (0..n).map(|i| (i % 5) as f64 * 0.5).collect();
        (x, w)
    }

    /// The k smallest by a direct sort of every row's (hash, content).
    fn direct(x: &Array2<f64>, w: Option<&[f64]>, k: usize) -> Vec<u64> {
        let mut h: Vec<u64> = (0..x.nrows())
            .filter(|&i| w.is_none_or(|w| w[i] > 0.0))
            .map(|i| row_hash(x.row(i).iter().copied(), w.map_or(1.0, |w| w[i])))
            .collect();
        h.sort_unstable();
        h.truncate(k);
        h
    }

    fn sorted_hashes(s: &CutSampler) -> Vec<u64> {
        let mut h = s.hashes.clone();
        h.sort_unstable();
        h
    }

    /// The hashes of rows hashed eight at a time (and 32 at a time with AVX-512, where the CPU
    /// has it) equal those of rows hashed one by one (NaN of any payload as one NaN, negative
    /// zero as itself, weights included), for row counts that are not multiples of eight.
    #[test]
    fn rows_hashed_together_have_each_rows_own_hash() {
        for (n, d) in [
            (0usize, 3usize),
            (1, 1),
            (7, 5),
            (8, 2),
            (61, 23),
            (1000, 11),
            (33, 1),
        ] {
            let (x, w) = data(n, d, 17 + n as u64);
            let mut flat: Vec<f64> = x.iter().copied().collect();
            if n > 3 {
                flat[2] = f64::from_bits(0x7FF8_0000_0000_0042); // a NaN with a payload
                flat[3] = -0.0;
            }
            let mut got = vec![0u64; n];
            row_hashes(&flat, d, |i| w[i], &mut got);
            let mut portable = vec![0u64; n];
            row_hashes_portable(&flat, d, |i| w[i], &mut portable);
            for (i, (&h, &p)) in got.iter().zip(&portable).enumerate() {
                let one = row_hash(flat[i * d..(i + 1) * d].iter().copied(), w[i]);
                assert_eq!(h, one, "row {i} of {n} x {d}");
                assert_eq!(p, one, "row {i} of {n} x {d} (portable)");
            }
        }
    }

    #[test]
    fn the_sample_is_the_k_smallest_hashes_whatever_the_batches_and_their_order() {
        let (x, w) = data(3000, 4, 5);
        for weighted in [false, true] {
            let wt = weighted.then_some(&w[..]);
            let mut one = CutSampler::new(4, 500, weighted);
            one.push(x.view(), wt).unwrap();
            assert_eq!(sorted_hashes(&one), direct(&x, wt, 500));
            // Batches in reverse order, merged from two samplers.
            let (mut a, mut b) = (
                CutSampler::new(4, 500, weighted),
                CutSampler::new(4, 500, weighted),
            );
            for (j, chunk) in (0..3000)
                .step_by(700)
                .enumerate()
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
            {
                let end = (chunk + 700).min(3000);
                let part = x.slice(ndarray::s![chunk..end, ..]);
                let pw = wt.map(|w| &w[chunk..end]);
                if j % 2 == 0 {
                    a.push(part, pw).unwrap()
                } else {
                    b.push(part, pw).unwrap()
                }
            }
            a.merge(&b).unwrap();
            assert_eq!(a.finish(&[], 16), one.finish(&[], 16));
            // Through bytes.
            let back = CutSampler::from_bytes(&a.to_bytes()).unwrap();
            assert_eq!(back.finish(&[(3, 20)], 16), one.finish(&[(3, 20)], 16));
        }
    }

    #[test]
    fn fewer_rows_than_k_give_exact_cuts_of_all_values() {
        let x = Array2::from_shape_fn((100, 1), |(i, _)| ((i * 37) % 100) as f64);
        let mut s = CutSampler::new(1, 1000, false);
        s.push(x.view(), None).unwrap();
        assert_eq!(s.len(), 100);
        let m = s.finish(&[], 4);
        assert_eq!(
            m.features[0],
            crate::binning::FeatureCuts::Numeric {
                thresholds: vec![25.0, 50.0, 75.0]
            }
        );
    }

    #[test]
    fn malformed_bytes_and_shape_mismatches_are_errors() {
        let s = CutSampler::new(2, 10, false);
        let mut b = s.to_bytes();
        b.push(0);
        assert!(CutSampler::from_bytes(&b).is_err());
        assert!(CutSampler::from_bytes(&[1, 2, 3]).is_err());
        let mut t = CutSampler::new(3, 10, false);
        assert!(t.merge(&s).is_err());
        let x = Array2::<f64>::zeros((2, 2));
        assert!(t.push(x.view(), None).is_err());
    }
}
