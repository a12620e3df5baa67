//! The 1x1 (pointwise) convolution kernel: a matrix product over the channels of every pixel,
//! weights packed into panels of [`PANEL`] output channels; a portable path, an AVX2 + FMA
//! micro-kernel (6 pixels x 16 channels) and an AVX-512 one ([`avx512`]: tiles of up to 28 sums
//! in registers chosen per layer shape, `k` cut into slices for large layers; used after a
//! run-time self-check). See the [family overview](super).

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

use super::{has_avx2_fma, Epilogue};

#[cfg(target_arch = "x86_64")]
pub(crate) mod avx512;

/// Output channels per packed weight panel of the pointwise kernel.
pub(crate) const PANEL: usize = 16;
/// Pixels per block of the pointwise micro-kernel.
pub(crate) const MR: usize = 6;

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

    /// The number of pixels of `x` (`[pixels][k]`), after checking that `out` (and
    /// `residual`) hold `[pixels][cout]`; the kernels rely on these lengths.
    fn pixels_of(&self, x: &[f32], residual: Option<&[f32]>, out: &[f32]) -> usize {
        let pixels = x.len() / self.k.max(1);
        assert_eq!(x.len(), pixels * self.k);
        assert_eq!(out.len(), pixels * self.cout);
        if let Some(r) = residual {
            assert_eq!(r.len(), out.len());
        }
        pixels
    }

    /// `out[p][o] = clip(bias[o] + sum_k x[p][k] * w[o][k] + residual[p][o])` for the `pixels`
    /// rows of `x` (`[pixels][k]`); `out` and `residual` are `[pixels][cout]`.
    pub fn run(&self, x: &[f32], residual: Option<&[f32]>, ep: Epilogue, out: &mut [f32]) {
        let pixels = self.pixels_of(x, residual, out);
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
        self.for_each_block(x, residual, ep, out, pixels, |rows, args| {
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

/// Whether the AVX-512 pointwise kernel is used: the CPU has AVX-512F, and the kernel gave the
/// AVX2 kernel's results on a ragged test problem the first time it was asked (a guard for a
/// path that the development machine, whose virtual CPU hides AVX-512, could not run).
#[cfg(target_arch = "x86_64")]
pub(super) fn avx512_pointwise_ok() -> bool {
    use std::sync::OnceLock;
    static OK: OnceLock<bool> = OnceLock::new();
    *OK.get_or_init(|| {
        if !(crate::isa::avx512f() && has_avx2_fma()) {
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
    /// Calls `block(rows, args)` for every block of up to [`MR`] pixels x one panel, pixels
    /// outermost (a block's activation rows stay in L1 across the panels).
    #[inline(always)]
    fn for_each_block(
        &self,
        x: &[f32],
        residual: Option<&[f32]>,
        ep: Epilogue,
        out: &mut [f32],
        pixels: usize,
        mut block: impl FnMut(usize, &BlockArgs),
    ) {
        let (lo, hi) = ep.bounds();
        let (k, cout) = (self.k, self.cout);
        let n_panels = cout.div_ceil(PANEL);
        let res = residual.map_or(std::ptr::null(), |r| r.as_ptr());
        let mut p0 = 0;
        while p0 < pixels {
            let rows = MR.min(pixels - p0);
            for panel in 0..n_panels {
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
                    cols: PANEL.min(cout - panel * PANEL),
                    lo,
                    hi,
                };
                block(rows, &args);
            }
            p0 += rows;
        }
    }

    /// The AVX-512 path with the tile chosen for this shape.
    #[target_feature(enable = "avx512f")]
    unsafe fn run_avx512(
        &self,
        x: &[f32],
        residual: Option<&[f32]>,
        ep: Epilogue,
        out: &mut [f32],
        pixels: usize,
    ) {
        let tile = avx512::Tile::for_shape(pixels, self.k, self.cout);
        avx512::run(self, x, residual, ep.bounds(), out, pixels, tile);
    }

    /// [`Self::run`] on the AVX-512 path with a given tile (for the benches' tile sweeps);
    /// `false` (nothing computed) on a CPU without AVX-512F.
    pub fn run_avx512_tile(
        &self,
        x: &[f32],
        residual: Option<&[f32]>,
        ep: Epilogue,
        out: &mut [f32],
        tile: avx512::Tile,
    ) -> bool {
        let pixels = self.pixels_of(x, residual, out);
        if !std::arch::is_x86_feature_detected!("avx512f") {
            return false;
        }
        // SAFETY: the CPU has AVX-512F (checked above); the slice lengths are asserted above.
        unsafe { avx512::run(self, x, residual, ep.bounds(), out, pixels, tile) };
        true
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::reference::{close, data, geometry, reference_conv};

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
            (49, 40, 24),
            (31, 19, 80),
            (23, 33, 112),
        ] {
            let (x, w, bias, res, packed) = pointwise_case(pixels, k, cout);
            let g = geometry(1, pixels, 1, 1, (0, 0, 0, 0));
            let plain = reference_conv(&x, k, cout, false, &w, &bias, &g, None);
            let want: Vec<f32> = plain
                .iter()
                .zip(&res)
                .map(|(v, r)| (v + r).clamp(-0.2, 0.4))
                .collect();
            let ep = Epilogue {
                clip: Some((-0.2, 0.4)),
            };
            let mut got = vec![f32::NAN; pixels * cout];
            // SAFETY: AVX-512F and AVX2 + FMA were detected above.
            unsafe { packed.run_avx512(&x, Some(&res), ep, &mut got, pixels) };
            close(
                &got,
                &want,
                &format!("avx512 pointwise {pixels}x{k}->{cout}"),
            );
            // Every tile: all pixel block sizes, panel counts, slices of k and loop orders give
            // the same values as the chosen tile, bit for bit (same sums in the same order).
            for panels in 1..=4 {
                for rows in 1..=avx512::max_rows(panels) {
                    for kc in [0, 1, 7, 16] {
                        for panels_outer in [false, true] {
                            let tile = avx512::Tile {
                                rows,
                                panels,
                                kc,
                                panels_outer,
                            };
                            let mut t = vec![f32::NAN; pixels * cout];
                            assert!(packed.run_avx512_tile(&x, Some(&res), ep, &mut t, tile));
                            assert!(
                                t.iter().zip(&got).all(|(a, b)| a.to_bits() == b.to_bits()),
                                "{tile:?} on {pixels}x{k}->{cout}"
                            );
                        }
                    }
                }
            }
            // Without residual or clip, slices of k store raw partial sums in between.
            let mut plain_got = vec![f32::NAN; pixels * cout];
            let tile = avx512::Tile {
                rows: 9,
                panels: 3,
                kc: 4,
                panels_outer: true,
            };
            let none = Epilogue { clip: None };
            assert!(packed.run_avx512_tile(&x, None, none, &mut plain_got, tile));
            close(
                &plain_got,
                &plain,
                &format!("avx512 {tile:?} {pixels}x{k}->{cout}"),
            );
        }
        assert!(avx512_pointwise_ok(), "the run-time self-check agrees");
    }
}
