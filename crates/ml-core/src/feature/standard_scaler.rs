//! [`StandardScaler`]: centres and scales a vector column by per-slot statistics.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, FixedSizeListArray};
use arrow::buffer::NullBuffer;
use arrow::datatypes::{DataType, Field, Float64Type, Schema};
use serde::{Deserialize, Serialize};

use super::{append_fields, delegate_params, json_f64};
use crate::attributes::{vector_attributes, with_vector_attributes, Attribute};
use crate::dataset::{field_of, type_error, vector_type, Dataset};
use crate::error::{MlError, Result};
use crate::row::{ColumnKind, RowLayout, RowStage, RowStep, RowValue};
use crate::stream::{BatchSource, MemorySource};
use crate::traits::{Estimator, Transformer};

/// Standardizes a vector column slot by slot, as Spark MLlib's `StandardScaler`:
/// `out = (x - mean) * scale` where the shift is the slot mean when `with_mean` (default false)
/// and the scale is `1 / std` when `with_std` (default true).
///
/// The std is the unbiased sample standard deviation (divisor `n - 1`), as Spark's; a slot with
/// zero variance (or a single row) scales to 0.0, as Spark does. Null vectors are ignored when
/// fitting and stay null. Output slots carry numeric attributes with the input slots' names
/// (a scaled category code is no longer a category).
///
/// ```
/// use ml_core::{Dataset, Estimator, Transformer};
/// use ml_core::dataset::vector_column;
/// use ml_core::feature::StandardScaler;
/// use ndarray::array;
///
/// let x = array![[1.0, 5.0], [2.0, 5.0], [3.0, 5.0]];
/// let data = Dataset::from_columns(vec![("raw", vector_column(&x))]).unwrap();
/// let model = StandardScaler::new("raw", "scaled").with_mean(true).fit(&data).unwrap();
/// assert_eq!(model.mean(), &[2.0, 5.0]);
/// assert_eq!(model.std(), &[1.0, 0.0]);
/// let out = model.transform(&data).unwrap();
/// assert_eq!(out.features("scaled").unwrap().as_slice().unwrap(), &[-1.0, 0.0, 0.0, 0.0, 1.0, 0.0]);
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StandardScaler {
    /// Input vector column.
    pub input_col: String,
    /// Output vector column.
    pub output_col: String,
    /// Centre by the mean (default false).
    pub with_mean: bool,
    /// Scale to unit standard deviation (default true).
    pub with_std: bool,
}

impl Default for StandardScaler {
    fn default() -> Self {
        StandardScaler {
            input_col: "features".into(),
            output_col: "scaled_features".into(),
            with_mean: false,
            with_std: true,
        }
    }
}

crate::impl_params!(StandardScaler {
    input_col: "Input vector column (FixedSizeList<Float64>).",
    output_col: "Output vector column.",
    with_mean: "Centre by the mean before scaling (default false).",
    with_std: "Scale to unit (unbiased) standard deviation (default true).",
});

/// The input vector column: checked type and width.
fn vector_input<'a>(data: &'a Dataset, col: &str) -> Result<(&'a FixedSizeListArray, usize)> {
    let arr = data.column(col)?;
    match arr.data_type() {
        DataType::FixedSizeList(item, w) if item.data_type() == &DataType::Float64 => {
            Ok((arr.as_fixed_size_list(), *w as usize))
        }
        dt => Err(type_error(col, "a vector (FixedSizeList<Float64>)", dt)),
    }
}

impl StandardScaler {
    /// A scaler with Spark's defaults (`with_mean` false, `with_std` true).
    pub fn new(input_col: &str, output_col: &str) -> Self {
        StandardScaler {
            input_col: input_col.into(),
            output_col: output_col.into(),
            ..Default::default()
        }
    }

    /// Sets `with_mean`.
    pub fn with_mean(mut self, value: bool) -> Self {
        self.with_mean = value;
        self
    }

    /// Sets `with_std`.
    pub fn with_std(mut self, value: bool) -> Self {
        self.with_std = value;
        self
    }

