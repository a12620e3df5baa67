//! TreeSHAP: exact SHAP values of a tree ensemble's margin (Lundberg, Erion and Lee, "Consistent
//! individualized feature attribution for tree ensembles", 2018), as XGBoost's
//! `predict(..., pred_contribs=True)` and `pred_interactions=True` compute them.
//!
//! The value of a set `S` of features for a row is the "path-dependent" conditional expectation
//! of a tree's output: walk the tree from the root; at a split on a feature in `S` follow the
//! row, at any other split take both children weighted by their share of the node's cover (the
//! training rows' hessian sum, [`Node::cover`](crate::tree::Node::cover)). A row's
//! contribution of feature `i` is the Shapley value of `i` in that game, summed over the trees
//! of an output group; the bias is the value of the empty set (the cover-weighted mean leaf
//! value) plus the model's base margin, so a row's contributions and bias add up to its margin.
//! Missing values and unknown category codes follow the split's default direction, exactly as
//! prediction does; categorical (subset) splits are handled like numeric ones.
//!
//! Two exact algorithms compute the same numbers:
//! * leaf tables ([`table`]): a leaf's term in the game is a product over the distinct features
//!   on its path, and its Shapley values depend only on which of those features the row
//!   "agrees" with (follows the path at every split on it). So for each leaf and each such
//!   subset the contributions are computed once, and a row costs one pass over the nodes plus
//!   one table row per leaf. Used for trees whose tables are small (depth up to about 10).
//! * the recursive path algorithm ([`path`], the paper's Algorithm 2, as in XGBoost), which
//!   also conditions on one feature being present or absent; it serves deeper trees and the
//!   interaction values.
//!
//! SHAP interaction values follow XGBoost's conditioning trick: the interaction of features
//! `i != j` is half the difference between `j`'s contributions with `i` always present and
//! with `i` always absent; the diagonal holds what remains of `i`'s contribution, so each row
//! of a row's matrix sums to the contribution. Trees that never test `i` add nothing to its
//! interactions and are skipped.
//!
//! Rows are explained in parallel (rayon), each on its own, with the trees added in model
//! order, so results do not depend on the number of threads.

mod path;
mod table;
#[cfg(test)]
mod tests;

use ndarray::ArrayView2;
use rayon::prelude::*;

use ml_core::{MlError, Result};

use crate::tree::{CategorySet, Tree};

/// Deepest tree explained (the recursive algorithm's recursion depth).
const MAX_TREE_DEPTH: usize = 2048;
/// Largest number of distinct features on a leaf's path for a leaf table.
const MAX_TABLE_FEATURES: usize = 16;
/// Largest leaf table of one tree, in values (8 MiB).
const MAX_TREE_TABLE: usize = 1 << 20;
/// Values of the leaf tables held at once (32 MiB): trees are explained in batches.
const TABLE_BUDGET: usize = 1 << 22;
/// Rows per parallel task.
const ROW_CHUNK: usize = 64;
/// `SNode::feature` of a leaf.
const LEAF: u32 = u32::MAX;
/// `SNode::category_set` of a numeric split.
const NUMERIC: u32 = u32::MAX;

/// A node in depth-first (pre)order: the left child of an inner node directly follows it and
/// every child comes after its parent.
#[derive(Debug, Clone)]
struct SNode {
    /// Feature tested, or [`LEAF`].
    feature: u32,
    /// Numeric split: `(x as f32) < threshold` goes left.
    threshold: f32,
    /// Where missing values and unknown categories go.
    default_left: bool,
    /// Index into `ShapTree::sets`, or [`NUMERIC`].
    category_set: u32,
    /// Left child (inner node) or index into `ShapTree::leaves` (leaf).
    left: u32,
    /// Right child (unused on a leaf).
    right: u32,
    /// Cover of the left child over the node's cover (0.5 when the node's cover is not
    /// positive).
    left_fraction: f64,
    /// Cover of the right child over the node's cover.
    right_fraction: f64,
    /// Leaf value (0 on inner nodes).
    value: f64,
    /// Position of `feature` among the distinct features on the path from the root to here,
    /// in order of first appearance (inner nodes).
    slot: u32,
}

/// A leaf's path: the distinct features on it, in slot order.
#[derive(Debug, Clone)]
struct LeafPath {
    /// Number of distinct features on the path.
    k: usize,
    /// Start of its features in `ShapTree::leaf_features` (and zero fractions).
    start: usize,
    /// Start of its table in the tree's table (`k * 2^k` values).
    table_start: usize,
    /// The leaf value.
    value: f64,
}

