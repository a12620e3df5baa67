//! Monotone and interaction constraints (XGBoost's `monotone_constraints` and
//! `interaction_constraints`), through the public API: predictions never go the wrong way
//! along a constrained feature on a grid over 1,000 random rows, no root-to-leaf path mixes
//! features of different interaction sets, bad constraint strings are typed errors naming
//! the parameter, and constraints that constrain nothing leave the model as it was.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array};
use arrow::datatypes::{DataType, Field};
use ml_core::attributes::{with_vector_attributes, Attribute};
use ml_core::dataset::{unit_uniform, vector_column_from_vec, vector_type};
use ml_core::{Dataset, Estimator, MlError, ParamValue, Params};
use ml_tree::tree::Tree;
use ml_tree::{GradientBoostedTrees, GradientBoostedTreesModel};
use ndarray::Array2;

const D: usize = 6;

/// Rows of 6 features: 0-3 continuous (1 with ~10% missing), 4 a code of 8 categories
/// (nominal when `nominal`), 5 continuous. The label depends on every feature, not
/// monotonically in 0 and 1 (a bump against the trend), with interactions across features.
fn data(n: usize, seed: u64, binary: bool, nominal: bool) -> (Dataset, Array2<f64>) {
    let mut x = Vec::with_capacity(n * D);
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        let u = |k: u64| unit_uniform(seed, i as u64 * 16 + k);
        let a = u(0) * 6.0 - 3.0;
        let b = if u(1) < 0.1 {
            f64::NAN
        } else {
            u(2) * 6.0 - 3.0
        };
        let c = u(3) * 4.0 - 2.0;
        let e = u(4) * 4.0 - 2.0;
        let k = (u(5) * 8.0).floor();
        let f = u(6) * 2.0 - 1.0;
        x.extend([a, b, c, e, k, f]);
        let bb = if b.is_nan() { 0.0 } else { b };
        let z = 0.6 * a - 1.5 * (-(a - 1.0) * (a - 1.0) * 4.0).exp() - 0.5 * bb
            + 1.2 * (2.0 * bb).sin()
            + c * e
            + [0.9, -0.4, 0.2, 1.1, -1.3, 0.0, 0.5, -0.7][k as usize]
            + 0.5 * f * a
            + 0.7 * (u(7) - 0.5);
        y.push(if binary {
            (u(8) < 1.0 / (1.0 + (-z).exp())) as u8 as f64
        } else {
            z
        });
    }
    let arr = Array2::from_shape_vec((n, D), x.clone()).unwrap();
    // Slots named x0..x5; slot 4 nominal when `nominal`.
    let attrs: Vec<Attribute> = (0..D)
        .map(|j| {
            if j == 4 && nominal {
                Attribute::nominal(format!("x{j}"), (0..8).map(|v| v.to_string()).collect())
            } else {
                Attribute::numeric(format!("x{j}"))
            }
        })
        .collect();
    let field = with_vector_attributes(Field::new("features", vector_type(D), false), &attrs);
    let ds = Dataset::from_fields(
        vec![field, Field::new("label", DataType::Float64, false)],
        vec![
            vector_column_from_vec(x, n, D),
            Arc::new(Float64Array::from(y)) as ArrayRef,
        ],
    )
    .unwrap();
    (ds, arr)
}

fn gbt(objective: &str, policy: &str) -> GradientBoostedTrees {
    let mut g = GradientBoostedTrees::new();
    g.set_param("objective", objective.into()).unwrap();
    g.set_param("num_round", ParamValue::Int(25)).unwrap();
    g.set_param("eta", ParamValue::Float(0.3)).unwrap();
    g.set_param("grow_policy", policy.into()).unwrap();
    if policy == "lossguide" {
        g.set_param("max_leaves", ParamValue::Int(24)).unwrap();
        g.set_param("max_depth", ParamValue::Int(0)).unwrap();
    } else {
        g.set_param("max_depth", ParamValue::Int(5)).unwrap();
    }
    g
}

