//! [`Dataset`]: a thin, zero-copy wrapper over one Arrow [`RecordBatch`].

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, FixedSizeListArray, Float64Array, Int64Array,
    StringArray, UInt32Array,
};
use arrow::compute;
use arrow::datatypes::{DataType, Field, Float64Type, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use ndarray::{Array2, ArrayView2};

use crate::error::{MlError, Result};

/// A table of named, typed columns: one Arrow [`RecordBatch`] with helpers for ML stages.
///
/// Conversion from and into a `RecordBatch` is free (the columns are reference-counted Arrow
/// arrays), so DataFusion, Parquet and other Arrow tools hand data in and take it back without
/// copying. Stages never mutate a dataset: they return a new one with columns appended.
///
/// ```
/// use std::sync::Arc;
/// use arrow::array::{Float64Array, StringArray};
/// use arrow::record_batch::RecordBatch;
/// use ml_core::Dataset;
///
/// let batch = RecordBatch::try_from_iter(vec![
///     ("x", Arc::new(Float64Array::from(vec![1.0, 2.0, 3.0])) as _),
///     ("city", Arc::new(StringArray::from(vec!["a", "b", "a"])) as _),
/// ])
/// .unwrap();
/// let ds = Dataset::from(batch);
/// assert_eq!(ds.num_rows(), 3);
/// assert_eq!(ds.f64_column("x").unwrap().value(1), 2.0);
/// // Errors name the column and the type found.
/// let err = ds.f64_column("city").unwrap_err().to_string();
/// assert!(err.contains("city") && err.contains("Utf8"));
/// ```
#[derive(Debug, Clone)]
pub struct Dataset {
    batch: RecordBatch,
}

impl From<RecordBatch> for Dataset {
    fn from(batch: RecordBatch) -> Self {
        Dataset { batch }
    }
}

impl From<Dataset> for RecordBatch {
    fn from(ds: Dataset) -> Self {
        ds.batch
    }
}

impl Dataset {
    /// Wraps a record batch (no copy).
    pub fn new(batch: RecordBatch) -> Self {
        Dataset { batch }
    }

    /// Builds a dataset from named columns; all must have the same length.
    pub fn from_columns(columns: Vec<(&str, ArrayRef)>) -> Result<Self> {
        let batch = RecordBatch::try_from_iter(columns)?;
        Ok(Dataset { batch })
    }

    /// Builds a dataset from fields (with their metadata) and columns.
    pub fn from_fields(fields: Vec<Field>, columns: Vec<ArrayRef>) -> Result<Self> {
        let schema = Arc::new(Schema::new(fields));
        Ok(Dataset {
            batch: RecordBatch::try_new(schema, columns)?,
        })
    }

    /// A dataset with the given schema and no rows.
    pub fn empty(schema: SchemaRef) -> Self {
        Dataset {
            batch: RecordBatch::new_empty(schema),
        }
    }

    /// Concatenates datasets with the same schema, in order.
    pub fn concat(parts: &[Dataset]) -> Result<Self> {
        let first = parts
            .first()
            .ok_or_else(|| MlError::data("cannot concatenate an empty list of datasets"))?;
        let schema = first.schema();
        let batches: Vec<&RecordBatch> = parts.iter().map(|p| &p.batch).collect();
        Ok(Dataset {
            batch: compute::concat_batches(&schema, batches)?,
        })
    }

    /// The underlying record batch.
    pub fn batch(&self) -> &RecordBatch {
        &self.batch
    }

    /// Consumes the dataset and returns the record batch (no copy).
    pub fn into_batch(self) -> RecordBatch {
        self.batch
    }

    /// The schema.
    pub fn schema(&self) -> SchemaRef {
        self.batch.schema()
    }

    /// Number of rows.
    pub fn num_rows(&self) -> usize {
        self.batch.num_rows()
    }

    /// Number of columns.
    pub fn num_columns(&self) -> usize {
        self.batch.num_columns()
    }

    /// Column names in order.
    pub fn column_names(&self) -> Vec<String> {
        self.batch
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect()
    }

    /// True when a column of that name exists.
    pub fn has_column(&self, name: &str) -> bool {
        self.batch.schema().index_of(name).is_ok()
    }

    /// The field (name, type, metadata) of a column.
    pub fn field(&self, name: &str) -> Result<Arc<Field>> {
        field_of(&self.batch.schema(), name)
    }

    /// A column by name.
    pub fn column(&self, name: &str) -> Result<&ArrayRef> {
        let idx = index_of(&self.batch.schema(), name)?;
        Ok(self.batch.column(idx))
    }

    /// A `Float64` column by name; any other type is an error naming the type found.
    pub fn f64_column(&self, name: &str) -> Result<&Float64Array> {
        let col = self.column(name)?;
        col.as_primitive_opt::<Float64Type>()
            .ok_or_else(|| type_error(name, "Float64", col.data_type()))
    }

    /// An `Int64` column by name.
    pub fn i64_column(&self, name: &str) -> Result<&Int64Array> {
        let col = self.column(name)?;
        col.as_primitive_opt::<arrow::datatypes::Int64Type>()
            .ok_or_else(|| type_error(name, "Int64", col.data_type()))
    }

    /// A `Utf8` string column by name.
    pub fn string_column(&self, name: &str) -> Result<&StringArray> {
        let col = self.column(name)?;
        col.as_string_opt::<i32>()
            .ok_or_else(|| type_error(name, "Utf8", col.data_type()))
    }

    /// A `Boolean` column by name.
    pub fn bool_column(&self, name: &str) -> Result<&BooleanArray> {
        let col = self.column(name)?;
        col.as_boolean_opt()
            .ok_or_else(|| type_error(name, "Boolean", col.data_type()))
    }

    /// Any numeric (integer, float, boolean or decimal) column cast to `Float64`; nulls stay null.
    pub fn numeric_column(&self, name: &str) -> Result<Float64Array> {
        let col = self.column(name)?;
        if !is_numeric(col.data_type()) {
            return Err(type_error(name, "a numeric type", col.data_type()));
        }
        let cast = compute::cast(col, &DataType::Float64)?;
        Ok(cast.as_primitive::<Float64Type>().clone())
    }

    /// A vector column (`FixedSizeList<Float64>`) seen as a rows x width matrix, without copying.
    ///
    /// Null vectors are not allowed here (they have no values to view): an error names the first
    /// null row. Use VectorAssembler's `handle_invalid` to drop or fill such rows first.
    pub fn features(&self, name: &str) -> Result<ArrayView2<'_, f64>> {
        let col = self.column(name)?;
        let list = col
            .as_fixed_size_list_opt()
            .ok_or_else(|| type_error(name, "FixedSizeList<Float64>", col.data_type()))?;
        vector_view(name, list)
    }

    /// Width of a vector column.
    pub fn vector_size(&self, name: &str) -> Result<usize> {
        let col = self.column(name)?;
        match col.data_type() {
            DataType::FixedSizeList(_, n) => Ok(*n as usize),
            other => Err(type_error(name, "FixedSizeList<Float64>", other)),
        }
    }

    /// Returns a new dataset with the column appended. Errors if the name is taken.
    pub fn with_column(&self, name: &str, array: ArrayRef) -> Result<Dataset> {
        let field = Field::new(name, array.data_type().clone(), true);
        self.with_field(field, array)
    }

    /// Returns a new dataset with the column appended under the given field (keeping its
    /// metadata). Errors if the name is taken or the length differs.
    pub fn with_field(&self, field: Field, array: ArrayRef) -> Result<Dataset> {
        if self.has_column(field.name()) {
            return Err(MlError::ColumnExists {
                column: field.name().clone(),
            });
        }
        if array.len() != self.num_rows() {
            return Err(MlError::data(format!(
                "column '{}' has {} rows, the dataset has {}",
                field.name(),
                array.len(),
                self.num_rows()
            )));
        }
        let schema = self.batch.schema();
        let mut fields: Vec<Arc<Field>> = schema.fields().iter().cloned().collect();
        fields.push(Arc::new(field));
        let mut columns = self.batch.columns().to_vec();
        columns.push(array);
        let schema = Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()));
        Ok(Dataset {
            batch: RecordBatch::try_new(schema, columns)?,
        })
    }

    /// Returns a new dataset with the named column replaced (or appended when absent).
    pub fn replace_column(&self, field: Field, array: ArrayRef) -> Result<Dataset> {
        if !self.has_column(field.name()) {
            return self.with_field(field, array);
        }
        let idx = index_of(&self.batch.schema(), field.name())?;
        let schema = self.batch.schema();
        let mut fields: Vec<Arc<Field>> = schema.fields().iter().cloned().collect();
        fields[idx] = Arc::new(field);
        let mut columns = self.batch.columns().to_vec();
        columns[idx] = array;
        let schema = Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()));
        Ok(Dataset {
            batch: RecordBatch::try_new(schema, columns)?,
        })
    }

    /// Keeps only the named columns, in the given order.
    pub fn select(&self, names: &[&str]) -> Result<Dataset> {
        let schema = self.batch.schema();
        let indices = names
            .iter()
            .map(|n| index_of(&schema, n))
            .collect::<Result<Vec<_>>>()?;
        Ok(Dataset {
            batch: self.batch.project(&indices)?,
        })
    }

    /// Drops the named columns; names that do not exist are ignored (as Spark's `drop`).
    pub fn drop_columns(&self, names: &[&str]) -> Result<Dataset> {
        let schema = self.batch.schema();
        let indices: Vec<usize> = schema
            .fields()
            .iter()
            .enumerate()
            .filter(|(_, f)| !names.contains(&f.name().as_str()))
            .map(|(i, _)| i)
            .collect();
        Ok(Dataset {
            batch: self.batch.project(&indices)?,
        })
    }

    /// Rows at the given indices, in that order.
    pub fn take(&self, indices: &[usize]) -> Result<Dataset> {
        let idx = UInt32Array::from_iter_values(indices.iter().map(|&i| i as u32));
        if let Some(&bad) = indices.iter().find(|&&i| i >= self.num_rows()) {
            return Err(MlError::data(format!(
                "row index {bad} out of range for a dataset of {} rows",
                self.num_rows()
            )));
        }
        let columns = self
            .batch
            .columns()
            .iter()
            .map(|c| take_column(c, &idx, indices))
            .collect::<Result<Vec<_>>>()?;
        Ok(Dataset {
            batch: RecordBatch::try_new(self.batch.schema(), columns)?,
        })
    }

    /// Rows where the mask is true (null counts as false).
    pub fn filter(&self, mask: &BooleanArray) -> Result<Dataset> {
        Ok(Dataset {
            batch: compute::filter_record_batch(&self.batch, mask)?,
        })
    }

    /// A contiguous slice of rows (zero-copy).
    pub fn slice(&self, offset: usize, len: usize) -> Dataset {
        Dataset {
            batch: self.batch.slice(offset, len),
        }
    }

    /// Splits rows at random into parts with the given relative weights, as Spark's `randomSplit`.
    ///
    /// Each row draws one uniform number from a counter-based generator keyed by `(seed, row)`, so
    /// the split depends on the seed and the row order only, never on threads. Weights are
    /// normalised; they must be non-negative and sum to more than zero.
    pub fn random_split(&self, weights: &[f64], seed: u64) -> Result<Vec<Dataset>> {
        let bounds = split_bounds(weights)?;
        let mut parts: Vec<Vec<usize>> = vec![Vec::new(); weights.len()];
        for row in 0..self.num_rows() {
            parts[split_part(&bounds, seed, row as u64)].push(row);
        }
        parts.iter().map(|idx| self.take(idx)).collect()
    }

    /// Pretty-prints the first `n` rows as a table (Arrow's pretty printer).
    pub fn show(&self, n: usize) -> Result<String> {
        let head = self.batch.slice(0, n.min(self.num_rows()));
        Ok(arrow::util::pretty::pretty_format_batches(&[head])?.to_string())
    }
}