/// One tree prepared for TreeSHAP.
#[derive(Debug, Clone)]
struct ShapTree {
    nodes: Vec<SNode>,
    sets: Vec<CategorySet>,
    leaves: Vec<LeafPath>,
    /// Features of the leaves' paths, `LeafPath::start..start + k` per leaf.
    leaf_features: Vec<u32>,
    /// Per leaf feature: the product of the cover fractions of the path's splits on it.
    leaf_zero_fractions: Vec<f64>,
    /// Output group (class) the tree adds to.
    group: usize,
    /// Cover-weighted mean leaf value.
    expected: f64,
    /// Depth of the deepest leaf.
    max_depth: usize,
    /// Most distinct features on a path.
    max_path_features: usize,
    /// Distinct features tested, increasing.
    features: Vec<u32>,
    /// Size of the leaf tables, when the tree gets them.
    table_len: Option<usize>,
}

impl ShapTree {
    /// Prepares tree `index` (of `group`), checking its structure against `num_features`.
    fn new(t: &Tree, index: usize, group: usize, num_features: usize) -> Result<ShapTree> {
        let bad = |m: String| Err(MlError::data(format!("TreeSHAP: tree {index}: {m}")));
        let len = t.nodes.len();
        if len == 0 {
            return bad("has no nodes".into());
        }
        // Renumber the nodes reachable from the root in preorder.
        let mut nodes: Vec<SNode> = Vec::with_capacity(len);
        let mut parent: Vec<usize> = Vec::with_capacity(len);
        let mut depth: Vec<usize> = Vec::with_capacity(len);
        let mut seen = vec![false; len];
        let mut stack = vec![(0usize, usize::MAX, true)];
        while let Some((old, up, is_left)) = stack.pop() {
            if old >= len || seen[old] {
                return bad(format!(
                    "child index {old} is out of range or reached twice"
                ));
            }
            seen[old] = true;
            let me = nodes.len();
            let dep = if up == usize::MAX { 0 } else { depth[up] + 1 };
            if dep > MAX_TREE_DEPTH {
                return bad(format!("deeper than {MAX_TREE_DEPTH}"));
            }
            if up != usize::MAX {
                if is_left {
                    nodes[up].left = me as u32;
                } else {
                    nodes[up].right = me as u32;
                }
            }
            let n = &t.nodes[old];
            let mut node = SNode {
                feature: LEAF,
                threshold: 0.0,
                default_left: n.default_left,
                category_set: NUMERIC,
                left: 0,
                right: 0,
                left_fraction: 0.5,
                right_fraction: 0.5,
                value: 0.0,
                slot: 0,
            };
            if n.is_leaf() {
                node.value = n.value;
            } else {
                if n.feature as usize >= num_features {
                    return bad(format!(
                        "node {old} tests feature {} of {num_features}",
                        n.feature
                    ));
                }
                node.feature = n.feature;
                node.threshold = n.threshold;
                if let Some(s) = n.category_split {
                    let ok = t
                        .categories
                        .get(s as usize)
                        .is_some_and(|c| c.bits.len() == (c.num_categories as usize).div_ceil(64));
                    if !ok {
                        return bad(format!("node {old} has a bad category set"));
                    }
                    node.category_set = s;
                }
                let (l, r) = (n.left as usize, n.right as usize);
                if l >= len || r >= len {
                    return bad(format!("node {old} has a child out of range"));
                }
                let c = n.cover;
                if c > 0.0 && c.is_finite() {
                    node.left_fraction = t.nodes[l].cover / c;
                    node.right_fraction = t.nodes[r].cover / c;
                }
                stack.push((r, me, false));
                stack.push((l, me, true));
            }
            nodes.push(node);
            parent.push(up);
            depth.push(dep);
        }
        // Slots: position of a node's feature among the distinct features above and at it.
        let m = nodes.len();
        let mut distinct_above = vec![0usize; m];
        for i in 0..m {
            if parent[i] != usize::MAX {
                // The parent's feature is new on the path when it got the next free slot.
                let p = parent[i];
                let new = nodes[p].slot as usize == distinct_above[p];
                distinct_above[i] = distinct_above[p] + new as usize;
            }
            if nodes[i].feature != LEAF {
                let f = nodes[i].feature;
                let mut a = parent[i];
                let mut slot = distinct_above[i];
                while a != usize::MAX {
                    if nodes[a].feature == f {
                        slot = nodes[a].slot as usize;
                        break;
                    }
                    a = parent[a];
                }
                nodes[i].slot = slot as u32;
            }
        }
        // Expected values, children before parents.
        let mut mean = vec![0.0; m];
        for i in (0..m).rev() {
            let n = &nodes[i];
            mean[i] = if n.feature == LEAF {
                n.value
            } else {
                n.left_fraction * mean[n.left as usize] + n.right_fraction * mean[n.right as usize]
            };
        }
        // Leaf paths.
        let mut leaves = Vec::new();
        let mut leaf_features = Vec::new();
        let mut leaf_zero_fractions = Vec::new();
        let mut table_len = 0usize;
        let mut tables_ok = true;
        let mut max_path_features = 0;
        for i in 0..m {
            if nodes[i].feature != LEAF {
                continue;
            }
            let k = distinct_above[i];
            max_path_features = max_path_features.max(k);
            let start = leaf_features.len();
            leaf_features.resize(start + k, 0);
            leaf_zero_fractions.resize(start + k, 1.0);
            let (mut child, mut a) = (i, parent[i]);
            while a != usize::MAX {
                let n = &nodes[a];
                let s = start + n.slot as usize;
                leaf_features[s] = n.feature;
                leaf_zero_fractions[s] *= if n.left as usize == child {
                    n.left_fraction
                } else {
                    n.right_fraction
                };
                child = a;
                a = parent[a];
            }
            let table_start = table_len;
            if k <= MAX_TABLE_FEATURES {
                table_len += k << k;
            }
            tables_ok &= k <= MAX_TABLE_FEATURES && table_len <= MAX_TREE_TABLE;
            nodes[i].left = leaves.len() as u32;
            leaves.push(LeafPath {
                k,
                start,
                table_start,
                value: nodes[i].value,
            });
        }
        let mut features: Vec<u32> = nodes
            .iter()
            .filter(|n| n.feature != LEAF)
            .map(|n| n.feature)
            .collect();
        features.sort_unstable();
        features.dedup();
        Ok(ShapTree {
            sets: t.categories.clone(),
            leaves,
            leaf_features,
            leaf_zero_fractions,
            group,
            expected: mean[0],
            max_depth: depth.iter().copied().max().unwrap_or(0),
            max_path_features,
            features,
            table_len: tables_ok.then_some(table_len),
            nodes,
        })
    }

