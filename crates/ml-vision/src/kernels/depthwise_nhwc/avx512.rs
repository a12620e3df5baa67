//! The AVX-512F path of the depthwise kernel: 16-channel vectors, blocks of 32 channels (two
//! vectors), a masked last block when the channel count is not a multiple of 16 (no scalar
//! remainder). Same loop structure as the AVX2 path (see [`DepthwiseWeights::run_avx2`]): on
//! large planes output rows outermost and border columns with their valid tap range; small
//! padded planes copied per channel block into a zero-padded plane.

use std::arch::x86_64::*;

use super::{far_padding, image_rows, tap_cols, DepthwiseWeights, DwRow, DW_PIXELS, SMALL_PLANE};
use crate::kernels::{ConvGeometry, Epilogue};

/// Channels per block of the AVX-512 kernel (two 16-lane vectors).
const BLOCK: usize = 32;

/// Whether the CPU has AVX-512F and the kernels may use it (checked once; see [`crate::isa`]).
pub(super) fn has_avx512f() -> bool {
    use std::sync::OnceLock;
    static HAS: OnceLock<bool> = OnceLock::new();
    *HAS.get_or_init(crate::isa::avx512f)
}

/// The lane masks of a block of `n` channels (`1 ..= 32`): first vector, second vector.
fn masks(n: usize) -> [__mmask16; 2] {
    let lanes = |k: usize| -> __mmask16 {
        if k >= 16 {
            0xFFFF
        } else {
            ((1u32 << k) - 1) as __mmask16
        }
    };
    [lanes(n.min(16)), lanes(n.saturating_sub(16))]
}

/// One channel block: where it starts, its lane masks, how many vectors it spans and whether
/// its loads need the masks.
#[derive(Clone, Copy)]
struct Block {
    ch: usize,
    m: [__mmask16; 2],
    vectors: usize,
    masked: bool,
}

impl Block {
    fn new(ch: usize, c: usize) -> Self {
        let n = (c - ch).min(BLOCK);
        Block {
            ch,
            m: masks(n),
            vectors: n.div_ceil(16),
            masked: !n.is_multiple_of(16),
        }
    }

    /// Runs `P` outputs from `ox` of row `r` with the group variant this block needs.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn group<const P: usize>(&self, r: &DwRow, ox: usize, kx0: usize, kx1: usize) {
        match (self.vectors, self.masked) {
            (2, false) => dw_group_512::<P, 2, false>(r, self.m, ox, kx0, kx1),
            (2, true) => dw_group_512::<P, 2, true>(r, self.m, ox, kx0, kx1),
            (_, false) => dw_group_512::<P, 1, false>(r, self.m, ox, kx0, kx1),
            (_, true) => dw_group_512::<P, 1, true>(r, self.m, ox, kx0, kx1),
        }
    }
}

impl DepthwiseWeights {
    /// The AVX-512F version of [`DepthwiseWeights::run_avx2`] (see the [module docs](self)).
    ///
    /// # Safety
    /// The CPU must have AVX-512F; `x` and `out` must have the lengths [`DepthwiseWeights::run`]
    /// asserts.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn run_avx512(&self, x: &[f32], ep: Epilogue, out: &mut [f32]) {
        let g = self.geo;
        let c = self.c;
        let bounds = ep.bounds();
        let (pad_bottom, pad_right) = far_padding(&g);
        let padded = g.pad_top + g.pad_left + pad_bottom + pad_right > 0;
        if !(padded && g.h * g.w <= SMALL_PLANE) {
            let mut rows = Vec::with_capacity(g.kh);
            for (oy, o) in out.chunks_exact_mut(g.ow * c).enumerate() {
                image_rows(x, &g, c, oy, &mut rows);
                self.row_avx512(&rows, oy, ep, o);
            }
            return;
        }
        let out_ptr = out.as_mut_ptr();
        let blocks: Vec<Block> = (0..c).step_by(BLOCK).map(|ch| Block::new(ch, c)).collect();
        let (hp, wp) = (g.h + g.pad_top + pad_bottom, g.w + g.pad_left + pad_right);
        let inner = ConvGeometry {
            h: hp,
            w: wp,
            pad_top: 0,
            pad_left: 0,
            ..g
        };
        let mut buf: Vec<f32> = Vec::new();
        for b in &blocks {
            let bw = 16 * b.vectors;
            if buf.len() != hp * wp * bw {
                buf.clear();
                buf.resize(hp * wp * bw, 0.0);
            }
            let bp = buf.as_mut_ptr();
            for y in 0..g.h {
                for xx in 0..g.w {
                    let from = x.as_ptr().add((y * g.w + xx) * c + b.ch);
                    let to = bp.add(((y + g.pad_top) * wp + xx + g.pad_left) * bw);
                    for v in 0..b.vectors {
                        let val = _mm512_maskz_loadu_ps(b.m[v], from.wrapping_add(16 * v));
                        _mm512_storeu_ps(to.add(16 * v), val);
                    }
                }
            }
            let mut rows = Vec::with_capacity(g.kh);
            for oy in 0..inner.oh {
                image_rows(&buf, &inner, bw, oy, &mut rows);
                let o = out_ptr.add(oy * g.ow * c);
                let r = self.row(&rows, 0, bw, inner, b.ch, oy, o, bounds);
                let mut ox = 0;
                // Rows of 7 (EfficientNet's last stage) in one group of 7.
                while inner.ow.is_multiple_of(7) && ox + 7 <= inner.ow {
                    b.group::<7>(&r, ox, 0, inner.kw);
                    ox += 7;
                }
                while ox + DW_PIXELS <= inner.ow {
                    b.group::<DW_PIXELS>(&r, ox, 0, inner.kw);
                    ox += DW_PIXELS;
                }
                while ox < inner.ow {
                    b.group::<1>(&r, ox, 0, inner.kw);
                    ox += 1;
                }
            }
        }
    }

    /// Output row `oy` (`out`: `[ow][c]`) from the tap rows `rows` (`w * c` values each, for
    /// the tap rows inside the image): groups of 6 outputs, blocks of 32 channels innermost;
    /// border columns one output at a time with their valid tap columns.
    ///
    /// # Safety
    /// The CPU must have AVX-512F; the rows and `out` must have the lengths above.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn row_avx512(
        &self,
        rows: &[&[f32]],
        oy: usize,
        ep: Epilogue,
        out: &mut [f32],
    ) {
        let g = self.geo;
        let c = self.c;
        let bounds = ep.bounds();
        let out_ptr = out.as_mut_ptr();
        let (ilo, ihi) = g.interior_cols();
        let mut ox = 0;
        while ox < g.ow {
            let group = ox >= ilo && ox + DW_PIXELS <= ihi;
            let (kx0, kx1) = if group { (0, g.kw) } else { tap_cols(&g, ox) };
            let mut ch = 0;
            while ch < c {
                let b = Block::new(ch, c);
                let r = self.row(rows, ch, c, g, ch, oy, out_ptr, bounds);
                if group {
                    b.group::<DW_PIXELS>(&r, ox, kx0, kx1);
                } else {
                    b.group::<1>(&r, ox, kx0, kx1);
                }
                ch += BLOCK;
            }
            ox += if group { DW_PIXELS } else { 1 };
        }
    }
}

