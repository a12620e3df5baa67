//! [`crate::sample`]'s row hashes eight rows to a vector with AVX-512 (F and DQ), four vectors
//! (32 rows) at a time: each row's hash chain is the same sequence of 64-bit operations as
//! [`crate::sample::row_hash`]'s, one lane each, so the hashes are the same bits.
//!
//! The values are loaded one by one into the vectors: a gather of values `d` apart was slower
//! than separate loads on an AMD EPYC (see [`crate::codes_avx512`]).

use std::arch::x86_64::*;

use crate::sample::{row_hash, ROW_HASH_SEED};

/// Rows hashed together: four vectors of eight, so that four chains of multiplications
/// overlap.
const ROWS: usize = 32;

/// [`crate::sample::row_hashes`] with AVX-512F and AVX-512DQ: the same hashes.
///
/// # Safety
/// The CPU must have AVX-512F and AVX-512DQ; `values.len() == out.len() * d`.
#[target_feature(enable = "avx512f,avx512dq")]
pub(crate) unsafe fn row_hashes(
    values: &[f64],
    d: usize,
    weight: impl Fn(usize) -> f64,
    out: &mut [u64],
) {
    let n = out.len();
    let full = if d == 0 { 0 } else { n / ROWS * ROWS };
    let k = Consts::new();
    for r0 in (0..full).step_by(ROWS) {
        let rows = &values[r0 * d..(r0 + ROWS) * d];
        let mut h = [_mm512_set1_epi64(ROW_HASH_SEED as i64); ROWS / 8];
        for j in 0..d {
            for (g, h) in h.iter_mut().enumerate() {
                // SAFETY: this function runs with AVX-512F.
                let v = unsafe { lanes(&rows[g * 8 * d + j..], d) };
                *h = _mm512_add_epi64(k.avalanche(_mm512_xor_si512(*h, k.canonical(v))), k.golden);
            }
        }
        for (g, h) in h.into_iter().enumerate() {
            let r = r0 + g * 8;
            let w = _mm512_set_pd(
                weight(r + 7),
                weight(r + 6),
                weight(r + 5),
                weight(r + 4),
                weight(r + 3),
                weight(r + 2),
                weight(r + 1),
                weight(r),
            );
            let h = k.avalanche(_mm512_xor_si512(h, k.canonical(w)));
            // SAFETY: `r + 8 <= full <= out.len()`.
            unsafe { _mm512_storeu_si512(out.as_mut_ptr().add(r).cast(), h) };
        }
    }
    for (r, o) in out.iter_mut().enumerate().skip(full) {
        *o = row_hash(values[r * d..(r + 1) * d].iter().copied(), weight(r));
    }
}

/// `b[0], b[d], ..., b[7 * d]` in lanes 0 to 7: eight rows' values of one feature, from
/// row-major rows of `d` values (loaded one by one, see the module docs).
///
/// # Safety
/// The CPU must have AVX-512F.
#[inline]
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn lanes(b: &[f64], d: usize) -> __m512d {
    _mm512_set_pd(
        b[7 * d],
        b[6 * d],
        b[5 * d],
        b[4 * d],
        b[3 * d],
        b[2 * d],
        b[d],
        b[0],
    )
}

/// The hash's constants, in every lane.
struct Consts {
    mul1: __m512i,
    mul2: __m512i,
    golden: __m512i,
    nan: __m512i,
}

impl Consts {
    #[inline(always)]
    fn new() -> Self {
        // SAFETY (of the intrinsics): only called from `row_hashes`, compiled with AVX-512F.
        unsafe {
            Consts {
                mul1: _mm512_set1_epi64(0xBF58_476D_1CE4_E5B9u64 as i64),
                mul2: _mm512_set1_epi64(0x94D0_49BB_1331_11EBu64 as i64),
                golden: _mm512_set1_epi64(0x9E37_79B9_7F4A_7C15u64 as i64),
                nan: _mm512_set1_epi64(f64::NAN.to_bits() as i64),
            }
        }
    }

    /// The values' bits, NaN of any payload as one NaN ([`crate::sample`]'s `canonical_bits`).
    #[inline(always)]
    fn canonical(&self, v: __m512d) -> __m512i {
        // SAFETY (of the intrinsics): only called from `row_hashes`, compiled with AVX-512F.
        unsafe {
            let nan = _mm512_cmp_pd_mask::<_CMP_UNORD_Q>(v, v);
            _mm512_mask_blend_epi64(nan, _mm512_castpd_si512(v), self.nan)
        }
    }

    /// SplitMix64's finalizer in every lane ([`crate::sample::avalanche`]).
    #[inline(always)]
    fn avalanche(&self, z: __m512i) -> __m512i {
        // SAFETY (of the intrinsics): only called from `row_hashes`, compiled with AVX-512F
        // and AVX-512DQ.
        unsafe {
            let z = _mm512_mullo_epi64(_mm512_xor_si512(z, _mm512_srli_epi64::<30>(z)), self.mul1);
            let z = _mm512_mullo_epi64(_mm512_xor_si512(z, _mm512_srli_epi64::<27>(z)), self.mul2);
            _mm512_xor_si512(z, _mm512_srli_epi64::<31>(z))
        }
    }
}
