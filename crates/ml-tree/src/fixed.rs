//! Fixed-point numbers for exact sums: gradients and hessians as integers scaled by a power of
//! two chosen from a global maximum, so that histogram sums are integer sums, which do not
//! depend on the order of the terms (row blocks, threads, workers, the order of a ring).
//!
//! Per tree, the largest `|gradient|` and `|hessian|` over all rows of all workers is found by
//! one max all-reduce (for the logistic objective of one output, their bound stands in for it,
//! found once: the largest weight, see `objective::logistic_weight_max`, so that the pairs can
//! be quantized as they are computed); each row's pair is then rounded to `round(v * 2^shift)`
//! as an `i32`
//! ([`QPair`]), and histograms sum these in `i64` ([`IntPair`]). The scale `2^shift` is the
//! largest power of two with `max * 2^shift <= 2^bits`, where
//! `bits = min(30, 62 - ceil(log2 N))` and `N` is the global number of rows:
//!
//! - every row's integer satisfies `|q| <= 2^bits <= 2^30`, so it fits `i32`;
//! - any sum over a set of rows (a node's bin, a node, the root) satisfies
//!   `|S| <= N * 2^bits <= 2^ceil(log2 N) * 2^(62 - ceil(log2 N)) = 2^62 < 2^63`, so it never
//!   overflows `i64`, whatever the subset, the order or the worker count; a parent's histogram
//!   minus a child's is again such a sum, so the subtraction trick stays exact too.
//!
//! Up to a billion rows (`N <= 2^32`) a row keeps 30 bits relative to the largest value; the
//! absolute rounding error per row is at most `2^-(shift + 1)`, i.e. `max / 2^31`.
//!
//! Where the objective bounds the pairs (the logistic one: `|g| <= w`, `h <= w / 4` for a row
//! of weight `w`; see [`Quantizer::from_bound`]), `max` is that bound and rows keep
//! [`BOUNDED_BITS`] = 17 bits instead: an absolute error per row of at most `2^-(shift + 1)`,
//! which is `max / 2^18` when `max` is a power of two (as the unweighted bounds 1 and 1/4 are)
//! and below `max / 2^17` in any case. (LightGBM's quantized-gradient training keeps 2 to 8
//! bits.) Then the sums of 2^13 rows fit in 31 bits, and the histogram kernel adds a row's
//! gradient and hessian to a bin in one 64-bit addition (see [`crate::hist`]), in a histogram
//! half the size.
//!
//! [`exact_sum`] sums arbitrary `f64`s the same way in `i128` (for the base score): there each
//! value keeps `min(126 - ceil(log2 N), ...)` bits relative to the largest, far more than an
//! `f64` holds, so the result is the correctly scaled integer sum, converted to `f64` once.

use ml_core::{MlError, Result};
use ml_dist::Collective;
use rayon::prelude::*;

use crate::hist::{GradPair, IntPair, QPair, RowPair};

/// `x` rounded to the nearest integer, ties to even, as an `i32`, for `|x| < 2^31`. Adding
/// `1.5 * 2^52` leaves no fraction bits in the sum (its ulp is 1), so the hardware's
/// round-to-nearest-even does the rounding, and the low 32 bits of the sum's mantissa are the
/// rounded integer in two's complement. Two operations instead of a call to libm's `round`
/// (the x86-64 baseline has no rounding instruction) and without the saturating float-to-int
/// conversion of Rust's `as` (a compare and a blend on every value), so the loop over rows
/// vectorizes. The quantized values here are at most `2^30` in magnitude (a non-finite or
/// out-of-bound pair, which training reports as an error, wraps instead).
#[inline(always)]
fn round_to_i32(x: f64) -> i32 {
    const MAGIC: f64 = 6_755_399_441_055_744.0; // 1.5 * 2^52
    (x + MAGIC).to_bits() as u32 as i32
}

/// `ceil(log2(n))` for `n >= 1` (0 for `n = 1`).
fn ceil_log2(n: u64) -> i32 {
    if n <= 1 {
        0
    } else {
        64 - (n - 1).leading_zeros() as i32
    }
}

/// The smallest `e` with `max <= 2^e`, for a finite `max > 0`.
fn exponent_above(max: f64) -> i32 {
    let mut e = max.log2().ceil() as i32;
    while max > 2f64.powi(e) {
        e += 1;
    }
    while e > -1070 && max <= 2f64.powi(e - 1) {
        e -= 1;
    }
    e
}