    /// True when node `i` (an inner node) sends the row left.
    #[inline]
    fn goes_left(&self, i: usize, row: &[f64]) -> bool {
        let n = &self.nodes[i];
        let v = row[n.feature as usize];
        if n.category_set == NUMERIC {
            let v = v as f32;
            if v.is_nan() {
                n.default_left
            } else {
                v < n.threshold
            }
        } else {
            self.sets[n.category_set as usize].goes_left(v, n.default_left)
        }
    }

    /// Adds the tree's contributions for `row` to `phi` (one value per feature) with the leaf
    /// tables `table`; `agree` is scratch of one value per node.
    fn add_with_table(&self, table: &[f64], row: &[f64], phi: &mut [f64], agree: &mut Vec<u32>) {
        // Bit `s` of `fail[i]`: the row leaves the path to node `i` at a split on the feature of
        // slot `s`, so it does not "agree" with that feature there.
        let fail = agree;
        fail.clear();
        fail.resize(self.nodes.len(), 0);
        for (i, n) in self.nodes.iter().enumerate() {
            let f = fail[i];
            if n.feature == LEAF {
                let leaf = &self.leaves[n.left as usize];
                let k = leaf.k;
                if k == 0 {
                    continue;
                }
                let h = !f as usize & ((1usize << k) - 1);
                let values = &table[leaf.table_start + h * k..][..k];
                let feats = &self.leaf_features[leaf.start..][..k];
                for (&j, &v) in feats.iter().zip(values) {
                    phi[j as usize] += v;
                }
            } else {
                let bit = 1u32 << n.slot;
                let left = self.goes_left(i, row);
                fail[n.left as usize] = f | if left { 0 } else { bit };
                fail[n.right as usize] = f | if left { bit } else { 0 };
            }
        }
    }
}

