//! Evaluation metrics of margins against labels (per-round figures and early stopping).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use ml_core::metrics::roc_auc;
use ml_core::params::{unsupported_value, ParamType, ParamValue};
use ml_core::{MlError, Result};
use ml_dist::Collective;

use crate::loss::LossParams;
use crate::objective::{argmax, sigmoid, Objective};
use crate::params::enum_from_param;

/// An evaluation metric, by XGBoost's name (parameter `eval_metric`).
///
/// Parses ([`FromStr`]) from `auc`, `logloss`, `rmse`, `mlogloss`, `error` (`merror` is
/// read as `error`), `mae`, `mphe`, `quantile`, `poisson-nloglik`, `tweedie-nloglik`
/// (also `tweedie-nloglik@<rho>`, whose rho must then be `tweedie_variance_power`'s, as the
/// metric takes its rho from there), `gamma-nloglik` and `gamma-deviance`; any other name is
/// an error naming the parameter and listing the allowed values. The metrics of the
/// regression losses are XGBoost's, of `exp(margin)` for the log-link losses; `mphe` uses
/// `huber_slope`, `quantile` every `quantile_alpha` (the mean pinball loss over rows and
/// alphas).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Metric {
    /// Area under the ROC curve (binary), higher is better.
    #[serde(rename = "auc")]
    Auc,
    /// Mean negative log-likelihood of a binary label.
    #[serde(rename = "logloss")]
    LogLoss,
    /// Root mean squared error.
    #[serde(rename = "rmse")]
    Rmse,
    /// Mean negative log-likelihood of a class label (multiclass).
    #[serde(rename = "mlogloss")]
    MLogLoss,
    /// Fraction of wrong predictions (binary at 0.5, or multiclass arg max).
    #[serde(rename = "error", alias = "merror")]
    Error,
    /// Mean absolute error.
    #[serde(rename = "mae")]
    Mae,
    /// Mean pseudo-Huber error (slope `huber_slope`).
    #[serde(rename = "mphe")]
    Mphe,
    /// Mean pinball loss over the rows and the alphas of `quantile_alpha`.
    #[serde(rename = "quantile")]
    Quantile,
    /// Mean negative Poisson log-likelihood.
    #[serde(rename = "poisson-nloglik")]
    PoissonNLogLik,
    /// Mean negative Tweedie log-likelihood (rho = `tweedie_variance_power`).
    #[serde(rename = "tweedie-nloglik")]
    TweedieNLogLik,
    /// Mean negative gamma log-likelihood (dispersion 1).
    #[serde(rename = "gamma-nloglik")]
    GammaNLogLik,
    /// Gamma deviance (XGBoost's default metric for `reg:gamma`).
    #[serde(rename = "gamma-deviance")]
    GammaDeviance,
}

impl Metric {
    /// Every metric, in the order the allowed values are listed.
    pub const ALL: [Metric; 12] = [
        Metric::Auc,
        Metric::LogLoss,
        Metric::Rmse,
        Metric::MLogLoss,
        Metric::Error,
        Metric::Mae,
        Metric::Mphe,
        Metric::Quantile,
        Metric::PoissonNLogLik,
        Metric::TweedieNLogLik,
        Metric::GammaNLogLik,
        Metric::GammaDeviance,
    ];

    /// The metric used when none is chosen (XGBoost's default for the objective).
    pub fn default_for(objective: Objective) -> Metric {
        match objective {
            Objective::BinaryLogistic => Metric::LogLoss,
            Objective::SquaredError => Metric::Rmse,
            Objective::MultiSoftmax => Metric::MLogLoss,
            Objective::AbsoluteError => Metric::Mae,
            Objective::PseudoHuberError => Metric::Mphe,
            Objective::QuantileError => Metric::Quantile,
            Objective::Poisson => Metric::PoissonNLogLik,
            Objective::Tweedie => Metric::TweedieNLogLik,
            Objective::Gamma => Metric::GammaDeviance,
        }
    }

