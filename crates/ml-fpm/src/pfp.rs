//! Parallel FP-growth (PFP; Li et al., "PFP: Parallel FP-Growth for Query Recommendation",
//! RecSys 2008), the scheme Spark MLlib's `FPGrowth` runs, in the two pieces a cluster
//! distributes. The counting of items and the shuffle are the cluster's job (the `ml-spark`
//! Python package does both in Spark); these functions are what each task runs.
//!
//! 1. Every frequent item gets a dense rank (`0..num_items`) and belongs to group
//!    [`group_of`]`(rank) = rank mod num_groups` (Spark's `HashPartitioner` on the rank).
//! 2. Each basket, as its ascending frequent ranks, yields one *conditional transaction* per
//!    group it touches ([`conditional_transactions`]): the basket's ranks up to and including its
//!    last item of that group. All the baskets of a group end up in one task.
//! 3. Each group builds one FP tree of its conditional transactions and mines only the itemsets
//!    whose last (highest-ranked) item belongs to the group ([`mine_group`]). Those itemsets'
//!    counts are exact: every basket holding such an itemset sent the group a prefix that holds
//!    it. Counts are integers, so the union over the groups is the same itemsets with the same
//!    counts as one FP-growth over all baskets, whatever the number of groups or tasks.
//!
//! ```
//! use ml_fpm::pfp::{conditional_transactions, mine_group, PfpGroup};
//!
//! // Baskets as ascending ranks of their frequent items (rank 0 = most frequent).
//! let baskets: Vec<Vec<u32>> = vec![vec![0, 1, 2], vec![0, 1], vec![0, 2], vec![1, 2]];
//! let num_groups = 2;
//! let mut by_group: Vec<Vec<Vec<u32>>> = vec![Vec::new(); num_groups];
//! for b in &baskets {
//!     conditional_transactions(b, num_groups, &mut |g, tx| by_group[g].push(tx.to_vec()));
//! }
//! let mut total = 0;
//! for (g, txs) in by_group.iter().enumerate() {
//!     let params = PfpGroup::new(g, num_groups, 3, 2);
//!     let found = mine_group(&params, txs.iter().map(|t| t.as_slice()))?;
//!     total += found.len();
//! }
//! // {0}, {1}, {2}, {0,1}, {0,2}, {1,2} appear in at least two baskets.
//! assert_eq!(total, 6);
//! # Ok::<(), ml_core::MlError>(())
//! ```

use ml_core::{MlError, Result};

use crate::order::sorted_order;
use crate::tree::{mine_items, GlobalTree, MineLimits, Transactions};
use crate::DEFAULT_MAX_ITEMSETS;

/// The group of the frequent item of rank `rank` among `num_groups` groups.
#[inline]
pub fn group_of(rank: u32, num_groups: usize) -> usize {
    rank as usize % num_groups.max(1)
}

/// Calls `emit(group, prefix)` once for every group that holds an item of `ranks` (a basket's
/// frequent item ranks, ascending and distinct), with the basket's ranks up to and including
/// its last item of that group: Spark's `genCondTransactions`. Groups come from the last item
/// backwards.
pub fn conditional_transactions(
    ranks: &[u32],
    num_groups: usize,
    emit: &mut dyn FnMut(usize, &[u32]),
) {
    let num_groups = num_groups.max(1);
    // A basket touches at most `ranks.len()` groups; a short list beats a bitmap of all groups.
    let mut seen: Vec<usize> = Vec::with_capacity(ranks.len().min(num_groups));
    for j in (0..ranks.len()).rev() {
        let g = group_of(ranks[j], num_groups);
        if !seen.contains(&g) {
            seen.push(g);
            emit(g, &ranks[..=j]);
            if seen.len() == num_groups {
                break;
            }
        }
    }
}

/// What [`mine_group`] mines: one group of a PFP run.
#[derive(Debug, Clone, PartialEq)]
pub struct PfpGroup {
    /// This group, in `0..num_groups`.
    pub group: usize,
    /// Number of groups of the run.
    pub num_groups: usize,
    /// Number of frequent items of the run (ranks are below it).
    pub num_items: usize,
    /// Minimum count of a frequent itemset (`ceil(min_support * baskets)`, at least 1).
    pub min_count: u64,
    /// Longest itemset mined (`None`: no limit).
    pub max_len: Option<usize>,
    /// Most itemsets this group may produce; more is an error naming `max_itemsets`.
    pub max_itemsets: usize,
}