    fn output_field(&self, schema: &Schema) -> Result<Field> {
        let f = field_of(schema, &self.input_col)?;
        let w = match f.data_type() {
            DataType::FixedSizeList(item, w) if item.data_type() == &DataType::Float64 => {
                *w as usize
            }
            dt => {
                return Err(type_error(
                    &self.input_col,
                    "a vector (FixedSizeList<Float64>)",
                    dt,
                ))
            }
        };
        let field = Field::new(&self.output_col, vector_type(w), true);
        Ok(match vector_attributes(&f).filter(|a| a.len() == w) {
            Some(attrs) => {
                let attrs: Vec<Attribute> = attrs
                    .iter()
                    .map(|a| Attribute::Numeric {
                        name: a.name().map(str::to_string),
                    })
                    .collect();
                with_vector_attributes(field, &attrs)
            }
            None => field,
        })
    }
}

/// Row-major values of a vector column (`rows * width`, sliced to the array).
fn row_values(list: &FixedSizeListArray, width: usize) -> &[f64] {
    let child = list.values().as_primitive::<Float64Type>();
    &child.values()[..list.len() * width]
}

impl StandardScaler {
    /// Calls `add` with the values of every non-null row of the input vector column, in row
    /// order, batch by batch; returns the number of such rows.
    fn for_each_row(&self, source: &dyn BatchSource, mut add: impl FnMut(&[f64])) -> Result<usize> {
        let mut n = 0;
        for batch in source.open()? {
            let data = Dataset::new(batch?);
            let (list, w) = vector_input(&data, &self.input_col)?;
            let values = row_values(list, w);
            let nulls = list.nulls();
            for row in 0..list.len() {
                if nulls.is_none_or(|b: &NullBuffer| b.is_valid(row)) {
                    add(&values[row * w..(row + 1) * w]);
                    n += 1;
                }
            }
        }
        Ok(n)
    }
}

impl Estimator for StandardScaler {
    type Model = StandardScalerModel;

    fn fit(&self, data: &Dataset) -> Result<StandardScalerModel> {
        self.fit_source(&MemorySource::from_dataset(data, data.num_rows().max(1))?)
    }

    /// Two passes over the source, one batch at a time: the mean, then the sum of squared
    /// deviations from it, each summed in row order (so any cut into batches gives the same
    /// bits). Memory: one batch and two vectors of the width.
    fn fit_source(&self, source: &dyn BatchSource) -> Result<StandardScalerModel> {
        let schema = source.schema()?;
        Estimator::transform_schema(self, &schema)?;
        let w = match field_of(&schema, &self.input_col)?.data_type() {
            DataType::FixedSizeList(_, w) => *w as usize,
            dt => {
                return Err(type_error(
                    &self.input_col,
                    "a vector (FixedSizeList<Float64>)",
                    dt,
                ))
            }
        };
        let mut mean = vec![0.0f64; w];
        let n = self.for_each_row(source, |x| {
            for (m, v) in mean.iter_mut().zip(x) {
                *m += v;
            }
        })?;
        if n == 0 {
            return Err(MlError::data(format!(
                "StandardScaler: column '{}' has no (non-null) rows to fit on",
                self.input_col
            )));
        }
        mean.iter_mut().for_each(|m| *m /= n as f64);
        let mut ss = vec![0.0f64; w];
        self.for_each_row(source, |x| {
            for ((s, v), m) in ss.iter_mut().zip(x).zip(&mean) {
                let d = v - m;
                *s += d * d;
            }
        })?;
        let std = ss
            .iter()
            .map(|s| {
                if n > 1 {
                    (s / (n - 1) as f64).sqrt()
                } else {
                    0.0
                }
            })
            .collect();
        Ok(StandardScalerModel {
            params: self.clone(),
            mean,
            std,
        })
    }

    fn transform_schema(&self, schema: &Schema) -> Result<Schema> {
        let f = self.output_field(schema)?;
        append_fields(schema, vec![f])
    }
}

/// A fitted [`StandardScaler`]: the per-slot mean and unbiased std.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct StandardScalerModel {
    params: StandardScaler,
    #[serde(with = "json_f64::vec")]
    mean: Vec<f64>,
    #[serde(with = "json_f64::vec")]
    std: Vec<f64>,
}

delegate_params!(StandardScalerModel, params);

impl StandardScalerModel {
    /// Per-slot mean of the fitting data.
    pub fn mean(&self) -> &[f64] {
        &self.mean
    }

    /// Per-slot unbiased (n - 1) standard deviation of the fitting data.
    pub fn std(&self) -> &[f64] {
        &self.std
    }

    /// The parameters it was fitted with.
    pub fn params(&self) -> &StandardScaler {
        &self.params
    }

