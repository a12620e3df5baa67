//! The flattened predictor: every tree of a model in one array of 16-byte nodes, walked by
//! blocks of rows side by side (branch-free for numeric splits), and the margins of a batch of
//! rows computed in parallel over fixed chunks.

use std::hash::Hasher;
use std::sync::{Arc, Mutex};

use ml_core::hash::FxHasher;
use ndarray::{ArrayView2, CowArray, Ix2};
use rayon::prelude::*;

use crate::tree::{CategorySet, Tree};

/// The matrix as contiguous row-major rows.
pub(crate) fn row_major(x: ArrayView2<'_, f64>) -> CowArray<'_, f64, Ix2> {
    if x.is_standard_layout() {
        CowArray::from(x)
    } else {
        CowArray::from(x.as_standard_layout().into_owned())
    }
}

/// Rows per parallel prediction task.
const PREDICT_CHUNK: usize = 128;

/// Adds the outputs of `trees` (round by round, `k` per round, tree `t` for class `t % k`) for
/// the rows of `xs` (row-major, `d` values per row) to `out` (`rows x k`, row-major), in
/// parallel over fixed chunks of rows: the flattened walk when every leaf value is an `f32`
/// (as trained here), the branch-free numeric walk when also every split is numeric, each
/// tree's own walk otherwise.
pub(crate) fn add_margins(
    flat: &FlatForest,
    trees: &[Tree],
    xs: &[f64],
    d: usize,
    k: usize,
    out: &mut [f64],
) {
    if d == 0 {
        return;
    }
    let exact = flat.is_exact();
    let all_numeric = flat.all_numeric(d);
    out.par_chunks_mut(PREDICT_CHUNK * k)
        .enumerate()
        .for_each(|(ci, chunk)| {
            let r0 = ci * PREDICT_CHUNK;
            let rows = chunk.len() / k;
            let x = &xs[r0 * d..(r0 + rows) * d];
            if exact && all_numeric {
                let mut x2 = Vec::with_capacity(rows * 2 * flat.width());
                flat.fill_missing_split(x, d, &mut x2);
                for t in 0..trees.len() {
                    flat.add_numeric_outputs(t, &x2, chunk, k, t % k);
                }
            } else if exact {
                let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
                for t in 0..trees.len() {
                    flat.add_tree_outputs(t, x, &x32, d, chunk, k, t % k);
                }
            } else {
                for (t, tree) in trees.iter().enumerate() {
                    for j in 0..rows {
                        chunk[j * k + t % k] += tree.predict_row(&x[j * d..(j + 1) * d]);
                    }
                }
            }
        });
}

/// A model's [`FlatForest`], built on first use and kept: later calls reuse it while the
/// trees are unchanged. The trees are public fields that may be edited in place, so each use
/// compares a fingerprint of their contents (one pass over the nodes, no allocation) with the
/// one the forest was built from, and rebuilds on a difference. A clone starts empty.
#[derive(Default)]
pub(crate) struct ForestCache(Mutex<Option<(u64, Arc<FlatForest>)>>);

impl ForestCache {
    /// The flattened predictor of `trees`, built once per version of their contents.
    pub(crate) fn get(&self, trees: &[Tree]) -> Arc<FlatForest> {
        let key = fingerprint(trees);
        let mut slot = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match slot.as_ref() {
            Some((k, f)) if *k == key => f.clone(),
            _ => {
                let f = Arc::new(FlatForest::new(trees));
                *slot = Some((key, f.clone()));
                f
            }
        }
    }
}

impl Clone for ForestCache {
    fn clone(&self) -> Self {
        ForestCache::default()
    }
}

/// A cache is not part of a model's value.
impl PartialEq for ForestCache {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl std::fmt::Debug for ForestCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ForestCache")
    }
}

