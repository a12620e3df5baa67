//! The FP-growth engine: the global FP tree, arena-backed conditional trees over dense item ranks
//! and the mining recursion.
//!
//! Items are ranks `0..n` ordered by descending support (rank 0 = most frequent). Every
//! transaction is a sorted slice of ranks, so a root-to-leaf path lists items in ascending rank.
//!
//! * The transactions are copied into lexicographic order ([`crate::order`]), so each shares a
//!   prefix with the previous one: the global tree's nodes are the new suffixes, met in
//!   depth-first order. The global tree ([`GlobalTree`]) is kept as its header table only: per
//!   item, its nodes in depth-first order, each a count and a reference to its path inside the
//!   sorted transactions. Reading the prefix paths of an item is then a loop of independent,
//!   contiguous reads in ascending address order, where a pointer tree chases parent links
//!   (dependent cache misses: most of the mining time on large sparse data).
//! * Building a conditional tree gathers the item's pattern base into flat buffers once (paths
//!   root first, with their counts), counts its items from there, and inserts the frequent part
//!   of each path from there too (no second walk of the source).
//! * Conditional trees reuse per-depth arenas (`Vec`s cleared, never freed), so mining allocates
//!   nothing per node. Consecutive prefix paths of an item share long prefixes (depth-first order),
//!   so insertion walks the previous path first and searches children only past the divergence.
//! * A tree that is a single path emits all combinations of its items directly; a pattern base
//!   with one frequent item makes a one-node tree without reading its paths again.
//! * Mining of the global tree runs in parallel over the header table (one task per item); outputs
//!   are concatenated in item order, so the result is identical at any thread count.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use rayon::prelude::*;

const NONE: u32 = u32::MAX;

/// Bounds of one mining run, shared by its parallel tasks: the longest itemset kept
/// (`max_len`) and the most itemsets produced (`max_itemsets`). Tasks count the itemsets they
/// produce ([`Budget`]) and add them to the shared total every [`Budget::FLUSH`] itemsets (a
/// single path's combinations are counted before any is written), so going over the budget
/// stops every task within a few thousand itemsets of it, long before memory runs out. Only
/// produced itemsets are counted: a run is over budget exactly when its total count is, at
/// any thread count.
pub(crate) struct MineLimits {
    max_len: usize,
    max_itemsets: u64,
    produced: AtomicU64,
    exceeded: AtomicBool,
}

impl MineLimits {
    /// `max_len` of `None` means no limit.
    pub fn new(max_len: Option<usize>, max_itemsets: u64) -> Self {
        MineLimits {
            max_len: max_len.unwrap_or(usize::MAX),
            max_itemsets,
            produced: AtomicU64::new(0),
            exceeded: AtomicBool::new(false),
        }
    }

    /// Adds `n` produced itemsets to the total; false when the total is over the budget.
    fn add(&self, n: u64) -> bool {
        let total = self
            .produced
            .fetch_add(n, Ordering::Relaxed)
            .saturating_add(n);
        if total > self.max_itemsets {
            self.exceeded.store(true, Ordering::Relaxed);
        }
        !self.exceeded.load(Ordering::Relaxed)
    }

    /// Whether the run went over `max_itemsets` (its output is then incomplete).
    pub fn exceeded(&self) -> bool {
        self.exceeded.load(Ordering::Relaxed)
    }
}

/// One task's count of the itemsets it produced and has not yet added to the shared total.
struct Budget<'a> {
    limits: &'a MineLimits,
    pending: u64,
}

impl<'a> Budget<'a> {
    /// Itemsets counted locally before they are added to the shared total.
    const FLUSH: u64 = 4096;

    fn new(limits: &'a MineLimits) -> Self {
        Budget { limits, pending: 0 }
    }

    /// Counts `n` more itemsets about to be written; false when the run is over budget (the
    /// caller then writes nothing more).
    fn take(&mut self, n: u64) -> bool {
        self.pending = self.pending.saturating_add(n);
        if self.pending >= Self::FLUSH {
            return self.flush();
        }
        true
    }

    /// Adds the pending count to the shared total; false when the run is over budget.
    fn flush(&mut self) -> bool {
        let n = std::mem::take(&mut self.pending);
        self.limits.add(n)
    }

    fn max_len(&self) -> usize {
        self.limits.max_len
    }
}

