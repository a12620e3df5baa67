//! The regression losses beyond squared error, as XGBoost 3.2 computes them (single-precision
//! gradients from the margin `p`, label `y` and weight `w`):
//!
//! | objective | loss of one row | gradient | hessian |
//! |---|---|---|---|
//! | `reg:absoluteerror` | `\|y - p\|` | `sign(p - y)` | `1` (leaves then refreshed to the median residual) |
//! | `reg:pseudohubererror` | `s^2 (sqrt(1 + (p - y)^2 / s^2) - 1)`, `s` = `huber_slope` | `z / sqrt(1 + z^2/s^2)` | `s^2 / ((s^2 + z^2) sqrt(1 + z^2/s^2))` |
//! | `reg:quantileerror` | pinball: `a (y - p)` if `y >= p`, else `(1 - a)(p - y)`, per `a` in `quantile_alpha` | `1 - a` if `p >= y`, else `-a` | `1` (leaves refreshed to the residuals' `a`-quantile) |
//! | `count:poisson` | `e^p - y p` (+ `ln y!`) | `e^p - y` | `e^(p + max_delta_step)` (XGBoost's safeguard, default 0.7) |
//! | `reg:tweedie` | `-y e^((1-r)p)/(1-r) + e^((2-r)p)/(2-r)`, `r` = `tweedie_variance_power` | `-y e^((1-r)p) + e^((2-r)p)` | `-y(1-r) e^((1-r)p) + (2-r) e^((2-r)p)` |
//! | `reg:gamma` | `y e^(-p) + p` | `1 - y e^(-p)` | `y e^(-p)` |
//!
//! Every gradient and hessian is multiplied by the row's weight. The base score (the first
//! prediction, when `base_score` is unset) is XGBoost's: the weighted mean of the labels for
//! the log-link losses (the base margin its log), the weighted median (absolute error) or
//! each alpha's weighted quantile (quantile error) of the labels, and one Newton step from
//! margin 0 for pseudo-Huber (`-sum g / sum h`).

use serde::{Deserialize, Serialize};

use ml_core::{MlError, Result};

use crate::hist::RowPair;
use crate::objective::Objective;

/// The parameters of the losses, by XGBoost's names and defaults; the estimator's fields of
/// the same names, kept with a model trained with one of these losses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LossParams {
    /// `reg:pseudohubererror`'s slope `s` (default 1; must be > 0).
    pub huber_slope: f64,
    /// `reg:quantileerror`'s quantiles, each in `[0, 1]`; one model output per alpha.
    pub quantile_alpha: Vec<f64>,
    /// `count:poisson`'s hessian safeguard: the hessian is `e^(p + max_delta_step)`
    /// (default 0.7, XGBoost's).
    pub max_delta_step: f64,
    /// `reg:tweedie`'s variance power `r`, in `[1, 2)` (default 1.5).
    pub tweedie_variance_power: f64,
}

impl Default for LossParams {
    fn default() -> Self {
        LossParams {
            huber_slope: 1.0,
            quantile_alpha: Vec::new(),
            max_delta_step: 0.7,
            tweedie_variance_power: 1.5,
        }
    }
}

impl LossParams {
    /// Checks the parameters the objective uses; the error names the parameter.
    pub fn check(&self, obj: Objective) -> Result<()> {
        match obj {
            Objective::PseudoHuberError
                if !(self.huber_slope > 0.0 && self.huber_slope.is_finite()) =>
            {
                Err(MlError::param(
                    "huber_slope",
                    format!("must be a finite number > 0, got {}", self.huber_slope),
                ))
            }
            Objective::QuantileError if self.quantile_alpha.is_empty() => Err(MlError::param(
                "quantile_alpha",
                "reg:quantileerror needs at least one quantile (e.g. [0.5])",
            )),
            Objective::QuantileError
                if self.quantile_alpha.iter().any(|a| !(0.0..=1.0).contains(a)) =>
            {
                Err(MlError::param(
                    "quantile_alpha",
                    format!(
                        "every quantile must be in [0, 1], got {:?}",
                        self.quantile_alpha
                    ),
                ))
            }
            Objective::Poisson
                if !(self.max_delta_step >= 0.0 && self.max_delta_step.is_finite()) =>
            {
                Err(MlError::param(
                    "max_delta_step",
                    format!("must be a finite number >= 0, got {}", self.max_delta_step),
                ))
            }
            Objective::Tweedie
                if !(self.tweedie_variance_power >= 1.0 && self.tweedie_variance_power < 2.0) =>
            {
                Err(MlError::param(
                    "tweedie_variance_power",
                    format!("must be in [1, 2), got {}", self.tweedie_variance_power),
                ))
            }
            _ => Ok(()),
        }
    }
}

