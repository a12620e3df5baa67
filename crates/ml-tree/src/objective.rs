//! Objectives: the loss being minimized, as gradients and hessians of each row's margin.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use ml_core::params::{unsupported_value, ParamType, ParamValue};
use ml_core::{MlError, Result};

use crate::boost::add_by_ids_one;
use crate::fixed::{max_bits, max_magnitude_bits, Quantizer};
use crate::hist::{QPair, RowPair};
use crate::loss::{weighted_pair, LossParams};
use crate::params::enum_from_param;

/// The loss being minimized, by XGBoost's name (parameter `objective`).
///
/// Parses ([`FromStr`]) from `binary:logistic`, `reg:squarederror`, `multi:softmax`
/// (`multi:softprob` is read as `multi:softmax`), `reg:absoluteerror`,
/// `reg:pseudohubererror`, `reg:quantileerror`, `count:poisson`, `reg:tweedie` and
/// `reg:gamma`; any other name is an error naming the parameter and listing the allowed
/// values. A saved model writes it by its variant name (`"BinaryLogistic"`), as models have
/// always been saved.
///
/// The losses' own parameters are the estimator's, by XGBoost's names and defaults:
/// `huber_slope`, `quantile_alpha`, `max_delta_step`, `tweedie_variance_power` (see
/// [`LossParams`](crate::LossParams)). What each loss computes is in the `loss` module's
/// docs; a loss of your own is a [`CustomObjective`](crate::CustomObjective).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Objective {
    /// `binary:logistic`: labels in {0, 1}, output a probability.
    BinaryLogistic,
    /// `reg:squarederror`: real labels, output the mean.
    SquaredError,
    /// `multi:softmax`: labels in `0..num_class`, one tree per class per round.
    MultiSoftmax,
    /// `reg:absoluteerror`: real labels, output the median; leaf values are refreshed to the
    /// median of their rows' residuals (XGBoost's adaptive leaves).
    AbsoluteError,
    /// `reg:pseudohubererror`: real labels, the pseudo-Huber loss of slope `huber_slope`.
    PseudoHuberError,
    /// `reg:quantileerror`: real labels, one output per `quantile_alpha` (the pinball loss);
    /// leaf values are refreshed to the quantile of their rows' residuals.
    QuantileError,
    /// `count:poisson`: counts (labels >= 0), log link; output the mean count.
    Poisson,
    /// `reg:tweedie`: labels >= 0, log link, Tweedie deviance of power
    /// `tweedie_variance_power`.
    Tweedie,
    /// `reg:gamma`: labels > 0, log link, gamma deviance.
    Gamma,
}

impl Objective {
    /// Every objective, in the order the allowed values are listed.
    pub const ALL: [Objective; 9] = [
        Objective::BinaryLogistic,
        Objective::SquaredError,
        Objective::MultiSoftmax,
        Objective::AbsoluteError,
        Objective::PseudoHuberError,
        Objective::QuantileError,
        Objective::Poisson,
        Objective::Tweedie,
        Objective::Gamma,
    ];

    /// XGBoost's name.
    pub fn name(&self) -> &'static str {
        match self {
            Objective::BinaryLogistic => "binary:logistic",
            Objective::SquaredError => "reg:squarederror",
            Objective::MultiSoftmax => "multi:softmax",
            Objective::AbsoluteError => "reg:absoluteerror",
            Objective::PseudoHuberError => "reg:pseudohubererror",
            Objective::QuantileError => "reg:quantileerror",
            Objective::Poisson => "count:poisson",
            Objective::Tweedie => "reg:tweedie",
            Objective::Gamma => "reg:gamma",
        }
    }

    /// True for the regression losses (everything but `binary:logistic` and
    /// `multi:softmax`): the model writes only the `prediction` column.
    pub fn is_regression(&self) -> bool {
        !matches!(self, Objective::BinaryLogistic | Objective::MultiSoftmax)
    }

    /// True for the losses with a log link (`count:poisson`, `reg:tweedie`, `reg:gamma`):
    /// the prediction is `exp(margin)` and the base score is a mean, its log the base margin.
    pub fn has_log_link(&self) -> bool {
        matches!(
            self,
            Objective::Poisson | Objective::Tweedie | Objective::Gamma
        )
    }

    /// True for the losses whose leaf values are refreshed after a tree is grown to a
    /// quantile of the residuals of the leaf's rows (XGBoost's `UpdateTreeLeaf`):
    /// `reg:absoluteerror` and `reg:quantileerror`.
    pub fn has_adaptive_leaves(&self) -> bool {
        matches!(self, Objective::AbsoluteError | Objective::QuantileError)
    }

    /// The output of a regression loss for a margin: `exp(m)` with a log link, else `m`.
    pub fn regression_output(&self, margin: f64) -> f64 {
        if self.has_log_link() {
            margin.exp()
        } else {
            margin
        }
    }

    /// The margin of a base score (a prediction): its logit for `binary:logistic`, its log
    /// with a log link, else itself.
    pub fn margin_of_score(&self, base_score: f64) -> f64 {
        match self {
            Objective::BinaryLogistic => (base_score / (1.0 - base_score)).ln(),
            o if o.has_log_link() => base_score.ln(),
            _ => base_score,
        }
    }
}