/// 1,000 random rows (with missing values in the other features), and for each row the
/// constrained feature `f` set to each of `grid` values: margins per row, in grid order.
fn grid_margins(model: &GradientBoostedTreesModel, f: usize, seed: u64) -> Vec<Vec<f64>> {
    let grid: Vec<f64> = (0..41).map(|i| -3.5 + 7.0 * i as f64 / 40.0).collect();
    let (_, base) = data(1000, seed, false, false);
    let mut x = Array2::zeros((1000 * grid.len(), D));
    for r in 0..1000 {
        for (g, &v) in grid.iter().enumerate() {
            let mut row = base.row(r).to_owned();
            row[f] = v;
            x.row_mut(r * grid.len() + g).assign(&row);
        }
    }
    let m = model.predict_margins(x.view()).unwrap();
    m.chunks(grid.len()).map(|c| c.to_vec()).collect()
}

/// Rows whose margins go the wrong way somewhere along the grid (direction `c`).
fn violations(rows: &[Vec<f64>], c: i8) -> usize {
    rows.iter()
        .filter(|m| {
            m.windows(2)
                .any(|w| (c > 0 && w[1] < w[0]) || (c < 0 && w[1] > w[0]))
        })
        .count()
}

#[test]
fn predictions_are_monotone_along_every_constrained_feature_on_a_grid_of_1000_rows() {
    for (objective, binary) in [("binary:logistic", true), ("reg:squarederror", false)] {
        let (train, _) = data(4000, 1, binary, true);
        for policy in ["depthwise", "lossguide"] {
            let mut g = gbt(objective, policy);
            let free = g.fit(&train).unwrap();
            g.set_param("monotone_constraints", "(1,-1,0,0,0,1)".into())
                .unwrap();
            let model = g.fit(&train).unwrap();
            for (f, c) in [(0usize, 1i8), (1, -1), (5, 1)] {
                let m = grid_margins(&model, f, 99);
                assert_eq!(
                    violations(&m, c),
                    0,
                    "{objective} {policy}: feature {f} goes the wrong way"
                );
                // The margins do move along the feature.
                assert!(m.iter().any(|r| r[0] != r[r.len() - 1]), "feature {f} used");
            }
            // Without the constraint the same data gives non-monotone predictions along the
            // bumps of features 0 and 1, so the check above is not vacuous.
            assert!(violations(&grid_margins(&free, 0, 99), 1) > 0);
            assert!(violations(&grid_margins(&free, 1, 99), -1) > 0);
        }
    }
}

#[test]
fn monotone_constraints_by_feature_name_equal_the_tuple_form() {
    let (train, _) = data(2000, 2, true, true);
    let mut g = gbt("binary:logistic", "depthwise");
    g.set_param("monotone_constraints", "(1,-1)".into())
        .unwrap();
    let a = g.fit(&train).unwrap();
    g.set_param("monotone_constraints", r#"{"x1": -1, "x0": 1}"#.into())
        .unwrap();
    let b = g.fit(&train).unwrap();
    assert_eq!(a.trees, b.trees);
}

/// Every root-to-leaf path's features (in order of use).
fn paths(t: &Tree) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    let mut stack = vec![(0usize, Vec::new())];
    while let Some((i, p)) = stack.pop() {
        let n = &t.nodes[i];
        if n.is_leaf() {
            out.push(p);
            continue;
        }
        let mut q = p.clone();
        q.push(n.feature as usize);
        stack.push((n.left as usize, q.clone()));
        stack.push((n.right as usize, q));
    }
    out
}

/// Does every path lie within one set (or use one feature only, for features in no set)?
fn mixed_paths(model: &GradientBoostedTreesModel, sets: &[Vec<usize>]) -> usize {
    model
        .trees
        .iter()
        .flat_map(paths)
        .filter(|p| {
            let mut f = p.clone();
            f.sort_unstable();
            f.dedup();
            !(f.len() <= 1 || sets.iter().any(|s| f.iter().all(|x| s.contains(x))))
        })
        .count()
}

