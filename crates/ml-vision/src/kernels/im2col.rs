//! General convolutions (any `group == 1` layer, in practice the stem) by `im2col`: each
//! output pixel's patch is gathered (zero padding, from a channels-first or channels-last
//! input) and the patches go through the [pointwise kernel](super::pointwise). See the
//! [family overview](super).

use super::pointwise::{PointwiseWeights, MR};
use super::{ConvGeometry, Epilogue};

/// Where the input of a general convolution lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InputLayout {
    /// `[c][h][w]` (the model's input image).
    ChannelsFirst,
    /// `[h][w][c]`.
    ChannelsLast,
}

/// Patches of a general convolution: `patches[p][ci * kh * kw + ky * kw + kx]` (OIHW order,
/// zero outside the image), `p = oy * ow + ox`.
pub fn im2col(x: &[f32], cin: usize, layout: InputLayout, g: &ConvGeometry, patches: &mut [f32]) {
    im2col_rows(x, cin, layout, g, 0, patches);
}

/// Patches of output pixels `p0 .. p0 + patches.len() / (cin * kh * kw)` (see [`im2col`]).
pub(crate) fn im2col_rows(
    x: &[f32],
    cin: usize,
    layout: InputLayout,
    g: &ConvGeometry,
    p0: usize,
    patches: &mut [f32],
) {
    let k = cin * g.kh * g.kw;
    assert_eq!(x.len(), cin * g.h * g.w);
    assert!(patches.len().is_multiple_of(k.max(1)) && p0 + patches.len() / k.max(1) <= g.oh * g.ow);
    let (ilo, ihi) = g.interior_cols();
    for (i, patch) in patches.chunks_exact_mut(k).enumerate() {
        let (oy, ox) = ((p0 + i) / g.ow, (p0 + i) % g.ow);
        let interior = ox >= ilo && ox < ihi;
        for ci in 0..cin {
            for ky in 0..g.kh {
                let dst = &mut patch[(ci * g.kh + ky) * g.kw..][..g.kw];
                let Some(iy) = ConvGeometry::src(oy, ky, g.sh, g.pad_top, g.h) else {
                    dst.fill(0.0);
                    continue;
                };
                match layout {
                    InputLayout::ChannelsFirst if interior => {
                        let start = (ci * g.h + iy) * g.w + ox * g.sw - g.pad_left;
                        let src = &x[start..start + g.kw];
                        if let ([d0, d1, d2], [s0, s1, s2]) = (&mut *dst, src) {
                            // A memcpy call per 3 values cost 3x more than these moves.
                            (*d0, *d1, *d2) = (*s0, *s1, *s2);
                        } else {
                            dst.copy_from_slice(src);
                        }
                    }
                    _ => {
                        for (kx, d) in dst.iter_mut().enumerate() {
                            *d = match ConvGeometry::src(ox, kx, g.sw, g.pad_left, g.w) {
                                Some(ix) => match layout {
                                    InputLayout::ChannelsFirst => x[(ci * g.h + iy) * g.w + ix],
                                    InputLayout::ChannelsLast => x[(iy * g.w + ix) * cin + ci],
                                },
                                None => 0.0,
                            };
                        }
                    }
                }
            }
        }
    }
}

/// A general convolution: patches of [`GENERAL_BLOCK`] pixels at a time (kept in cache), each
/// block through the pointwise product. `out` is `[oh][ow][cout]`. With AVX-512F, a
/// channels-first input with stride 1 or 2 is read where it lies instead ([`direct_conv`]).
pub(crate) fn general_conv(
    x: &[f32],
    cin: usize,
    layout: InputLayout,
    g: &ConvGeometry,
    w: &PointwiseWeights,
    ep: Epilogue,
    out: &mut [f32],
) {
    let pixels = g.oh * g.ow;
    assert_eq!(out.len(), pixels * w.cout);
    assert_eq!(w.k, cin * g.kh * g.kw);
    #[cfg(target_arch = "x86_64")]
    if layout == InputLayout::ChannelsFirst
        && matches!(g.sw, 1 | 2)
        && super::pointwise::avx512_pointwise_ok()
    {
        direct_conv(x, cin, g, w, ep, out);
        return;
    }
    let mut patches = vec![0f32; GENERAL_BLOCK * w.k];
    let mut p0 = 0;
    while p0 < pixels {
        let n = GENERAL_BLOCK.min(pixels - p0);
        patch_run(x, cin, layout, g, w, ep, (p0, n), &mut patches, out);
        p0 += n;
    }
}

