//! The training rows' values as small codes, kept during the first pass over a stream so that
//! binning needs no second read.
//!
//! Streamed training reads its source twice: once for the labels and the cut sample, once to
//! bin every row under the cut points ([`crate::gather::bin_source`]). The second read decodes
//! and assembles every batch again. When each feature has few distinct values (counts,
//! identifiers of a few thousand categories, indexed strings, hours: what click logs hold),
//! the first pass can instead give every value a 16-bit code (its feature's distinct values
//! numbered in order of first appearance) and keep the codes; once the cut points are known,
//! each feature's distinct values are binned once and every row's bins are looked up from its
//! codes. A value's bin is [`FeatureCuts::bin`] of the value itself either way, so the bins,
//! and the model, are the same as from the second read.
//!
//! The codes are kept only while they are small and cheap: at most [`MAX_DISTINCT`] distinct
//! values per feature, of which at most [`MAX_HASHED`] outside `0..65,536`'s whole numbers
//! (those are coded by direct indexing, the others through a hash table: a feature of many
//! fractional values is coded no faster than the second read bins it), and at most
//! [`CODE_BUDGET_BYTES`] of codes (2 bytes per feature and row: 256 MiB is 8.9M rows of 15
//! features). Past any of these, they are dropped (their memory freed) and training reads the
//! source again, as without them.

use std::collections::hash_map::Entry;
use std::collections::HashMap;

use ml_core::hash::FxBuildHasher;
use ndarray::ArrayView2;
use rayon::prelude::*;

use crate::binning::{BinMapper, BinMatrix, FeatureCuts};

/// Most distinct values of a feature the codes hold (16-bit codes, one value kept apart).
pub(crate) const MAX_DISTINCT: usize = u16::MAX as usize;
/// Whole values in `0..SMALL_WHOLE` find their code by direct indexing, without hashing.
const SMALL_WHOLE: usize = 1 << 16;
/// Most distinct values of a feature outside the direct table (fractions, negatives, large
/// numbers, NaN): past it the feature is taken for a continuous one, whose values a hash table
/// codes no faster than the second read bins them, and the codes are dropped.
pub(crate) const MAX_HASHED: usize = 1024;
/// Rows per tile of [`ValueCodes::push`] (256 rows of 15 features: 30 KB).
const TILE_ROWS: usize = 256;
/// The bits of `SMALL_WHOLE as f64`: a value whose bits are below it is in `+0.0..SMALL_WHOLE`.
pub(crate) const SMALL_WHOLE_BITS: u64 = 65_536.0f64.to_bits();
/// In the direct table: no code yet.
pub(crate) const NO_CODE: u16 = u16::MAX;
/// Most bytes of codes kept (2 per feature and row).
pub(crate) const CODE_BUDGET_BYTES: usize = 256 << 20;

/// One feature's codes: its distinct values (canonical bits, NaN as one) and each row's code.
#[derive(Debug, Default)]
pub(crate) struct FeatureCodes {
    /// The code of each whole value in `0..SMALL_WHOLE` (`+0.0` for zero), or [`NO_CODE`];
    /// one entry more, never a code (so that a 4-byte read at the last code stays inside).
    pub(crate) small: Vec<u16>,
    /// The codes of the other values, by their canonical bits.
    code_of: HashMap<u64, u16, FxBuildHasher>,
    values: Vec<f64>,
    /// Each row's code.
    pub(crate) rows: Vec<u16>,
}

impl FeatureCodes {
    /// Appends the codes of `column`; false when the feature gets more than `max_distinct`
    /// distinct values, or more than [`MAX_HASHED`] outside the direct table.
    fn push(&mut self, column: impl Iterator<Item = f64>, max_distinct: usize) -> bool {
        self.prepare(column.size_hint().0);
        column.into_iter().all(|v| self.push_value(v, max_distinct))
    }

