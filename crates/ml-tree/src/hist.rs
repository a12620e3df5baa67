//! The histogram kernel: sums of (gradient, hessian) per bin, per feature, over a node's rows.
//!
//! A histogram holds [`HIST_SLOTS`] `(grad, hess)` pairs per feature, one per possible `u8`
//! bin, so lookups need no bounds check. Work is split over features: each feature's sums are
//! accumulated by one thread in row order, so the result does not depend on the number of
//! threads. Rows are processed in blocks so that a block's gradients stay in cache while every
//! feature of the thread's share reads them.

use rayon::prelude::*;

use crate::binning::{BinMatrix, HIST_SLOTS};

/// One bin's sums: `[gradient, hessian]`.
pub type GradPair = [f64; 2];

/// A zeroed histogram for `n_features` features.
pub fn new_histogram(n_features: usize) -> Vec<GradPair> {
    vec![[0.0, 0.0]; n_features * HIST_SLOTS]
}

/// Rows per block in the kernel.
const BLOCK: usize = 2048;
/// Below this many rows a node's histogram is built on the calling thread.
const PAR_MIN_ROWS: usize = 4096;

/// Adds the rows' `(grad, hess)` pairs into `hist` for every feature in `features`.
///
/// `gh[r]` is the pair of row `r` (for every row of `bins`); `rows` lists the node's rows
/// (`None` means all rows `0..gh.len()`, in order). `hist` has [`HIST_SLOTS`] slots per feature
/// of `bins`; features not listed are left untouched.
pub fn build_histogram(
    bins: &BinMatrix,
    features: &[usize],
    rows: Option<&[u32]>,
    gh: &[GradPair],
    hist: &mut [GradPair],
) {
    debug_assert_eq!(hist.len(), bins.n_features * HIST_SLOTS);
    // Disjoint per-feature slices of the histogram, for the listed features.
    let mut wanted = vec![false; bins.n_features];
    for &f in features {
        wanted[f] = true;
    }
    let mut slices: Vec<(usize, &mut [GradPair; HIST_SLOTS])> = hist
        .chunks_exact_mut(HIST_SLOTS)
        .enumerate()
        .filter(|(f, _)| wanted[*f])
        .filter_map(|(f, s)| s.try_into().ok().map(|a| (f, a)))
        .collect();
    let n = rows.map_or(gh.len(), <[u32]>::len);
    let threads = rayon::current_num_threads().max(1);
    if threads == 1 || n < PAR_MIN_ROWS || slices.len() == 1 {
        accumulate(bins, &mut slices, rows, gh);
        return;
    }
    // Split the features into one contiguous group per thread; each feature is summed by
    // one thread in row order, so the grouping does not change the result.
    let groups = threads.min(slices.len());
    let per = slices.len().div_ceil(groups);
    slices
        .par_chunks_mut(per)
        .for_each(|group| accumulate(bins, group, rows, gh));
}

/// Interleaved copies of each feature's histogram: consecutive rows falling in the same bin
/// (frequent on skewed features) update different copies, so the additions do not wait on
/// each other. The copies are summed in a fixed order at the end.
const COPIES: usize = 4;
/// Below this many rows the copies cost more than they save.
const COPIES_MIN_ROWS: usize = 2048;

type Slots = [GradPair; HIST_SLOTS];

#[inline]
fn add_to(h: &mut Slots, b: u8, g: &GradPair) {
    let e = &mut h[b as usize];
    e[0] += g[0];
    e[1] += g[1];
}

/// Adds rows `(bins[i], gh[i])` into four interleaved copies.
#[inline]
fn add4(c: &mut [Slots], bins: impl Iterator<Item = u8>, gh: &[GradPair]) {
    let [c0, c1, c2, c3] = c else { return };
    let mut it = bins.zip(gh);
    loop {
        let Some((b0, g0)) = it.next() else { return };
        add_to(c0, b0, g0);
        let Some((b1, g1)) = it.next() else { return };
        add_to(c1, b1, g1);
        let Some((b2, g2)) = it.next() else { return };
        add_to(c2, b2, g2);
        let Some((b3, g3)) = it.next() else { return };
        add_to(c3, b3, g3);
    }
}

