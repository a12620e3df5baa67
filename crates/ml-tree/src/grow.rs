//! Growing one tree from binned features and gradients, depthwise or lossguide.
//!
//! Depthwise trees grow a level at a time: every node of the level is partitioned
//! ([`crate::partition`]), the smaller child of each gets its histogram ([`crate::hist`]),
//! and the larger child's comes from its parent's by subtraction; then each child's best split
//! is searched ([`crate::split`]). On one worker these steps follow each other node by node,
//! one task per node (the level is one parallel step, large nodes splitting their own work
//! further); across workers each step runs over all nodes, with the all-reduces between them.
//! Nodes are split in the order a FIFO queue would split them, so the tree is the same as
//! growing one node at a time. Lossguide trees split the open node with the largest gain
//! first.
//!
//! Distributed: every worker grows the same tree from its own rows. Histograms are exact
//! integer sums ([`crate::fixed`]), all-reduced across workers once per level (once per split
//! for lossguide) before any split is searched, and every decision that depends on a row count
//! (may a node split, which child's histogram is built) uses the global count, all-reduced
//! with the partition. So every worker makes the same decisions and the same collective calls,
//! and the tree is the same bits whatever the number of workers and however rows are split.

use ml_core::Result;
use ml_dist::Collective;
use rayon::prelude::*;

use crate::binning::{BinMapper, BinMatrix, FeatureCuts, HIST_SLOTS};
use crate::constraints::{Bounds, Constraints};
use crate::fixed::Quantizer;
use crate::hist::{
    all_reduce_histograms, build_histograms, new_histogram, subtract_histogram, GradPair, IntPair,
    NodeRows, QPair,
};
use crate::params::{GrowPolicy, TreeParams};
use crate::partition::{carve, partition};
use crate::split::{find_best_split, left_table, Candidate, NodeRule, SplitKind};
use crate::tree::{CategorySet, Node, Tree};

/// A node that may still be split.
struct Open {
    node: usize,
    start: usize,
    end: usize,
    /// Number of rows in the node over all workers.
    count: u64,
    depth: usize,
    /// Its rows are in the second buffer (`scratch` of [`grow_tree`]), not in `rows`.
    in_b: bool,
    hist: Option<Vec<IntPair>>,
    best: Option<Candidate>,
    /// Monotone state: bounds on the children's weights.
    bounds: Bounds,
    /// Monotone state: the node's gain at its bounded weight.
    root_gain: f64,
    /// Features split on above the node (sorted, distinct; kept with interaction
    /// constraints only).
    path: Vec<usize>,
}

/// Rows of the training set that ended in each leaf: `(start, end, leaf value, in_b)` ranges
/// of the row array passed to [`grow_tree`], or of its second buffer when `in_b`.
pub(crate) type LeafRanges = Vec<(usize, usize, f64, bool)>;

/// A split at the last level (its children cannot split further): its rows are not
/// partitioned; each row's leaf is found from its bin when margins are updated.
pub(crate) struct FinalSplit {
    /// The node's range of the row array.
    pub start: usize,
    /// End of the range.
    pub end: usize,
    /// Feature split on.
    pub feature: usize,
    /// Which bins go left.
    pub table: [bool; HIST_SLOTS],
    /// Leaf values of the left and right child.
    pub values: [f64; 2],
    /// The range is of the second buffer, not of the row array.
    pub in_b: bool,
}

/// Where the training rows ended: leaves as ranges of the row array, and last-level splits.
#[derive(Default)]
pub(crate) struct Leaves {
    /// `(start, end, leaf value, in_b)`.
    pub ranges: LeafRanges,
    /// Splits whose rows were left unpartitioned.
    pub splits: Vec<FinalSplit>,
}

impl Leaves {
    /// Records that `o` is a leaf.
    fn leaf(&mut self, o: &Open, value: f64) {
        self.ranges.push((o.start, o.end, value, o.in_b));
    }

    /// The row at position `pos` of the leaves' ranges and the leaf value it ended with, given
    /// the row array and the second buffer (for tests).
    #[cfg(test)]
    pub fn row_at(&self, pos: usize, bufs: [&[u32]; 2], bins: &BinMatrix) -> Option<(u32, f64)> {
        for &(s, e, v, in_b) in &self.ranges {
            if (s..e).contains(&pos) {
                return Some((bufs[in_b as usize][pos], v));
            }
        }
        for f in &self.splits {
            if (f.start..f.end).contains(&pos) {
                let r = bufs[f.in_b as usize][pos];
                let b = bins.column(f.feature).get(r as usize);
                let v = if f.table[b as usize] {
                    f.values[0]
                } else {
                    f.values[1]
                };
                return Some((r, v));
            }
        }
        None
    }
}

