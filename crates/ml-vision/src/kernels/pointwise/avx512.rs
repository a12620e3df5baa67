//! The AVX-512F path of the pointwise kernel: tiles of `R` pixels x `NP` panels (16 output
//! channels each, one 16-lane register per pixel and panel), the sums of a tile in registers
//! over a slice of `k`.
//!
//! The tile is chosen per layer shape ([`Tile::for_shape`]): up to 28 of the 32 vector
//! registers hold sums, the rest the `NP` weight vectors and the broadcast activation. Pixels are
//! split into blocks of nearly equal size (49 pixels are 4 blocks of 12-13, not 3 of 14 and one
//! of 7). For layers with many pixels and large weights, `k` is cut into slices ([`Tile::kc`]): the partial
//! sums of a slice go to the output and are picked up by the next slice, in the same order as
//! without slices (bias, then the input channels in order, one fused multiply-add each), so the
//! result does not depend on the tile.

use std::arch::x86_64::*;

use super::{PointwiseWeights, PANEL};
use crate::kernels::ConvGeometry;

/// How the AVX-512 pointwise kernel cuts a product `x[pixels, k] w[k, cout]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tile {
    /// Pixels per block (at most [`max_rows`] of `panels`).
    pub rows: usize,
    /// Panels (16 output channels each) per block, 1 to 4.
    pub panels: usize,
    /// Input channels per slice of `k` (0: the whole `k` at once).
    pub kc: usize,
    /// Panel groups outermost (each group's weights stay in L1 across the pixel blocks) rather
    /// than pixel blocks outermost (each block's activations stay in L1 across the panels).
    pub panels_outer: bool,
}

/// The largest pixel block for `panels` panels per block (sums in at most 28 registers).
pub const fn max_rows(panels: usize) -> usize {
    match panels {
        1 => 16,
        2 => 14,
        3 => 9,
        _ => 7,
    }
}

impl Tile {
    /// The tile used for a `pixels x k -> cout` product. `k` is sliced (128) only on more
    /// than 196 pixels: on the AMD EPYC with AVX-512 every layer of 49 and 196 pixels ran
    /// fastest with the whole `k` (`pointwise_layers sweep`), and the model 4% faster
    /// (`benches/vision.md`).
    pub fn for_shape(pixels: usize, k: usize, cout: usize) -> Tile {
        let (rows, panels) = match cout.div_ceil(PANEL) {
            1 => (16, 1),
            2 => (14, 2),
            7 => (7, 4),
            _ => (9, 3),
        };
        Tile {
            rows,
            panels,
            kc: if k > 128 && pixels > 196 { 128 } else { 0 },
            panels_outer: pixels <= 196,
        }
    }
}

/// One call of the micro-kernel: `R` pixels x `NP` panels over `kc` input channels.
struct Args {
    /// First pixel's activations at the slice's first input channel; pixel `i` is `i * ldx`
    /// further.
    x: *const f32,
    ldx: usize,
    kc: usize,
    /// First panel's weights at the slice's first input channel; panel `j` is `j * lpw`
    /// further, input channel `kk` `kk * PANEL` further.
    w: *const f32,
    lpw: usize,
    bias: *const f32,
    out: *mut f32,
    res: *const f32,
    ldo: usize,
    /// Output channels of this block (`(NP - 1) * PANEL < cols <= NP * PANEL`).
    cols: usize,
    /// The sums start from the bias (else from the partial sums in `out`).
    first: bool,
    /// The residual and the clip are applied (else the partial sums are stored as they are).
    last: bool,
    lo: f32,
    hi: f32,
}