    /// Appends the codes of column `j` of the row-major `rows` (`d` values a row): as
    /// [`FeatureCodes::push`], without an iterator over a strided view.
    /// Eight rows at a time with AVX-512 where the CPU has it (the same codes).
    fn push_column(&mut self, rows: &[f64], d: usize, j: usize, max_distinct: usize) -> bool {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512dq")
            && std::arch::is_x86_feature_detected!("avx512vl")
        {
            // SAFETY: the CPU has AVX-512F, DQ and VL (checked just above).
            return unsafe { crate::codes_avx512::push_column(self, rows, d, j, max_distinct) };
        }
        self.push_column_portable(rows, d, j, max_distinct)
    }

    /// [`FeatureCodes::push_column`] one value at a time.
    fn push_column_portable(
        &mut self,
        rows: &[f64],
        d: usize,
        j: usize,
        max_distinct: usize,
    ) -> bool {
        self.prepare(rows.len() / d);
        rows.chunks_exact(d)
            .all(|row| self.push_value(row[j], max_distinct))
    }

    /// The direct table allocated, and room for `n` more rows' codes.
    pub(crate) fn prepare(&mut self, n: usize) {
        if self.small.is_empty() {
            self.small = vec![NO_CODE; SMALL_WHOLE + 1];
        }
        self.rows.reserve(n);
    }

    /// Appends the code of `v`; false past the limits (see [`FeatureCodes::push`]).
    #[inline(always)]
    pub(crate) fn push_value(&mut self, v: f64, max_distinct: usize) -> bool {
        // Whole values in `0..SMALL_WHOLE`, `+0.0` only: the bits of non-negative values
        // order as the values do, and `-0.0` (sign bit set) is kept apart, as the hashed
        // values are.
        if v.to_bits() < SMALL_WHOLE_BITS && (v as u32) as f64 == v {
            let whole = v as usize;
            let code = self.small[whole];
            if code != NO_CODE {
                self.rows.push(code);
                return true;
            }
            let next = self.values.len();
            if next >= max_distinct {
                return false;
            }
            self.values.push(v);
            self.small[whole] = next as u16;
            self.rows.push(next as u16);
            return true;
        }
        let bits = if v.is_nan() {
            f64::NAN.to_bits()
        } else {
            v.to_bits()
        };
        let hashed = self.code_of.len();
        let code = match self.code_of.entry(bits) {
            Entry::Occupied(e) => *e.get(),
            Entry::Vacant(e) => {
                let next = self.values.len();
                if next >= max_distinct || hashed >= MAX_HASHED {
                    return false;
                }
                self.values.push(v);
                *e.insert(next as u16)
            }
        };
        self.rows.push(code);
        true
    }

    /// The bin of each code under `cuts`.
    fn bins(&self, cuts: &FeatureCuts) -> Vec<u8> {
        self.values.iter().map(|&v| cuts.bin(v)).collect()
    }
}

/// The codes of every feature of the rows pushed so far, or nothing once they outgrew their
/// limits (see the module's documentation).
#[derive(Debug)]
pub(crate) struct ValueCodes {
    features: Option<Vec<FeatureCodes>>,
    n_rows: usize,
    max_distinct: usize,
    budget_bytes: usize,
}

impl ValueCodes {
    /// No rows yet, for rows of `d` features, with the limits [`MAX_DISTINCT`] and
    /// [`CODE_BUDGET_BYTES`].
    pub fn new(d: usize) -> Self {
        Self::with_limits(d, MAX_DISTINCT, CODE_BUDGET_BYTES)
    }

    /// No rows yet, with the given limits (at most [`MAX_DISTINCT`] distinct values).
    pub fn with_limits(d: usize, max_distinct: usize, budget_bytes: usize) -> Self {
        ValueCodes {
            features: Some((0..d).map(|_| FeatureCodes::default()).collect()),
            n_rows: 0,
            max_distinct: max_distinct.min(MAX_DISTINCT),
            budget_bytes,
        }
    }

    /// True while the codes of every row pushed are held.
    #[cfg(test)]
    pub fn is_kept(&self) -> bool {
        self.features.is_some()
    }

