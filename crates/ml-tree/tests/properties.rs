//! Property tests (issue 19, item 7) for TreeSHAP on random small data: fit a few shallow
//! trees (depthwise or lossguide, numeric and categorical slots, missing values, binary or
//! squared-error objective) and explain the training rows and some unseen ones (NaN, codes
//! outside the categories, values beyond the training range).
//!
//! * The contributions plus the bias equal the margin (`predict_margins`) within 1e-9 per row,
//!   relative to the row's scale (1 + the sum of its contributions' magnitudes).
//! * Each contribution equals the Shapley value computed by brute force in this file: every
//!   subset S of the features, the value function `v(S)` of path-dependent TreeSHAP (follow the
//!   row at splits on features in S; elsewhere average both children weighted by their
//!   cover), and the Shapley weights `|S|! (M - |S| - 1)! / M!`. The bias is the model's base
//!   margin plus each tree's `v({})`.
//! * A feature no tree splits on gets exactly zero.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array};
use arrow::datatypes::{DataType, Field};
use ml_core::attributes::{with_vector_attributes, Attribute};
use ml_core::dataset::{vector_column_from_vec, vector_type};
use ml_core::{Dataset, Estimator};
use ml_tree::tree::Tree;
use ml_tree::{GradientBoostedTrees, GrowPolicy, Objective};
use proptest::prelude::*;

/// How a row goes at `node` (a split): left or right, with the model's rules (numeric: `x as f32
/// < threshold`; categorical: code in the set; NaN or an unknown code: the default side).
fn goes_left(tree: &Tree, node: usize, row: &[f64]) -> bool {
    let n = &tree.nodes[node];
    let v = row[n.feature as usize];
    match n.category_split {
        None => {
            let v = v as f32;
            if v.is_nan() {
                n.default_left
            } else {
                v < n.threshold
            }
        }
        Some(s) => {
            let set = &tree.categories[s as usize];
            let k = set.num_categories as f64;
            if v >= 0.0 && v < k && v.fract() == 0.0 {
                set.contains(v as usize)
            } else {
                n.default_left
            }
        }
    }
}

/// Path-dependent TreeSHAP's value function: the expected output of `tree` for `row` knowing
/// only the features in `known` (a bit mask).
fn value(tree: &Tree, node: usize, row: &[f64], known: u32) -> f64 {
    let n = &tree.nodes[node];
    if n.is_leaf() {
        return n.value;
    }
    let (l, r) = (n.left as usize, n.right as usize);
    if known & (1 << n.feature) != 0 {
        value(
            tree,
            if goes_left(tree, node, row) { l } else { r },
            row,
            known,
        )
    } else {
        let (cl, cr) = (tree.nodes[l].cover, tree.nodes[r].cover);
        (cl * value(tree, l, row, known) + cr * value(tree, r, row, known)) / (cl + cr)
    }
}

/// Brute-force Shapley values of `row` over `m` features for the sum of `trees`; the last
/// entry is the sum of `v({})`.
fn brute_shap(trees: &[Tree], row: &[f64], m: usize) -> Vec<f64> {
    let fact = |k: usize| (1..=k).map(|i| i as f64).product::<f64>();
    let mut phi = vec![0.0; m + 1];
    for t in trees {
        let v: Vec<f64> = (0..1u32 << m).map(|s| value(t, 0, row, s)).collect();
        for (j, p) in phi.iter_mut().enumerate().take(m) {
            for s in 0..1u32 << m {
                if s & (1 << j) != 0 {
                    continue;
                }
                let size = s.count_ones() as usize;
                let w = fact(size) * fact(m - size - 1) / fact(m);
                *p += w * (v[(s | (1 << j)) as usize] - v[s as usize]);
            }
        }
        phi[m] += v[0];
    }
    phi
}

/// A random small problem: feature kinds (0 continuous, 1 continuous with NaN, 2 small integers,
/// 3 categorical of 4 categories with NaN) and per-row uniforms for values and labels.
#[derive(Debug, Clone)]
struct Problem {
    kinds: Vec<u8>,
    rows: Vec<(Vec<f64>, f64)>,
}

fn problem() -> impl Strategy<Value = Problem> {
    (1usize..5).prop_flat_map(|m| {
        (
            prop::collection::vec(0u8..4, m),
            prop::collection::vec(
                (prop::collection::vec(0.0f64..1.0, m), 0.0f64..1.0),
                20..120,
            ),
        )
            .prop_map(|(kinds, rows)| Problem { kinds, rows })
    })
}

