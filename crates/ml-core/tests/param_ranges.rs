//! Parameters out of range are refused at fit time (even when set directly on the public
//! fields, bypassing `set_param`) with an `InvalidParam` naming the parameter, the allowed
//! range and the value given. One test per estimator, listing its bad values.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array};
use ml_core::dataset::vector_column_from_vec;
use ml_core::feature::{Bucketizer, HandleInvalid, Imputer, OneHotEncoder};
use ml_core::linear::LogisticRegression;
use ml_core::testing::assert_invalid_param;
use ml_core::{Dataset, Estimator, ParamValue, Params, Transformer};

/// Four rows, two features, labels 0 1 0 1.
fn data() -> Dataset {
    Dataset::from_columns(vec![
        (
            "features",
            vector_column_from_vec(vec![0.0, 1.0, 1.0, 0.5, 2.0, 0.0, 3.0, 1.5], 4, 2),
        ),
        (
            "label",
            Arc::new(Float64Array::from(vec![0.0, 1.0, 0.0, 1.0])) as ArrayRef,
        ),
        (
            "x",
            Arc::new(Float64Array::from(vec![1.0, f64::NAN, 3.0, 0.0])) as ArrayRef,
        ),
    ])
    .unwrap()
}

#[test]
fn logistic_regression_refuses_out_of_range_parameters_at_fit() {
    type Set = fn(&mut LogisticRegression);
    let cases: Vec<(Set, &str, &[&str])> = vec![
        (|l| l.reg_param = -0.5, "reg_param", &[">= 0", "got -0.5"]),
        (
            |l| l.reg_param = f64::NAN,
            "reg_param",
            &[">= 0", "got NaN"],
        ),
        (
            |l| l.reg_param = f64::INFINITY,
            "reg_param",
            &["finite", "got inf"],
        ),
        (
            |l| l.elastic_net_param = -0.1,
            "elastic_net_param",
            &["[0, 1]", "got -0.1"],
        ),
        (
            |l| l.elastic_net_param = 1.5,
            "elastic_net_param",
            &["[0, 1]", "got 1.5"],
        ),
        (
            |l| l.elastic_net_param = f64::NAN,
            "elastic_net_param",
            &["[0, 1]", "got NaN"],
        ),
        (|l| l.tol = -1e-6, "tol", &[">= 0"]),
        (|l| l.tol = f64::NAN, "tol", &[">= 0"]),
        (|l| l.threshold = 1.01, "threshold", &["[0, 1]", "got 1.01"]),
        (|l| l.threshold = f64::NAN, "threshold", &["[0, 1]"]),
        (
            |l| l.thresholds = Some(vec![]),
            "thresholds",
            &["one per class"],
        ),
        (
            |l| l.thresholds = Some(vec![0.0, 0.0]),
            "thresholds",
            &["at most one zero"],
        ),
        (
            |l| l.thresholds = Some(vec![0.5, -1.0]),
            "thresholds",
            &[">= 0"],
        ),
        (
            |l| l.n_threads = 1_000_000,
            "n_threads",
            &["[0, 1024]", "got 1000000"],
        ),
        (
            |l| l.features_col = String::new(),
            "features_col",
            &["empty"],
        ),
    ];
    for (set, param, words) in cases {
        let mut lr = LogisticRegression::new();
        set(&mut lr);
        assert_invalid_param(lr.fit(&data()).unwrap_err(), param, words);
    }
    // Through set_param, a refused value leaves the estimator as it was; a negative count
    // does not fit the parameter's type.
    let mut lr = LogisticRegression::new();
    assert_invalid_param(
        lr.set_param("regParam", ParamValue::Float(-1.0))
            .unwrap_err(),
        "reg_param",
        &[">= 0"],
    );
    assert_eq!(lr.reg_param, 0.0);
    let e = lr.set_param("maxIter", ParamValue::Int(-3)).unwrap_err();
    assert!(e.to_string().contains("max_iter"), "{e}");
    assert_eq!(lr.max_iter, 100);
    // The boundaries themselves are accepted.
    let ok = LogisticRegression::new()
        .with_reg_param(0.0)
        .with_elastic_net_param(1.0)
        .with_n_threads(1024);
    assert!(ok.fit(&data()).is_ok());
}

#[test]
fn feature_stages_refuse_out_of_range_parameters_at_fit() {
    for bad in [-0.1, 1.5, f64::NAN] {
        let mut imp = Imputer::single("x", "x_filled");
        imp.relative_error = bad;
        assert_invalid_param(
            imp.fit(&data()).unwrap_err(),
            "relative_error",
            &["[0, 1]", &format!("got {bad}")],
        );
    }
    for (splits, words) in [
        (vec![0.0, 1.0], &["at least 3"][..]),
        (vec![0.0, 2.0, 1.0], &["strictly increasing"][..]),
        (vec![0.0, f64::NAN, 1.0], &["not NaN"][..]),
    ] {
        let mut b = Bucketizer::new("x", "b", vec![0.0, 1.0, 2.0]);
        b.splits = Some(splits);
        assert_invalid_param(b.transform(&data()).unwrap_err(), "splits", words);
    }
    let mut ohe = OneHotEncoder::new(&["x"], &["x_vec"]);
    ohe.handle_invalid = HandleInvalid::Skip;
    let e = ohe.fit(&data()).unwrap_err();
    assert!(e.to_string().contains("handle_invalid"), "{e}");
}
