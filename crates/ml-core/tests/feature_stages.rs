//! Feature stages against independent references: hand-written frequency tables, sorted
//! medians, direct two-pass statistics, hand-built one-hot vectors, and typed errors on bad input.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Float64Array, Int64Array, StringArray};
use ml_core::attributes::{attribute_of, categorical_slots, vector_attributes, Attribute};
use ml_core::dataset::vector_column;
use ml_core::feature::{
    Bucketizer, HandleInvalid, Imputer, ImputerStrategy, IndexToString, OneHotEncoder,
    StandardScaler, StringIndexer, StringOrderType, VectorAssembler,
};
use ml_core::{persist, Dataset, Estimator, MlError, ParamValue, Params, Transformer};
use ndarray::Array2;

fn f64_col(v: Vec<Option<f64>>) -> ArrayRef {
    Arc::new(Float64Array::from(v))
}

fn str_col(v: Vec<Option<&str>>) -> ArrayRef {
    Arc::new(StringArray::from(v))
}

fn ds(cols: Vec<(&str, ArrayRef)>) -> Dataset {
    Dataset::from_columns(cols).unwrap()
}

fn values(d: &Dataset, c: &str) -> Vec<f64> {
    d.f64_column(c).unwrap().values().to_vec()
}

// ---------------------------------------------------------------- StringIndexer

/// 3 x b, 3 x a, 2 x c, 1 x d, 2 x e, 2 x null (ignored in fit).
fn grades() -> Dataset {
    let v = vec![
        Some("b"),
        Some("a"),
        None,
        Some("c"),
        Some("b"),
        Some("e"),
        Some("a"),
        Some("d"),
        Some("c"),
        Some("b"),
        Some("a"),
        None,
        Some("e"),
    ];
    ds(vec![("g", str_col(v))])
}

#[test]
fn string_indexer_orders_match_a_hand_written_frequency_table() {
    // Frequency table by hand: a 3, b 3, c 2, e 2, d 1. Ties broken alphabetically (Spark).
    // pyspark 4.3.0 StringIndexer on the same column gives exactly these four label lists.
    let cases = [
        ("frequencyDesc", vec!["a", "b", "c", "e", "d"]),
        ("frequencyAsc", vec!["d", "c", "e", "a", "b"]),
        ("alphabetDesc", vec!["e", "d", "c", "b", "a"]),
        ("alphabetAsc", vec!["a", "b", "c", "d", "e"]),
    ];
    let data = grades();
    for (order, expected) in cases {
        let mut si = StringIndexer::new("g", "g_idx").with_handle_invalid(HandleInvalid::Keep);
        si.set_param("stringOrderType", ParamValue::Str(order.into()))
            .unwrap();
        let model = si.fit(&data).unwrap();
        assert_eq!(model.labels(), expected.as_slice(), "order {order}");
        let out = model.transform(&data).unwrap();
        let codes = values(&out, "g_idx");
        let raw = data.string_column("g").unwrap();
        for (row, code) in codes.iter().enumerate() {
            let want = if raw.is_null(row) {
                5.0 // keep: nulls go to num_labels
            } else {
                expected.iter().position(|l| *l == raw.value(row)).unwrap() as f64
            };
            assert_eq!(*code, want, "order {order}, row {row}");
        }
        // Nominal metadata with the labels plus Spark's "__unknown" for keep.
        let attr = attribute_of(&out.field("g_idx").unwrap()).unwrap();
        let mut want_labels: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
        want_labels.push("__unknown".into());
        assert_eq!(attr, Attribute::nominal("g_idx", want_labels));
    }
}

#[test]
fn string_indexer_default_is_frequency_desc_and_error_on_null() {
    let si = StringIndexer::new("g", "g_idx");
    assert_eq!(
        si.get_param("string_order_type").unwrap(),
        ParamValue::Str("frequencyDesc".into())
    );
    assert_eq!(
        si.get_param("handleInvalid").unwrap(),
        ParamValue::Str("error".into())
    );
    let model = si.fit(&grades()).unwrap();
    let e = model.transform(&grades()).unwrap_err();
    match e {
        MlError::InvalidValue { column, row, .. } => {
            assert_eq!(column, "g");
            assert_eq!(row, 2, "first null row");
        }
        other => panic!("expected InvalidValue, got {other:?}"),
    }
}