/// What [`grow_tree`] shares with the level steps.
struct Grower<'a> {
    bins: &'a BinMatrix,
    mapper: &'a BinMapper,
    features: &'a [usize],
    p: &'a TreeParams,
    gh: &'a [QPair],
    quant: &'a Quantizer,
    collective: &'a dyn Collective,
    cons: &'a Constraints,
}

impl Grower<'_> {
    /// May a node at `depth` with sums `s` and `count` rows (over all workers) be split?
    fn can_split(&self, depth: usize, s: GradPair, count: u64) -> bool {
        (self.p.max_depth == 0 || depth < self.p.max_depth)
            && count >= 2
            && s[1] >= 2.0 * self.p.min_child_weight
    }

    /// The best split of a node from its (global) integer histogram, under its constraints:
    /// monotone bounds and gain, and the features its path allows.
    fn best_split(
        &self,
        h: &[IntPair],
        sum: GradPair,
        bounds: Bounds,
        root_gain: f64,
        path: &[usize],
    ) -> Option<Candidate> {
        let hf = self.quant.histogram_to_f64(h);
        let allowed = self.cons.allowed(path, self.bins.n_features());
        let rule = NodeRule {
            monotone: &self.cons.monotone,
            bounds,
            root_gain,
            allowed: allowed.as_deref(),
        };
        find_best_split(
            &hf,
            self.mapper,
            self.bins,
            self.features,
            sum,
            self.p,
            &rule,
        )
    }

    /// The value of a child with sums `s` of a node with bounds `b`.
    fn child_value(&self, s: GradPair, b: &Bounds) -> f64 {
        if self.cons.has_monotone() {
            self.p.bounded_leaf_value(s, b)
        } else {
            self.p.leaf_value(s)
        }
    }

    /// The monotone state and path of the two children of `o` split by `c`:
    /// `[(bounds, root_gain, path); 2]`.
    fn child_states(&self, o: &Open, c: &Candidate) -> [(Bounds, f64, Vec<usize>); 2] {
        let path = if self.cons.has_interaction() {
            let mut p = o.path.clone();
            if let Err(i) = p.binary_search(&c.feature) {
                p.insert(i, c.feature);
            }
            p
        } else {
            Vec::new()
        };
        if !self.cons.has_monotone() {
            return [(Bounds::NONE, 0.0, path.clone()), (Bounds::NONE, 0.0, path)];
        }
        let b = &o.bounds;
        let (wl, wr) = (
            self.p.bounded_weight(c.left_sum, b),
            self.p.bounded_weight(c.right_sum, b),
        );
        let (lb, rb) = b.children(self.cons.monotone_of(c.feature), wl, wr);
        // As XGBoost: a child's own gain is taken at its weight bounded by its parent's
        // bounds.
        [
            (lb, self.p.bounded_gain(c.left_sum, b), path.clone()),
            (rb, self.p.bounded_gain(c.right_sum, b), path),
        ]
    }

    /// Writes the split of `o` into the tree and appends its two children as leaves.
    fn record_split(&self, tree: &mut Tree, o: &Open, c: &Candidate) -> usize {
        let missing_bin = self.bins.missing_bins()[c.feature];
        let li = tree.nodes.len();
        tree.nodes.push(Node::leaf(
            self.child_value(c.left_sum, &o.bounds),
            c.left_sum[1],
        ));
        tree.nodes.push(Node::leaf(
            self.child_value(c.right_sum, &o.bounds),
            c.right_sum[1],
        ));
        let cuts = &self.mapper.features[c.feature];
        let node = &mut tree.nodes[o.node];
        node.feature = c.feature as u32;
        node.left = li as u32;
        node.right = li as u32 + 1;
        node.default_left = c.default_left;
        node.gain = c.gain;
        match (&c.kind, cuts) {
            (SplitKind::Numeric(b), FeatureCuts::Numeric { thresholds }) => {
                node.threshold = thresholds[*b as usize];
            }
            (
                SplitKind::Categories(left_bins),
                FeatureCuts::Categorical {
                    num_categories,
                    bin_of_code,
                    code_of_bin,
                },
            ) => {
                let mut set = CategorySet::new(*num_categories);
                for &b in left_bins {
                    set.insert(code_of_bin[b as usize] as usize);
                }
                if c.default_left {
                    // Codes without a bin of their own were binned as missing.
                    for (code, &b) in bin_of_code.iter().enumerate() {
                        if b == missing_bin {
                            set.insert(code);
                        }
                    }
                }
                node.category_split = Some(tree.categories.len() as u32);
                tree.categories.push(set);
            }
            _ => unreachable!("split kind follows the feature kind"),
        }
        li
    }

    /// Splits every node of `level` (each has a best split), in order. Returns the children
    /// that can be split further, in FIFO order; the others go to `done`.
    fn split_level(
        &self,
        tree: &mut Tree,
        rows: &mut [u32],
        scratch: &mut [u32],
        level: Vec<Open>,
        done: &mut Leaves,
    ) -> Result<Vec<Open>> {
        let mut nodes: Vec<(Open, Candidate, usize)> = Vec::with_capacity(level.len());
        for mut o in level {
            let Some(c) = o.best.take() else {
                done.leaf(&o, tree.nodes[o.node].value);
                continue;
            };
            let li = self.record_split(tree, &o, &c);
            if self.p.max_depth > 0 && o.depth + 1 >= self.p.max_depth {
                // Its children are leaves: no partition needed.
                done.splits.push(FinalSplit {
                    start: o.start,
                    end: o.end,
                    feature: c.feature,
                    table: left_table(&c, self.bins.missing_bins()[c.feature]),
                    values: [tree.nodes[li].value, tree.nodes[li + 1].value],
                    in_b: o.in_b,
                });
                continue;
            }
            nodes.push((o, c, li));
        }
        // Partition each node's rows; nodes hold disjoint ranges of `rows`.
        let mut order: Vec<usize> = (0..nodes.len()).collect();
        order.sort_by_key(|&i| nodes[i].0.start);
        // Each node's range of both buffers: it is partitioned from the one holding its rows
        // into the other (or back, for large nodes).
        type Parts<'a> = (usize, &'a mut [u32], &'a mut [u32]);
        let mut slices: Vec<Parts<'_>> = Vec::with_capacity(nodes.len());
        let (mut rest, mut brest): (&mut [u32], &mut [u32]) = (rows, scratch);
        let mut consumed = 0;
        for &i in &order {
            let (s, e) = (nodes[i].0.start, nodes[i].0.end);
            let a = carve(&mut rest, s - consumed, e - s);
            let b = carve(&mut brest, s - consumed, e - s);
            slices.push((i, a, b));
            consumed = e;
        }
        // Back in the level's order.
        slices.sort_by_key(|&(i, _, _)| i);
        let work: Vec<NodeWork<'_>> = nodes
            .into_iter()
            .zip(slices)
            .map(|((open, cand, left), (_, a, b))| NodeWork {
                open,
                cand,
                left,
                a,
                b,
            })
            .collect();
        let opened: Vec<Open> = if self.collective.world_size() == 1 {
            // One worker: each node's partition, histogram and its children's split search
            // follow each other in one task (nothing to all-reduce between them), so a level
            // is one parallel step and the threads balance over all of its work.
            work.into_par_iter()
                .map(|w| self.split_node(w))
                .collect::<Vec<[Open; 2]>>()
                .into_iter()
                .flatten()
                .collect()
        } else {
            self.split_nodes_together(work)?
        };
        let mut next = Vec::with_capacity(opened.len());
        for o in opened {
            if o.best.is_some() {
                next.push(o);
            } else {
                done.leaf(&o, tree.nodes[o.node].value);
            }
        }
        Ok(next)
    }
}

