//! The boosted trees' row path against `transform`, bit for bit: binary, multiclass and
//! regression models (squared error, two quantiles, Poisson), categorical splits (a nominal slot), missing values, TreeSHAP
//! contributions, and the trees' flattened predictor kept between calls.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, StringArray};
use ml_core::dataset::unit_uniform;
use ml_core::feature::{HandleInvalid, StringIndexer, VectorAssembler};
use ml_core::params::{ParamValue, Params};
use ml_core::testing::check_row_path;
use ml_core::{Dataset, Estimator, Pipeline, Transformer};
use ml_tree::{GradientBoostedTrees, Objective};

fn data(n: usize) -> Dataset {
    let x: Vec<Option<f64>> = (0..n as u64)
        .map(|i| {
            let u = unit_uniform(1, i);
            if u < 0.05 {
                None
            } else if u < 0.1 {
                Some(f64::NAN)
            } else {
                Some(10.0 * unit_uniform(2, i))
            }
        })
        .collect();
    let z: Vec<f64> = (0..n as u64).map(|i| unit_uniform(3, i) - 0.5).collect();
    let cats = ["a", "b", "c", "d", "e", "f"];
    let c: Vec<&str> = (0..n as u64)
        .map(|i| cats[(unit_uniform(4, i) * 6.0) as usize])
        .collect();
    let y: Vec<f64> = (0..n)
        .map(|i| {
            let v = x[i].filter(|v| !v.is_nan()).unwrap_or(4.0) / 10.0
                + if matches!(c[i], "b" | "e") { 0.6 } else { 0.0 }
                + z[i];
            (v * 2.0).clamp(0.0, 2.0).floor()
        })
        .collect();
    Dataset::from_columns(vec![
        ("x", Arc::new(Float64Array::from(x)) as ArrayRef),
        ("z", Arc::new(Float64Array::from(z)) as ArrayRef),
        ("c", Arc::new(StringArray::from(c)) as ArrayRef),
        ("label", Arc::new(Float64Array::from(y)) as ArrayRef),
    ])
    .unwrap()
}

#[test]
fn trees_score_rows_as_transform_for_every_objective_with_categorical_splits_and_shap() {
    let train = data(600);
    let score = data(900).slice(600, 300);
    for objective in [
        Objective::BinaryLogistic,
        Objective::MultiSoftmax,
        Objective::SquaredError,
        Objective::QuantileError,
        Objective::Poisson,
    ] {
        let mut gbt = GradientBoostedTrees::new().with_objective(objective);
        gbt.num_round = 6;
        gbt.max_depth = 4;
        if objective == Objective::MultiSoftmax {
            gbt.num_class = 3;
        }
        // Two outputs: a vector prediction per row.
        gbt.quantile_alpha = vec![0.2, 0.8];
        let labels = if objective == Objective::BinaryLogistic {
            // Binary labels: class 2 folds into 1.
            let y: Float64Array = train
                .f64_column("label")
                .unwrap()
                .iter()
                .map(|v| v.map(|v| v.min(1.0)))
                .collect();
            train
                .replace_column(
                    arrow::datatypes::Field::new(
                        "label",
                        arrow::datatypes::DataType::Float64,
                        true,
                    ),
                    Arc::new(y),
                )
                .unwrap()
        } else {
            train.clone()
        };
        let mut model = Pipeline::new()
            .estimator(
                "index",
                StringIndexer::new("c", "c_idx").with_handle_invalid(HandleInvalid::Keep),
            )
            .transformer(
                "assemble",
                VectorAssembler::new(&["x", "z", "c_idx"], "features")
                    .with_handle_invalid(HandleInvalid::Keep),
            )
            .estimator("trees", gbt)
            .fit(&labels)
            .unwrap();
        let outs: &[&str] = if objective.is_regression() {
            &["prediction"]
        } else {
            &["rawPrediction", "probability", "prediction"]
        };
        let score = score.drop_columns(&["label"]).unwrap();
        assert_eq!(
            check_row_path(&model, &score, outs),
            (300, 0, 0),
            "{objective}"
        );
        model
            .set_param(
                "trees.contrib_prediction_col",
                ParamValue::Str("contrib".into()),
            )
            .unwrap();
        let mut with = outs.to_vec();
        with.push("contrib");
        assert_eq!(
            check_row_path(&model, &score.slice(0, 40), &with),
            (40, 0, 0),
            "{objective}"
        );
    }
}

#[test]
fn a_null_feature_vector_is_the_same_error_on_both_paths() {
    let train = data(300);
    let mut gbt = GradientBoostedTrees::new();
    gbt.num_round = 2;
    let labels: Float64Array = train
        .f64_column("label")
        .unwrap()
        .iter()
        .map(|v| v.map(|v| v.min(1.0)))
        .collect();
    let train = train
        .replace_column(
            arrow::datatypes::Field::new("label", arrow::datatypes::DataType::Float64, true),
            Arc::new(labels),
        )
        .unwrap();
    let fitted = Pipeline::new()
        .transformer("assemble", VectorAssembler::new(&["z"], "features"))
        .estimator("trees", gbt)
        .fit(&train)
        .unwrap();
    let trees = fitted.stage("trees").unwrap();
    let feats = VectorAssembler::new(&["z"], "features")
        .transform(&train.slice(0, 3))
        .unwrap();
    let f = feats
        .column("features")
        .unwrap()
        .as_any()
        .downcast_ref::<arrow::array::FixedSizeListArray>()
        .unwrap()
        .clone();
    let nulled = arrow::array::FixedSizeListArray::new(
        Arc::new(arrow::datatypes::Field::new(
            "item",
            arrow::datatypes::DataType::Float64,
            false,
        )),
        1,
        f.values().clone(),
        Some(vec![true, false, true].into()),
    );
    let d = Dataset::from_columns(vec![("features", Arc::new(nulled) as ArrayRef)]).unwrap();
    assert_eq!(check_row_path(trees, &d, &["probability"]), (2, 0, 1));
}

#[test]
fn predictions_stay_right_when_the_trees_change_after_the_predictor_is_cached() {
    let train = data(300);
    let mut gbt = GradientBoostedTrees::new().with_objective(Objective::SquaredError);
    gbt.num_round = 3;
    let d = VectorAssembler::new(&["z"], "features")
        .transform(&train)
        .unwrap();
    let mut m = gbt.fit(&d).unwrap();
    let x = d.features("features").unwrap();
    let first = m.predict_margins(x).unwrap();
    assert_eq!(m.predict_margins(x).unwrap(), first);
    // Edit a leaf in place: the cached predictor must not be used for the new trees.
    let leaf = m.trees[0].nodes.iter().position(|n| n.is_leaf()).unwrap();
    m.trees[0].nodes[leaf].value += 1.0;
    let again = m.predict_margins(x).unwrap();
    let slow: Vec<f64> = (0..x.nrows())
        .map(|i| {
            let row: Vec<f64> = x.row(i).to_vec();
            m.trees
                .iter()
                .fold(m.base_margin(), |acc, t| acc + t.predict_row(&row))
        })
        .collect();
    assert_eq!(again, slow);
    assert_ne!(again, first);
}
