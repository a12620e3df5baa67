//! Two tiny stages for tests (here and in other crates' tests and doc examples of generic
//! machinery): [`AddConstant`] (a transformer) and [`MeanCenter`] (an estimator with its
//! model). Not part of the public API: the module is hidden from the docs and may change.
//! [`fuzz`] holds what the fuzz targets run; [`assert_invalid_param`] is the check the crates'
//! parameter-range tests share.

pub mod fuzz;

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array};
use arrow::datatypes::{DataType, Field, Schema};
use serde::{Deserialize, Serialize};

use crate::dataset::{field_of, schema_with_field, type_error, Dataset};
use crate::error::Result;
use crate::row::{Row, RowScorer, RowValue};
use crate::traits::{Estimator, Transformer};

fn check_f64(schema: &Schema, col: &str) -> Result<()> {
    let f = field_of(schema, col)?;
    if f.data_type() != &DataType::Float64 {
        return Err(type_error(col, "Float64", f.data_type()));
    }
    Ok(())
}

/// Adds a constant to a `Float64` column: `output = input + amount`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AddConstant {
    /// Input column.
    pub input_col: String,
    /// Output column.
    pub output_col: String,
    /// The constant added.
    pub amount: f64,
}

impl Default for AddConstant {
    fn default() -> Self {
        AddConstant::new("input", "output", 0.0)
    }
}

impl AddConstant {
    /// A stage adding `amount` to `input_col` into `output_col`.
    pub fn new(input_col: &str, output_col: &str, amount: f64) -> Self {
        AddConstant {
            input_col: input_col.into(),
            output_col: output_col.into(),
            amount,
        }
    }
}

crate::impl_params!(AddConstant {
    input_col: "Input column (Float64).",
    output_col: "Output column.",
    amount: "Constant to add.",
});

#[typetag::serde(name = "AddConstant")]
impl Transformer for AddConstant {
    fn transform(&self, data: &Dataset) -> Result<Dataset> {
        let x = data.f64_column(&self.input_col)?;
        let y: Float64Array = x.unary(|v| v + self.amount);
        data.with_column(&self.output_col, Arc::new(y) as ArrayRef)
    }
    fn transform_schema(&self, schema: &Schema) -> Result<Schema> {
        check_f64(schema, &self.input_col)?;
        schema_with_field(
            schema,
            Field::new(&self.output_col, DataType::Float64, true),
        )
    }
}

/// Learns the mean of a `Float64` column; its model subtracts it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MeanCenter {
    /// Input column.
    pub input_col: String,
    /// Output column.
    pub output_col: String,
}

impl Default for MeanCenter {
    fn default() -> Self {
        MeanCenter::new("input", "output")
    }
}

impl MeanCenter {
    /// A stage centring `input_col` into `output_col`.
    pub fn new(input_col: &str, output_col: &str) -> Self {
        MeanCenter {
            input_col: input_col.into(),
            output_col: output_col.into(),
        }
    }
}

crate::impl_params!(MeanCenter {
    input_col: "Input column (Float64).",
    output_col: "Output column.",
});

impl Estimator for MeanCenter {
    type Model = MeanCenterModel;
    fn fit(&self, data: &Dataset) -> Result<MeanCenterModel> {
        let x = data.f64_column(&self.input_col)?;
        let n = x.len().max(1) as f64;
        let mean = x.values().iter().sum::<f64>() / n;
        Ok(MeanCenterModel {
            params: self.clone(),
            mean,
        })
    }
    fn transform_schema(&self, schema: &Schema) -> Result<Schema> {
        check_f64(schema, &self.input_col)?;
        schema_with_field(
            schema,
            Field::new(&self.output_col, DataType::Float64, true),
        )
    }
}

/// [`MeanCenter`]'s model.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct MeanCenterModel {
    /// The parameters it was fitted with.
    pub params: MeanCenter,
    /// The learned mean.
    pub mean: f64,
}

crate::impl_params!(MeanCenterModel {
    mean: "Learned mean.",
});

#[typetag::serde(name = "MeanCenterModel")]
impl Transformer for MeanCenterModel {
    fn transform(&self, data: &Dataset) -> Result<Dataset> {
        let x = data.f64_column(&self.params.input_col)?;
        let y: Float64Array = x.unary(|v| v - self.mean);
        data.with_column(&self.params.output_col, Arc::new(y) as ArrayRef)
    }
    fn transform_schema(&self, schema: &Schema) -> Result<Schema> {
        Estimator::transform_schema(&self.params, schema)
    }
}