fn accumulate(
    bins: &BinMatrix,
    group: &mut [(usize, &mut [GradPair; HIST_SLOTS])],
    rows: Option<&[u32]>,
    gh: &[GradPair],
) {
    let n = rows.map_or(gh.len(), <[u32]>::len);
    if n < COPIES_MIN_ROWS {
        for (f, h) in group.iter_mut() {
            let col = bins.column(*f);
            match rows {
                Some(rows) => {
                    for &r in rows {
                        add_to(h, col[r as usize], &gh[r as usize]);
                    }
                }
                None => {
                    for (&b, g) in col.iter().zip(gh) {
                        add_to(h, b, g);
                    }
                }
            }
        }
        return;
    }
    let mut copies: Vec<Slots> = vec![[[0.0; 2]; HIST_SLOTS]; group.len() * COPIES];
    let mut buf: Vec<GradPair> = Vec::with_capacity(BLOCK);
    let mut start = 0;
    while start < n {
        let end = (start + BLOCK).min(n);
        let ghb: &[GradPair] = match rows {
            Some(rows) => {
                // Gather the block's pairs once; every feature of the group then reads
                // them from cache.
                buf.clear();
                buf.extend(rows[start..end].iter().map(|&r| gh[r as usize]));
                &buf
            }
            None => &gh[start..end],
        };
        for (gi, (f, _)) in group.iter().enumerate() {
            let col = bins.column(*f);
            let c = &mut copies[gi * COPIES..(gi + 1) * COPIES];
            match rows {
                Some(rows) => add4(c, rows[start..end].iter().map(|&r| col[r as usize]), ghb),
                None => add4(c, col[start..end].iter().copied(), ghb),
            }
        }
        start = end;
    }
    for (gi, (_, h)) in group.iter_mut().enumerate() {
        let c = &copies[gi * COPIES..(gi + 1) * COPIES];
        for (s, e) in h.iter_mut().enumerate() {
            let g = ((c[0][s][0] + c[1][s][0]) + c[2][s][0]) + c[3][s][0];
            let hs = ((c[0][s][1] + c[1][s][1]) + c[2][s][1]) + c[3][s][1];
            e[0] += g;
            e[1] += hs;
        }
    }
}

/// `parent -= child` slot by slot, for the listed features: the larger sibling's histogram
/// from its parent's and the smaller sibling's.
pub fn subtract_histogram(parent: &mut [GradPair], child: &[GradPair], features: &[usize]) {
    for &f in features {
        let r = f * HIST_SLOTS..(f + 1) * HIST_SLOTS;
        for (p, c) in parent[r.clone()].iter_mut().zip(&child[r]) {
            p[0] -= c[0];
            p[1] -= c[1];
        }
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
        let gh: Vec<GradPair> = (0..6).map(|i| [i as f64, 1.0 + i as f64]).collect();
        let mut h = new_histogram(3);
        build_histogram(&b, &[0, 1, 2], None, &gh, &mut h);
        assert_eq!(h[0], [0.0 + 4.0, 1.0 + 5.0]);
        assert_eq!(h[1], [1.0 + 2.0, 2.0 + 3.0]);
        assert_eq!(h[3], [5.0, 6.0]);
        assert_eq!(h[HIST_SLOTS + 5], [15.0, 21.0]);
        let rows = [1u32, 3, 5];
        let mut hs = new_histogram(3);
        build_histogram(&b, &[0, 2], Some(&rows), &gh, &mut hs);
        assert_eq!(hs[2 * HIST_SLOTS + 1], [9.0, 12.0]);
        assert_eq!(hs[HIST_SLOTS + 5], [0.0, 0.0], "feature 1 not asked for");
        subtract_histogram(&mut h, &hs, &[0, 2]);
        assert_eq!(h[2 * HIST_SLOTS + 1], [0.0, 0.0]);
        assert_eq!(h[2 * HIST_SLOTS], [6.0, 9.0]);
    }
}
