//! VectorAssembler's `categorical_cols` and the "every numeric column except" selection, as the
//! command-line tools use them.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Float64Array, Int64Array, StringArray};
use ml_core::attributes::{categorical_slots, vector_attributes, Attribute};
use ml_core::dataset::numeric_columns_except;
use ml_core::feature::{HandleInvalid, VectorAssembler};
use ml_core::stream::BatchSource;
use ml_core::{Dataset, MlError, Transformer};

fn data() -> Dataset {
    Dataset::from_columns(vec![
        (
            "id",
            Arc::new(Int64Array::from(vec![10, 11, 12, 13])) as ArrayRef,
        ),
        (
            "x",
            Arc::new(Float64Array::from(vec![
                Some(0.5),
                None,
                Some(2.0),
                Some(f64::NAN),
            ])) as ArrayRef,
        ),
        (
            "grade",
            Arc::new(Int64Array::from(vec![Some(3), None, Some(0), Some(1)])) as ArrayRef,
        ),
        (
            "city",
            Arc::new(StringArray::from(vec!["a", "b", "c", "d"])) as ArrayRef,
        ),
        (
            "zone",
            Arc::new(Float64Array::from(vec![f64::NAN, 7.0, 2.0, 7.0])) as ArrayRef,
        ),
        (
            "label",
            Arc::new(Float64Array::from(vec![0.0, 1.0, 0.0, 1.0])) as ArrayRef,
        ),
    ])
    .unwrap()
}

/// The attributes as train_gbdt built them by hand: nominal with (largest finite code + 1)
/// categories for the categorical columns, numeric otherwise.
fn by_hand(ds: &Dataset, features: &[String], cats: &[&str]) -> Vec<Attribute> {
    features
        .iter()
        .map(|f| {
            if cats.contains(&f.as_str()) {
                let col = ds.numeric_column(f).unwrap();
                let max = (0..col.len())
                    .filter(|&i| col.is_valid(i))
                    .map(|i| col.value(i))
                    .filter(|v| v.is_finite())
                    .fold(-1.0f64, f64::max);
                Attribute::Nominal {
                    name: Some(f.clone()),
                    num_values: (max + 1.0).max(0.0) as usize,
                    values: None,
                }
            } else {
                Attribute::numeric(f.as_str())
            }
        })
        .collect()
}

#[test]
fn numeric_columns_except_keeps_schema_order_and_checks_names() {
    let ds = data();
    let cols = numeric_columns_except(&ds.schema(), &["id", "label"]).unwrap();
    assert_eq!(cols, vec!["x", "grade", "zone"]);
    let err = numeric_columns_except(&ds.schema(), &["lable"]).unwrap_err();
    assert!(matches!(err, MlError::ColumnNotFound { ref column, .. } if column == "lable"));
}

#[test]
fn categorical_cols_give_the_attributes_train_gbdt_built_by_hand() {
    let ds = data();
    let features = numeric_columns_except(&ds.schema(), &["id", "label"]).unwrap();
    let refs: Vec<&str> = features.iter().map(String::as_str).collect();
    let cats = ["grade", "zone"];
    let out = VectorAssembler::new(&refs, "features")
        .with_handle_invalid(HandleInvalid::Keep)
        .with_categorical_cols(&cats)
        .transform(&ds)
        .unwrap();
    let field = out.field("features").unwrap();
    assert_eq!(
        vector_attributes(&field).unwrap(),
        by_hand(&ds, &features, &cats)
    );
    assert_eq!(categorical_slots(&field), vec![(1, 4), (2, 8)]);
    // Values: nulls become NaN (handle_invalid = keep), codes stay as they are.
    let m = out.features("features").unwrap();
    assert_eq!(m.row(2).to_vec(), vec![2.0, 0.0, 2.0]);
    assert!(m[[1, 0]].is_nan() && m[[1, 1]].is_nan() && m[[0, 2]].is_nan());
    // The schema alone cannot know the number of categories: nominal with 0 (unknown).
    let schema = VectorAssembler::new(&refs, "features")
        .with_categorical_cols(&cats)
        .transform_schema(&ds.schema())
        .unwrap();
    let f = schema.field_with_name("features").unwrap();
    assert_eq!(categorical_slots(f), vec![(1, 0), (2, 0)]);
}

