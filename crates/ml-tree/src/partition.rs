//! Partition: a split sends a node's rows to its two children, as contiguous ranges of a
//! second index buffer (lefts in order, rights in reverse order), in parallel over fixed
//! chunks for large nodes; the result does not depend on the number of threads.

use rayon::prelude::*;

use crate::binning::{BinColumn, BinMatrix, HIST_SLOTS};

/// Rows per task when partitioning a large node in parallel.
const PARTITION_CHUNK: usize = 1 << 15;

/// Writes the rows of `src` going left to the front of `dst`, in order, and those going
/// right to the back, in reverse order, without branching on the (unpredictable) direction:
/// each row is stored once, at the position its direction selects. Returns the number going
/// left. Sixteen rows at a time with AVX-512 where the CPU has it (the same order).
#[inline]
fn split_rows(
    src: &[u32],
    col: BinColumn<'_>,
    table: &[bool; HIST_SLOTS],
    dst: &mut [u32],
) -> usize {
    assert_eq!(dst.len(), src.len(), "partition buffers of equal length");
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU has AVX-512F (checked just above); the buffers' lengths are equal.
        return unsafe { crate::partition_avx512::split_rows(src, col, table, dst) };
    }
    let n = src.len();
    split_rows_range(src, col, table, dst, 0..n, Cursor { w: 0, k: n }).w
}

/// Where [`split_rows`] stands: `w` lefts placed at the front, rights placed down to `k`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cursor {
    /// Lefts placed so far; the next goes to `dst[w]`.
    pub w: usize,
    /// The next right goes to `dst[k - 1]`.
    pub k: usize,
}

/// [`split_rows`] one row at a time over `src[rows]`, from `at` (`at.w + n - at.k` rows placed,
/// those before `rows.start`). Returns where it stands after them.
#[inline]
pub(crate) fn split_rows_range(
    src: &[u32],
    col: BinColumn<'_>,
    table: &[bool; HIST_SLOTS],
    dst: &mut [u32],
    rows: std::ops::Range<usize>,
    at: Cursor,
) -> Cursor {
    debug_assert_eq!(dst.len(), src.len());
    debug_assert_eq!(at.w + src.len() - at.k, rows.start);
    // Lefts are written at `w`, rights at `k - 1`; `w + (n - k)` rows are placed, so `w < k`.
    let Cursor { mut w, mut k } = at;
    for i in rows {
        let r = src[i];
        if let Some(&ahead) = src.get(i + 16) {
            crate::hist::prefetch(col.ptr(ahead as usize));
        }
        let l = table[col.get(r as usize) as usize];
        let pos = if l { w } else { k - 1 };
        dst[pos] = r;
        w += l as usize;
        k -= (!l) as usize;
    }
    Cursor { w, k }
}

/// Partitions a node's rows `src` by `table[bin of feature f]`: the rows going left first, in
/// order, then those going right, in reverse order. Returns the number going left and where
/// the result is: in `dst` (`true`) or back in `src` (`false`).
///
/// A small node is partitioned in one pass from `src` into `dst`. A large one is split into
/// fixed chunks partitioned in parallel into `dst`, whose pieces are then copied back into
/// `src` in parallel; both give the same order.
pub(crate) fn partition(
    src: &mut [u32],
    dst: &mut [u32],
    bins: &BinMatrix,
    f: usize,
    table: &[bool; HIST_SLOTS],
) -> (usize, bool) {
    let col = bins.column(f);
    let n = src.len();
    if n <= PARTITION_CHUNK || rayon::current_num_threads() == 1 {
        return (split_rows(src, col, table, dst), true);
    }
    let counts: Vec<usize> = src
        .par_chunks(PARTITION_CHUNK)
        .zip(dst.par_chunks_mut(PARTITION_CHUNK))
        .map(|(c, d)| split_rows(c, col, table, d))
        .collect();
    let n_left: usize = counts.iter().sum();
    // Chunk j holds its lefts at dst[s_j..s_j + L_j] and its rights (reversed) after them.
    // In the one-pass order the lefts follow each other chunk by chunk, and chunk 0's
    // reversed rights come last, chunk 1's before them, and so on.
    let dst: &[u32] = dst;
    let mut pieces: Vec<(&[u32], &mut [u32])> = Vec::with_capacity(2 * counts.len());
    let (mut lefts, mut rights) = src.split_at_mut(n_left);
    for (j, &l) in counts.iter().enumerate() {
        let s = j * PARTITION_CHUNK;
        let (mine, rest) = std::mem::take(&mut lefts).split_at_mut(l);
        lefts = rest;
        pieces.push((&dst[s..s + l], mine));
    }
    for (j, &l) in counts.iter().enumerate().rev() {
        let s = j * PARTITION_CHUNK;
        let e = (s + PARTITION_CHUNK).min(n);
        let (mine, rest) = std::mem::take(&mut rights).split_at_mut(e - s - l);
        rights = rest;
        pieces.push((&dst[s + l..e], mine));
    }
    pieces
        .into_par_iter()
        .for_each(|(from, to)| to.copy_from_slice(from));
    (n_left, false)
}

/// Cuts `len` values after the first `skip` off the front of `buf`, leaving the rest in `buf`.
pub(crate) fn carve<'a>(buf: &mut &'a mut [u32], skip: usize, len: usize) -> &'a mut [u32] {
    let tail = std::mem::take(buf);
    let (_, tail) = tail.split_at_mut(skip);
    let (mine, tail) = tail.split_at_mut(len);
    *buf = tail;
    mine
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Rng;

    #[test]
    fn chunked_partition_equals_the_one_pass_order() {
        let n_rows = 3 * PARTITION_CHUNK + 1234;
        let mut rng = Rng(5);
        let col: Vec<u8> = (0..n_rows).map(|_| (rng.next() * 10.0) as u8).collect();
        let bins = BinMatrix::from_columns(n_rows, 1, col.clone(), vec![10]);
        let mut table = [false; HIST_SLOTS];
        for b in [1usize, 4, 5, 9] {
            table[b] = true;
        }
        // Every other row, as a node below the root would hold them.
        let src: Vec<u32> = (0..n_rows as u32)
            .filter(|r| r % 2 == 1 || r % 7 == 0)
            .collect();
        let lefts: Vec<u32> = src
            .iter()
            .copied()
            .filter(|&r| table[col[r as usize] as usize])
            .collect();
        let mut expect = lefts.clone();
        expect.extend(
            src.iter()
                .rev()
                .copied()
                .filter(|&r| !table[col[r as usize] as usize]),
        );
        for threads in [1, 2] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let (mut a, mut b) = (src.clone(), vec![0u32; src.len()]);
            let (nl, moved) = pool.install(|| partition(&mut a, &mut b, &bins, 0, &table));
            assert_eq!(nl, lefts.len());
            assert_eq!(if moved { &b } else { &a }, &expect, "{threads} threads");
        }
    }
}
