//! The channels-last depthwise convolution kernel (one `kh x kw` filter per channel, channels
//! as the vector lanes), run by [`ChannelsLastConv`](crate::channels_last::ChannelsLastConv): a
//! portable path, an AVX2 + FMA path and an AVX-512F path ([`avx512`]). Not to be confused with [`crate::depthwise_op`], the
//! tract operator for depthwise convolutions left channels-first. See the
//! [family overview](super).

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

use super::{has_avx2_fma, ConvGeometry, Epilogue};

#[cfg(target_arch = "x86_64")]
mod avx512;

/// Output pixels computed together by the depthwise kernel.
const DW_PIXELS: usize = 6;

/// Weights of a depthwise convolution: `taps[t][c]` (tap `t = ky * kw + kx`), one bias per
/// channel.
#[derive(Debug, Clone, PartialEq)]
pub struct DepthwiseWeights {
    /// Channels.
    pub c: usize,
    /// Geometry.
    pub geo: ConvGeometry,
    taps: Vec<f32>,
    bias: Vec<f32>,
}

impl DepthwiseWeights {
    /// Packs OIHW weights `[c][1][kh][kw]` and the bias.
    pub fn pack(w: &[f32], bias: &[f32], c: usize, geo: ConvGeometry) -> Self {
        let t = geo.kh * geo.kw;
        assert_eq!(w.len(), c * t, "weights are [c][kh][kw]");
        assert_eq!(bias.len(), c, "one bias per channel");
        let mut taps = vec![0f32; t * c];
        for ch in 0..c {
            for tap in 0..t {
                taps[tap * c + ch] = w[ch * t + tap];
            }
        }
        DepthwiseWeights {
            c,
            geo,
            taps,
            bias: bias.to_vec(),
        }
    }

    /// `out[oy][ox][c] = clip(bias[c] + sum_taps w[c][ky][kx] * x[iy][ix][c])`, zero padding;
    /// `x` is `[h][w][c]`, `out` is `[oh][ow][c]`.
    pub fn run(&self, x: &[f32], ep: Epilogue, out: &mut [f32]) {
        let g = &self.geo;
        assert_eq!(x.len(), g.h * g.w * self.c);
        assert_eq!(out.len(), g.oh * g.ow * self.c);
        #[cfg(target_arch = "x86_64")]
        if avx512::has_avx512f() {
            // SAFETY: the CPU has AVX-512F (checked above); all indices are bounded by the
            // geometry, which the asserts tie to the slice lengths.
            unsafe { self.run_avx512(x, ep, out) };
            return;
        }
        #[cfg(target_arch = "x86_64")]
        if has_avx2_fma() {
            // SAFETY: the CPU has AVX2 and FMA (checked above); all indices are bounded by the
            // geometry, which the asserts tie to the slice lengths.
            unsafe { self.run_avx2(x, ep, out) };
            return;
        }
        self.run_portable(x, ep, out);
    }

