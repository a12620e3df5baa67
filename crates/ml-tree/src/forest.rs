//! The flattened predictor: every tree of a model in one array of 16-byte nodes, walked by
//! blocks of rows side by side (branch-free for numeric splits, and for categorical splits on
//! sets of at most [`MAX_TABLE_CATEGORIES`] categories), and the margins of a batch of rows
//! computed in parallel over fixed chunks.

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
    let all_tabled = flat.all_tabled(d);
    out.par_chunks_mut(PREDICT_CHUNK * k)
        .enumerate()
        .for_each(|(ci, chunk)| {
            let r0 = ci * PREDICT_CHUNK;
            let rows = chunk.len() / k;
            let x = &xs[r0 * d..(r0 + rows) * d];
            if exact && (all_numeric || all_tabled) {
                let mut x2 = Vec::with_capacity(rows * flat.block_slots());
                flat.fill_missing_split(x, d, &mut x2);
                for t in 0..trees.len() {
                    if all_numeric {
                        flat.add_block_outputs::<false>(t, &x2, chunk, k, t % k);
                    } else {
                        flat.add_block_outputs::<true>(t, &x2, chunk, k, t % k);
                    }
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
/// In the fast paths' node slot: the split is categorical, and the slot is the feature's
/// category code (see [`FlatForest::fill_missing_split`]).
const SLOT_CATEGORICAL: u32 = 1 << 31;
/// Most categories a categorical split may have for the branch-free walk: its set becomes a
/// table of one byte per category (plus two), so a model's tables stay small. Wider sets (only
/// imported models have them) send their trees to the general walk.
const MAX_TABLE_CATEGORIES: u32 = 1024;
/// A value's category code in the fast paths' rows when it is NaN.
const NAN_CODE: u32 = u32::MAX;
/// A value's category code in the fast paths' rows when it is neither NaN nor a whole number
/// in `0..2^24` (the largest category XGBoost models may have).
const NO_CODE: u32 = u32::MAX - 1;

/// The category code of `v` as [`FlatForest::fill_missing_split`] writes it: `v` itself when it
/// is a whole number in `0..2^24`, [`NAN_CODE`] or [`NO_CODE`] otherwise. A node with `K`
/// categories looks up `min(code, K)`, plus one for NaN, in its table (see [`tabled_step`]).
#[inline]
fn category_code_bits(v: f64) -> u32 {
    if v.is_nan() {
        NAN_CODE
    } else {
        crate::binning::category_code(v, 1 << 24).map_or(NO_CODE, |c| c as u32)
    }
}

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
    /// Per tree: the number of steps from the root to its deepest leaf, when its splits are
    /// numeric or categorical with sets of at most [`MAX_TABLE_CATEGORIES`] categories and
    /// its children are in range (`None` otherwise); the tabled walk's trees.
    tabled_depth: Vec<Option<u32>>,
    /// The features some split tests as categorical, increasing: the block of
    /// [`FlatForest::fill_missing_split`] holds their category codes after the `2 * width`
    /// value slots, in this order.
    categorical_features: Vec<u32>,
    /// Byte tables of the categorical splits of the tabled walk: for a set of `K` categories,
    /// `K + 2` bytes (1 = left): one per category, then where other values go, then where NaN
    /// goes. Byte 0 belongs to no split (numeric nodes look it up and ignore it).
    tables: Vec<u8>,
}

impl FlatForest {
    /// Flattens the trees.
    pub(crate) fn new(trees: &[Tree]) -> FlatForest {
        let mut nodes = Vec::new();
        let mut roots = Vec::with_capacity(trees.len());
        let mut sets = Vec::new();
        let mut exact = true;
        let mut numeric_depth = Vec::with_capacity(trees.len());
        let mut tabled_depth = Vec::with_capacity(trees.len());
        let mut width = 0usize;
        for t in trees {
            let base = nodes.len() as u32;
            roots.push(base);
            numeric_depth.push(depth_of(t, false));
            tabled_depth.push(depth_of(t, true));
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
        let is_categorical = |nd: &PNode| nd.meta & (P_LEAF | P_CATEGORICAL) == P_CATEGORICAL;
        let mut categorical_features: Vec<u32> = nodes
            .iter()
            .filter(|nd| is_categorical(nd))
            .map(|nd| nd.meta & P_FEATURE)
            .collect();
        categorical_features.sort_unstable();
        categorical_features.dedup();
        let mut tables = vec![0u8];
        let fast = nodes
            .iter()
            .enumerate()
            .map(|(i, nd)| {
                if nd.meta & P_LEAF != 0 {
                    return (0, f32::NAN, (i as u32).wrapping_sub(1), nd.x.to_bits());
                }
                let f = nd.meta & P_FEATURE;
                let default_left = nd.meta & P_DEFAULT_LEFT != 0;
                if is_categorical(nd) {
                    let set = match sets.get(nd.x.to_bits() as usize) {
                        Some(set) if set.num_categories <= MAX_TABLE_CATEGORIES => set,
                        // Walked by the general walk (its tree has no tabled depth).
                        _ => return (0, f32::NAN, nd.left, 0),
                    };
                    let at = tables.len() as u32;
                    tables.extend((0..set.num_categories as usize).map(|c| set.contains(c) as u8));
                    tables.push(set.unknown_left.unwrap_or(default_left) as u8);
                    tables.push(default_left as u8);
                    let code = categorical_features.partition_point(|&g| g < f);
                    let slot = (2 * width + code) as u32 * LANES as u32;
                    let k = f32::from_bits(set.num_categories);
                    return (slot | SLOT_CATEGORICAL, k, nd.left, at);
                }
                let slot = if default_left { f + width as u32 } else { f };
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
            tabled_depth,
            categorical_features,
            tables,
        }
    }

    /// True when every tree is walked by the numeric fast path on rows of `d` values, so
    /// [`FlatForest::add_tree_outputs`] needs only the rows from
    /// [`FlatForest::fill_missing_split`].
    pub(crate) fn all_numeric(&self, d: usize) -> bool {
        self.all_walked(d, &self.numeric_depth)
    }

    /// True when every tree is walked by the tabled walk (numeric splits, and categorical
    /// ones with sets of at most [`MAX_TABLE_CATEGORIES`] categories) on rows of `d` values.
    pub(crate) fn all_tabled(&self, d: usize) -> bool {
        self.all_walked(d, &self.tabled_depth)
    }

    /// True when rows of `d` values hold every feature tested, right children follow their
    /// left ones, and every tree has a depth in `depths` (the walk they stand for).
    fn all_walked(&self, d: usize, depths: &[Option<u32>]) -> bool {
        d > 0 && self.width <= d && self.consecutive && depths.iter().all(Option::is_some)
    }

    /// Values in a block of [`FlatForest::fill_missing_split`], per row.
    pub(crate) fn block_slots(&self) -> usize {
        2 * self.width + self.categorical_features.len()
    }

    /// Writes the rows of `x` (width `d`) for the fast paths, in blocks of `LANES` (8)
    /// rows, the last block padded with zeros. A block holds [`FlatForest::block_slots`] slots
    /// of `LANES` values, one per row: slots `0..width` with NaN as `+inf` (so it compares as
    /// "not below any threshold" and goes right), then slots `width..2 * width` with NaN as
    /// `-inf` (goes left), then the category code of each categorical feature (the bits of
    /// [`category_code_bits`], stored as `f32` bits). A node whose missing values go left
    /// reads the second half, so the walk needs no NaN test, and the rows of a block sit side
    /// by side, so the lanes of a walk address them from one pointer.
    pub(crate) fn fill_missing_split(&self, x: &[f64], d: usize, out: &mut Vec<f32>) {
        let w = self.width;
        out.clear();
        if d == 0 || w == 0 || w > d {
            return;
        }
        let n = x.len() / d;
        let slots = self.block_slots();
        out.resize(n.div_ceil(LANES) * slots * LANES, 0.0);
        for (b, block) in out.chunks_exact_mut(slots * LANES).enumerate() {
            for l in 0..LANES.min(n - b * LANES) {
                let row = &x[(b * LANES + l) * d..][..w];
                for (f, &v) in row.iter().enumerate() {
                    let v = v as f32;
                    let nan = v.is_nan();
                    block[f * LANES + l] = if nan { f32::INFINITY } else { v };
                    block[(w + f) * LANES + l] = if nan { f32::NEG_INFINITY } else { v };
                }
                for (j, &f) in self.categorical_features.iter().enumerate() {
                    let code = category_code_bits(row[f as usize]);
                    block[(2 * w + j) * LANES + l] = f32::from_bits(code);
                }
            }
        }
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
    /// `out` has room for. `TABLED = false`: only for trees of numeric splits (see
    /// [`FlatForest::all_numeric`]); `true`: for the trees of the tabled walk (see
    /// [`FlatForest::all_tabled`]), categorical splits looking their codes up in their tables.
    /// Does nothing for other trees.
    pub(crate) fn add_block_outputs<const TABLED: bool>(
        &self,
        t: usize,
        x2: &[f32],
        out: &mut [f64],
        k: usize,
        class: usize,
    ) {
        let depth = if TABLED {
            self.tabled_depth[t]
        } else {
            self.numeric_depth[t]
        };
        let (Some(depth), w2) = (depth, self.block_slots()) else {
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
        let tables = &self.tables[..];
        for (b, block) in x2.chunks_exact(LANES * w2).enumerate() {
            let r = b * LANES;
            if r >= n {
                break;
            }
            let p = block.as_ptr();
            let mut idx = [root; LANES];
            for _ in 0..depth {
                for (l, i) in idx.iter_mut().enumerate() {
                    // SAFETY: `depth_of` checked that every child index of this tree is one
                    // of its nodes, and `all_numeric` or `all_tabled` (the caller's condition)
                    // that each right child is `left + 1`, so a step lands on a child or, from
                    // a leaf, on the leaf itself; a slot is below `block_slots() * LANES`
                    // (feature < width, code < categorical features), and `block` holds
                    // `block_slots() * LANES` values; a table lookup stays in its table.
                    *i = unsafe {
                        if TABLED {
                            tabled_step(nodes, tables, *i, p.add(l))
                        } else {
                            step(nodes, *i, p.add(l))
                        }
                    };
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
                    // SAFETY: `depth_of` checked that every child index of this tree is one
                    // of its nodes, and the caller that every feature tested is below
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

/// One step of the tabled walk from node `i` (of [`FlatForest::fast`]) for the row whose first
/// value is at `row` (the row's values are `LANES` apart). A numeric node compares its value
/// as the numeric walk does; a categorical node reads the row's category code and looks up
/// `min(code, K)` (plus one for NaN) in its table of `K + 2` bytes: its categories, then other
/// values, then NaN. Both are computed and one is selected, without a branch.
///
/// # Safety
/// `i < nodes.len()`, `row` is followed by the rest of its block, and a categorical node's
/// table (`K + 2` bytes from its offset) lies in `tables`, which is not empty.
#[inline(always)]
unsafe fn tabled_step(
    nodes: &[(u32, f32, u32, u32)],
    tables: &[u8],
    i: usize,
    row: *const f32,
) -> usize {
    let &(slot, thr, l, at) = nodes.get_unchecked(i);
    let categorical = slot & SLOT_CATEGORICAL != 0;
    let v = *row.add((slot & !SLOT_CATEGORICAL) as usize);
    let numeric_left = v < thr;
    let code = v.to_bits();
    let cell = code.min(thr.to_bits()) + (code == NAN_CODE) as u32;
    let cell = if categorical { at + cell } else { 0 };
    let categorical_left = *tables.get_unchecked(cell as usize) != 0;
    let left = if categorical {
        categorical_left
    } else {
        numeric_left
    };
    // Right (`l + 1`) unless left; NaN thresholds (leaves) go right.
    l.wrapping_add(1 - left as u32) as usize
}

/// Steps from the root to the deepest leaf when every split is numeric (or, with `tabled`,
/// numeric or categorical on a set of at most [`MAX_TABLE_CATEGORIES`] categories) and the
/// nodes form a tree (children in range, no node reached twice); `None` otherwise, which
/// sends the tree to the general walk.
fn depth_of(t: &Tree, tabled: bool) -> Option<u32> {
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
        let walkable = match nd.category_split {
            // The fast paths send NaN to the default side by comparing it as +-inf, which
            // needs a threshold above -inf.
            None => !nd.threshold.is_nan() && nd.threshold != f32::NEG_INFINITY,
            Some(s) => {
                tabled
                    && t.categories
                        .get(s as usize)
                        .is_some_and(|c| c.num_categories <= MAX_TABLE_CATEGORIES)
            }
        };
        if !walkable || nd.feature > P_FEATURE {
            return None;
        }
        stack.push((nd.left as usize, dep + 1));
        stack.push((nd.right as usize, dep + 1));
    }
    Some(max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::Node;

    fn split(feature: u32, threshold: f32, left: u32, default_left: bool) -> Node {
        Node {
            feature,
            threshold,
            left,
            right: left + 1,
            default_left,
            category_split: None,
            value: 0.0,
            gain: 1.0,
            cover: 1.0,
        }
    }

    fn categorical(feature: u32, set: u32, left: u32, default_left: bool) -> Node {
        Node {
            category_split: Some(set),
            ..split(feature, 0.0, left, default_left)
        }
    }

    fn set(num_categories: usize, members: &[usize], unknown_left: Option<bool>) -> CategorySet {
        let mut s = CategorySet::new(num_categories);
        for &c in members {
            s.insert(c);
        }
        s.unknown_left = unknown_left;
        s
    }

    /// Two trees mixing numeric and categorical splits (one set with `wide` categories), laid
    /// out as the trainer lays them (right child after the left one); leaf values are powers
    /// of two, so each leaf reached shows in the sum.
    fn trees(wide: usize) -> Vec<Tree> {
        let a = Tree {
            nodes: vec![
                categorical(1, 0, 1, true),
                split(0, 0.5, 3, false),
                Node::leaf(1.0, 1.0),
                Node::leaf(2.0, 1.0),
                Node::leaf(4.0, 1.0),
            ],
            categories: vec![set(6, &[0, 2, 5], None)],
        };
        let b = Tree {
            nodes: vec![
                split(2, 0.0, 1, true),
                categorical(1, 1, 3, true),
                categorical(0, 0, 5, false),
                Node::leaf(8.0, 1.0),
                Node::leaf(16.0, 1.0),
                Node::leaf(32.0, 1.0),
                Node::leaf(64.0, 1.0),
            ],
            categories: vec![set(wide, &[1, 2], Some(false)), set(3, &[1], Some(false))],
        };
        vec![a, b]
    }

    /// Every combination of numbers, NaN, codes, unseen codes and values that are no code.
    fn rows() -> (Vec<f64>, usize) {
        let f0 = [f64::NAN, 0.2, 0.7, 1.0, 2.0];
        let f1 = [
            f64::NAN,
            -0.0,
            0.0,
            1.0,
            2.0,
            3.0,
            5.0,
            6.0,
            7.0,
            0.5,
            -1.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1e300,
            16_777_216.0,
            4_294_967_294.0,
            4_294_967_295.0,
        ];
        let f2 = [f64::NAN, -1.0, 1.0];
        let mut x = Vec::new();
        for &a in &f0 {
            for &b in &f1 {
                for &c in &f2 {
                    x.extend([a, b, c]);
                }
            }
        }
        (x, 3)
    }

    fn margins(trees: &[Tree], x: &[f64], d: usize) -> Vec<f64> {
        let flat = FlatForest::new(trees);
        let mut out = vec![0.0; x.len() / d];
        add_margins(&flat, trees, x, d, 1, &mut out);
        out
    }

    #[test]
    fn the_tabled_walk_equals_walking_each_tree() {
        let (x, d) = rows();
        for wide in [
            4,
            MAX_TABLE_CATEGORIES as usize,
            MAX_TABLE_CATEGORIES as usize + 1,
        ] {
            let trees = trees(wide);
            let flat = FlatForest::new(&trees);
            assert!(!flat.all_numeric(d));
            // Sets wider than the tables send the model to the general walk.
            assert_eq!(flat.all_tabled(d), wide <= MAX_TABLE_CATEGORIES as usize);
            let got = margins(&trees, &x, d);
            for (i, row) in x.chunks(d).enumerate() {
                let expect: f64 = trees.iter().map(|t| t.predict_row(row)).sum();
                assert_eq!(got[i], expect, "row {row:?}, sets of {wide}");
            }
        }
    }

    #[test]
    fn category_codes_are_whole_numbers_below_two_to_the_24() {
        assert_eq!(category_code_bits(f64::NAN), NAN_CODE);
        for (v, code) in [
            (0.0, 0),
            (-0.0, 0),
            (7.0, 7),
            (16_777_215.0, 16_777_215),
            (16_777_216.0, NO_CODE),
            (0.5, NO_CODE),
            (-1.0, NO_CODE),
            (f64::INFINITY, NO_CODE),
            (4_294_967_295.0, NO_CODE),
        ] {
            assert_eq!(category_code_bits(v), code, "{v}");
        }
    }
}