/// The shift of a fixed-point scale: `2^shift * max <= 2^bits` with the largest such `shift`
/// (0 when `max` is 0).
fn shift_for(max: f64, bits: i32) -> i32 {
    if max > 0.0 {
        bits - exponent_above(max)
    } else {
        0
    }
}

/// Bits a row's pair keeps relative to the largest value in general (fewer beyond 2^32 rows).
const EXACT_BITS: i32 = 30;

/// Bits a row's pair keeps relative to a bound the objective guarantees
/// ([`Quantizer::from_bound`]). 17 bits: 2^13 rows sum to at most 2^30 in magnitude, so the
/// histogram kernel can sum the gradient and the hessian of that many rows in the two halves
/// of one `i64` (see [`crate::hist`]). On the medium clicks and loans data (100 rounds, depth
/// 6) the test AUC is the same to 4 digits as with 30 bits, and every node's sums are within
/// 1.1e-5 of `sum |g|` (gradients) and 6.6e-6 relative (hessians) of the `f64` sums of the
/// same pairs (`rounding_error_on_the_medium_data`; 30 bits hold those pairs exactly).
pub(crate) const BOUNDED_BITS: i32 = 17;

/// How the gradient pairs of one tree are turned into integers (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Quantizer {
    /// Gradients are scaled by `2^shift[0]`, hessians by `2^shift[1]`.
    shift: [i32; 2],
    /// Every quantized value is at most `2^bits` in magnitude.
    bits: i32,
    /// `2^-shift`, to turn integer sums back into `f64`.
    inv: [f64; 2],
}

impl Quantizer {
    /// The scales for the rows of all workers: finds the local maxima of `|g|` and `|h|` over
    /// `gh`, takes their global maximum through `collective`, and sizes the scale for
    /// `n_global` rows. (Training finds the maxima in the gradient pass and calls
    /// [`Quantizer::from_local_bits`].)
    #[cfg(test)]
    pub fn global(gh: &[RowPair], n_global: u64, collective: &dyn Collective) -> Result<Self> {
        Self::from_local_bits(local_max_bits(gh), n_global, collective)
    }

    /// [`Quantizer::global`] from this worker's maxima already found ([`local_max_bits`] of
    /// its pairs, or [`max_magnitude_bits`] of their chunks combined with `max`), as the
    /// objective's gradient pass does while each chunk is in cache.
    pub fn from_local_bits(
        bits: [u32; 2],
        n_global: u64,
        collective: &dyn Collective,
    ) -> Result<Self> {
        let bad = bits.iter().any(|&b| b >= 0x7F80_0000);
        let max = [f32::from_bits(bits[0]), f32::from_bits(bits[1])];
        let max = if bad { [f32::INFINITY; 2] } else { max };
        let mut m = [max[0] as f64, max[1] as f64];
        collective.all_reduce_max_f64(&mut m)?;
        Self::from_max(m, n_global)
    }

    /// The scales for global maxima `max` (of `|g|`, `|h|`) and `n_global` rows.
    pub fn from_max(max: [f64; 2], n_global: u64) -> Result<Self> {
        Self::with_bits(max, n_global, EXACT_BITS)
    }

    /// The scales for pairs the objective bounds by `bound` (`|g| <= bound[0]`,
    /// `|h| <= bound[1]` on every row of every worker) and `n_global` rows: [`BOUNDED_BITS`]
    /// bits per row (see the module docs).
    pub fn from_bound(bound: [f64; 2], n_global: u64) -> Result<Self> {
        Self::with_bits(bound, n_global, BOUNDED_BITS)
    }

    /// The scales for maxima `max` with at most `bits` bits per row.
    fn with_bits(max: [f64; 2], n_global: u64, bits: i32) -> Result<Self> {
        if !(max[0].is_finite() && max[1].is_finite()) {
            return Err(MlError::data(
                "gradients or hessians are not finite (NaN or infinite): labels, weights or \
                 margins out of range",
            ));
        }
        let bits = bits.min(62 - ceil_log2(n_global.max(1)));
        let shift = [shift_for(max[0], bits), shift_for(max[1], bits)];
        Ok(Quantizer {
            shift,
            bits,
            inv: [2f64.powi(-shift[0]), 2f64.powi(-shift[1])],
        })
    }

    /// The largest magnitude of any quantized gradient or hessian: `2^bits`.
    pub fn max_abs(&self) -> u32 {
        1 << self.bits
    }