    /// Output row `oy` (`out`: `[ow][c]`) from the input rows an output row reads:
    /// `input_row(iy)` is input row `iy` (`[w][c]`), asked only for the rows inside the image
    /// that the row's taps reach, in increasing order. The row-by-row form of [`Self::run`]
    /// (same values, bit for bit), for callers that produce the input a few rows at a time
    /// ([`super::inverted_residual`]).
    pub(crate) fn run_row<'a>(
        &self,
        oy: usize,
        mut input_row: impl FnMut(usize) -> &'a [f32],
        ep: Epilogue,
        out: &mut [f32],
    ) {
        let g = &self.geo;
        assert!(oy < g.oh, "output row {oy} of {}", g.oh);
        assert_eq!(out.len(), g.ow * self.c);
        let mut rows = Vec::with_capacity(g.kh);
        tap_input_rows(
            g,
            oy,
            |iy| {
                let row = input_row(iy);
                assert_eq!(row.len(), g.w * self.c, "an input row is [w][c]");
                row
            },
            &mut rows,
        );
        self.row_any(&rows, oy, ep, out);
    }

    /// Output row `oy` from `rows` (input row of tap row `ky` for `ky` in [`tap_rows`], of
    /// `w * c` values each) with the widest kernels the CPU has.
    fn row_any(&self, rows: &[&[f32]], oy: usize, ep: Epilogue, out: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if avx512::has_avx512f() {
            // SAFETY: the CPU has AVX-512F (checked above); the rows hold `w * c` values and
            // `out` `ow * c` (checked by the callers).
            unsafe { self.row_avx512(rows, oy, ep, out) };
            return;
        }
        #[cfg(target_arch = "x86_64")]
        if has_avx2_fma() {
            // SAFETY: as above, with AVX2 and FMA.
            unsafe { self.row_avx2(rows, oy, ep, out) };
            return;
        }
        self.row_portable(rows, oy, 0, ep, out);
    }

    fn run_portable(&self, x: &[f32], ep: Epilogue, out: &mut [f32]) {
        self.channels_portable(x, 0, ep, out);
    }

    /// Channels `ch0 .. c` of every output, without SIMD.
    fn channels_portable(&self, x: &[f32], ch0: usize, ep: Epilogue, out: &mut [f32]) {
        let g = &self.geo;
        let row_len = g.ow * self.c;
        let mut rows = Vec::with_capacity(g.kh);
        for (oy, o) in out.chunks_exact_mut(row_len).enumerate() {
            image_rows(x, g, self.c, oy, &mut rows);
            self.row_portable(&rows, oy, ch0, ep, o);
        }
    }

    /// Channels `ch0 .. c` of output row `oy` (`out`: `[ow][c]`) from the tap rows `rows`,
    /// without SIMD (all channels on CPUs without AVX2, the last `c % 8` after the AVX2
    /// kernel otherwise).
    fn row_portable(&self, rows: &[&[f32]], oy: usize, ch0: usize, ep: Epilogue, out: &mut [f32]) {
        let g = &self.geo;
        let c = self.c;
        let (lo, hi) = ep.bounds();
        let (ky0, ky1) = tap_rows(g, oy);
        let mut acc = vec![0f32; c - ch0];
        for ox in 0..g.ow {
            acc.copy_from_slice(&self.bias[ch0..]);
            for (ky, row) in rows.iter().enumerate().take(ky1).skip(ky0) {
                for kx in 0..g.kw {
                    let Some(ix) = ConvGeometry::src(ox, kx, g.sw, g.pad_left, g.w) else {
                        continue;
                    };
                    let xs = &row[ix * c + ch0..][..c - ch0];
                    let ws = &self.taps[(ky * g.kw + kx) * c + ch0..][..c - ch0];
                    for ((a, w), v) in acc.iter_mut().zip(ws).zip(xs) {
                        *a += w * v;
                    }
                }
            }
            let o = &mut out[ox * c + ch0..][..c - ch0];
            for (d, s) in o.iter_mut().zip(&acc) {
                *d = s.max(lo).min(hi);
            }
        }
    }

    /// Large planes: output rows outermost ([`Self::row_avx2`]). Small padded planes: channel
    /// blocks outermost, each copied into a zero-padded plane that stays in L1, so that every
    /// output row runs the full-kernel groups; the last `c % 8` channels are computed one at a
    /// time.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn run_avx2(&self, x: &[f32], ep: Epilogue, out: &mut [f32]) {
        let g = self.geo;
        let c = self.c;
        let (lo, hi) = ep.bounds();
        let c8 = c / 8 * 8;
        let (pad_bottom, pad_right) = far_padding(&g);
        let padded = g.pad_top + g.pad_left + pad_bottom + pad_right > 0;
        if !(padded && g.h * g.w <= SMALL_PLANE) {
            let mut rows = Vec::with_capacity(g.kh);
            for (oy, o) in out.chunks_exact_mut(g.ow * c).enumerate() {
                image_rows(x, &g, c, oy, &mut rows);
                self.row_avx2(&rows, oy, ep, o);
            }
            return;
        }
        if c8 < c {
            self.channels_portable(x, c8, ep, out);
        }
        let (hp, wp) = (g.h + g.pad_top + pad_bottom, g.w + g.pad_left + pad_right);
        let inner = ConvGeometry {
            h: hp,
            w: wp,
            pad_top: 0,
            pad_left: 0,
            ..g
        };
        let out_ptr = out.as_mut_ptr();
        let mut buf: Vec<f32> = Vec::new();
        let mut ch = 0;
        while ch < c8 {
            let bw = if ch + 16 <= c8 { 16 } else { 8 };
            if buf.len() != hp * wp * bw {
                buf.clear();
                buf.resize(hp * wp * bw, 0.0);
            }
            let bp = buf.as_mut_ptr();
            for y in 0..g.h {
                for xx in 0..g.w {
                    let from = x.as_ptr().add((y * g.w + xx) * c + ch);
                    let to = bp.add(((y + g.pad_top) * wp + xx + g.pad_left) * bw);
                    _mm256_storeu_ps(to, _mm256_loadu_ps(from));
                    if bw == 16 {
                        _mm256_storeu_ps(to.add(8), _mm256_loadu_ps(from.add(8)));
                    }
                }
            }
            let mut rows = Vec::with_capacity(g.kh);
            for oy in 0..inner.oh {
                image_rows(&buf, &inner, bw, oy, &mut rows);
                let o = out_ptr.add(oy * g.ow * c);
                let r = self.row(&rows, 0, bw, inner, ch, oy, o, (lo, hi));
                let mut ox = 0;
                // Rows of 7 (EfficientNet's last stage) in one group of 7.
                while inner.ow.is_multiple_of(7) && ox + 7 <= inner.ow {
                    match bw {
                        16 => dw_group::<7, 2>(&r, ox, 0, inner.kw),
                        _ => dw_group::<7, 1>(&r, ox, 0, inner.kw),
                    }
                    ox += 7;
                }
                while ox + DW_PIXELS <= inner.ow {
                    match bw {
                        16 => dw_group::<DW_PIXELS, 2>(&r, ox, 0, inner.kw),
                        _ => dw_group::<DW_PIXELS, 1>(&r, ox, 0, inner.kw),
                    }
                    ox += DW_PIXELS;
                }
                while ox < inner.ow {
                    match bw {
                        16 => dw_group::<1, 2>(&r, ox, 0, inner.kw),
                        _ => dw_group::<1, 1>(&r, ox, 0, inner.kw),
                    }
                    ox += 1;
                }
            }
            ch += bw;
        }
    }

    /// Output row `oy` (`out`: `[ow][c]`) from the tap rows `rows` with AVX2: groups of 6
    /// outputs, then channel blocks of 16 (then 8): consecutive loads; border columns one
    /// output at a time with their valid tap columns; the last `c % 8` channels portable.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn row_avx2(&self, rows: &[&[f32]], oy: usize, ep: Epilogue, out: &mut [f32]) {
        let g = self.geo;
        let c = self.c;
        let c8 = c / 8 * 8;
        if c8 < c {
            self.row_portable(rows, oy, c8, ep, out);
        }
        let bounds = ep.bounds();
        let out_ptr = out.as_mut_ptr();
        let (ilo, ihi) = g.interior_cols();
        let mut ox = 0;
        while ox < g.ow {
            let group = ox >= ilo && ox + DW_PIXELS <= ihi;
            let (kx0, kx1) = if group { (0, g.kw) } else { tap_cols(&g, ox) };
            let mut ch = 0;
            while ch < c8 {
                let r = self.row(rows, ch, c, g, ch, oy, out_ptr, bounds);
                let wide = ch + 16 <= c8;
                match (group, wide) {
                    (true, true) => dw_group::<DW_PIXELS, 2>(&r, ox, kx0, kx1),
                    (true, false) => dw_group::<DW_PIXELS, 1>(&r, ox, kx0, kx1),
                    (false, true) => dw_group::<1, 2>(&r, ox, kx0, kx1),
                    (false, false) => dw_group::<1, 1>(&r, ox, kx0, kx1),
                }
                ch += if wide { 16 } else { 8 };
            }
            ox += if group { DW_PIXELS } else { 1 };
        }
    }
}