impl FromStr for Objective {
    type Err = MlError;

    fn from_str(name: &str) -> Result<Objective> {
        if name == "multi:softprob" {
            return Ok(Objective::MultiSoftmax);
        }
        Objective::ALL
            .into_iter()
            .find(|o| o.name() == name)
            .ok_or_else(|| unsupported_value("objective", name, &Objective::ALL.map(|o| o.name())))
    }
}

impl fmt::Display for Objective {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl ParamType for Objective {
    fn to_param(&self) -> ParamValue {
        ParamValue::Str(self.name().into())
    }
    fn from_param(param: &str, value: ParamValue) -> Result<Self> {
        enum_from_param(param, value)
    }
}

/// Serde of an [`Objective`] by XGBoost's name (`"binary:logistic"`), as the estimator's
/// parameters are written.
pub(crate) mod by_name {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::Objective;

    pub fn serialize<S: Serializer>(o: &Objective, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(o.name())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Objective, D::Error> {
        let name = String::deserialize(d)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

/// The logistic function.
#[inline]
pub fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// `e^x` in single precision without a library call or a branch, so loops over it vectorize:
/// Cephes' `expf` (range reduction by `ln 2` in two parts, a degree-5 polynomial, the power
/// of two put into the exponent bits), within 2 ulp of the exact value. `x` is clamped to
/// `[-87.3, 88.3]`, where `e^x` is a normal `f32`.
#[inline(always)]
pub(crate) fn exp_f32(x: f32) -> f32 {
    const SHIFT: f32 = 12_582_912.0; // 1.5 * 2^23: adding it rounds to an integer
    let x = x.clamp(-87.3, 88.3);
    let t = x * std::f32::consts::LOG2_E + SHIFT;
    let n = t - SHIFT;
    let r = x - n * 0.693_359_4 - n * -2.121_944_4e-4;
    let mut p = 1.987_569_1e-4f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    let e = p * r * r + r + 1.0;
    // t's low mantissa bits hold n + 2^22; |n| <= 127 here.
    let ni = (t.to_bits() as i32).wrapping_sub(0x4B40_0000);
    e * f32::from_bits(((ni + 127) << 23) as u32)
}

/// The logistic loss's `(grad, hess)` at margin `m` for label `y` and weight `w`, in single
/// precision as XGBoost computes it.
#[inline(always)]
fn logistic_pair(m: f64, y: f32, w: f32) -> RowPair {
    let p = 1.0 / (1.0 + exp_f32(-(m as f32)));
    let h = p * (1.0 - p);
    // `f32::max(h, 1e-16)`, written as the comparison the CPU's `max` instruction makes (the
    // same value for every `h`, NaN included: `1e-16`), which `f32::max`'s NaN handling
    // otherwise turns into a compare and a blend.
    let h = if h > 1e-16 { h } else { 1e-16 };
    [(p - y) * w, h * w]
}

/// Logistic `(grad, hess)` pairs of one chunk of rows, with AVX-512F or AVX2 where the CPU has
/// them (the same operations on wider vectors, so the same results). Returns the largest
/// magnitudes written, as [`max_magnitude_bits`] of `out` would.
fn logistic_chunk(
    m: &[f64],
    y: &[f64],
    w: Option<&[f64]>,
    spw: f64,
    out: &mut [RowPair],
) -> [u32; 2] {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU has AVX-512F (checked just above).
        return unsafe { logistic_chunk_avx512(m, y, w, spw, out) };
    }
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked just above).
        return unsafe { logistic_chunk_avx2(m, y, w, spw, out) };
    }
    logistic_chunk_any(m, y, w, spw, out)
}

/// [`logistic_chunk`] compiled for AVX2.
///
/// # Safety
/// The CPU must have AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn logistic_chunk_avx2(
    m: &[f64],
    y: &[f64],
    w: Option<&[f64]>,
    spw: f64,
    out: &mut [RowPair],
) -> [u32; 2] {
    logistic_chunk_any(m, y, w, spw, out)
}