#[test]
fn string_indexer_unseen_label_with_error_names_column_row_and_value() {
    let train = ds(vec![(
        "home",
        str_col(vec![Some("RENT"), Some("OWN"), Some("RENT")]),
    )]);
    let test = ds(vec![(
        "home",
        str_col(vec![Some("OWN"), Some("RENT"), Some("BOAT")]),
    )]);
    let model = StringIndexer::new("home", "home_idx").fit(&train).unwrap();
    let e = model.transform(&test).unwrap_err();
    assert!(matches!(e, MlError::InvalidValue { row: 2, .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains("'home'") && msg.contains("row 2") && msg.contains("BOAT"),
        "{msg}"
    );
}

#[test]
fn string_indexer_skip_drops_rows_and_keep_codes_them_last() {
    let train = ds(vec![("c", str_col(vec![Some("x"), Some("y"), Some("x")]))]);
    let test = ds(vec![
        ("c", str_col(vec![Some("y"), Some("z"), None, Some("x")])),
        (
            "id",
            f64_col(vec![Some(0.0), Some(1.0), Some(2.0), Some(3.0)]),
        ),
    ]);
    let skip = StringIndexer::new("c", "ci")
        .with_handle_invalid(HandleInvalid::Skip)
        .fit(&train)
        .unwrap()
        .transform(&test)
        .unwrap();
    assert_eq!(values(&skip, "id"), vec![0.0, 3.0]);
    assert_eq!(values(&skip, "ci"), vec![1.0, 0.0]);
    let keep = StringIndexer::new("c", "ci")
        .with_handle_invalid(HandleInvalid::Keep)
        .fit(&train)
        .unwrap()
        .transform(&test)
        .unwrap();
    assert_eq!(values(&keep, "ci"), vec![1.0, 2.0, 2.0, 0.0]);
}

#[test]
fn string_indexer_casts_numeric_columns_to_strings_and_indexes_several_columns() {
    let data = ds(vec![
        (
            "n",
            Arc::new(Int64Array::from(vec![7, 3, 7, 10, 3, 7])) as ArrayRef,
        ),
        (
            "s",
            str_col(vec![
                Some("p"),
                Some("q"),
                Some("q"),
                Some("p"),
                Some("r"),
                Some("q"),
            ]),
        ),
    ]);
    let model = StringIndexer::multi(&["n", "s"], &["n_idx", "s_idx"])
        .with_string_order_type(StringOrderType::AlphabetAsc)
        .fit(&data)
        .unwrap();
    // As strings, "10" < "3" < "7" (pyspark 4.3.0 gives ["10", "3", "7"]).
    assert_eq!(model.labels_array()[0], vec!["10", "3", "7"]);
    assert_eq!(model.labels_array()[1], vec!["p", "q", "r"]);
    let out = model.transform(&data).unwrap();
    assert_eq!(values(&out, "n_idx"), vec![2.0, 1.0, 2.0, 0.0, 1.0, 2.0]);
    assert_eq!(values(&out, "s_idx"), vec![0.0, 1.0, 1.0, 0.0, 2.0, 1.0]);
    // Doubles print as Spark casts them: pyspark 4.3.0 gives ["3.5", "7.0"].
    let d = ds(vec![("d", f64_col(vec![Some(7.0), Some(3.5)]))]);
    let m = StringIndexer::new("d", "di")
        .with_string_order_type(StringOrderType::AlphabetAsc)
        .fit(&d)
        .unwrap();
    assert_eq!(m.labels(), &["3.5", "7.0"]);
}

#[test]
fn index_to_string_inverts_string_indexer_and_rejects_codes_without_label() {
    let data = grades();
    let indexed = StringIndexer::new("g", "gi")
        .with_handle_invalid(HandleInvalid::Keep)
        .fit(&data)
        .unwrap()
        .transform(&data)
        .unwrap();
    let back = IndexToString::new("gi", "g2").transform(&indexed).unwrap();
    let orig = back.string_column("g").unwrap();
    let got = back.string_column("g2").unwrap();
    for row in 0..orig.len() {
        if orig.is_null(row) {
            assert_eq!(got.value(row), "__unknown");
        } else {
            assert_eq!(got.value(row), orig.value(row));
        }
    }
    // Explicit labels; a null code gives a null label; code 3 has no label.
    let codes = ds(vec![("i", f64_col(vec![Some(1.0), None, Some(3.0)]))]);
    let its = IndexToString::new("i", "s").with_labels(vec!["u".into(), "v".into(), "w".into()]);
    let e = its.transform(&codes).unwrap_err();
    assert!(matches!(e, MlError::InvalidValue { row: 2, .. }), "{e:?}");
    let ok = its.transform(&codes.slice(0, 2)).unwrap();
    let s = ok.string_column("s").unwrap();
    assert_eq!(s.value(0), "v");
    assert!(s.is_null(1));
    // No metadata and no labels: a parameter error.
    let e = IndexToString::new("i", "s").transform(&codes).unwrap_err();
    assert!(matches!(e, MlError::InvalidParam { .. }), "{e:?}");
}

// ---------------------------------------------------------------- Imputer

#[test]
fn imputer_median_matches_a_sorted_reference() {
    // Deterministic values with nulls and NaN sprinkled in.
    let raw: Vec<Option<f64>> = (0..101)
        .map(|i| match i % 7 {
            0 => None,
            3 => Some(f64::NAN),
            _ => Some(((i * 37) % 101) as f64 * 0.5 - 10.0),
        })
        .collect();
    let mut present: Vec<f64> = raw
        .iter()
        .flatten()
        .copied()
        .filter(|v| !v.is_nan())
        .collect();
    present.sort_by(f64::total_cmp);
    // Spark's median is approxQuantile(0.5): the element at 1-based rank ceil(n * 0.5).
    let rank = (present.len() as f64 * 0.5).ceil() as usize;
    let reference = present[rank - 1];
    let mean_ref = present.iter().sum::<f64>() / present.len() as f64;

    let data = ds(vec![("x", f64_col(raw.clone()))]);
    let model = Imputer::new(&["x"], &["x_imp"])
        .with_strategy(ImputerStrategy::Median)
        .fit(&data)
        .unwrap();
    assert_eq!(model.surrogates(), &[reference]);
    let out = model.transform(&data).unwrap();
    let col = out.f64_column("x_imp").unwrap();
    assert_eq!(col.null_count(), 0);
    for (row, v) in raw.iter().enumerate() {
        let want = match v {
            Some(x) if !x.is_nan() => *x,
            _ => reference,
        };
        assert_eq!(col.value(row), want, "row {row}");
    }
    let mean = Imputer::new(&["x"], &["x_imp"]).fit(&data).unwrap();
    assert!((mean.surrogates()[0] - mean_ref).abs() < 1e-12);
}

#[test]
fn imputer_even_count_median_is_the_lower_middle_value_as_spark() {
    // Measured with pyspark 4.3.0 (peers venv, /tmp script in the closing note):
    // Imputer(strategy="median") on [4, 1, null, 3, 2] gives 2.0 (approxQuantile picks an element
    // of the data at rank ceil(0.5 * 4) = 2, it does not average the two middle values).
    let data = ds(vec![(
        "x",
        f64_col(vec![Some(4.0), Some(1.0), None, Some(3.0), Some(2.0)]),
    )]);
    let m = Imputer::single("x", "y")
        .with_strategy(ImputerStrategy::Median)
        .fit(&data)
        .unwrap();
    assert_eq!(m.surrogates(), &[2.0]);
}

#[test]
fn imputer_mode_missing_value_placeholder_and_integer_inputs() {
    // Mode: 5 appears 3 times, 2 appears 3 times -> the smaller one (2), as Spark (pyspark
    // 4.3.0 gives 2.0 for [5, 2, 5, 2, 9, 2, 5]).
    // -1 is the placeholder, so it is missing too.
    let data = ds(vec![
        (
            "k",
            Arc::new(Int64Array::from(vec![
                Some(5),
                Some(2),
                Some(-1),
                Some(5),
                None,
                Some(2),
                Some(-1),
                Some(-1),
                Some(-1),
                Some(2),
                Some(5),
                Some(9),
            ])) as ArrayRef,
        ),
        (
            "y",
            f64_col(vec![
                Some(1.0),
                Some(2.0),
                Some(3.0),
                Some(-1.0),
                Some(f64::NAN),
                Some(6.0),
                Some(1.0),
                Some(1.0),
                Some(1.0),
                Some(1.0),
                Some(1.0),
                Some(1.0),
            ]),
        ),
    ]);
    let model = Imputer::new(&["k", "y"], &["k2", "y2"])
        .with_strategy(ImputerStrategy::Mode)
        .with_missing_value(-1.0)
        .fit(&data)
        .unwrap();
    assert_eq!(model.surrogates(), &[2.0, 1.0]);
    let out = model.transform(&data).unwrap();
    assert_eq!(
        values(&out, "k2"),
        vec![5.0, 2.0, 2.0, 5.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 5.0, 9.0]
    );
    assert_eq!(values(&out, "y2")[3], 1.0);
    assert_eq!(values(&out, "y2")[4], 1.0, "NaN is always missing");
}

#[test]
fn imputer_rejects_all_missing_columns_and_bad_params() {
    let data = ds(vec![("x", f64_col(vec![None, Some(f64::NAN)]))]);
    let e = Imputer::single("x", "y").fit(&data).unwrap_err();
    assert!(e.to_string().contains("'x'"), "{e}");
    let mut imp = Imputer::single("x", "y");
    let e = imp
        .set_param("strategy", ParamValue::Str("avg".into()))
        .unwrap_err();
    assert!(e.to_string().contains("strategy"), "{e}");
    let e = Imputer::new(&["x"], &["a", "b"]).fit(&data).unwrap_err();
    assert!(matches!(e, MlError::InvalidParam { .. }));
}

// ---------------------------------------------------------------- OneHotEncoder

#[test]
fn one_hot_encoder_matches_hand_built_vectors() {
    let data = ds(vec![(
        "c",
        f64_col(vec![Some(0.0), Some(2.0), Some(1.0), Some(2.0)]),
    )]);
    // drop_last (default): 3 categories -> 2 slots, category 2 is all zeros.
    let out = OneHotEncoder::new(&["c"], &["v"])
        .fit(&data)
        .unwrap()
        .transform(&data)
        .unwrap();
    let want =
        Array2::from_shape_vec((4, 2), vec![1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0]).unwrap();
    assert_eq!(out.features("v").unwrap(), want.view());
    // No drop_last: full identity rows.
    let out = OneHotEncoder::new(&["c"], &["v"])
        .with_drop_last(false)
        .fit(&data)
        .unwrap()
        .transform(&data)
        .unwrap();
    let want = Array2::from_shape_vec(
        (4, 3),
        vec![
            1.0, 0.0, 0.0, //
            0.0, 0.0, 1.0, //
            0.0, 1.0, 0.0, //
            0.0, 0.0, 1.0,
        ],
    )
    .unwrap();
    assert_eq!(out.features("v").unwrap(), want.view());
    let names: Vec<String> = vector_attributes(&out.field("v").unwrap())
        .unwrap()
        .iter()
        .map(|a| {
            assert!(matches!(a, Attribute::Binary { .. }));
            a.name().unwrap().to_string()
        })
        .collect();
    assert_eq!(names, vec!["v_0", "v_1", "v_2"]);
}

#[test]
fn one_hot_encoder_reads_nominal_metadata_and_handles_invalid_codes() {
    let train = ds(vec![(
        "s",
        str_col(vec![Some("a"), Some("b"), Some("a"), Some("c")]),
    )]);
    let indexer = StringIndexer::new("s", "si")
        .with_handle_invalid(HandleInvalid::Keep)
        .fit(&train)
        .unwrap();
    let test = ds(vec![(
        "s",
        str_col(vec![Some("c"), Some("zzz"), Some("a")]),
    )]);
    let idx = indexer.transform(&test).unwrap();
    // Metadata says 4 values (a, b, c, __unknown): drop_last keeps 3 slots; unseen -> zeros.
    let ohe = OneHotEncoder::new(&["si"], &["sv"]).fit(&idx).unwrap();
    assert_eq!(ohe.category_sizes(), &[4]);
    let out = ohe.transform(&idx).unwrap();
    let want =
        Array2::from_shape_vec((3, 3), vec![0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0]).unwrap();
    assert_eq!(out.features("sv").unwrap(), want.view());
    let names: Vec<String> = vector_attributes(&out.field("sv").unwrap())
        .unwrap()
        .iter()
        .map(|a| a.name().unwrap().to_string())
        .collect();
    assert_eq!(names, vec!["sv_a", "sv_b", "sv_c"]);

    // Learned size 2 (max code 1); code 5 is invalid.
    let train = ds(vec![("c", f64_col(vec![Some(0.0), Some(1.0)]))]);
    let test = ds(vec![("c", f64_col(vec![Some(1.0), Some(5.0)]))]);
    let model = OneHotEncoder::new(&["c"], &["v"]).fit(&train).unwrap();
    let e = model.transform(&test).unwrap_err();
    assert!(matches!(e, MlError::InvalidValue { row: 1, .. }), "{e:?}");
    // keep + no drop_last: width 3, invalid in the last slot.
    let model = OneHotEncoder::new(&["c"], &["v"])
        .with_handle_invalid(HandleInvalid::Keep)
        .with_drop_last(false)
        .fit(&train)
        .unwrap();
    let out = model.transform(&test).unwrap();
    assert_eq!(
        out.features("v").unwrap().as_slice().unwrap(),
        &[0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    );
    // Fitting on something that is not a category code names the row.
    let bad = ds(vec![("c", f64_col(vec![Some(0.0), Some(1.5)]))]);
    let e = OneHotEncoder::new(&["c"], &["v"]).fit(&bad).unwrap_err();
    assert!(matches!(e, MlError::InvalidValue { row: 1, .. }), "{e:?}");
    // skip is not an option for the encoder.
    let mut o = OneHotEncoder::new(&["c"], &["v"]);
    assert!(o
        .set_param("handle_invalid", ParamValue::Str("skip".into()))
        .is_err());
}

// ---------------------------------------------------------------- VectorAssembler

#[test]
fn vector_assembler_carries_per_slot_metadata() {
    let data = ds(vec![
        ("x", f64_col(vec![Some(1.5), Some(2.5), Some(3.5)])),
        ("cat", str_col(vec![Some("u"), Some("v"), Some("u")])),
        ("n", Arc::new(Int64Array::from(vec![7, 8, 9])) as ArrayRef),
        (
            "vec",
            vector_column(&Array2::from_shape_vec((3, 2), vec![1., 2., 3., 4., 5., 6.]).unwrap()),
        ),
    ]);
    let data = StringIndexer::new("cat", "cat_idx")
        .fit(&data)
        .unwrap()
        .transform(&data)
        .unwrap();
    let va = VectorAssembler::new(&["x", "cat_idx", "vec", "n"], "features");
    let out = va.transform(&data).unwrap();
    let m = out.features("features").unwrap();
    assert_eq!(
        m.as_slice().unwrap(),
        &[
            1.5, 0.0, 1.0, 2.0, 7.0, //
            2.5, 1.0, 3.0, 4.0, 8.0, //
            3.5, 0.0, 5.0, 6.0, 9.0
        ]
    );
    let field = out.field("features").unwrap();
    let attrs = vector_attributes(&field).unwrap();
    assert_eq!(
        attrs,
        vec![
            Attribute::numeric("x"),
            Attribute::nominal("cat_idx", vec!["u".into(), "v".into()]),
            Attribute::numeric("vec_0"),
            Attribute::numeric("vec_1"),
            Attribute::numeric("n"),
        ]
    );
    assert_eq!(categorical_slots(&field), vec![(1, 2)]);
    // transform_schema agrees with the data.
    let schema = va.transform_schema(&data.schema()).unwrap();
    assert_eq!(schema.field_with_name("features").unwrap(), field.as_ref());
}

#[test]
fn vector_assembler_handle_invalid_error_skip_keep() {
    let data = ds(vec![
        ("a", f64_col(vec![Some(1.0), None, Some(3.0), Some(4.0)])),
        (
            "b",
            f64_col(vec![Some(1.0), Some(2.0), Some(f64::NAN), Some(4.0)]),
        ),
    ]);
    let e = VectorAssembler::new(&["a", "b"], "f")
        .transform(&data)
        .unwrap_err();
    match &e {
        MlError::InvalidValue { column, row, .. } => {
            assert_eq!((column.as_str(), *row), ("a", 1));
        }
        other => panic!("{other:?}"),
    }
    let skip = VectorAssembler::new(&["a", "b"], "f")
        .with_handle_invalid(HandleInvalid::Skip)
        .transform(&data)
        .unwrap();
    assert_eq!(
        skip.features("f").unwrap().as_slice().unwrap(),
        &[1.0, 1.0, 4.0, 4.0]
    );
    let keep = VectorAssembler::new(&["a", "b"], "f")
        .with_handle_invalid(HandleInvalid::Keep)
        .transform(&data)
        .unwrap();
    let m = keep.features("f").unwrap();
    assert!(m[[1, 0]].is_nan() && m[[2, 1]].is_nan());
    assert_eq!(m[[1, 1]], 2.0);
    // Null vector input with keep: NaN of its width.
    let nulls = arrow::buffer::NullBuffer::from(vec![true, false]);
    let list = arrow::array::FixedSizeListArray::new(
        Arc::new(arrow::datatypes::Field::new(
            "item",
            arrow::datatypes::DataType::Float64,
            false,
        )),
        2,
        Arc::new(Float64Array::from(vec![1.0, 2.0, 3.0, 4.0])),
        Some(nulls),
    );
    let vd = ds(vec![("v", Arc::new(list) as ArrayRef)]);
    let out = VectorAssembler::new(&["v"], "f")
        .with_handle_invalid(HandleInvalid::Keep)
        .transform(&vd)
        .unwrap();
    let m = out.features("f").unwrap();
    assert_eq!(&[m[[0, 0]], m[[0, 1]]], &[1.0, 2.0]);
    assert!(m[[1, 0]].is_nan() && m[[1, 1]].is_nan());
    let e = VectorAssembler::new(&["v"], "f")
        .transform(&vd)
        .unwrap_err();
    assert!(matches!(e, MlError::InvalidValue { row: 1, .. }), "{e:?}");
}

// ---------------------------------------------------------------- StandardScaler

/// Textbook case: [2, 4, 4, 4, 5, 5, 7, 9] has mean 5, population std 2 and sample
/// (n - 1) std sqrt(32 / 7) = 2.138089935299395 (pyspark 4.3.0 StandardScaler: std
/// [2.138089935299395], mean [5.0]).
#[test]
fn standard_scaler_uses_unbiased_std_textbook_case() {
    let x = Array2::from_shape_vec((8, 1), vec![2., 4., 4., 4., 5., 5., 7., 9.]).unwrap();
    let data = ds(vec![("raw", vector_column(&x))]);
    let model = StandardScaler::new("raw", "s").fit(&data).unwrap();
    assert_eq!(model.mean(), &[5.0]);
    assert!((model.std()[0] - 2.138_089_935_299_395).abs() < 1e-15);
    let out = model.transform(&data).unwrap();
    let s = out.features("s").unwrap();
    // with_mean false (default): x / std only.
    assert!((s[[7, 0]] - 9.0 / 2.138_089_935_299_395).abs() < 1e-12);
}

#[test]
fn standard_scaler_statistics_match_a_direct_two_pass_computation() {
    let (n, w) = (257, 4);
    let x = Array2::from_shape_fn((n, w), |(i, j)| match j {
        0 => ((i * 7919) % 1000) as f64 / 37.0,
        1 => 1e6 + (i % 13) as f64,
        2 => 42.0, // zero variance
        _ => -(((i * i) % 97) as f64),
    });
    let data = ds(vec![("raw", vector_column(&x))]);
    let model = StandardScaler::new("raw", "s")
        .with_mean(true)
        .fit(&data)
        .unwrap();
    for j in 0..w {
        let col: Vec<f64> = (0..n).map(|i| x[[i, j]]).collect();
        let mean = col.iter().sum::<f64>() / n as f64;
        let var = col.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        let std = var.sqrt();
        assert!((model.mean()[j] - mean).abs() <= 1e-9 * mean.abs().max(1.0));
        assert!(
            (model.std()[j] - std).abs() <= 1e-9 * std.max(1.0),
            "slot {j}"
        );
        let out = model.transform(&data).unwrap();
        let s = out.features("s").unwrap();
        for i in (0..n).step_by(17) {
            let want = if std == 0.0 {
                0.0
            } else {
                (x[[i, j]] - mean) / std
            };
            assert!((s[[i, j]] - want).abs() < 1e-9, "({i}, {j})");
        }
    }
    assert_eq!(model.std()[2], 0.0);
    // with_std false, with_mean true: only centred.
    let centred = StandardScaler::new("raw", "c")
        .with_mean(true)
        .with_std(false)
        .fit(&data)
        .unwrap()
        .transform(&data)
        .unwrap();
    let c = centred.features("c").unwrap();
    assert!((c[[0, 2]]).abs() < 1e-12);
    assert!((c[[3, 0]] - (x[[3, 0]] - model.mean()[0])).abs() < 1e-12);
}

#[test]
fn standard_scaler_rejects_scalar_input_and_keeps_slot_names_as_numeric() {
    let data = ds(vec![("x", f64_col(vec![Some(1.0)]))]);
    let e = StandardScaler::new("x", "s").fit(&data).unwrap_err();
    assert!(matches!(e, MlError::ColumnType { .. }), "{e:?}");
    let data = ds(vec![
        ("c", str_col(vec![Some("a"), Some("b"), Some("a")])),
        ("y", f64_col(vec![Some(1.0), Some(2.0), Some(4.0)])),
    ]);
    let data = StringIndexer::new("c", "ci")
        .fit(&data)
        .unwrap()
        .transform(&data)
        .unwrap();
    let data = VectorAssembler::new(&["ci", "y"], "raw")
        .transform(&data)
        .unwrap();
    let out = StandardScaler::new("raw", "s")
        .fit(&data)
        .unwrap()
        .transform(&data)
        .unwrap();
    let attrs = vector_attributes(&out.field("s").unwrap()).unwrap();
    assert_eq!(
        attrs,
        vec![Attribute::numeric("ci"), Attribute::numeric("y")]
    );
}

// ---------------------------------------------------------------- Bucketizer

#[test]
fn bucketizer_edges_nan_and_out_of_range() {
    let splits = vec![f64::NEG_INFINITY, -0.5, 0.0, 0.5, f64::INFINITY];
    let data = ds(vec![(
        "x",
        f64_col(vec![
            Some(-0.9),
            Some(-0.5),
            Some(-0.3),
            Some(0.0),
            Some(0.2),
            Some(0.5),
            Some(999.0),
            Some(f64::NEG_INFINITY),
            Some(f64::INFINITY),
        ]),
    )]);
    let out = Bucketizer::new("x", "b", splits.clone())
        .transform(&data)
        .unwrap();
    // Hand-computed from [s_i, s_i+1): -0.9->0, -0.5->1, -0.3->1, 0->2, 0.2->2, 0.5->3, ...
    // (pyspark 4.3.0 Bucketizer gives [0, 1, 1, 2, 2, 3, 3] for the first seven).
    assert_eq!(
        values(&out, "b"),
        vec![0.0, 1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 0.0, 3.0]
    );
    let attr = attribute_of(&out.field("b").unwrap()).unwrap();
    assert_eq!(attr.num_categories(), Some(4));

    // Closed last bucket; out of range always an error.
    let b = Bucketizer::new("x", "b", vec![0.0, 1.0, 2.0]);
    let d = ds(vec![("x", f64_col(vec![Some(2.0), Some(0.0), Some(2.5)]))]);
    let e = b.transform(&d).unwrap_err();
    assert!(matches!(e, MlError::InvalidValue { row: 2, .. }), "{e:?}");
    assert_eq!(
        values(&b.transform(&d.slice(0, 2)).unwrap(), "b"),
        vec![1.0, 0.0]
    );

    // NaN / null: error, skip, keep.
    let d = ds(vec![
        (
            "x",
            f64_col(vec![Some(0.5), Some(f64::NAN), None, Some(1.5)]),
        ),
        (
            "id",
            f64_col(vec![Some(0.0), Some(1.0), Some(2.0), Some(3.0)]),
        ),
    ]);
    let e = b.transform(&d).unwrap_err();
    assert!(matches!(e, MlError::InvalidValue { row: 1, .. }), "{e:?}");
    let skip = b
        .clone()
        .with_handle_invalid(HandleInvalid::Skip)
        .transform(&d)
        .unwrap();
    assert_eq!(values(&skip, "id"), vec![0.0, 3.0]);
    let keep = b
        .clone()
        .with_handle_invalid(HandleInvalid::Keep)
        .transform(&d)
        .unwrap();
    assert_eq!(values(&keep, "b"), vec![0.0, 2.0, 2.0, 1.0]);
    assert_eq!(
        attribute_of(&keep.field("b").unwrap())
            .unwrap()
            .num_categories(),
        Some(3)
    );
}

#[test]
fn bucketizer_validates_splits_and_survives_save_load_with_infinities() {
    let mut b = Bucketizer::new("x", "b", vec![0.0, 1.0, 2.0]);
    let e = b
        .set_param("splits", ParamValue::FloatList(vec![0.0, 2.0, 1.0]))
        .unwrap_err();
    assert!(e.to_string().contains("splits"), "{e}");
    assert!(b
        .set_param("splits", ParamValue::FloatList(vec![0.0, 1.0]))
        .is_err());
    let multi = Bucketizer::multi(
        &["x", "y"],
        &["bx", "by"],
        vec![
            vec![f64::NEG_INFINITY, 0.0, f64::INFINITY],
            vec![0.0, 10.0, 20.0, 30.0],
        ],
    );
    let d = ds(vec![
        ("x", f64_col(vec![Some(-3.0), Some(3.0)])),
        ("y", f64_col(vec![Some(10.0), Some(30.0)])),
    ]);
    let out = multi.transform(&d).unwrap();
    assert_eq!(values(&out, "bx"), vec![0.0, 1.0]);
    assert_eq!(values(&out, "by"), vec![1.0, 2.0]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.json");
    persist::save(&multi, &path).unwrap();
    let loaded: Bucketizer = persist::load_as(&path).unwrap();
    assert_eq!(loaded.splits_array, multi.splits_array);
    assert_eq!(loaded.transform(&d).unwrap().batch(), out.batch());
}

// ---------------------------------------------------------------- bad input

#[test]
fn missing_columns_and_wrong_types_are_typed_errors_before_any_work() {
    let data = ds(vec![
        ("s", str_col(vec![Some("a")])),
        ("x", f64_col(vec![Some(1.0)])),
    ]);
    let missing =
        |e: MlError| matches!(e, MlError::ColumnNotFound { ref column, .. } if column == "nope");
    assert!(missing(
        Imputer::single("nope", "o").fit(&data).unwrap_err()
    ));
    assert!(missing(
        StringIndexer::new("nope", "o").fit(&data).unwrap_err()
    ));
    assert!(missing(
        OneHotEncoder::new(&["nope"], &["o"])
            .fit(&data)
            .unwrap_err()
    ));
    assert!(missing(
        VectorAssembler::new(&["x", "nope"], "o")
            .transform(&data)
            .unwrap_err()
    ));
    assert!(missing(
        StandardScaler::new("nope", "o").fit(&data).unwrap_err()
    ));
    assert!(missing(
        Bucketizer::new("nope", "o", vec![0.0, 1.0, 2.0])
            .transform(&data)
            .unwrap_err()
    ));
    let wrong = |e: MlError| matches!(e, MlError::ColumnType { ref column, .. } if column == "s");
    assert!(wrong(Imputer::single("s", "o").fit(&data).unwrap_err()));
    assert!(wrong(
        OneHotEncoder::new(&["s"], &["o"]).fit(&data).unwrap_err()
    ));
    assert!(wrong(
        VectorAssembler::new(&["s"], "o")
            .transform(&data)
            .unwrap_err()
    ));
    assert!(wrong(
        Bucketizer::new("s", "o", vec![0.0, 1.0, 2.0])
            .transform(&data)
            .unwrap_err()
    ));
    // Output over an existing column.
    assert!(matches!(
        Imputer::single("x", "s").fit(&data).unwrap_err(),
        MlError::ColumnExists { .. }
    ));
    // Both column forms set.
    let mut si = StringIndexer::new("s", "o");
    si.input_cols = Some(vec!["s".into()]);
    assert!(matches!(
        si.fit(&data).unwrap_err(),
        MlError::InvalidParam { .. }
    ));
}

/// Many rows (several tiles and blocks of the scalar writer, and a sliced batch), scalar
/// columns of three kinds and a vector between them: every cell equals the input value read
/// one at a time (null as NaN), with `keep`; with `skip` exactly the rows without an invalid
/// value remain, in order.
#[test]
fn vector_assembler_places_every_cell_of_a_large_table() {
    let n = 2 * 16 * 256 + 37;
    let a: Vec<Option<f64>> = (0..n)
        .map(|i| (i % 97 != 5).then_some(i as f64 * 0.5))
        .collect();
    let b: Vec<Option<i64>> = (0..n).map(|i| Some(i as i64 * 3 - 7)).collect();
    let c: Vec<Option<f64>> = (0..n)
        .map(|i| Some(if i % 211 == 3 { f64::NAN } else { -(i as f64) }))
        .collect();
    let v: Vec<f64> = (0..2 * n).map(|k| k as f64 + 0.25).collect();
    let full = ds(vec![
        ("a", f64_col(a.clone())),
        (
            "v",
            vector_column(&Array2::from_shape_vec((n, 2), v.clone()).unwrap()) as ArrayRef,
        ),
        ("b", Arc::new(Int64Array::from(b.clone())) as ArrayRef),
        ("c", f64_col(c.clone())),
    ]);
    // A slice of the table, so the columns start at an offset.
    let off = 11;
    let data = Dataset::new(full.batch().slice(off, n - off));
    let rows = n - off;
    let expected = |r: usize| -> [f64; 5] {
        let i = r + off;
        [
            a[i].unwrap_or(f64::NAN),
            v[2 * i],
            v[2 * i + 1],
            b[i].unwrap() as f64,
            c[i].unwrap(),
        ]
    };
    let keep = VectorAssembler::new(&["a", "v", "b", "c"], "f")
        .with_handle_invalid(HandleInvalid::Keep)
        .transform(&data)
        .unwrap();
    let m = keep.features("f").unwrap();
    assert_eq!(m.dim(), (rows, 5));
    for r in 0..rows {
        for (j, want) in expected(r).iter().enumerate() {
            let got = m[[r, j]];
            assert!(
                got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
                "row {r} slot {j}: {got} != {want}"
            );
        }
    }
    let skip = VectorAssembler::new(&["a", "v", "b", "c"], "f")
        .with_handle_invalid(HandleInvalid::Skip)
        .transform(&data)
        .unwrap();
    let kept: Vec<usize> = (0..rows)
        .filter(|&r| expected(r).iter().all(|x| !x.is_nan()))
        .collect();
    let s = skip.features("f").unwrap();
    assert_eq!(s.nrows(), kept.len());
    for (k, &r) in kept.iter().enumerate() {
        assert_eq!(s.row(k).to_vec(), expected(r).to_vec(), "kept row {k}");
    }
    // The first invalid cell in input order is the error (column c, its first NaN).
    let e = VectorAssembler::new(&["c", "a"], "f")
        .transform(&data)
        .unwrap_err();
    match &e {
        MlError::InvalidValue { column, row, .. } => {
            assert_eq!((column.as_str(), *row), ("c", 211 + 3 - off));
        }
        other => panic!("{other:?}"),
    }
}