impl PfpGroup {
    /// Group `group` of `num_groups`, over `num_items` frequent items, with minimum count
    /// `min_count`, no length limit and [`DEFAULT_MAX_ITEMSETS`].
    pub fn new(group: usize, num_groups: usize, num_items: usize, min_count: u64) -> Self {
        PfpGroup {
            group,
            num_groups,
            num_items,
            min_count,
            max_len: None,
            max_itemsets: DEFAULT_MAX_ITEMSETS,
        }
    }
}

/// Frequent itemsets of one group, flat: itemset `k` is `ranks[offsets[k]..offsets[k + 1]]`
/// (ascending ranks) found in `freq[k]` baskets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupItemsets {
    /// Start of each itemset in `ranks`, and the end of the last one.
    pub offsets: Vec<usize>,
    /// The itemsets' item ranks, ascending within each itemset.
    pub ranks: Vec<u32>,
    /// Number of baskets holding each itemset.
    pub freq: Vec<u64>,
}

impl GroupItemsets {
    /// Number of itemsets.
    pub fn len(&self) -> usize {
        self.freq.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.freq.is_empty()
    }

    /// The ranks of itemset `k`.
    pub fn get(&self, k: usize) -> &[u32] {
        &self.ranks[self.offsets[k]..self.offsets[k + 1]]
    }
}

