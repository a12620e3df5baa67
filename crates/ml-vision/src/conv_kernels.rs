//! Convolution arithmetic on channels-last (NHWC) images, used by
//! [`ChannelsLastConv`](crate::channels_last::ChannelsLastConv).
//!
//! Three kernels, in the style of XNNPACK's micro-kernels:
//!
//! - [`PointwiseWeights::run`]: a 1x1 convolution is a matrix product `out[P, Cout] =
//!   x[P, K] * w[K, Cout] + bias`, with the activations used as they are (row-major pixels,
//!   channels contiguous: no packing) and the weights packed once into panels of 16 output
//!   channels. The AVX2 + FMA micro-kernel keeps a 6 pixel x 16 channel block of sums in twelve
//!   registers over the whole `K` loop, broadcasting one activation and multiplying it by two
//!   weight vectors.
//! - [`DepthwiseWeights::run`]: one `kh x kw` filter per channel; channels are the vector lanes
//!   (16 at a time), 4 output pixels share each weight load. Padding is never materialised:
//!   rows out of the image are skipped, and the border columns take a per-pixel path.
//! - A general convolution (the stem: 3x3, stride 2, 3 input channels) gathers each output
//!   pixel's patch (`im2col`, zero padding) and runs the pointwise kernel on the patches.
//!
//! Every kernel fuses the bias, an optional clip (`min(max(v, lo), hi)`, ReLU6 is `(0, 6)`) and,
//! for the pointwise kernel, an optional residual added before the clip.
//!
//! Sums are accumulated in f32 with fused multiply-adds, in a fixed order (bias, then the taps
//! or input channels in order), so the result does not depend on the thread count; on a CPU
//! without AVX2 and FMA a portable path computes the same sums with separate multiplies and
//! adds (results may differ from the FMA path in the last bits).

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// Output channels per packed weight panel of the pointwise kernel.
pub const PANEL: usize = 16;
/// Pixels per block of the pointwise micro-kernel.
pub const MR: usize = 6;
/// Output pixels computed together by the depthwise kernel.
const DW_PIXELS: usize = 4;

/// Whether the CPU runs the AVX2 + FMA kernels (checked once).
fn has_avx2_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        use std::sync::OnceLock;
        static HAS: OnceLock<bool> = OnceLock::new();
        *HAS.get_or_init(|| {
            std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
        })
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// What happens to every output value after the sum: `+ residual`, then the clip.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Epilogue {
    /// `(low, high)`: `min(max(v, low), high)`. ReLU6 is `(0, 6)`.
    pub clip: Option<(f32, f32)>,
}

impl Epilogue {
    fn bounds(&self) -> (f32, f32) {
        self.clip.unwrap_or((f32::NEG_INFINITY, f32::INFINITY))
    }
}

/// Weights of a 1x1 convolution (or of a general convolution over im2col patches), packed
/// into panels of [`PANEL`] output channels: `panels[p][k][j] = w[p * PANEL + j][k]`
/// (zero past `cout`).
#[derive(Debug, Clone, PartialEq)]
pub struct PointwiseWeights {
    /// Input channels (or patch length).
    pub k: usize,
    /// Output channels.
    pub cout: usize,
    panels: Vec<f32>,
    /// Bias padded with zeros to a whole number of panels.
    bias: Vec<f32>,
}

impl PointwiseWeights {
    /// Packs `w` given as `[cout][k]` (OIHW with a 1x1 kernel, or `[cout][cin * kh * kw]`) and
    /// one bias per output channel.
    pub fn pack(w: &[f32], bias: &[f32], cout: usize, k: usize) -> Self {
        assert_eq!(w.len(), cout * k, "weights are [cout][k]");
        assert_eq!(bias.len(), cout, "one bias per output channel");
        let n_panels = cout.div_ceil(PANEL);
        let mut panels = vec![0f32; n_panels * k * PANEL];
        for o in 0..cout {
            let (p, j) = (o / PANEL, o % PANEL);
            for kk in 0..k {
                panels[(p * k + kk) * PANEL + j] = w[o * k + kk];
            }
        }
        let mut b = vec![0f32; n_panels * PANEL];
        b[..cout].copy_from_slice(bias);
        PointwiseWeights {
            k,
            cout,
            panels,
            bias: b,
        }
    }