/// Exact TreeSHAP explanations of a tree ensemble's margins.
///
/// ```
/// use ml_tree::shap::TreeShap;
/// use ml_tree::tree::{Node, Tree};
///
/// // x0 < 0.5 ? 1.0 : 3.0, with 3 training rows on the left and 1 on the right.
/// let mut root = Node::leaf(0.0, 4.0);
/// root.feature = 0;
/// root.threshold = 0.5;
/// root.left = 1;
/// root.right = 2;
/// let tree = Tree { nodes: vec![root, Node::leaf(1.0, 3.0), Node::leaf(3.0, 1.0)], categories: vec![] };
/// let shap = TreeShap::new(&[tree], 2, 1, &[0.5]).unwrap();
/// let x = ndarray::array![[0.9, 7.0]];
/// let c = shap.contributions(x.view()).unwrap();
/// // Expected value 0.5 + 1.5; the row's margin 0.5 + 3.0.
/// assert_eq!(c, vec![1.5, 0.0, 2.0]);
/// ```
#[derive(Debug, Clone)]
pub struct TreeShap {
    trees: Vec<ShapTree>,
    num_features: usize,
    num_groups: usize,
    /// Per group: the base margin plus the trees' expected values.
    bias: Vec<f64>,
}

impl TreeShap {
    /// Prepares `trees` for explanation. Tree `t` adds to output group `t % num_groups` (the
    /// classes of a multiclass model take turns, as in XGBoost); `base_margin` holds the
    /// margin every row starts from, one value for all groups or one per group. Fails on a
    /// tree whose structure is broken (child index out of range, node reached twice, feature
    /// `>= num_features`, bad category set) or deeper than 2048.
    pub fn new(
        trees: &[Tree],
        num_features: usize,
        num_groups: usize,
        base_margin: &[f64],
    ) -> Result<TreeShap> {
        if num_groups == 0 {
            return Err(MlError::param(
                "num_class",
                "TreeSHAP needs at least one group",
            ));
        }
        let base: Vec<f64> = match base_margin.len() {
            1 => vec![base_margin[0]; num_groups],
            n if n == num_groups => base_margin.to_vec(),
            n => {
                return Err(MlError::param(
                    "base_margin",
                    format!("{n} values for {num_groups} output groups (give 1 or {num_groups})"),
                ))
            }
        };
        let trees = trees
            .iter()
            .enumerate()
            .map(|(i, t)| ShapTree::new(t, i, i % num_groups, num_features))
            .collect::<Result<Vec<_>>>()?;
        let mut bias = base;
        for t in &trees {
            bias[t.group] += t.expected;
        }
        Ok(TreeShap {
            trees,
            num_features,
            num_groups,
            bias,
        })
    }

    /// Number of features (the width of the rows explained).
    pub fn num_features(&self) -> usize {
        self.num_features
    }

    /// Number of output groups.
    pub fn num_groups(&self) -> usize {
        self.num_groups
    }

    /// Per output group: the expected margin (base margin plus each tree's cover-weighted mean
    /// leaf value), the bias term of every row's contributions.
    pub fn expected_values(&self) -> &[f64] {
        &self.bias
    }

    fn rows<'a>(&self, x: &'a ndarray::CowArray<'a, f64, ndarray::Ix2>) -> Result<&'a [f64]> {
        let d = x.ncols();
        if d != self.num_features {
            return Err(MlError::data(format!(
                "TreeSHAP: rows have {d} features, the model has {}",
                self.num_features
            )));
        }
        x.as_slice()
            .ok_or_else(|| MlError::data("TreeSHAP: features are not contiguous"))
    }

    /// SHAP contributions of the rows of `x` (`rows x num_features`): row-major
    /// `rows x num_groups x (num_features + 1)`, for each row and group one value per feature
    /// and then the bias ([`TreeShap::expected_values`]); a row's values for a group sum to its
    /// margin for that group.
    pub fn contributions(&self, x: ArrayView2<'_, f64>) -> Result<Vec<f64>> {
        self.contributions_with(x, true)
    }