/// The cumulative bounds of a random split's parts, from their weights (checked: at least one,
/// finite, non-negative, summing to more than zero).
pub(crate) fn split_bounds(weights: &[f64]) -> Result<Vec<f64>> {
    if weights.is_empty() || weights.iter().any(|w| !(w.is_finite() && *w >= 0.0)) {
        return Err(MlError::param(
            "weights",
            "random_split needs at least one finite, non-negative weight",
        ));
    }
    let total: f64 = weights.iter().sum();
    if total <= 0.0 {
        return Err(MlError::param(
            "weights",
            "weights must sum to more than zero",
        ));
    }
    let mut acc = 0.0;
    Ok(weights
        .iter()
        .map(|w| {
            acc += w / total;
            acc
        })
        .collect())
}

/// The part of a random split that row `row` falls in: its draw `unit_uniform(seed, row)`
/// against the cumulative `bounds`.
pub(crate) fn split_part(bounds: &[f64], seed: u64, row: u64) -> usize {
    let u = unit_uniform(seed, row);
    bounds
        .iter()
        .position(|&b| u < b)
        .unwrap_or(bounds.len() - 1)
}

/// A deterministic uniform number in [0, 1) from `(seed, counter)`: SplitMix64 finalizer.
///
/// Used wherever a per-row random draw must not depend on scheduling.
pub fn unit_uniform(seed: u64, counter: u64) -> f64 {
    let mut z = seed
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(counter)
        .wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// Views a `FixedSizeList<Float64>` array as a rows x width matrix without copying.
pub fn vector_view<'a>(name: &str, list: &'a FixedSizeListArray) -> Result<ArrayView2<'a, f64>> {
    let width = list.value_length() as usize;
    if let Some(row) = (0..list.len()).find(|&i| list.is_null(i)) {
        return Err(null_features(name, row));
    }
    let values = list
        .values()
        .as_primitive_opt::<Float64Type>()
        .ok_or_else(|| type_error(name, "FixedSizeList<Float64>", list.data_type()))?;
    let start = list.offset() * width;
    let slice = &values.values()[start..start + list.len() * width];
    ArrayView2::from_shape((list.len(), width), slice)
        .map_err(|e| MlError::data(format!("column '{name}': {e}")))
}