    /// `out[p][o] = clip(bias[o] + sum_k x[p][k] * w[o][k] + residual[p][o])` for the `pixels`
    /// rows of `x` (`[pixels][k]`); `out` and `residual` are `[pixels][cout]`.
    pub fn run(&self, x: &[f32], residual: Option<&[f32]>, ep: Epilogue, out: &mut [f32]) {
        let pixels = x.len() / self.k.max(1);
        assert_eq!(x.len(), pixels * self.k);
        assert_eq!(out.len(), pixels * self.cout);
        if let Some(r) = residual {
            assert_eq!(r.len(), out.len());
        }
        #[cfg(target_arch = "x86_64")]
        if has_avx2_fma() {
            // SAFETY: the CPU has AVX2 and FMA (checked above); every pointer the kernel
            // touches is inside `x`, `panels`, `bias`, `residual` and `out` (lengths asserted).
            unsafe { self.run_avx2(x, residual, ep, out, pixels) };
            return;
        }
        self.run_portable(x, residual, ep, out, pixels);
    }

    fn run_portable(
        &self,
        x: &[f32],
        residual: Option<&[f32]>,
        ep: Epilogue,
        out: &mut [f32],
        pixels: usize,
    ) {
        let (lo, hi) = ep.bounds();
        let (k, cout) = (self.k, self.cout);
        for p in 0..pixels {
            let xr = &x[p * k..(p + 1) * k];
            for panel in 0..cout.div_ceil(PANEL) {
                let mut acc = [0f32; PANEL];
                acc.copy_from_slice(&self.bias[panel * PANEL..(panel + 1) * PANEL]);
                let w = &self.panels[panel * k * PANEL..(panel + 1) * k * PANEL];
                for (kk, &xv) in xr.iter().enumerate() {
                    let wr = &w[kk * PANEL..(kk + 1) * PANEL];
                    for j in 0..PANEL {
                        acc[j] += xv * wr[j];
                    }
                }
                let n = PANEL.min(cout - panel * PANEL);
                for j in 0..n {
                    let o = p * cout + panel * PANEL + j;
                    let mut v = acc[j];
                    if let Some(r) = residual {
                        v += r[o];
                    }
                    out[o] = v.max(lo).min(hi);
                }
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn run_avx2(
        &self,
        x: &[f32],
        residual: Option<&[f32]>,
        ep: Epilogue,
        out: &mut [f32],
        pixels: usize,
    ) {
        let (lo, hi) = ep.bounds();
        let (k, cout) = (self.k, self.cout);
        let n_panels = cout.div_ceil(PANEL);
        let res = residual.map_or(std::ptr::null(), |r| r.as_ptr());
        let mut p0 = 0;
        while p0 < pixels {
            let rows = MR.min(pixels - p0);
            for panel in 0..n_panels {
                let cols = PANEL.min(cout - panel * PANEL);
                let args = BlockArgs {
                    x: x.as_ptr().add(p0 * k),
                    k,
                    w: self.panels.as_ptr().add(panel * k * PANEL),
                    bias: self.bias.as_ptr().add(panel * PANEL),
                    out: out.as_mut_ptr().add(p0 * cout + panel * PANEL),
                    res: if res.is_null() {
                        res
                    } else {
                        res.add(p0 * cout + panel * PANEL)
                    },
                    ldo: cout,
                    cols,
                    lo,
                    hi,
                };
                match rows {
                    6 => pointwise_block::<6>(&args),
                    5 => pointwise_block::<5>(&args),
                    4 => pointwise_block::<4>(&args),
                    3 => pointwise_block::<3>(&args),
                    2 => pointwise_block::<2>(&args),
                    _ => pointwise_block::<1>(&args),
                }
            }
            p0 += rows;
        }
    }
}

/// One micro-kernel call: `R` pixels x one panel.
#[cfg(target_arch = "x86_64")]
struct BlockArgs {
    x: *const f32,
    k: usize,
    w: *const f32,
    bias: *const f32,
    out: *mut f32,
    res: *const f32,
    ldo: usize,
    cols: usize,
    lo: f32,
    hi: f32,
}

/// `R` x 16 block of the pointwise product, sums in registers over the whole `k` loop.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn pointwise_block<const R: usize>(a: &BlockArgs) {
    let b0 = _mm256_loadu_ps(a.bias);
    let b1 = _mm256_loadu_ps(a.bias.add(8));
    let mut acc0 = [b0; R];
    let mut acc1 = [b1; R];
    let mut w = a.w;
    let mut xp = a.x;
    for _ in 0..a.k {
        let w0 = _mm256_loadu_ps(w);
        let w1 = _mm256_loadu_ps(w.add(8));
        for i in 0..R {
            let v = _mm256_broadcast_ss(&*xp.add(i * a.k));
            acc0[i] = _mm256_fmadd_ps(v, w0, acc0[i]);
            acc1[i] = _mm256_fmadd_ps(v, w1, acc1[i]);
        }
        w = w.add(PANEL);
        xp = xp.add(1);
    }
    let lo = _mm256_set1_ps(a.lo);
    let hi = _mm256_set1_ps(a.hi);
    for i in 0..R {
        let o = a.out.add(i * a.ldo);
        let (mut v0, mut v1) = (acc0[i], acc1[i]);
        if a.cols == PANEL {
            if !a.res.is_null() {
                let r = a.res.add(i * a.ldo);
                v0 = _mm256_add_ps(v0, _mm256_loadu_ps(r));
                v1 = _mm256_add_ps(v1, _mm256_loadu_ps(r.add(8)));
            }
            _mm256_storeu_ps(o, _mm256_min_ps(_mm256_max_ps(v0, lo), hi));
            _mm256_storeu_ps(o.add(8), _mm256_min_ps(_mm256_max_ps(v1, lo), hi));
        } else {
            let mut tmp = [0f32; PANEL];
            _mm256_storeu_ps(tmp.as_mut_ptr(), v0);
            _mm256_storeu_ps(tmp.as_mut_ptr().add(8), v1);
            for (j, t) in tmp.iter().enumerate().take(a.cols) {
                let mut v = *t;
                if !a.res.is_null() {
                    v += *a.res.add(i * a.ldo + j);
                }
                *o.add(j) = v.max(a.lo).min(a.hi);
            }
        }
    }
}

/// Geometry of a 2-D convolution on one image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConvGeometry {
    /// Input height and width.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Kernel height.
    pub kh: usize,
    /// Kernel width.
    pub kw: usize,
    /// Vertical stride.
    pub sh: usize,
    /// Horizontal stride.
    pub sw: usize,
    /// Zero rows above the image.
    pub pad_top: usize,
    /// Zero columns left of the image.
    pub pad_left: usize,
    /// Output height.
    pub oh: usize,
    /// Output width.
    pub ow: usize,
}

impl ConvGeometry {
    /// The input row (or column) read by output `o` at tap `t`, if inside the image.
    #[inline]
    fn src(o: usize, t: usize, stride: usize, pad: usize, size: usize) -> Option<usize> {
        let i = (o * stride + t).checked_sub(pad)?;
        (i < size).then_some(i)
    }