/// Checks a label for a regression loss; the message says what the loss expects.
pub(crate) fn check_label(obj: Objective, y: f64) -> std::result::Result<(), String> {
    let ok = match obj {
        Objective::Poisson | Objective::Tweedie => y >= 0.0 && y.is_finite(),
        Objective::Gamma => y > 0.0 && y.is_finite(),
        _ => y.is_finite(),
    };
    if ok {
        return Ok(());
    }
    Err(match obj {
        Objective::Poisson | Objective::Tweedie => {
            format!("label {y} is not a finite number >= 0 ({obj})")
        }
        Objective::Gamma => format!("label {y} is not a finite number > 0 ({obj})"),
        _ => format!("label {y} is not finite ({obj})"),
    })
}

/// `(gradient, hessian)` of one row's loss at margin `p` (unweighted, single precision as
/// XGBoost), for output `class` (the alpha of `reg:quantileerror`). Only for the losses of
/// this module.
#[inline]
pub(crate) fn pair(obj: Objective, lp: &LossParams, p: f64, y: f64, class: usize) -> [f32; 2] {
    let (p, y) = (p as f32, y as f32);
    match obj {
        Objective::AbsoluteError => {
            let z = p - y;
            let sign = (z > 0.0) as i32 - (z < 0.0) as i32;
            [sign as f32, 1.0]
        }
        Objective::PseudoHuberError => {
            let slope = lp.huber_slope as f32;
            let z = p - y;
            let scale_sqrt = (1.0 + (z * z) / (slope * slope)).sqrt();
            let scale = slope * slope + z * z;
            [z / scale_sqrt, (slope * slope) / (scale * scale_sqrt)]
        }
        Objective::QuantileError => {
            let a = lp.quantile_alpha[class] as f32;
            if p - y >= 0.0 {
                [1.0 - a, 1.0]
            } else {
                [-a, 1.0]
            }
        }
        Objective::Poisson => {
            let mds = lp.max_delta_step as f32;
            [p.exp() - y, (p + mds).exp()]
        }
        Objective::Tweedie => {
            let rho = lp.tweedie_variance_power as f32;
            let a = ((1.0 - rho) * p).exp();
            let b = ((2.0 - rho) * p).exp();
            [-y * a + b, -y * (1.0 - rho) * a + (2.0 - rho) * b]
        }
        Objective::Gamma => {
            let mu = p.exp();
            [1.0 - y / mu, y / mu]
        }
        _ => [0.0, 0.0],
    }
}

/// Weighted `(gradient, hessian)` of one row (see [`pair`]).
#[inline]
pub(crate) fn weighted_pair(
    obj: Objective,
    lp: &LossParams,
    p: f64,
    y: f64,
    w: f64,
    class: usize,
) -> RowPair {
    let [g, h] = pair(obj, lp, p, y, class);
    let w = w as f32;
    [g * w, h * w]
}