/// A hash of everything prediction reads from the trees.
fn fingerprint(trees: &[Tree]) -> u64 {
    let mut h = FxHasher::default();
    h.write_usize(trees.len());
    for t in trees {
        h.write_usize(t.nodes.len());
        for n in &t.nodes {
            h.write_u32(n.feature);
            h.write_u32(n.threshold.to_bits());
            h.write_u32(n.left);
            h.write_u32(n.right);
            h.write_u8(u8::from(n.default_left));
            h.write_u32(n.category_split.map_or(u32::MAX, |c| c));
            h.write_u64(n.value.to_bits());
        }
        h.write_usize(t.categories.len());
        for c in &t.categories {
            h.write_u32(c.num_categories);
            for &w in &c.bits {
                h.write_u64(w);
            }
        }
    }
    h.finish()
}

/// A 16-byte node for fast prediction: `meta` holds the feature in its low 29 bits, bit 31 =
/// missing goes left, bit 30 = categorical split, bit 29 = leaf. `x` is the threshold, the
/// leaf value, or (categorical) the index of the category set. A leaf tests feature 0 and has
/// itself as both children, so walking past it is harmless.
#[derive(Debug, Clone, Copy)]
struct PNode {
    meta: u32,
    x: f32,
    left: u32,
    right: u32,
}

const P_LEAF: u32 = 1 << 29;
const P_DEFAULT_LEFT: u32 = 1 << 31;
const P_CATEGORICAL: u32 = 1 << 30;
const P_FEATURE: u32 = (1 << 29) - 1;
/// Rows walked through a tree side by side by the numeric fast path.
const LANES: usize = 8;

/// All trees of a model in one flat array of 16-byte nodes, for prediction.
///
/// Leaf values are stored as `f32`; the trainer rounds them to `f32` (as XGBoost stores
/// them), so predictions equal the sums of [`Tree::predict_row`]. Trees with a leaf value
/// that is not an `f32` fall back to [`Tree::predict_row`].
#[derive(Debug, Clone)]
pub(crate) struct FlatForest {
    nodes: Vec<PNode>,
    roots: Vec<u32>,
    sets: Vec<CategorySet>,
    exact: bool,
    /// Per tree: the number of steps from the root to its deepest leaf, when every split of
    /// the tree is numeric and its children are in range (`None` otherwise).
    numeric_depth: Vec<Option<u32>>,
    /// Largest feature index tested, plus one.
    width: usize,
    /// The nodes again for the numeric fast path: `(slot, threshold, left, value bits)` where
    /// `slot` is `LANES` times the feature, plus `width` when missing values go left (the
    /// offset of its values in a block of [`FlatForest::fill_missing_split`]), and the right
    /// child is `left + 1`. A leaf has a NaN threshold (no value is below it) and `left` one
    /// before itself, so it steps to itself.
    fast: Vec<(u32, f32, u32, u32)>,
    /// True when every split's right child directly follows its left child (as the trainer
    /// lays them out), which the fast path relies on.
    consecutive: bool,
}