/// [`logistic_chunk`] compiled for AVX-512F: eight margins converted to `f32` per instruction
/// (AVX2 converts four), the same operations otherwise, so the same results.
///
/// # Safety
/// The CPU must have AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn logistic_chunk_avx512(
    m: &[f64],
    y: &[f64],
    w: Option<&[f64]>,
    spw: f64,
    out: &mut [RowPair],
) -> [u32; 2] {
    logistic_chunk_any(m, y, w, spw, out)
}

/// The body of [`logistic_chunk`], written without branches so it vectorizes.
#[inline(always)]
fn logistic_chunk_any(
    m: &[f64],
    y: &[f64],
    w: Option<&[f64]>,
    spw: f64,
    out: &mut [RowPair],
) -> [u32; 2] {
    // The largest magnitudes as `max_magnitude_bits` finds them, while the pairs are made.
    let mut mx = [0i32; 2];
    let mut track = |p: RowPair| {
        mx[0] = mx[0].max((p[0].to_bits() & 0x7FFF_FFFF) as i32);
        mx[1] = mx[1].max((p[1].to_bits() & 0x7FFF_FFFF) as i32);
        p
    };
    match w {
        None => {
            let spw = spw as f32;
            for ((o, &m), &y) in out.iter_mut().zip(m).zip(y) {
                let w = if y == 1.0 { spw } else { 1.0 };
                *o = track(logistic_pair(m, y as f32, w));
            }
        }
        Some(ws) => {
            for (((o, &m), &y), &w) in out.iter_mut().zip(m).zip(y).zip(ws) {
                let w = if y == 1.0 { w * spw } else { w };
                *o = track(logistic_pair(m, y as f32, w as f32));
            }
        }
    }
    mx.map(|b| b as u32)
}

/// The largest weight a logistic row's pair is scaled by, as [`logistic_chunk`] applies it
/// (the row's weight, times `scale_pos_weight` for label 1, in `f32`); 0 without rows.
///
/// It bounds every logistic pair: `|p - y| <= 1` for labels in `[0, 1]`, and `p (1 - p)`
/// computed in `f32` never exceeds 0.25 (for `p >= 0.5`, `1 - p` is exact and the rounding of
/// the product is monotone; for `p < 0.5`, `1 - p` rounds up by at most 2^-25 and the product
/// exceeds 0.25 by less than half an ulp of 0.25), so `|g| <= w` and `h <= w / 4`. Training
/// sizes the fixed-point scale from this bound ([`logistic_fixed`]) instead of from each
/// tree's largest pair, which lets the pairs be computed and quantized in one pass; the scale
/// is the same power of two whenever the largest `|g|` exceeds half the bound and the largest
/// `h` an eighth of it, as they do once some row is predicted on the wrong side.
pub(crate) fn logistic_weight_max(labels: &[f64], weights: Option<&[f64]>, spw: f64) -> f64 {
    use rayon::prelude::*;
    let eff = |i: usize| -> f32 {
        let y = labels[i];
        match weights {
            None => {
                if y == 1.0 {
                    spw as f32
                } else {
                    1.0
                }
            }
            Some(w) => (if y == 1.0 { w[i] * spw } else { w[i] }) as f32,
        }
    };
    (0..labels.len())
        .into_par_iter()
        .with_min_len(1 << 14)
        .map(|i| eff(i).abs() as f64)
        .reduce(|| 0.0, f64::max)
}