/// The error for a null feature vector where a model reads one ([`vector_view`]).
pub fn null_features(name: &str, row: usize) -> MlError {
    MlError::value(
        name,
        row,
        "null feature vector; drop or fill such rows first (VectorAssembler handle_invalid)",
    )
}

/// Builds a `FixedSizeList<Float64>` column from a rows x width matrix.
pub fn vector_column(matrix: &Array2<f64>) -> ArrayRef {
    let (rows, width) = matrix.dim();
    let values: Vec<f64> = if matrix.is_standard_layout() {
        matrix.as_slice().map(|s| s.to_vec()).unwrap_or_default()
    } else {
        matrix.iter().copied().collect()
    };
    vector_column_from_vec(values, rows, width)
}

/// Builds a `FixedSizeList<Float64>` column from row-major values.
///
/// `values.len()` must equal `rows * width` (a programming error otherwise, checked by Arrow).
pub fn vector_column_from_vec(values: Vec<f64>, rows: usize, width: usize) -> ArrayRef {
    debug_assert_eq!(values.len(), rows * width);
    let item = Arc::new(Field::new("item", DataType::Float64, false));
    let values = Arc::new(Float64Array::from(values));
    // With the length given: a width-0 column (a one-hot encoding of one category with
    // `drop_last`) still has `rows` rows, where `FixedSizeListArray::new` would make it empty.
    let list = FixedSizeListArray::try_new_with_length(item, width as i32, values, None, rows)
        .expect("values.len() == rows * width");
    Arc::new(list)
}