#[test]
fn bad_codes_are_errors_naming_column_and_row() {
    let make = |v: Vec<f64>| {
        Dataset::from_columns(vec![("c", Arc::new(Float64Array::from(v)) as ArrayRef)]).unwrap()
    };
    let va = VectorAssembler::new(&["c"], "f").with_categorical_cols(&["c"]);
    for (values, row, what) in [
        (vec![0.0, 1.0, -1.0], 2, "negative"),
        (vec![0.5, 1.0, 1.0], 0, "not an integer"),
        (vec![0.0, 2e6, 1.0], 1, "too large"),
        (vec![0.0, f64::INFINITY, 1.0], 1, "not an integer"),
    ] {
        let err = va.transform(&make(values)).unwrap_err();
        match &err {
            MlError::InvalidValue {
                column,
                row: r,
                message,
            } => {
                assert_eq!((column.as_str(), *r), ("c", row));
                assert!(message.contains(what), "{message}");
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    // A code above the number of rows is fine while it stays under a million.
    let out = va.transform(&make(vec![0.0, 999_999.0])).unwrap();
    assert_eq!(
        categorical_slots(&out.field("f").unwrap()),
        vec![(0, 1_000_000)]
    );
    // Every value missing: no category.
    let out = VectorAssembler::new(&["c"], "f")
        .with_handle_invalid(HandleInvalid::Keep)
        .with_categorical_cols(&["c"])
        .transform(&make(vec![f64::NAN]))
        .unwrap();
    assert_eq!(categorical_slots(&out.field("f").unwrap()), vec![(0, 0)]);
}

#[test]
fn categorical_cols_must_be_scalar_inputs() {
    let ds = data();
    let err = VectorAssembler::new(&["x"], "f")
        .with_categorical_cols(&["grade"])
        .transform(&ds)
        .unwrap_err();
    assert!(matches!(err, MlError::InvalidParam { ref param, .. } if param == "categorical_cols"));
    let with_vec = VectorAssembler::new(&["x", "grade"], "v")
        .with_handle_invalid(HandleInvalid::Keep)
        .transform(&ds)
        .unwrap();
    let err = VectorAssembler::new(&["v"], "f")
        .with_categorical_cols(&["v"])
        .transform(&with_vec)
        .unwrap_err();
    assert!(matches!(err, MlError::InvalidParam { ref param, .. } if param == "categorical_cols"));
}

#[test]
fn categorical_cols_is_a_param_and_survives_a_save() {
    use ml_core::Params;
    let mut va = VectorAssembler::new(&["grade"], "f");
    va.set_param("categorical_cols", vec!["grade".to_string()].into())
        .unwrap();
    assert_eq!(va.categorical_cols, vec!["grade"]);
    let json = ml_core::persist::to_json(&va).unwrap();
    let back = ml_core::persist::from_json(&json, std::path::Path::new("mem")).unwrap();
    let ds = data();
    let a = back.transform(&ds.select(&["grade"]).unwrap().clone());
    // grade has a null: handle_invalid = error names it.
    assert!(matches!(a, Err(MlError::InvalidValue { row: 1, .. })));
}

/// A wider table of codes for the stream tests: `grade` 0..=5 (every 7th null), `zone`
/// 0..=11 as floats (every 5th NaN), `x` real.
fn coded(n: usize) -> Dataset {
    Dataset::from_columns(vec![
        (
            "x",
            Arc::new(Float64Array::from_iter_values(
                (0..n).map(|i| i as f64 * 0.5),
            )) as ArrayRef,
        ),
        (
            "grade",
            Arc::new(Int64Array::from_iter(
                (0..n).map(|i| (i % 7 != 3).then_some((i * 5 % 6) as i64)),
            )) as ArrayRef,
        ),
        (
            "zone",
            Arc::new(Float64Array::from_iter_values((0..n).map(|i| {
                if i % 5 == 1 {
                    f64::NAN
                } else {
                    (i * 7 % 12) as f64
                }
            }))) as ArrayRef,
        ),
    ])
    .unwrap()
}

#[test]
fn category_counts_over_a_stream_equal_the_in_memory_count() {
    use ml_core::stream::{category_counts, MemorySource};
    let ds = coded(1000);
    let cols = ["grade", "zone"];
    let in_memory: Vec<usize> = cols
        .iter()
        .map(|c| {
            let codes = ml_core::dataset::column_to_f64(&ds, c, ml_core::dataset::NullPolicy::Keep)
                .unwrap();
            ml_core::dataset::category_count(c, &codes).unwrap()
        })
        .collect();
    assert_eq!(in_memory, vec![6, 12]);
    for batch in [1, 33, 1000] {
        let source = MemorySource::from_dataset(&ds, batch).unwrap();
        assert_eq!(
            category_counts(&source, &cols).unwrap(),
            in_memory,
            "batch {batch}"
        );
    }
    // A fractional code in row 70 (third batch of 33) is named by its row in the source.
    let mut zone: Vec<f64> = (0..100).map(|i| (i % 4) as f64).collect();
    zone[70] = 2.5;
    let bad = Dataset::from_columns(vec![(
        "zone",
        Arc::new(Float64Array::from(zone)) as ArrayRef,
    )])
    .unwrap();
    let err = category_counts(&MemorySource::from_dataset(&bad, 33).unwrap(), &["zone"]);
    assert!(
        matches!(&err, Err(MlError::InvalidValue { column, row: 70, .. }) if column == "zone"),
        "{err:?}"
    );
}

#[test]
fn fixed_category_counts_give_every_batch_the_same_slots_and_the_in_memory_values() {
    use ml_core::stream::{category_counts, MemorySource};
    let ds = coded(500);
    let inputs = ["x", "grade", "zone"];
    let cats = ["grade", "zone"];
    let whole = VectorAssembler::new(&inputs, "features")
        .with_categorical_cols(&cats)
        .with_handle_invalid(HandleInvalid::Keep)
        .transform(&ds)
        .unwrap();
    let source = MemorySource::from_dataset(&ds, 64).unwrap();
    let counts = category_counts(&source, &cats).unwrap();
    let fixed = VectorAssembler::new(&inputs, "features")
        .with_categorical_cols(&cats)
        .with_category_counts(&counts)
        .with_handle_invalid(HandleInvalid::Keep);
    let expected_slots = categorical_slots(&whole.field("features").unwrap());
    assert_eq!(expected_slots, vec![(1, 6), (2, 12)]);
    let schema = fixed.transform_schema(&ds.schema()).unwrap();
    assert_eq!(
        categorical_slots(schema.field_with_name("features").unwrap()),
        expected_slots,
        "transform_schema knows the counts"
    );
    let mut values = Vec::new();
    for batch in source.open().unwrap() {
        let out = fixed.transform(&Dataset::new(batch.unwrap())).unwrap();
        assert_eq!(
            categorical_slots(&out.field("features").unwrap()),
            expected_slots
        );
        values.extend(
            out.features("features")
                .unwrap()
                .iter()
                .map(|v| v.to_bits()),
        );
    }
    let whole_bits: Vec<u64> = whole
        .features("features")
        .unwrap()
        .iter()
        .map(|v| v.to_bits())
        .collect();
    assert_eq!(values, whole_bits);
    // A code at or above its fixed count is an error naming column and row, on both paths.
    let short = fixed.clone().with_category_counts(&[6, 11]);
    let err = short.transform(&ds).unwrap_err();
    assert!(
        matches!(&err, MlError::InvalidValue { column, row: 5, .. } if column == "zone"),
        "{err:?}"
    );
    let wrong_len = fixed.clone().with_category_counts(&[6]);
    assert!(matches!(
        wrong_len.transform(&ds),
        Err(MlError::InvalidParam { .. })
    ));
}