/// The loss of one row at margin `p` (in `f64`; the function [`pair`] differentiates, up to
/// terms free of `p`): what the finite-difference tests check the gradients against.
#[cfg(test)]
pub(crate) fn row_loss(obj: Objective, lp: &LossParams, p: f64, y: f64, class: usize) -> f64 {
    match obj {
        Objective::AbsoluteError => (y - p).abs(),
        Objective::PseudoHuberError => {
            let s = lp.huber_slope;
            s * s * ((1.0 + (p - y) * (p - y) / (s * s)).sqrt() - 1.0)
        }
        Objective::QuantileError => {
            let a = lp.quantile_alpha[class];
            if y >= p {
                a * (y - p)
            } else {
                (1.0 - a) * (p - y)
            }
        }
        Objective::Poisson => p.exp() - y * p,
        Objective::Tweedie => {
            let r = lp.tweedie_variance_power;
            -y * ((1.0 - r) * p).exp() / (1.0 - r) + ((2.0 - r) * p).exp() / (2.0 - r)
        }
        Objective::Gamma => y * (-p).exp() + p,
        _ => f64::NAN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Central difference of `f` at `x`.
    fn diff(f: impl Fn(f64) -> f64, x: f64) -> f64 {
        let h = 1e-4 * x.abs().max(1.0);
        (f(x + h) - f(x - h)) / (2.0 * h)
    }

    fn params() -> LossParams {
        LossParams {
            huber_slope: 1.7,
            quantile_alpha: vec![0.1, 0.5, 0.9],
            max_delta_step: 0.7,
            tweedie_variance_power: 1.3,
        }
    }

    /// Checks gradient = d loss / dp and hessian = d gradient / dp * `hess_factor(p)` at
    /// margins and labels away from kinks; single-precision gradients against `f64`
    /// differences, so a relative tolerance of 1e-4.
    fn check(obj: Objective, class: usize, labels: &[f64], exact_hessian: bool) {
        let lp = params();
        for &y in labels {
            for &p in &[-1.3, -0.4, 0.2, 0.9, 1.6] {
                if (p - y).abs() < 1e-2 {
                    continue;
                }
                let [g, h] = pair(obj, &lp, p, y, class);
                let fd_g = diff(|m| row_loss(obj, &lp, m, y, class), p);
                let tol = |v: f64| 1e-4 * v.abs().max(1.0);
                assert!(
                    (g as f64 - fd_g).abs() < tol(fd_g),
                    "{obj} gradient at p {p}, y {y}: {g} vs {fd_g}"
                );
                let fd_h = diff(|m| pair(obj, &lp, m, y, class)[0] as f64, p);
                let fd_h2 = diff(|m| diff(|q| row_loss(obj, &lp, q, y, class), m), p);
                let want = if exact_hessian {
                    fd_h2
                } else if obj == Objective::Poisson {
                    fd_h2 * lp.max_delta_step.exp()
                } else {
                    1.0
                };
                assert!(
                    (h as f64 - want).abs() < 1e-3 * want.abs().max(1.0),
                    "{obj} hessian at p {p}, y {y}: {h} vs {want} (f32 diff {fd_h})"
                );
            }
        }
    }

    #[test]
    fn absolute_error_gradient_matches_finite_differences_and_hessian_is_one() {
        check(Objective::AbsoluteError, 0, &[-2.0, 0.0, 0.5, 3.0], false);
    }

    #[test]
    fn pseudo_huber_gradient_and_hessian_match_finite_differences() {
        check(Objective::PseudoHuberError, 0, &[-2.0, 0.0, 0.5, 3.0], true);
    }

    #[test]
    fn quantile_gradient_matches_finite_differences_for_each_alpha() {
        for class in 0..3 {
            check(
                Objective::QuantileError,
                class,
                &[-2.0, 0.0, 0.5, 3.0],
                false,
            );
        }
    }

    #[test]
    fn poisson_gradient_matches_and_hessian_is_scaled_by_e_to_max_delta_step() {
        check(Objective::Poisson, 0, &[0.0, 1.0, 4.0], false);
    }

    #[test]
    fn tweedie_gradient_and_hessian_match_finite_differences() {
        check(Objective::Tweedie, 0, &[0.0, 1.0, 4.0], true);
    }

    #[test]
    fn gamma_gradient_and_hessian_match_finite_differences() {
        check(Objective::Gamma, 0, &[0.3, 1.0, 4.0], true);
    }

    #[test]
    fn bad_loss_parameters_are_errors_naming_the_parameter() {
        let bad = |lp: LossParams, obj: Objective, name: &str| {
            let e = lp.check(obj).unwrap_err();
            assert!(e.to_string().contains(&format!("'{name}'")), "{e}");
        };
        let d = LossParams::default();
        bad(
            LossParams {
                huber_slope: 0.0,
                ..d.clone()
            },
            Objective::PseudoHuberError,
            "huber_slope",
        );
        bad(d.clone(), Objective::QuantileError, "quantile_alpha");
        bad(
            LossParams {
                quantile_alpha: vec![0.5, 1.5],
                ..d.clone()
            },
            Objective::QuantileError,
            "quantile_alpha",
        );
        bad(
            LossParams {
                tweedie_variance_power: 2.0,
                ..d.clone()
            },
            Objective::Tweedie,
            "tweedie_variance_power",
        );
        bad(
            LossParams {
                max_delta_step: -1.0,
                ..d.clone()
            },
            Objective::Poisson,
            "max_delta_step",
        );
        assert!(d.check(Objective::Gamma).is_ok());
        assert!(check_label(Objective::Gamma, 0.0).is_err());
        assert!(check_label(Objective::Poisson, -1.0).is_err());
        assert!(check_label(Objective::Poisson, 0.0).is_ok());
    }
}