/// The data type of a vector column of the given width.
pub fn vector_type(width: usize) -> DataType {
    DataType::FixedSizeList(
        Arc::new(Field::new("item", DataType::Float64, false)),
        width as i32,
    )
}

/// What [`column_to_f64`] does with missing values (Arrow nulls, and NaN).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NullPolicy {
    /// Nulls stay Arrow nulls and NaN stays NaN (the value under a null slot is unspecified;
    /// check `is_null`).
    Keep,
    /// Nulls become NaN, NaN stays NaN; the result has no nulls, so its `values()` are the
    /// column with missing values as NaN (what tree learners and VectorAssembler's
    /// `handle_invalid = "keep"` expect).
    NullAsNaN,
    /// A null or a NaN is an [`MlError::InvalidValue`] naming the column and the row (the first
    /// null row when there is a null, else the first NaN row).
    Error,
}

/// A numeric column (any integer, float, boolean or decimal type) as `Float64`, with missing
/// values handled by `policy`: the one "column to f64 with a null policy" helper.
///
/// A `Float64` column without nulls is returned without copying its values. Errors: a missing
/// column ([`MlError::ColumnNotFound`]), a non-numeric one ([`MlError::ColumnType`]), and with
/// [`NullPolicy::Error`] a null or NaN ([`MlError::InvalidValue`] naming column and row).
///
/// ```
/// use std::sync::Arc;
/// use arrow::array::{Array, ArrayRef, Int64Array};
/// use ml_core::Dataset;
/// use ml_core::dataset::{column_to_f64, NullPolicy};
///
/// let ds = Dataset::from_columns(vec![
///     ("n", Arc::new(Int64Array::from(vec![Some(1), None, Some(3)])) as ArrayRef),
/// ]).unwrap();
/// let kept = column_to_f64(&ds, "n", NullPolicy::Keep).unwrap();
/// assert!(kept.is_null(1));
/// let nan = column_to_f64(&ds, "n", NullPolicy::NullAsNaN).unwrap();
/// assert_eq!(nan.null_count(), 0);
/// assert!(nan.value(1).is_nan() && nan.value(2) == 3.0);
/// let err = column_to_f64(&ds, "n", NullPolicy::Error).unwrap_err().to_string();
/// assert!(err.contains("'n'") && err.contains("row 1"), "{err}");
/// ```
pub fn column_to_f64(data: &Dataset, column: &str, policy: NullPolicy) -> Result<Float64Array> {
    let arr = data.column(column)?;
    let values = match arr.as_primitive_opt::<Float64Type>() {
        Some(a) => a.clone(),
        None => data.numeric_column(column)?,
    };
    match policy {
        NullPolicy::Keep => Ok(values),
        NullPolicy::NullAsNaN => {
            if values.null_count() == 0 {
                return Ok(values);
            }
            Ok(Float64Array::from_iter_values((0..values.len()).map(|i| {
                if values.is_null(i) {
                    f64::NAN
                } else {
                    values.value(i)
                }
            })))
        }
        NullPolicy::Error => {
            if values.null_count() > 0 {
                let row = (0..values.len()).find(|&i| values.is_null(i)).unwrap_or(0);
                return Err(MlError::value(
                    column,
                    row,
                    "null value; drop or fill such rows first",
                ));
            }
            if let Some(row) = values.values().iter().position(|v| v.is_nan()) {
                return Err(MlError::value(
                    column,
                    row,
                    "NaN value; drop or fill such rows first",
                ));
            }
            Ok(values)
        }
    }
}

