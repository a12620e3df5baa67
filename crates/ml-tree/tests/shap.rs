//! TreeSHAP through the model's API: contributions of trained models (numeric, categorical,
//! missing values, multiclass) sum to the margins, the `contribPredictionCol` output column,
//! interaction rows sum to the contributions. (The values themselves are checked against a
//! brute-force Shapley computation in the crate's unit tests, and against XGBoost by
//! scripts/xgb_shap_check.py.)

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array};
use arrow::datatypes::{DataType, Field};
use ml_core::attributes::{with_vector_attributes, Attribute};
use ml_core::dataset::{vector_column_from_vec, vector_type};
use ml_core::{Dataset, Estimator, Params, Transformer};
use ml_tree::{GradientBoostedTrees, GradientBoostedTreesModel, Objective};

/// 4 numeric features (one with NaNs) and a categorical slot with 6 categories (some rows
/// NaN); labels from a noisy rule, with `classes` classes.
fn data(n: usize, classes: usize) -> Dataset {
    let u = |i: usize, k: usize| ml_core::dataset::unit_uniform(5, (i * 8 + k) as u64);
    let mut x = Vec::with_capacity(n * 5);
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        let a = u(i, 0) * 4.0 - 2.0;
        let b = u(i, 1) * 4.0 - 2.0;
        let c = if u(i, 2) < 0.15 {
            f64::NAN
        } else {
            u(i, 3) * 10.0
        };
        let e = (u(i, 4) * 50.0).floor();
        let k = if u(i, 5) < 0.05 {
            f64::NAN
        } else {
            (u(i, 6) * 6.0).floor()
        };
        let z = a - 0.5 * b * b
            + if c.is_nan() { 1.0 } else { (c - 5.0) * 0.2 }
            + if k.is_nan() {
                0.0
            } else {
                [1.5, -1.0, 0.0, 2.0, -2.0, 0.5][k as usize]
            };
        x.extend([a, b, c, e, k]);
        let noisy = z + (u(i, 7) - 0.5) * 2.0;
        y.push(if classes == 2 {
            (noisy > 0.0) as u8 as f64
        } else {
            ((noisy + 3.0) / 2.0)
                .floor()
                .clamp(0.0, classes as f64 - 1.0)
        });
    }
    let mut attrs: Vec<Attribute> = ["a", "b", "c", "e"]
        .iter()
        .map(|s| Attribute::numeric(*s))
        .collect();
    attrs.push(Attribute::Nominal {
        name: Some("k".into()),
        num_values: 6,
        values: None,
    });
    let field = with_vector_attributes(Field::new("features", vector_type(5), false), &attrs);
    Dataset::from_fields(
        vec![field, Field::new("label", DataType::Float64, false)],
        vec![
            vector_column_from_vec(x, n, 5),
            Arc::new(Float64Array::from(y)) as ArrayRef,
        ],
    )
    .unwrap()
}

fn fit(classes: usize) -> (GradientBoostedTreesModel, Dataset) {
    let d = data(3000, classes);
    let mut gbt = GradientBoostedTrees::new();
    gbt.num_round = 20;
    gbt.max_depth = 5;
    if classes > 2 {
        gbt.objective = Objective::MultiSoftmax;
        gbt.num_class = classes;
    }
    let m = gbt.fit(&d).unwrap();
    (m, d)
}

fn assert_sums_to_margins(m: &GradientBoostedTreesModel, d: &Dataset) {
    let x = d.features("features").unwrap();
    let margins = m.predict_margins(x).unwrap();
    let c = m.predict_contributions(x).unwrap();
    let w = m.num_features + 1;
    assert_eq!(c.len(), x.nrows() * m.num_class * w);
    for (i, (row, margin)) in c.chunks(w).zip(&margins).enumerate() {
        let s: f64 = row.iter().sum();
        assert!(
            (s - margin).abs() <= 1e-9 * (1.0 + margin.abs()),
            "row/class {i}: {s} vs {margin}"
        );
    }
    // A class's bias is the same for every row, and the categorical slot gets contributions.
    let k = m.num_class;
    assert!(c
        .chunks(w)
        .enumerate()
        .all(|(i, r)| r[w - 1] == c[(i % k) * w + w - 1]));
    assert!(c.chunks(w).any(|r| r[4].abs() > 1e-3));
}

#[test]
fn binary_model_contributions_sum_to_margins() {
    let (m, d) = fit(2);
    assert!(m.trees.iter().any(|t| !t.categories.is_empty()));
    assert_sums_to_margins(&m, &d);
}

#[test]
fn multiclass_model_contributions_sum_to_each_class_margin() {
    let (m, d) = fit(3);
    assert_eq!(m.num_class, 3);
    assert_sums_to_margins(&m, &d);
}

#[test]
fn contrib_prediction_col_is_an_optional_output_column() {
    let (mut m, d) = fit(2);
    let plain = m.transform(&d).unwrap();
    assert!(!plain.has_column("contributions"));
    assert!(!serde_json::to_string(&m).unwrap().contains("contrib"));
    m.set_param("contribPredictionCol", "contributions".into())
        .unwrap();
    let schema = m.transform_schema(&d.schema()).unwrap();
    assert!(schema.field_with_name("contributions").is_ok());
    let out = m.transform(&d).unwrap();
    assert_eq!(out.vector_size("contributions").unwrap(), 6);
    let col = out.features("contributions").unwrap();
    let want = m
        .predict_contributions(d.features("features").unwrap())
        .unwrap();
    assert_eq!(col.iter().copied().collect::<Vec<_>>(), want);
    // The setting survives a save and load.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.json");
    m.save(&path).unwrap();
    let back = GradientBoostedTreesModel::load(&path).unwrap();
    assert_eq!(
        back.params.contrib_prediction_col.as_deref(),
        Some("contributions")
    );
}

#[test]
fn interaction_rows_sum_to_contributions() {
    let (m, d) = fit(2);
    let x = d.features("features").unwrap();
    let x = x.slice(ndarray::s![..40, ..]);
    let c = m.predict_contributions(x).unwrap();
    let inter = m.predict_interactions(x).unwrap();
    let w = m.num_features + 1;
    assert_eq!(inter.len(), 40 * w * w);
    for (r, mat) in inter.chunks(w * w).enumerate() {
        for i in 0..w {
            let s: f64 = mat[i * w..][..w].iter().sum();
            let want = c[r * w + i];
            assert!(
                (s - want).abs() <= 1e-9 * (1.0 + want.abs()),
                "row {r}, {i}"
            );
            // Symmetric.
            for j in 0..w {
                assert!((mat[i * w + j] - mat[j * w + i]).abs() < 1e-9);
            }
        }
    }
}

#[test]
fn wrong_width_is_an_error() {
    let (m, _) = fit(2);
    let x = ndarray::Array2::<f64>::zeros((3, 4));
    assert!(m.predict_contributions(x.view()).is_err());
    assert!(m.predict_interactions(x.view()).is_err());
}
