//! Quantiles for the losses with adaptive leaves (`reg:absoluteerror`,
//! `reg:quantileerror`): the base score (the labels' weighted median or alpha-quantile) and,
//! after each tree is grown, every leaf's value replaced by `eta` times the quantile of the
//! residuals `y - margin` of its rows (XGBoost's `UpdateTreeLeaf`). A leaf no row reaches
//! keeps its Newton value.
//!
//! The quantile is XGBoost's: without weights, linear interpolation between order statistics
//! at `alpha (n + 1)`; with weights, the first value whose cumulative weight reaches `alpha`
//! times the total. Values and weights are single precision, as XGBoost's.
//!
//! With several workers the values are gathered on every worker (`(leaf, value, weight)`, 12
//! bytes per row per tree) and put in a canonical order before the quantile, so the result is
//! exactly the one-worker result whatever the split of rows (XGBoost instead averages the
//! workers' local quantiles, which depends on the split). This costs one all-gather of all
//! rows per tree on top of the histograms' all-reduces.

use ml_core::{MlError, Result};
use ml_dist::Collective;

/// XGBoost's quantile of `values` (with `weights` when given), NaN when there are none.
/// `values` and `weights` are reordered.
pub(crate) fn quantile(alpha: f64, items: &mut [(f32, f32)], weighted: bool) -> f32 {
    let n = items.len();
    if n == 0 {
        return f32::NAN;
    }
    items.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    if !weighted {
        let nf = n as f64;
        if alpha <= 1.0 / (nf + 1.0) {
            return items[0].0;
        }
        if alpha >= nf / (nf + 1.0) {
            return items[n - 1].0;
        }
        let x = alpha * (nf + 1.0);
        let k = x.floor() - 1.0;
        let d = (x - 1.0) - k;
        let k = k as usize;
        let (v0, v1) = (items[k].0, items[k + 1].0);
        return (v0 as f64 + d * (v1 - v0) as f64) as f32;
    }
    let mut cdf = Vec::with_capacity(n);
    let mut acc = 0.0f32;
    for &(_, w) in items.iter() {
        acc += w;
        cdf.push(acc);
    }
    let thresh = (acc as f64 * alpha) as f32;
    let idx = cdf.partition_point(|&c| c < thresh).min(n - 1);
    items[idx].0
}

/// `(group, value, weight)` items of every worker, in a canonical order on each worker.
pub(crate) fn gather_items(
    local: Vec<(u32, f32, f32)>,
    c: &dyn Collective,
) -> Result<Vec<(u32, f32, f32)>> {
    if c.world_size() == 1 {
        return Ok(local);
    }
    let mut bytes = Vec::with_capacity(local.len() * 12);
    for (g, v, w) in &local {
        bytes.extend_from_slice(&g.to_le_bytes());
        bytes.extend_from_slice(&v.to_le_bytes());
        bytes.extend_from_slice(&w.to_le_bytes());
    }
    let parts = c.all_gather(&bytes)?;
    let mut all = Vec::with_capacity(parts.iter().map(|p| p.len() / 12).sum());
    for p in parts {
        if p.len() % 12 != 0 {
            return Err(MlError::data(
                "quantile values received from another worker are malformed",
            ));
        }
        for ch in p.chunks_exact(12) {
            let b = |i: usize| [ch[i], ch[i + 1], ch[i + 2], ch[i + 3]];
            all.push((
                u32::from_le_bytes(b(0)),
                f32::from_le_bytes(b(4)),
                f32::from_le_bytes(b(8)),
            ));
        }
    }
    Ok(all)
}

/// Per group `0..n_groups`, the alpha-quantile of the items' values (NaN for a group
/// without items), over the items of all workers.
pub(crate) fn group_quantiles(
    local: Vec<(u32, f32, f32)>,
    n_groups: usize,
    alpha: f64,
    weighted: bool,
    c: &dyn Collective,
) -> Result<Vec<f32>> {
    let all = gather_items(local, c)?;
    let mut groups: Vec<Vec<(f32, f32)>> = vec![Vec::new(); n_groups];
    for (g, v, w) in all {
        let g = g as usize;
        if g >= n_groups {
            return Err(MlError::data("a row's leaf is not a node of the tree"));
        }
        groups[g].push((v, w));
    }
    use rayon::prelude::*;
    Ok(groups
        .par_iter_mut()
        .map(|items| quantile(alpha, items, weighted))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(alpha: f64, v: &[f32], w: Option<&[f32]>) -> f32 {
        let mut items: Vec<(f32, f32)> = v
            .iter()
            .enumerate()
            .map(|(i, &x)| (x, w.map_or(1.0, |w| w[i])))
            .collect();
        quantile(alpha, &mut items, w.is_some())
    }

    #[test]
    fn unweighted_quantiles_interpolate_as_xgboost() {
        let v = [3.0, 1.0, 4.0, 2.0];
        // n = 4: alpha 0.5 -> x = 2.5, between the 2nd and 3rd values.
        assert_eq!(q(0.5, &v, None), 2.5);
        assert_eq!(q(0.1, &v, None), 1.0);
        assert_eq!(q(0.9, &v, None), 4.0);
        assert_eq!(q(0.5, &[7.0, 1.0, 3.0], None), 3.0);
        assert!(q(0.5, &[], None).is_nan());
    }

    #[test]
    fn weighted_quantiles_take_the_first_value_reaching_the_weight() {
        let v = [1.0, 2.0, 3.0];
        assert_eq!(q(0.5, &v, Some(&[1.0, 1.0, 4.0])), 3.0);
        assert_eq!(q(0.5, &v, Some(&[4.0, 1.0, 1.0])), 1.0);
        assert_eq!(q(0.5, &v, Some(&[1.0, 1.0, 1.0])), 2.0);
    }
}