impl FlatForest {
    /// Flattens the trees.
    pub(crate) fn new(trees: &[Tree]) -> FlatForest {
        let mut nodes = Vec::new();
        let mut roots = Vec::with_capacity(trees.len());
        let mut sets = Vec::new();
        let mut exact = true;
        let mut numeric_depth = Vec::with_capacity(trees.len());
        let mut width = 0usize;
        for t in trees {
            let base = nodes.len() as u32;
            roots.push(base);
            numeric_depth.push(numeric_depth_of(t));
            let set_base = sets.len() as u32;
            sets.extend(t.categories.iter().cloned());
            for n in &t.nodes {
                if n.is_leaf() {
                    exact &= (n.value as f32) as f64 == n.value;
                    let me = nodes.len() as u32;
                    nodes.push(PNode {
                        meta: P_LEAF,
                        x: n.value as f32,
                        left: me,
                        right: me,
                    });
                } else {
                    let mut meta = n.feature & P_FEATURE;
                    exact &= n.feature <= P_FEATURE;
                    width = width.max(n.feature as usize + 1);
                    if n.default_left {
                        meta |= P_DEFAULT_LEFT;
                    }
                    let x = match n.category_split {
                        Some(s) => {
                            meta |= P_CATEGORICAL;
                            f32::from_bits(set_base + s)
                        }
                        None => n.threshold,
                    };
                    nodes.push(PNode {
                        meta,
                        x,
                        left: base + n.left,
                        right: base + n.right,
                    });
                }
            }
        }
        let consecutive = nodes
            .iter()
            .all(|nd| nd.meta & P_LEAF != 0 || nd.right == nd.left.wrapping_add(1));
        let fast = nodes
            .iter()
            .enumerate()
            .map(|(i, nd)| {
                if nd.meta & P_LEAF != 0 {
                    return (0, f32::NAN, (i as u32).wrapping_sub(1), nd.x.to_bits());
                }
                let f = nd.meta & P_FEATURE;
                let slot = if nd.meta & P_DEFAULT_LEFT != 0 {
                    f + width as u32
                } else {
                    f
                };
                (slot * LANES as u32, nd.x, nd.left, 0)
            })
            .collect();
        FlatForest {
            nodes,
            roots,
            sets,
            exact,
            numeric_depth,
            width,
            fast,
            consecutive,
        }
    }

    /// True when every tree is walked by the numeric fast path on rows of `d` values, so
    /// [`FlatForest::add_tree_outputs`] needs only the rows from
    /// [`FlatForest::fill_missing_split`].
    pub(crate) fn all_numeric(&self, d: usize) -> bool {
        d > 0
            && self.width <= d
            && self.consecutive
            && self.numeric_depth.iter().all(Option::is_some)
    }

    /// Writes the rows of `x` (width `d`) for the numeric fast path, in blocks of `LANES` (8)
    /// rows, the last block padded with zeros. A block holds `2 * width()` slots of `LANES`
    /// `f32` values, one per row: slots `0..width` with NaN as `+inf` (so it compares as "not
    /// below any threshold" and goes right), then slots `width..2 * width` with NaN as `-inf`
    /// (goes left). A node whose missing values go left reads the second half, so the walk
    /// needs no NaN test, and the rows of a block sit side by side, so the lanes of a walk
    /// address them from one pointer.
    pub(crate) fn fill_missing_split(&self, x: &[f64], d: usize, out: &mut Vec<f32>) {
        let w = self.width;
        out.clear();
        if d == 0 || w == 0 || w > d {
            return;
        }
        let n = x.len() / d;
        out.resize(n.div_ceil(LANES) * 2 * w * LANES, 0.0);
        for (b, block) in out.chunks_exact_mut(2 * w * LANES).enumerate() {
            for l in 0..LANES.min(n - b * LANES) {
                let row = &x[(b * LANES + l) * d..][..w];
                for (f, &v) in row.iter().enumerate() {
                    let v = v as f32;
                    let nan = v.is_nan();
                    block[f * LANES + l] = if nan { f32::INFINITY } else { v };
                    block[(w + f) * LANES + l] = if nan { f32::NEG_INFINITY } else { v };
                }
            }
        }
    }

    /// Largest feature index the trees test, plus one.
    pub(crate) fn width(&self) -> usize {
        self.width
    }

    /// True when every leaf value is stored exactly.
    pub(crate) fn is_exact(&self) -> bool {
        self.exact
    }
}

impl FlatForest {
    #[inline]
    fn step(&self, nd: PNode, row32: &[f32], row: &[f64]) -> usize {
        let f = (nd.meta & P_FEATURE) as usize;
        let dl = nd.meta & P_DEFAULT_LEFT != 0;
        let left = if nd.meta & P_CATEGORICAL == 0 {
            let v = row32[f];
            // Branch-free: NaN compares false, then takes the default direction.
            (v < nd.x) | (v.is_nan() & dl)
        } else {
            self.sets[nd.x.to_bits() as usize].goes_left(row[f], dl)
        };
        (if left { nd.left } else { nd.right }) as usize
    }

