//! Leaf tables: every leaf's SHAP values for every subset of its path's features.
//!
//! A leaf with value `v` whose path has `k` distinct features adds
//! `v * prod_l (l known ? o_l : z_l)` to the value of a set of known features, where `z_l` is
//! the product of the cover fractions of the path's splits on feature `l` and `o_l` is 1 when
//! the row follows the path at every split on `l` (else 0). With `H` the features the row
//! follows, the Shapley value of path feature `j` in this product game is
//!
//! `v * (o_j - z_j) * prod_{l not in H, l != j} z_l * sum_s w(s) e_s(H \ {j})`
//!
//! where `w(s) = s! (k - 1 - s)! / k!` and `e_s(A)` is the coefficient of `t^s` in
//! `prod_{l in A} (z_l + t)` (the sum over `s`-subsets `T` of `A` of the product of `z` over
//! `A \ T`). Both products are built for all subsets in `O(k 2^k)` without divisions, and
//! the table holds `k` values per subset `H`, `k * 2^k` per leaf.

use super::ShapTree;

/// The tree's leaf tables, concatenated (leaf `l`'s at `LeafPath::table_start`).
pub(super) fn build(t: &ShapTree) -> Vec<f64> {
    let mut out = vec![0.0; t.table_len.unwrap_or(0)];
    let mut scratch = Scratch::default();
    for leaf in &t.leaves {
        if leaf.k == 0 {
            continue;
        }
        let z = &t.leaf_zero_fractions[leaf.start..][..leaf.k];
        leaf_table(
            leaf.value,
            z,
            &mut out[leaf.table_start..][..leaf.k << leaf.k],
            &mut scratch,
        );
    }
    out
}

/// Buffers reused across leaves.
#[derive(Default)]
struct Scratch {
    /// Per subset `B`: the product of `z` over `B`.
    z_product: Vec<f64>,
    /// Per subset `A`: the coefficients of `prod_{l in A} (z_l + t)`, `k + 1` each.
    poly: Vec<f64>,
    /// Per subset `A`: `sum_s w(s) e_s(A)`.
    weighted: Vec<f64>,
}

/// Writes a leaf's table: `out[h * k + j]` is path feature `j`'s SHAP value when the row
/// follows the path on exactly the features of bit set `h`.
fn leaf_table(value: f64, z: &[f64], out: &mut [f64], s: &mut Scratch) {
    let k = z.len();
    let n = 1usize << k;
    let full = n - 1;
    // w(s) = s! (k - 1 - s)! / k!
    let mut w = vec![0.0; k];
    w[0] = 1.0 / k as f64;
    for i in 1..k {
        w[i] = w[i - 1] * i as f64 / (k - i) as f64;
    }
    s.z_product.clear();
    s.z_product.resize(n, 1.0);
    s.poly.clear();
    s.poly.resize(n * (k + 1), 0.0);
    s.weighted.clear();
    s.weighted.resize(n, 0.0);
    s.poly[0] = 1.0;
    s.weighted[0] = w[0];
    let m = k + 1;
    for a in 1..n {
        let l = a.trailing_zeros() as usize;
        let prev = a & (a - 1);
        s.z_product[a] = s.z_product[prev] * z[l];
        let size = a.count_ones() as usize;
        let (lo, hi) = s.poly.split_at_mut(a * m);
        let p = &lo[prev * m..][..m];
        let q = &mut hi[..m];
        q[0] = z[l] * p[0];
        for i in 1..=size {
            q[i] = z[l] * p[i] + p[i - 1];
        }
        if a != full {
            // |A| <= k - 1 here, so every coefficient has a weight.
            s.weighted[a] = (0..=size).map(|i| w[i] * q[i]).sum();
        }
    }
    for h in 0..n {
        let row = &mut out[h * k..][..k];
        for (j, (o, &zj)) in row.iter_mut().zip(z).enumerate() {
            let bit = 1usize << j;
            let known = if h & bit != 0 { 1.0 } else { 0.0 };
            let a = h & !bit;
            let b = full & !h & !bit;
            *o = value * (known - zj) * s.z_product[b] * s.weighted[a];
        }
    }
}
