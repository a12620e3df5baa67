//! [`QuantileSummary`]: approximate quantiles of a stream of numbers in bounded memory, with a
//! guaranteed rank error: Spark's `QuantileSummaries` (the Greenwald-Khanna sketch with a
//! sorted insertion buffer), which Spark's `approxQuantile` and `Imputer` median use.
//!
//! With `relative_error` ε and `n` values, [`QuantileSummary::query`]`(q)` returns a value whose
//! rank lies within `ε·n` of `⌈q·n⌉` (Greenwald and Khanna 2001; Spark's default ε is 0.001 for
//! the Imputer, 0.01 for `approxQuantile`). Memory is `O((1/ε)·log(ε·n))` entries plus a buffer
//! of 50,000 values. Up to 50,000 values (while everything is still in that buffer) the answer
//! is exact: the value at rank `⌈q·n⌉` (Spark would already answer within its rank error there;
//! an exact answer is within every error).
//!
//! The sketch depends only on the sequence of inserted values, not on how they were cut into
//! batches, so fitting from a stream gives the same answer as fitting from the whole column in
//! the same row order.
//!
//! ```
//! use ml_core::quantile::QuantileSummary;
//! let mut s = QuantileSummary::new(0.001).unwrap();
//! for v in [5.0, 1.0, 4.0, 2.0, 3.0] {
//!     s.insert(v);
//! }
//! assert_eq!(s.query(0.5).unwrap(), Some(3.0)); // exact up to 50,000 values
//! ```

use crate::error::{MlError, Result};

/// Values buffered before they are merged into the sketch (Spark's `defaultHeadSize`).
const HEAD_SIZE: usize = 50_000;
/// Entries in the sketch above which a merge of the buffer also compresses (Spark's
/// `defaultCompressThreshold`).
const COMPRESS_THRESHOLD: usize = 10_000;

/// One sketch entry: a value, `g` = its minimum rank minus the previous entry's, and `delta` =
/// the uncertainty of its rank (Greenwald-Khanna's tuple).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Entry {
    value: f64,
    g: u64,
    delta: u64,
}

/// Approximate quantiles with rank error at most `relative_error · count` (see the
/// [module docs](self)).
#[derive(Debug, Clone)]
pub struct QuantileSummary {
    relative_error: f64,
    sampled: Vec<Entry>,
    /// Values merged into `sampled`.
    count: u64,
    head: Vec<f64>,
}

impl QuantileSummary {
    /// An empty summary; `relative_error` must be in `[0, 1]` (0 keeps every value: exact).
    pub fn new(relative_error: f64) -> Result<Self> {
        if !(0.0..=1.0).contains(&relative_error) {
            return Err(MlError::param(
                "relative_error",
                format!("must be in [0, 1], got {relative_error}"),
            ));
        }
        Ok(QuantileSummary {
            relative_error,
            sampled: Vec::new(),
            count: 0,
            head: Vec::new(),
        })
    }

    /// The number of values inserted.
    pub fn count(&self) -> u64 {
        self.count + self.head.len() as u64
    }

    /// Adds a value (NaN is the caller's to leave out: it has no rank).
    pub fn insert(&mut self, value: f64) {
        self.head.push(value);
        if self.head.len() >= HEAD_SIZE {
            self.merge_head();
            if self.sampled.len() >= COMPRESS_THRESHOLD {
                self.compress();
            }
        }
    }

    /// Merges the sorted buffer into the sketch (Spark's `withHeadBufferInserted`).
    fn merge_head(&mut self) {
        if self.head.is_empty() {
            return;
        }
        let mut sorted = std::mem::take(&mut self.head);
        sorted.sort_by(f64::total_cmp);
        let mut out = Vec::with_capacity(self.sampled.len() + sorted.len());
        let mut current = self.count;
        let mut s = 0;
        for (i, &v) in sorted.iter().enumerate() {
            while s < self.sampled.len() && self.sampled[s].value <= v {
                out.push(self.sampled[s]);
                s += 1;
            }
            current += 1;
            // The smallest and the largest value so far have an exact rank.
            let delta = if out.is_empty() || (s == self.sampled.len() && i == sorted.len() - 1) {
                0
            } else {
                (2.0 * self.relative_error * current as f64).floor() as u64
            };
            out.push(Entry {
                value: v,
                g: 1,
                delta,
            });
        }
        out.extend_from_slice(&self.sampled[s..]);
        self.sampled = out;
        self.count = current;
    }

