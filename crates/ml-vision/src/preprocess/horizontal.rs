//! The horizontal pass of the Pillow-exact bilinear resize with AVX2: one output pixel's three
//! channel sums over its taps, two taps per 8-lane vector.
//!
//! A pixel's taps read consecutive source pixels, so the 6 bytes of taps `i` and `i + 1` lie
//! side by side: 8 bytes loaded from the first and widened to 8 `i32` lanes hold
//! `[R_i G_i B_i R_i+1 G_i+1 B_i+1 x x]`, multiplied by `[k_i k_i k_i k_i+1 k_i+1 k_i+1 0 0]`.
//! Lanes 3..6 are added onto lanes 0..3 at the end. The products and their sum are the scalar
//! pass's integers (22-bit weights, 8-bit values: far from `i32` overflow), so the result is
//! the same bytes in any order of the terms; the rounding and clip are Pillow's (`clip8`).
//!
//! Loads read up to 8 bytes from a tap's first byte: past the pixel's last tap (where the
//! weights are zero) and, at the end of a row, into the next row. A pixel is taken here only
//! when every load ends inside the image's bytes; the few others (at the end of the last
//! rows) take the scalar path.

use super::{clip8, Taps, PRECISION_BITS};

/// Per output pixel of a window: its first source pixel and its taps laid out in pairs, each
/// pair as the 8 lanes its vector multiplies by.
pub(super) struct PairedTaps {
    /// First source pixel of each output pixel.
    xmin: Vec<usize>,
    /// Taps per output pixel, in pairs (half the widest pixel's taps, rounded up).
    pairs: usize,
    /// `pairs * 8` weights per output pixel.
    lanes: Vec<i32>,
}

impl PairedTaps {
    /// The taps of every output pixel of `taps` (a window's horizontal taps), in pairs.
    pub(super) fn new(taps: &Taps) -> PairedTaps {
        let n = taps.bounds.len();
        // As many pairs as the widest pixel needs (`ksize` bounds the taps of any window; a
        // window's pixels often need fewer: 5 of 7 for a 2.25x downscale).
        let widest = taps.bounds.iter().map(|&(_, n)| n).max().unwrap_or(1);
        let pairs = widest.div_ceil(2).max(1);
        let mut lanes = vec![0i32; n * pairs * 8];
        let mut xmin = Vec::with_capacity(n);
        for i in 0..n {
            let (first, k) = taps.of(taps.first + i);
            xmin.push(first);
            for (t, &kk) in k.iter().enumerate() {
                let base = (i * pairs + t / 2) * 8 + 3 * (t % 2);
                lanes[base..base + 3].fill(kk);
            }
        }
        PairedTaps { xmin, pairs, lanes }
    }
}

/// Whether the CPU runs [`horizontal_avx2`] (checked once; see [`crate::isa`] for the cap).
pub(super) fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        use std::sync::OnceLock;
        static HAS: OnceLock<bool> = OnceLock::new();
        *HAS.get_or_init(crate::isa::avx2)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The horizontal pass of source row `y` of the `w`-pixel-wide interleaved RGB image `data`
/// into `out` (one RGB pixel per entry of `taps`), as the scalar pass computes it.
///
/// # Safety
/// The CPU must have AVX2 ([`has_avx2`]).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
pub(super) unsafe fn horizontal_avx2(
    data: &[u8],
    w: usize,
    y: usize,
    taps: &PairedTaps,
    scalar: &Taps,
    out: &mut [u8],
) {
    use std::arch::x86_64::*;
    assert_eq!(out.len(), taps.xmin.len() * 3);
    assert!((y + 1) * w * 3 <= data.len());
    let half = _mm256_set1_epi32(1 << (PRECISION_BITS - 1));
    // Lanes 3, 4, 5 moved to 0, 1, 2.
    let upper = _mm256_setr_epi32(3, 4, 5, 7, 7, 7, 7, 7);
    let row = y * w * 3;
    let pairs = taps.pairs;
    for (i, o) in out.chunks_exact_mut(3).enumerate() {
        let first = row + taps.xmin[i] * 3;
        // The last load reads bytes [first + 6 * (pairs - 1), first + 6 * (pairs - 1) + 8).
        if first + 6 * (pairs - 1) + 8 > data.len() {
            let (xmin, k) = scalar.of(scalar.first + i);
            let mut s = [1i32 << (PRECISION_BITS - 1); 3];
            for (t, &kk) in k.iter().enumerate() {
                let p = &data[row + (xmin + t) * 3..row + (xmin + t) * 3 + 3];
                for c in 0..3 {
                    s[c] += p[c] as i32 * kk;
                }
            }
            o.copy_from_slice(&s.map(clip8));
            continue;
        }
        let weights = &taps.lanes[i * pairs * 8..(i + 1) * pairs * 8];
        let mut acc = half;
        for j in 0..pairs {
            // SAFETY: `first + 6 * j + 8 <= data.len()` (checked above for the last pair);
            // `weights` holds 8 lanes per pair; unaligned loads.
            let bytes = _mm_loadl_epi64(data.as_ptr().add(first + 6 * j).cast());
            let wv = _mm256_loadu_si256(weights.as_ptr().add(8 * j).cast());
            acc = _mm256_add_epi32(acc, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(bytes), wv));
        }
        // `half` sits in every lane; lanes 3..6 lose theirs by the shift: add lanes 3..6 minus
        // one `half` onto lanes 0..3.
        let moved = _mm256_sub_epi32(_mm256_permutevar8x32_epi32(acc, upper), half);
        let sums = _mm256_srai_epi32::<{ PRECISION_BITS as i32 }>(_mm256_add_epi32(acc, moved));
        // Saturating packs clamp to 0..=255 as clip8 does.
        let s = _mm256_castsi256_si128(sums);
        let packed = _mm_packus_epi16(_mm_packs_epi32(s, s), _mm_setzero_si128());
        let v = (_mm_cvtsi128_si32(packed) as u32).to_le_bytes();
        o.copy_from_slice(&v[..3]);
    }
}