    /// Codes the rows of `x` (one row per training row), the features in parallel; drops every
    /// code when a limit is passed.
    pub fn push(&mut self, x: ArrayView2<'_, f64>) {
        let Some(features) = self.features.as_mut() else {
            return;
        };
        self.n_rows += x.nrows();
        let max = self.max_distinct;
        // The features in one contiguous group per thread; each group walks the rows in
        // tiles that stay in the first-level cache, a feature at a time within a tile.
        let d = features.len().max(1);
        let per_group = d.div_ceil(rayon::current_num_threads().clamp(1, d));
        let n = x.nrows();
        let fits = self.n_rows.saturating_mul(2 * features.len()) <= self.budget_bytes
            && features
                .par_chunks_mut(per_group)
                .enumerate()
                .map(|(g, group)| {
                    (0..n).step_by(TILE_ROWS).all(|r| {
                        let tile = x.slice(ndarray::s![r..(r + TILE_ROWS).min(n), ..]);
                        let flat = tile.as_slice();
                        group.iter_mut().enumerate().all(|(k, f)| {
                            let j = g * per_group + k;
                            match flat {
                                Some(rows) => f.push_column(rows, d, j, max),
                                None => f.push(tile.column(j).iter().copied(), max),
                            }
                        })
                    })
                })
                .collect::<Vec<bool>>()
                .into_iter()
                .all(|ok| ok);
        if !fits {
            self.features = None;
        }
    }

