//! L-BFGS and OWL-QN minimizers that follow Breeze (the optimizer Spark MLlib calls) step by step.
//!
//! What is reproduced from Breeze 2.x (`breeze.optimize.{FirstOrderMinimizer, LBFGS, OWLQN,
//! StrongWolfeLineSearch, BacktrackingLineSearch}`), so that a run stopped after `k` iterations
//! lands where Spark's does:
//! - two-loop recursion with memory `m` and initial scaling `s'y / y'y` of the newest pair;
//!   a pair with `s'y < 0` or NaN raises "NaN history";
//! - L-BFGS: strong-Wolfe line search (c1 = 1e-4, c2 = 0.9, cubic interpolation safeguarded to
//!   [10%, 90%] of the bracket, 10 bracketing and 10 zoom steps, step x1.5 while the slope is too
//!   steep), first step `1 / |d|`, then 1; a step with `alpha * |g| < 1e-10` is an underflow;
//! - OWL-QN: direction from the pseudo-gradient, zeroed where it disagrees with it; step projected
//!   on the orthant of `x` (or of `-pseudo-gradient` where `x = 0`), applied to every coordinate;
//!   backtracking line search (Armijo 1e-4, Wolfe 0.9 with the strong test, shrink 0.1 on the
//!   first iteration and 0.5 afterwards, grow 2.1, 20 tries, first step `0.5 / |g|`), including
//!   Breeze's quirk that the first trial is judged on its slope only;
//! - a failed iteration resets the memory once; a second failure in a row stops the search;
//! - stopping: `iter >= max_iter`, or the objective within `tol * |f(x0)|` of the largest of the
//!   last 20 raw (unpenalized-by-L1) values, or `|pseudo-gradient|_2 <= max(tol * f, 1e-8)`.
//!
//! The objective history holds the value at the start and after every iteration (an iteration
//! that only reset the memory repeats the previous value), as `objectiveHistory` in Spark.

use std::collections::VecDeque;

/// Why the minimizer stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum StopReason {
    /// `max_iter` iterations were run.
    MaxIterations,
    /// The objective stopped changing (relative to `tol`).
    FunctionValuesConverged,
    /// The (pseudo-)gradient norm fell under `tol` times the objective.
    GradientConverged,
    /// The line search failed twice in a row.
    SearchFailed,
    /// No optimization was needed (for instance a single class with an intercept).
    NotNeeded,
}

impl StopReason {
    /// True for the reasons that mean the optimum was reached.
    pub fn is_converged(self) -> bool {
        matches!(
            self,
            StopReason::FunctionValuesConverged
                | StopReason::GradientConverged
                | StopReason::NotNeeded
        )
    }
}

/// Outcome of a minimization.
#[derive(Debug, Clone)]
pub(crate) struct OptimResult {
    pub x: Vec<f64>,
    pub history: Vec<f64>,
    pub iterations: usize,
    pub reason: StopReason,
}

#[derive(Debug)]
enum StepError {
    NaNHistory,
    StepSizeUnderflow,
    StepSizeOverflow,
    LineSearchFailed,
}

/// A differentiable function evaluated with its gradient; the last point is cached.
pub(crate) struct Cached<F: FnMut(&[f64]) -> (f64, Vec<f64>)> {
    f: F,
    last: Option<(Vec<f64>, f64, Vec<f64>)>,
}

