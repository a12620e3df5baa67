//! [`OneHotEncoder`]: category codes to 0/1 indicator vectors.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Float64Array};
use arrow::datatypes::{Field, Schema};
use serde::{Deserialize, Serialize};

use super::{append_fields, check_numeric, delegate_params};
use super::{resolve_columns, HandleInvalid};
use crate::attributes::{attribute_of, with_vector_attributes, Attribute};
use crate::dataset::{check_category_code, column_to_f64, NullPolicy, MAX_CATEGORY_CODE};
use crate::dataset::{field_of, vector_column_from_vec, vector_type, Dataset};
use crate::error::{MlError, Result};
use crate::params::Params;
use crate::row::{ColumnKind, RowLayout, RowStage, RowStep, RowValue};
use crate::traits::{Estimator, Transformer};

/// One-hot encodes columns of category codes (`0.0, 1.0, ...`), as Spark MLlib's
/// `OneHotEncoder`.
///
/// The number of categories of a column comes from its [`Attribute::Nominal`] metadata (what
/// [`StringIndexer`](super::StringIndexer) writes) or, when it has none, is learned in `fit` as
/// the largest code + 1. Each output is a dense vector column (`FixedSizeList<Float64>`) with
/// one slot per category; with `drop_last` (default true) the last category is dropped, so it
/// encodes as all zeros. `handle_invalid`: `error` (default; a code that is null, NaN, negative,
/// not an integer, or beyond the known categories is an error naming column and row) or `keep`
/// (invalid codes go to an extra category after the known ones, which `drop_last` then drops).
///
/// Output slots carry [`Attribute::Binary`] metadata named `<output_col>_<label>` (the label from
/// the nominal metadata, or the code), which [`VectorAssembler`](super::VectorAssembler) passes on.
///
/// ```
/// use std::sync::Arc;
/// use arrow::array::{ArrayRef, Float64Array};
/// use ml_core::{Dataset, Estimator, Transformer};
/// use ml_core::feature::OneHotEncoder;
///
/// let data = Dataset::from_columns(vec![
///     ("c", Arc::new(Float64Array::from(vec![0.0, 2.0, 1.0])) as ArrayRef),
/// ]).unwrap();
/// let model = OneHotEncoder::new(&["c"], &["c_vec"]).fit(&data).unwrap();
/// let out = model.transform(&data).unwrap();
/// let m = out.features("c_vec").unwrap();
/// assert_eq!(m.as_slice().unwrap(), &[1.0, 0.0,  0.0, 0.0,  0.0, 1.0]);
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OneHotEncoder {
    /// Single input column (use either this with `output_col`, or `input_cols`).
    pub input_col: Option<String>,
    /// Single output column.
    pub output_col: Option<String>,
    /// Input columns of category codes.
    pub input_cols: Option<Vec<String>>,
    /// Output vector columns, one per input.
    pub output_cols: Option<Vec<String>>,
    /// Drop the last category (default true).
    pub drop_last: bool,
    /// `error` (default) or `keep`.
    pub handle_invalid: HandleInvalid,
}

impl Default for OneHotEncoder {
    fn default() -> Self {
        OneHotEncoder {
            input_col: None,
            output_col: None,
            input_cols: None,
            output_cols: None,
            drop_last: true,
            handle_invalid: HandleInvalid::Error,
        }
    }
}

fn validate(s: &OneHotEncoder) -> Result<()> {
    s.handle_invalid
        .check_supported(&[HandleInvalid::Error, HandleInvalid::Keep])
}

crate::impl_params!(OneHotEncoder {
    input_col: "Single input column of category codes.",
    output_col: "Single output vector column.",
    input_cols: "Input columns of category codes (numeric, 0-based integers).",
    output_cols: "Output vector columns, one per input column.",
    drop_last: "Drop the last category so the slots are independent (default true).",
    handle_invalid: "Invalid codes: 'error' (default) or 'keep' (an extra category).",
} validate = validate);