/// Input planes up to this many pixels get a zero-padded copy per channel block.
const SMALL_PLANE: usize = 32 * 32;

/// Zero rows below and zero columns right of the image that the outputs read.
fn far_padding(g: &ConvGeometry) -> (usize, usize) {
    let pad_bottom = ((g.oh - 1) * g.sh + g.kh).saturating_sub(g.h + g.pad_top);
    let pad_right = ((g.ow - 1) * g.sw + g.kw).saturating_sub(g.w + g.pad_left);
    (pad_bottom, pad_right)
}

/// Tap columns `[kx0, kx1)` of output column `ox` that fall inside the image.
fn tap_cols(g: &ConvGeometry, ox: usize) -> (usize, usize) {
    taps_inside(g.pad_left, ox * g.sw, g.kw, g.w)
}

/// Tap rows `[ky0, ky1)` of output row `oy` that fall inside the image.
fn tap_rows(g: &ConvGeometry, oy: usize) -> (usize, usize) {
    taps_inside(g.pad_top, oy * g.sh, g.kh, g.h)
}

/// Along one axis: the taps `[t0, t1)` of a window of `k` taps starting at padded position
/// `start` that fall inside an image of `extent` pixels after `pad` padding pixels.
fn taps_inside(pad: usize, start: usize, k: usize, extent: usize) -> (usize, usize) {
    let t0 = pad.saturating_sub(start).min(k);
    let t1 = (extent + pad).saturating_sub(start).min(k).max(t0);
    (t0, t1)
}

