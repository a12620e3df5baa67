//! VectorAssembler's `categorical_cols` and the "every numeric column except" selection, as the
//! command-line tools use them.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Float64Array, Int64Array, StringArray};
use ml_core::attributes::{categorical_slots, vector_attributes, Attribute};
use ml_core::dataset::numeric_columns_except;
use ml_core::feature::{HandleInvalid, VectorAssembler};
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
