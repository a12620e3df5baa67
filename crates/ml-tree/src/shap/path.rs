//! The recursive TreeSHAP algorithm (Lundberg et al. 2018, Algorithm 2), with XGBoost's
//! option of conditioning on one feature being always known (`condition = 1`) or never known
//! (`condition = -1`), which the interaction values use.
//!
//! The walk keeps, for the path from the root to the current node, one element per distinct
//! feature seen: the fraction of the cover that follows the path when the feature is unknown
//! (`zero`), whether the row follows it when known (`one`, 0 or 1), and the permutation weights
//! (`weight`, positional: element `i`'s weight is the share of orderings with `i` known
//! features). A leaf adds, for each feature on the path, its Shapley weight (the weights with
//! that feature taken back out) times `one - zero` times the leaf value.

use super::{ShapTree, LEAF};

/// One element of the path (see the module docs).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct PathElement {
    feature: u32,
    zero: f64,
    one: f64,
    weight: f64,
}

/// Feature of the path's first element, which stands for no feature.
const NO_FEATURE: u32 = u32::MAX;

/// Path scratch needed for a tree of depth `depth` with at most `features` distinct features
/// on a path: one copy of the path per level.
pub(super) fn buffer_len(depth: usize, features: usize) -> usize {
    (depth + 2) * (features.min(depth) + 2)
}

/// Adds one element to the path of `len` elements.
fn extend(path: &mut [PathElement], len: usize, zero: f64, one: f64, feature: u32) {
    path[len] = PathElement {
        feature,
        zero,
        one,
        weight: if len == 0 { 1.0 } else { 0.0 },
    };
    let total = (len + 1) as f64;
    for i in (0..len).rev() {
        path[i + 1].weight += one * path[i].weight * (i + 1) as f64 / total;
        path[i].weight = zero * path[i].weight * (len - i) as f64 / total;
    }
}

/// Removes element `at` from the path of `len` elements (undoing its [`extend`]).
fn unwind(path: &mut [PathElement], len: usize, at: usize) {
    let last = len - 1;
    let (zero, one) = (path[at].zero, path[at].one);
    let total = len as f64;
    let mut carry = path[last].weight;
    for i in (0..last).rev() {
        if one != 0.0 {
            let w = path[i].weight;
            path[i].weight = carry * total / ((i + 1) as f64 * one);
            carry = w - path[i].weight * zero * (last - i) as f64 / total;
        } else {
            path[i].weight = path[i].weight * total / (zero * (last - i) as f64);
        }
    }
    for i in at..last {
        path[i].feature = path[i + 1].feature;
        path[i].zero = path[i + 1].zero;
        path[i].one = path[i + 1].one;
    }
}

/// The total weight of the path of `len` elements with element `at` taken out.
fn unwound_sum(path: &[PathElement], len: usize, at: usize) -> f64 {
    let last = len - 1;
    let (zero, one) = (path[at].zero, path[at].one);
    let total = len as f64;
    let mut carry = path[last].weight;
    let mut sum = 0.0;
    for i in (0..last).rev() {
        if one != 0.0 {
            let w = carry * total / ((i + 1) as f64 * one);
            sum += w;
            carry = path[i].weight - w * zero * (last - i) as f64 / total;
        } else if zero != 0.0 {
            sum += path[i].weight * total / (zero * (last - i) as f64);
        }
    }
    sum
}

/// Adds tree `t`'s SHAP values for `row` to `phi` (one value per feature; the bias is not
/// touched). `condition` 0 computes plain contributions; 1 (-1) the contributions with
/// feature `condition_feature` always (never) known, which it then gets none of. `path` is
/// scratch of at least [`buffer_len`] elements for the tree.
pub(super) fn add_tree(
    t: &ShapTree,
    row: &[f64],
    phi: &mut [f64],
    path: &mut [PathElement],
    condition: i8,
    condition_feature: u32,
) {
    let mut walk = Walk {
        tree: t,
        row,
        phi,
        path,
        condition,
        condition_feature,
    };
    walk.visit(0, 0, 0, 0, 1.0, 1.0, NO_FEATURE, 1.0);
}

struct Walk<'a> {
    tree: &'a ShapTree,
    row: &'a [f64],
    phi: &'a mut [f64],
    path: &'a mut [PathElement],
    condition: i8,
    condition_feature: u32,
}

impl Walk<'_> {
    /// Visits `node`, reached through a split on `feature` that the row follows when the
    /// feature is known (`one`) and that keeps `zero` of the cover when it is not. The parent's
    /// path is `path[from..from + len]`; this node's copy goes to `at..`. `weight` is the share
    /// of the walk that the condition lets through.
    #[allow(clippy::too_many_arguments)]
    fn visit(
        &mut self,
        node: usize,
        from: usize,
        mut len: usize,
        at: usize,
        zero: f64,
        one: f64,
        feature: u32,
        weight: f64,
    ) {
        if weight == 0.0 {
            return;
        }
        let conditioned = self.condition != 0 && feature == self.condition_feature;
        if !conditioned && zero == 0.0 && one == 0.0 {
            // Neither known nor unknown reaches this subtree: every weight below is zero.
            return;
        }
        self.path.copy_within(from..from + len, at);
        if !conditioned {
            extend(&mut self.path[at..], len, zero, one, feature);
            len += 1;
        }
        let n = &self.tree.nodes[node];
        if n.feature == LEAF {
            let path = &self.path[at..at + len];
            for i in 1..len {
                let w = unwound_sum(path, len, i);
                let e = path[i];
                self.phi[e.feature as usize] += w * (e.one - e.zero) * n.value * weight;
            }
            return;
        }
        let left = self.tree.goes_left(node, self.row);
        let (hot, cold, hot_zero, cold_zero) = if left {
            (n.left, n.right, n.left_fraction, n.right_fraction)
        } else {
            (n.right, n.left, n.right_fraction, n.left_fraction)
        };
        // A feature already on the path is taken out and comes back with both splits' fractions.
        let (mut in_zero, mut in_one) = (1.0, 1.0);
        let next = at + len;
        if let Some(k) = (1..len).find(|&k| self.path[at + k].feature == n.feature) {
            in_zero = self.path[at + k].zero;
            in_one = self.path[at + k].one;
            unwind(&mut self.path[at..], len, k);
            len -= 1;
        }
        let (mut hot_weight, mut cold_weight) = (weight, weight);
        if self.condition != 0 && n.feature == self.condition_feature {
            if self.condition > 0 {
                cold_weight = 0.0;
            } else {
                hot_weight *= hot_zero;
                cold_weight *= cold_zero;
            }
        }
        let f = n.feature;
        self.visit(
            hot as usize,
            at,
            len,
            next,
            hot_zero * in_zero,
            in_one,
            f,
            hot_weight,
        );
        self.visit(
            cold as usize,
            at,
            len,
            next,
            cold_zero * in_zero,
            0.0,
            f,
            cold_weight,
        );
    }
}
