//! Parameters out of range are refused at fit time (even when set directly on the public
//! fields, bypassing `set_param`) with an `InvalidParam` naming the parameter, the allowed
//! range and the value given.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array};
use ml_core::dataset::vector_column_from_vec;
use ml_core::testing::assert_invalid_param;
use ml_core::{Dataset, Estimator, ParamValue, Params};
use ml_tree::{GradientBoostedTrees, Objective};

fn data() -> Dataset {
    let x: Vec<f64> = (0..16).map(|i| i as f64).collect();
    let y: Vec<f64> = (0..16).map(|i| (i >= 8) as u8 as f64).collect();
    Dataset::from_columns(vec![
        ("features", vector_column_from_vec(x, 16, 1)),
        ("label", Arc::new(Float64Array::from(y)) as ArrayRef),
    ])
    .unwrap()
}

#[test]
fn gradient_boosted_trees_refuse_out_of_range_parameters_at_fit() {
    type Set = fn(&mut GradientBoostedTrees);
    let cases: Vec<(Set, &str, &[&str])> = vec![
        (|g| g.num_round = 0, "num_round", &[">= 1", "got 0"]),
        (|g| g.eta = 0.0, "eta", &["> 0", "got 0"]),
        (|g| g.eta = -0.3, "eta", &["> 0", "got -0.3"]),
        (|g| g.eta = f64::NAN, "eta", &["> 0", "got NaN"]),
        (|g| g.eta = f64::INFINITY, "eta", &["finite", "got inf"]),
        (|g| g.max_depth = 65, "max_depth", &["[0, 64]", "got 65"]),
        (|g| g.max_depth = 0, "max_depth", &["lossguide"]),
        (|g| g.max_leaves = 1, "max_leaves", &[">= 2", "got 1"]),
        (|g| g.max_bin = 1, "max_bin", &[">= 2", "got 1"]),
        (|g| g.max_bin = 0, "max_bin", &[">= 2", "got 0"]),
        (
            |g| g.min_child_weight = -1.0,
            "min_child_weight",
            &[">= 0", "got -1"],
        ),
        (|g| g.lambda = f64::NAN, "lambda", &[">= 0", "got NaN"]),
        (|g| g.alpha = -0.5, "alpha", &[">= 0"]),
        (|g| g.gamma = f64::INFINITY, "gamma", &["finite"]),
        (|g| g.subsample = 0.0, "subsample", &["(0, 1]", "got 0"]),
        (|g| g.subsample = 1.5, "subsample", &["(0, 1]", "got 1.5"]),
        (
            |g| g.colsample_bytree = f64::NAN,
            "colsample_bytree",
            &["(0, 1]"],
        ),
        (
            |g| g.scale_pos_weight = 0.0,
            "scale_pos_weight",
            &["> 0", "got 0"],
        ),
        (
            |g| g.base_score = Some(1.0),
            "base_score",
            &["(0, 1)", "got 1"],
        ),
        (|g| g.base_score = Some(f64::NAN), "base_score", &["finite"]),
        (
            |g| g.early_stopping_rounds = Some(0),
            "early_stopping_rounds",
            &[">= 1"],
        ),
        (
            |g| g.n_threads = 4096,
            "n_threads",
            &["[0, 1024]", "got 4096"],
        ),
        (
            |g| {
                g.objective = Objective::PseudoHuberError;
                g.huber_slope = 0.0;
            },
            "huber_slope",
            &["> 0", "got 0"],
        ),
        (
            |g| {
                g.objective = Objective::QuantileError;
                g.quantile_alpha = vec![0.5, 1.5];
            },
            "quantile_alpha",
            &["[0, 1]", "1.5"],
        ),
        (
            |g| g.objective = Objective::QuantileError,
            "quantile_alpha",
            &["at least one"],
        ),
        (
            |g| g.max_delta_step = Some(-1.0),
            "max_delta_step",
            &[">= 0", "got -1"],
        ),
        (
            |g| {
                g.objective = Objective::Tweedie;
                g.tweedie_variance_power = 2.5;
            },
            "tweedie_variance_power",
            &["[1, 2)", "got 2.5"],
        ),
        (
            |g| {
                g.objective = Objective::Poisson;
                g.base_score = Some(0.0);
            },
            "base_score",
            &["> 0", "got 0"],
        ),
    ];
    for (set, param, words) in cases {
        let mut gbt = GradientBoostedTrees::new();
        gbt.num_round = 2;
        set(&mut gbt);
        assert_invalid_param(gbt.fit(&data()).unwrap_err(), param, words);
    }
    // multi:softmax with fewer than 2 classes.
    let mut gbt = GradientBoostedTrees::new();
    gbt.objective = "multi:softmax".parse().unwrap();
    gbt.num_class = 1;
    assert_invalid_param(
        gbt.fit(&data()).unwrap_err(),
        "num_class",
        &[">= 2", "got 1"],
    );
    // A negative count does not fit the parameter; the estimator keeps its value.
    let mut gbt = GradientBoostedTrees::new();
    let e = gbt.set_param("num_round", ParamValue::Int(-5)).unwrap_err();
    assert!(e.to_string().contains("num_round"), "{e}");
    let e = gbt.set_param("eta", ParamValue::Float(0.0)).unwrap_err();
    assert!(e.to_string().contains("'eta'"), "{e}");
    assert_eq!(gbt.eta, GradientBoostedTrees::new().eta);
    gbt.num_round = 2;
    assert!(gbt.fit(&data()).is_ok());
}