/// Runs `x[pixels, k] w[k, cout]` (+ residual, clip) with `tile`.
///
/// # Safety
/// The CPU must have AVX-512F; `x` is `[pixels][w.k]`, `out` and `residual` `[pixels][w.cout]`.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn run(
    w: &PointwiseWeights,
    x: &[f32],
    residual: Option<&[f32]>,
    (lo, hi): (f32, f32),
    out: &mut [f32],
    pixels: usize,
    tile: Tile,
) {
    let (k, cout) = (w.k, w.cout);
    debug_assert!(x.len() >= pixels * k && out.len() >= pixels * cout);
    let n_panels = cout.div_ceil(PANEL);
    let np_max = tile.panels.clamp(1, 4);
    let rows = tile.rows.clamp(1, max_rows(np_max));
    // Slices of nearly equal length, none longer than `tile.kc`.
    let kc = if tile.kc == 0 || tile.kc >= k {
        k.max(1)
    } else {
        k.div_ceil(k.div_ceil(tile.kc))
    };
    let res = residual.map_or(std::ptr::null(), |r| r.as_ptr());
    let out_ptr = out.as_mut_ptr();
    let n_blocks = pixels.div_ceil(rows);
    // Block `b` of nearly equal blocks: (first pixel, pixels).
    let block = |b: usize| {
        let (base, extra) = (pixels / n_blocks, pixels % n_blocks);
        (b * base + b.min(extra), base + usize::from(b < extra))
    };
    let call = |p0: usize, r: usize, panel: usize, k0: usize, kn: usize| {
        let np = np_max.min(n_panels - panel);
        let at = p0 * cout + panel * PANEL;
        let args = Args {
            x: x.as_ptr().add(p0 * k + k0),
            ldx: k,
            kc: kn,
            w: w.panels.as_ptr().add((panel * k + k0) * PANEL),
            lpw: k * PANEL,
            bias: w.bias.as_ptr().add(panel * PANEL),
            out: out_ptr.add(at),
            res: if res.is_null() { res } else { res.add(at) },
            ldo: cout,
            cols: (np * PANEL).min(cout - panel * PANEL),
            first: k0 == 0,
            last: k0 + kn >= k,
            lo,
            hi,
        };
        // SAFETY: the caller checked AVX-512F; block `p0 .. p0 + r` x panels `panel ..
        // panel + np` over input channels `k0 .. k0 + kn` lies inside `x`, the packed weights,
        // the bias (padded to whole panels), `out` and `residual` (lengths as documented).
        dispatch(r, np, &args);
    };
    let mut k0 = 0;
    loop {
        let kn = kc.min(k - k0);
        if tile.panels_outer {
            for panel in (0..n_panels).step_by(np_max) {
                for b in 0..n_blocks {
                    let (p0, r) = block(b);
                    call(p0, r, panel, k0, kn);
                }
            }
        } else {
            for b in 0..n_blocks {
                let (p0, r) = block(b);
                for panel in (0..n_panels).step_by(np_max) {
                    call(p0, r, panel, k0, kn);
                }
            }
        }
        k0 += kn;
        if k0 >= k {
            break;
        }
    }
}

/// Calls the micro-kernel instance for `r` pixels and `np` panels.
///
/// # Safety
/// As [`tile`]; `r` is at most [`max_rows`] of `np`, `np` is 1 to 4.
#[target_feature(enable = "avx512f")]
unsafe fn dispatch(r: usize, np: usize, a: &Args) {
    macro_rules! rows {
        ($np:literal; $($r:literal)*) => {
            match r {
                $($r => tile::<$r, $np>(a),)*
                _ => unreachable!("{r} rows for {} panels", $np),
            }
        };
    }
    match np {
        1 => rows!(1; 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16),
        2 => rows!(2; 1 2 3 4 5 6 7 8 9 10 11 12 13 14),
        3 => rows!(3; 1 2 3 4 5 6 7 8 9),
        _ => rows!(4; 1 2 3 4 5 6 7),
    }
}

/// Lanes of panel `j` inside a block of `cols` output channels.
#[inline(always)]
fn lanes(cols: usize, j: usize) -> __mmask16 {
    let n = cols.saturating_sub(j * PANEL).min(PANEL);
    ((1u32 << n) - 1) as __mmask16
}

