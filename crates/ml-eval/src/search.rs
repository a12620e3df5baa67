//! Search beyond grids: [`RandomSearch`] draws parameter maps from distributions (scikit-learn's
//! `RandomizedSearchCV` with a [`CrossValidator`] to judge them), and [`SuccessiveHalving`]
//! spends a budget (boosting rounds, say) on many maps and more of it on the best
//! (scikit-learn's `HalvingGridSearchCV` / `HalvingRandomSearchCV`).
//!
//! Both are deterministic for a seed at any thread count: the maps are drawn up front from
//! the seed alone, and each rung's metrics do not depend on the `parallelism`.

use ml_core::dataset::unit_uniform;
use ml_core::{Dataset, MlError, ParamValue, Result};

use crate::tuning::{CrossValidator, CrossValidatorModel, ParamMap};

/// How one parameter's values are drawn.
#[derive(Debug, Clone, PartialEq)]
pub enum Distribution {
    /// A float uniform in `[low, high)`.
    Uniform {
        /// Lower bound.
        low: f64,
        /// Upper bound (exclusive).
        high: f64,
    },
    /// A float whose logarithm is uniform: `low * (high / low)^u`, `0 < low < high`.
    LogUniform {
        /// Lower bound (> 0).
        low: f64,
        /// Upper bound (exclusive).
        high: f64,
    },
    /// An integer uniform in `[low, high]` (both included).
    IntUniform {
        /// Lower bound.
        low: i64,
        /// Upper bound (included).
        high: i64,
    },
    /// One of the values, each as likely.
    Choice(Vec<ParamValue>),
}

impl Distribution {
    /// Checks the bounds; the error names the parameter.
    fn check(&self, name: &str) -> Result<()> {
        let bad = |msg: String| Err(MlError::param(name, msg));
        match self {
            Distribution::Uniform { low, high } if !(low.is_finite() && high > low) => {
                bad(format!("uniform({low}, {high}) needs finite low < high"))
            }
            Distribution::LogUniform { low, high }
                if !(*low > 0.0 && high > low && high.is_finite()) =>
            {
                bad(format!("log_uniform({low}, {high}) needs 0 < low < high"))
            }
            Distribution::IntUniform { low, high } if high < low => {
                bad(format!("int_uniform({low}, {high}) needs low <= high"))
            }
            Distribution::Choice(v) if v.is_empty() => bad("choice of no values".into()),
            _ => Ok(()),
        }
    }

    /// The value for the uniform number `u` in `[0, 1)`.
    fn draw(&self, u: f64) -> ParamValue {
        match self {
            Distribution::Uniform { low, high } => ParamValue::Float(low + (high - low) * u),
            Distribution::LogUniform { low, high } => {
                ParamValue::Float((low.ln() + (high.ln() - low.ln()) * u).exp())
            }
            Distribution::IntUniform { low, high } => {
                let span = (high - low) as f64 + 1.0;
                ParamValue::Int(low + ((u * span) as i64).min(high - low))
            }
            Distribution::Choice(values) => {
                values[((u * values.len() as f64) as usize).min(values.len() - 1)].clone()
            }
        }
    }
}

/// Parameter maps drawn at random from distributions, for a [`CrossValidator`] or
/// [`SuccessiveHalving`] to judge.
///
/// ```
/// use ml_eval::RandomSearch;
/// let maps = RandomSearch::new()
///     .log_uniform("eta", 0.01, 1.0)
///     .int_uniform("max_depth", 2, 8)
///     .choice("grow_policy", ["depthwise", "lossguide"])
///     .base_on("num_round", 50i64)
///     .build(20, 7)
///     .unwrap();
/// assert_eq!(maps.len(), 20);
/// assert_eq!(maps, RandomSearch::new()
///     .log_uniform("eta", 0.01, 1.0)
///     .int_uniform("max_depth", 2, 8)
///     .choice("grow_policy", ["depthwise", "lossguide"])
///     .base_on("num_round", 50i64)
///     .build(20, 7)
///     .unwrap());
/// ```
#[derive(Debug, Clone, Default)]
pub struct RandomSearch {
    base: ParamMap,
    params: Vec<(String, Distribution)>,
}

impl RandomSearch {
    /// No parameters yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Draws `name` from `dist` (replacing an earlier distribution of the same name).
    pub fn add(mut self, name: &str, dist: Distribution) -> Self {
        match self.params.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = dist,
            None => self.params.push((name.to_string(), dist)),
        }
        self
    }

    /// A float uniform in `[low, high)`.
    pub fn uniform(self, name: &str, low: f64, high: f64) -> Self {
        self.add(name, Distribution::Uniform { low, high })
    }

    /// A float log-uniform in `[low, high)` (learning rates, penalties).
    pub fn log_uniform(self, name: &str, low: f64, high: f64) -> Self {
        self.add(name, Distribution::LogUniform { low, high })
    }

    /// An integer uniform in `[low, high]`.
    pub fn int_uniform(self, name: &str, low: i64, high: i64) -> Self {
        self.add(name, Distribution::IntUniform { low, high })
    }

    /// One of `values`, each as likely.
    pub fn choice<V: Into<ParamValue>>(
        self,
        name: &str,
        values: impl IntoIterator<Item = V>,
    ) -> Self {
        self.add(
            name,
            Distribution::Choice(values.into_iter().map(Into::into).collect()),
        )
    }

    /// Fixes a parameter to one value in every map.
    pub fn base_on(mut self, name: &str, value: impl Into<ParamValue>) -> Self {
        self.base = self.base.put(name, value);
        self
    }

    /// `n` maps; map `i`'s parameter `p` is drawn from `unit_uniform(seed, i * P + p)` (`P`
    /// parameters), so the maps depend on the seed and the order of the parameters only.
    pub fn build(&self, n: usize, seed: u64) -> Result<Vec<ParamMap>> {
        for (name, d) in &self.params {
            d.check(name)?;
        }
        let p = self.params.len() as u64;
        Ok((0..n as u64)
            .map(|i| {
                let mut m = self.base.clone();
                for (j, (name, d)) in self.params.iter().enumerate() {
                    m = m.put(name, d.draw(unit_uniform(seed, i * p + j as u64)));
                }
                m
            })
            .collect())
    }
}