/// The number of combinations [`emit_single_path`] emits for a path of `len` nodes after a
/// prefix of `prefix_len` items, with itemsets of at most `max_len` items: for the deepest
/// node `d`, every subset of the `d` nodes above it of at most `max_len - prefix_len - 1`
/// items. Saturates at `u64::MAX`.
fn single_path_count(len: usize, prefix_len: usize, max_len: usize) -> u64 {
    let Some(room) = max_len.checked_sub(prefix_len + 1) else {
        return 0;
    };
    // Binomials C(d, j) for j <= room, built row by row (Pascal's rule, saturating).
    let width = room.min(len) + 1;
    let mut row = vec![0u64; width];
    row[0] = 1;
    let mut total = 0u64;
    // At step d, row[j] = C(d, j): the combinations with deepest node d and j nodes above it.
    for _ in 0..len {
        total = row.iter().fold(total, |t, &c| t.saturating_add(c));
        for j in (1..width).rev() {
            row[j] = row[j].saturating_add(row[j - 1]);
        }
    }
    total
}

/// Transactions as CSR: `items[offsets[t]..offsets[t + 1]]` are the ascending ranks of basket `t`.
#[derive(Debug, Default, Clone)]
pub(crate) struct Transactions {
    pub offsets: Vec<usize>,
    pub items: Vec<u32>,
}

impl Transactions {
    pub fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }
    pub fn get(&self, t: usize) -> &[u32] {
        &self.items[self.offsets[t]..self.offsets[t + 1]]
    }

    /// The transactions `order` lists, copied in that order (so that a lexicographic order
    /// makes the tree building and the reads of the paths sequential).
    pub fn permuted(&self, order: &[u32]) -> Transactions {
        let mut offsets = Vec::with_capacity(order.len() + 1);
        offsets.push(0);
        let total = order.iter().map(|&t| self.get(t as usize).len()).sum();
        let mut items = Vec::with_capacity(total);
        for &t in order {
            items.extend_from_slice(self.get(t as usize));
            offsets.push(items.len());
        }
        Transactions { offsets, items }
    }
}

#[derive(Debug, Clone, Copy)]
struct Node {
    item: u32,
    parent: u32,
    count: u32,
}

/// A node of the global tree, kept as a reference into the transactions it was built from: the
/// transaction that created it holds the node's item at `end` of the flat item array and the
/// node's path from the root (exclusive) just before it, `items[end - depth..end]`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct PrefixNode {
    end: usize,
    depth: u32,
    count: u32,
}

impl PrefixNode {
    /// The items on the path from the root to this node (exclusive), root first.
    fn path<'a>(&self, items: &'a [u32]) -> &'a [u32] {
        &items[self.end - self.depth as usize..self.end]
    }
}

