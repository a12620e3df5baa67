//! Metrics shared by several crates: the one exact, weighted ROC AUC ([`roc_auc`]) and the
//! threshold curve it is computed from ([`binary_curve`]), which ml-eval's metric functions and
//! evaluators, the tree learners' evaluation metric and the command-line tools all use.
//!
//! **ROC AUC** is exact: the trapezoid rule over the ROC points of every distinct score
//! threshold, so tied scores count half, exactly as scikit-learn's `roc_auc_score` and Spark's
//! `BinaryClassificationMetrics(numBins = 0).areaUnderROC`. Scores are sorted once per class
//! (O(n log n)); the area is accumulated once over the distinct thresholds and normalised at
//! the end. Unweighted, every partial sum is an integer held exactly by `f64` (up to 2^53), so
//! the result does not depend on the order of the rows or the number of threads.
//!
//! ```
//! use ml_core::metrics::roc_auc;
//! // sklearn: roc_auc_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75
//! assert_eq!(roc_auc(&[0.1, 0.4, 0.35, 0.8], &[0.0, 0.0, 1.0, 1.0], None).unwrap(), 0.75);
//! ```

use rayon::slice::ParallelSliceMut;

use crate::error::{MlError, Result};

/// Above this many items a class's scores are sorted with rayon (in the current pool).
const PAR_SORT_MIN: usize = 1 << 16;

/// Checks the inputs every metric shares and returns the total weight.
///
/// `n` is the number of rows (the length of the first argument); each `(name, len)` in
/// `others` must have `n` values too; `weights`, when given, must have `n` finite,
/// non-negative values with a positive sum. Errors: [`MlError::InvalidData`] for lengths that
/// differ, no rows or weights summing to zero; [`MlError::InvalidValue`] naming `weight_name`
/// and the row of a bad weight.
///
/// ```
/// use ml_core::metrics::check_inputs;
/// assert_eq!(check_inputs(2, &[("labels", 2)], Some(&[0.5, 1.0]), "weights").unwrap(), 1.5);
/// assert!(check_inputs(2, &[("labels", 3)], None, "weights").is_err());
/// ```
pub fn check_inputs(
    n: usize,
    others: &[(&str, usize)],
    weights: Option<&[f64]>,
    weight_name: &str,
) -> Result<f64> {
    for (name, len) in others {
        if *len != n {
            return Err(MlError::data(format!(
                "'{name}' has {len} values, expected {n} (one per row)"
            )));
        }
    }
    if n == 0 {
        return Err(MlError::data("no rows to evaluate"));
    }
    match weights {
        None => Ok(n as f64),
        Some(w) => {
            if w.len() != n {
                return Err(MlError::data(format!(
                    "'{weight_name}' has {} values, expected {n} (one per row)",
                    w.len()
                )));
            }
            let mut total = 0.0;
            for (row, &x) in w.iter().enumerate() {
                if !(x.is_finite() && x >= 0.0) {
                    return Err(MlError::value(
                        weight_name,
                        row,
                        format!("weight {x} is not a finite, non-negative number"),
                    ));
                }
                total += x;
            }
            if total <= 0.0 {
                return Err(MlError::data(format!(
                    "the weights in '{weight_name}' sum to zero; the metric is undefined"
                )));
            }
            Ok(total)
        }
    }
}

/// A key whose unsigned order is the *decreasing* order of the score (-0.0 equals 0.0).
#[inline]
fn desc_key(score: f64) -> u64 {
    let s = if score == 0.0 { 0.0 } else { score };
    let bits = s.to_bits();
    let asc = if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    };
    !asc
}

/// The score back from [`desc_key`].
#[inline]
fn key_score(key: u64) -> f64 {
    let asc = !key;
    let bits = if asc >> 63 == 1 {
        asc & !(1 << 63)
    } else {
        !asc
    };
    f64::from_bits(bits)
}

/// Cumulative (true positive, false positive) weights at every distinct score threshold,
/// highest threshold first: the points every ROC and precision-recall figure is made of.
/// Made by [`binary_curve`].
#[derive(Debug, Clone, PartialEq)]
pub struct BinaryCurve {
    /// `(threshold, cumulative positive weight, cumulative negative weight)` of the rows whose
    /// score is at least the threshold, one entry per distinct score, decreasing.
    pub points: Vec<(f64, f64, f64)>,
    /// Total weight of the positive rows (label 1).
    pub pos_total: f64,
    /// Total weight of the negative rows (label 0).
    pub neg_total: f64,
}

trait Item: Copy + Send {
    fn key(&self) -> u64;
    fn weight(&self) -> f64;
}
impl Item for u64 {
    #[inline]
    fn key(&self) -> u64 {
        *self
    }
    #[inline]
    fn weight(&self) -> f64 {
        1.0
    }
}
impl Item for (u64, f64) {
    #[inline]
    fn key(&self) -> u64 {
        self.0
    }
    #[inline]
    fn weight(&self) -> f64 {
        self.1
    }
}