/// Mines the conditional transactions of group `params.group` (every transaction
/// [`conditional_transactions`] emitted for it, in any order): one FP tree, and the itemsets
/// whose highest rank belongs to the group, with their exact counts. Transactions must hold
/// ascending, distinct ranks below `params.num_items` (an error otherwise). Runs on the
/// current thread.
pub fn mine_group<'a>(
    params: &PfpGroup,
    transactions: impl IntoIterator<Item = &'a [u32]>,
) -> Result<GroupItemsets> {
    if params.num_groups == 0 || params.group >= params.num_groups {
        return Err(MlError::param(
            "group",
            format!(
                "group {} is not in 0..{} groups",
                params.group, params.num_groups
            ),
        ));
    }
    if params.max_len == Some(0) {
        return Err(MlError::param("max_len", "must be at least 1, got 0"));
    }
    if params.max_itemsets == 0 {
        return Err(MlError::param("max_itemsets", "must be at least 1, got 0"));
    }
    let n_items = params.num_items;
    let mut tx = Transactions {
        offsets: vec![0],
        items: Vec::new(),
    };
    let mut support = vec![0u32; n_items];
    for (t, ranks) in transactions.into_iter().enumerate() {
        let mut prev: Option<u32> = None;
        for &r in ranks {
            if r as usize >= n_items || prev.is_some_and(|p| p >= r) {
                return Err(MlError::data(format!(
                    "conditional transaction {t} of group {}: ranks must be ascending, distinct \
                     and below {n_items}, got {ranks:?}",
                    params.group
                )));
            }
            prev = Some(r);
            support[r as usize] = support[r as usize].saturating_add(1);
        }
        tx.items.extend_from_slice(ranks);
        tx.offsets.push(tx.items.len());
    }
    let min_count = u32::try_from(params.min_count.max(1)).unwrap_or(u32::MAX);
    let order = sorted_order(&tx, false);
    let sorted = tx.permuted(&order);
    drop(order);
    drop(tx);
    let tree = GlobalTree::from_sorted(sorted, &support, 1);
    // The group's items that are frequent here (every basket holding one sent its prefix here,
    // so this is their global count).
    let items: Vec<usize> = (params.group..n_items)
        .step_by(params.num_groups)
        .filter(|&r| support[r] >= min_count)
        .collect();
    let limits = MineLimits::new(params.max_len, params.max_itemsets as u64);
    let found = mine_items(&tree, &items, min_count, false, &limits);
    if limits.exceeded() {
        return Err(MlError::param(
            "max_itemsets",
            format!(
                "more than {} frequent itemsets in group {} at minimum count {}; raise \
                 max_itemsets, raise min_support or set max_len",
                params.max_itemsets, params.group, min_count
            ),
        ));
    }
    Ok(GroupItemsets {
        offsets: found.offsets,
        ranks: found.items,
        freq: found.support.into_iter().map(u64::from).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fpgrowth::brute_force;

    /// A deterministic pseudo-random basket set over `n_items` items.
    fn baskets(n: usize, n_items: u64, seed: u64) -> Vec<Vec<i64>> {
        let mut s = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let mut next = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        (0..n)
            .map(|_| {
                let len = 1 + next() % 7;
                let mut b: Vec<i64> = (0..len).map(|_| (next() % n_items) as i64).collect();
                b.sort_unstable();
                b.dedup();
                b
            })
            .collect()
    }

    /// PFP over `num_groups` groups, as (sorted items, count) pairs.
    fn pfp(data: &[Vec<i64>], min_count: u64, num_groups: usize) -> Vec<(Vec<i64>, u64)> {
        // Ranks by descending count, ties by item.
        let mut counts = std::collections::BTreeMap::<i64, u64>::new();
        for b in data {
            for &i in b {
                *counts.entry(i).or_default() += 1;
            }
        }
        let mut freq: Vec<(i64, u64)> = counts.into_iter().filter(|c| c.1 >= min_count).collect();
        freq.sort_by_key(|&(i, c)| (std::cmp::Reverse(c), i));
        let rank: std::collections::HashMap<i64, u32> = freq
            .iter()
            .enumerate()
            .map(|(r, &(i, _))| (i, r as u32))
            .collect();
        let mut by_group: Vec<Vec<Vec<u32>>> = vec![Vec::new(); num_groups];
        for b in data {
            let mut r: Vec<u32> = b.iter().filter_map(|i| rank.get(i).copied()).collect();
            r.sort_unstable();
            conditional_transactions(&r, num_groups, &mut |g, t| by_group[g].push(t.to_vec()));
        }
        let mut out = Vec::new();
        for (g, txs) in by_group.iter().enumerate() {
            let p = PfpGroup::new(g, num_groups, freq.len(), min_count);
            let found = mine_group(&p, txs.iter().map(Vec::as_slice)).unwrap();
            for k in 0..found.len() {
                let mut items: Vec<i64> =
                    found.get(k).iter().map(|&r| freq[r as usize].0).collect();
                items.sort_unstable();
                out.push((items, found.freq[k]));
            }
        }
        out.sort();
        out
    }

    #[test]
    fn pfp_itemsets_equal_brute_force_at_any_number_of_groups() {
        for seed in 0..6 {
            let data = baskets(300, 12, seed);
            for min_count in [3, 10, 40] {
                let mut expected = brute_force(&data, min_count);
                for e in expected.iter_mut() {
                    e.0.sort_unstable();
                }
                expected.sort();
                for groups in [1, 2, 3, 5, 16] {
                    assert_eq!(
                        pfp(&data, min_count, groups),
                        expected,
                        "seed {seed}, min count {min_count}, {groups} groups"
                    );
                }
            }
        }
    }

    #[test]
    fn conditional_transactions_end_at_each_groups_last_item() {
        let mut got = Vec::new();
        conditional_transactions(&[0, 1, 2, 3, 5], 2, &mut |g, t| got.push((g, t.to_vec())));
        assert_eq!(got, vec![(1, vec![0, 1, 2, 3, 5]), (0, vec![0, 1, 2])]);
    }

    #[test]
    fn unsorted_or_out_of_range_ranks_are_an_error() {
        let p = PfpGroup::new(0, 1, 3, 1);
        let bad: Vec<u32> = vec![2, 1];
        assert!(mine_group(&p, [bad.as_slice()]).is_err());
        let bad: Vec<u32> = vec![0, 3];
        assert!(mine_group(&p, [bad.as_slice()]).is_err());
        assert!(mine_group(&PfpGroup::new(2, 2, 3, 1), std::iter::empty()).is_err());
    }
}