impl OneHotEncoder {
    /// An encoder for several columns, with Spark's defaults.
    pub fn new(input_cols: &[&str], output_cols: &[&str]) -> Self {
        OneHotEncoder {
            input_cols: Some(input_cols.iter().map(|s| s.to_string()).collect()),
            output_cols: Some(output_cols.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        }
    }

    /// An encoder for one column.
    pub fn single(input_col: &str, output_col: &str) -> Self {
        OneHotEncoder {
            input_col: Some(input_col.into()),
            output_col: Some(output_col.into()),
            ..Default::default()
        }
    }

    /// Sets `drop_last`.
    pub fn with_drop_last(mut self, value: bool) -> Self {
        self.drop_last = value;
        self
    }

    /// Sets `handle_invalid` (`error`, `keep`).
    pub fn with_handle_invalid(mut self, value: HandleInvalid) -> Self {
        self.handle_invalid = value;
        self
    }

    /// The (input, output) column pairs.
    pub fn columns(&self) -> Result<Vec<(String, String)>> {
        resolve_columns(
            &self.input_col,
            &self.output_col,
            &self.input_cols,
            &self.output_cols,
        )
    }

    fn check_inputs(&self, schema: &Schema) -> Result<Vec<(String, String)>> {
        self.validate()?;
        let cols = self.columns()?;
        for (i, _) in &cols {
            check_numeric(schema, i)?;
        }
        Ok(cols)
    }

    /// Output vector width for a column with `categories` categories.
    fn width(&self, categories: usize) -> usize {
        let keep = usize::from(self.handle_invalid == HandleInvalid::Keep);
        (categories + keep).saturating_sub(usize::from(self.drop_last))
    }
}

/// Learns the number of categories as max code + 1, checking every code; a code above the
/// larger of the number of rows + 1 and [`MAX_CATEGORY_CODE`] is refused before any vector of
/// that width is allocated.
fn learn_size(input: &str, codes: &Float64Array) -> Result<usize> {
    let limit = MAX_CATEGORY_CODE.max(codes.len() as f64 + 1.0);
    let mut max = -1.0f64;
    for row in 0..codes.len() {
        if codes.is_null(row) {
            continue;
        }
        let c = codes.value(row);
        if c.is_nan() {
            continue;
        }
        if c < 0.0 || c.fract() != 0.0 {
            return Err(MlError::value(
                input,
                row,
                format!("OneHotEncoder: {c} is not a category code (a non-negative integer)"),
            ));
        }
        check_category_code(input, row, c, limit)?;
        max = max.max(c);
    }
    if max < 0.0 {
        return Err(MlError::data(format!(
            "OneHotEncoder: column '{input}' has no category code to learn the number of \
             categories from"
        )));
    }
    Ok(max as usize + 1)
}

impl Estimator for OneHotEncoder {
    type Model = OneHotEncoderModel;

    fn fit(&self, data: &Dataset) -> Result<OneHotEncoderModel> {
        let schema = data.schema();
        let cols = self.check_inputs(&schema)?;
        let mut category_sizes = Vec::with_capacity(cols.len());
        let mut labels = Vec::with_capacity(cols.len());
        for (input, _) in &cols {
            let field = field_of(&schema, input)?;
            match attribute_of(&field) {
                Some(Attribute::Nominal {
                    num_values, values, ..
                }) if num_values > 0 => {
                    category_sizes.push(num_values);
                    labels.push(values.filter(|v| v.len() == num_values));
                }
                Some(Attribute::Binary { .. }) => {
                    category_sizes.push(2);
                    labels.push(None);
                }
                _ => {
                    let codes = column_to_f64(data, input, NullPolicy::Keep)?;
                    category_sizes.push(learn_size(input, &codes)?);
                    labels.push(None);
                }
            }
        }
        Ok(OneHotEncoderModel {
            params: self.clone(),
            category_sizes,
            labels,
        })
    }

    /// The output widths are known only once fitted when the inputs carry no nominal metadata;
    /// such outputs are reported with width 0 here.
    fn transform_schema(&self, schema: &Schema) -> Result<Schema> {
        let cols = self.check_inputs(schema)?;
        let mut fields = Vec::with_capacity(cols.len());
        for (i, o) in &cols {
            let size = attribute_of(field_of(schema, i)?.as_ref())
                .and_then(|a| a.num_categories())
                .map(|n| self.width(n))
                .unwrap_or(0);
            fields.push(Field::new(o, vector_type(size), true));
        }
        append_fields(schema, fields)
    }
}

/// A fitted [`OneHotEncoder`]: the number of categories of each input column.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct OneHotEncoderModel {
    params: OneHotEncoder,
    category_sizes: Vec<usize>,
    labels: Vec<Option<Vec<String>>>,
}

delegate_params!(OneHotEncoderModel, params);

impl OneHotEncoderModel {
    /// Number of categories of each input column (before `drop_last` / `keep` adjustments).
    pub fn category_sizes(&self) -> &[usize] {
        &self.category_sizes
    }

    /// The parameters it was fitted with.
    pub fn params(&self) -> &OneHotEncoder {
        &self.params
    }

    fn output_field(&self, output: &str, k: usize) -> Field {
        let size = self.category_sizes[k];
        let width = self.params.width(size);
        let attrs: Vec<Attribute> = (0..width)
            .map(|slot| {
                let label = match &self.labels[k] {
                    Some(l) if slot < l.len() => l[slot].clone(),
                    _ if slot >= size => "invalid".to_string(),
                    _ => slot.to_string(),
                };
                Attribute::Binary {
                    name: Some(format!("{output}_{label}")),
                }
            })
            .collect();
        with_vector_attributes(Field::new(output, vector_type(width), true), &attrs)
    }
}