/// Rows per chunk of [`logistic_fixed`]: its `f32` pairs stay in the L1 cache.
const FUSED_CHUNK: usize = 2048;

/// The logistic objective's pairs of every row straight into fixed point (`out`, resized to
/// the rows), with the previous tree's margin update applied first when `pending` holds it
/// (each row's leaf index, `u8::MAX` for none, and the leaves' values; see
/// `boost::pending_leaf_values`). One pass over the rows in chunks: margins updated, pairs
/// computed ([`logistic_chunk`], so the same `f32` values as [`gradients`]) and quantized
/// while the chunk is in cache, instead of a pass for each. `quant` must come from
/// [`logistic_weight_max`]'s bound. Returns the largest magnitudes of the `f32` pairs
/// ([`max_magnitude_bits`]), to tell whether any is not finite.
pub(crate) fn logistic_fixed(
    margins: &mut [f64],
    labels: &[f64],
    weights: Option<&[f64]>,
    spw: f64,
    pending: Option<(&[u8], &[f64])>,
    quant: &Quantizer,
    out: &mut Vec<QPair>,
) -> [u32; 2] {
    use rayon::prelude::*;
    out.resize(margins.len(), [0, 0]);
    out.par_chunks_mut(FUSED_CHUNK)
        .zip(margins.par_chunks_mut(FUSED_CHUNK))
        .enumerate()
        // The chunk's f32 pairs in a buffer of each task, reused from chunk to chunk.
        .map_init(
            || vec![[0f32; 2]; FUSED_CHUNK],
            |pairs, (ci, (o, m))| {
                let r = ci * FUSED_CHUNK..ci * FUSED_CHUNK + o.len();
                if let Some((ids, values)) = pending {
                    add_by_ids_one(m, &ids[r.clone()], values);
                }
                let pairs = &mut pairs[..o.len()];
                let bits =
                    logistic_chunk(m, &labels[r.clone()], weights.map(|w| &w[r]), spw, pairs);
                quant.quantize_into(pairs, o);
                bits
            },
        )
        .reduce(|| [0, 0], max_bits)
}

/// Fills `out` with `(grad, hess)` for each row, given margins (`n * k`, row-major) and, for
/// multiclass, the class `class` the tree being grown is for. Returns the largest magnitudes
/// written ([`max_magnitude_bits`] over all of `out`), found chunk by chunk while each chunk is
/// in cache, for [`crate::fixed::Quantizer::from_local_bits`].
#[allow(clippy::too_many_arguments)]
pub(crate) fn gradients(
    obj: Objective,
    margins: &[f64],
    labels: &[f64],
    weights: Option<&[f64]>,
    scale_pos_weight: f64,
    lp: &LossParams,
    k: usize,
    class: usize,
    out: &mut [RowPair],
) -> [u32; 2] {
    use rayon::prelude::*;
    if obj == Objective::BinaryLogistic && k == 1 {
        // The common case as one branch-free loop per chunk, which the compiler vectorizes.
        return out
            .par_chunks_mut(8192)
            .enumerate()
            .map(|(ci, chunk)| {
                let r = ci * 8192..ci * 8192 + chunk.len();
                let (m, y) = (&margins[r.clone()], &labels[r.clone()]);
                logistic_chunk(m, y, weights.map(|w| &w[r]), scale_pos_weight, chunk)
            })
            .reduce(|| [0, 0], max_bits);
    }
    out.par_chunks_mut(8192)
        .enumerate()
        .map(|(ci, chunk)| {
            for (j, o) in chunk.iter_mut().enumerate() {
                let i = ci * 8192 + j;
                let mut w = weights.map_or(1.0, |w| w[i]);
                let y = labels[i];
                *o = match obj {
                    Objective::BinaryLogistic => {
                        if y == 1.0 {
                            w *= scale_pos_weight;
                        }
                        logistic_pair(margins[i], y as f32, w as f32)
                    }
                    Objective::SquaredError => [((margins[i] - y) * w) as f32, w as f32],
                    Objective::MultiSoftmax => {
                        let m = &margins[i * k..(i + 1) * k];
                        let mx = m.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                        let z: f64 = m.iter().map(|v| (v - mx).exp()).sum();
                        let p = (m[class] - mx).exp() / z;
                        let t = if y as usize == class { 1.0 } else { 0.0 };
                        [
                            ((p - t) * w) as f32,
                            ((2.0 * p * (1.0 - p)).max(1e-16) * w) as f32,
                        ]
                    }
                    other => {
                        // XGBoost's gamma loss weights label-1 rows by scale_pos_weight too.
                        if other == Objective::Gamma && y == 1.0 {
                            w *= scale_pos_weight;
                        }
                        weighted_pair(other, lp, margins[i * k + class], y, w, class)
                    }
                };
            }
            max_magnitude_bits(chunk)
        })
        .reduce(|| [0, 0], max_bits)
}