    /// Output columns `[lo, hi)` whose every tap column is inside the image.
    fn interior_cols(&self) -> (usize, usize) {
        let lo = self.pad_left.div_ceil(self.sw).min(self.ow);
        // o * sw + kw - 1 - pad_left < w  <=>  o * sw < w + pad_left - kw + 1
        let limit = (self.w + self.pad_left + 1).saturating_sub(self.kw);
        let hi = limit.div_ceil(self.sw).min(self.ow).max(lo);
        (lo, hi)
    }
}

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
        if has_avx2_fma() {
            // SAFETY: the CPU has AVX2 and FMA (checked above); all indices are bounded by the
            // geometry, which the asserts tie to the slice lengths.
            unsafe { self.run_avx2(x, ep, out) };
            return;
        }
        self.run_portable(x, ep, out);
    }

    fn run_portable(&self, x: &[f32], ep: Epilogue, out: &mut [f32]) {
        let g = &self.geo;
        let c = self.c;
        let (lo, hi) = ep.bounds();
        let mut acc = vec![0f32; c];
        for oy in 0..g.oh {
            for ox in 0..g.ow {
                acc.copy_from_slice(&self.bias);
                for ky in 0..g.kh {
                    let Some(iy) = ConvGeometry::src(oy, ky, g.sh, g.pad_top, g.h) else {
                        continue;
                    };
                    for kx in 0..g.kw {
                        let Some(ix) = ConvGeometry::src(ox, kx, g.sw, g.pad_left, g.w) else {
                            continue;
                        };
                        let xs = &x[(iy * g.w + ix) * c..][..c];
                        let ws = &self.taps[(ky * g.kw + kx) * c..][..c];
                        for ch in 0..c {
                            acc[ch] += ws[ch] * xs[ch];
                        }
                    }
                }
                let o = &mut out[(oy * g.ow + ox) * c..][..c];
                for (d, s) in o.iter_mut().zip(&acc) {
                    *d = s.max(lo).min(hi);
                }
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn run_avx2(&self, x: &[f32], ep: Epilogue, out: &mut [f32]) {
        let g = self.geo;
        let c = self.c;
        let (lo, hi) = ep.bounds();
        let (ilo, ihi) = g.interior_cols();
        let c16 = c / 16 * 16;
        let c8 = c / 8 * 8;
        let xp = x.as_ptr();
        let op = out.as_mut_ptr();
        for oy in 0..g.oh {
            // Valid kernel rows for this output row.
            let ky0 = g.pad_top.saturating_sub(oy * g.sh).min(g.kh);
            let ky1 = (g.h + g.pad_top)
                .saturating_sub(oy * g.sh)
                .min(g.kh)
                .max(ky0);
            let row = DwRow {
                x: xp,
                taps: self.taps.as_ptr(),
                bias: self.bias.as_ptr(),
                c,
                g,
                oy,
                ky0,
                ky1,
                lo,
                hi,
            };
            let out_row = op.add(oy * g.ow * c);
            // Interior: groups of DW_PIXELS outputs, every tap column in the image.
            let mut ox = ilo;
            while ox + DW_PIXELS <= ihi {
                let mut ch = 0;
                while ch < c16 {
                    dw_interior::<2>(&row, ox, ch, out_row);
                    ch += 16;
                }
                while ch < c8 {
                    dw_interior::<1>(&row, ox, ch, out_row);
                    ch += 8;
                }
                if ch < c {
                    for j in 0..DW_PIXELS {
                        dw_pixel_scalar(&row, ox + j, ch, out_row);
                    }
                }
                ox += DW_PIXELS;
            }
            // Borders and the interior's remainder: one pixel at a time, checked columns.
            for ox in (0..ilo).chain(ox..g.ow) {
                let mut ch = 0;
                while ch < c8 {
                    dw_pixel::<1>(&row, ox, ch, out_row);
                    ch += 8;
                }
                if ch < c {
                    dw_pixel_scalar(&row, ox, ch, out_row);
                }
            }
        }
    }
}

/// What the depthwise kernels need for one output row.
#[cfg(target_arch = "x86_64")]
struct DwRow {
    x: *const f32,
    taps: *const f32,
    bias: *const f32,
    c: usize,
    g: ConvGeometry,
    oy: usize,
    ky0: usize,
    ky1: usize,
    lo: f32,
    hi: f32,
}

/// `DW_PIXELS` interior outputs starting at `ox`, channels `ch .. ch + 8 * V`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn dw_interior<const V: usize>(r: &DwRow, ox: usize, ch: usize, out_row: *mut f32) {
    let g = &r.g;
    let c = r.c;
    let mut acc = [[_mm256_setzero_ps(); V]; DW_PIXELS];
    for v in 0..V {
        let b = _mm256_loadu_ps(r.bias.add(ch + 8 * v));
        for a in acc.iter_mut() {
            a[v] = b;
        }
    }
    let ix0 = ox * g.sw - g.pad_left;
    for ky in r.ky0..r.ky1 {
        let iy = r.oy * g.sh + ky - g.pad_top;
        let xrow = r.x.add((iy * g.w + ix0) * c + ch);
        let wrow = r.taps.add(ky * g.kw * c + ch);
        for kx in 0..g.kw {
            let wk = wrow.add(kx * c);
            let xk = xrow.add(kx * c);
            for v in 0..V {
                let wv = _mm256_loadu_ps(wk.add(8 * v));
                for (j, a) in acc.iter_mut().enumerate() {
                    let xv = _mm256_loadu_ps(xk.add(j * g.sw * c + 8 * v));
                    a[v] = _mm256_fmadd_ps(wv, xv, a[v]);
                }
            }
        }
    }
    let lo = _mm256_set1_ps(r.lo);
    let hi = _mm256_set1_ps(r.hi);
    for (j, a) in acc.iter().enumerate() {
        let o = out_row.add((ox + j) * c + ch);
        for (v, av) in a.iter().enumerate() {
            _mm256_storeu_ps(o.add(8 * v), _mm256_min_ps(_mm256_max_ps(*av, lo), hi));
        }
    }
}

/// One output at `ox` (any column), channels `ch .. ch + 8 * V`, taps outside skipped.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn dw_pixel<const V: usize>(r: &DwRow, ox: usize, ch: usize, out_row: *mut f32) {
    let g = &r.g;
    let c = r.c;
    let mut acc = [_mm256_setzero_ps(); V];
    for (v, a) in acc.iter_mut().enumerate() {
        *a = _mm256_loadu_ps(r.bias.add(ch + 8 * v));
    }
    for ky in r.ky0..r.ky1 {
        let iy = r.oy * g.sh + ky - g.pad_top;
        for kx in 0..g.kw {
            let Some(ix) = ConvGeometry::src(ox, kx, g.sw, g.pad_left, g.w) else {
                continue;
            };
            let xk = r.x.add((iy * g.w + ix) * c + ch);
            let wk = r.taps.add((ky * g.kw + kx) * c + ch);
            for (v, a) in acc.iter_mut().enumerate() {
                *a = _mm256_fmadd_ps(
                    _mm256_loadu_ps(wk.add(8 * v)),
                    _mm256_loadu_ps(xk.add(8 * v)),
                    *a,
                );
            }
        }
    }
    let lo = _mm256_set1_ps(r.lo);
    let hi = _mm256_set1_ps(r.hi);
    let o = out_row.add(ox * c + ch);
    for (v, a) in acc.iter().enumerate() {
        _mm256_storeu_ps(o.add(8 * v), _mm256_min_ps(_mm256_max_ps(*a, lo), hi));
    }
}