    /// One row's pair in fixed point. A positive hessian never rounds to 0 (it becomes 1), so
    /// a bin that holds rows with weight keeps a positive hessian.
    #[inline]
    #[cfg(test)]
    pub fn quantize(&self, p: RowPair) -> QPair {
        let g = round_to_i32(p[0] as f64 * 2f64.powi(self.shift[0]));
        let h = round_to_i32(p[1] as f64 * 2f64.powi(self.shift[1]));
        [g, if h == 0 && p[1] > 0.0 { 1 } else { h }]
    }

    /// Every row's pair in fixed point, into `out` (resized to `gh.len()`).
    pub fn quantize_all(&self, gh: &[RowPair], out: &mut Vec<QPair>) {
        out.resize(gh.len(), [0, 0]);
        let scale = [2f64.powi(self.shift[0]), 2f64.powi(self.shift[1])];
        out.par_chunks_mut(1 << 14)
            .zip(gh.par_chunks(1 << 14))
            .for_each(|(o, g)| quantize_chunk(scale, g, o));
    }

    /// The pairs of one chunk of rows in fixed point, into `out` (of the same length), as
    /// [`Quantizer::quantize_all`] computes them.
    pub fn quantize_into(&self, gh: &[RowPair], out: &mut [QPair]) {
        let scale = [2f64.powi(self.shift[0]), 2f64.powi(self.shift[1])];
        quantize_chunk(scale, gh, out);
    }

    /// An integer sum back in `f64`: `s * 2^-shift` (exact while `|s| < 2^53`, and the same
    /// rounding on every worker beyond).
    #[inline]
    pub fn dequantize(&self, s: IntPair) -> GradPair {
        [s[0] as f64 * self.inv[0], s[1] as f64 * self.inv[1]]
    }

    /// A whole histogram back in `f64`.
    pub fn histogram_to_f64(&self, h: &[IntPair]) -> Vec<GradPair> {
        h.iter().map(|&s| self.dequantize(s)).collect()
    }
}

/// The largest magnitudes of `gh`'s gradients and hessians as bit patterns (see
/// [`max_magnitude_bits`]), in parallel. With the sign bit cleared, a finite `f32`'s bits sort
/// as its magnitude does, and NaN and the infinities (all exponent bits set) sort above every
/// finite value, so an integer maximum gives both the largest magnitude and whether any value
/// is not finite (which `f32::max` would hide), and it vectorizes.
pub(crate) fn local_max_bits(gh: &[RowPair]) -> [u32; 2] {
    gh.par_chunks(1 << 16)
        .map(max_magnitude_bits)
        .reduce(|| [0u32; 2], max_bits)
}

/// The larger of two [`max_magnitude_bits`] results, part by part.
#[inline]
pub(crate) fn max_bits(a: [u32; 2], b: [u32; 2]) -> [u32; 2] {
    [a[0].max(b[0]), a[1].max(b[1])]
}

/// The largest `|gradient|` and `|hessian|` of `gh` as the bits of the `f32` magnitudes
/// (sign bit cleared), `[0, 0]` when empty; a value whose bits are `0x7F80_0000` or more is
/// infinite or NaN. With AVX2 where the CPU has it (an integer maximum: the same result).
pub(crate) fn max_magnitude_bits(gh: &[RowPair]) -> [u32; 2] {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked just above).
        return unsafe { max_magnitude_bits_avx2(gh) };
    }
    max_magnitude_bits_any(gh)
}

/// [`max_magnitude_bits`] compiled for AVX2.
///
/// # Safety
/// The CPU must have AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn max_magnitude_bits_avx2(gh: &[RowPair]) -> [u32; 2] {
    max_magnitude_bits_any(gh)
}

#[inline(always)]
fn max_magnitude_bits_any(gh: &[RowPair]) -> [u32; 2] {
    // Magnitudes are below 2^31 as integers, so a signed maximum is the unsigned one (and
    // has a vector instruction on more CPUs).
    gh.iter()
        .fold([0i32; 2], |m, p| {
            [
                m[0].max((p[0].to_bits() & 0x7FFF_FFFF) as i32),
                m[1].max((p[1].to_bits() & 0x7FFF_FFFF) as i32),
            ]
        })
        .map(|b| b as u32)
}

/// Rows' pairs in fixed point: `out[i]` from `gh[i]` at the scales `scale` (powers of two),
/// with AVX2 where the CPU has it (the same operations, so the same results).
fn quantize_chunk(scale: [f64; 2], gh: &[RowPair], out: &mut [QPair]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked just above).
        return unsafe { quantize_chunk_avx2(scale, gh, out) };
    }
    quantize_chunk_any(scale, gh, out)
}