    /// The per-slot shift (the mean, or 0) and scale (`1 / std`, 0 for a zero std, or 1) of
    /// `out = (x - shift) * scale`, for vectors of width `w`.
    fn shift_and_scale(&self, w: usize) -> (Vec<f64>, Vec<f64>) {
        let shift: Vec<f64> = if self.params.with_mean {
            self.mean.clone()
        } else {
            vec![0.0; w]
        };
        let scale: Vec<f64> = if self.params.with_std {
            self.std
                .iter()
                .map(|&s| if s == 0.0 { 0.0 } else { 1.0 / s })
                .collect()
        } else {
            vec![1.0; w]
        };
        (shift, scale)
    }
}

/// [`StandardScalerModel`] compiled for one row.
#[derive(Debug)]
struct ScalerRow {
    name: String,
    input: usize,
    output: usize,
    shift: Vec<f64>,
    scale: Vec<f64>,
}

impl RowStage for ScalerRow {
    fn apply(&self, row: &mut [RowValue], _index: usize) -> Result<RowStep> {
        let mut out = std::mem::take(&mut row[self.output]);
        match row[self.input].vector(&self.name, self.shift.len())? {
            // A null vector stays null, as in `transform`.
            None => out = RowValue::Null,
            Some(x) => {
                let values = out.zeroed_vector(x.len());
                for (((o, v), m), s) in values.iter_mut().zip(x).zip(&self.shift).zip(&self.scale) {
                    *o = (v - m) * s;
                }
            }
        }
        row[self.output] = out;
        Ok(RowStep::Keep)
    }
}

#[typetag::serde(name = "StandardScalerModel")]
impl Transformer for StandardScalerModel {
    /// One mean and one standard deviation per slot, the deviations not negative.
    fn validate_structure(&self) -> Result<()> {
        if self.mean.len() != self.std.len() {
            return Err(MlError::param(
                "std",
                format!(
                    "{} means but {} standard deviations (one each per slot)",
                    self.mean.len(),
                    self.std.len()
                ),
            ));
        }
        if let Some(slot) = self.std.iter().position(|&s| s < 0.0) {
            return Err(MlError::param(
                "std",
                format!("slot {slot} has a negative standard deviation"),
            ));
        }
        Ok(())
    }

    fn compile_row(&self, layout: &mut RowLayout) -> Result<Option<Box<dyn RowStage>>> {
        let input = layout.input(&self.params.input_col, ColumnKind::Vector)?;
        layout.advance(self)?;
        let w = self.mean.len();
        let (shift, scale) = self.shift_and_scale(w);
        Ok(Some(Box::new(ScalerRow {
            name: self.params.input_col.clone(),
            input,
            output: layout.output(&self.params.output_col)?,
            shift,
            scale,
        })))
    }

    fn transform(&self, data: &Dataset) -> Result<Dataset> {
        let schema = Transformer::transform_schema(self, &data.schema())?;
        let (list, w) = vector_input(data, &self.params.input_col)?;
        let values = row_values(list, w);
        let (shift, scale) = self.shift_and_scale(w);
        let mut out = Vec::with_capacity(values.len());
        for x in values.chunks_exact(w.max(1)) {
            out.extend(
                x.iter()
                    .zip(&shift)
                    .zip(&scale)
                    .map(|((v, m), s)| (v - m) * s),
            );
        }
        let item = Arc::new(Field::new("item", DataType::Float64, false));
        let values = Arc::new(arrow::array::Float64Array::from(out));
        let col = FixedSizeListArray::try_new(item, w as i32, values, list.nulls().cloned())?;
        let mut columns = data.batch().columns().to_vec();
        columns.push(Arc::new(col) as ArrayRef);
        Ok(Dataset::new(arrow::record_batch::RecordBatch::try_new(
            Arc::new(schema),
            columns,
        )?))
    }

    fn transform_schema(&self, schema: &Schema) -> Result<Schema> {
        let f = self.params.output_field(schema)?;
        if let DataType::FixedSizeList(_, w) = f.data_type() {
            if *w as usize != self.mean.len() {
                return Err(MlError::ColumnType {
                    column: self.params.input_col.clone(),
                    expected: format!("a vector of width {} (as fitted)", self.mean.len()),
                    found: format!("width {w}"),
                });
            }
        }
        append_fields(schema, vec![f])
    }
}
