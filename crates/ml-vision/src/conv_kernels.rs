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
//!   (16 at a time), 6 output pixels (7 in rows of 7) share each weight load. On large planes
//!   rows out of the image are skipped and border columns take a per-pixel path with their
//!   valid tap range; small padded planes are copied per channel block into a zero-padded
//!   plane.
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
const DW_PIXELS: usize = 6;

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
        if avx512_pointwise_ok() {
            // SAFETY: the CPU has AVX-512F (checked by `avx512_pointwise_ok`); every pointer
            // the kernel touches is inside `x`, `panels`, `bias`, `residual` and `out`.
            unsafe { self.run_avx512(x, residual, ep, out, pixels) };
            return;
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
                for (j, &a) in acc.iter().enumerate().take(n) {
                    let o = p * cout + panel * PANEL + j;
                    let mut v = a;
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
        self.for_each_block(x, residual, ep, out, pixels, MR, 1, |rows, _, args| {
            // SAFETY: this closure runs inside `run_avx2`, whose caller checked AVX2 + FMA.
            unsafe {
                match rows {
                    6 => pointwise_block::<6>(args),
                    5 => pointwise_block::<5>(args),
                    4 => pointwise_block::<4>(args),
                    3 => pointwise_block::<3>(args),
                    2 => pointwise_block::<2>(args),
                    _ => pointwise_block::<1>(args),
                }
            }
        });
    }
}

/// Pixels per block of the AVX-512 pointwise micro-kernel (two panels: 16 sums in registers).
const MR512: usize = 8;

/// Whether the AVX-512 pointwise kernel is used: the CPU has AVX-512F, and the kernel gave the
/// AVX2 kernel's results on a ragged test problem the first time it was asked (a guard for a
/// path that the development machine, whose virtual CPU hides AVX-512, could not run).
#[cfg(target_arch = "x86_64")]
fn avx512_pointwise_ok() -> bool {
    use std::sync::OnceLock;
    static OK: OnceLock<bool> = OnceLock::new();
    *OK.get_or_init(|| {
        if !(std::arch::is_x86_feature_detected!("avx512f") && has_avx2_fma()) {
            return false;
        }
        let (pixels, k, cout) = (29, 37, 40);
        let val = |i: usize, s: f32| ((i as f32) * s).sin();
        let x: Vec<f32> = (0..pixels * k).map(|i| val(i, 0.37)).collect();
        let w: Vec<f32> = (0..cout * k).map(|i| val(i, 0.11)).collect();
        let b: Vec<f32> = (0..cout).map(|i| val(i, 0.7)).collect();
        let r: Vec<f32> = (0..pixels * cout).map(|i| val(i, 0.23)).collect();
        let packed = PointwiseWeights::pack(&w, &b, cout, k);
        let ep = Epilogue {
            clip: Some((-0.5, 1.5)),
        };
        let (mut a, mut z) = (vec![0f32; pixels * cout], vec![0f32; pixels * cout]);
        // SAFETY: both CPU features were checked just above; the slices have the lengths the
        // kernels expect (`pixels * k` in, `pixels * cout` out and residual).
        unsafe {
            packed.run_avx2(&x, Some(&r), ep, &mut a, pixels);
            packed.run_avx512(&x, Some(&r), ep, &mut z, pixels);
        }
        let same = a
            .iter()
            .zip(&z)
            .all(|(p, q)| (p - q).abs() <= 1e-5 * (1.0 + p.abs()));
        if !same {
            tracing::warn!("AVX-512 pointwise kernel disagrees with the AVX2 kernel; using AVX2");
        }
        same
    })
}