/// The length of the common prefix of two slices.
fn common_prefix(a: &[u32], b: &[u32]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// The nodes created by one chunk of the sorted transactions, in creation (depth-first) order.
struct LocalNodes {
    nodes: Vec<PrefixNode>,
    /// The item of each node.
    items: Vec<u32>,
    first_items: Vec<u32>,
    last_items: Vec<u32>,
    /// The nodes of the chunk's last path, root first.
    last_nodes: Vec<u32>,
    max_depth: usize,
}

/// The nodes of the sorted transactions `range` of `tx`.
fn build_local(tx: &Transactions, range: std::ops::Range<usize>) -> LocalNodes {
    let mut nodes: Vec<PrefixNode> = Vec::with_capacity(range.len() * 4);
    let mut items: Vec<u32> = Vec::with_capacity(range.len() * 4);
    let mut path: Vec<u32> = Vec::new();
    let mut prev: &[u32] = &[];
    let mut first: Option<&[u32]> = None;
    let mut max_depth = 0;
    for t in range {
        let cur = tx.get(t);
        if cur.is_empty() {
            continue;
        }
        first.get_or_insert(cur);
        let l = common_prefix(prev, cur);
        for &n in &path[..l] {
            nodes[n as usize].count += 1;
        }
        path.truncate(l);
        max_depth = max_depth.max(cur.len());
        let start = tx.offsets[t];
        for (d, &it) in cur.iter().enumerate().skip(l) {
            path.push(nodes.len() as u32);
            nodes.push(PrefixNode {
                end: start + d,
                depth: d as u32,
                count: 1,
            });
            items.push(it);
        }
        prev = cur;
    }
    LocalNodes {
        nodes,
        items,
        first_items: first.unwrap_or(&[]).to_vec(),
        last_items: prev.to_vec(),
        last_nodes: path,
        max_depth,
    }
}

/// The global FP tree, kept as its header table: for each item, its nodes in depth-first order,
/// each a count and a reference to its path inside the transactions' flat item array.
///
/// Mining an item reads the paths of its nodes: each is one contiguous read at an address known
/// up front, where a pointer tree chases parent links (a chain of dependent cache misses, most of
/// the mining time on large sparse data). The nodes are those of the pointer tree (one per
/// distinct transaction prefix), so the counts are the same.
#[derive(Debug, Default)]
pub(crate) struct GlobalTree {
    /// The transactions' items (ascending ranks per transaction).
    items: Vec<u32>,
    hdr_start: Vec<usize>,
    hdr: Vec<PrefixNode>,
    /// Support of each item.
    support: Vec<u32>,
    /// Longest transaction (bounds the recursion depth).
    max_depth: usize,
}

impl GlobalTree {
    /// Number of items (header-table entries).
    pub fn num_items(&self) -> usize {
        self.support.len()
    }

    /// Builds the tree of the transactions `tx` (ranks `< support.len()`), which must be in
    /// lexicographic order ([`Transactions::permuted`] by
    /// [`sorted_order`](crate::order::sorted_order)), from `parts` chunks in parallel.
    pub fn from_sorted(tx: Transactions, support: &[u32], parts: usize) -> GlobalTree {
        let n_items = support.len();
        let n = tx.len();
        let parts = parts.clamp(1, n.max(1));
        if parts == 1 {
            let (hdr_start, hdr, max_depth) = header_direct(&tx, n_items);
            return GlobalTree {
                items: tx.items,
                hdr_start,
                hdr,
                support: support.to_vec(),
                max_depth,
            };
        }
        let chunk = n.div_ceil(parts).max(1);
        // Each chunk of the sorted transactions lists its nodes in parallel; a chunk's first path
        // shares its first nodes with the previous chunk's last path (the only nodes two sorted
        // chunks can share): those are dropped and their counts added to the earlier nodes.
        let ranges: Vec<std::ops::Range<usize>> = (0..n)
            .step_by(chunk)
            .map(|s| s..(s + chunk).min(n))
            .collect();
        let mut locals: Vec<LocalNodes> = ranges
            .into_par_iter()
            .map(|r| build_local(&tx, r))
            .collect();
        let skip = merge_boundaries(&mut locals);
        let max_depth = locals.iter().map(|l| l.max_depth).max().unwrap_or(0);
        let (hdr_start, hdr) = header_of(&locals, &skip, n_items);
        GlobalTree {
            items: tx.items,
            hdr_start,
            hdr,
            support: support.to_vec(),
            max_depth,
        }
    }

    fn header(&self, item: usize) -> &[PrefixNode] {
        &self.hdr[self.hdr_start[item]..self.hdr_start[item + 1]]
    }
}

/// The header table of the sorted transactions `tx`, built in place by one thread (no list of
/// nodes in creation order to copy from): a first pass counts the nodes of each item (a
/// transaction adds one for each of its items past the prefix it shares with the previous
/// transaction), a second writes them, setting a node's count when it leaves the current path
/// (the number of transactions since it was created). Returns the header as CSR and the
/// longest transaction. The same nodes, in the same order, as the chunked build.
fn header_direct(tx: &Transactions, n_items: usize) -> (Vec<usize>, Vec<PrefixNode>, usize) {
    let mut start = vec![0usize; n_items + 1];
    let mut prev: &[u32] = &[];
    let mut max_depth = 0;
    for t in 0..tx.len() {
        let cur = tx.get(t);
        if cur.is_empty() {
            continue;
        }
        for &it in &cur[common_prefix(prev, cur)..] {
            start[it as usize + 1] += 1;
        }
        max_depth = max_depth.max(cur.len());
        prev = cur;
    }
    for i in 0..n_items {
        start[i + 1] += start[i];
    }
    let mut nodes = vec![PrefixNode::default(); start[n_items]];
    let mut cursor: Vec<usize> = start[..n_items].to_vec();
    // The current path: (header index, transactions seen before the node was created).
    let mut path: Vec<(usize, u32)> = Vec::new();
    let mut prev: &[u32] = &[];
    let mut seen = 0u32;
    for t in 0..tx.len() {
        let cur = tx.get(t);
        if cur.is_empty() {
            continue;
        }
        let l = common_prefix(prev, cur);
        for &(k, since) in &path[l..] {
            nodes[k].count = seen - since;
        }
        path.truncate(l);
        let off = tx.offsets[t];
        for (d, &it) in cur.iter().enumerate().skip(l) {
            let k = cursor[it as usize];
            cursor[it as usize] += 1;
            nodes[k] = PrefixNode {
                end: off + d,
                depth: d as u32,
                count: 0,
            };
            path.push((k, seen));
        }
        seen += 1;
        prev = cur;
    }
    for &(k, since) in &path {
        nodes[k].count = seen - since;
    }
    (start, nodes, max_depth)
}

/// Merges the nodes each chunk shares with the previous chunks' last path into those nodes;
/// returns, per chunk, how many of its first nodes are such duplicates.
fn merge_boundaries(locals: &mut [LocalNodes]) -> Vec<usize> {
    let mut skip = vec![0usize; locals.len()];
    // (chunk, node) of each node of the last path so far, root first.
    let mut last: Vec<(usize, u32)> = Vec::new();
    let mut last_items: Vec<u32> = Vec::new();
    for k in 0..locals.len() {
        if locals[k].nodes.is_empty() {
            continue;
        }
        // The first transaction of a chunk created its nodes 0..len at depths 0..len.
        let l = common_prefix(&last_items, &locals[k].first_items);
        for (j, &(pk, pn)) in last.iter().enumerate().take(l) {
            let c = locals[k].nodes[j].count;
            locals[pk].nodes[pn as usize].count += c;
        }
        skip[k] = l;
        let local = &locals[k];
        last = local
            .last_nodes
            .iter()
            .map(|&j| {
                if (j as usize) < l {
                    last[j as usize]
                } else {
                    (k, j)
                }
            })
            .collect();
        last_items.clone_from(&local.last_items);
    }
    skip
}

/// The header table of the chunks' nodes (without the `skip` first of each): per item, its
/// nodes in depth-first order, as CSR (`start`, `nodes`).
fn header_of(
    locals: &[LocalNodes],
    skip: &[usize],
    n_items: usize,
) -> (Vec<usize>, Vec<PrefixNode>) {
    let mut start = vec![0usize; n_items + 1];
    for (local, &s) in locals.iter().zip(skip) {
        for &it in &local.items[s..] {
            start[it as usize + 1] += 1;
        }
    }
    for i in 0..n_items {
        start[i + 1] += start[i];
    }
    let mut nodes = vec![PrefixNode::default(); start[n_items]];
    let mut cursor: Vec<usize> = start[..n_items].to_vec();
    for (local, &s) in locals.iter().zip(skip) {
        for (node, &it) in local.nodes[s..].iter().zip(&local.items[s..]) {
            let c = &mut cursor[it as usize];
            nodes[*c] = *node;
            *c += 1;
        }
    }
    (start, nodes)
}

/// An FP tree. Node 0 is the root. Local item ids `0..m` map to global ranks through `global`.
#[derive(Debug, Default)]
pub(crate) struct FpTree {
    nodes: Vec<Node>,
    first_child: Vec<u32>,
    next_sibling: Vec<u32>,
    root_child: Vec<u32>,
    hdr_start: Vec<u32>,
    hdr_nodes: Vec<u32>,
    /// Support of each local item in this (conditional) database.
    support: Vec<u32>,
    /// Local item id -> global rank.
    global: Vec<u32>,
    single_path: bool,
}

impl FpTree {
    /// Number of items (header-table entries).
    pub fn num_items(&self) -> usize {
        self.global.len()
    }

    fn reset(&mut self, m: usize) {
        self.nodes.clear();
        self.nodes.push(Node {
            item: NONE,
            parent: NONE,
            count: 0,
        });
        self.first_child.clear();
        self.first_child.push(NONE);
        self.next_sibling.clear();
        self.next_sibling.push(NONE);
        self.root_child.clear();
        self.root_child.resize(m, NONE);
        self.single_path = true;
    }

    fn build_header(&mut self, m: usize) {
        self.hdr_start.clear();
        self.hdr_start.resize(m + 1, 0);
        for n in &self.nodes[1..] {
            self.hdr_start[n.item as usize + 1] += 1;
        }
        for i in 0..m {
            self.hdr_start[i + 1] += self.hdr_start[i];
        }
        self.hdr_nodes.clear();
        self.hdr_nodes.resize(self.nodes.len() - 1, 0);
        // Fill using a moving cursor per item (reuse root_child as scratch is unsafe; allocate).
        let mut cursor: Vec<u32> = self.hdr_start[..m].to_vec();
        for (id, n) in self.nodes.iter().enumerate().skip(1) {
            let c = &mut cursor[n.item as usize];
            self.hdr_nodes[*c as usize] = id as u32;
            *c += 1;
        }
    }

    fn header(&self, item: usize) -> &[u32] {
        &self.hdr_nodes[self.hdr_start[item] as usize..self.hdr_start[item + 1] as usize]
    }

    /// Inserts a root-first path with a count. `prev_items`/`prev_nodes` hold the previously
    /// inserted path, whose shared prefix is reused without any child search.
    fn insert(
        &mut self,
        items: &[u32],
        count: u32,
        prev_items: &mut Vec<u32>,
        prev_nodes: &mut Vec<u32>,
    ) {
        let l = prev_items
            .iter()
            .zip(items)
            .take_while(|(a, b)| a == b)
            .count();
        for &n in &prev_nodes[..l] {
            self.nodes[n as usize].count += count;
        }
        prev_items.truncate(l);
        prev_nodes.truncate(l);
        let mut parent = if l == 0 { 0 } else { prev_nodes[l - 1] };
        for &it in &items[l..] {
            // Find the child of `parent` holding `it`.
            let mut found = NONE;
            if parent == 0 {
                found = self.root_child[it as usize];
            } else {
                let mut c = self.first_child[parent as usize];
                while c != NONE {
                    if self.nodes[c as usize].item == it {
                        found = c;
                        break;
                    }
                    c = self.next_sibling[c as usize];
                }
            }
            let node = if found != NONE {
                self.nodes[found as usize].count += count;
                found
            } else {
                let id = self.nodes.len() as u32;
                let head = self.first_child[parent as usize];
                if head != NONE {
                    self.single_path = false;
                }
                self.nodes.push(Node {
                    item: it,
                    parent,
                    count,
                });
                self.first_child.push(NONE);
                self.next_sibling.push(head);
                self.first_child[parent as usize] = id;
                if parent == 0 {
                    self.root_child[it as usize] = id;
                }
                id
            };
            prev_items.push(it);
            prev_nodes.push(node);
            parent = node;
        }
    }
}

/// Frequent itemsets found by a mining task, flat: itemset `k` is
/// `items[offsets[k]..offsets[k + 1]]` (ascending global ranks) with support `support[k]`.
#[derive(Debug, Default, Clone)]
pub(crate) struct ItemsetBuf {
    pub offsets: Vec<usize>,
    pub items: Vec<u32>,
    pub support: Vec<u32>,
}

impl ItemsetBuf {
    pub fn new() -> Self {
        ItemsetBuf {
            offsets: vec![0],
            items: Vec::new(),
            support: Vec::new(),
        }
    }
    pub fn len(&self) -> usize {
        self.support.len()
    }
    fn push(&mut self, prefix: &[u32], extra: &[u32], support: u32) {
        let start = self.items.len();
        self.items.extend_from_slice(prefix);
        self.items.extend_from_slice(extra);
        self.items[start..].sort_unstable();
        self.offsets.push(self.items.len());
        self.support.push(support);
    }
    pub fn append(&mut self, other: &ItemsetBuf) {
        let base = self.items.len();
        self.items.extend_from_slice(&other.items);
        self.offsets
            .extend(other.offsets[1..].iter().map(|&o| o + base));
        self.support.extend_from_slice(&other.support);
    }
}

/// Per-worker scratch: one arena per recursion depth plus counting buffers.
#[derive(Default)]
pub(crate) struct Scratch {
    levels: Vec<FpTree>,
    bufs: ScratchBufs,
    prefix: Vec<u32>,
    combo: Vec<u32>,
}

/// The buffers of a conditional-tree construction (apart from the levels, so that a level can
/// be borrowed beside them).
#[derive(Default)]
struct ScratchBufs {
    /// Support of each source item in the pattern base (zero outside `touched`).
    counts: Vec<u32>,
    /// The source items with a non-zero count.
    touched: Vec<u32>,
    /// The frequent ones among them.
    frequent: Vec<u32>,
    /// Source item -> conditional item (`NONE` outside `touched`).
    map: Vec<u32>,
    /// The pattern base, gathered by the first pass so the second does not walk the source again.
    base: PatternBase,
    path: Vec<u32>,
    prev_items: Vec<u32>,
    prev_nodes: Vec<u32>,
}

/// The conditional pattern base of an item: path `k` (root first, source item ids) is
/// `items[ends[k - 1]..ends[k]]` (from 0 for `k = 0`), with count `counts[k]`.
#[derive(Default)]
struct PatternBase {
    items: Vec<u32>,
    ends: Vec<usize>,
    counts: Vec<u32>,
}

impl ScratchBufs {
    /// Empties the pattern base and sizes the counters for `m` source items.
    fn start(&mut self, m: usize) {
        if self.counts.len() < m {
            self.counts.resize(m, 0);
            self.map.resize(m, NONE);
        }
        self.base.items.clear();
        self.base.ends.clear();
        self.base.counts.clear();
    }

    /// Closes the path appended to `base.items` since `start`, unless it is empty.
    fn close_path(&mut self, start: usize, count: u32) {
        if self.base.items.len() > start {
            self.base.ends.push(self.base.items.len());
            self.base.counts.push(count);
        }
    }

    /// Gathers (and counts) the pattern base of `item` of the global tree. The paths are copied
    /// first, in a loop of independent reads whose cache misses overlap, then counted from the
    /// copy.
    fn gather_global(&mut self, tree: &GlobalTree, item: usize) {
        self.start(tree.num_items());
        let hdr = tree.header(item);
        let total: usize = hdr.iter().map(|n| n.depth as usize).sum();
        self.base.items.reserve(total);
        for node in hdr {
            let start = self.base.items.len();
            // A loop rather than a memcpy call: the paths are a few items long.
            for &it in node.path(&tree.items) {
                self.base.items.push(it);
            }
            self.close_path(start, node.count);
        }
        self.count_base();
    }

    /// Gathers (and counts) the pattern base of `item` of a conditional tree.
    fn gather_tree(&mut self, tree: &FpTree, item: usize) {
        self.start(tree.num_items());
        for &n in tree.header(item) {
            let start = self.base.items.len();
            let mut p = tree.nodes[n as usize].parent;
            while p != 0 {
                let node = &tree.nodes[p as usize];
                self.base.items.push(node.item);
                p = node.parent;
            }
            self.base.items[start..].reverse();
            self.close_path(start, tree.nodes[n as usize].count);
        }
        self.count_base();
    }

    /// Counts the items of the gathered paths into `counts` and lists them in `touched`.
    ///
    /// Branch-free: every item is written at the end of `touched`, which only grows when the
    /// item was new (many are, in an unpredictable pattern, on sparse data).
    fn count_base(&mut self) {
        // At most one entry per gathered item, plus the slot written past the last new one.
        let bound = self.base.items.len().min(self.counts.len()) + 1;
        self.touched.clear();
        self.touched.resize(bound, 0);
        let mut n = 0;
        let mut start = 0;
        for (&end, &c) in self.base.ends.iter().zip(&self.base.counts) {
            for &it in &self.base.items[start..end] {
                let slot = &mut self.counts[it as usize];
                self.touched[n] = it;
                n += usize::from(*slot == 0);
                *slot += c;
            }
            start = end;
        }
        self.touched.truncate(n);
    }

    /// Builds the conditional tree of the gathered pattern base into `dst`: its frequent items
    /// (`to_global` maps a source item to its global rank) and the frequent part of every path.
    /// Returns false (and leaves `dst` stale) when no item is frequent.
    fn build(&mut self, to_global: impl Fn(u32) -> u32, min_count: u32, dst: &mut FpTree) -> bool {
        // The frequent items, in source order (only they are sorted: the touched items of a
        // large pattern base are many, its frequent ones few).
        self.frequent.clear();
        self.frequent.extend(
            self.touched
                .iter()
                .copied()
                .filter(|&it| self.counts[it as usize] >= min_count),
        );
        self.frequent.sort_unstable();
        dst.global.clear();
        dst.support.clear();
        for &it in &self.frequent {
            self.map[it as usize] = dst.global.len() as u32;
            dst.global.push(to_global(it));
            dst.support.push(self.counts[it as usize]);
        }
        let m = dst.global.len();
        if m > 0 {
            dst.reset(m);
            self.prev_items.clear();
            self.prev_nodes.clear();
            if m == 1 {
                // One frequent item: a single node holding its support.
                let support = dst.support[0];
                dst.insert(&[0], support, &mut self.prev_items, &mut self.prev_nodes);
            } else {
                self.insert_paths(dst);
            }
            dst.build_header(m);
        }
        for &it in &self.touched {
            self.counts[it as usize] = 0;
            self.map[it as usize] = NONE;
        }
        m > 0
    }

    /// Inserts the frequent part of every gathered path into `dst`.
    fn insert_paths(&mut self, dst: &mut FpTree) {
        let mut start = 0;
        for (k, &end) in self.base.ends.iter().enumerate() {
            self.path.clear();
            self.path.extend(
                self.base.items[start..end]
                    .iter()
                    .map(|&it| self.map[it as usize])
                    .filter(|&x| x != NONE),
            );
            start = end;
            if !self.path.is_empty() {
                dst.insert(
                    &self.path,
                    self.base.counts[k],
                    &mut self.prev_items,
                    &mut self.prev_nodes,
                );
            }
        }
    }
}

/// Emits every non-empty combination of the single-path tree `tree` (nodes `1..`, root first,
/// counts non-increasing) joined with `prefix`, of at most `max_len` items; the support of a
/// combination is the count of its deepest node. Nothing is emitted when the combinations
/// would exceed the itemset budget.
fn emit_single_path(
    tree: &FpTree,
    prefix: &[u32],
    combo: &mut Vec<u32>,
    budget: &mut Budget<'_>,
    out: &mut ItemsetBuf,
) {
    // Iterate combinations by their deepest node d: all subsets of the nodes above it plus d.
    fn rec(
        tree: &FpTree,
        upto: usize,
        support: u32,
        prefix: &[u32],
        combo: &mut Vec<u32>,
        max_len: usize,
        out: &mut ItemsetBuf,
    ) {
        out.push(prefix, combo, support);
        if prefix.len() + combo.len() >= max_len {
            return;
        }
        for k in (1..upto).rev() {
            combo.push(tree.global[tree.nodes[k].item as usize]);
            rec(tree, k, support, prefix, combo, max_len, out);
            combo.pop();
        }
    }
    let len = tree.nodes.len() - 1;
    let max_len = budget.max_len();
    if !budget.take(single_path_count(len, prefix.len(), max_len)) {
        return;
    }
    for d in 1..=len {
        let node = &tree.nodes[d];
        combo.clear();
        combo.push(tree.global[node.item as usize]);
        rec(tree, d, node.count, prefix, combo, max_len, out);
    }
}

/// Mines `levels[0]` (a tree whose itemsets all extend `prefix`) recursively.
fn mine_level(
    levels: &mut [FpTree],
    bufs: &mut ScratchBufs,
    prefix: &mut Vec<u32>,
    combo: &mut Vec<u32>,
    min_count: u32,
    budget: &mut Budget<'_>,
    out: &mut ItemsetBuf,
) {
    let (head, rest) = levels.split_first_mut().expect("levels");
    let tree: &FpTree = head;
    if tree.single_path {
        emit_single_path(tree, prefix, combo, budget, out);
        return;
    }
    // Itemsets here have prefix.len() + 1 items; longer ones come from the conditional trees.
    let deeper = prefix.len() + 2 <= budget.max_len();
    for i in (0..tree.num_items()).rev() {
        if !budget.take(1) {
            return;
        }
        out.push(prefix, &[tree.global[i]], tree.support[i]);
        if i == 0 || !deeper {
            continue;
        }
        let (next, _) = rest.split_first_mut().expect("levels");
        bufs.gather_tree(tree, i);
        if bufs.build(|it| tree.global[it as usize], min_count, next) {
            prefix.push(tree.global[i]);
            mine_level(rest, bufs, prefix, combo, min_count, budget, out);
            prefix.pop();
        }
    }
}

impl Scratch {
    fn ensure_depth(&mut self, depth: usize) {
        while self.levels.len() < depth {
            self.levels.push(FpTree::default());
        }
    }

    /// Mines every itemset whose least frequent item is `item` of the global tree.
    pub fn mine_item(
        &mut self,
        global: &GlobalTree,
        item: usize,
        min_count: u32,
        limits: &MineLimits,
        out: &mut ItemsetBuf,
    ) {
        let mut budget = Budget::new(limits);
        self.mine_item_within(global, item, min_count, &mut budget, out);
        budget.flush();
    }

    fn mine_item_within(
        &mut self,
        global: &GlobalTree,
        item: usize,
        min_count: u32,
        budget: &mut Budget<'_>,
        out: &mut ItemsetBuf,
    ) {
        if !budget.take(1) {
            return;
        }
        out.push(&[], &[item as u32], global.support[item]);
        if item == 0 || budget.max_len() < 2 {
            return;
        }
        // Depth bound: at most `item` further items can join the prefix.
        self.ensure_depth(item.min(global.max_depth) + 2);
        let Scratch {
            levels,
            bufs,
            prefix,
            combo,
        } = self;
        bufs.gather_global(global, item);
        if bufs.build(|it| it, min_count, &mut levels[0]) {
            prefix.clear();
            prefix.push(item as u32);
            mine_level(levels, bufs, prefix, combo, min_count, budget, out);
        }
    }
}

/// Mines the header items `items` of the global tree in parallel (rayon, current pool) and
/// returns their itemsets concatenated in the order of `items`. When the run goes over
/// `limits`' itemset budget ([`MineLimits::exceeded`]) the result is incomplete.
pub(crate) fn mine_items(
    tree: &GlobalTree,
    items: &[usize],
    min_count: u32,
    parallel: bool,
    limits: &MineLimits,
) -> ItemsetBuf {
    if !parallel {
        let mut scratch = Scratch::default();
        let mut out = ItemsetBuf::new();
        for &i in items {
            scratch.mine_item(tree, i, min_count, limits, &mut out);
        }
        return out;
    }
    let parts: Vec<ItemsetBuf> = items
        .par_iter()
        .with_max_len(1)
        .map_init(Scratch::default, |scratch, &i| {
            let mut out = ItemsetBuf::new();
            scratch.mine_item(tree, i, min_count, limits, &mut out);
            out
        })
        .collect();
    let mut out = ItemsetBuf::new();
    for p in &parts {
        out.append(p);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{single_path_count, GlobalTree};
    use crate::order::sorted_order;
    use crate::order::test_rows::{random_rows, transactions};

    #[test]
    fn direct_and_chunked_builds_give_the_same_nodes_with_brute_force_counts() {
        for (seed, n, n_items) in [
            (1u64, 3000usize, 6u32),
            (2, 2000, 30),
            (3, 40, 4),
            (4, 1, 3),
        ] {
            let rows = random_rows(seed, n, n_items, 10);
            let tx = transactions(&rows);
            let sorted = tx.permuted(&sorted_order(&tx, false));
            let support = vec![0u32; n_items as usize];
            let one = GlobalTree::from_sorted(sorted.clone(), &support, 1);
            for parts in [2, 3, 7] {
                let t = GlobalTree::from_sorted(sorted.clone(), &support, parts);
                assert_eq!(t.hdr_start, one.hdr_start, "seed {seed} parts {parts}");
                assert_eq!(t.hdr, one.hdr, "seed {seed} parts {parts}");
                assert_eq!(t.max_depth, one.max_depth);
            }
            // One node per distinct prefix, counting the transactions that start with it.
            let mut prefixes = std::collections::BTreeSet::new();
            for r in &rows {
                for k in 1..=r.len() {
                    prefixes.insert(&r[..k]);
                }
            }
            assert_eq!(one.hdr.len(), prefixes.len(), "seed {seed}");
            for i in 0..n_items as usize {
                for node in one.header(i) {
                    let prefix = &one.items[node.end - node.depth as usize..=node.end];
                    assert_eq!(prefix.last(), Some(&(i as u32)));
                    let c = rows.iter().filter(|r| r.starts_with(prefix)).count();
                    assert_eq!(node.count as usize, c, "seed {seed} prefix {prefix:?}");
                }
            }
        }
    }

    /// Counts by enumeration: for each deepest node `d`, the subsets of the `d` nodes above it
    /// whose size with the deepest node and the prefix is at most `max_len`.
    fn enumerate(len: usize, prefix_len: usize, max_len: usize) -> u64 {
        let mut n = 0;
        for d in 0..len {
            for mask in 0u32..(1 << d) {
                if prefix_len + 1 + mask.count_ones() as usize <= max_len {
                    n += 1;
                }
            }
        }
        n
    }

    #[test]
    fn single_path_count_matches_enumeration() {
        for len in 0..12 {
            for prefix_len in 0..4 {
                for max_len in [1, 2, 3, 5, 8, usize::MAX] {
                    assert_eq!(
                        single_path_count(len, prefix_len, max_len),
                        enumerate(len, prefix_len, max_len),
                        "len {len} prefix {prefix_len} max_len {max_len}"
                    );
                }
            }
        }
        assert_eq!(single_path_count(40, 0, usize::MAX), (1 << 40) - 1);
        assert_eq!(single_path_count(200, 0, usize::MAX), u64::MAX);
        assert_eq!(single_path_count(5, 3, 3), 0);
    }
}