/// Index of the largest value (the first one on ties).
pub(crate) fn argmax(v: &[f64]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The one-pass logistic pairs in fixed point against the separate passes: margins updated
    /// by leaf index, pairs from `gradients`, quantized at the same scale; weighted and not,
    /// with `scale_pos_weight`, over chunk boundaries. And the bound: no pair exceeds it,
    /// including margins where `p` is near 0.5 (the hessian's largest value).
    #[test]
    fn fused_logistic_pairs_equal_the_separate_passes_and_stay_within_the_bound() {
        let n = 3 * FUSED_CHUNK + 17;
        let mut rng = crate::testing::Rng(7);
        let margins: Vec<f64> = (0..n)
            .map(|i| match i % 5 {
                0 => (rng.next() - 0.5) * 1e-6,
                1 => (rng.next() - 0.5) * 40.0,
                _ => (rng.next() - 0.5) * 4.0,
            })
            .collect();
        let labels: Vec<f64> = (0..n).map(|_| (rng.next() < 0.3) as u8 as f64).collect();
        let weights: Vec<f64> = (0..n).map(|i| 0.5 + (i % 7) as f64).collect();
        let ids: Vec<u8> = (0..n)
            .map(|i| if i % 11 == 0 { u8::MAX } else { (i % 5) as u8 })
            .collect();
        let values = [0.1, -0.25, 0.0, 1.5, -3.0];
        for (w, spw) in [
            (None, 1.0),
            (Some(&weights[..]), 1.0),
            (None, 3.0),
            (Some(&weights[..]), 2.5),
        ] {
            let bound = logistic_weight_max(&labels, w, spw);
            let expect_bound = (0..n)
                .map(|i| {
                    let wi = w.map_or(1.0, |w| w[i]);
                    (if labels[i] == 1.0 { wi * spw } else { wi }) as f32 as f64
                })
                .fold(0.0, f64::max);
            assert_eq!(bound, expect_bound);
            let quant = Quantizer::from_bound([bound, bound / 4.0], n as u64).unwrap();
            // The separate passes.
            let mut m_sep = margins.clone();
            for (m, &id) in m_sep.iter_mut().zip(&ids) {
                if id != u8::MAX {
                    *m += values[id as usize];
                }
            }
            let mut gh = vec![[0f32; 2]; n];
            gradients(
                Objective::BinaryLogistic,
                &m_sep,
                &labels,
                w,
                spw,
                &LossParams::default(),
                1,
                0,
                &mut gh,
            );
            for (i, p) in gh.iter().enumerate() {
                let wi = w.map_or(1.0, |w| w[i]);
                let we = (if labels[i] == 1.0 { wi * spw } else { wi }) as f32;
                assert!(
                    p[0].abs() <= we && p[1] <= we / 4.0,
                    "row {i}: {p:?} beyond {we}"
                );
            }
            let mut q_sep = Vec::new();
            quant.quantize_all(&gh, &mut q_sep);
            // One pass.
            let mut m_one = margins.clone();
            let mut q_one = Vec::new();
            let bits = logistic_fixed(
                &mut m_one,
                &labels,
                w,
                spw,
                Some((&ids, &values)),
                &quant,
                &mut q_one,
            );
            assert_eq!(m_one, m_sep);
            assert_eq!(q_one, q_sep);
            assert_eq!(bits, crate::fixed::local_max_bits(&gh));
            // Without a pending update, the margins are left as they are.
            let mut m_none = m_sep.clone();
            let mut q_none = Vec::new();
            logistic_fixed(&mut m_none, &labels, w, spw, None, &quant, &mut q_none);
            assert_eq!((m_none, q_none), (m_sep.clone(), q_sep));
        }
    }

    #[test]
    fn names_parse_and_unknown_names_are_errors_listing_the_allowed_ones() {
        for o in Objective::ALL {
            assert_eq!(o.name().parse::<Objective>().unwrap(), o);
            assert_eq!(o.to_string(), o.name());
        }
        let softprob: Objective = "multi:softprob".parse().unwrap();
        assert_eq!(softprob, Objective::MultiSoftmax);
        let e = "binary:logitraw".parse::<Objective>().unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, MlError::InvalidParam { .. }), "{e:?}");
        assert!(
            msg.contains("'objective'") && msg.contains("binary:logitraw"),
            "{msg}"
        );
        assert!(
            msg.contains("binary:logistic, reg:squarederror, multi:softmax, reg:absoluteerror"),
            "{msg}"
        );
    }

    #[test]
    fn exp_f32_is_within_two_ulp_of_the_exact_exponential() {
        let mut worst = 0u32;
        let mut x = -87.0f32;
        while x < 88.0 {
            let exact = (x as f64).exp() as f32;
            let ulp = (exp_f32(x).to_bits() as i64 - exact.to_bits() as i64).unsigned_abs();
            worst = worst.max(ulp as u32);
            x += 0.001_37;
        }
        assert!(worst <= 2, "worst error {worst} ulp");
        assert!(exp_f32(-1e9) > 0.0 && exp_f32(1e9).is_finite());
    }

    #[test]
    fn logistic_gradients_are_p_minus_y_and_p_one_minus_p() {
        let mut out = [[0.0; 2]; 2];
        gradients(
            Objective::BinaryLogistic,
            &[0.0, 2.0f64.ln()],
            &[1.0, 0.0],
            None,
            1.0,
            &LossParams::default(),
            1,
            0,
            &mut out,
        );
        // Computed in single precision, as XGBoost does: exact at p = 1/2, within f32 rounding
        // at p = 2/3.
        assert!((out[0][0] + 0.5).abs() < 1e-12 && (out[0][1] - 0.25).abs() < 1e-12);
        assert!((out[1][0] - 2.0 / 3.0).abs() < 1e-6 && (out[1][1] - 2.0 / 9.0).abs() < 1e-6);
    }

    /// The maxima the gradient pass returns (found chunk by chunk) are those of a separate
    /// pass over everything it wrote, for the vectorized logistic loop and the general one,
    /// over several chunks, and they flag a non-finite value.
    #[test]
    fn gradient_pass_returns_the_largest_magnitudes_it_wrote() {
        let n = 3 * 8192 + 77;
        let margins: Vec<f64> = (0..n)
            .map(|i| ((i * 37 % 1001) as f64 - 500.0) / 40.0)
            .collect();
        let labels: Vec<f64> = (0..n).map(|i| ((i * 13) % 7 % 2) as f64).collect();
        let weights: Vec<f64> = (0..n).map(|i| 0.5 + (i % 5) as f64).collect();
        for obj in [Objective::BinaryLogistic, Objective::SquaredError] {
            for w in [None, Some(&weights[..])] {
                let mut out = vec![[0f32; 2]; n];
                let bits = gradients(
                    obj,
                    &margins,
                    &labels,
                    w,
                    2.0,
                    &LossParams::default(),
                    1,
                    0,
                    &mut out,
                );
                assert_eq!(
                    bits,
                    crate::fixed::local_max_bits(&out),
                    "{obj:?}, weights {}",
                    w.is_some()
                );
                assert!(bits[0] > 0 && bits[1] > 0);
            }
        }
        let mut bad = margins.clone();
        bad[2 * 8192 + 5] = f64::NAN;
        let mut out = vec![[0f32; 2]; n];
        let bits = gradients(
            Objective::SquaredError,
            &bad,
            &labels,
            None,
            1.0,
            &LossParams::default(),
            1,
            0,
            &mut out,
        );
        assert!(bits[0] >= 0x7F80_0000, "a NaN gradient is flagged");
    }
}
