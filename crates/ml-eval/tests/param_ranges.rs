//! Parameters out of range are refused before any work (evaluate, fit) with an
//! `InvalidParam` naming the parameter, the allowed range and the value given.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array};
use ml_core::dataset::vector_column_from_vec;
use ml_core::linear::LogisticRegression;
use ml_core::testing::assert_invalid_param;
use ml_core::Dataset;
use ml_eval::{
    BinaryClassificationEvaluator, CrossValidator, Evaluator, MulticlassClassificationEvaluator,
    ParamGridBuilder, TrainValidationSplit,
};

/// Eight rows of one feature with labels, scores and predictions.
fn data() -> Dataset {
    let x: Vec<f64> = (0..8).map(|i| i as f64).collect();
    let label: Vec<f64> = (0..8).map(|i| (i % 2) as f64).collect();
    Dataset::from_columns(vec![
        ("features", vector_column_from_vec(x.clone(), 8, 1)),
        (
            "label",
            Arc::new(Float64Array::from(label.clone())) as ArrayRef,
        ),
        ("rawPrediction", Arc::new(Float64Array::from(x)) as ArrayRef),
        (
            "prediction",
            Arc::new(Float64Array::from(label)) as ArrayRef,
        ),
    ])
    .unwrap()
}

#[test]
fn evaluators_refuse_an_eps_outside_its_range() {
    for eps in [0.0, -1e-9, 0.5, 2.0, f64::NAN] {
        let mut b = BinaryClassificationEvaluator::new();
        b.eps = eps;
        assert_invalid_param(
            b.evaluate(&data()).unwrap_err(),
            "eps",
            &["(0, 0.5)", &format!("got {eps}")],
        );
        let mut m = MulticlassClassificationEvaluator::new();
        m.eps = eps;
        assert_invalid_param(m.evaluate(&data()).unwrap_err(), "eps", &["(0, 0.5)"]);
    }
    assert!(BinaryClassificationEvaluator::new()
        .evaluate(&data())
        .is_ok());
}

#[test]
fn tuners_refuse_folds_ratios_and_parallelism_outside_their_ranges() {
    let grid = ParamGridBuilder::new()
        .add_grid("reg_param", [0.0, 0.1])
        .build();
    let cv = || {
        CrossValidator::new(
            LogisticRegression::new(),
            BinaryClassificationEvaluator::new(),
        )
        .with_estimator_param_maps(grid.clone())
    };
    for k in [0, 1] {
        assert_invalid_param(
            cv().with_num_folds(k).fit(&data()).unwrap_err(),
            "num_folds",
            &["at least 2", &format!("got {k}")],
        );
    }
    for p in [0, 1025, usize::MAX] {
        assert_invalid_param(
            cv().with_parallelism(p).fit(&data()).unwrap_err(),
            "parallelism",
            &["[1, 1024]", &format!("got {p}")],
        );
    }
    let tvs = || {
        TrainValidationSplit::new(
            LogisticRegression::new(),
            BinaryClassificationEvaluator::new(),
        )
        .with_estimator_param_maps(grid.clone())
    };
    for r in [0.0, 1.0, -0.5, 1.5, f64::NAN] {
        assert_invalid_param(
            tvs().with_train_ratio(r).fit(&data()).unwrap_err(),
            "train_ratio",
            &["(0, 1)", &format!("got {r}")],
        );
    }
    assert_invalid_param(
        tvs().with_parallelism(0).fit(&data()).unwrap_err(),
        "parallelism",
        &["[1, 1024]"],
    );
    let plain = data().select(&["features", "label"]).unwrap().clone();
    if let Err(e) = cv().with_num_folds(2).fit(&plain) {
        panic!("{e}");
    }
}