    /// Adds tree `t`'s output for every row of a block to `out[row * k + class]`. `x` holds the
    /// rows (width `d`), `x32` the same values as `f32`. Several rows walk the tree in
    /// lockstep so that their node loads overlap; a tree of numeric splits is walked without
    /// branches, a fixed number of steps (its depth), as every leaf points to itself.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn add_tree_outputs(
        &self,
        t: usize,
        x: &[f64],
        x32: &[f32],
        d: usize,
        out: &mut [f64],
        k: usize,
        class: usize,
    ) {
        let n = x32.len() / d.max(1);
        let root = self.roots[t] as usize;
        if let Some(depth) = self.numeric_depth[t] {
            if self.width <= d && d > 0 {
                self.add_numeric_tree_outputs(root, depth, x32, d, out, k, class);
                return;
            }
        }
        let mut r = 0;
        while r + 4 <= n {
            let mut idx = [root; 4];
            loop {
                let mut active = false;
                for (l, i) in idx.iter_mut().enumerate() {
                    let nd = self.nodes[*i];
                    if nd.meta & P_LEAF == 0 {
                        active = true;
                        let a = (r + l) * d;
                        *i = self.step(nd, &x32[a..a + d], &x[a..a + d]);
                    }
                }
                if !active {
                    break;
                }
            }
            for (l, &i) in idx.iter().enumerate() {
                out[(r + l) * k + class] += self.nodes[i].x as f64;
            }
            r += 4;
        }
        while r < n {
            let mut i = root;
            loop {
                let nd = self.nodes[i];
                if nd.meta & P_LEAF != 0 {
                    break;
                }
                let a = r * d;
                i = self.step(nd, &x32[a..a + d], &x[a..a + d]);
            }
            out[r * k + class] += self.nodes[i].x as f64;
            r += 1;
        }
    }

    /// Adds tree `t`'s output for every row of a block of rows prepared by
    /// [`FlatForest::fill_missing_split`] (`x2`) to `out[row * k + class]`, for the rows
    /// `out` has room for. Only for trees of numeric splits (see [`FlatForest::all_numeric`]);
    /// does nothing for other trees.
    pub(crate) fn add_numeric_outputs(
        &self,
        t: usize,
        x2: &[f32],
        out: &mut [f64],
        k: usize,
        class: usize,
    ) {
        let (Some(depth), w2) = (self.numeric_depth[t], 2 * self.width) else {
            return;
        };
        let root = self.roots[t] as usize;
        let nodes = &self.fast[..];
        let n = out.len() / k.max(1);
        if depth == 0 || w2 == 0 {
            // A single leaf (every tree is one when no feature is tested).
            let v = f32::from_bits(nodes[root].3) as f64;
            for r in 0..n {
                out[r * k + class] += v;
            }
            return;
        }
        /// One step of a walk from node `i` for the row whose first value is at `row` (the
        /// row's values are `LANES` apart).
        ///
        /// # Safety
        /// `i < nodes.len()`, and `row` is followed by the rest of its block.
        #[inline(always)]
        unsafe fn step(nodes: &[(u32, f32, u32, u32)], i: usize, row: *const f32) -> usize {
            let &(slot, thr, l, _) = nodes.get_unchecked(i);
            let v = *row.add(slot as usize);
            // Right (`l + 1`) unless below the threshold; NaN thresholds (leaves) go right.
            l.wrapping_add(1 - (v < thr) as u32) as usize
        }
        for (b, block) in x2.chunks_exact(LANES * w2).enumerate() {
            let r = b * LANES;
            if r >= n {
                break;
            }
            let p = block.as_ptr();
            let mut idx = [root; LANES];
            for _ in 0..depth {
                for (l, i) in idx.iter_mut().enumerate() {
                    // SAFETY: `numeric_depth_of` checked that every child index of this tree
                    // is one of its nodes, and `all_numeric` (the caller's condition) that each
                    // right child is `left + 1`, so a step lands on a child or, from a leaf, on
                    // the leaf itself; a slot is below `2 * width * LANES` (feature < width),
                    // and `block` holds `2 * width * LANES` values.
                    *i = unsafe { step(nodes, *i, p.add(l)) };
                }
            }
            for (l, &i) in idx.iter().enumerate().take(n - r) {
                out[(r + l) * k + class] += f32::from_bits(nodes[i].3) as f64;
            }
        }
    }

    /// The branch-free walk of a tree of numeric splits: `LANES` rows at a time, `depth` steps.
    #[allow(clippy::too_many_arguments)]
    fn add_numeric_tree_outputs(
        &self,
        root: usize,
        depth: u32,
        x32: &[f32],
        d: usize,
        out: &mut [f64],
        k: usize,
        class: usize,
    ) {
        let nodes = &self.nodes[..];
        /// One step of a walk from node `i` for the row starting at `row[0]`.
        ///
        /// # Safety
        /// `i < nodes.len()`, and the row has more values than any feature the node tests.
        #[inline(always)]
        unsafe fn step(nodes: &[PNode], i: usize, row: *const f32) -> usize {
            let nd = nodes.get_unchecked(i);
            let v = *row.add((nd.meta & P_FEATURE) as usize);
            let left = (v < nd.x) | (v.is_nan() & (nd.meta & P_DEFAULT_LEFT != 0));
            (if left { nd.left } else { nd.right }) as usize
        }
        let mut blocks = x32.chunks_exact(LANES * d);
        let mut r = 0;
        for block in &mut blocks {
            let mut idx = [root; LANES];
            for _ in 0..depth {
                for (l, i) in idx.iter_mut().enumerate() {
                    // SAFETY: `numeric_depth_of` checked that every child index of this tree
                    // is one of its nodes, and the caller that every feature tested is below
                    // `d` (`width <= d`); `block` holds LANES rows of `d` values.
                    *i = unsafe { step(nodes, *i, block.as_ptr().add(l * d)) };
                }
            }
            for (l, &i) in idx.iter().enumerate() {
                out[(r + l) * k + class] += nodes[i].x as f64;
            }
            r += LANES;
        }
        for row in blocks.remainder().chunks_exact(d) {
            let mut i = root;
            for _ in 0..depth {
                // SAFETY: as above; `row` holds `d` values.
                i = unsafe { step(nodes, i, row.as_ptr()) };
            }
            out[r * k + class] += nodes[i].x as f64;
            r += 1;
        }
    }
}

/// Steps from the root to the deepest leaf when every split is numeric and the nodes form a
/// tree (children in range, no node reached twice); `None` otherwise, which sends the tree to
/// the general walk.
fn numeric_depth_of(t: &Tree) -> Option<u32> {
    let n = t.nodes.len();
    let mut max = 0;
    let mut stack = vec![(0usize, 0u32)];
    let mut seen = 0usize;
    while let Some((i, dep)) = stack.pop() {
        seen += 1;
        if seen > n || i >= n {
            return None;
        }
        let nd = &t.nodes[i];
        max = max.max(dep);
        if nd.is_leaf() {
            continue;
        }
        // The fast paths send NaN to the default side by comparing it as +-inf, which needs
        // a threshold above -inf.
        if nd.category_split.is_some()
            || nd.feature > P_FEATURE
            || nd.threshold.is_nan()
            || nd.threshold == f32::NEG_INFINITY
        {
            return None;
        }
        stack.push((nd.left as usize, dep + 1));
        stack.push((nd.right as usize, dep + 1));
    }
    Some(max)
}
