//! Fitting several variants of one estimator on the same rows at once, what tuning does
//! ([`ml_core::Estimator::fit_multiple`], Spark's `fitMultiple`):
//!
//! - **Shared bins.** Variants that agree on what binning depends on (the feature, label and
//!   weight columns, `max_bin`, and whether rows are subsampled) check, gather and bin the
//!   rows once; the cut points depend on the rows alone, never on the other parameters.
//! - **Staged rounds.** Variants that differ only in `num_round` are boosted once, at the
//!   largest count: the first `n` rounds of a longer run are the trees an `n`-round run grows
//!   (a round never looks at the number of rounds), so each variant's model is the longer
//!   model cut after its own `n` rounds. Not with early stopping or a round callback, whose
//!   effect depends on the rounds that follow.
//!
//! Every model is the same bytes as the variant's own [`Estimator::fit`] (tests in
//! `tests/fit_multiple.rs`).

use ml_core::{Dataset, Estimator, ParamValue, Params, Result};
use ml_dist::{Collective, LocalCollective};

use crate::boost::Checked;
use crate::gather::{BatchRows, Gathered};
use crate::model::GradientBoostedTreesModel;
use crate::params::GradientBoostedTrees;

impl GradientBoostedTrees {
    /// What the checked and binned rows depend on: variants with equal keys share them.
    fn binning_key(&self) -> (Vec<Option<String>>, usize, bool) {
        (
            vec![
                Some(self.features_col.clone()),
                Some(self.label_col.clone()),
                self.weight_col.clone(),
                self.base_margin_col.clone(),
            ],
            self.max_bin,
            self.subsample < 1.0,
        )
    }

    /// Every parameter but the number of rounds and of threads: variants with equal keys
    /// grow the same trees round by round.
    fn rounds_key(&self) -> Vec<(String, ParamValue)> {
        self.param_values()
            .into_iter()
            .filter(|(name, _)| name != "num_round" && name != "n_threads")
            .collect()
    }

    /// Whether a model of fewer rounds can be cut from a longer run: not with early stopping
    /// or a round callback (both act on the rounds that follow), nor when training continues
    /// from a model or runs a custom objective (kept simple: each such variant boosts alone).
    fn stageable(&self) -> bool {
        self.early_stopping_rounds.is_none()
            && self.callback().is_none()
            && self.xgb_model().is_none()
            && self.custom_objective().is_none()
    }

    /// [`Estimator::fit_multiple`] for boosted trees: shared bins and staged rounds (see the
    /// module docs). `variants` are copies of one estimator whose parameters differ (through
    /// [`Params::set_param`] or the public fields); their evaluation sets and callbacks are
    /// taken to be the same.
    pub(crate) fn fit_variants(
        &self,
        data: &Dataset,
        variants: &[GradientBoostedTrees],
    ) -> Result<Vec<GradientBoostedTreesModel>> {
        let mut models: Vec<Option<GradientBoostedTreesModel>> = vec![None; variants.len()];
        for group in groups_by(variants, (0..variants.len()).collect(), |v| v.binning_key()) {
            let lead = &variants[group[0]];
            let schema = data.schema();
            for &v in &group {
                // Parameter and column errors first, as the variant's own fit reports them.
                Estimator::transform_schema(&variants[v], &schema)?;
            }
            let fitted =
                ml_core::threads::install(lead.n_threads, || fit_group(variants, &group, data))??;
            for (v, m) in group.iter().zip(fitted) {
                models[*v] = Some(m);
            }
        }
        Ok(models.into_iter().flatten().collect())
    }
}

/// The variants of one binning group (indices into `variants`), in their order: the rows
/// gathered and binned once, then one boosting run per rounds group.
fn fit_group(
    variants: &[GradientBoostedTrees],
    group: &[usize],
    data: &Dataset,
) -> Result<Vec<GradientBoostedTreesModel>> {
    let lead = &variants[group[0]];
    let c = &LocalCollective;
    let (t, eval, cats, names) = lead.checked_inputs(data, false)?;
    for &v in group {
        variants[v].check_early_stopping(eval.is_some())?;
    }
    let gathered = Gathered::in_memory(
        &BatchRows {
            x: t.x.view(),
            y: &t.y,
            w: t.w.as_deref(),
        },
        lead.subsample < 1.0,
        &cats,
        lead.max_bin,
        c.world_size(),
    )?;
    let start = lead.start_margins(data, &t, 0)?;
    let eval_start = match (lead.eval_set(), &eval) {
        (Some(e), Some(ev)) => lead.start_margins(e, ev, 0)?,
        _ => None,
    };
    let checked = Checked {
        gathered,
        eval,
        cats,
        names,
        start,
        eval_start,
    };
    let prepared = lead.prepare(
        checked,
        |mapper, compact| Ok(mapper.transform_with_layout(t.x.view(), compact)),
        c,
    )?;
    drop(t);
    let mut out: Vec<Option<GradientBoostedTreesModel>> = vec![None; group.len()];
    let positions: Vec<usize> = (0..group.len()).collect();
    for staged in groups_by(group, positions, |v| variants[*v].rounds_key()) {
        let first = &variants[group[staged[0]]];
        if staged.len() == 1 || !first.stageable() {
            for &p in &staged {
                out[p] = Some(variants[group[p]].boost(&prepared, c)?.0);
            }
            continue;
        }
        let most = staged
            .iter()
            .map(|&p| variants[group[p]].num_round)
            .max()
            .unwrap_or(first.num_round);
        let mut longest = first.clone();
        longest.num_round = most;
        let (full, _) = longest.boost(&prepared, c)?;
        for &p in &staged {
            out[p] = Some(full.first_rounds(&variants[group[p]]));
        }
    }
    Ok(out.into_iter().flatten().collect())
}

/// Splits `members` (with `items[i]` the item of member `i`'s position) into groups of equal
/// keys, each group and the groups in order of first appearance.
fn groups_by<T, K: PartialEq>(
    items: &[T],
    members: Vec<usize>,
    key: impl Fn(&T) -> K,
) -> Vec<Vec<usize>> {
    let mut keys: Vec<K> = Vec::new();
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for m in members {
        let k = key(&items[m]);
        match keys.iter().position(|g| *g == k) {
            Some(i) => groups[i].push(m),
            None => {
                keys.push(k);
                groups.push(vec![m]);
            }
        }
    }
    groups
}

impl GradientBoostedTreesModel {
    /// The model `variant` grows: this (longer) run's trees of its first
    /// `variant.num_round` rounds, with the variant's output columns.
    fn first_rounds(&self, variant: &GradientBoostedTrees) -> GradientBoostedTreesModel {
        let mut m = self.clone();
        m.trees.truncate(variant.num_round * m.num_class.max(1));
        m.params = variant.model_params();
        m.best_iteration = None;
        m.forest = Default::default();
        m
    }
}