/// A node being split at this level: its state, its split, the index of its left child in the
/// tree, and its range of both row buffers.
struct NodeWork<'a> {
    open: Open,
    cand: Candidate,
    left: usize,
    /// The node's range of the row array.
    a: &'a mut [u32],
    /// The node's range of the second buffer.
    b: &'a mut [u32],
}

/// What a node's partition decided, with global counts: where its children start and which
/// may split, and which child gets its histogram built (the other's is the parent's minus it).
struct Plan {
    /// The right child's first position, relative to the node's start (this worker's rows).
    mid: usize,
    left_count: u64,
    right_count: u64,
    left_can: bool,
    right_can: bool,
    left_smaller: bool,
}

/// One child of a split node, before its own split search: the node (its histogram, if
/// built, in `open.hist`; no best split yet), its sums, and whether it may split.
struct Child {
    open: Open,
    sum: GradPair,
    can: bool,
}

impl Grower<'_> {
    /// Partitions a node's rows from the buffer holding them into the other (or back):
    /// returns how many went left (on this worker) and whether its children's rows are in the
    /// second buffer.
    fn partition_node(&self, w: &mut NodeWork<'_>) -> (usize, bool) {
        let c = &w.cand;
        let table = left_table(c, self.bins.missing_bins()[c.feature]);
        let (src, dst) = if w.open.in_b {
            (&mut *w.b, &mut *w.a)
        } else {
            (&mut *w.a, &mut *w.b)
        };
        let (nl, moved) = partition(src, dst, self.bins, c.feature, &table);
        (nl, w.open.in_b != moved)
    }

    /// The plan of a node whose partition sent `n_left` of this worker's rows and
    /// `global_left` rows over all workers to the left.
    fn plan(&self, o: &Open, c: &Candidate, n_left: usize, global_left: u64) -> Plan {
        let (left_count, right_count) = (global_left, o.count - global_left);
        Plan {
            mid: n_left,
            left_count,
            right_count,
            left_can: self.can_split(o.depth + 1, c.left_sum, left_count),
            right_can: self.can_split(o.depth + 1, c.right_sum, right_count),
            left_smaller: left_count <= right_count,
        }
    }

    /// The rows (relative to the node's start) of the child whose histogram is built, when
    /// either child may split.
    fn histogram_range(pl: &Plan, len: usize) -> Option<std::ops::Range<usize>> {
        match (pl.left_can || pl.right_can, pl.left_smaller) {
            (false, _) => None,
            (true, true) => Some(0..pl.mid),
            (true, false) => Some(pl.mid..len),
        }
    }

    /// The two children of a split node, given the histogram built for the smaller one (the
    /// larger one's is the parent's minus it).
    fn children(
        &self,
        mut o: Open,
        c: &Candidate,
        left: usize,
        pl: &Plan,
        small: Option<Vec<IntPair>>,
        in_b: bool,
    ) -> [Child; 2] {
        let (mut lh, mut rh) = (None, None);
        if let Some(sm) = small {
            let mut parent = o.hist.take().unwrap_or_else(|| new_histogram(self.bins));
            subtract_histogram(&mut parent, &sm);
            if pl.left_smaller {
                (lh, rh) = (Some(sm), Some(parent));
            } else {
                (lh, rh) = (Some(parent), Some(sm));
            }
        }
        let depth = o.depth + 1;
        let [(lb, lg, lp), (rb, rg, rp)] = self.child_states(&o, c);
        let mid = o.start + pl.mid;
        [
            Child {
                open: Open {
                    node: left,
                    start: o.start,
                    end: mid,
                    count: pl.left_count,
                    depth,
                    in_b,
                    hist: lh,
                    best: None,
                    bounds: lb,
                    root_gain: lg,
                    path: lp,
                },
                sum: c.left_sum,
                can: pl.left_can,
            },
            Child {
                open: Open {
                    node: left + 1,
                    start: mid,
                    end: o.end,
                    count: pl.right_count,
                    depth,
                    in_b,
                    hist: rh,
                    best: None,
                    bounds: rb,
                    root_gain: rg,
                    path: rp,
                },
                sum: c.right_sum,
                can: pl.right_can,
            },
        ]
    }

    /// A child as an open node, with its best split searched when it may split (it keeps its
    /// histogram only when it has a split).
    fn open_child(&self, ch: Child) -> Open {
        let Child { mut open, sum, can } = ch;
        if let (true, Some(h)) = (can, open.hist.take()) {
            open.best = self.best_split(&h, sum, open.bounds, open.root_gain, &open.path);
            if open.best.is_some() {
                open.hist = Some(h);
            }
        }
        open
    }

    /// Splits one node on one worker: partition, the smaller child's histogram, both
    /// children's split search (the two searches in parallel).
    fn split_node(&self, mut w: NodeWork<'_>) -> [Open; 2] {
        let (n_left, in_b) = self.partition_node(&mut w);
        let NodeWork {
            open,
            cand,
            left,
            a,
            b,
        } = w;
        let pl = self.plan(&open, &cand, n_left, n_left as u64);
        let buf: &[u32] = if in_b { b } else { a };
        let small = Self::histogram_range(&pl, buf.len()).map(|r| {
            let mut h = build_histograms(
                self.bins,
                self.features,
                &[NodeRows::List(&buf[r])],
                self.gh,
                self.quant.max_abs(),
            );
            h.pop().unwrap_or_else(|| new_histogram(self.bins))
        });
        let [l, r] = self.children(open, &cand, left, &pl, small, in_b);
        let (l, r) = rayon::join(|| self.open_child(l), || self.open_child(r));
        [l, r]
    }

    /// Splits the nodes of a level over several workers: every node's partition, then one
    /// all-reduce of the rows going left, every histogram built, one all-reduce of them, and
    /// the children's split search; the children in node order.
    fn split_nodes_together(&self, mut work: Vec<NodeWork<'_>>) -> Result<Vec<Open>> {
        let parts: Vec<(usize, bool)> = work
            .par_iter_mut()
            .map(|w| self.partition_node(w))
            .collect();
        // Rows going left over all workers.
        let mut global_left: Vec<i64> = parts.iter().map(|&(k, _)| k as i64).collect();
        self.collective.all_reduce_sum_i64(&mut global_left)?;
        let plans: Vec<Plan> = work
            .iter()
            .zip(&parts)
            .zip(&global_left)
            .map(|((w, &(nl, _)), &gl)| self.plan(&w.open, &w.cand, nl, gl as u64))
            .collect();
        // The smaller child of each node that has a child to split gets a histogram built.
        // (`mid` is this worker's; the counts and the choices are global.)
        let requests: Vec<(usize, NodeRows<'_>)> = work
            .iter()
            .zip(&plans)
            .zip(&parts)
            .enumerate()
            .filter_map(|(i, ((w, pl), &(_, in_b)))| {
                let buf: &[u32] = if in_b { &*w.b } else { &*w.a };
                Self::histogram_range(pl, buf.len()).map(|r| (i, NodeRows::List(&buf[r])))
            })
            .collect();
        let lists: Vec<NodeRows<'_>> = requests.iter().map(|(_, r)| *r).collect();
        let mut built = build_histograms(
            self.bins,
            self.features,
            &lists,
            self.gh,
            self.quant.max_abs(),
        );
        all_reduce_histograms(self.collective, &mut built)?;
        let mut small: Vec<Option<Vec<IntPair>>> = (0..work.len()).map(|_| None).collect();
        for ((i, _), h) in requests.iter().zip(built) {
            small[*i] = Some(h);
        }
        let children: Vec<Child> = work
            .into_iter()
            .zip(&plans)
            .zip(small)
            .zip(&parts)
            .flat_map(|(((w, pl), sm), &(_, in_b))| {
                self.children(w.open, &w.cand, w.left, pl, sm, in_b)
            })
            .collect();
        Ok(children
            .into_par_iter()
            .map(|ch| self.open_child(ch))
            .collect())
    }
}