/// The numeric columns of `schema` (integer, float, boolean, decimal), in schema order,
/// leaving out the columns named in `except`: "every numeric column but the label, the
/// weight and the ids" as the feature list of a VectorAssembler.
///
/// A name in `except` that the schema lacks is an [`MlError::ColumnNotFound`] (a misspelled
/// exclusion would otherwise silently turn a label or an id into a feature). Non-numeric
/// columns are skipped.
///
/// ```
/// use arrow::datatypes::{DataType, Field, Schema};
/// use ml_core::dataset::numeric_columns_except;
///
/// let schema = Schema::new(vec![
///     Field::new("id", DataType::Int64, false),
///     Field::new("age", DataType::Int32, true),
///     Field::new("city", DataType::Utf8, true),
///     Field::new("income", DataType::Float64, true),
///     Field::new("label", DataType::Float64, false),
/// ]);
/// assert_eq!(numeric_columns_except(&schema, &["id", "label"]).unwrap(), vec!["age", "income"]);
/// assert!(numeric_columns_except(&schema, &["lable"]).is_err());
/// ```
pub fn numeric_columns_except(schema: &Schema, except: &[&str]) -> Result<Vec<String>> {
    for name in except {
        index_of(schema, name)?;
    }
    Ok(schema
        .fields()
        .iter()
        .filter(|f| is_numeric(f.data_type()) && !except.contains(&f.name().as_str()))
        .map(|f| f.name().clone())
        .collect())
}

/// Largest class label accepted by [`check_class_label`] whatever the number of rows.
pub const MAX_CLASS_LABEL: f64 = 10_000.0;

/// Checks a class label `v` of a learner that sizes its per-class tables by the largest
/// label plus one: a whole number from 0 up to the larger of `num_rows` and
/// [`MAX_CLASS_LABEL`], so that one label of 1e9 in a small file is an error naming `column`
/// and `row` instead of a gigabyte allocation.
///
/// ```
/// use ml_core::dataset::check_class_label;
/// assert!(check_class_label("label", 0, 2.0, 10).is_ok());
/// assert!(check_class_label("label", 0, 50_000.0, 100_000).is_ok());
/// let e = check_class_label("label", 3, 1e9, 10).unwrap_err().to_string();
/// assert!(e.contains("'label', row 3") && e.contains("at most 10000"), "{e}");
/// ```
pub fn check_class_label(column: &str, row: usize, v: f64, num_rows: usize) -> Result<()> {
    let limit = MAX_CLASS_LABEL.max(num_rows as f64);
    if !(v.is_finite() && v >= 0.0 && v.fract() == 0.0) {
        return Err(MlError::value(
            column,
            row,
            format!("labels must be whole numbers 0, 1, ..., K-1; found {v}"),
        ));
    }
    if v > limit {
        return Err(MlError::value(
            column,
            row,
            format!(
                "label {v} is too large: labels are the classes 0, 1, ..., K-1, and a label \
                 may be at most {limit} (the larger of {MAX_CLASS_LABEL} and the number of rows)"
            ),
        ));
    }
    Ok(())
}

