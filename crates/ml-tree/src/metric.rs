//! Evaluation metrics of margins against labels (per-round figures and early stopping).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use ml_core::metrics::roc_auc;
use ml_core::params::{unsupported_value, ParamType, ParamValue};
use ml_core::{MlError, Result};
use ml_dist::Collective;

use crate::objective::{argmax, sigmoid, Objective};
use crate::params::enum_from_param;

/// An evaluation metric, by XGBoost's name (parameter `eval_metric`).
///
/// Parses ([`FromStr`]) from `auc`, `logloss`, `rmse`, `mlogloss` and `error` (`merror` is
/// read as `error`); any other name is an error naming the parameter and listing the allowed
/// values.
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
}

impl Metric {
    /// Every metric, in the order the allowed values are listed.
    pub const ALL: [Metric; 5] = [
        Metric::Auc,
        Metric::LogLoss,
        Metric::Rmse,
        Metric::MLogLoss,
        Metric::Error,
    ];

    /// The metric used when none is chosen (XGBoost's default for the objective).
    pub fn default_for(objective: Objective) -> Metric {
        match objective {
            Objective::BinaryLogistic => Metric::LogLoss,
            Objective::SquaredError => Metric::Rmse,
            Objective::MultiSoftmax => Metric::MLogLoss,
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
    pub(crate) fn evaluate_global(
        &self,
        obj: Objective,
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
        Ok(self.evaluate(obj, &m, k, &y, weights.is_some().then_some(&w[..])))
    }

    /// The metric of margins (`n * k`) against labels, weighted when weights are given.
    pub fn evaluate(
        &self,
        obj: Objective,
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
            _ => margins[i],
        };
        match self {
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

impl FromStr for Metric {
    type Err = MlError;

    fn from_str(name: &str) -> Result<Metric> {
        if name == "merror" {
            return Ok(Metric::Error);
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
        assert!(msg.contains("auc, logloss, rmse, mlogloss, error"), "{msg}");
    }
}