impl<F: FnMut(&[f64]) -> (f64, Vec<f64>)> Cached<F> {
    pub fn new(f: F) -> Self {
        Cached { f, last: None }
    }
    fn calculate(&mut self, x: &[f64]) -> (f64, Vec<f64>) {
        if let Some((lx, v, g)) = &self.last {
            if lx.as_slice() == x {
                return (*v, g.clone());
            }
        }
        let (v, g) = (self.f)(x);
        self.last = Some((x.to_vec(), v, g.clone()));
        (v, g)
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn norm2(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}

fn signum(v: f64) -> f64 {
    // Scala's math.signum: 0.0 for zero.
    if v > 0.0 {
        1.0
    } else if v < 0.0 {
        -1.0
    } else {
        0.0
    }
}

struct State {
    x: Vec<f64>,
    value: f64,
    grad: Vec<f64>,
    adj_value: f64,
    adj_grad: Vec<f64>,
    iter: usize,
    initial_adj_value: f64,
    mem_s: VecDeque<Vec<f64>>,
    mem_y: VecDeque<Vec<f64>>,
    fvals: VecDeque<f64>,
    search_failed: bool,
}

/// L-BFGS (when `l1` is `None`) or OWL-QN (per-coordinate L1 weights) with Breeze's rules.
pub(crate) struct Minimizer {
    pub max_iter: usize,
    pub memory: usize,
    pub tol: f64,
    /// Per-coordinate L1 weight; `None` selects plain L-BFGS.
    pub l1: Option<Vec<f64>>,
}

const FVAL_MEMORY: usize = 20;

impl Minimizer {
    fn adjust(&self, x: &[f64], grad: &[f64], value: f64) -> (f64, Vec<f64>) {
        let Some(l1) = &self.l1 else {
            return (value, grad.to_vec());
        };
        let mut adj = value;
        let g = x
            .iter()
            .zip(grad)
            .zip(l1)
            .map(|((&xv, &v), &l)| {
                if l == 0.0 {
                    v
                } else {
                    adj += (l * xv).abs();
                    if xv == 0.0 {
                        let dp = v + l;
                        let dm = v - l;
                        if dm > 0.0 {
                            dm
                        } else if dp < 0.0 {
                            dp
                        } else {
                            0.0
                        }
                    } else {
                        v + signum(xv) * l
                    }
                }
            })
            .collect();
        (adj, g)
    }

    fn two_loop(&self, st: &State, grad: &[f64]) -> Result<Vec<f64>, StepError> {
        let len = st.mem_s.len();
        let diag = if len > 0 {
            let sy = dot(&st.mem_s[0], &st.mem_y[0]);
            let yy = dot(&st.mem_y[0], &st.mem_y[0]);
            if sy < 0.0 || sy.is_nan() {
                return Err(StepError::NaNHistory);
            }
            sy / yy
        } else {
            1.0
        };
        let mut dir = grad.to_vec();
        let mut alphas = vec![0.0; len];
        let mut rho = vec![0.0; len];
        for i in 0..len {
            rho[i] = dot(&st.mem_s[i], &st.mem_y[i]);
            alphas[i] = dot(&st.mem_s[i], &dir) / rho[i];
            if alphas[i].is_nan() {
                return Err(StepError::NaNHistory);
            }
            for (d, y) in dir.iter_mut().zip(&st.mem_y[i]) {
                *d -= alphas[i] * y;
            }
        }
        for d in dir.iter_mut() {
            *d *= diag;
        }
        for i in (0..len).rev() {
            let beta = dot(&st.mem_y[i], &dir) / rho[i];
            let c = alphas[i] - beta;
            for (d, s) in dir.iter_mut().zip(&st.mem_s[i]) {
                *d += c * s;
            }
        }
        for d in dir.iter_mut() {
            *d = -*d;
        }
        Ok(dir)
    }

    fn direction(&self, st: &State) -> Result<Vec<f64>, StepError> {
        match &self.l1 {
            None => self.two_loop(st, &st.grad),
            Some(_) => {
                let d = self.two_loop(st, &st.adj_grad)?;
                Ok(d.iter()
                    .zip(&st.adj_grad)
                    .map(|(&d, &g)| if d * g < 0.0 { d } else { 0.0 })
                    .collect())
            }
        }
    }

    fn take_step(&self, st: &State, dir: &[f64], alpha: f64) -> Vec<f64> {
        let stepped = st.x.iter().zip(dir).map(|(x, d)| x + d * alpha);
        match &self.l1 {
            None => stepped.collect(),
            Some(_) => stepped
                .zip(st.x.iter().zip(&st.adj_grad))
                .map(|(v, (&x, &g))| {
                    let orthant = if x != 0.0 { signum(x) } else { signum(-g) };
                    if signum(v) == orthant {
                        v
                    } else {
                        0.0
                    }
                })
                .collect(),
        }
    }

    fn strong_wolfe<F: FnMut(&[f64]) -> (f64, Vec<f64>)>(
        &self,
        st: &State,
        f: &mut Cached<F>,
        dir: &[f64],
        init: f64,
    ) -> Result<f64, StepError> {
        const C1: f64 = 1e-4;
        const C2: f64 = 0.9;
        const MAX_ZOOM: usize = 10;
        const MAX_SEARCH: usize = 10;
        #[derive(Clone, Copy)]
        struct Bracket {
            t: f64,
            dd: f64,
            fval: f64,
        }
        let mut phi = |t: f64| -> Bracket {
            let x: Vec<f64> = st.x.iter().zip(dir).map(|(x, d)| x + d * t).collect();
            let (v, g) = f.calculate(&x);
            Bracket {
                t,
                dd: dot(&g, dir),
                fval: v,
            }
        };
        let interp = |l: Bracket, r: Bracket| -> f64 {
            let d1 = l.dd + r.dd - 3.0 * (l.fval - r.fval) / (l.t - r.t);
            let d2 = (d1 * d1 - l.dd * r.dd).sqrt();
            let mult = r.t - l.t;
            let t = r.t - mult * (r.dd + d2 - d1) / (r.dd - l.dd + 2.0 * d2);
            let lb = l.t + 0.1 * (r.t - l.t);
            let ub = l.t + 0.9 * (r.t - l.t);
            if t < lb {
                lb
            } else if t > ub {
                ub
            } else {
                t
            }
        };
        let mut t = init;
        let mut low = phi(0.0);
        let fval = low.fval;
        let dd = low.dd;
        if dd > 0.0 {
            return Err(StepError::LineSearchFailed);
        }
        let zoom = |phi: &mut dyn FnMut(f64) -> Bracket,
                    linit: Bracket,
                    rinit: Bracket|
         -> Result<f64, StepError> {
            let mut low = linit;
            let mut hi = rinit;
            for _ in 0..MAX_ZOOM {
                let t = if low.t > hi.t {
                    interp(hi, low)
                } else {
                    interp(low, hi)
                };
                let c = phi(t);
                if t.is_nan() {
                    return Err(StepError::LineSearchFailed);
                }
                if c.fval > fval + C1 * c.t * dd || c.fval >= low.fval {
                    hi = c;
                } else {
                    if c.dd.abs() <= C2 * dd.abs() {
                        return Ok(c.t);
                    }
                    if c.dd * (hi.t - low.t) >= 0.0 {
                        hi = low;
                    }
                    low = c;
                }
            }
            Err(StepError::LineSearchFailed)
        };
        for i in 0..MAX_SEARCH {
            let c = phi(t);
            if c.fval.is_infinite() || c.fval.is_nan() {
                t /= 2.0;
            } else {
                if c.fval > fval + C1 * t * dd || (c.fval >= low.fval && i > 0) {
                    return zoom(&mut phi, low, c);
                }
                if c.dd.abs() <= C2 * dd.abs() {
                    return Ok(c.t);
                }
                if c.dd >= 0.0 {
                    return zoom(&mut phi, c, low);
                }
                low = c;
                t *= 1.5;
            }
        }
        Err(StepError::LineSearchFailed)
    }

    fn backtracking<F: FnMut(&[f64]) -> (f64, Vec<f64>)>(
        &self,
        st: &State,
        f: &mut Cached<F>,
        dir: &[f64],
        init: f64,
        shrink: f64,
    ) -> Result<f64, StepError> {
        const MAX_ITER: usize = 20;
        const GROW: f64 = 2.1;
        const C_ARMIJO: f64 = 1e-4;
        const C_WOLFE: f64 = 0.9;
        let mut ff = |alpha: f64| -> (f64, f64) {
            let x = self.take_step(st, dir, alpha);
            let (v, g) = f.calculate(&x);
            let (adj_v, adj_g) = self.adjust(&x, &g, v);
            (adj_v, dot(&adj_g, dir))
        };
        let (f0, df0) = ff(0.0);
        let init_deriv = ff(init).1;
        // Breeze starts from (init, value at the current point, slope at init).
        let (mut alpha, mut fval, mut fderiv) = (init, st.value, init_deriv);
        let mut iter = 0usize;
        loop {
            let multiplier = if fval > f0 + alpha * df0 * C_ARMIJO {
                shrink
            } else if fderiv < C_WOLFE * df0 {
                GROW
            } else if fderiv > -C_WOLFE * df0 {
                shrink
            } else {
                1.0
            };
            if multiplier == 1.0 {
                return Ok(alpha);
            }
            let new_alpha = alpha * multiplier;
            if iter >= MAX_ITER {
                return Err(StepError::LineSearchFailed);
            } else if new_alpha < 1e-10 {
                return Err(StepError::StepSizeUnderflow);
            } else if new_alpha > 1e10 {
                return Err(StepError::StepSizeOverflow);
            }
            let (v, d) = ff(new_alpha);
            iter += 1;
            if iter >= MAX_ITER {
                // Breeze's iterator stops before yielding this trial: the previous one is kept.
                return Ok(alpha);
            }
            alpha = new_alpha;
            fval = v;
            fderiv = d;
        }
    }

    fn step<F: FnMut(&[f64]) -> (f64, Vec<f64>)>(
        &self,
        st: &State,
        f: &mut Cached<F>,
    ) -> Result<State, StepError> {
        let dir = self.direction(st)?;
        let alpha = match &self.l1 {
            None => {
                let init = if st.iter == 0 { 1.0 / norm2(&dir) } else { 1.0 };
                let a = self.strong_wolfe(st, f, &dir, init)?;
                if a * norm2(&st.grad) < 1e-10 {
                    return Err(StepError::StepSizeUnderflow);
                }
                a
            }
            Some(_) => {
                let (init, shrink) = if st.iter < 1 {
                    (0.5 / norm2(&st.grad), 0.1)
                } else {
                    (1.0, 0.5)
                };
                self.backtracking(st, f, &dir, init, shrink)?
            }
        };
        let x = self.take_step(st, &dir, alpha);
        let (value, grad) = f.calculate(&x);
        let (adj_value, adj_grad) = self.adjust(&x, &grad, value);
        let s: Vec<f64> = x.iter().zip(&st.x).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = grad.iter().zip(&st.grad).map(|(a, b)| a - b).collect();
        let mut mem_s = st.mem_s.clone();
        let mut mem_y = st.mem_y.clone();
        mem_s.push_front(s);
        mem_y.push_front(y);
        mem_s.truncate(self.memory);
        mem_y.truncate(self.memory);
        let mut fvals = st.fvals.clone();
        fvals.push_back(value);
        while fvals.len() > FVAL_MEMORY {
            fvals.pop_front();
        }
        Ok(State {
            x,
            value,
            grad,
            adj_value,
            adj_grad,
            iter: st.iter + 1,
            initial_adj_value: st.initial_adj_value,
            mem_s,
            mem_y,
            fvals,
            search_failed: false,
        })
    }

    fn check(&self, st: &State) -> Option<StopReason> {
        if st.iter >= self.max_iter {
            return Some(StopReason::MaxIterations);
        }
        if st.fvals.len() >= 2 {
            let max = st.fvals.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            if (st.adj_value - max).abs() <= self.tol * st.initial_adj_value.abs() {
                return Some(StopReason::FunctionValuesConverged);
            }
        }
        if norm2(&st.adj_grad) <= (self.tol * st.adj_value).max(1e-8) {
            return Some(StopReason::GradientConverged);
        }
        if st.search_failed {
            return Some(StopReason::SearchFailed);
        }
        None
    }

    /// Minimizes `f` from `x0`; `on_iter(iteration, objective)` is called after every iteration.
    pub fn minimize<F: FnMut(&[f64]) -> (f64, Vec<f64>)>(
        &self,
        f: F,
        x0: Vec<f64>,
        mut on_iter: impl FnMut(usize, f64),
    ) -> OptimResult {
        let mut f = Cached::new(f);
        let (value, grad) = f.calculate(&x0);
        let (adj_value, adj_grad) = self.adjust(&x0, &grad, value);
        let mut st = State {
            x: x0,
            value,
            grad,
            adj_value,
            adj_grad,
            iter: 0,
            initial_adj_value: adj_value,
            mem_s: VecDeque::new(),
            mem_y: VecDeque::new(),
            fvals: VecDeque::from(vec![f64::INFINITY]),
            search_failed: false,
        };
        let mut history = vec![st.adj_value];
        let mut failed_once = false;
        let reason = loop {
            if let Some(r) = self.check(&st) {
                break r;
            }
            match self.step(&st, &mut f) {
                Ok(next) => {
                    failed_once = false;
                    st = next;
                }
                Err(_) if !failed_once => {
                    failed_once = true;
                    st.mem_s.clear();
                    st.mem_y.clear();
                }
                Err(_) => st.search_failed = true,
            }
            history.push(st.adj_value);
            on_iter(st.iter, st.adj_value);
        };
        OptimResult {
            x: st.x,
            history,
            iterations: st.iter,
            reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rosenbrock: minimum 0 at (1, 1).
    fn rosen(x: &[f64]) -> (f64, Vec<f64>) {
        let (a, b) = (x[0], x[1]);
        let v = (1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2);
        let g = vec![
            -2.0 * (1.0 - a) - 400.0 * a * (b - a * a),
            200.0 * (b - a * a),
        ];
        (v, g)
    }

    #[test]
    fn lbfgs_finds_the_rosenbrock_minimum() {
        let m = Minimizer {
            max_iter: 200,
            memory: 10,
            tol: 1e-12,
            l1: None,
        };
        let r = m.minimize(rosen, vec![-1.2, 1.0], |_, _| {});
        assert!(
            (r.x[0] - 1.0).abs() < 1e-5 && (r.x[1] - 1.0).abs() < 1e-5,
            "{:?}",
            r.x
        );
        assert!(r.history.windows(2).all(|w| w[1] <= w[0] + 1e-12));
    }

    #[test]
    fn owlqn_solves_a_separable_lasso_exactly() {
        // f(x) = 0.5 * sum (x_i - c_i)^2 + l * |x|_1 has the soft-threshold solution.
        let c = [3.0, -0.2, 0.5, -2.0];
        let l = 0.4;
        let f = |x: &[f64]| {
            let v = x.iter().zip(&c).map(|(a, b)| 0.5 * (a - b) * (a - b)).sum();
            let g = x.iter().zip(&c).map(|(a, b)| a - b).collect();
            (v, g)
        };
        let m = Minimizer {
            max_iter: 100,
            memory: 10,
            tol: 1e-12,
            l1: Some(vec![l; 4]),
        };
        let r = m.minimize(f, vec![0.0; 4], |_, _| {});
        let expect: Vec<f64> = c
            .iter()
            .map(|&v: &f64| v.signum() * (v.abs() - l).max(0.0))
            .collect();
        for (a, b) in r.x.iter().zip(&expect) {
            assert!((a - b).abs() < 1e-6, "{:?} vs {:?}", r.x, expect);
        }
        assert_eq!(
            r.x[1], 0.0,
            "a coefficient under the threshold is exactly zero"
        );
    }
}
