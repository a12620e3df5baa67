//! The row path ([`ml_core::row`]) against `transform`, stage by stage: every row of data with
//! nulls, NaN, unseen labels and invalid codes, under each `handle_invalid`, gives the same
//! values bit for bit (or the same error, or is dropped the same way).

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, StringArray};
use ml_core::dataset::vector_column_from_vec;
use ml_core::feature::{
    HandleInvalid, Imputer, ImputerStrategy, OneHotEncoder, StandardScaler, StringIndexer,
    VectorAssembler,
};
use ml_core::linear::LogisticRegression;
use ml_core::row::{Row, RowScorer, RowValue};
use ml_core::testing::check_row_path;
use ml_core::{Dataset, Estimator, MlError, Pipeline};

fn col(v: Vec<Option<f64>>) -> ArrayRef {
    Arc::new(Float64Array::from(v))
}

fn strs(v: Vec<Option<&str>>) -> ArrayRef {
    Arc::new(StringArray::from(v))
}

/// Training rows and scoring rows (with values never seen in training).
fn data() -> (Dataset, Dataset) {
    let train = Dataset::from_columns(vec![
        (
            "x",
            col(vec![
                Some(1.0),
                None,
                Some(4.0),
                Some(f64::NAN),
                Some(9.0),
                Some(4.0),
            ]),
        ),
        (
            "n",
            Arc::new(Int64Array::from(vec![
                Some(3),
                Some(1),
                None,
                Some(7),
                Some(1),
                Some(2),
            ])) as ArrayRef,
        ),
        (
            "c",
            strs(vec![
                Some("a"),
                Some("b"),
                Some("a"),
                Some("c"),
                None,
                Some("b"),
            ]),
        ),
        (
            "d",
            strs(vec![
                Some("u"),
                Some("v"),
                Some("u"),
                Some("u"),
                Some("v"),
                Some("w"),
            ]),
        ),
    ])
    .unwrap();
    let score = Dataset::from_columns(vec![
        (
            "x",
            col(vec![
                Some(2.5),
                None,
                Some(f64::NAN),
                Some(-0.0),
                Some(1e300),
                Some(-7.0),
                Some(-1.0),
            ]),
        ),
        (
            "n",
            Arc::new(Int64Array::from(vec![
                Some(5),
                None,
                Some(1),
                Some(0),
                Some(-4),
                Some(2),
                Some(9),
            ])) as ArrayRef,
        ),
        (
            "c",
            strs(vec![
                Some("b"),
                Some("zzz"),
                None,
                Some("a"),
                Some("c"),
                Some(""),
                Some("a"),
            ]),
        ),
        (
            "d",
            strs(vec![
                Some("w"),
                Some("u"),
                Some("u"),
                Some("new"),
                Some("v"),
                Some("u"),
                None,
            ]),
        ),
    ])
    .unwrap();
    (train, score)
}

#[test]
fn imputer_row_path_equals_transform() {
    let (train, score) = data();
    for strategy in [
        ImputerStrategy::Mean,
        ImputerStrategy::Median,
        ImputerStrategy::Mode,
    ] {
        for missing in [f64::NAN, -1.0] {
            let m = Imputer::new(&["x", "n"], &["x_i", "n_i"])
                .with_strategy(strategy)
                .with_missing_value(missing)
                .fit(&train)
                .unwrap();
            let (scored, _, failed) = check_row_path(&m, &score, &["x_i", "n_i"]);
            assert_eq!((scored, failed), (7, 0));
        }
    }
}

#[test]
fn string_indexer_row_path_follows_each_handle_invalid() {
    let (train, score) = data();
    let mut counts = Vec::new();
    for mode in [
        HandleInvalid::Error,
        HandleInvalid::Skip,
        HandleInvalid::Keep,
    ] {
        let m = StringIndexer::multi(&["c", "d"], &["c_i", "d_i"])
            .with_handle_invalid(mode)
            .fit(&train)
            .unwrap();
        counts.push(check_row_path(&m, &score, &["c_i", "d_i"]));
    }
    // Rows 1 ("zzz"), 2 (null), 3 ("new"), 5 ("") and 6 (null) hold an invalid value.
    assert_eq!(counts, vec![(2, 0, 5), (2, 5, 0), (7, 0, 0)]);
}

#[test]
fn one_hot_encoder_row_path_equals_transform_for_valid_and_invalid_codes() {
    let codes = Dataset::from_columns(vec![
        ("k", col(vec![Some(0.0), Some(2.0), Some(1.0)])),
        ("j", col(vec![Some(1.0), Some(0.0), Some(3.0)])),
    ])
    .unwrap();
    let score = Dataset::from_columns(vec![
        (
            "k",
            col(vec![
                Some(1.0),
                None,
                Some(f64::NAN),
                Some(-1.0),
                Some(0.5),
                Some(3.0),
                Some(2.0),
            ]),
        ),
        (
            "j",
            col(vec![
                Some(3.0),
                Some(0.0),
                Some(1.0),
                Some(2.0),
                Some(0.0),
                Some(1.0),
                Some(7.0),
            ]),
        ),
    ])
    .unwrap();
    for mode in [HandleInvalid::Error, HandleInvalid::Keep] {
        for drop_last in [true, false] {
            let m = OneHotEncoder::new(&["k", "j"], &["k_v", "j_v"])
                .with_handle_invalid(mode)
                .with_drop_last(drop_last)
                .fit(&codes)
                .unwrap();
            let (scored, _, failed) = check_row_path(&m, &score, &["k_v", "j_v"]);
            let want = if mode == HandleInvalid::Keep {
                (7, 0)
            } else {
                (1, 6)
            };
            assert_eq!((scored, failed), want);
        }
    }
}