/// The value of column `name` at row `i` (see [`RowValue::from_array`]).
pub fn value_at(data: &Dataset, name: &str, i: usize) -> Result<RowValue> {
    RowValue::from_array(data.column(name)?.as_ref(), name, i)
}

/// Row `i` of `data` (every column) as a [`Row`].
pub fn row_of(data: &Dataset, i: usize) -> Result<Row> {
    Row::from_dataset(data, i)
}

/// True when two row values are the same bits (NaN equal to the same NaN, 0.0 not -0.0).
pub fn same_bits(a: &RowValue, b: &RowValue) -> bool {
    match (a, b) {
        (RowValue::Number(x), RowValue::Number(y)) => x.to_bits() == y.to_bits(),
        (RowValue::Vector(x), RowValue::Vector(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| p.to_bits() == q.to_bits())
        }
        (a, b) => a == b,
    }
}

/// Checks the row path of `model` against its `transform`, row by row, for the columns
/// `outputs`: for every row of `data`, the compiled scorer (with the data's schema, and with
/// inferred inputs when they are the same) gives the same error text as `transform` of that row alone, or drops the
/// row as it does, or gives the same values bit for bit, which are also those of the row in
/// `transform` of the whole batch (when that succeeds). Returns (rows scored, rows dropped,
/// rows failing) and panics (it is for tests) on the first difference.
pub fn check_row_path(
    model: &dyn Transformer,
    data: &Dataset,
    outputs: &[&str],
) -> (usize, usize, usize) {
    let strict = RowScorer::compile_with_schema(model, &data.schema(), outputs)
        .expect("compile with the data's schema");
    let batch = model.transform(data).ok();
    let mut batch_row = 0;
    let (mut scored, mut dropped, mut failed) = (0, 0, 0);
    for i in 0..data.num_rows() {
        let row = row_of(data, i).expect("row of data");
        let one = model.transform(&data.slice(i, 1));
        let got = strict.score(&row);
        match (&one, &got) {
            (Err(a), Err(b)) => {
                assert_eq!(a.to_string(), b.to_string(), "row {i}: errors differ");
                failed += 1;
            }
            (Ok(d), Ok(None)) if d.num_rows() == 0 => dropped += 1,
            (Ok(d), Ok(Some(values))) if d.num_rows() == 1 => {
                for (name, v) in outputs.iter().zip(values) {
                    let want = value_at(d, name, 0).expect("output column");
                    assert!(
                        same_bits(&want, v),
                        "row {i}, '{name}': transform {want:?}, row path {v:?}"
                    );
                    if let Some(b) = &batch {
                        let want = value_at(b, name, batch_row).expect("output column");
                        assert!(
                            same_bits(&want, v),
                            "row {i}, '{name}': batch {want:?}, row path {v:?}"
                        );
                    }
                }
                scored += 1;
            }
            (one, got) => panic!(
                "row {i}: transform gave {:?} rows / {:?}, row path {got:?}",
                one.as_ref().map(|d| d.num_rows()).ok(),
                one.as_ref().err()
            ),
        }
        if matches!(&one, Ok(d) if d.num_rows() == 1) {
            batch_row += 1;
        }
        // Inferred inputs are compared when the stages read the same kinds as the schema
        // says (a vector input of a VectorAssembler is inferred as a number).
        let inferred = RowScorer::compile(model, outputs)
            .ok()
            .filter(|s| s.inputs() == strict.inputs());
        if let Some(inferred) = inferred {
            let again = inferred.score(&row);
            match (&got, &again) {
                (Ok(Some(a)), Ok(Some(b))) => {
                    assert!(
                        a.iter().zip(b).all(|(x, y)| same_bits(x, y)),
                        "row {i}: inferred inputs differ"
                    );
                }
                (Ok(None), Ok(None)) => {}
                (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
                (a, b) => panic!("row {i}: with schema {a:?}, inferred {b:?}"),
            }
        }
    }
    (scored, dropped, failed)
}

/// Asserts `e` is [`MlError::InvalidParam`](crate::MlError::InvalidParam) for `param` and its
/// message contains every one of `words` (panics otherwise: for tests).
pub fn assert_invalid_param(e: crate::MlError, param: &str, words: &[&str]) {
    match &e {
        crate::MlError::InvalidParam { param: p, message } => {
            assert_eq!(p, param, "{e}");
            for w in words {
                assert!(message.contains(w), "'{w}' not in: {e}");
            }
        }
        other => panic!("expected InvalidParam for {param}, got {other:?}"),
    }
}