/// Pixels `p0 .. p0 + n` of a general convolution through patches (`patches` holds at least
/// `n` of them).
#[allow(clippy::too_many_arguments)]
fn patch_run(
    x: &[f32],
    cin: usize,
    layout: InputLayout,
    g: &ConvGeometry,
    w: &PointwiseWeights,
    ep: Epilogue,
    (p0, n): (usize, usize),
    patches: &mut [f32],
    out: &mut [f32],
) {
    let block = &mut patches[..n * w.k];
    im2col_rows(x, cin, layout, g, p0, block);
    w.run(block, None, ep, &mut out[p0 * w.cout..(p0 + n) * w.cout]);
}

/// A general convolution on a channels-first image without patches (AVX-512F, stride 1 or 2):
/// output pixels whose every tap is inside the image take the direct kernel
/// ([`avx512::direct_row`](super::pointwise::avx512::direct_row)), one output row at a time;
/// the others (rows and columns along the padded borders) go through patches. Both compute the
/// same sums in the same order.
#[cfg(target_arch = "x86_64")]
fn direct_conv(
    x: &[f32],
    cin: usize,
    g: &ConvGeometry,
    w: &PointwiseWeights,
    ep: Epilogue,
    out: &mut [f32],
) {
    assert_eq!(x.len(), cin * g.h * g.w);
    assert!(matches!(g.sw, 1 | 2));
    let mut taps = Vec::with_capacity(w.k);
    for ci in 0..cin {
        for ky in 0..g.kh {
            for kx in 0..g.kw {
                taps.push((ci * g.h + ky) * g.w + kx);
            }
        }
    }
    let (ilo, ihi) = g.interior_cols();
    let mut patches = vec![0f32; g.ow * w.k];
    for oy in 0..g.oh {
        let row0 = oy * g.ow;
        let inside = oy * g.sh >= g.pad_top && oy * g.sh + g.kh <= g.h + g.pad_top;
        if !inside || ilo >= ihi {
            patch_run(
                x,
                cin,
                InputLayout::ChannelsFirst,
                g,
                w,
                ep,
                (row0, g.ow),
                &mut patches,
                out,
            );
            continue;
        }
        // SAFETY: the CPU has AVX-512F (`general_conv` checked it), the stride is 1 or 2
        // (asserted); rows `oy * sh - pad_top ..` + kh and columns of output pixels
        // `ilo .. ihi` are inside the image (`inside`, `interior_cols`), so every tap offset
        // stays inside `x`, whose length is asserted above; `out` is `[oh][ow][cout]`.
        unsafe {
            super::pointwise::avx512::direct_row(w, x, g, &taps, oy, (ilo, ihi), ep.bounds(), out)
        };
        for (a, b) in [(0, ilo), (ihi, g.ow)] {
            if b > a {
                let run = (row0 + a, b - a);
                patch_run(
                    x,
                    cin,
                    InputLayout::ChannelsFirst,
                    g,
                    w,
                    ep,
                    run,
                    &mut patches,
                    out,
                );
            }
        }
    }
}