    /// The rows' bins under `mapper` (of as many features), in the layout `compact` asks for
    /// (see [`BinMatrix`]); `None` when the codes were dropped.
    pub fn bin(&self, mapper: &BinMapper, compact: bool) -> Option<BinMatrix> {
        let features = self.features.as_ref()?;
        let d = features.len();
        if mapper.features.len() != d {
            return None;
        }
        let tables: Vec<Vec<u8>> = features
            .iter()
            .zip(&mapper.features)
            .map(|(f, cuts)| f.bins(cuts))
            .collect();
        let mut data = vec![0u8; self.n_rows * d];
        const ROWS_PER_TASK: usize = 1 << 14;
        if d > 0 {
            data.par_chunks_mut(ROWS_PER_TASK * d)
                .enumerate()
                .for_each(|(t, out)| {
                    let r0 = t * ROWS_PER_TASK;
                    for (j, (f, table)) in features.iter().zip(&tables).enumerate() {
                        let codes = &f.rows[r0..r0 + out.len() / d];
                        for (row, &c) in out.chunks_exact_mut(d).zip(codes) {
                            row[j] = table[c as usize];
                        }
                    }
                });
        }
        Some(mapper.matrix(self.n_rows, data, compact))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    /// Rows of 3 features: few integer values (with `-0.0` and some past the direct table),
    /// NaN and fractions among them, and a feature of `wide` distinct values.
    fn rows(n: usize, start: usize, wide: usize) -> Array2<f64> {
        Array2::from_shape_fn((n, 3), |(i, j)| {
            let r = start + i;
            match j {
                0 if r.is_multiple_of(11) => -0.0,
                0 if r.is_multiple_of(17) => 1e6 + (r % 3) as f64,
                0 => (r * 7 % 13) as f64,
                1 if r.is_multiple_of(5) => f64::NAN,
                1 => (r % 3) as f64 * 0.5 - 0.5,
                _ => (r * 2_654_435_761 % wide) as f64,
            }
        })
    }

    fn mapper(x: &Array2<f64>) -> BinMapper {
        BinMapper::from_sample(x.view(), None, &[(0, 13)], 8)
    }

    #[test]
    fn bins_from_codes_equal_bins_from_values() {
        let all = rows(5_000, 0, 700);
        let mapper = mapper(&all);
        for compact in [false, true] {
            let mut codes = ValueCodes::new(3);
            for (start, n) in [(0, 1_000), (1_000, 1), (1_001, 0), (1_001, 3_999)] {
                codes.push(all.slice(ndarray::s![start..start + n, ..]));
            }
            assert!(codes.is_kept());
            let got = codes.bin(&mapper, compact).unwrap();
            // Binned from the values directly, as the second read bins them.
            let want = mapper.transform_with_layout(all.view(), compact);
            assert_eq!(got.n_rows(), want.n_rows());
            assert_eq!(got.is_compact(), want.is_compact());
            assert_eq!(got.missing_bins(), want.missing_bins());
            for r in 0..want.n_rows() {
                for f in 0..3 {
                    assert_eq!(got.get(r, f), want.get(r, f), "row {r} feature {f}");
                    assert_eq!(got.column(f).get(r), want.column(f).get(r));
                }
            }
        }
    }

    /// A column coded through `push_column` (eight rows at a time with AVX-512, where the CPU
    /// has it) gets the codes, distinct values and answers of the one-value-at-a-time path:
    /// values seen for the first time inside a group of eight, `-0.0`, NaN, fractions, values
    /// past the direct table, the table's last entry, and a column stopping at its limit.
    #[test]
    fn column_codes_equal_the_portable_codes() {
        let d = 4;
        for (n, wide, max_distinct) in [
            (0usize, 10usize, MAX_DISTINCT),
            (7, 10, MAX_DISTINCT),
            (8, 3, MAX_DISTINCT),
            (1_003, 40, MAX_DISTINCT),
            (5_000, 700, MAX_DISTINCT),
            (5_000, 700, 300),
        ] {
            let mut x = rows(n, 0, wide).into_raw_vec_and_offset().0;
            // A fourth feature: the direct table's edges and repeats of them.
            x = x
                .chunks_exact(3)
                .enumerate()
                .flat_map(|(i, r)| {
                    let edge = [0.0, 65_535.0, 65_536.0, 65_534.0][i % 4];
                    [
                        r[0],
                        r[1],
                        r[2],
                        if i % 3 == 0 { edge } else { (i % 9) as f64 },
                    ]
                })
                .collect();
            for j in 0..d {
                let mut fast = FeatureCodes::default();
                let mut slow = FeatureCodes::default();
                // Two pushes, so that the second starts with codes already given.
                let half = n / 2 * d;
                let a = fast.push_column(&x[..half], d, j, max_distinct)
                    && fast.push_column(&x[half..], d, j, max_distinct);
                let b = slow.push_column_portable(&x[..half], d, j, max_distinct)
                    && slow.push_column_portable(&x[half..], d, j, max_distinct);
                assert_eq!(a, b, "{n} rows, feature {j}");
                if a {
                    assert_eq!(fast.rows, slow.rows, "{n} rows, feature {j}");
                    let bits =
                        |f: &FeatureCodes| f.values.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                    assert_eq!(bits(&fast), bits(&slow), "{n} rows, feature {j}");
                }
            }
        }
    }

    #[test]
    fn codes_past_their_limits_are_dropped() {
        // A feature with more distinct values than allowed.
        let mut codes = ValueCodes::with_limits(3, 100, usize::MAX);
        codes.push(rows(50, 0, 60).view());
        assert!(codes.is_kept());
        codes.push(rows(400, 50, 200).view());
        assert!(!codes.is_kept());
        assert!(codes.bin(&mapper(&rows(10, 0, 5)), false).is_none());
        // More distinct values outside the direct table than MAX_HASHED (fractions).
        let mut codes = ValueCodes::new(1);
        let fractions = |n: usize| Array2::from_shape_fn((n, 1), |(i, _)| i as f64 + 0.5);
        codes.push(fractions(MAX_HASHED).view());
        assert!(codes.is_kept());
        codes.push(fractions(MAX_HASHED + 1).view());
        assert!(!codes.is_kept());
        // More bytes of codes than the budget: 3 features x 2 bytes x 100 rows = 600.
        let mut codes = ValueCodes::with_limits(3, 100, 600);
        codes.push(rows(100, 0, 5).view());
        assert!(codes.is_kept());
        codes.push(rows(1, 100, 5).view());
        assert!(!codes.is_kept());
    }
}