/// Largest integer code accepted by [`category_count`] whatever the number of rows.
pub const MAX_CATEGORY_CODE: f64 = 1_000_000.0;

/// The number of categories of a column of integer category codes: the largest code + 1
/// (0 when every value is missing), for marking the column nominal
/// ([`Attribute::Nominal`](crate::attributes::Attribute::Nominal)).
///
/// Nulls and NaN are missing values. A negative, fractional or infinite code, or one above
/// both the number of rows + 1 and [`MAX_CATEGORY_CODE`] (a code that large would make the
/// per-category tables of a learner larger than the data), is an [`MlError::InvalidValue`]
/// naming `column` and the row; nothing is allocated before the check.
///
/// ```
/// use arrow::array::Float64Array;
/// use ml_core::dataset::category_count;
/// let codes = Float64Array::from(vec![Some(2.0), None, Some(f64::NAN), Some(0.0)]);
/// assert_eq!(category_count("grade", &codes).unwrap(), 3);
/// let bad = Float64Array::from(vec![1.0, 1.5]);
/// let err = category_count("grade", &bad).unwrap_err().to_string();
/// assert!(err.contains("'grade'") && err.contains("row 1"), "{err}");
/// ```
pub fn category_count(column: &str, codes: &Float64Array) -> Result<usize> {
    let limit = MAX_CATEGORY_CODE.max(codes.len() as f64 + 1.0);
    let mut max = -1.0f64;
    for (row, &v) in codes.values().iter().enumerate() {
        if v.is_nan() || codes.is_null(row) {
            continue;
        }
        check_category_code(column, row, v, limit)?;
        max = max.max(v);
    }
    Ok((max + 1.0) as usize)
}

/// Checks one category code `v` (not NaN) as [`category_count`] does, with `limit` the
/// largest code accepted: an [`MlError::InvalidValue`] naming `column` and `row` when `v` is
/// negative, fractional, infinite or above `limit`.
pub fn check_category_code(column: &str, row: usize, v: f64, limit: f64) -> Result<()> {
    if v < 0.0 || v.fract() != 0.0 || v > limit {
        let why = if v < 0.0 {
            "is negative"
        } else if v.fract() != 0.0 {
            "is not an integer"
        } else {
            "is too large"
        };
        return Err(MlError::value(
            column,
            row,
            format!(
                "category code {v} {why}: a categorical column holds integer codes \
                 0, 1, 2, ... (at most {limit}); null or NaN for a missing value"
            ),
        ));
    }
    Ok(())
}

/// True for integer, float, boolean and decimal types.
pub fn is_numeric(dt: &DataType) -> bool {
    dt.is_numeric() || matches!(dt, DataType::Boolean)
}

/// Index of a column in a schema, or an error listing what is there.
pub fn index_of(schema: &Schema, name: &str) -> Result<usize> {
    schema
        .index_of(name)
        .map_err(|_| column_not_found(schema, name))
}

/// The field of a column in a schema, or an error listing what is there.
pub fn field_of(schema: &Schema, name: &str) -> Result<Arc<Field>> {
    let idx = index_of(schema, name)?;
    Ok(schema.fields()[idx].clone())
}

/// The error for a missing column, listing the columns that exist.
pub fn column_not_found(schema: &Schema, name: &str) -> MlError {
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    MlError::ColumnNotFound {
        column: name.to_string(),
        available: names.join(", "),
    }
}

/// The error for a column of the wrong type.
pub fn type_error(name: &str, expected: &str, found: &DataType) -> MlError {
    MlError::ColumnType {
        column: name.to_string(),
        expected: expected.to_string(),
        found: format!("{found}"),
    }
}