/// What one tree is grown from, besides its rows: the binned features, the features it may
/// split on, the parameters, each row's fixed-point pair and their scale, and the workers.
pub(crate) struct GrowInputs<'a> {
    /// This worker's binned rows.
    pub bins: &'a BinMatrix,
    /// The cut points (the same on every worker).
    pub mapper: &'a BinMapper,
    /// Features this tree may split on.
    pub features: &'a [usize],
    /// Tree parameters.
    pub params: &'a TreeParams,
    /// `gh[r]`: the fixed-point pair of row `r`.
    pub gh: &'a [QPair],
    /// The scale of `gh`.
    pub quant: &'a Quantizer,
    /// The workers training together.
    pub collective: &'a dyn Collective,
    /// Monotone and interaction constraints.
    pub constraints: &'a Constraints,
}

/// Grows one tree. `rows` holds this worker's rows used (0..n in order when `identity_rows`),
/// `n_global` the number of rows used over all workers. The rows are permuted so each leaf's
/// rows end up contiguous, in `rows` or in the second buffer `scratch[..rows.len()]` (see
/// [`Leaves`]).
pub(crate) fn grow_tree(
    inputs: &GrowInputs<'_>,
    rows: &mut [u32],
    n_global: u64,
    identity_rows: bool,
    scratch: &mut Vec<u32>,
) -> Result<(Tree, Leaves)> {
    let GrowInputs {
        bins,
        mapper,
        features,
        params: p,
        gh,
        quant,
        collective,
        constraints,
    } = *inputs;
    // The second row buffer nodes are partitioned into, kept across trees so a large buffer
    // is not allocated (and faulted in) again for every tree.
    if scratch.len() < rows.len() {
        scratch.resize(rows.len(), 0);
    }
    let scratch = &mut scratch[..rows.len()];
    let g = Grower {
        bins,
        mapper,
        features,
        p,
        gh,
        quant,
        collective,
        cons: constraints,
    };
    let n = rows.len();
    // The root's histogram (over all workers) gives its sums: every row is in exactly one slot
    // of each feature.
    let root_hist = if features.is_empty() {
        None
    } else {
        let node = if identity_rows {
            NodeRows::All
        } else {
            NodeRows::List(rows)
        };
        let mut h = build_histograms(bins, features, &[node], gh, quant.max_abs());
        all_reduce_histograms(collective, &mut h)?;
        Some(h.pop().unwrap_or_else(|| new_histogram(bins)))
    };
    let root_int: IntPair = match &root_hist {
        Some(h) => h[bins.slots(features[0])]
            .iter()
            .fold([0, 0], |a, s| [a[0] + s[0], a[1] + s[1]]),
        None => {
            let mut s = rows.iter().fold([0i64, 0], |a, &r| {
                let q = gh[r as usize];
                [a[0] + q[0] as i64, a[1] + q[1] as i64]
            });
            collective.all_reduce_sum_i64(&mut s)?;
            s
        }
    };
    let root_sum = quant.dequantize(root_int);
    let mut tree = Tree {
        nodes: vec![Node::leaf(p.leaf_value(root_sum), root_sum[1])],
        categories: Vec::new(),
    };
    let mut done = Leaves::default();
    let mut root = Open {
        node: 0,
        start: 0,
        end: n,
        count: n_global,
        depth: 0,
        in_b: false,
        hist: None,
        best: None,
        bounds: Bounds::NONE,
        root_gain: p.bounded_gain(root_sum, &Bounds::NONE),
        path: Vec::new(),
    };
    if let (true, Some(h)) = (g.can_split(0, root_sum, n_global), root_hist) {
        root.best = g.best_split(&h, root_sum, root.bounds, root.root_gain, &root.path);
        root.hist = Some(h);
    }
    let mut open: Vec<Open> = Vec::new();
    if root.best.is_some() {
        open.push(root);
    } else {
        done.leaf(&root, tree.nodes[0].value);
    }
    let mut leaves = 1usize;
    if p.grow_policy == GrowPolicy::Lossguide {
        // One node at a time: the largest gain first (the first found wins ties).
        loop {
            if p.max_leaves > 0 && leaves >= p.max_leaves {
                break;
            }
            let mut pick: Option<(usize, f64)> = None;
            for (i, o) in open.iter().enumerate() {
                if let Some(b) = &o.best {
                    if pick.is_none_or(|(_, gain)| b.gain > gain) {
                        pick = Some((i, b.gain));
                    }
                }
            }
            let Some((idx, _)) = pick else { break };
            let o = open.remove(idx);
            leaves += 1;
            let children = g.split_level(&mut tree, rows, scratch, vec![o], &mut done)?;
            open.extend(children);
        }
    } else {
        // A level at a time, in FIFO order; with max_leaves, the first nodes of the level.
        while !open.is_empty() {
            let mut level = std::mem::take(&mut open);
            if p.max_leaves > 0 {
                let room = p.max_leaves.saturating_sub(leaves);
                if level.len() > room {
                    open = level.split_off(room);
                }
            }
            if level.is_empty() {
                break;
            }
            leaves += level.len();
            let next = g.split_level(&mut tree, rows, scratch, level, &mut done)?;
            if !open.is_empty() {
                // The leaf budget ran out within this level.
                open.extend(next);
                break;
            }
            open = next;
        }
    }
    for o in open {
        done.leaf(&o, tree.nodes[o.node].value);
    }
    Ok((tree, done))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hist::RowPair;
    use crate::testing::{params, sum, Rng};
    use ml_dist::LocalCollective;
    use ndarray::Array2;

    /// Grows a tree on one worker from float pairs (quantized here).
    fn grow(
        bins: &BinMatrix,
        mapper: &BinMapper,
        features: &[usize],
        p: &TreeParams,
        rows: &mut [u32],
        gh: &[RowPair],
        scratch: &mut Vec<u32>,
    ) -> (Tree, Leaves) {
        let n = gh.len() as u64;
        let quant = Quantizer::global(gh, n, &LocalCollective).unwrap();
        let mut q = Vec::new();
        quant.quantize_all(gh, &mut q);
        let inputs = GrowInputs {
            bins,
            mapper,
            features,
            params: p,
            gh: &q,
            quant: &quant,
            collective: &LocalCollective,
            constraints: &Constraints::default(),
        };
        grow_tree(&inputs, rows, n, true, scratch).unwrap()
    }

    /// Brute-force exact greedy over the same bins: every feature, every bin boundary, both
    /// missing directions, with sums taken directly over the rows of the node.
    enum BNode {
        Leaf(f64),
        Split {
            feature: usize,
            bin: u8,
            default_left: bool,
            gain: f64,
            left: Box<BNode>,
            right: Box<BNode>,
        },
    }

    fn brute(
        bins: &BinMatrix,
        rows: &[usize],
        gh: &[RowPair],
        p: &TreeParams,
        depth: usize,
    ) -> BNode {
        let s = sum(rows, gh);
        let leaf = BNode::Leaf(p.leaf_value(s));
        if depth >= p.max_depth || rows.len() < 2 || s[1] < 2.0 * p.min_child_weight {
            return leaf;
        }
        let ps = p.score(s);
        let mut best: Option<(f64, usize, u8, bool)> = None;
        for f in 0..bins.n_features() {
            let col = bins.column(f);
            let mb = bins.missing_bins()[f];
            let has_missing = rows.iter().any(|&r| col.get(r) == mb);
            for b in 0..mb.saturating_sub(1) {
                for miss_left in [false, true] {
                    if miss_left && !has_missing {
                        continue;
                    }
                    let goes_left = |r: usize| {
                        if col.get(r) == mb {
                            miss_left
                        } else {
                            col.get(r) <= b
                        }
                    };
                    let l: Vec<usize> = rows.iter().copied().filter(|&r| goes_left(r)).collect();
                    let rr: Vec<usize> = rows.iter().copied().filter(|&r| !goes_left(r)).collect();
                    let (ls, rs) = (sum(&l, gh), sum(&rr, gh));
                    let dl = if has_missing {
                        miss_left
                    } else {
                        ls[1] >= rs[1]
                    };
                    if let Some(g) = p.split_gain(ls, rs, ps) {
                        if p.accept(g) && best.is_none_or(|(bg, ..)| g > bg) {
                            best = Some((g, f, b, dl));
                        }
                    }
                }
            }
        }
        let Some((gain, feature, bin, default_left)) = best else {
            return leaf;
        };
        let col = bins.column(feature);
        let mb = bins.missing_bins()[feature];
        let goes_left = |r: usize| {
            if col.get(r) == mb {
                default_left
            } else {
                col.get(r) <= bin
            }
        };
        let l: Vec<usize> = rows.iter().copied().filter(|&r| goes_left(r)).collect();
        let rr: Vec<usize> = rows.iter().copied().filter(|&r| !goes_left(r)).collect();
        BNode::Split {
            feature,
            bin,
            default_left,
            gain,
            left: Box::new(brute(bins, &l, gh, p, depth + 1)),
            right: Box::new(brute(bins, &rr, gh, p, depth + 1)),
        }
    }

    fn same(t: &Tree, i: usize, b: &BNode, mapper: &BinMapper) -> bool {
        let n = &t.nodes[i];
        match b {
            BNode::Leaf(v) => n.is_leaf() && (n.value - v).abs() <= 1e-6 * v.abs().max(1.0),
            BNode::Split {
                feature,
                bin,
                default_left,
                gain,
                left,
                right,
            } => {
                let FeatureCuts::Numeric { thresholds } = &mapper.features[*feature] else {
                    return false;
                };
                !n.is_leaf()
                    && n.feature as usize == *feature
                    && n.threshold == thresholds[*bin as usize]
                    && n.default_left == *default_left
                    && (n.gain - gain).abs() <= 1e-9 * gain.abs().max(1.0)
                    && same(t, n.left as usize, left, mapper)
                    && same(t, n.right as usize, right, mapper)
            }
        }
    }

    fn data(n: usize, d: usize, seed: u64) -> (Array2<f64>, Vec<RowPair>) {
        let mut rng = Rng(seed);
        let x = Array2::from_shape_fn((n, d), |(_, f)| {
            let u = rng.next();
            if f == 1 && u < 0.15 {
                f64::NAN
            } else {
                (u * 40.0).floor() + if f == 2 { rng.next() } else { 0.0 }
            }
        });
        // Logistic gradients at margin 0 of a label depending on the features.
        let gh = (0..n)
            .map(|i| {
                let v = x[[i, 0]] / 40.0
                    + if x[[i, 1]].is_nan() {
                        0.5
                    } else {
                        x[[i, 1]] / 80.0
                    };
                let y = if v + 0.3 * rng.next() > 0.8 { 1.0 } else { 0.0 };
                [0.5 - y as f32, 0.25]
            })
            .collect();
        (x, gh)
    }

    /// Large nodes go through the chunked parallel partition and its copy back; the result is

    #[test]
    fn tree_equals_brute_force_exact_greedy_over_the_same_bins() {
        for (seed, max_bin, depth) in [(1u64, 256, 4), (7, 8, 3), (99, 16, 5)] {
            let (x, gh) = data(300, 3, seed);
            let mapper = BinMapper::fit(x.view(), None, &[], max_bin);
            let bins = mapper.transform(x.view());
            let p = params(depth);
            let all: Vec<usize> = (0..300).collect();
            let expected = brute(&bins, &all, &gh, &p, 0);
            let mut rows: Vec<u32> = (0..300).collect();
            let feats = [0, 1, 2];
            let mut scratch = Vec::new();
            // Pairs of +-0.5 and 0.25 are exact in fixed point, so the sums equal the brute
            // force's f64 sums.
            let (tree, leaves) = grow(&bins, &mapper, &feats, &p, &mut rows, &gh, &mut scratch);
            assert!(tree.nodes.len() > 7, "a non-trivial tree");
            assert!(same(&tree, 0, &expected, &mapper), "seed {seed}: {tree:?}");
            // Leaf ranges cover every row once, and each row's leaf is the one it predicts to.
            let mut seen = vec![false; 300];
            assert!(
                !leaves.splits.is_empty(),
                "the last level is left unpartitioned"
            );
            for pos in 0..rows.len() {
                let (r, v) = leaves
                    .row_at(pos, [&rows, &scratch[..rows.len()]], &bins)
                    .expect("every row in a leaf");
                assert!(!seen[r as usize]);
                seen[r as usize] = true;
                let row: Vec<f64> = x.row(r as usize).to_vec();
                assert_eq!(tree.predict_row(&row), v);
            }
            assert!(seen.iter().all(|&s| s));
        }
    }

    #[test]
    fn lossguide_respects_max_leaves_and_picks_the_best_leaf_first() {
        let (x, gh) = data(300, 3, 3);
        let mapper = BinMapper::fit(x.view(), None, &[], 64);
        let bins = mapper.transform(x.view());
        let mut p = params(0);
        p.grow_policy = GrowPolicy::Lossguide;
        p.max_leaves = 5;
        let mut rows: Vec<u32> = (0..300).collect();
        let (tree, _) = grow(
            &bins,
            &mapper,
            &[0, 1, 2],
            &p,
            &mut rows,
            &gh,
            &mut Vec::new(),
        );
        assert_eq!(tree.num_leaves(), 5);
        // The root split is the same as depthwise's.
        p.grow_policy = GrowPolicy::Depthwise;
        p.max_depth = 1;
        let mut rows: Vec<u32> = (0..300).collect();
        let (stump, _) = grow(
            &bins,
            &mapper,
            &[0, 1, 2],
            &p,
            &mut rows,
            &gh,
            &mut Vec::new(),
        );
        assert_eq!(stump.nodes[0].feature, tree.nodes[0].feature);
        assert_eq!(stump.nodes[0].threshold, tree.nodes[0].threshold);
    }
}