/// Fills `rows` with the tap rows of output row `oy` of the image `x` (`[h][w][c]` in `g`):
/// `rows[ky]` is input row `oy * sh + ky - pad_top` (`w * c` values) for the tap rows inside
/// the image ([`tap_rows`]), empty for the others.
fn image_rows<'a>(x: &'a [f32], g: &ConvGeometry, c: usize, oy: usize, rows: &mut Vec<&'a [f32]>) {
    let len = g.w * c;
    tap_input_rows(g, oy, |iy| &x[iy * len..(iy + 1) * len], rows);
}

/// Fills `rows` with the tap rows of output row `oy`: `rows[ky]` is `input_row(iy)` for the
/// input row `iy = oy * sh + ky - pad_top` of each tap row inside the image ([`tap_rows`],
/// asked in increasing order), empty for the others.
fn tap_input_rows<'a>(
    g: &ConvGeometry,
    oy: usize,
    mut input_row: impl FnMut(usize) -> &'a [f32],
    rows: &mut Vec<&'a [f32]>,
) {
    let (ky0, ky1) = tap_rows(g, oy);
    rows.clear();
    rows.extend((0..g.kh).map(|ky| {
        if (ky0..ky1).contains(&ky) {
            input_row(oy * g.sh + ky - g.pad_top)
        } else {
            &[][..]
        }
    }));
}

#[cfg(target_arch = "x86_64")]
impl DepthwiseWeights {
    /// The [`DwRow`] of output row `oy` for the channel block starting at `ch`: tap row `ky`
    /// of the block's input at `rows[ky]` plus `xoff` (pixel stride `xs`, geometry `geo`),
    /// outputs into the row at `out_row` (pixel 0, channel 0; pixel stride `c`).
    #[allow(clippy::too_many_arguments)]
    fn row<'a>(
        &self,
        rows: &'a [&'a [f32]],
        xoff: usize,
        xs: usize,
        geo: ConvGeometry,
        ch: usize,
        oy: usize,
        out_row: *mut f32,
        (lo, hi): (f32, f32),
    ) -> DwRow<'a> {
        let (ky0, ky1) = tap_rows(&geo, oy);
        let c = self.c;
        DwRow {
            rows,
            xoff,
            xs,
            taps: self.taps.as_ptr().wrapping_add(ch),
            bias: self.bias.as_ptr().wrapping_add(ch),
            out: out_row.wrapping_add(ch),
            c,
            g: geo,
            ky0,
            ky1,
            lo,
            hi,
        }
    }
}

