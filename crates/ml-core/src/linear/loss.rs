//! The logistic loss and its gradient (binomial and multinomial), with the small numeric
//! kernels they and prediction share.
//!
//! [`LossFn`] evaluates the objective of the standardized (and, with an intercept, centred)
//! problem straight from the raw row-major features, one fused pass per evaluation, in parallel
//! over fixed row blocks reduced in block order: the result does not depend on the number of
//! threads.

use rayon::prelude::*;

/// Dot product with eight independent accumulators (vectorizes without fast-math).
#[inline]
pub(super) fn dot(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f64; 8];
    let ca = a.chunks_exact(8);
    let cb = b.chunks_exact(8);
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for j in 0..8 {
            acc[j] += x[j] * y[j];
        }
    }
    let mut tail = 0.0;
    for (x, y) in ra.iter().zip(rb) {
        tail += x * y;
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}

#[inline]
pub(super) fn axpy(alpha: f64, x: &[f64], y: &mut [f64]) {
    for (yv, xv) in y.iter_mut().zip(x) {
        *yv += alpha * xv;
    }
}

#[inline]
pub(super) fn log1p_exp(x: f64) -> f64 {
    if x > 0.0 {
        x + (-x).exp().ln_1p()
    } else {
        x.exp().ln_1p()
    }
}

/// The logistic loss and its gradient on the standardized (and, with an intercept, centred)
/// problem, evaluated straight from the raw row-major features.
pub(super) struct LossFn<'a> {
    pub(super) x: &'a [f64],
    pub(super) y: &'a [f64],
    pub(super) w: &'a [f64],
    pub(super) n: usize,
    pub(super) p: usize,
    /// Coefficient sets (1 binomial, K multinomial).
    pub(super) k: usize,
    pub(super) multinomial: bool,
    pub(super) fit_intercept: bool,
    pub(super) inv_std: Vec<f64>,
    pub(super) mean: Vec<f64>,
    pub(super) weight_sum: f64,
    pub(super) l2: f64,
    /// Per-feature L2 multiplier (1 with standardization, 1/std^2 without, 0 for constant ones).
    pub(super) l2_scale: Vec<f64>,
    pub(super) blocks: Vec<(usize, usize)>,
}

impl LossFn<'_> {
    pub(super) fn dim(&self) -> usize {
        self.k * self.p + if self.fit_intercept { self.k } else { 0 }
    }

    /// Objective and gradient at `coef` (layout: class-major coefficients, then intercepts).
    pub(super) fn eval(&self, coef: &[f64]) -> (f64, Vec<f64>) {
        let (p, k) = (self.p, self.k);
        // Effective raw-scale coefficients and offsets: margin = x . v_k + c_k.
        let mut v = vec![0.0; k * p];
        let mut c = vec![0.0; k];
        for cls in 0..k {
            let mut off = if self.fit_intercept {
                coef[k * p + cls]
            } else {
                0.0
            };
            for j in 0..p {
                let b = coef[cls * p + j];
                v[cls * p + j] = b * self.inv_std[j];
                if self.fit_intercept {
                    off -= b * self.inv_std[j] * self.mean[j];
                }
            }
            c[cls] = off;
        }
        let partials: Vec<(f64, Vec<f64>, Vec<f64>)> = self
            .blocks
            .par_iter()
            .map(|&(lo, hi)| self.block(lo, hi, &v, &c))
            .collect();
        let mut loss = 0.0;
        let mut g = vec![0.0; k * p];
        let mut s = vec![0.0; k];
        for (l, gb, sb) in &partials {
            loss += l;
            for (a, b) in g.iter_mut().zip(gb) {
                *a += b;
            }
            for (a, b) in s.iter_mut().zip(sb) {
                *a += b;
            }
        }
        let ws = self.weight_sum;
        let mut grad = vec![0.0; self.dim()];
        let mut reg = 0.0;
        for cls in 0..k {
            for j in 0..p {
                let idx = cls * p + j;
                let centred = if self.fit_intercept {
                    g[idx] - self.mean[j] * s[cls]
                } else {
                    g[idx]
                };
                let b = coef[idx];
                let r = self.l2 * self.l2_scale[j];
                reg += 0.5 * r * b * b;
                grad[idx] = self.inv_std[j] * centred / ws + r * b;
            }
            if self.fit_intercept {
                grad[k * p + cls] = s[cls] / ws;
            }
        }
        (loss / ws + reg, grad)
    }

    fn block(&self, lo: usize, hi: usize, v: &[f64], c: &[f64]) -> (f64, Vec<f64>, Vec<f64>) {
        let (p, k) = (self.p, self.k);
        let mut g = vec![0.0; k * p];
        let mut s = vec![0.0; k];
        let mut loss = 0.0;
        let mut margins = vec![0.0; k];
        for i in lo..hi {
            let wi = self.w[i];
            if wi == 0.0 {
                continue;
            }
            let row = &self.x[i * p..(i + 1) * p];
            let yi = self.y[i];
            if !self.multinomial {
                let m = dot(row, &v[..p]) + c[0];
                let (l, mult) = if yi > 0.0 {
                    (log1p_exp(-m), wi * (1.0 / (1.0 + (-m).exp()) - 1.0))
                } else {
                    (log1p_exp(m), wi * (1.0 / (1.0 + (-m).exp())))
                };
                loss += wi * l;
                s[0] += mult;
                axpy(mult, row, &mut g[..p]);
            } else {
                let mut max = f64::NEG_INFINITY;
                for cls in 0..k {
                    margins[cls] = dot(row, &v[cls * p..(cls + 1) * p]) + c[cls];
                    max = max.max(margins[cls]);
                }
                let label = yi as usize;
                let label_margin = margins[label];
                let mut sum = 0.0;
                for m in margins.iter_mut() {
                    *m = (*m - max).exp();
                    sum += *m;
                }
                let l = sum.ln() + max - label_margin;
                loss += wi * l;
                for cls in 0..k {
                    let pk = margins[cls] / sum;
                    let mult = wi * (pk - if cls == label { 1.0 } else { 0.0 });
                    s[cls] += mult;
                    axpy(mult, row, &mut g[cls * p..(cls + 1) * p]);
                }
            }
        }
        (loss, g, s)
    }
}
