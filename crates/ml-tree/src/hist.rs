//! The histogram kernel: sums of (gradient, hessian) per bin, per feature, over a node's rows.
//!
//! Histograms are compact (see [`BinMatrix`]): feature `f`'s bins are the slots
//! [`BinMatrix::slots`]. The kernel walks a node's rows once and, for each row, adds its pair
//! to one slot per *group* of features (see [`JointSlots`]: features with few bins share a
//! joint histogram, one slot per combination of their bins), reading the row's slots from a
//! row-major matrix (one cache line per row, as XGBoost's `hist` does). Each member's
//! histogram is then summed out of the joint one, so callers see one histogram per feature.
//!
//! Rows carry their pair in fixed point ([`QPair`], see [`crate::fixed`]) and histograms sum
//! them in `i64` ([`IntPair`]): integer sums do not depend on the order of the terms, so the
//! result is the same bits at any thread count, for any split of the rows into blocks, and
//! for any split of the rows between workers (whose histograms are then all-reduced). Work is
//! split into blocks of rows, sized by all the rows asked for at once, so a large node among
//! small ones keeps every thread busy.
//!
//! Small pairs are summed two at a time: when no value exceeds `max_abs` in magnitude, the
//! sums of `2^30 / max_abs` rows fit in 31 bits, so a row adds `g * 2^32 + h` to one `i64`
//! slot, and every that many rows the slots are split back into their two sums and added to
//! the `i64` pairs (see [`packed_window`]). One 64-bit addition per slot instead of two, in a
//! histogram half the size (which stays in the L1 cache on click logs); the same exact sums.

use ml_dist::Collective;
use rayon::prelude::*;

use crate::binning::{BinMatrix, JointSlots};

/// Sums `[gradient, hessian]` in `f64`, as the split search reads them.
pub type GradPair = [f64; 2];

/// One row's `[gradient, hessian]` as the objective computes it, in single precision as
/// XGBoost does.
pub type RowPair = [f32; 2];

/// One row's `[gradient, hessian]` in fixed point (see [`crate::fixed::Quantizer`]).
pub type QPair = [i32; 2];

/// One bin's exact sums `[gradient, hessian]` in fixed point.
pub type IntPair = [i64; 2];

/// A zeroed histogram over `bins`.
pub fn new_histogram(bins: &BinMatrix) -> Vec<IntPair> {
    vec![[0, 0]; bins.hist_len()]
}

/// The rows of one node.
#[derive(Debug, Clone, Copy)]
pub enum NodeRows<'a> {
    /// Every row `0..n`, in order.
    All,
    /// These rows, in this order.
    List(&'a [u32]),
}

impl NodeRows<'_> {
    fn len(&self, n_rows: usize) -> usize {
        match self {
            NodeRows::All => n_rows,
            NodeRows::List(r) => r.len(),
        }
    }
}

/// How many rows ahead the kernel prefetches a scattered row. Far enough ahead for a row held
/// in the last-level cache or memory to arrive in time: on clicks (AMD EPYC with AVX-512, 2
/// threads) training took 1.17 s with 32 or 48 rows against 1.26 s with 16 and 1.48 s with 8
/// (medians of 5 alternating runs).
const PREFETCH: usize = 32;

/// Asks the CPU to bring the cache line holding `p` into cache; a hint only, with no effect on
/// results (and none on targets without a prefetch instruction).
#[inline(always)]
pub(crate) fn prefetch(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never faults and does not access memory architecturally, whatever the
    // address; SSE is part of the x86_64 baseline.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Fewest rows per block. Every block sums into a partial histogram of its own (zeroed, then
/// added into the node's), so small blocks cost more in those than they gain in balance.
const MIN_BLOCK: usize = 4096;
/// Blocks per thread a tree level's rows are cut into: enough tasks for the threads to balance
/// the level's nodes, however unequal their sizes.
const BLOCKS_PER_THREAD: usize = 4;

/// The rows per block of a tree level whose nodes hold `total` rows in all: the level cut into
/// [`BLOCKS_PER_THREAD`] blocks per thread of the pool, of at least [`MIN_BLOCK`] rows. A
/// large node is cut into several blocks, a small one is one block, so one large node among
/// small ones (the smaller child of the root's split, say) does not keep one thread busy
/// while the other waits. (The sums are exact, so the blocks do not change the histograms.)
fn block_size(total: usize) -> usize {
    let max_blocks = BLOCKS_PER_THREAD * rayon::current_num_threads().max(1);
    MIN_BLOCK.max(total.div_ceil(max_blocks))
}

/// Row blocks `(start, end)` of a node with `n` rows, of `size` rows (the last one shorter).
fn blocks(n: usize, size: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..n.div_ceil(size)).map(move |b| (b * size, ((b + 1) * size).min(n)))
}