/// Loads 16 lanes at `p`, only those of `m` when `M` (the others read as zero, not touched).
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn load<const M: bool>(m: __mmask16, p: *const f32) -> __m512 {
    if M {
        _mm512_maskz_loadu_ps(m, p)
    } else {
        _mm512_loadu_ps(p)
    }
}

/// `P` consecutive outputs from `ox`, `16 * V` channels (lanes `m`; loads masked when `M`),
/// tap columns `kx0 .. kx1` (inside the image for all `P` outputs), rows `ky0 .. ky1`; the
/// `P * V` sums stay in registers.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn dw_group_512<const P: usize, const V: usize, const M: bool>(
    r: &DwRow,
    m: [__mmask16; 2],
    ox: usize,
    kx0: usize,
    kx1: usize,
) {
    let g = &r.g;
    let mut acc = [[_mm512_setzero_ps(); V]; P];
    for v in 0..V {
        let b = load::<M>(m[v], r.bias.wrapping_add(16 * v));
        for a in acc.iter_mut() {
            a[v] = b;
        }
    }
    // Column of the first tap: ox * sw + kx0 - pad_left >= 0 by the choice of kx0.
    let ix0 = ox * g.sw + kx0 - g.pad_left;
    let step = g.sw * r.xs;
    for ky in r.ky0..r.ky1 {
        let mut xk = r
            .rows
            .get_unchecked(ky)
            .as_ptr()
            .wrapping_add(r.xoff + ix0 * r.xs);
        let mut wk = r.taps.wrapping_add((ky * g.kw + kx0) * r.c);
        for _ in kx0..kx1 {
            for v in 0..V {
                let wv = load::<M>(m[v], wk.wrapping_add(16 * v));
                for (j, a) in acc.iter_mut().enumerate() {
                    let xv = load::<M>(m[v], xk.wrapping_add(j * step + 16 * v));
                    a[v] = _mm512_fmadd_ps(wv, xv, a[v]);
                }
            }
            xk = xk.wrapping_add(r.xs);
            wk = wk.wrapping_add(r.c);
        }
    }
    let lo = _mm512_set1_ps(r.lo);
    let hi = _mm512_set1_ps(r.hi);
    for (j, a) in acc.iter().enumerate() {
        let o = r.out.wrapping_add((ox + j) * r.c);
        for (v, av) in a.iter().enumerate() {
            let y = _mm512_min_ps(_mm512_max_ps(*av, lo), hi);
            _mm512_mask_storeu_ps(o.wrapping_add(16 * v), m[v], y);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{check_against_reference, CASES};
    use super::*;

    #[test]
    fn avx512_depthwise_equals_the_direct_definition_where_the_cpu_has_it() {
        if !has_avx512f() {
            eprintln!("no AVX-512F on this CPU: the AVX-512 depthwise kernel is not exercised");
            return;
        }
        // Besides the shared shapes: masked last blocks of 5, 16 and 21 channels (c % 32).
        let extra = [
            (37, 7, 7, 5, 1, (2, 2, 2, 2)),
            (80, 36, 36, 3, 1, (1, 1, 1, 1)),
            (53, 33, 33, 5, 2, (1, 1, 2, 2)),
        ];
        let cases: Vec<_> = CASES.iter().chain(&extra).copied().collect();
        // SAFETY: AVX-512F was detected above; the lengths are those `run` asserts.
        check_against_reference(&cases, "avx512 depthwise", |p, x, ep, out| unsafe {
            p.run_avx512(x, ep, out)
        });
    }
}