    /// [`TreeShap::contributions`]; `tables` false computes every tree with the recursive
    /// algorithm (tests compare the two).
    fn contributions_with(&self, x: ArrayView2<'_, f64>, tables: bool) -> Result<Vec<f64>> {
        let x = x.as_standard_layout();
        let xs = self.rows(&x)?;
        let (n, d) = (x.nrows(), self.num_features);
        let w = self.num_groups * (d + 1);
        let mut out = vec![0.0; n * w];
        if n == 0 {
            return Ok(out);
        }
        for row in out.chunks_mut(w) {
            for (g, b) in self.bias.iter().enumerate() {
                row[g * (d + 1) + d] = *b;
            }
        }
        let max_nodes = self.trees.iter().map(|t| t.nodes.len()).max().unwrap_or(0);
        let path_len = self.path_buffer_len();
        let mut t0 = 0;
        while t0 < self.trees.len() {
            // A batch of trees whose tables fit the budget (at least one tree).
            let mut t1 = t0;
            let mut held = 0;
            while t1 < self.trees.len() {
                let size = if tables {
                    self.trees[t1].table_len.unwrap_or(0)
                } else {
                    0
                };
                if t1 > t0 && held + size > TABLE_BUDGET {
                    break;
                }
                held += size;
                t1 += 1;
            }
            let batch = &self.trees[t0..t1];
            let tabs: Vec<Option<Vec<f64>>> = batch
                .par_iter()
                .map(|t| {
                    if tables && t.table_len.is_some() {
                        Some(table::build(t))
                    } else {
                        None
                    }
                })
                .collect();
            out.par_chunks_mut(ROW_CHUNK * w)
                .enumerate()
                .for_each(|(ci, chunk)| {
                    let mut agree = Vec::with_capacity(max_nodes);
                    let mut path = vec![path::PathElement::default(); path_len];
                    let r0 = ci * ROW_CHUNK;
                    for (t, tab) in batch.iter().zip(&tabs) {
                        for (r, o) in chunk.chunks_mut(w).enumerate() {
                            let row = &xs[(r0 + r) * d..][..d];
                            let phi = &mut o[t.group * (d + 1)..][..d + 1];
                            match tab {
                                Some(tab) => t.add_with_table(tab, row, phi, &mut agree),
                                None => path::add_tree(t, row, phi, &mut path, 0, 0),
                            }
                        }
                    }
                });
            t0 = t1;
        }
        Ok(out)
    }

    /// Path scratch for the recursive algorithm on the deepest tree.
    fn path_buffer_len(&self) -> usize {
        self.trees
            .iter()
            .map(|t| path::buffer_len(t.max_depth, t.max_path_features))
            .max()
            .unwrap_or(1)
    }

    /// SHAP interaction values of the rows of `x`: row-major
    /// `rows x num_groups x (num_features + 1) x (num_features + 1)`, as XGBoost's
    /// `pred_interactions`. Entry `(i, j)`, `i != j`, is half the difference between feature
    /// `j`'s contribution with feature `i` always known and with it never known; `(i, i)` is
    /// the rest of `i`'s contribution, so row `i` sums to it. The last row and column belong to
    /// the bias: zero except the corner, which holds it.
    pub fn interactions(&self, x: ArrayView2<'_, f64>) -> Result<Vec<f64>> {
        let contribs = self.contributions(x)?;
        let x = x.as_standard_layout();
        let xs = self.rows(&x)?;
        let (n, d) = (x.nrows(), self.num_features);
        let (c, m) = (d + 1, (d + 1) * (d + 1));
        let w = self.num_groups * m;
        let mut out = vec![0.0; n * w];
        let path_len = self.path_buffer_len();
        out.par_chunks_mut(w).enumerate().for_each(|(r, o)| {
            let row = &xs[r * d..][..d];
            let mut path = vec![path::PathElement::default(); path_len];
            let (mut on, mut off) = (vec![0.0; c], vec![0.0; c]);
            for t in &self.trees {
                let mat = &mut o[t.group * m..][..m];
                for &i in &t.features {
                    for &j in &t.features {
                        on[j as usize] = 0.0;
                        off[j as usize] = 0.0;
                    }
                    path::add_tree(t, row, &mut on, &mut path, 1, i);
                    path::add_tree(t, row, &mut off, &mut path, -1, i);
                    let i = i as usize;
                    for &j in &t.features {
                        let j = j as usize;
                        if j != i {
                            mat[i * c + j] += (on[j] - off[j]) / 2.0;
                        }
                    }
                }
            }
            for g in 0..self.num_groups {
                let mat = &mut o[g * m..][..m];
                let phi = &contribs[(r * self.num_groups + g) * c..][..c];
                for i in 0..d {
                    let off_diagonal: f64 =
                        (0..d).filter(|&j| j != i).map(|j| mat[i * c + j]).sum();
                    mat[i * c + i] = phi[i] - off_diagonal;
                }
                mat[d * c + d] = phi[d];
            }
        });
        Ok(out)
    }
}