#[cfg(target_arch = "x86_64")]
impl PointwiseWeights {
    /// Calls `block(rows, panels, args)` for every block of up to `mr` pixels x `np` panels,
    /// pixels outermost (a block's activation rows stay in L1 across the panels).
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn for_each_block(
        &self,
        x: &[f32],
        residual: Option<&[f32]>,
        ep: Epilogue,
        out: &mut [f32],
        pixels: usize,
        mr: usize,
        np: usize,
        mut block: impl FnMut(usize, usize, &BlockArgs),
    ) {
        let (lo, hi) = ep.bounds();
        let (k, cout) = (self.k, self.cout);
        let n_panels = cout.div_ceil(PANEL);
        let res = residual.map_or(std::ptr::null(), |r| r.as_ptr());
        let mut p0 = 0;
        while p0 < pixels {
            let rows = mr.min(pixels - p0);
            let mut panel = 0;
            while panel < n_panels {
                let n = np.min(n_panels - panel);
                let at = p0 * cout + panel * PANEL;
                let args = BlockArgs {
                    x: x[p0 * k..].as_ptr(),
                    k,
                    w: self.panels[panel * k * PANEL..].as_ptr(),
                    bias: self.bias[panel * PANEL..].as_ptr(),
                    out: out[at..].as_mut_ptr(),
                    res: if res.is_null() {
                        res
                    } else {
                        res.wrapping_add(at)
                    },
                    ldo: cout,
                    cols: (n * PANEL).min(cout - panel * PANEL),
                    lo,
                    hi,
                };
                block(rows, n, &args);
                panel += n;
            }
            p0 += rows;
        }
    }

    #[target_feature(enable = "avx512f")]
    unsafe fn run_avx512(
        &self,
        x: &[f32],
        residual: Option<&[f32]>,
        ep: Epilogue,
        out: &mut [f32],
        pixels: usize,
    ) {
        // Two panels at a time while both exist, then the last one alone.
        self.for_each_block(x, residual, ep, out, pixels, MR512, 2, |rows, n, args| {
            macro_rules! call {
                ($np:literal) => {
                    match rows {
                        8 => pointwise_block_512::<8, $np>(args),
                        7 => pointwise_block_512::<7, $np>(args),
                        6 => pointwise_block_512::<6, $np>(args),
                        5 => pointwise_block_512::<5, $np>(args),
                        4 => pointwise_block_512::<4, $np>(args),
                        3 => pointwise_block_512::<3, $np>(args),
                        2 => pointwise_block_512::<2, $np>(args),
                        _ => pointwise_block_512::<1, $np>(args),
                    }
                };
            }
            // SAFETY: this closure runs inside `run_avx512`, whose caller checked AVX-512F.
            unsafe {
                if n == 2 {
                    call!(2);
                } else {
                    call!(1);
                }
            }
        });
    }
}

