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

/// Rows per block in the kernel.
const BLOCK: usize = 2048;
/// Below this many rows a node's histogram is built on the calling thread.
const PAR_MIN_ROWS: usize = 4096;

/// A zeroed histogram for `n_features` features.
pub fn new_histogram(n_features: usize) -> Vec<GradPair> {
    vec![[0.0, 0.0]; n_features * HIST_SLOTS]
}

/// Adds the rows' `(grad, hess)` pairs into `hist` for every feature in `features`.
///
/// `rows` are row indices into `bins` (`None` means all rows `0..gh.len()`, in order); `gh[i]`
/// belongs to `rows[i]`. `hist` has [`HIST_SLOTS`] slots per feature of `bins`; features not
/// listed are left untouched.
pub fn build_histogram(
    bins: &BinMatrix,
    features: &[usize],
    rows: Option<&[u32]>,
    gh: &[GradPair],
    hist: &mut [GradPair],
) {
    debug_assert_eq!(hist.len(), bins.n_features * HIST_SLOTS);
    if let Some(r) = rows {
        debug_assert_eq!(r.len(), gh.len());
    }
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
    let threads = rayon::current_num_threads().max(1);
    if threads == 1 || gh.len() < PAR_MIN_ROWS || slices.len() == 1 {
        accumulate(bins, &mut slices, rows, gh);
        return;
    }
    let groups = threads.min(slices.len());
    let per = slices.len().div_ceil(groups);
    slices
        .par_chunks_mut(per)
        .for_each(|group| accumulate(bins, group, rows, gh));
}

fn accumulate(
    bins: &BinMatrix,
    group: &mut [(usize, &mut [GradPair; HIST_SLOTS])],
    rows: Option<&[u32]>,
    gh: &[GradPair],
) {
    let n = gh.len();
    let mut start = 0;
    while start < n {
        let end = (start + BLOCK).min(n);
        let ghb = &gh[start..end];
        for (f, h) in group.iter_mut() {
            let col = bins.column(*f);
            match rows {
                Some(r) => {
                    for (&row, g) in r[start..end].iter().zip(ghb) {
                        let e = &mut h[col[row as usize] as usize];
                        e[0] += g[0];
                        e[1] += g[1];
                    }
                }
                None => {
                    for (&b, g) in col[start..end].iter().zip(ghb) {
                        let e = &mut h[b as usize];
                        e[0] += g[0];
                        e[1] += g[1];
                    }
                }
            }
        }
        start = end;
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
        BinMatrix {
            n_rows: 6,
            n_features: 3,
            data: vec![0, 1, 1, 2, 0, 3, 5, 5, 5, 5, 5, 5, 0, 1, 0, 1, 0, 1],
            missing_bin: vec![3, 6, 2],
        }
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
        let sub: Vec<GradPair> = rows.iter().map(|&r| gh[r as usize]).collect();
        let mut hs = new_histogram(3);
        build_histogram(&b, &[0, 2], Some(&rows), &sub, &mut hs);
        assert_eq!(hs[2 * HIST_SLOTS + 1], [9.0, 12.0]);
        assert_eq!(hs[HIST_SLOTS + 5], [0.0, 0.0], "feature 1 not asked for");
        subtract_histogram(&mut h, &hs, &[0, 2]);
        assert_eq!(h[2 * HIST_SLOTS + 1], [0.0, 0.0]);
        assert_eq!(h[2 * HIST_SLOTS], [6.0, 9.0]);
    }
}