#[test]
fn no_split_path_mixes_features_from_different_interaction_sets() {
    let sets = vec![vec![0, 1], vec![2, 3, 4]];
    for nominal in [false, true] {
        let (train, _) = data(3000, 3, true, nominal);
        for policy in ["depthwise", "lossguide"] {
            let mut g = gbt("binary:logistic", policy);
            let free = g.fit(&train).unwrap();
            assert!(
                mixed_paths(&free, &sets) > 0,
                "unconstrained trees mix sets"
            );
            g.set_param("interaction_constraints", "[[0,1],[2,3,4]]".into())
                .unwrap();
            let model = g.fit(&train).unwrap();
            assert_eq!(mixed_paths(&model, &sets), 0, "{policy} nominal={nominal}");
            // Feature 5 is in no set: on any path that uses it, it is alone.
            let alone = |m: &GradientBoostedTreesModel, f: usize| {
                let p: Vec<Vec<usize>> = m
                    .trees
                    .iter()
                    .flat_map(paths)
                    .filter(|p| p.contains(&f))
                    .collect();
                (p.len(), p.iter().all(|p| p.iter().all(|&g| g == f)))
            };
            assert!(alone(&model, 5).1);
            // Only features 0 and 1 in a set: the others are used, each alone on its paths.
            let mut h = g.clone();
            h.set_param("interaction_constraints", "[[0,1]]".into())
                .unwrap();
            let only = h.fit(&train).unwrap();
            assert_eq!(mixed_paths(&only, &[vec![0, 1]]), 0);
            for f in 2..D {
                assert!(alone(&only, f).1, "feature {f}");
            }
            assert!((2..D).any(|f| alone(&only, f).0 > 0));
            // With monotone constraints as well.
            g.set_param("monotone_constraints", "(1,-1)".into())
                .unwrap();
            let both = g.fit(&train).unwrap();
            assert_eq!(mixed_paths(&both, &sets), 0);
            assert_eq!(violations(&grid_margins(&both, 0, 7), 1), 0);
            assert_eq!(violations(&grid_margins(&both, 1, 7), -1), 0);
        }
    }
}

#[test]
fn bad_constraint_strings_are_typed_errors_naming_the_parameter() {
    let named = |e: MlError, want: &str| match e {
        MlError::InvalidParam { param, message } => {
            assert_eq!(param, want, "{message}");
            message
        }
        other => panic!("not a parameter error: {other:?}"),
    };
    let mut g = GradientBoostedTrees::new();
    for bad in ["(1,up)", "(1,2)", "{\"x0\": 1", "(1,,0)"] {
        let e = g.set_param("monotone_constraints", bad.into()).unwrap_err();
        named(e, "monotone_constraints");
    }
    for bad in ["[[0,1]", "[0,1]", "[[0,-1]]", "[[0.5]]", "((0,1))"] {
        let e = g
            .set_param("interaction_constraints", bad.into())
            .unwrap_err();
        named(e, "interaction_constraints");
    }
    // What only the data can tell: too many constraints, indices and names out of range.
    let (train, _) = data(200, 4, true, true);
    let fit_err = |m: &str, i: &str| {
        let g = GradientBoostedTrees::new()
            .with_num_round(2)
            .with_monotone_constraints(m.into())
            .with_interaction_constraints(i.into());
        g.fit(&train).unwrap_err()
    };
    let msg = named(fit_err("(1,0,0,0,0,0,1)", ""), "monotone_constraints");
    assert!(msg.contains("7 constraints for 6 features"), "{msg}");
    let msg = named(fit_err(r#"{"nope": 1}"#, ""), "monotone_constraints");
    assert!(msg.contains("nope"), "{msg}");
    named(fit_err("", "[[0,6]]"), "interaction_constraints");
    named(fit_err("", r#"[["x0","nope"]]"#), "interaction_constraints");
}

#[test]
fn constraints_that_constrain_nothing_leave_the_model_unchanged() {
    let (train, _) = data(1500, 5, true, true);
    for policy in ["depthwise", "lossguide"] {
        let g = gbt("binary:logistic", policy);
        let plain = g.fit(&train).unwrap();
        let mut h = g.clone();
        h.set_param("interaction_constraints", "[[0,1,2,3,4,5]]".into())
            .unwrap();
        assert_eq!(h.fit(&train).unwrap().trees, plain.trees, "{policy}");
        let mut h = g.clone();
        h.set_param("monotone_constraints", "".into()).unwrap();
        h.set_param("interaction_constraints", " ".into()).unwrap();
        assert_eq!(h.fit(&train).unwrap().trees, plain.trees, "{policy}");
    }
}