/// Walks the two sorted classes together; `f(threshold, tp, fp)` at each distinct threshold.
fn merge_walk<T: Item>(pos: &[T], neg: &[T], mut f: impl FnMut(f64, f64, f64)) {
    let (mut i, mut j) = (0usize, 0usize);
    let (mut tp, mut fp) = (0.0f64, 0.0f64);
    while i < pos.len() || j < neg.len() {
        let k = match (pos.get(i), neg.get(j)) {
            (Some(a), Some(b)) => a.key().min(b.key()),
            (Some(a), None) => a.key(),
            (None, Some(b)) => b.key(),
            (None, None) => unreachable!(),
        };
        while i < pos.len() && pos[i].key() == k {
            tp += pos[i].weight();
            i += 1;
        }
        while j < neg.len() && neg[j].key() == k {
            fp += neg[j].weight();
            j += 1;
        }
        f(key_score(k), tp, fp);
    }
}

fn sort_keys(v: &mut [u64]) {
    if v.len() >= PAR_SORT_MIN {
        v.par_sort_unstable();
    } else {
        v.sort_unstable();
    }
}

fn sort_pairs(v: &mut [(u64, f64)]) {
    // Ties broken by weight so the order (and so every sum) is the same whatever the sort.
    let cmp = |a: &(u64, f64), b: &(u64, f64)| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1));
    if v.len() >= PAR_SORT_MIN {
        v.par_sort_unstable_by(cmp);
    } else {
        v.sort_unstable_by(cmp);
    }
}

/// Names of a metric's arguments, used in its error messages (column names when an evaluator
/// calls it on a dataset).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArgNames<'a> {
    /// Name of the scores (or predictions, probabilities) argument.
    pub scores: &'a str,
    /// Name of the labels argument.
    pub labels: &'a str,
    /// Name of the weights argument.
    pub weights: &'a str,
}

impl ArgNames<'static> {
    /// The names of the function arguments: `scores`, `labels`, `weights`.
    pub const ARGS: ArgNames<'static> = ArgNames {
        scores: "scores",
        labels: "labels",
        weights: "weights",
    };
}

/// Checks binary inputs: labels 0/1, scores not NaN. Returns (positive weight, negative weight).
fn check_binary(
    scores: &[f64],
    labels: &[f64],
    weights: Option<&[f64]>,
    names: ArgNames<'_>,
) -> Result<(f64, f64)> {
    check_inputs(
        scores.len(),
        &[(names.labels, labels.len())],
        weights,
        names.weights,
    )?;
    let mut pos = 0.0;
    let mut neg = 0.0;
    for (row, (&s, &y)) in scores.iter().zip(labels).enumerate() {
        if s.is_nan() {
            return Err(MlError::value(names.scores, row, "score is NaN"));
        }
        let w = weights.map_or(1.0, |w| w[row]);
        if y == 1.0 {
            pos += w;
        } else if y == 0.0 {
            neg += w;
        } else {
            return Err(MlError::value(
                names.labels,
                row,
                format!("binary label must be 0 or 1, got {y}"),
            ));
        }
    }
    if pos <= 0.0 || neg <= 0.0 {
        let which = if pos <= 0.0 { "0" } else { "1" };
        return Err(MlError::data(format!(
            "only one class present in '{}' (every weighted label is {which}); \
             ROC and PR areas are not defined in that case",
            names.labels
        )));
    }
    Ok((pos, neg))
}

/// The cumulative positive and negative weights at every distinct threshold of `scores`
/// (see [`BinaryCurve`]), after checking the inputs as [`roc_auc`] does (lengths, weights,
/// labels 0 or 1, no NaN score, both classes present); errors name the arguments by `names`.
///
/// Scores are sorted once per class (O(n log n), with rayon above 65,536 rows in the current
/// pool); tied scores form one point, so ties count half in any trapezoid area.
///
/// ```
/// use ml_core::metrics::{binary_curve, ArgNames};
/// let c = binary_curve(&[0.2, 0.7, 0.7, 0.9], &[0.0, 0.0, 1.0, 1.0], None, ArgNames::ARGS).unwrap();
/// assert_eq!(c.points, vec![(0.9, 1.0, 0.0), (0.7, 2.0, 1.0), (0.2, 2.0, 2.0)]);
/// assert_eq!((c.pos_total, c.neg_total), (2.0, 2.0));
/// ```
pub fn binary_curve(
    scores: &[f64],
    labels: &[f64],
    weights: Option<&[f64]>,
    names: ArgNames<'_>,
) -> Result<BinaryCurve> {
    let (pos_total, neg_total) = check_binary(scores, labels, weights, names)?;
    let mut points = Vec::new();
    let mut push = |t: f64, tp: f64, fp: f64| points.push((t, tp, fp));
    match weights {
        None => {
            let (mut p, mut n) = split_keys(scores, labels);
            sort_keys(&mut p);
            sort_keys(&mut n);
            merge_walk(&p, &n, &mut push);
        }
        Some(w) => {
            let (mut p, mut n) = split_pairs(scores, labels, w);
            sort_pairs(&mut p);
            sort_pairs(&mut n);
            merge_walk(&p, &n, &mut push);
        }
    }
    Ok(BinaryCurve {
        points,
        pos_total,
        neg_total,
    })
}