/// One output at `ox`, channels `ch .. c` (fewer than 8), scalar fused multiply-adds.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn dw_pixel_scalar(r: &DwRow, ox: usize, ch0: usize, out_row: *mut f32) {
    let g = &r.g;
    let c = r.c;
    for ch in ch0..c {
        let mut acc = *r.bias.add(ch);
        for ky in r.ky0..r.ky1 {
            let iy = r.oy * g.sh + ky - g.pad_top;
            for kx in 0..g.kw {
                let Some(ix) = ConvGeometry::src(ox, kx, g.sw, g.pad_left, g.w) else {
                    continue;
                };
                let xv = *r.x.add((iy * g.w + ix) * c + ch);
                let wv = *r.taps.add((ky * g.kw + kx) * c + ch);
                acc = wv.mul_add(xv, acc);
            }
        }
        *out_row.add(ox * c + ch) = acc.max(r.lo).min(r.hi);
    }
}

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
    let k = cin * g.kh * g.kw;
    assert_eq!(x.len(), cin * g.h * g.w);
    assert_eq!(patches.len(), g.oh * g.ow * k);
    for oy in 0..g.oh {
        for ox in 0..g.ow {
            let patch = &mut patches[(oy * g.ow + ox) * k..][..k];
            for ci in 0..cin {
                for ky in 0..g.kh {
                    let iy = ConvGeometry::src(oy, ky, g.sh, g.pad_top, g.h);
                    for kx in 0..g.kw {
                        let ix = ConvGeometry::src(ox, kx, g.sw, g.pad_left, g.w);
                        let v = match (iy, ix) {
                            (Some(iy), Some(ix)) => match layout {
                                InputLayout::ChannelsFirst => x[(ci * g.h + iy) * g.w + ix],
                                InputLayout::ChannelsLast => x[(iy * g.w + ix) * cin + ci],
                            },
                            _ => 0.0,
                        };
                        patch[(ci * g.kh + ky) * g.kw + kx] = v;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(n: usize, seed: f32) -> Vec<f32> {
        (0..n).map(|i| ((i as f32) * seed).sin()).collect()
    }

    /// Direct definition of a grouped-or-not convolution in f64, channels-last in and out.
    #[allow(clippy::too_many_arguments)]
    fn reference_conv(
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

    fn geometry(
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

    fn close(got: &[f32], want: &[f32], what: &str) {
        assert_eq!(got.len(), want.len(), "{what}");
        for (i, (a, b)) in got.iter().zip(want).enumerate() {
            assert!(
                (a - b).abs() <= 1e-4 * (1.0 + b.abs()),
                "{what}: value {i}: {a} vs {b}"
            );
        }
    }

    #[test]
    fn pointwise_equals_the_direct_product_on_ragged_shapes() {
        // (pixels, k, cout): partial pixel blocks, partial panels, k = 1.
        for (pixels, k, cout) in [
            (1, 1, 1),
            (7, 3, 8),
            (13, 16, 24),
            (49, 40, 112),
            (6, 5, 16),
            (50, 17, 33),
        ] {
            let x = data(pixels * k, 0.37);
            let w = data(cout * k, 0.11);
            let bias = data(cout, 0.7);
            let res = data(pixels * cout, 0.23);
            let packed = PointwiseWeights::pack(&w, &bias, cout, k);
            for (residual, clip) in [
                (false, None),
                (true, None),
                (false, Some((0.0, 0.5))),
                (true, Some((-0.2, 0.3))),
            ] {
                let g = geometry(1, pixels, 1, 1, (0, 0, 0, 0));
                let mut want = reference_conv(&x, k, cout, false, &w, &bias, &g, None);
                for (i, v) in want.iter_mut().enumerate() {
                    if residual {
                        *v += res[i];
                    }
                    if let Some((lo, hi)) = clip {
                        *v = v.max(lo).min(hi);
                    }
                }
                let mut got = vec![f32::NAN; pixels * cout];
                let r = residual.then_some(&res[..]);
                packed.run(&x, r, Epilogue { clip }, &mut got);
                close(
                    &got,
                    &want,
                    &format!("pointwise {pixels}x{k}->{cout} res {residual} clip {clip:?}"),
                );
                let mut portable = vec![f32::NAN; pixels * cout];
                packed.run_portable(&x, r, Epilogue { clip }, &mut portable, pixels);
                close(&portable, &want, "portable pointwise");
            }
        }
    }

    #[test]
    fn depthwise_equals_the_direct_definition_on_strides_and_paddings() {
        // (c, h, w, k, stride, pads top/left/bottom/right)
        let cases = [
            (16, 9, 11, 3, 1, (1, 1, 1, 1)),
            (24, 12, 12, 3, 2, (0, 0, 1, 1)),
            (32, 14, 13, 5, 2, (1, 1, 2, 2)),
            (48, 7, 7, 5, 1, (2, 2, 2, 2)),
            (8, 6, 8, 3, 1, (0, 0, 0, 0)),
            (19, 17, 15, 3, 3, (1, 0, 1, 2)),
            (3, 5, 5, 5, 1, (2, 2, 2, 2)),
            (16, 3, 3, 5, 1, (2, 2, 2, 2)),
        ];
        for (c, h, w, k, s, pads) in cases {
            let g = geometry(h, w, k, s, pads);
            let x = data(h * w * c, 0.13);
            let wt = data(c * k * k, 0.29);
            let bias = data(c, 0.5);
            let packed = DepthwiseWeights::pack(&wt, &bias, c, g);
            for clip in [None, Some((0.0, 0.6))] {
                let want = reference_conv(&x, c, c, true, &wt, &bias, &g, clip);
                let mut got = vec![f32::NAN; g.oh * g.ow * c];
                packed.run(&x, Epilogue { clip }, &mut got);
                close(
                    &got,
                    &want,
                    &format!("depthwise c{c} {h}x{w} k{k} s{s} {pads:?}"),
                );
                let mut portable = vec![f32::NAN; g.oh * g.ow * c];
                packed.run_portable(&x, Epilogue { clip }, &mut portable);
                close(&portable, &want, "portable depthwise");
            }
        }
    }

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
            let mut x_chw = vec![0f32; x_hwc.len()];
            for y in 0..h {
                for xx in 0..w {
                    for ci in 0..cin {
                        x_chw[(ci * h + y) * w + xx] = x_hwc[(y * w + xx) * cin + ci];
                    }
                }
            }
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
}