/// Fewest rows between two flushes of a packed histogram (see [`packed_window`]): below it,
/// splitting the slots back into pairs costs more than the packing saves.
const MIN_PACKED_WINDOW: usize = 1024;

/// How many rows' pairs a packed histogram may sum before it is flushed, when no gradient or
/// hessian exceeds `max_abs` in magnitude: `2^30 / max_abs` rows sum to at most `2^30` in
/// each half, so the hessian sum fits the low 32 bits as an `i32` and the gradient sum the
/// high ones, and the `i64` never overflows. `None` (sum the pairs one by one) when that is
/// fewer than [`MIN_PACKED_WINDOW`] rows: the 30-bit pairs of unbounded objectives.
fn packed_window(max_abs: u32) -> Option<usize> {
    let window = (1usize << 30) / (max_abs.max(1) as usize);
    (window >= MIN_PACKED_WINDOW).then_some(window)
}

/// Builds the histogram of each node, over the listed `features` (all features when
/// `features` covers them all in order; slots of features not listed stay zero).
///
/// `gh[r]` is the pair of row `r`, for every row of `bins`; no gradient or hessian in it
/// exceeds `max_abs` in magnitude ([`crate::fixed::Quantizer::max_abs`]).
pub fn build_histograms(
    bins: &BinMatrix,
    features: &[usize],
    nodes: &[NodeRows<'_>],
    gh: &[QPair],
    max_abs: u32,
) -> Vec<Vec<IntPair>> {
    let n_rows = bins.n_rows();
    let all = every_feature(features, bins.n_features());
    // One task per (node, block), in node order then block order.
    let n_of = |rows: &NodeRows<'_>| rows.len(n_rows.min(gh.len()));
    let size = block_size(nodes.iter().map(n_of).sum());
    let tasks: Vec<(usize, usize, usize)> = nodes
        .iter()
        .enumerate()
        .flat_map(|(i, rows)| blocks(n_of(rows), size).map(move |(s, e)| (i, s, e)))
        .collect();
    // Over all features, rows are summed into joint slots of feature groups.
    let joint = if all { bins.joint() } else { None };
    let partial_len = joint.map_or(bins.hist_len(), |j| j.len());
    let window = packed_window(max_abs);
    let partials: Vec<Vec<IntPair>> = tasks
        .par_iter()
        .map(|&(i, s, e)| {
            let mut h = vec![[0, 0]; partial_len];
            match nodes[i] {
                NodeRows::All => {
                    accumulate(bins, features, joint, window, s..e, gh, &mut h);
                }
                NodeRows::List(rows) => {
                    let rows = &rows[s..e];
                    // Rows of a node deep in the tree are scattered: fetch the bins and the
                    // pair of the row PREFETCH rows ahead while summing this one.
                    let (ptr, w): (*const u8, usize) = match joint {
                        Some(j) => (j.slots.as_ptr().cast(), 2 * j.n_groups()),
                        None => (bins.data().as_ptr(), bins.n_features()),
                    };
                    let it = rows.iter().enumerate().map(|(j, &r)| {
                        if let Some(&ahead) = rows.get(j + PREFETCH) {
                            let a = ahead as usize;
                            prefetch(ptr.wrapping_add(a * w));
                            prefetch(ptr.wrapping_add(a * w + w - 1));
                            prefetch(gh.as_ptr().wrapping_add(a).cast());
                        }
                        r as usize
                    });
                    accumulate(bins, features, joint, window, it, gh, &mut h);
                }
            }
            h
        })
        .collect();
    // Add each node's partials (exact: any order gives the same sums).
    let mut per_node: Vec<Vec<Vec<IntPair>>> = (0..nodes.len()).map(|_| Vec::new()).collect();
    for ((i, _, _), h) in tasks.iter().zip(partials) {
        per_node[*i].push(h);
    }
    per_node
        .into_par_iter()
        .map(|parts| {
            let mut it = parts.into_iter();
            let Some(mut acc) = it.next() else {
                return new_histogram(bins);
            };
            for p in it {
                for (a, b) in acc.iter_mut().zip(&p) {
                    a[0] += b[0];
                    a[1] += b[1];
                }
            }
            match joint {
                Some(j) => unfold_joint(bins, j, &acc),
                None => acc,
            }
        })
        .collect()
}

/// The per-feature histogram of a joint one: each member's slot sums the joint slots holding
/// its bin, in joint slot order.
fn unfold_joint(bins: &BinMatrix, joint: &JointSlots, acc: &[IntPair]) -> Vec<IntPair> {
    let mut h = new_histogram(bins);
    let offsets = bins.offsets();
    let sizes = &joint.sizes;
    for (g, members) in joint.groups.iter().enumerate() {
        let part = &acc[joint.base[g]..joint.base[g + 1]];
        if let [f] = members[..] {
            // A feature without missing rows has no joint slot for its missing bin (zero).
            h[offsets[f]..offsets[f] + part.len()].copy_from_slice(part);
            continue;
        }
        // Mixed-radix digits of the joint index: the bin of each member.
        let mut digit = vec![0usize; members.len()];
        for v in part {
            for (m, &f) in members.iter().enumerate() {
                let e = &mut h[offsets[f] + digit[m]];
                e[0] += v[0];
                e[1] += v[1];
            }
            for (m, &f) in members.iter().enumerate() {
                digit[m] += 1;
                if digit[m] < sizes[f] {
                    break;
                }
                digit[m] = 0;
            }
        }
    }
    h
}

/// Adds the rows' pairs into `hist` (as `build_histograms` does for one node, with the
/// largest magnitude in `gh` as the bound).
pub fn build_histogram(
    bins: &BinMatrix,
    features: &[usize],
    rows: Option<&[u32]>,
    gh: &[QPair],
    hist: &mut [IntPair],
) {
    let node = match rows {
        Some(r) => NodeRows::List(r),
        None => NodeRows::All,
    };
    let max_abs = gh
        .iter()
        .map(|p| p[0].unsigned_abs().max(p[1].unsigned_abs()))
        .max()
        .unwrap_or(0);
    let h = build_histograms(bins, features, &[node], gh, max_abs);
    if let Some(h) = h.first() {
        for (a, b) in hist.iter_mut().zip(h) {
            a[0] += b[0];
            a[1] += b[1];
        }
    }
}

/// Whether `features` lists every one of `d` features, in order.
fn every_feature(features: &[usize], d: usize) -> bool {
    features.len() == d && features.iter().enumerate().all(|(i, &f)| i == f)
}

/// Sums rows into `h`, one row at a time: into the joint slots of `joint` when given (`h`
/// then has [`JointSlots::len`] slots; packed when `window` is given, see
/// [`packed_window`]), else into every listed feature's slots.
#[inline]
fn accumulate(
    bins: &BinMatrix,
    features: &[usize],
    joint: Option<&JointSlots>,
    window: Option<usize>,
    rows: impl Iterator<Item = usize>,
    gh: &[QPair],
    h: &mut [IntPair],
) {
    if let Some(j) = joint {
        let ng = j.n_groups();
        assert_eq!(h.len(), j.len(), "joint histogram size");
        if let Some(window) = window {
            accumulate_packed(j, window, rows, gh, h);
            return;
        }
        for r in rows {
            let g = [gh[r][0] as i64, gh[r][1] as i64];
            for &s in &j.slots[r * ng..(r + 1) * ng] {
                debug_assert!((s as usize) < h.len());
                // SAFETY: group `g`'s slots are below `base[g + 1] <= len() == h.len()`
                // (`BinMatrix::new` clamps bins to the missing bin, so every member's digit is
                // below its slot count).
                let e = unsafe { h.get_unchecked_mut(s as usize) };
                e[0] += g[0];
                e[1] += g[1];
            }
        }
        return;
    }
    let d = bins.n_features();
    let data = bins.data();
    let offsets = &bins.offsets()[..d];
    assert_eq!(h.len(), bins.hist_len(), "histogram size");
    if every_feature(features, d) {
        // Every feature, in order (the compact layout's every histogram): the row's bins
        // zipped with the features' first slots, without bounds checks.
        for r in rows {
            let g = [gh[r][0] as i64, gh[r][1] as i64];
            for (&b, &o) in data[r * d..(r + 1) * d].iter().zip(offsets) {
                debug_assert!(o + (b as usize) < h.len());
                // SAFETY: `BinMatrix::with_layout` clamps feature f's bins to its missing bin,
                // and `offsets[f] + missing_bin[f] < offsets[f + 1] <= hist_len() == h.len()`.
                let e = unsafe { h.get_unchecked_mut(o + b as usize) };
                e[0] += g[0];
                e[1] += g[1];
            }
        }
        return;
    }
    for r in rows {
        let g = [gh[r][0] as i64, gh[r][1] as i64];
        let row = &data[r * d..(r + 1) * d];
        for &f in features {
            let e = &mut h[offsets[f] + row[f] as usize];
            e[0] += g[0];
            e[1] += g[1];
        }
    }
}

/// [`accumulate`] over joint slots with each row's pair packed into one `i64`,
/// `g * 2^32 + h`: the sum of such values over rows is `G * 2^32 + H` exactly while
/// `|G|, |H| < 2^31`, which holds for `window` rows (see [`packed_window`]); every `window`
/// rows, and at the end, the packed slots are split into `[G, H]` and added to `h`.
#[inline]
fn accumulate_packed(
    j: &JointSlots,
    window: usize,
    rows: impl Iterator<Item = usize>,
    gh: &[QPair],
    h: &mut [IntPair],
) {
    let ng = j.n_groups();
    let mut packed = vec![0i64; h.len()];
    let mut left = window;
    for r in rows {
        let p = ((gh[r][0] as i64) << 32) + gh[r][1] as i64;
        for &s in &j.slots[r * ng..(r + 1) * ng] {
            debug_assert!((s as usize) < packed.len());
            // SAFETY: as in `accumulate`: every joint slot is below `len() == packed.len()`.
            let e = unsafe { packed.get_unchecked_mut(s as usize) };
            *e += p;
        }
        left -= 1;
        if left == 0 {
            unpack_into(&mut packed, h);
            left = window;
        }
    }
    unpack_into(&mut packed, h);
}

/// Adds each packed slot `G * 2^32 + H` (with `|G|, |H| < 2^31`) to `h` as `[G, H]` and
/// zeroes it. The low 32 bits read as an `i32` are `H`; what remains is `G * 2^32`.
fn unpack_into(packed: &mut [i64], h: &mut [IntPair]) {
    for (p, e) in packed.iter_mut().zip(h.iter_mut()) {
        let hess = *p as i32 as i64;
        e[0] += (*p - hess) >> 32;
        e[1] += hess;
        *p = 0;
    }
}

/// Replaces each histogram by its sum over all workers, in one all-reduce (the histograms are
/// laid end to end). Exact, so the result does not depend on the worker count or the ring
/// order. With one worker there is nothing to add and the copy is skipped.
pub fn all_reduce_histograms(
    collective: &dyn Collective,
    hists: &mut [Vec<IntPair>],
) -> ml_dist::Result<()> {
    if collective.world_size() == 1 {
        return Ok(());
    }
    let mut buf: Vec<i64> = hists
        .iter()
        .flat_map(|h| h.iter().flatten().copied())
        .collect();
    collective.all_reduce_sum_i64(&mut buf)?;
    let mut it = buf.chunks_exact(2);
    for h in hists.iter_mut() {
        for (s, v) in h.iter_mut().zip(it.by_ref()) {
            *s = [v[0], v[1]];
        }
    }
    Ok(())
}

/// `parent -= child` slot by slot: the larger sibling's histogram from its parent's and the
/// smaller sibling's.
pub fn subtract_histogram(parent: &mut [IntPair], child: &[IntPair]) {
    for (p, c) in parent.iter_mut().zip(child) {
        p[0] -= c[0];
        p[1] -= c[1];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matrix() -> BinMatrix {
        // 3 features x 6 rows, column-major.
        BinMatrix::from_columns(
            6,
            3,
            vec![0, 1, 1, 2, 0, 3, 5, 5, 5, 5, 5, 5, 0, 1, 0, 1, 0, 1],
            vec![3, 6, 2],
        )
    }

    #[test]
    fn histogram_sums_match_a_direct_count_with_and_without_row_lists() {
        let b = matrix();
        let s1 = b.slots(1).start;
        let s2 = b.slots(2).start;
        let gh: Vec<QPair> = (0..6).map(|i| [i, 1 + i]).collect();
        let mut h = new_histogram(&b);
        build_histogram(&b, &[0, 1, 2], None, &gh, &mut h);
        assert_eq!(h[0], [4, 1 + 5]);
        assert_eq!(h[1], [1 + 2, 2 + 3]);
        assert_eq!(h[3], [5, 6], "bin 3 of feature 0 is its missing bin");
        assert_eq!(h[s1 + 5], [15, 21]);
        let rows = [1u32, 3, 5];
        let mut hs = new_histogram(&b);
        build_histogram(&b, &[0, 2], Some(&rows), &gh, &mut hs);
        assert_eq!(hs[s2 + 1], [9, 12]);
        assert_eq!(hs[s1 + 5], [0, 0], "feature 1 not asked for");
        subtract_histogram(&mut h, &hs);
        assert_eq!(h[s2 + 1], [0, 0]);
        assert_eq!(h[s2], [6, 9]);
    }

    /// A direct per-slot sum over many rows and several nodes, split into several blocks,
    /// against the kernel at 1 and 2 threads: exactly equal. Twice: with 30-bit pairs (summed
    /// one by one) and with 17-bit pairs (summed packed, flushed every 8,192 rows), whose
    /// first 20,000 rows all hold the extreme values (so the packed sums reach their bound).
    #[test]
    fn multi_node_blocks_equal_direct_sums_at_any_thread_count() {
        let (n, d) = (50_000usize, 5usize);
        let mut s = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        let missing: Vec<u8> = vec![255, 3, 17, 1, 64];
        let data: Vec<u8> = (0..n * d)
            .map(|i| (next() % (missing[i % d] as u64 + 1)) as u8)
            .collect();
        let bins = BinMatrix::new(n, d, data, missing);
        assert!(bins.joint().is_some(), "the kernel sums joint slots");
        let wide: Vec<QPair> = (0..n)
            .map(|_| {
                [
                    (next() % (1 << 30)) as i32 - (1 << 29),
                    (next() % (1 << 30)) as i32,
                ]
            })
            .collect();
        let narrow: Vec<QPair> = (0..n)
            .map(|i| match i {
                0..10_000 => [1 << 17, 1 << 17],
                10_000..20_000 => [-(1 << 17), -(1 << 17)],
                _ => [
                    (next() % (1 << 18)) as i32 - (1 << 17),
                    (next() % (1 << 18)) as i32 - (1 << 17),
                ],
            })
            .collect();
        assert_eq!(packed_window(1 << 30), None);
        assert_eq!(packed_window(1 << 17), Some(8192));
        let odd: Vec<u32> = (0..n as u32).filter(|r| r % 3 != 0).collect();
        let few: Vec<u32> = vec![7, 11, 4000, 49_999];
        let nodes = [NodeRows::All, NodeRows::List(&odd), NodeRows::List(&few)];
        let feats: Vec<usize> = (0..d).collect();
        for (gh, max_abs) in [(&wide, 1 << 30), (&narrow, 1 << 17)] {
            let run = |t: usize| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(t)
                    .build()
                    .unwrap()
                    .install(|| build_histograms(&bins, &feats, &nodes, gh, max_abs))
            };
            let one = run(1);
            let two = run(2);
            assert_eq!(one, two, "bit-identical at 1 and 2 threads");
            let lists: [Vec<u32>; 3] = [(0..n as u32).collect(), odd.clone(), few.clone()];
            for (h, rows) in one.iter().zip(&lists) {
                let mut direct = new_histogram(&bins);
                for &r in rows {
                    for f in 0..d {
                        let slot = bins.slots(f).start + bins.get(r as usize, f) as usize;
                        direct[slot][0] += gh[r as usize][0] as i64;
                        direct[slot][1] += gh[r as usize][1] as i64;
                    }
                }
                assert_eq!(h, &direct, "pairs of at most {max_abs}");
            }
        }
    }
}