/// One rung of successive halving: the budget, the maps tried (indices into the original
/// maps) and their mean metric over the folds.
#[derive(Debug, Clone, PartialEq)]
pub struct Rung {
    /// The budget every map of this rung was given (the value of the resource parameter).
    pub resource: i64,
    /// The maps tried, as indices into the original maps.
    pub candidates: Vec<usize>,
    /// Mean metric over the folds, per candidate.
    pub avg_metrics: Vec<f64>,
}

/// The outcome of [`SuccessiveHalving::fit`]: the rungs and the final cross-validation
/// (whose best model is refitted on all the data).
pub struct HalvingModel {
    /// Every rung, the last one included.
    pub rungs: Vec<Rung>,
    /// The last rung's cross-validation, with its best map refitted on all the data.
    pub cv_model: CrossValidatorModel,
    /// Index of the best map among the original maps.
    pub best_index: usize,
}

impl std::fmt::Debug for HalvingModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HalvingModel")
            .field("rungs", &self.rungs)
            .field("best_index", &self.best_index)
            .finish()
    }
}

/// Successive halving over the maps of a [`CrossValidator`]: every map is cross-validated
/// with a small budget (`min_resource` of the `resource` parameter, such as `num_round`);
/// the best `1 / factor` of them go on with `factor` times the budget, until one map is left
/// or the budget reaches `max_resource`; the last rung's best map is refitted on all the
/// data. With boosted trees and `resource = "num_round"`, each rung's fits share their bins
/// and the maps' rounds are staged ([`ml_core::Estimator::fit_multiple`]).
#[derive(Clone)]
pub struct SuccessiveHalving {
    cv: CrossValidator,
    resource: String,
    min_resource: i64,
    max_resource: i64,
    factor: usize,
}

impl SuccessiveHalving {
    /// Halving over `cv`'s maps (its estimator, evaluator, folds and parallelism), with the
    /// budget in parameter `resource` growing from `min_resource` to `max_resource`, and
    /// scikit-learn's default factor of 3.
    pub fn new(cv: CrossValidator, resource: &str, min_resource: i64, max_resource: i64) -> Self {
        SuccessiveHalving {
            cv,
            resource: resource.to_string(),
            min_resource,
            max_resource,
            factor: 3,
        }
    }

    /// Keeps the best `1 / factor` of the maps at each rung and multiplies the budget by
    /// `factor` (>= 2).
    pub fn with_factor(mut self, factor: usize) -> Self {
        self.factor = factor;
        self
    }

    fn check(&self) -> Result<()> {
        if self.factor < 2 {
            return Err(MlError::param(
                "factor",
                format!("must be at least 2, got {}", self.factor),
            ));
        }
        if !(1..=self.max_resource).contains(&self.min_resource) {
            return Err(MlError::param(
                "min_resource",
                format!(
                    "must be in [1, max_resource = {}], got {}",
                    self.max_resource, self.min_resource
                ),
            ));
        }
        Ok(())
    }

    /// Runs the rungs and refits the winner on all of `data`.
    pub fn fit(&self, data: &Dataset) -> Result<HalvingModel> {
        self.check()?;
        let maps = self.cv.get_estimator_param_maps().to_vec();
        let larger_is_better = self.cv.evaluator().is_larger_better();
        let mut candidates: Vec<usize> = (0..maps.len()).collect();
        let mut resource = self.min_resource;
        let mut rungs = Vec::new();
        loop {
            let rung_maps: Vec<ParamMap> = candidates
                .iter()
                .map(|&i| maps[i].clone().put(&self.resource, resource))
                .collect();
            let cv = self.cv.clone().with_estimator_param_maps(rung_maps);
            if candidates.len() == 1 || resource == self.max_resource {
                let cv_model = cv.fit(data)?;
                rungs.push(Rung {
                    resource,
                    candidates: candidates.clone(),
                    avg_metrics: cv_model.avg_metrics().to_vec(),
                });
                let best_index = candidates[cv_model.best_index()];
                return Ok(HalvingModel {
                    rungs,
                    cv_model,
                    best_index,
                });
            }
            let avg = cv.avg_metrics_of(data)?;
            // Best first; ties keep the earlier map.
            let mut order: Vec<usize> = (0..candidates.len()).collect();
            order.sort_by(|&a, &b| {
                let c = avg[a].total_cmp(&avg[b]);
                (if larger_is_better { c.reverse() } else { c }).then(a.cmp(&b))
            });
            let keep = candidates.len().div_ceil(self.factor);
            let mut next: Vec<usize> = order[..keep].iter().map(|&j| candidates[j]).collect();
            next.sort_unstable();
            rungs.push(Rung {
                resource,
                candidates: std::mem::replace(&mut candidates, next),
                avg_metrics: avg,
            });
            resource = resource
                .saturating_mul(self.factor as i64)
                .min(self.max_resource);
        }
    }
}