#[typetag::serde(name = "OneHotEncoderModel")]
impl Transformer for OneHotEncoderModel {
    fn transform(&self, data: &Dataset) -> Result<Dataset> {
        let schema = Transformer::transform_schema(self, &data.schema())?;
        let cols = self.params.columns()?;
        let keep = self.params.handle_invalid == HandleInvalid::Keep;
        let n = data.num_rows();
        let mut columns = data.batch().columns().to_vec();
        for (k, (input, _)) in cols.iter().enumerate() {
            let size = self.category_sizes[k];
            let width = self.params.width(size);
            let codes = column_to_f64(data, input, NullPolicy::Keep)?;
            let mut values = vec![0.0f64; n * width];
            let has_nulls = codes.null_count() > 0;
            let size_f = size as f64;
            for (row, &c) in codes.values().iter().enumerate() {
                let valid = !(has_nulls && codes.is_null(row))
                    && c >= 0.0
                    && c < size_f
                    && c.fract() == 0.0;
                let slot = if valid {
                    c as usize
                } else if keep {
                    size
                } else {
                    let code = (!(has_nulls && codes.is_null(row))).then_some(c);
                    return Err(invalid_code(input, row, code, size));
                };
                if slot < width {
                    values[row * width + slot] = 1.0;
                }
            }
            columns.push(vector_column_from_vec(values, n, width) as ArrayRef);
        }
        Ok(Dataset::new(arrow::record_batch::RecordBatch::try_new(
            Arc::new(schema),
            columns,
        )?))
    }

    fn compile_row(&self, layout: &mut RowLayout) -> Result<Option<Box<dyn RowStage>>> {
        let cols = self.params.columns()?;
        let slots = layout.column_pairs(self, &cols, ColumnKind::Number)?;
        let mut columns = Vec::with_capacity(cols.len());
        for (((name, _), (input, output)), &size) in
            cols.iter().zip(slots).zip(&self.category_sizes)
        {
            columns.push(OneHotRowColumn {
                name: name.clone(),
                input,
                output,
                size,
                width: self.params.width(size),
            });
        }
        Ok(Some(Box::new(OneHotRow {
            columns,
            keep: self.params.handle_invalid == HandleInvalid::Keep,
        })))
    }

    /// Valid parameters and, per input column, a category count >= 1 and (when present) one
    /// label per category.
    fn validate_structure(&self) -> Result<()> {
        self.params.validate()?;
        let cols = self.params.columns()?;
        if cols.len() != self.category_sizes.len() || cols.len() != self.labels.len() {
            return Err(MlError::param(
                "category_sizes",
                format!(
                    "{} columns but {} category sizes and {} label lists",
                    cols.len(),
                    self.category_sizes.len(),
                    self.labels.len()
                ),
            ));
        }
        for (((input, _), &size), labels) in cols.iter().zip(&self.category_sizes).zip(&self.labels)
        {
            if size == 0 {
                return Err(MlError::param(
                    "category_sizes",
                    format!("column '{input}' has 0 categories"),
                ));
            }
            if let Some(l) = labels.as_ref().filter(|l| l.len() != size) {
                return Err(MlError::param(
                    "labels",
                    format!(
                        "column '{input}' has {size} categories but {} labels",
                        l.len()
                    ),
                ));
            }
        }
        Ok(())
    }

    fn transform_schema(&self, schema: &Schema) -> Result<Schema> {
        let cols = self.params.check_inputs(schema)?;
        if cols.len() != self.category_sizes.len() {
            return Err(MlError::param(
                "input_cols",
                format!(
                    "the model was fitted on {} columns but {} are configured",
                    self.category_sizes.len(),
                    cols.len()
                ),
            ));
        }
        let fields = cols
            .iter()
            .enumerate()
            .map(|(k, (_, o))| self.output_field(o, k))
            .collect();
        append_fields(schema, fields)
    }
}

/// The error for an invalid category code (`None`: null) under `handle_invalid = "error"`.
fn invalid_code(input: &str, row: usize, code: Option<f64>, size: usize) -> MlError {
    let what = match code {
        None => "null".to_string(),
        Some(c) => format!("{c}"),
    };
    MlError::value(
        input,
        row,
        format!(
            "OneHotEncoder: invalid category code {what} (the encoder knows {size} categories, \
             codes 0..{size}); set handle_invalid to 'keep' to accept it"
        ),
    )
}

/// One column of [`OneHotRow`].
#[derive(Debug)]
struct OneHotRowColumn {
    name: String,
    input: usize,
    output: usize,
    size: usize,
    width: usize,
}

/// [`OneHotEncoderModel`] compiled for one row.
#[derive(Debug)]
struct OneHotRow {
    columns: Vec<OneHotRowColumn>,
    keep: bool,
}

impl RowStage for OneHotRow {
    fn apply(&self, row: &mut [RowValue], index: usize) -> Result<RowStep> {
        for c in &self.columns {
            let code = row[c.input].number(&c.name)?;
            let slot = match code {
                Some(v) if v >= 0.0 && v < c.size as f64 && v.fract() == 0.0 => v as usize,
                _ if self.keep => c.size,
                _ => return Err(invalid_code(&c.name, index, code, c.size)),
            };
            let out = row[c.output].zeroed_vector(c.width);
            if slot < c.width {
                out[slot] = 1.0;
            }
        }
        Ok(RowStep::Keep)
    }
}