/// [`quantize_chunk`] compiled for AVX2.
///
/// # Safety
/// The CPU must have AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn quantize_chunk_avx2(scale: [f64; 2], gh: &[RowPair], out: &mut [QPair]) {
    quantize_chunk_any(scale, gh, out)
}

#[inline(always)]
fn quantize_chunk_any(scale: [f64; 2], gh: &[RowPair], out: &mut [QPair]) {
    for (o, p) in out.iter_mut().zip(gh) {
        let q = round_to_i32(p[1] as f64 * scale[1]);
        *o = [
            round_to_i32(p[0] as f64 * scale[0]),
            q + (q == 0 && p[1] > 0.0) as i32,
        ];
    }
}

/// The sum over all workers of `values` (each worker passes its own), computed exactly in
/// fixed point and converted to `f64` once, so that it does not depend on how the values are
/// split between workers or ordered. `n_global` is the global number of values.
///
/// Each value is scaled by `2^shift` with `max * 2^shift <= 2^bits`,
/// `bits = 126 - ceil(log2 n_global)`: `|q| <= 2^126` fits `i128` and a sum of `n_global` of
/// them is at most `2^126` in magnitude (the bound of the module docs with 126 for 62). Values
/// down to `max * 2^(53 - bits)` keep every bit of their `f64` mantissa.
pub(crate) fn exact_sum(
    values: impl Iterator<Item = f64> + Clone,
    n_global: u64,
    collective: &dyn Collective,
) -> Result<f64> {
    let mut max = [values.clone().fold(0f64, |m, v| m.max(v.abs()))];
    if values.clone().any(|v| !v.is_finite()) {
        max[0] = f64::INFINITY;
    }
    collective.all_reduce_max_f64(&mut max)?;
    if !max[0].is_finite() {
        return Err(MlError::data("a value to sum is not finite"));
    }
    let bits = 126 - ceil_log2(n_global.max(1));
    let shift = shift_for(max[0], bits);
    // The scale in two steps, as 2^shift alone may exceed f64's range for tiny maxima.
    let (s1, s2) = (shift / 2, shift - shift / 2);
    let (p1, p2) = (2f64.powi(s1), 2f64.powi(s2));
    let mut sum = [values.fold(0i128, |acc, v| acc + ((v * p1) * p2).round() as i128)];
    collective.all_reduce_sum_i128(&mut sum)?;
    Ok((sum[0] as f64) * 2f64.powi(-s1) * 2f64.powi(-s2))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ml_dist::LocalCollective;

    #[test]
    fn exponents_and_bit_budgets_follow_the_bound() {
        assert_eq!(ceil_log2(1), 0);
        assert_eq!(ceil_log2(2), 1);
        assert_eq!(ceil_log2(3), 2);
        assert_eq!(ceil_log2(1 << 20), 20);
        assert_eq!(ceil_log2((1 << 20) + 1), 21);
        for max in [0.25f64, 0.3, 1.0, 1e-7, 123.456, 2f64.powi(-40)] {
            let e = exponent_above(max);
            assert!(max <= 2f64.powi(e) && max > 2f64.powi(e - 1), "{max}: {e}");
        }
        // 2^32 rows leave 30 bits; 2^40 rows 22.
        let q = Quantizer::from_max([1.0, 0.25], 1 << 32).unwrap();
        assert_eq!(q.shift, [30, 32]);
        let q = Quantizer::from_max([1.0, 0.25], 1 << 40).unwrap();
        assert_eq!(q.shift, [22, 24]);
        assert!(Quantizer::from_max([f64::NAN, 1.0], 10).is_err());
        assert_eq!(q.max_abs(), 1 << 22);
        // A bound keeps 17 bits: the bound itself quantizes to 2^17.
        let q = Quantizer::from_bound([1.0, 0.25], 1 << 20).unwrap();
        assert_eq!((q.shift, q.max_abs()), ([17, 19], 1 << 17));
        assert_eq!(q.quantize([-1.0, 0.25]), [-(1 << 17), 1 << 17]);
        assert!(Quantizer::from_bound([f64::INFINITY, 1.0], 10).is_err());
    }

    #[test]
    fn quantized_values_fit_i32_and_round_within_half_a_unit() {
        let gh: Vec<RowPair> = vec![[-0.75, 0.25], [0.5, 1e-12], [0.1, 0.0], [-0.0, 0.2]];
        let q = Quantizer::from_max([0.75, 0.25], 4).unwrap();
        let mut out = Vec::new();
        q.quantize_all(&gh, &mut out);
        for (p, o) in gh.iter().zip(&out) {
            assert_eq!(*o, q.quantize(*p));
            assert!(o[0].unsigned_abs() <= 1 << 30 && o[1].unsigned_abs() <= 1 << 30);
            let back = q.dequantize([o[0] as i64, o[1] as i64]);
            assert!((back[0] - p[0] as f64).abs() <= 0.5 * q.inv[0]);
        }
        assert_eq!(out[1][1], 1, "a tiny positive hessian stays positive");
        assert_eq!(out[2][1], 0, "a zero hessian stays zero");
    }

    #[test]
    fn round_to_i32_is_round_half_to_even() {
        let mut xs = vec![
            0.5,
            1.5,
            2.5,
            -0.5,
            -1.5,
            -2.5,
            0.49999999999999994,
            -0.0,
            1e-300,
        ];
        xs.extend([
            (1u64 << 30) as f64,
            -((1u64 << 30) as f64),
            (1u64 << 30) as f64 - 0.5,
        ]);
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..100_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let unit = (state >> 11) as f64 / (1u64 << 53) as f64;
            xs.push((unit - 0.5) * 2f64.powi(31));
            xs.push((unit - 0.5) * 64.0);
        }
        for x in xs {
            assert_eq!(round_to_i32(x), x.round_ties_even() as i32, "{x}");
        }
    }

    #[test]
    fn exact_sum_is_independent_of_order() {
        let v: Vec<f64> = (0..1000)
            .map(|i| ((i * 7919) % 1000) as f64 * 10f64.powi(i % 13 - 6))
            .collect();
        let c = LocalCollective;
        let a = exact_sum(v.iter().copied(), 1000, &c).unwrap();
        let b = exact_sum(v.iter().rev().copied(), 1000, &c).unwrap();
        assert_eq!(a.to_bits(), b.to_bits());
        // Against a compensated f64 sum.
        let mut s = 0.0f64;
        let mut comp = 0.0f64;
        for &x in &v {
            let y = x - comp;
            let t = s + y;
            comp = (t - s) - y;
            s = t;
        }
        assert!((a - s).abs() <= 1e-12 * s.abs(), "{a} vs {s}");
        assert_eq!(exact_sum([0.5, 0.25].into_iter(), 2, &c).unwrap(), 0.75);
    }
    /// How far the fixed-point sums are from f64 sums of the same f32 pairs, on the medium
    /// peers data: trains 100 rounds (`ML_TREE_ROUNDS`), takes the gradients of the next round and, for every node of
    /// every tree (realistic row subsets), compares the node's sums. Prints the largest
    /// errors: of G relative to the node's sum of |g|, and of H relative to H.
    ///
    /// `ML_TREE_MEDIUM=/root/.cache/ml-peers/data/medium cargo test --release -p ml-tree --lib
    /// rounding_error -- --ignored --nocapture`
    /// True when a row's pair is not exactly representable at the quantizer's scale.
    fn gq_exact(q: &Quantizer, p: &RowPair) -> bool {
        let v = q.quantize(*p);
        let back = q.dequantize([v[0] as i64, v[1] as i64]);
        back[0] != p[0] as f64 || back[1] != p[1] as f64
    }

    #[test]
    #[ignore = "needs the medium peers data (ML_TREE_MEDIUM=dir)"]
    fn rounding_error_on_the_medium_data() {
        use crate::objective::{gradients, Objective};
        use ml_core::{Estimator, Params};
        let Ok(dir) = std::env::var("ML_TREE_MEDIUM") else {
            return;
        };
        for name in ["loans", "clicks"] {
            let ds = ml_core::io::read_parquet(format!("{dir}/{name}_features.parquet")).unwrap();
            let schema = ds.schema();
            let names: Vec<String> = schema
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .filter(|n| n != "label" && n != "is_test")
                .collect();
            let test = ds.numeric_column("is_test").unwrap();
            let label = ds.numeric_column("label").unwrap();
            let rows: Vec<usize> = (0..ds.num_rows())
                .filter(|&i| test.value(i) != 1.0)
                .collect();
            let d = names.len();
            let cols: Vec<_> = names
                .iter()
                .map(|c| ds.numeric_column(c).unwrap())
                .collect();
            // The feature values of `rows`, row-major, NaN where null.
            let gather = |rows: &[usize]| -> Vec<f64> {
                let mut x = Vec::with_capacity(rows.len() * d);
                for &r in rows {
                    for c in &cols {
                        x.push(if arrow::array::Array::is_null(c, r) {
                            f64::NAN
                        } else {
                            c.value(r)
                        });
                    }
                }
                x
            };
            let x = gather(&rows);
            let y: Vec<f64> = rows.iter().map(|&r| label.value(r)).collect();
            let n = rows.len();
            let data = ml_core::Dataset::from_columns(vec![
                (
                    "features",
                    ml_core::dataset::vector_column_from_vec(x.clone(), n, d),
                ),
                (
                    "label",
                    std::sync::Arc::new(arrow::array::Float64Array::from(y.clone()))
                        as arrow::array::ArrayRef,
                ),
            ])
            .unwrap();
            let mut gbt = crate::GradientBoostedTrees::default();
            let rounds: i64 = std::env::var("ML_TREE_ROUNDS")
                .ok()
                .and_then(|r| r.parse().ok())
                .unwrap_or(100);
            gbt.set_param("num_round", ml_core::ParamValue::Int(rounds))
                .unwrap();
            gbt.set_param("eta", ml_core::ParamValue::Float(0.1))
                .unwrap();
            let model = gbt.fit(&data).unwrap();
            let view = ndarray::ArrayView2::from_shape((n, d), &x).unwrap();
            let margins = model.predict_margins(view).unwrap();
            let mut gh = vec![[0f32; 2]; n];
            gradients(
                Objective::BinaryLogistic,
                &margins,
                &y,
                None,
                1.0,
                &crate::loss::LossParams::default(),
                1,
                0,
                &mut gh,
            );
            // AUC on the test rows (as train_gbdt reports it).
            let test_rows: Vec<usize> = (0..ds.num_rows())
                .filter(|&i| test.value(i) == 1.0)
                .collect();
            let tx = gather(&test_rows);
            let tview = ndarray::ArrayView2::from_shape((test_rows.len(), d), &tx).unwrap();
            let scores = model.predict_margins(tview).unwrap();
            let ty: Vec<f64> = test_rows.iter().map(|&r| label.value(r)).collect();
            let auc = ml_core::metrics::roc_auc(&scores, &ty, None).unwrap();
            println!("{name}: test AUC {auc:.6}");
            let scales = [
                (
                    "30 bits of the largest pair",
                    Quantizer::global(&gh, n as u64, &LocalCollective).unwrap(),
                ),
                (
                    "17 bits of the logistic bound, as trained",
                    Quantizer::from_bound([1.0, 0.25], n as u64).unwrap(),
                ),
            ];
            for (what, q) in scales {
                let mut gq = Vec::new();
                q.quantize_all(&gh, &mut gq);
                let (mut worst_g, mut worst_h, mut nodes) = (0f64, 0f64, 0usize);
                for tree in &model.trees {
                    let m = tree.nodes.len();
                    let mut parent = vec![usize::MAX; m];
                    for (i, nd) in tree.nodes.iter().enumerate() {
                        if !nd.is_leaf() {
                            parent[nd.left as usize] = i;
                            parent[nd.right as usize] = i;
                        }
                    }
                    let (mut f, mut a, mut s) =
                        (vec![[0f64; 2]; m], vec![0f64; m], vec![[0i64; 2]; m]);
                    for i in 0..n {
                        let mut node = tree.leaf_index(&x[i * d..(i + 1) * d]);
                        loop {
                            f[node][0] += gh[i][0] as f64;
                            f[node][1] += gh[i][1] as f64;
                            a[node] += gh[i][0].abs() as f64;
                            s[node][0] += gq[i][0] as i64;
                            s[node][1] += gq[i][1] as i64;
                            if parent[node] == usize::MAX {
                                break;
                            }
                            node = parent[node];
                        }
                    }
                    for j in 0..m {
                        let back = q.dequantize(s[j]);
                        if a[j] > 0.0 {
                            worst_g = worst_g.max((back[0] - f[j][0]).abs() / a[j]);
                        }
                        if f[j][1] > 0.0 {
                            worst_h = worst_h.max((back[1] - f[j][1]).abs() / f[j][1]);
                        }
                        nodes += 1;
                    }
                }
                let small = gh.iter().filter(|p| gq_exact(&q, p)).count();
                println!(
                    "{name}, {what}: {n} rows, {nodes} nodes, {small} rows whose pair is not \
                     exact in fixed point: max |G_fixed - G_f64| / sum|g| = {worst_g:.3e}, \
                     max |H_fixed - H_f64| / H = {worst_h:.3e}"
                );
            }
        }
    }
}