/// Appends a field to a schema, failing when the name is taken (for `transform_schema`).
pub fn schema_with_field(schema: &Schema, field: Field) -> Result<Schema> {
    if schema.index_of(field.name()).is_ok() {
        return Err(MlError::ColumnExists {
            column: field.name().clone(),
        });
    }
    let mut fields: Vec<Arc<Field>> = schema.fields().iter().cloned().collect();
    fields.push(Arc::new(field));
    Ok(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

/// Rows `indices` (checked in range, also as `idx`) of one column. A vector column (a
/// fixed-size list of `f64` without nulls, as the assemblers and scalers write) is copied one
/// row's slice at a time, which is several times faster than Arrow's generic `take` (it
/// expands every row into one index per element); the result is the same array.
fn take_column(c: &ArrayRef, idx: &UInt32Array, indices: &[usize]) -> Result<ArrayRef> {
    if let (Some(list), DataType::FixedSizeList(item, width)) = (
        c.as_any().downcast_ref::<FixedSizeListArray>(),
        c.data_type(),
    ) {
        let values = list.values().as_any().downcast_ref::<Float64Array>();
        if let Some(values) = values.filter(|v| v.null_count() == 0 && list.null_count() == 0) {
            let w = *width as usize;
            let vals = values.values();
            let mut out: Vec<f64> = Vec::with_capacity(indices.len() * w);
            for &i in indices {
                let start = list.value_offset(i) as usize;
                out.extend_from_slice(&vals[start..start + w]);
            }
            let child = Float64Array::new(out.into(), None);
            return Ok(Arc::new(FixedSizeListArray::try_new(
                item.clone(),
                *width,
                Arc::new(child),
                None,
            )?));
        }
    }
    Ok(compute::take(c.as_ref(), idx, None)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(n: usize) -> Dataset {
        let x: Vec<f64> = (0..n).map(|i| i as f64).collect();
        Dataset::from_columns(vec![("x", Arc::new(Float64Array::from(x)) as ArrayRef)]).unwrap()
    }

    /// The row-slice copy of vector columns against Arrow's own `take`, on a sliced column,
    /// with repeated and reversed indices; a column with a null row goes through Arrow's.
    #[test]
    fn take_copies_vector_columns_as_arrow_take_does() {
        let width = 3;
        let item = Arc::new(Field::new("item", DataType::Float64, true));
        let values = Float64Array::from((0..30).map(|i| i as f64 * 0.5).collect::<Vec<_>>());
        let full = FixedSizeListArray::new(item.clone(), width, Arc::new(values.clone()), None);
        let sliced: ArrayRef = Arc::new(full.slice(2, 6));
        let with_null: ArrayRef = Arc::new(FixedSizeListArray::new(
            item,
            width,
            Arc::new(values),
            Some(vec![true, false, true, true, true, true, true, true, true, true].into()),
        ));
        let ds = Dataset::from_columns(vec![("v", sliced.clone()), ("n", with_null.slice(2, 6))])
            .unwrap();
        let rows = [5usize, 0, 0, 3, 2];
        let got = ds.take(&rows).unwrap();
        let idx = UInt32Array::from(rows.iter().map(|&r| r as u32).collect::<Vec<_>>());
        for (name, col) in [("v", &sliced), ("n", &with_null.slice(2, 6))] {
            let expect = compute::take(col.as_ref(), &idx, None).unwrap();
            assert_eq!(
                got.column(name).unwrap().to_data(),
                expect.to_data(),
                "{name}"
            );
        }
        assert_eq!(
            got.column("v")
                .unwrap()
                .as_fixed_size_list()
                .value(0)
                .as_primitive::<Float64Type>()
                .values(),
            &[10.5, 11.0, 11.5]
        );
        assert!(ds.take(&[6]).is_err());
    }

    #[test]
    fn random_split_is_deterministic_and_partitions_rows() {
        let ds = sample(10_000);
        let a = ds.random_split(&[0.7, 0.3], 42).unwrap();
        let b = ds.random_split(&[7.0, 3.0], 42).unwrap();
        assert_eq!(a[0].num_rows() + a[1].num_rows(), 10_000);
        assert_eq!(a[0].num_rows(), b[0].num_rows());
        let frac = a[0].num_rows() as f64 / 10_000.0;
        assert!((frac - 0.7).abs() < 0.02, "fraction {frac}");
        // Every row lands exactly once.
        let mut seen: Vec<f64> = a
            .iter()
            .flat_map(|p| p.f64_column("x").unwrap().values().to_vec())
            .collect();
        seen.sort_by(f64::total_cmp);
        assert!(seen.iter().enumerate().all(|(i, v)| *v == i as f64));
        let c = ds.random_split(&[0.7, 0.3], 43).unwrap();
        assert_ne!(
            a[1].f64_column("x").unwrap().values(),
            c[1].f64_column("x").unwrap().values()
        );
    }

    #[test]
    fn features_view_is_zero_copy_and_respects_slices() {
        let m = Array2::from_shape_fn((4, 3), |(i, j)| (i * 10 + j) as f64);
        let col = vector_column(&m);
        let ds = Dataset::from_columns(vec![("features", col)]).unwrap();
        let view = ds.features("features").unwrap();
        assert_eq!(view, m.view());
        let sliced = ds.slice(2, 2);
        assert_eq!(sliced.features("features").unwrap()[[0, 1]], 21.0);
    }

    #[test]
    fn missing_column_and_wrong_type_errors_name_the_column() {
        let ds = sample(3);
        let e = ds.column("nope").unwrap_err().to_string();
        assert!(e.contains("'nope'") && e.contains("x"), "{e}");
        let e = ds.string_column("x").unwrap_err().to_string();
        assert!(e.contains("'x'") && e.contains("Float64"), "{e}");
        let e = ds.features("x").unwrap_err().to_string();
        assert!(e.contains("FixedSizeList"), "{e}");
    }

    #[test]
    fn with_column_refuses_existing_name() {
        let ds = sample(3);
        let col: ArrayRef = Arc::new(Float64Array::from(vec![1.0, 2.0, 3.0]));
        assert!(matches!(
            ds.with_column("x", col.clone()),
            Err(MlError::ColumnExists { .. })
        ));
        assert_eq!(ds.with_column("y", col).unwrap().num_columns(), 2);
    }

    #[test]
    fn column_to_f64_applies_each_null_policy() {
        let ds = Dataset::from_columns(vec![
            (
                "f",
                Arc::new(Float64Array::from(vec![Some(1.0), Some(f64::NAN), None])) as ArrayRef,
            ),
            (
                "i",
                Arc::new(Int64Array::from(vec![Some(4), None, Some(-2)])) as ArrayRef,
            ),
            (
                "b",
                Arc::new(BooleanArray::from(vec![true, false, true])) as ArrayRef,
            ),
            (
                "s",
                Arc::new(StringArray::from(vec!["a", "b", "c"])) as ArrayRef,
            ),
        ])
        .unwrap();
        let keep = column_to_f64(&ds, "i", NullPolicy::Keep).unwrap();
        assert_eq!(
            (keep.value(0), keep.is_null(1), keep.value(2)),
            (4.0, true, -2.0)
        );
        let nan = column_to_f64(&ds, "f", NullPolicy::NullAsNaN).unwrap();
        assert_eq!(nan.null_count(), 0);
        assert_eq!(nan.value(0), 1.0);
        assert!(nan.value(1).is_nan() && nan.value(2).is_nan());
        // A Float64 column without nulls comes back without copying.
        let b = column_to_f64(&ds, "b", NullPolicy::Error).unwrap();
        assert_eq!(b.values().as_ref(), &[1.0, 0.0, 1.0]);
        let x = sample(3);
        let same = column_to_f64(&x, "x", NullPolicy::NullAsNaN).unwrap();
        assert_eq!(
            same.values().as_ptr(),
            x.f64_column("x").unwrap().values().as_ptr()
        );
        // Errors: the first null row comes first, then the first NaN row.
        let e = column_to_f64(&ds, "f", NullPolicy::Error).unwrap_err();
        assert!(
            matches!(e, MlError::InvalidValue { ref column, row: 2, .. } if column == "f"),
            "{e}"
        );
        let only_nan = Dataset::from_columns(vec![(
            "g",
            Arc::new(Float64Array::from(vec![0.0, f64::NAN])) as ArrayRef,
        )])
        .unwrap();
        let e = column_to_f64(&only_nan, "g", NullPolicy::Error).unwrap_err();
        assert!(matches!(e, MlError::InvalidValue { row: 1, .. }) && e.to_string().contains("NaN"));
        assert!(matches!(
            column_to_f64(&ds, "s", NullPolicy::Keep),
            Err(MlError::ColumnType { .. })
        ));
        assert!(matches!(
            column_to_f64(&ds, "zz", NullPolicy::Keep),
            Err(MlError::ColumnNotFound { .. })
        ));
    }
}