#[test]
fn vector_assembler_row_path_follows_each_handle_invalid() {
    let v = vector_column_from_vec(vec![1.0, 2.0, f64::NAN, 4.0, 5.0, 6.0, 7.0, 8.0], 4, 2);
    let v = Arc::new(arrow::array::FixedSizeListArray::new(
        Arc::new(arrow::datatypes::Field::new(
            "item",
            arrow::datatypes::DataType::Float64,
            false,
        )),
        2,
        v.as_any()
            .downcast_ref::<arrow::array::FixedSizeListArray>()
            .unwrap()
            .values()
            .clone(),
        Some(vec![true, true, true, false].into()),
    )) as ArrayRef;
    let data = Dataset::from_columns(vec![
        ("a", col(vec![Some(1.0), None, Some(f64::NAN), Some(3.0)])),
        ("v", v),
        ("code", col(vec![Some(2.0), Some(0.0), None, Some(1.0)])),
    ])
    .unwrap();
    let mut counts = Vec::new();
    for mode in [
        HandleInvalid::Error,
        HandleInvalid::Skip,
        HandleInvalid::Keep,
    ] {
        let m = VectorAssembler::new(&["a", "v", "code"], "out")
            .with_categorical_cols(&["code"])
            .with_handle_invalid(mode);
        counts.push(check_row_path(&m, &data, &["out"]));
    }
    assert_eq!(counts, vec![(1, 0, 3), (1, 3, 0), (4, 0, 0)]);
    // A bad category code is an error under every mode, before anything else.
    let bad = Dataset::from_columns(vec![
        ("a", col(vec![Some(1.0)])),
        ("code", col(vec![Some(1.5)])),
    ])
    .unwrap();
    let m = VectorAssembler::new(&["a", "code"], "out")
        .with_categorical_cols(&["code"])
        .with_handle_invalid(HandleInvalid::Keep);
    assert_eq!(check_row_path(&m, &bad, &["out"]), (0, 0, 1));
    // Fixed category counts: a code at or above its count (row 0's 2, with 2 categories) is
    // an error on both paths; with 3 categories every row passes.
    for (count, expected) in [(2, (3, 0, 1)), (3, (4, 0, 0))] {
        let fixed = VectorAssembler::new(&["a", "v", "code"], "out")
            .with_categorical_cols(&["code"])
            .with_category_counts(&[count])
            .with_handle_invalid(HandleInvalid::Keep);
        assert_eq!(check_row_path(&fixed, &data, &["out"]), expected, "{count}");
    }
}

#[test]
fn standard_scaler_row_path_equals_transform() {
    let x: Vec<f64> = (0..30)
        .map(|i| ((i * 7919) % 97) as f64 / 7.0 - 3.0)
        .collect();
    let mut x2 = x.clone();
    x2[4] = 5.0;
    let train = Dataset::from_columns(vec![("raw", vector_column_from_vec(x, 10, 3))]).unwrap();
    // The third slot is constant in training: its std is 0 and it scales to 0.
    let mut cols = x2;
    for r in 0..10 {
        cols[r * 3 + 2] = 1.5;
    }
    let train_const =
        Dataset::from_columns(vec![("raw", vector_column_from_vec(cols, 10, 3))]).unwrap();
    for t in [&train, &train_const] {
        for (mean, std) in [(false, true), (true, true), (true, false), (false, false)] {
            let m = StandardScaler::new("raw", "scaled")
                .with_mean(mean)
                .with_std(std)
                .fit(t)
                .unwrap();
            assert_eq!(check_row_path(&m, &train, &["scaled"]), (10, 0, 0));
        }
    }
}

#[test]
fn logistic_regression_row_path_equals_transform() {
    let n = 60;
    let x: Vec<f64> = (0..n * 2).map(|i| ((i * 37) % 23) as f64 / 5.0).collect();
    let y2: Vec<f64> = (0..n)
        .map(|i| f64::from(x[i * 2] + 0.5 * x[i * 2 + 1] > 3.0))
        .collect();
    let y3: Vec<f64> = (0..n).map(|i| ((x[i * 2] as usize) % 3) as f64).collect();
    for y in [y2, y3] {
        let data = Dataset::from_columns(vec![
            ("features", vector_column_from_vec(x.clone(), n, 2)),
            ("label", Arc::new(Float64Array::from(y)) as ArrayRef),
        ])
        .unwrap();
        let m = LogisticRegression::new()
            .with_max_iter(30)
            .fit(&data)
            .unwrap();
        let outs = ["rawPrediction", "probability", "prediction"];
        assert_eq!(check_row_path(&m, &data, &outs), (n, 0, 0));
    }
}

