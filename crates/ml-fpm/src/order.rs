//! The lexicographic order of the transactions, which the FP tree is built from.
//!
//! A comparison sort of a million transactions compares two scattered slices at every step;
//! here the transactions are radix-sorted by their first two items (one sequential pass to make
//! the keys, a few counting passes), and only the runs that share both items are sorted by
//! comparing the rest.

use rayon::prelude::*;

use crate::tree::Transactions;

/// Bits of the key sorted by one counting pass.
const DIGIT_BITS: u32 = 11;

/// Indices of the non-empty transactions in lexicographic order of their rank lists (equal
/// transactions in any order: they make the same tree).
pub(crate) fn sorted_order(tx: &Transactions, parallel: bool) -> Vec<u32> {
    let nonempty = (0..tx.len() as u32).filter(|&t| !tx.get(t as usize).is_empty());
    // The key of a transaction [a, b, ...] is a * base + b + 1 ([a] alone: a * base), which
    // orders transactions by their first two items; it must fit the 32 high bits of a u64 whose
    // low bits hold the transaction index.
    let max_item = nonempty
        .clone()
        .flat_map(|t| tx.get(t as usize).iter().take(2))
        .max()
        .map_or(0, |&m| m as u64);
    let base = max_item + 2;
    let keyed = base.checked_mul(base).is_some_and(|k| k <= 1 << 32);
    if !keyed {
        return comparison_order(tx, nonempty.collect(), parallel);
    }
    let mut packed: Vec<u64> = nonempty
        .map(|t| {
            let s = tx.get(t as usize);
            let key = s[0] as u64 * base + s.get(1).map_or(0, |&b| b as u64 + 1);
            key << 32 | t as u64
        })
        .collect();
    let key_bits = 64 - (base * base - 1).leading_zeros();
    radix_sort(&mut packed, 32, 32 + key_bits);
    // Transactions of one run share their first two items (or are the same single item).
    let rest = |a: &u64, b: &u64| {
        let tail = |x: &u64| tx.get(*x as u32 as usize).get(2..).unwrap_or(&[]);
        tail(a).cmp(tail(b))
    };
    let same_key = |a: &u64, b: &u64| a >> 32 == b >> 32;
    if parallel {
        packed
            .par_chunk_by_mut(same_key)
            .for_each(|run| run.sort_unstable_by(rest));
    } else {
        for run in packed.chunk_by_mut(same_key) {
            run.sort_unstable_by(rest);
        }
    }
    packed.into_iter().map(|x| x as u32).collect()
}

/// Sorts `order` by comparing whole transactions (the fallback for very large ranks).
fn comparison_order(tx: &Transactions, mut order: Vec<u32>, parallel: bool) -> Vec<u32> {
    let cmp = |a: &u32, b: &u32| tx.get(*a as usize).cmp(tx.get(*b as usize));
    if parallel {
        order.par_sort_unstable_by(cmp);
    } else {
        order.sort_unstable_by(cmp);
    }
    order
}

/// Stable LSD radix sort of `v` by bits `lo..hi` (the other bits do not take part).
fn radix_sort(v: &mut Vec<u64>, lo: u32, hi: u32) {
    let mask = (1u64 << DIGIT_BITS) - 1;
    let mut buf = vec![0u64; v.len()];
    let mut shift = lo;
    while shift < hi {
        let mut start = vec![0usize; (1 << DIGIT_BITS) + 1];
        for &x in v.iter() {
            start[((x >> shift) & mask) as usize + 1] += 1;
        }
        if start.contains(&v.len()) {
            // Every key has the same digit here: nothing moves.
            shift += DIGIT_BITS;
            continue;
        }
        for d in 0..1 << DIGIT_BITS {
            start[d + 1] += start[d];
        }
        for &x in v.iter() {
            let d = &mut start[((x >> shift) & mask) as usize];
            buf[*d] = x;
            *d += 1;
        }
        std::mem::swap(v, &mut buf);
        shift += DIGIT_BITS;
    }
}

/// Transactions for the tests of this module and of the tree: built from rank lists, and
/// random rank lists with many shared prefixes.
#[cfg(test)]
pub(crate) mod test_rows {
    use crate::tree::Transactions;

    /// The transactions holding `rows`, in that order.
    pub(crate) fn transactions(rows: &[Vec<u32>]) -> Transactions {
        let mut tx = Transactions {
            offsets: vec![0],
            items: Vec::new(),
        };
        for r in rows {
            tx.items.extend_from_slice(r);
            tx.offsets.push(tx.items.len());
        }
        tx
    }

    /// Deterministic ascending rank lists of 0..=`max_len` items below `n_items`, many sharing
    /// prefixes.
    pub(crate) fn random_rows(seed: u64, n: usize, n_items: u32, max_len: u64) -> Vec<Vec<u32>> {
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        (0..n)
            .map(|_| {
                let len = (next() % (max_len + 1)) as usize;
                let mut r: Vec<u32> = (0..len)
                    .map(|_| (next() % n_items as u64).min(next() % n_items as u64) as u32)
                    .collect();
                r.sort_unstable();
                r.dedup();
                r
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::test_rows::{random_rows, transactions};
    use super::*;

    #[test]
    fn radix_order_is_the_lexicographic_order_of_the_nonempty_transactions() {
        for (seed, n, n_items) in [
            (1u64, 2000usize, 5u32),
            (2, 3000, 40),
            (3, 500, 3000),
            (4, 50, 1),
        ] {
            let rows = random_rows(seed, n, n_items, 8);
            let tx = transactions(&rows);
            let mut expected: Vec<&Vec<u32>> = rows.iter().filter(|r| !r.is_empty()).collect();
            expected.sort();
            for parallel in [false, true] {
                let order = sorted_order(&tx, parallel);
                let got: Vec<&Vec<u32>> = order.iter().map(|&t| &rows[t as usize]).collect();
                assert_eq!(got, expected, "seed {seed} parallel {parallel}");
            }
        }
    }

    #[test]
    fn ranks_too_large_for_the_key_fall_back_to_comparison() {
        let rows = vec![
            vec![u32::MAX - 1],
            vec![3, 70_000, 80_000],
            vec![],
            vec![3, 70_000],
            vec![0, u32::MAX - 1],
        ];
        let order = sorted_order(&transactions(&rows), false);
        assert_eq!(order, vec![4, 3, 1, 0]);
    }

    #[test]
    fn radix_sort_sorts_by_the_chosen_bits_stably() {
        let v0: Vec<u64> = (0..5000u64)
            .map(|i| (i.wrapping_mul(2_654_435_761) % 100_000) << 32 | i)
            .collect();
        let mut v = v0.clone();
        radix_sort(&mut v, 32, 49);
        let mut expected = v0;
        expected.sort_by_key(|x| x >> 32);
        assert_eq!(v, expected);
    }
}
