//! Two tiny stages for tests (here and in other crates' tests and doc examples of generic
//! machinery): [`AddConstant`] (a transformer) and [`MeanCenter`] (an estimator with its
//! model). Not part of the public API: the module is hidden from the docs and may change.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array};
use arrow::datatypes::{DataType, Field, Schema};
use serde::{Deserialize, Serialize};

use crate::dataset::{field_of, schema_with_field, type_error, Dataset};
use crate::error::Result;
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