/// The feature value of kind `k` from a uniform `u`.
fn feature(k: u8, u: f64) -> f64 {
    match k {
        0 => u * 10.0 - 5.0,
        1 if u < 0.2 => f64::NAN,
        1 => u * 3.0,
        2 => (u * 5.0).floor(),
        _ if u < 0.1 => f64::NAN,
        _ => ((u - 0.1) / 0.9 * 4.0).floor().min(3.0),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn tree_shap_sums_to_the_margin_and_equals_brute_force_shapley_values(
        p in problem(),
        binary in any::<bool>(),
        lossguide in any::<bool>(),
        depth in 1usize..4,
        rounds in 1usize..4,
        eta in 0.1f64..1.0,
        lambda in prop_oneof![Just(0.0), 0.1f64..2.0],
    ) {
        let m = p.kinds.len();
        let n = p.rows.len();
        let mut x = Vec::with_capacity(n * m);
        let mut y = Vec::with_capacity(n);
        for (us, uy) in &p.rows {
            let row: Vec<f64> = p.kinds.iter().zip(us).map(|(&k, &u)| feature(k, u)).collect();
            // A label that depends on the features, plus noise.
            let signal: f64 = row.iter().map(|v| if v.is_nan() { 0.7 } else { v.sin() }).sum();
            y.push(if binary { f64::from(signal + uy * 2.0 - 1.0 > 0.0) } else { signal * 2.0 + uy });
            x.extend(row);
        }
        let attrs: Vec<Attribute> = p
            .kinds
            .iter()
            .enumerate()
            .map(|(j, &k)| {
                if k == 3 {
                    Attribute::Nominal { name: Some(format!("f{j}")), num_values: 4, values: None }
                } else {
                    Attribute::numeric(format!("f{j}"))
                }
            })
            .collect();
        let field = with_vector_attributes(Field::new("features", vector_type(m), false), &attrs);
        let data = Dataset::from_fields(
            vec![field, Field::new("label", DataType::Float64, false)],
            vec![
                vector_column_from_vec(x.clone(), n, m),
                Arc::new(Float64Array::from(y)) as ArrayRef,
            ],
        )
        .unwrap();
        let mut gbt = GradientBoostedTrees::new();
        gbt.objective = if binary { Objective::BinaryLogistic } else { Objective::SquaredError };
        gbt.num_round = rounds;
        gbt.eta = eta;
        gbt.lambda = lambda;
        gbt.min_child_weight = 0.0;
        gbt.max_depth = depth;
        if lossguide {
            gbt.grow_policy = GrowPolicy::Lossguide;
            gbt.max_leaves = depth + 2;
        }
        gbt.n_threads = 1;
        let model = gbt.fit(&data).unwrap();

        // Training rows and unseen ones: every NaN, codes outside the categories, far values.
        let mut rows = x;
        for special in [f64::NAN, 7.0, -1.0, 0.5, 1e6, -1e6] {
            rows.extend(std::iter::repeat_n(special, m));
        }
        let n_all = rows.len() / m;
        let view = ndarray::ArrayView2::from_shape((n_all, m), &rows).unwrap();
        let margins = model.predict_margins(view).unwrap();
        let contrib = model.predict_contributions(view).unwrap();
        prop_assert_eq!(model.num_class, 1);
        prop_assert_eq!(contrib.len(), n_all * (m + 1));
        let used: u32 = model
            .trees
            .iter()
            .flat_map(|t| t.nodes.iter())
            .filter(|nd| !nd.is_leaf())
            .fold(0, |acc, nd| acc | (1 << nd.feature));
        for (i, (c, margin)) in contrib.chunks(m + 1).zip(&margins).enumerate() {
            let row = &rows[i * m..(i + 1) * m];
            let sum: f64 = c.iter().sum();
            // Within 1e-9 relative to the row's scale: labels of any size make leaf values of
            // millions, where f64 sums in two orders differ by a few units in the last place.
            let scale = 1.0 + c.iter().map(|v| v.abs()).sum::<f64>();
            prop_assert!((sum - margin).abs() <= 1e-9 * scale, "row {}: sum {} vs margin {}", i, sum, margin);
            // The trees' outputs at the row: v(all features) is the leaf value.
            let full: f64 = model
                .trees
                .iter()
                .map(|t| t.nodes[t.leaf_index(row)].value)
                .sum();
            let base = margin - full;
            let want = brute_shap(&model.trees, row, m);
            for j in 0..m {
                prop_assert!(
                    (c[j] - want[j]).abs() <= 1e-9 * scale,
                    "row {} feature {}: {} vs brute force {}", i, j, c[j], want[j]
                );
                if used & (1 << j) == 0 {
                    prop_assert_eq!(c[j], 0.0, "feature {} is in no split", j);
                }
            }
            prop_assert!(
                (c[m] - (base + want[m])).abs() <= 1e-9 * scale,
                "row {}: bias {} vs {}", i, c[m], base + want[m]
            );
        }
    }
}