/// The loan use case's preprocessing: imputer, indexers, one-hot, assembler, scaler.
fn loan_like() -> (ml_core::PipelineModel, Dataset) {
    let (train, score) = data();
    let model = Pipeline::new()
        .estimator(
            "impute",
            Imputer::new(&["x", "n"], &["x_i", "n_i"]).with_strategy(ImputerStrategy::Median),
        )
        .estimator(
            "index",
            StringIndexer::multi(&["c", "d"], &["c_i", "d_i"])
                .with_handle_invalid(HandleInvalid::Keep),
        )
        .estimator(
            "onehot",
            OneHotEncoder::new(&["c_i", "d_i"], &["c_v", "d_v"])
                .with_handle_invalid(HandleInvalid::Keep),
        )
        .transformer(
            "assemble",
            VectorAssembler::new(&["c_v", "d_v", "x_i", "n_i"], "raw"),
        )
        .estimator(
            "scale",
            StandardScaler::new("raw", "features")
                .with_mean(true)
                .with_std(true),
        )
        .fit(&train)
        .unwrap();
    (model, score)
}

#[test]
fn a_whole_pipeline_scores_rows_as_transform_does() {
    let (model, score) = loan_like();
    assert_eq!(
        check_row_path(&model, &score, &["features", "c_i", "x_i"]),
        (7, 0, 0)
    );
    let scorer = RowScorer::compile(&model, &["features"]).unwrap();
    let names: Vec<&str> = scorer.inputs().iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["x", "n", "c", "d"]);
    // A small batch in one call, as the rows one by one.
    let rows: Vec<Row> = (0..score.num_rows())
        .map(|i| ml_core::testing::row_of(&score, i).unwrap())
        .collect();
    let batch = scorer.score_batch(&rows).unwrap();
    for (r, b) in rows.iter().zip(&batch) {
        assert_eq!(&scorer.score(r).unwrap(), b);
    }
}

#[test]
fn wrong_kinds_and_missing_fields_are_typed_errors_naming_the_field() {
    let (model, _) = loan_like();
    let scorer = RowScorer::compile(&model, &["features"]).unwrap();
    let good = Row::new()
        .with("x", 1.0)
        .with("n", 2.0)
        .with("c", "a")
        .with("d", "u");
    assert!(scorer.score(&good).unwrap().is_some());
    let e = scorer.score(&good.clone().with("x", "one")).unwrap_err();
    assert!(
        matches!(&e, MlError::ColumnType { column, .. } if column == "x"),
        "{e}"
    );
    let e = scorer.score(&good.clone().with("c", 3.0)).unwrap_err();
    assert!(
        matches!(&e, MlError::ColumnType { column, .. } if column == "c"),
        "{e}"
    );
    let e = scorer
        .score(&good.clone().with("x", vec![1.0]))
        .unwrap_err();
    assert!(
        matches!(&e, MlError::ColumnType { column, .. } if column == "x"),
        "{e}"
    );
    let mut partial = Row::new();
    for (n, v) in good.values().iter().filter(|(n, _)| n != "d") {
        partial.set(n, v.clone());
    }
    let e = scorer.score(&partial).unwrap_err();
    assert!(
        matches!(&e, MlError::ColumnNotFound { column, .. } if column == "d"),
        "{e}"
    );
    // Names the model does not read are ignored.
    assert!(scorer
        .score(&good.clone().with("extra", "?"))
        .unwrap()
        .is_some());
    // JSON rows: the same checks.
    let json: serde_json::Value = serde_json::json!({"x": true, "n": null, "c": "a", "d": "u"});
    assert!(scorer.score_json(&json, 0).unwrap().is_some());
    let e = scorer
        .score_json(&serde_json::json!({"x": {}, "n": 1, "c": "a", "d": "u"}), 3)
        .unwrap_err();
    assert!(
        matches!(&e, MlError::ColumnType { column, .. } if column == "x"),
        "{e}"
    );
    assert!(scorer.score_json(&serde_json::json!([1, 2]), 0).is_err());
    let out = scorer
        .score_json(
            &serde_json::json!({"x": null, "n": 2, "c": "a", "d": "u"}),
            0,
        )
        .unwrap()
        .unwrap();
    assert!(matches!(&out[0], RowValue::Vector(v) if v.len() == 10));
}

#[test]
fn a_scorer_is_shared_across_threads() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    let (model, score) = loan_like();
    let scorer = Arc::new(RowScorer::compile(&model, &["features"]).unwrap());
    send_sync(&scorer);
    let row = ml_core::testing::row_of(&score, 0).unwrap();
    let want = scorer.score(&row).unwrap();
    std::thread::scope(|s| {
        for _ in 0..4 {
            let (scorer, row, want) = (scorer.clone(), row.clone(), want.clone());
            s.spawn(move || assert_eq!(scorer.score(&row).unwrap(), want));
        }
    });
}