/// `R` pixels x `NP` panels of the product over one slice of `k` (see [`Args`]).
///
/// # Safety
/// The CPU must have AVX-512F; `R` rows of `x` (`ldx` apart) hold `kc` values from `a.x`, the
/// `NP` panels of weights hold `kc * PANEL` values each from `a.w`, the bias `NP * PANEL`,
/// and `R` rows of `out` (and of `res` if not null) `cols` values each.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn tile<const R: usize, const NP: usize>(a: &Args) {
    let mut acc = [[_mm512_setzero_ps(); NP]; R];
    if a.first {
        for j in 0..NP {
            let b = _mm512_loadu_ps(a.bias.add(j * PANEL));
            for row in acc.iter_mut() {
                row[j] = b;
            }
        }
    } else {
        for (i, row) in acc.iter_mut().enumerate() {
            for (j, v) in row.iter_mut().enumerate() {
                let m = lanes(a.cols, j);
                *v = _mm512_maskz_loadu_ps(m, a.out.add(i * a.ldo + j * PANEL));
            }
        }
    }
    let rows: [*const f32; R] = std::array::from_fn(|i| a.x.add(i * a.ldx));
    let mut wp = a.w;
    for kk in 0..a.kc {
        let mut w = [_mm512_setzero_ps(); NP];
        for (j, wj) in w.iter_mut().enumerate() {
            *wj = _mm512_loadu_ps(wp.add(j * a.lpw));
        }
        for (i, row) in acc.iter_mut().enumerate() {
            let v = _mm512_set1_ps(*rows[i].add(kk));
            for j in 0..NP {
                row[j] = _mm512_fmadd_ps(v, w[j], row[j]);
            }
        }
        wp = wp.add(PANEL);
    }
    let (lo, hi) = (_mm512_set1_ps(a.lo), _mm512_set1_ps(a.hi));
    for (i, row) in acc.iter().enumerate() {
        let o = a.out.add(i * a.ldo);
        for (j, v) in row.iter().enumerate() {
            let m = lanes(a.cols, j);
            let mut v = *v;
            if a.last {
                if !a.res.is_null() {
                    let r = _mm512_maskz_loadu_ps(m, a.res.add(i * a.ldo + j * PANEL));
                    v = _mm512_add_ps(v, r);
                }
                v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);
            }
            _mm512_mask_storeu_ps(o.add(j * PANEL), m, v);
        }
    }
}

/// Pixels per block of [`direct_row`] (two panels: 28 sums in registers).
const DIRECT_ROWS: usize = 14;

/// One call of the direct micro-kernel: `R` output pixels of one row x `NP` panels.
struct DirectArgs {
    /// The input at the first pixel's top-left tap of channel 0; tap `t` is `taps[t]` further,
    /// pixel `i` is `i * SW` further.
    x: *const f32,
    taps: *const usize,
    k: usize,
    w: *const f32,
    lpw: usize,
    bias: *const f32,
    out: *mut f32,
    ldo: usize,
    cols: usize,
    lo: f32,
    hi: f32,
}

