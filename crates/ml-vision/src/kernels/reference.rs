//! Test helpers shared by the kernel families' tests: inputs, the direct definition of a
//! convolution in f64 (the independent reference), geometries and a tolerance check.

use super::ConvGeometry;

pub(super) fn data(n: usize, seed: f32) -> Vec<f32> {
    (0..n).map(|i| ((i as f32) * seed).sin()).collect()
}

/// Direct definition of a grouped-or-not convolution in f64, channels-last in and out.
#[allow(clippy::too_many_arguments)]
pub(super) fn reference_conv(
    x_hwc: &[f32],
    cin: usize,
    cout: usize,
    depthwise: bool,
    w_oihw: &[f32],
    bias: &[f32],
    g: &ConvGeometry,
    clip: Option<(f32, f32)>,
) -> Vec<f32> {
    let mut out = vec![0f32; g.oh * g.ow * cout];
    let kin = if depthwise { 1 } else { cin };
    for oy in 0..g.oh {
        for ox in 0..g.ow {
            for o in 0..cout {
                let mut s = bias[o] as f64;
                for ci in 0..kin {
                    let src_c = if depthwise { o } else { ci };
                    for ky in 0..g.kh {
                        for kx in 0..g.kw {
                            let (Some(iy), Some(ix)) = (
                                ConvGeometry::src(oy, ky, g.sh, g.pad_top, g.h),
                                ConvGeometry::src(ox, kx, g.sw, g.pad_left, g.w),
                            ) else {
                                continue;
                            };
                            s += w_oihw[((o * kin + ci) * g.kh + ky) * g.kw + kx] as f64
                                * x_hwc[(iy * g.w + ix) * cin + src_c] as f64;
                        }
                    }
                }
                let mut v = s as f32;
                if let Some((lo, hi)) = clip {
                    v = v.max(lo).min(hi);
                }
                out[(oy * g.ow + ox) * cout + o] = v;
            }
        }
    }
    out
}

/// A channels-last `[h][w][cin]` image in channels-first order, `[cin][h][w]`.
pub(super) fn channels_first(x_hwc: &[f32], cin: usize, h: usize, w: usize) -> Vec<f32> {
    let mut x_chw = vec![0f32; x_hwc.len()];
    for y in 0..h {
        for xx in 0..w {
            for ci in 0..cin {
                x_chw[(ci * h + y) * w + xx] = x_hwc[(y * w + xx) * cin + ci];
            }
        }
    }
    x_chw
}

pub(super) fn geometry(
    h: usize,
    w: usize,
    k: usize,
    s: usize,
    pads: (usize, usize, usize, usize),
) -> ConvGeometry {
    ConvGeometry {
        h,
        w,
        kh: k,
        kw: k,
        sh: s,
        sw: s,
        pad_top: pads.0,
        pad_left: pads.1,
        oh: (h + pads.0 + pads.2 - k) / s + 1,
        ow: (w + pads.1 + pads.3 - k) / s + 1,
    }
}

pub(super) fn close(got: &[f32], want: &[f32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (i, (a, b)) in got.iter().zip(want).enumerate() {
        assert!(
            (a - b).abs() <= 1e-4 * (1.0 + b.abs()),
            "{what}: value {i}: {a} vs {b}"
        );
    }
}