/// One output row of one channel block, for the depthwise groups.
#[cfg(target_arch = "x86_64")]
struct DwRow<'a> {
    /// The input rows by tap row (valid for `ky0 .. ky1`): pixel `ix` of the block's input
    /// row `ky` at `rows[ky] + xoff + ix * xs`.
    rows: &'a [&'a [f32]],
    xoff: usize,
    xs: usize,
    /// The block's taps: tap `t` at `taps + t * c`.
    taps: *const f32,
    bias: *const f32,
    /// The block's outputs of this row: pixel `ox` at `out + ox * c`.
    out: *mut f32,
    c: usize,
    g: ConvGeometry,
    ky0: usize,
    ky1: usize,
    lo: f32,
    hi: f32,
}

/// `P` consecutive outputs from `ox`, `8 * V` channels, tap columns `kx0 .. kx1` (inside the
/// image for all `P` outputs), rows `ky0 .. ky1`; the `P * V` sums stay in registers.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn dw_group<const P: usize, const V: usize>(r: &DwRow, ox: usize, kx0: usize, kx1: usize) {
    let g = &r.g;
    let mut acc = [[_mm256_setzero_ps(); V]; P];
    for v in 0..V {
        let b = _mm256_loadu_ps(r.bias.add(8 * v));
        for a in acc.iter_mut() {
            a[v] = b;
        }
    }
    // Column of the first tap: ox * sw + kx0 - pad_left >= 0 by the choice of kx0.
    let ix0 = ox * g.sw + kx0 - g.pad_left;
    let step = g.sw * r.xs;
    for ky in r.ky0..r.ky1 {
        let mut xk = r.rows.get_unchecked(ky).as_ptr().add(r.xoff + ix0 * r.xs);
        let mut wk = r.taps.add((ky * g.kw + kx0) * r.c);
        for _ in kx0..kx1 {
            for v in 0..V {
                let wv = _mm256_loadu_ps(wk.add(8 * v));
                for (j, a) in acc.iter_mut().enumerate() {
                    let xv = _mm256_loadu_ps(xk.add(j * step + 8 * v));
                    a[v] = _mm256_fmadd_ps(wv, xv, a[v]);
                }
            }
            xk = xk.add(r.xs);
            wk = wk.add(r.c);
        }
    }
    let lo = _mm256_set1_ps(r.lo);
    let hi = _mm256_set1_ps(r.hi);
    for (j, a) in acc.iter().enumerate() {
        let o = r.out.add((ox + j) * r.c);
        for (v, av) in a.iter().enumerate() {
            _mm256_storeu_ps(o.add(8 * v), _mm256_min_ps(_mm256_max_ps(*av, lo), hi));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::reference::{close, data, geometry, reference_conv};

    /// A depthwise case: channels, height, width, kernel size, stride, pads top/left/bottom/right.
    pub(super) type Case = (
        usize,
        usize,
        usize,
        usize,
        usize,
        (usize, usize, usize, usize),
    );

    /// Shapes every depthwise path is checked on.
    pub(super) const CASES: [Case; 13] = [
        (16, 9, 11, 3, 1, (1, 1, 1, 1)),
        (24, 12, 12, 3, 2, (0, 0, 1, 1)),
        (32, 14, 13, 5, 2, (1, 1, 2, 2)),
        (48, 7, 7, 5, 1, (2, 2, 2, 2)),
        (8, 6, 8, 3, 1, (0, 0, 0, 0)),
        (19, 17, 15, 3, 3, (1, 0, 1, 2)),
        (3, 5, 5, 5, 1, (2, 2, 2, 2)),
        (16, 3, 3, 5, 1, (2, 2, 2, 2)),
        // Small padded planes in rows of 7 (16- and 8-channel blocks, scalar remainder).
        (24, 14, 14, 5, 1, (2, 2, 2, 2)),
        (19, 7, 7, 3, 1, (1, 1, 1, 1)),
        // Large planes (more than SMALL_PLANE pixels): row-outer path with borders.
        (24, 40, 36, 3, 2, (0, 0, 1, 1)),
        (40, 34, 33, 5, 1, (2, 2, 2, 2)),
        (12, 33, 35, 3, 1, (1, 1, 1, 1)),
    ];

    /// Runs `kernel` on each case, without and with a clip, against the direct definition;
    /// `label` names the kernel in failures.
    pub(super) fn check_against_reference(
        cases: &[Case],
        label: &str,
        kernel: impl Fn(&DepthwiseWeights, &[f32], Epilogue, &mut [f32]),
    ) {
        for &(c, h, w, k, s, pads) in cases {
            let g = geometry(h, w, k, s, pads);
            let x = data(h * w * c, 0.13);
            let wt = data(c * k * k, 0.29);
            let bias = data(c, 0.5);
            let packed = DepthwiseWeights::pack(&wt, &bias, c, g);
            for clip in [None, Some((0.0, 0.6))] {
                let want = reference_conv(&x, c, c, true, &wt, &bias, &g, clip);
                let mut got = vec![f32::NAN; g.oh * g.ow * c];
                kernel(&packed, &x, Epilogue { clip }, &mut got);
                close(
                    &got,
                    &want,
                    &format!("{label} c{c} {h}x{w} k{k} s{s} {pads:?}"),
                );
            }
        }
    }

    #[test]
    fn depthwise_equals_the_direct_definition_on_strides_and_paddings() {
        check_against_reference(&CASES, "depthwise", |p, x, ep, out| p.run(x, ep, out));
        check_against_reference(&CASES, "portable depthwise", |p, x, ep, out| {
            p.run_portable(x, ep, out)
        });
        #[cfg(target_arch = "x86_64")]
        if has_avx2_fma() {
            // SAFETY: AVX2 and FMA were detected above; the lengths are those `run` asserts.
            check_against_reference(&CASES, "avx2 depthwise", |p, x, ep, out| unsafe {
                p.run_avx2(x, ep, out)
            });
        } else {
            eprintln!("no AVX2 + FMA on this CPU: the AVX2 depthwise kernel is not exercised");
        }
    }

    #[test]
    fn output_rows_one_at_a_time_give_the_whole_images_values_bit_for_bit() {
        for &(c, h, w, k, s, pads) in &CASES {
            let g = geometry(h, w, k, s, pads);
            let x = data(h * w * c, 0.13);
            let packed = DepthwiseWeights::pack(&data(c * k * k, 0.29), &data(c, 0.5), c, g);
            for clip in [None, Some((0.0, 0.6))] {
                let ep = Epilogue { clip };
                let mut whole = vec![f32::NAN; g.oh * g.ow * c];
                packed.run(&x, ep, &mut whole);
                let mut by_rows = vec![f32::NAN; whole.len()];
                let mut asked = Vec::new();
                for (oy, o) in by_rows.chunks_exact_mut(g.ow * c).enumerate() {
                    packed.run_row(
                        oy,
                        |iy| {
                            asked.push(iy);
                            &x[iy * w * c..(iy + 1) * w * c]
                        },
                        ep,
                        o,
                    );
                }
                let same =
                    |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(p, q)| p.to_bits() == q.to_bits());
                let what = format!("c{c} {h}x{w} k{k} s{s} {pads:?} {clip:?}");
                assert!(
                    same(&whole, &by_rows),
                    "rows differ from the whole image: {what}"
                );
                assert!(
                    asked.iter().all(|&iy| iy < h),
                    "rows inside the image: {what}"
                );
                // The portable rows are the portable whole image.
                let mut portable = vec![f32::NAN; whole.len()];
                packed.run_portable(&x, ep, &mut portable);
                let mut portable_rows = vec![f32::NAN; whole.len()];
                let mut rows = Vec::new();
                for (oy, o) in portable_rows.chunks_exact_mut(g.ow * c).enumerate() {
                    image_rows(&x, &g, c, oy, &mut rows);
                    packed.row_portable(&rows, oy, 0, ep, o);
                }
                assert!(same(&portable, &portable_rows), "portable rows: {what}");
            }
        }
    }
}