/// Output pixels per patch block of [`general_conv`] (a multiple of the micro-kernel's rows).
pub(crate) const GENERAL_BLOCK: usize = 8 * MR;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::reference::{channels_first, close, data, geometry, reference_conv};

    #[test]
    fn im2col_then_pointwise_is_a_general_convolution_in_either_layout() {
        let (cin, cout, h, w) = (3, 32, 11, 10);
        for (k, s, pads) in [
            (3, 2, (0, 0, 1, 1)),
            (3, 1, (1, 1, 1, 1)),
            (2, 2, (0, 0, 0, 0)),
        ] {
            let g = geometry(h, w, k, s, pads);
            let x_hwc = data(h * w * cin, 0.31);
            let x_chw = channels_first(&x_hwc, cin, h, w);
            let wt = data(cout * cin * k * k, 0.07);
            let bias = data(cout, 0.9);
            let want = reference_conv(&x_hwc, cin, cout, false, &wt, &bias, &g, Some((0.0, 6.0)));
            let packed = PointwiseWeights::pack(&wt, &bias, cout, cin * k * k);
            for (layout, x) in [
                (InputLayout::ChannelsLast, &x_hwc),
                (InputLayout::ChannelsFirst, &x_chw),
            ] {
                let mut patches = vec![0f32; g.oh * g.ow * cin * k * k];
                im2col(x, cin, layout, &g, &mut patches);
                let mut got = vec![0f32; g.oh * g.ow * cout];
                packed.run(
                    &patches,
                    None,
                    Epilogue {
                        clip: Some((0.0, 6.0)),
                    },
                    &mut got,
                );
                close(&got, &want, &format!("{layout:?} k{k} s{s}"));
            }
        }
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn avx512_direct_general_conv_equals_the_reference_and_the_patches_where_the_cpu_has_it() {
        if !crate::kernels::pointwise::avx512_pointwise_ok() {
            eprintln!("no AVX-512F on this CPU: the direct general convolution is not exercised");
            return;
        }
        // (cin, cout, h, w, k, stride, (top, bottom, left, right)): the stem's padding (only
        // after), padding on every side, none, a 5x5, partial and three panels, odd sizes.
        for (cin, cout, h, w, k, s, pads) in [
            (3, 32, 224, 224, 3, 2, (0, 1, 0, 1)),
            (3, 32, 17, 15, 3, 2, (0, 1, 0, 1)),
            (3, 8, 11, 10, 3, 1, (1, 1, 1, 1)),
            (2, 40, 13, 29, 3, 2, (1, 1, 1, 1)),
            (4, 24, 12, 12, 2, 2, (0, 0, 0, 0)),
            (1, 16, 9, 40, 5, 1, (2, 2, 2, 2)),
            (3, 33, 6, 5, 3, 1, (0, 0, 0, 0)),
        ] {
            // `geometry` takes (top, left, bottom, right).
            let g = geometry(h, w, k, s, (pads.0, pads.2, pads.1, pads.3));
            let x_hwc = data(h * w * cin, 0.29);
            let x_chw = channels_first(&x_hwc, cin, h, w);
            let wt = data(cout * cin * k * k, 0.07);
            let bias = data(cout, 0.9);
            let ep = Epilogue {
                clip: Some((0.0, 1.5)),
            };
            let want = reference_conv(&x_hwc, cin, cout, false, &wt, &bias, &g, ep.clip);
            let packed = PointwiseWeights::pack(&wt, &bias, cout, cin * k * k);
            let mut got = vec![f32::NAN; g.oh * g.ow * cout];
            general_conv(
                &x_chw,
                cin,
                InputLayout::ChannelsFirst,
                &g,
                &packed,
                ep,
                &mut got,
            );
            let what = format!("direct {cin}->{cout} {h}x{w} k{k} s{s} {pads:?}");
            close(&got, &want, &what);
            // The patches path gives the same values bit for bit.
            let mut patches = vec![0f32; g.oh * g.ow * cin * k * k];
            im2col(&x_chw, cin, InputLayout::ChannelsFirst, &g, &mut patches);
            let mut via = vec![f32::NAN; g.oh * g.ow * cout];
            packed.run(&patches, None, ep, &mut via);
            assert!(
                got.iter()
                    .zip(&via)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "{what}: direct and patches differ"
            );
        }
    }
}