fn split_keys(scores: &[f64], labels: &[f64]) -> (Vec<u64>, Vec<u64>) {
    let npos = labels.iter().filter(|&&y| y == 1.0).count();
    let mut p = Vec::with_capacity(npos);
    let mut n = Vec::with_capacity(labels.len() - npos);
    for (&s, &y) in scores.iter().zip(labels) {
        if y == 1.0 {
            p.push(desc_key(s));
        } else {
            n.push(desc_key(s));
        }
    }
    (p, n)
}

type Pairs = Vec<(u64, f64)>;

fn split_pairs(scores: &[f64], labels: &[f64], w: &[f64]) -> (Pairs, Pairs) {
    let mut p = Vec::new();
    let mut n = Vec::new();
    for ((&s, &y), &w) in scores.iter().zip(labels).zip(w) {
        if y == 1.0 {
            p.push((desc_key(s), w));
        } else {
            n.push((desc_key(s), w));
        }
    }
    (p, n)
}

/// Area under the ROC curve, exact, ties counted half (scikit-learn's `roc_auc_score`).
///
/// `labels` are 0 or 1; `weights` are optional non-negative sample weights. Errors name the
/// argument (`scores`, `labels`, `weights`) and row at fault ([`MlError::InvalidValue`]); an
/// input with no rows, lengths that differ, or a single class (after weighting) is an
/// [`MlError::InvalidData`] error.
///
/// ```
/// use ml_core::metrics::roc_auc;
/// // Tied scores count half: sklearn roc_auc_score([0, 0, 1, 1], [0.2, 0.7, 0.7, 0.9]) == 0.875
/// assert_eq!(roc_auc(&[0.2, 0.7, 0.7, 0.9], &[0.0, 0.0, 1.0, 1.0], None).unwrap(), 0.875);
/// // Weights count a row that many times.
/// let w = roc_auc(&[0.2, 0.7, 0.7, 0.9], &[0.0, 0.0, 1.0, 1.0], Some(&[1.0, 2.0, 1.0, 1.0])).unwrap();
/// assert!((w - 5.0 / 6.0).abs() < 1e-15);
/// assert!(roc_auc(&[0.1, 0.2], &[1.0, 1.0], None).is_err());
/// ```
pub fn roc_auc(scores: &[f64], labels: &[f64], weights: Option<&[f64]>) -> Result<f64> {
    roc_auc_named(scores, labels, weights, ArgNames::ARGS)
}