    /// Merges the buffer, then drops entries whose rank bounds the neighbours already cover
    /// (Spark's `compress`).
    fn compress(&mut self) {
        self.merge_head();
        let threshold = 2.0 * self.relative_error * self.count as f64;
        let n = self.sampled.len();
        if n == 0 {
            return;
        }
        let mut kept_rev: Vec<Entry> = Vec::with_capacity(n);
        // The last entry always stays; `head` may absorb the entries before it.
        let mut head = self.sampled[n - 1];
        for i in (1..n.saturating_sub(1)).rev() {
            let e = self.sampled[i];
            if ((e.g + head.g + head.delta) as f64) < threshold {
                head.g += e.g;
            } else {
                kept_rev.push(head);
                head = e;
            }
        }
        kept_rev.push(head);
        let first = self.sampled[0];
        if n > 1 && first.value <= head.value {
            kept_rev.push(first);
        }
        kept_rev.reverse();
        self.sampled = kept_rev;
    }

    /// The approximate `q`-quantile (`q` in `[0, 1]`; 0.5 is the median): a value whose rank is
    /// within `relative_error · count` of `⌈q · count⌉`; `None` when nothing was inserted.
    pub fn query(&mut self, q: f64) -> Result<Option<f64>> {
        if !(0.0..=1.0).contains(&q) {
            return Err(MlError::param(
                "quantile",
                format!("must be in [0, 1], got {q}"),
            ));
        }
        if self.sampled.is_empty() {
            // Everything is still in the buffer: answer exactly.
            return Ok(self.exact_from_head(q));
        }
        self.compress();
        let (Some(first), Some(last)) = (self.sampled.first(), self.sampled.last()) else {
            return Ok(None);
        };
        if q <= self.relative_error {
            return Ok(Some(first.value));
        }
        if q >= 1.0 - self.relative_error {
            return Ok(Some(last.value));
        }
        let rank = (q * self.count as f64).ceil() as u64;
        let target_error = self
            .sampled
            .iter()
            .map(|e| e.g + e.delta)
            .max()
            .unwrap_or(0)
            / 2;
        let mut min_rank = 0u64;
        for e in &self.sampled[..self.sampled.len() - 1] {
            min_rank += e.g;
            let max_rank = min_rank + e.delta;
            if max_rank.saturating_sub(target_error) <= rank && rank <= min_rank + target_error {
                return Ok(Some(e.value));
            }
        }
        Ok(Some(last.value))
    }
}

impl QuantileSummary {
    /// The value at rank `max(1, ⌈q · n⌉)` of the buffered values (`None` when empty).
    fn exact_from_head(&mut self, q: f64) -> Option<f64> {
        let n = self.head.len();
        if n == 0 {
            return None;
        }
        let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
        let (_, v, _) = self.head.select_nth_unstable_by(rank - 1, f64::total_cmp);
        Some(*v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic shuffle of 0..n (a linear congruential permutation).
    fn shuffled(n: u64) -> Vec<f64> {
        let mut v: Vec<f64> = (0..n).map(|i| i as f64).collect();
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        for i in (1..v.len()).rev() {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            v.swap(i, (state >> 33) as usize % (i + 1));
        }
        v
    }

    #[test]
    fn up_to_the_buffer_size_answers_are_exact_lower_quantiles() {
        for n in [1u64, 2, 3, 10, 499, 1000, 49_999] {
            let values = shuffled(n);
            let mut s = QuantileSummary::new(0.001).unwrap();
            values.iter().for_each(|&v| s.insert(v));
            for q in [0.1, 0.25, 0.5, 0.9] {
                // Value at rank ceil(q n) of 0..n is ceil(q n) - 1.
                let expect = ((q * n as f64).ceil() - 1.0).max(0.0);
                let got = s.query(q).unwrap().unwrap();
                assert_eq!(got, expect, "n {n} q {q}");
            }
        }
    }

    #[test]
    fn large_inputs_stay_within_the_rank_error() {
        // 300,000 values: the buffer is merged six times and the sketch compressed.
        let n = 300_000u64;
        for eps in [0.001, 0.01] {
            let mut s = QuantileSummary::new(eps).unwrap();
            shuffled(n).iter().for_each(|&v| s.insert(v));
            assert_eq!(s.count(), n);
            for q in [0.01, 0.1, 0.5, 0.77, 0.99] {
                let got = s.query(q).unwrap().unwrap();
                // The value v has rank v + 1 among 0..n.
                let rank = got + 1.0;
                let target = (q * n as f64).ceil();
                assert!(
                    (rank - target).abs() <= eps * n as f64,
                    "eps {eps} q {q}: rank {rank} vs {target}"
                );
            }
            assert!(
                s.sampled.len() < n as usize / 10,
                "{} entries",
                s.sampled.len()
            );
        }
    }

    #[test]
    fn empty_and_bad_arguments() {
        let mut s = QuantileSummary::new(0.01).unwrap();
        assert_eq!(s.query(0.5).unwrap(), None);
        assert!(s.query(1.5).is_err());
        assert!(QuantileSummary::new(-0.1).is_err());
    }
}