    /// XGBoost's name.
    pub fn name(&self) -> &'static str {
        match self {
            Metric::Auc => "auc",
            Metric::LogLoss => "logloss",
            Metric::Rmse => "rmse",
            Metric::MLogLoss => "mlogloss",
            Metric::Error => "error",
            Metric::Mae => "mae",
            Metric::Mphe => "mphe",
            Metric::Quantile => "quantile",
            Metric::PoissonNLogLik => "poisson-nloglik",
            Metric::TweedieNLogLik => "tweedie-nloglik",
            Metric::GammaNLogLik => "gamma-nloglik",
            Metric::GammaDeviance => "gamma-deviance",
        }
    }

    /// The name XGBoost reports the metric by: [`Metric::name`], with `@rho` for
    /// `tweedie-nloglik`.
    pub fn report_name(&self, lp: &LossParams) -> String {
        match self {
            Metric::TweedieNLogLik => format!("tweedie-nloglik@{}", lp.tweedie_variance_power),
            m => m.name().to_string(),
        }
    }

    /// True when larger values are better (AUC).
    pub fn higher_is_better(&self) -> bool {
        matches!(self, Metric::Auc)
    }

    /// The metric over the evaluation rows of all workers of `collective` (each passes its
    /// own margins, labels and weights): the rows are gathered on every worker and put in a
    /// canonical order (by margins, label and weight, compared bit by bit) before
    /// [`Metric::evaluate`], so the value is the same bits however the rows are split or
    /// ordered. (Gathering is simple and exact; it moves `(k + 2) * 8` bytes per evaluation
    /// row per round.)
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn evaluate_global(
        &self,
        obj: Objective,
        lp: &LossParams,
        margins: &[f64],
        k: usize,
        labels: &[f64],
        weights: Option<&[f64]>,
        collective: &dyn Collective,
    ) -> Result<f64> {
        let width = k + 2;
        let mut local: Vec<f64> = Vec::with_capacity(labels.len() * width);
        for (i, &y) in labels.iter().enumerate() {
            local.extend_from_slice(&margins[i * k..(i + 1) * k]);
            local.push(y);
            local.push(weights.map_or(1.0, |w| w[i]));
        }
        let all: Vec<f64> = if collective.world_size() == 1 {
            local
        } else {
            let bytes: Vec<u8> = local.iter().flat_map(|v| v.to_le_bytes()).collect();
            let parts = collective.all_gather(&bytes)?;
            let mut all = Vec::with_capacity(parts.iter().map(|p| p.len() / 8).sum());
            for p in parts {
                if p.len() % (8 * width) != 0 {
                    return Err(MlError::data(
                        "evaluation rows received from another worker are malformed",
                    ));
                }
                all.extend(
                    p.chunks_exact(8)
                        .map(|c| f64::from_le_bytes(c.try_into().unwrap_or_default())),
                );
            }
            all
        };
        let rows: Vec<&[f64]> = all.chunks_exact(width).collect();
        let mut order: Vec<usize> = (0..rows.len()).collect();
        order.sort_unstable_by(|&a, &b| {
            rows[a]
                .iter()
                .map(|v| v.to_bits())
                .cmp(rows[b].iter().map(|v| v.to_bits()))
        });
        let mut m = Vec::with_capacity(rows.len() * k);
        let (mut y, mut w) = (
            Vec::with_capacity(rows.len()),
            Vec::with_capacity(rows.len()),
        );
        for &i in &order {
            m.extend_from_slice(&rows[i][..k]);
            y.push(rows[i][k]);
            w.push(rows[i][k + 1]);
        }
        Ok(self.evaluate_with(obj, lp, &m, k, &y, weights.is_some().then_some(&w[..])))
    }

    /// The metric of margins (`n * k`) against labels, weighted when weights are given,
    /// with the losses' default parameters ([`Metric::evaluate_with`]).
    pub fn evaluate(
        &self,
        obj: Objective,
        margins: &[f64],
        k: usize,
        labels: &[f64],
        weights: Option<&[f64]>,
    ) -> f64 {
        self.evaluate_with(obj, &LossParams::default(), margins, k, labels, weights)
    }

    /// The metric of margins (`n * k`) against labels, weighted when weights are given, with
    /// the losses' parameters `lp` (`huber_slope` for `mphe`, `quantile_alpha` for
    /// `quantile`, `tweedie_variance_power` for `tweedie-nloglik`).
    pub fn evaluate_with(
        &self,
        obj: Objective,
        lp: &LossParams,
        margins: &[f64],
        k: usize,
        labels: &[f64],
        weights: Option<&[f64]>,
    ) -> f64 {
        let w = |i: usize| weights.map_or(1.0, |w| w[i]);
        let n = labels.len();
        let wsum: f64 = (0..n).map(w).sum();
        let output = |i: usize| match obj {
            Objective::BinaryLogistic => sigmoid(margins[i]),
            o => o.regression_output(margins[i]),
        };
        // The mean over rows of a per-row value of (prediction, label), as XGBoost's
        // element-wise metrics (in single precision).
        let mean_of = |f: &dyn Fn(f32, f32) -> f32| -> f64 {
            let s: f64 = (0..n)
                .map(|i| w(i) * f(labels[i] as f32, output(i * k) as f32) as f64)
                .sum();
            if wsum == 0.0 {
                s
            } else {
                s / wsum
            }
        };
        match self {
            Metric::Mae => mean_of(&|y, p| (y - p).abs()),
            Metric::Mphe => {
                let s = lp.huber_slope as f32;
                mean_of(&|y, p| {
                    let z = p - y;
                    s * s * ((1.0 + (z / s) * (z / s)).sqrt() - 1.0)
                })
            }
            Metric::PoissonNLogLik => mean_of(&|y, p| {
                let p = p.max(1e-16);
                ln_gamma(y as f64 + 1.0) as f32 + p - p.ln() * y
            }),
            Metric::TweedieNLogLik => {
                let r = lp.tweedie_variance_power as f32;
                mean_of(&|y, p| {
                    let a = y * ((1.0 - r) * p.ln()).exp() / (1.0 - r);
                    let b = ((2.0 - r) * p.ln()).exp() / (2.0 - r);
                    -a + b
                })
            }
            Metric::GammaNLogLik => mean_of(&|y, p| {
                let p = p.max(1e-6);
                let theta = -1.0 / p;
                let b = -(-theta).ln();
                -(y * theta - b)
            }),
            Metric::GammaDeviance => {
                let eps = 1e-6f32;
                let s: f64 = (0..n)
                    .map(|i| {
                        let (y, p) = (labels[i] as f32 + eps, output(i * k) as f32 + eps);
                        w(i) * ((p / y).ln() + y / p - 1.0) as f64
                    })
                    .sum();
                2.0 * s / if wsum <= 0.0 { eps as f64 } else { wsum }
            }
            Metric::Quantile => {
                let (mut s, mut ws) = (0.0f64, 0.0f64);
                for (i, &y) in labels.iter().enumerate() {
                    for j in 0..k {
                        let a = lp.quantile_alpha.get(j).copied().unwrap_or(0.5) as f32;
                        let d = y as f32 - output(i * k + j) as f32;
                        let sign = (d >= 0.0) as i32 as f32;
                        let l = a * sign * d - (1.0 - a) * (1.0 - sign) * d;
                        s += w(i) * l as f64;
                        ws += w(i);
                    }
                }
                s / ws
            }
            Metric::Auc => {
                let scores: Vec<f64> = (0..n)
                    .map(|i| margins[i * k + k.saturating_sub(1)])
                    .collect();
                // NaN when it is undefined (one class only, labels other than 0 and 1).
                roc_auc(&scores, labels, weights).unwrap_or(f64::NAN)
            }
            Metric::LogLoss => {
                let s: f64 = (0..n)
                    .map(|i| {
                        let p = output(i).clamp(1e-15, 1.0 - 1e-15);
                        let y = labels[i];
                        -w(i) * (y * p.ln() + (1.0 - y) * (1.0 - p).ln())
                    })
                    .sum();
                s / wsum
            }
            Metric::Rmse => {
                let s: f64 = (0..n)
                    .map(|i| {
                        let d = output(i) - labels[i];
                        w(i) * d * d
                    })
                    .sum();
                (s / wsum).sqrt()
            }
            Metric::MLogLoss => {
                let s: f64 = (0..n)
                    .map(|i| {
                        let m = &margins[i * k..(i + 1) * k];
                        let mx = m.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                        let z: f64 = m.iter().map(|v| (v - mx).exp()).sum();
                        let p = ((m[labels[i] as usize] - mx).exp() / z).max(1e-15);
                        -w(i) * p.ln()
                    })
                    .sum();
                s / wsum
            }
            Metric::Error => {
                let s: f64 = (0..n)
                    .map(|i| {
                        let pred = if k > 1 {
                            argmax(&margins[i * k..(i + 1) * k]) as f64
                        } else if output(i) > 0.5 {
                            1.0
                        } else {
                            0.0
                        };
                        if pred != labels[i] {
                            w(i)
                        } else {
                            0.0
                        }
                    })
                    .sum();
                s / wsum
            }
        }
    }
}