/// [`roc_auc`] with the arguments named `names` in error messages (for instance the column
/// names when the inputs come from a dataset).
pub fn roc_auc_named(
    scores: &[f64],
    labels: &[f64],
    weights: Option<&[f64]>,
    names: ArgNames<'_>,
) -> Result<f64> {
    let c = binary_curve(scores, labels, weights, names)?;
    // Sum of (fp_i - fp_{i-1}) * (tp_i + tp_{i-1}); halved and normalised once at the end.
    let (mut area, mut tp0, mut fp0) = (0.0f64, 0.0f64, 0.0f64);
    for &(_, tp, fp) in &c.points {
        area += (fp - fp0) * (tp + tp0);
        tp0 = tp;
        fp0 = fp;
    }
    Ok(area / (2.0 * c.pos_total * c.neg_total))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::unit_uniform;

    #[test]
    fn desc_key_orders_scores_decreasingly_and_round_trips() {
        let xs = [
            f64::NEG_INFINITY,
            -1e300,
            -2.5,
            -f64::MIN_POSITIVE,
            0.0,
            f64::MIN_POSITIVE,
            1.0,
            1.0 + f64::EPSILON,
            1e300,
            f64::INFINITY,
        ];
        for w in xs.windows(2) {
            assert!(desc_key(w[0]) > desc_key(w[1]), "{} vs {}", w[0], w[1]);
        }
        for &x in &xs {
            assert_eq!(key_score(desc_key(x)), x);
        }
        assert_eq!(desc_key(-0.0), desc_key(0.0));
    }

    /// Brute force: probability that a random positive outranks a random negative, ties half.
    fn brute_auc(s: &[f64], y: &[f64], w: &[f64]) -> f64 {
        let (mut num, mut den) = (0.0, 0.0);
        for i in 0..s.len() {
            for j in 0..s.len() {
                if y[i] == 1.0 && y[j] == 0.0 {
                    let pair = w[i] * w[j];
                    den += pair;
                    num += pair
                        * if s[i] > s[j] {
                            1.0
                        } else if s[i] == s[j] {
                            0.5
                        } else {
                            0.0
                        };
                }
            }
        }
        num / den
    }

    #[test]
    fn roc_auc_equals_brute_force_pair_count_with_ties_and_weights() {
        let n = 300;
        let s: Vec<f64> = (0..n)
            .map(|i| (unit_uniform(7, i) * 20.0).floor() - 10.0)
            .collect();
        let y: Vec<f64> = (0..n)
            .map(|i| (unit_uniform(8, i) < 0.4) as u8 as f64)
            .collect();
        let w: Vec<f64> = (0..n).map(|i| (unit_uniform(9, i) * 3.0).floor()).collect();
        let ones = vec![1.0; n as usize];
        let a = roc_auc(&s, &y, None).unwrap();
        assert!((a - brute_auc(&s, &y, &ones)).abs() < 1e-12);
        let b = roc_auc(&s, &y, Some(&w)).unwrap();
        assert!((b - brute_auc(&s, &y, &w)).abs() < 1e-12);
        // Integer weights equal repeating rows.
        let (mut s2, mut y2) = (Vec::new(), Vec::new());
        for i in 0..n as usize {
            for _ in 0..w[i] as usize {
                s2.push(s[i]);
                y2.push(y[i]);
            }
        }
        assert!((roc_auc(&s2, &y2, None).unwrap() - b).abs() < 1e-12);
    }

    #[test]
    fn large_input_takes_the_parallel_sort_and_agrees_with_the_sequential_one() {
        let n = PAR_SORT_MIN as u64 * 3;
        let s: Vec<f64> = (0..n)
            .map(|i| (unit_uniform(1, i) * 1000.0).round())
            .collect();
        let y: Vec<f64> = (0..n)
            .map(|i| (unit_uniform(2, i) < s[i as usize] / 1500.0) as u8 as f64)
            .collect();
        let a = roc_auc(&s, &y, None).unwrap();
        let w = vec![1.0; n as usize];
        let b = roc_auc(&s, &y, Some(&w)).unwrap();
        // Independent reference: a histogram count (scores are integers 0..=1000), each
        // positive beating the negatives below it and half the negatives at its score.
        let mut pos = vec![0.0f64; 1001];
        let mut neg = vec![0.0f64; 1001];
        for i in 0..n as usize {
            if y[i] == 1.0 {
                pos[s[i] as usize] += 1.0;
            } else {
                neg[s[i] as usize] += 1.0;
            }
        }
        let (mut num, mut below) = (0.0, 0.0);
        for k in 0..=1000 {
            num += pos[k] * (below + 0.5 * neg[k]);
            below += neg[k];
        }
        let p: f64 = pos.iter().sum();
        let expect = num / (p * below);
        assert!((a - expect).abs() < 1e-12, "{a} vs {expect}");
        assert!((b - expect).abs() < 1e-12);
    }

    #[test]
    fn bad_inputs_are_typed_errors_naming_the_argument_and_row() {
        let e = roc_auc(&[0.1, f64::NAN], &[0.0, 1.0], None).unwrap_err();
        assert!(
            matches!(e, MlError::InvalidValue { ref column, row: 1, .. } if column == "scores")
        );
        let e = roc_auc(&[0.1, 0.2], &[0.0, 2.0], None).unwrap_err();
        assert!(
            matches!(e, MlError::InvalidValue { ref column, row: 1, .. } if column == "labels")
        );
        let e = roc_auc(&[0.1, 0.2], &[0.0, 1.0], Some(&[1.0, -1.0])).unwrap_err();
        assert!(
            matches!(e, MlError::InvalidValue { ref column, row: 1, .. } if column == "weights")
        );
        let names = ArgNames {
            scores: "p",
            labels: "y",
            weights: "w",
        };
        let e = roc_auc_named(&[0.1, 0.2], &[0.0, 2.0], None, names).unwrap_err();
        assert!(matches!(e, MlError::InvalidValue { ref column, .. } if column == "y"));
        let e = roc_auc(&[0.1, 0.2], &[0.0], None).unwrap_err();
        assert!(matches!(e, MlError::InvalidData(_)));
        let e = roc_auc(&[], &[], None).unwrap_err();
        assert!(matches!(e, MlError::InvalidData(_)));
        let e = roc_auc(&[0.1, 0.2], &[0.0, 1.0], Some(&[1.0, 0.0])).unwrap_err();
        assert!(e.to_string().contains("only one class"), "{e}");
    }
}