/// Output pixels `ox0 .. ox1` of output row `oy` of a general convolution read straight from
/// a channels-first image (no patches): each tap's activations of the block's pixels are
/// `SW` apart in one image row. Every tap of these pixels must be inside the image. `taps[t]`
/// is the offset of tap `t = (ci * kh + ky) * kw + kx` from the block's first input value,
/// `(ci * h + ky) * w + kx`. Same sums, in the same order, as the patches through [`run`].
///
/// # Safety
/// The CPU must have AVX-512F; `g.sw` is 1 or 2; every tap of the pixels is inside `x`
/// (`[cin][h][w]`); `out` is `[oh][ow][w.cout]`.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn direct_row(
    w: &PointwiseWeights,
    x: &[f32],
    g: &ConvGeometry,
    taps: &[usize],
    oy: usize,
    (ox0, ox1): (usize, usize),
    (lo, hi): (f32, f32),
    out: &mut [f32],
) {
    let (k, cout) = (w.k, w.cout);
    debug_assert_eq!(taps.len(), k);
    let n_panels = cout.div_ceil(PANEL);
    let pixels = ox1 - ox0;
    if pixels == 0 {
        return;
    }
    let n_blocks = pixels.div_ceil(DIRECT_ROWS);
    let iy0 = oy * g.sh - g.pad_top;
    for b in 0..n_blocks {
        let (base, extra) = (pixels / n_blocks, pixels % n_blocks);
        let p0 = ox0 + b * base + b.min(extra);
        let r = base + usize::from(b < extra);
        let ix0 = p0 * g.sw - g.pad_left;
        for panel in (0..n_panels).step_by(2) {
            let np = 2.min(n_panels - panel);
            let at = (oy * g.ow + p0) * cout + panel * PANEL;
            let a = DirectArgs {
                x: x.as_ptr().add(iy0 * g.w + ix0),
                taps: taps.as_ptr(),
                k,
                w: w.panels.as_ptr().add(panel * k * PANEL),
                lpw: k * PANEL,
                bias: w.bias.as_ptr().add(panel * PANEL),
                out: out.as_mut_ptr().add(at),
                ldo: cout,
                cols: (np * PANEL).min(cout - panel * PANEL),
                lo,
                hi,
            };
            macro_rules! rows {
                ($np:literal, $sw:literal) => {
                    match r {
                        1 => direct_tile::<1, $np, $sw>(&a),
                        2 => direct_tile::<2, $np, $sw>(&a),
                        3 => direct_tile::<3, $np, $sw>(&a),
                        4 => direct_tile::<4, $np, $sw>(&a),
                        5 => direct_tile::<5, $np, $sw>(&a),
                        6 => direct_tile::<6, $np, $sw>(&a),
                        7 => direct_tile::<7, $np, $sw>(&a),
                        8 => direct_tile::<8, $np, $sw>(&a),
                        9 => direct_tile::<9, $np, $sw>(&a),
                        10 => direct_tile::<10, $np, $sw>(&a),
                        11 => direct_tile::<11, $np, $sw>(&a),
                        12 => direct_tile::<12, $np, $sw>(&a),
                        13 => direct_tile::<13, $np, $sw>(&a),
                        _ => direct_tile::<14, $np, $sw>(&a),
                    }
                };
            }
            match (np, g.sw) {
                (1, 1) => rows!(1, 1),
                (1, _) => rows!(1, 2),
                (_, 1) => rows!(2, 1),
                _ => rows!(2, 2),
            }
        }
    }
}

/// `R` pixels x `NP` panels of a general convolution read from the image (see [`direct_row`]).
///
/// # Safety
/// The CPU must have AVX-512F; `a.x + taps[t] + i * SW` is inside the image for every tap `t`
/// and pixel `i < R`; weights, bias and `R` rows of `out` as in [`tile`].
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn direct_tile<const R: usize, const NP: usize, const SW: usize>(a: &DirectArgs) {
    let mut acc = [[_mm512_setzero_ps(); NP]; R];
    for j in 0..NP {
        let b = _mm512_loadu_ps(a.bias.add(j * PANEL));
        for row in acc.iter_mut() {
            row[j] = b;
        }
    }
    let mut wp = a.w;
    for t in 0..a.k {
        let xp = a.x.add(*a.taps.add(t));
        let mut w = [_mm512_setzero_ps(); NP];
        for (j, wj) in w.iter_mut().enumerate() {
            *wj = _mm512_loadu_ps(wp.add(j * a.lpw));
        }
        for (i, row) in acc.iter_mut().enumerate() {
            let v = _mm512_set1_ps(*xp.add(i * SW));
            for j in 0..NP {
                row[j] = _mm512_fmadd_ps(v, w[j], row[j]);
            }
        }
        wp = wp.add(PANEL);
    }
    let (lo, hi) = (_mm512_set1_ps(a.lo), _mm512_set1_ps(a.hi));
    for (i, row) in acc.iter().enumerate() {
        for (j, v) in row.iter().enumerate() {
            let m = lanes(a.cols, j);
            let v = _mm512_min_ps(_mm512_max_ps(*v, lo), hi);
            _mm512_mask_storeu_ps(a.out.add(i * a.ldo + j * PANEL), m, v);
        }
    }
}