/// `ln Γ(x)` for `x > 0` (Lanczos, g = 7, nine terms; about 1e-15 relative).
fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = G[0];
    let t = x + 7.5;
    for (i, g) in G.iter().enumerate().skip(1) {
        a += g / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

impl FromStr for Metric {
    type Err = MlError;

    fn from_str(name: &str) -> Result<Metric> {
        if name == "merror" {
            return Ok(Metric::Error);
        }
        if let Some(rho) = name.strip_prefix("tweedie-nloglik@") {
            return match rho.parse::<f64>() {
                Ok(r) if (1.0..2.0).contains(&r) => Ok(Metric::TweedieNLogLik),
                _ => Err(MlError::param(
                    "eval_metric",
                    format!("'{name}': rho must be a number in [1, 2)"),
                )),
            };
        }
        Metric::ALL
            .into_iter()
            .find(|m| m.name() == name)
            .ok_or_else(|| unsupported_value("eval_metric", name, &Metric::ALL.map(|m| m.name())))
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl ParamType for Metric {
    fn to_param(&self) -> ParamValue {
        ParamValue::Str(self.name().into())
    }
    fn from_param(param: &str, value: ParamValue) -> Result<Self> {
        enum_from_param(param, value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_is_the_shared_weighted_roc_auc_of_the_last_margin() {
        // Pairs (pos, neg): (0.9 vs 0.1) win, (0.9 vs 0.5) win, (0.5 vs 0.1) win,
        // (0.5 vs 0.5) tie -> (3 + 0.5) / 4.
        let m = [0.1, 0.5, 0.5, 0.9];
        let y = [0.0, 0.0, 1.0, 1.0];
        let auc = |w: Option<&[f64]>| Metric::Auc.evaluate(Objective::BinaryLogistic, &m, 1, &y, w);
        assert_eq!(auc(None), 0.875);
        // Weight 2 on the first negative: wins 2 + 1 + 2, tie 0.5 -> 5.5 / (2 * 3).
        assert!((auc(Some(&[2.0, 1.0, 1.0, 1.0])) - 5.5 / 6.0).abs() < 1e-15);
        // One class only: undefined.
        let one = Metric::Auc.evaluate(Objective::BinaryLogistic, &m, 1, &[1.0; 4], None);
        assert!(one.is_nan());
    }

    #[test]
    fn names_parse_and_unknown_names_are_errors_listing_the_allowed_ones() {
        for m in Metric::ALL {
            assert_eq!(m.name().parse::<Metric>().unwrap(), m);
            let json = serde_json::to_string(&m).unwrap();
            assert_eq!(json, format!("\"{}\"", m.name()));
        }
        assert_eq!("merror".parse::<Metric>().unwrap(), Metric::Error);
        let msg = "ndcg".parse::<Metric>().unwrap_err().to_string();
        assert!(
            msg.contains("'eval_metric'") && msg.contains("ndcg"),
            "{msg}"
        );
        assert!(
            msg.contains("auc, logloss, rmse, mlogloss, error, mae"),
            "{msg}"
        );
    }

    #[test]
    fn regression_metrics_follow_xgboost_definitions() {
        let lp = LossParams {
            quantile_alpha: vec![0.2, 0.8],
            ..LossParams::default()
        };
        let y = [1.0, 3.0];
        let e = |m: Metric, obj: Objective, margins: &[f64], k: usize| {
            m.evaluate_with(obj, &lp, margins, k, &y, None)
        };
        assert!((e(Metric::Mae, Objective::AbsoluteError, &[2.0, 2.0], 1) - 1.0).abs() < 1e-7);
        // Pinball: row 0 under-predicts at both alphas (y - p = 1), row 1 over (y - p = -1).
        let q = e(
            Metric::Quantile,
            Objective::QuantileError,
            &[0.0, 0.0, 4.0, 4.0],
            2,
        );
        assert!((q - (0.2 + 0.8 + 0.8 + 0.2) / 4.0).abs() < 1e-7, "{q}");
        // Poisson at the mean 1 for label 1: 1 - 0 + ln 1! = 1; for label 3: 1 + ln 3! .
        let p = e(Metric::PoissonNLogLik, Objective::Poisson, &[0.0, 0.0], 1);
        assert!((p - (1.0 + 1.0 + 6f64.ln()) / 2.0).abs() < 1e-6, "{p}");
        assert!((ln_gamma(5.0) - 24f64.ln()).abs() < 1e-12);
        let g = e(
            Metric::GammaDeviance,
            Objective::Gamma,
            &[0.0, 3f64.ln()],
            1,
        );
        assert!(g.abs() < 1e-5, "{g}");
        assert_eq!(
            "tweedie-nloglik@1.2".parse::<Metric>().unwrap(),
            Metric::TweedieNLogLik
        );
        assert!("tweedie-nloglik@2.5".parse::<Metric>().is_err());
    }
}