/// `R` pixels x `NP` panels (16 output channels each, one 16-lane register per pixel and
/// panel) of the pointwise product; panel `j`'s weights start `j * k * PANEL` after `a.w`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn pointwise_block_512<const R: usize, const NP: usize>(a: &BlockArgs) {
    let mut acc = [[_mm512_setzero_ps(); NP]; R];
    for j in 0..NP {
        let b = _mm512_loadu_ps(a.bias.add(j * PANEL));
        for row in acc.iter_mut() {
            row[j] = b;
        }
    }
    let panel_stride = a.k * PANEL;
    for kk in 0..a.k {
        let mut w = [_mm512_setzero_ps(); NP];
        for (j, wj) in w.iter_mut().enumerate() {
            *wj = _mm512_loadu_ps(a.w.add(j * panel_stride + kk * PANEL));
        }
        for (i, row) in acc.iter_mut().enumerate() {
            let v = _mm512_set1_ps(*a.x.add(i * a.k + kk));
            for j in 0..NP {
                row[j] = _mm512_fmadd_ps(v, w[j], row[j]);
            }
        }
    }
    let lo = _mm512_set1_ps(a.lo);
    let hi = _mm512_set1_ps(a.hi);
    for (i, row) in acc.iter().enumerate() {
        let o = a.out.add(i * a.ldo);
        let r = if a.res.is_null() {
            a.res
        } else {
            a.res.add(i * a.ldo)
        };
        for (j, v) in row.iter().enumerate() {
            let c0 = j * PANEL;
            if c0 >= a.cols {
                break;
            }
            let mut v = *v;
            if a.cols - c0 >= PANEL {
                if !r.is_null() {
                    v = _mm512_add_ps(v, _mm512_loadu_ps(r.add(c0)));
                }
                _mm512_storeu_ps(o.add(c0), _mm512_min_ps(_mm512_max_ps(v, lo), hi));
            } else {
                let mut tmp = [0f32; PANEL];
                _mm512_storeu_ps(tmp.as_mut_ptr(), v);
                for (jj, t) in tmp.iter().enumerate().take(a.cols - c0) {
                    let mut v = *t;
                    if !r.is_null() {
                        v += *r.add(c0 + jj);
                    }
                    *o.add(c0 + jj) = v.max(a.lo).min(a.hi);
                }
            }
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
        self.channels_portable(x, 0, ep, out);
    }

    /// Channels `ch0 .. c` of every output, without SIMD (all of them on CPUs without AVX2,
    /// the last `c % 8` after the vector kernels otherwise).
    fn channels_portable(&self, x: &[f32], ch0: usize, ep: Epilogue, out: &mut [f32]) {
        let g = &self.geo;
        let c = self.c;
        let (lo, hi) = ep.bounds();
        let mut acc = vec![0f32; c - ch0];
        for oy in 0..g.oh {
            for ox in 0..g.ow {
                acc.copy_from_slice(&self.bias[ch0..]);
                for ky in 0..g.kh {
                    let Some(iy) = ConvGeometry::src(oy, ky, g.sh, g.pad_top, g.h) else {
                        continue;
                    };
                    for kx in 0..g.kw {
                        let Some(ix) = ConvGeometry::src(ox, kx, g.sw, g.pad_left, g.w) else {
                            continue;
                        };
                        let xs = &x[(iy * g.w + ix) * c + ch0..][..c - ch0];
                        let ws = &self.taps[(ky * g.kw + kx) * c + ch0..][..c - ch0];
                        for ((a, w), v) in acc.iter_mut().zip(ws).zip(xs) {
                            *a += w * v;
                        }
                    }
                }
                let o = &mut out[(oy * g.ow + ox) * c + ch0..][..c - ch0];
                for (d, s) in o.iter_mut().zip(&acc) {
                    *d = s.max(lo).min(hi);
                }
            }
        }
    }

    /// Large planes: output rows outermost, then groups of 6 outputs, then channel blocks of
    /// 16 (then 8): consecutive loads. Small padded planes: channel blocks outermost, each
    /// copied into a zero-padded plane that stays in L1, so that every output row runs the
    /// full-kernel groups. The last `c % 8` channels are computed one at a time.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn run_avx2(&self, x: &[f32], ep: Epilogue, out: &mut [f32]) {
        let g = self.geo;
        let c = self.c;
        let (lo, hi) = ep.bounds();
        let c8 = c / 8 * 8;
        if c8 < c {
            self.channels_portable(x, c8, ep, out);
        }
        let pad_bottom = ((g.oh - 1) * g.sh + g.kh).saturating_sub(g.h + g.pad_top);
        let pad_right = ((g.ow - 1) * g.sw + g.kw).saturating_sub(g.w + g.pad_left);
        let padded = g.pad_top + g.pad_left + pad_bottom + pad_right > 0;
        let row = |src: *const f32, xs: usize, geo: ConvGeometry, ch: usize, oy: usize| {
            let ky0 = geo.pad_top.saturating_sub(oy * geo.sh).min(geo.kh);
            let ky1 = (geo.h + geo.pad_top)
                .saturating_sub(oy * geo.sh)
                .min(geo.kh)
                .max(ky0);
            DwRow {
                x: src,
                xs,
                taps: self.taps.as_ptr().add(ch),
                bias: self.bias.as_ptr().add(ch),
                out: out.as_ptr().add(oy * geo.ow * c + ch) as *mut f32,
                c,
                g: geo,
                oy,
                ky0,
                ky1,
                lo,
                hi,
            }
        };
        if !(padded && g.h * g.w <= SMALL_PLANE) {
            let (ilo, ihi) = g.interior_cols();
            for oy in 0..g.oh {
                let mut ox = 0;
                while ox < g.ow {
                    let group = ox >= ilo && ox + DW_PIXELS <= ihi;
                    let (kx0, kx1) = if group {
                        (0, g.kw)
                    } else {
                        let kx0 = g.pad_left.saturating_sub(ox * g.sw).min(g.kw);
                        let kx1 = (g.w + g.pad_left)
                            .saturating_sub(ox * g.sw)
                            .min(g.kw)
                            .max(kx0);
                        (kx0, kx1)
                    };
                    let mut ch = 0;
                    while ch < c8 {
                        let r = row(x.as_ptr().add(ch), c, g, ch, oy);
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
            return;
        }
        let (hp, wp) = (g.h + g.pad_top + pad_bottom, g.w + g.pad_left + pad_right);
        let inner = ConvGeometry {
            h: hp,
            w: wp,
            pad_top: 0,
            pad_left: 0,
            ..g
        };
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
            for oy in 0..inner.oh {
                let r = row(buf.as_ptr(), bw, inner, ch, oy);
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
}

/// Input planes up to this many pixels get a zero-padded copy per channel block.
const SMALL_PLANE: usize = 32 * 32;

/// One output row of one channel block, for the depthwise groups.
#[cfg(target_arch = "x86_64")]
struct DwRow {
    /// The block's input: pixel `(iy, ix)` at `x + (iy * w + ix) * xs`.
    x: *const f32,
    xs: usize,
    /// The block's taps: tap `t` at `taps + t * c`.
    taps: *const f32,
    bias: *const f32,
    /// The block's outputs of this row: pixel `ox` at `out + ox * c`.
    out: *mut f32,
    c: usize,
    g: ConvGeometry,
    oy: usize,
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
        let iy = r.oy * g.sh + ky - g.pad_top;
        let mut xk = r.x.add((iy * g.w + ix0) * r.xs);
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
pub fn im2col_rows(
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
/// block through the pointwise product. `out` is `[oh][ow][cout]`.
pub fn general_conv(
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
    let mut patches = vec![0f32; GENERAL_BLOCK * w.k];
    let mut p0 = 0;
    while p0 < pixels {
        let n = GENERAL_BLOCK.min(pixels - p0);
        let block = &mut patches[..n * w.k];
        im2col_rows(x, cin, layout, g, p0, block);
        w.run(block, None, ep, &mut out[p0 * w.cout..(p0 + n) * w.cout]);
        p0 += n;
    }
}

/// Output pixels per patch block of [`general_conv`] (a multiple of the micro-kernel's rows).
pub const GENERAL_BLOCK: usize = 8 * MR;

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

    /// Inputs, weights, bias, residual and packed weights of a `pixels x k -> cout` product.
    fn pointwise_case(
        pixels: usize,
        k: usize,
        cout: usize,
    ) -> (Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>, PointwiseWeights) {
        let x = data(pixels * k, 0.37);
        let w = data(cout * k, 0.11);
        let bias = data(cout, 0.7);
        let res = data(pixels * cout, 0.23);
        let packed = PointwiseWeights::pack(&w, &bias, cout, k);
        (x, w, bias, res, packed)
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
            let (x, w, bias, res, packed) = pointwise_case(pixels, k, cout);
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
    #[cfg(target_arch = "x86_64")]
    fn avx512_pointwise_equals_the_direct_product_where_the_cpu_has_it() {
        if !(std::arch::is_x86_feature_detected!("avx512f") && has_avx2_fma()) {
            eprintln!("no AVX-512F on this CPU: the AVX-512 pointwise kernel is not exercised");
            return;
        }
        for (pixels, k, cout) in [
            (1, 1, 1),
            (9, 3, 8),
            (17, 16, 24),
            (49, 40, 112),
            (8, 5, 48),
            (50, 17, 33),
        ] {
            let (x, w, bias, res, packed) = pointwise_case(pixels, k, cout);
            let g = geometry(1, pixels, 1, 1, (0, 0, 0, 0));
            let plain = reference_conv(&x, k, cout, false, &w, &bias, &g, None);
            let want: Vec<f32> = plain
                .iter()
                .zip(&res)
                .map(|(v, r)| (v + r).clamp(-0.2, 0.4))
                .collect();
            let mut got = vec![f32::NAN; pixels * cout];
            let ep = Epilogue {
                clip: Some((-0.2, 0.4)),
            };
            // SAFETY: AVX-512F and AVX2 + FMA were detected above.
            unsafe { packed.run_avx512(&x, Some(&res), ep, &mut got, pixels) };
            close(
                &got,
                &want,
                &format!("avx512 pointwise {pixels}x{k}->{cout}"),
            );
        }
        assert!(avx512_pointwise_ok(), "the run-time self-check agrees");
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
            // Small padded planes in rows of 7 (16- and 8-channel blocks, scalar remainder).
            (24, 14, 14, 5, 1, (2, 2, 2, 2)),
            (19, 7, 7, 3, 1, (1, 1, 1, 1)),
            // Large planes (more than SMALL_PLANE pixels): row-outer path with borders.
            (24, 40, 36, 3, 2, (0, 0, 1, 1)),
            (40, 34, 33, 5, 1, (2, 2, 2, 2)),
            (12, 33, 35, 3, 1, (1, 1, 1, 1)),
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
