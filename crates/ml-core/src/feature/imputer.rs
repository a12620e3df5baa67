//! [`Imputer`]: fills missing values with a per-column mean, median or mode.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Float64Array};
use arrow::datatypes::{DataType, Field, Schema};
use serde::{Deserialize, Serialize};

use super::{append_fields, check_numeric, delegate_params};
use super::{json_f64, resolve_columns};
use crate::dataset::Dataset;
use crate::dataset::{column_to_f64, NullPolicy};
use crate::error::{MlError, Result};
use crate::hash::FxHashMap;
use crate::params::Params;
use crate::row::{ColumnKind, RowLayout, RowStage, RowStep, RowValue};
use crate::traits::{Estimator, Transformer};

crate::param_enum! {
    /// The statistic [`Imputer`] fills missing values with (Spark's `strategy`).
    #[derive(Default)]
    pub enum ImputerStrategy: "strategy" {
        /// The mean of the present values (the default).
        #[default]
        Mean => "mean",
        /// The exact lower median of the present values.
        Median => "median",
        /// The most frequent present value; ties go to the smallest.
        Mode => "mode",
    }
}

/// Completes missing values in numeric columns with the mean, median or most frequent value of
/// each column, as Spark MLlib's `Imputer`.
///
/// A value is missing when it is null, NaN, or equal to `missing_value` (default NaN, so nulls
/// and NaN). Statistics are computed over the non-missing values only; a column with no
/// non-missing value is an error. Outputs are `Float64` columns with no nulls.
///
/// The median is the exact lower median (the value at 1-based rank `ceil(n / 2)` of the sorted
/// values), which is what Spark's `approxQuantile(0.5, relativeError)` returns when it is exact;
/// an exact answer is within every `relative_error`, so that parameter is accepted for
/// compatibility and only validated. For `mode`, ties go to the smallest value, as in Spark.
///
/// ```
/// use std::sync::Arc;
/// use arrow::array::{ArrayRef, Float64Array};
/// use ml_core::{Dataset, Estimator, Transformer};
/// use ml_core::feature::{Imputer, ImputerStrategy};
///
/// let data = Dataset::from_columns(vec![
///     ("x", Arc::new(Float64Array::from(vec![Some(1.0), None, Some(f64::NAN), Some(4.0), Some(9.0)])) as ArrayRef),
/// ]).unwrap();
/// let model = Imputer::new(&["x"], &["x_imp"]).with_strategy(ImputerStrategy::Median).fit(&data).unwrap();
/// assert_eq!(model.surrogates(), &[4.0]);
/// let out = model.transform(&data).unwrap();
/// assert_eq!(out.f64_column("x_imp").unwrap().values(), &[1.0, 4.0, 4.0, 4.0, 9.0]);
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Imputer {
    /// Single input column (use either this with `output_col`, or `input_cols`).
    pub input_col: Option<String>,
    /// Single output column.
    pub output_col: Option<String>,
    /// Input columns.
    pub input_cols: Option<Vec<String>>,
    /// Output columns, one per input.
    pub output_cols: Option<Vec<String>>,
    /// `mean` (default), `median` or `mode`.
    pub strategy: ImputerStrategy,
    /// The placeholder for missing values besides null (default NaN; NaN is always missing).
    #[serde(with = "json_f64::scalar")]
    pub missing_value: f64,
    /// Spark's approxQuantile precision for the median, in [0, 1] (default 0.001); the median
    /// computed here is exact, which satisfies any precision.
    pub relative_error: f64,
}

impl Default for Imputer {
    fn default() -> Self {
        Imputer {
            input_col: None,
            output_col: None,
            input_cols: None,
            output_cols: None,
            strategy: ImputerStrategy::Mean,
            missing_value: f64::NAN,
            relative_error: 0.001,
        }
    }
}

fn validate(s: &Imputer) -> Result<()> {
    if !(0.0..=1.0).contains(&s.relative_error) {
        return Err(MlError::param("relative_error", "must be in [0, 1]"));
    }
    Ok(())
}

crate::impl_params!(Imputer {
    input_col: "Single input column (numeric).",
    output_col: "Single output column.",
    input_cols: "Input columns (numeric).",
    output_cols: "Output columns, one per input column.",
    strategy: "Surrogate: 'mean' (default), 'median' or 'mode'.",
    missing_value: "Placeholder for missing values besides null; default NaN (NaN is always missing).",
    relative_error: "Median precision as Spark's approxQuantile; the median here is exact. Default 0.001.",
} validate = validate);

impl Imputer {
    /// An imputer for several columns with the default strategy (`mean`).
    pub fn new(input_cols: &[&str], output_cols: &[&str]) -> Self {
        Imputer {
            input_cols: Some(input_cols.iter().map(|s| s.to_string()).collect()),
            output_cols: Some(output_cols.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        }
    }

    /// An imputer for one column.
    pub fn single(input_col: &str, output_col: &str) -> Self {
        Imputer {
            input_col: Some(input_col.into()),
            output_col: Some(output_col.into()),
            ..Default::default()
        }
    }

    /// Sets the strategy (`mean`, `median`, `mode`).
    pub fn with_strategy(mut self, strategy: ImputerStrategy) -> Self {
        self.strategy = strategy;
        self
    }

    /// Sets the missing-value placeholder.
    pub fn with_missing_value(mut self, value: f64) -> Self {
        self.missing_value = value;
        self
    }

    /// Sets the median precision (kept for Spark compatibility; the median is exact).
    pub fn with_relative_error(mut self, value: f64) -> Self {
        self.relative_error = value;
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

    fn output_schema(&self, schema: &Schema) -> Result<Schema> {
        self.validate()?;
        let cols = self.columns()?;
        let mut fields = Vec::with_capacity(cols.len());
        for (i, o) in &cols {
            check_numeric(schema, i)?;
            fields.push(Field::new(o, DataType::Float64, true));
        }
        append_fields(schema, fields)
    }

    #[inline]
    fn is_missing(&self, v: f64) -> bool {
        v.is_nan() || v == self.missing_value
    }

    /// The non-missing values of a column.
    fn present_values(&self, arr: &Float64Array) -> Vec<f64> {
        let mut out = Vec::with_capacity(arr.len() - arr.null_count());
        let values = arr.values();
        match arr.nulls() {
            None => out.extend(values.iter().copied().filter(|&v| !self.is_missing(v))),
            Some(nulls) => out.extend(
                values
                    .iter()
                    .zip(nulls.iter())
                    .filter(|&(&v, valid)| valid && !self.is_missing(v))
                    .map(|(&v, _)| v),
            ),
        }
        out
    }
}

/// Exact lower median: the value at 1-based rank `ceil(n / 2)`.
fn lower_median(values: &mut [f64]) -> f64 {
    let k = values.len().div_ceil(2) - 1;
    let (_, m, _) = values.select_nth_unstable_by(k, f64::total_cmp);
    *m
}

/// Most frequent value; ties go to the smallest.
fn mode(values: &[f64]) -> f64 {
    let mut counts: FxHashMap<u64, (f64, usize)> = FxHashMap::default();
    for &v in values {
        // -0.0 and 0.0 are the same value.
        let v = if v == 0.0 { 0.0 } else { v };
        counts.entry(v.to_bits()).or_insert((v, 0)).1 += 1;
    }
    let mut best = (f64::NAN, 0usize);
    for &(v, c) in counts.values() {
        if c > best.1 || (c == best.1 && v < best.0) {
            best = (v, c);
        }
    }
    best.0
}

impl Estimator for Imputer {
    type Model = ImputerModel;

    fn fit(&self, data: &Dataset) -> Result<ImputerModel> {
        self.output_schema(&data.schema())?;
        let cols = self.columns()?;
        let mut surrogates = Vec::with_capacity(cols.len());
        for (input, _) in &cols {
            let arr = column_to_f64(data, input, NullPolicy::Keep)?;
            let mut present = self.present_values(&arr);
            if present.is_empty() {
                return Err(MlError::data(format!(
                    "Imputer: column '{input}' has no value that is not null, NaN or \
                     missing_value ({}); the {} cannot be computed",
                    self.missing_value, self.strategy
                )));
            }
            let s = match self.strategy {
                ImputerStrategy::Mean => present.iter().sum::<f64>() / present.len() as f64,
                ImputerStrategy::Median => lower_median(&mut present),
                ImputerStrategy::Mode => mode(&present),
            };
            surrogates.push(s);
        }
        Ok(ImputerModel {
            params: self.clone(),
            surrogates,
        })
    }

    fn transform_schema(&self, schema: &Schema) -> Result<Schema> {
        self.output_schema(schema)
    }
}

/// A fitted [`Imputer`]: one surrogate value per input column.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct ImputerModel {
    params: Imputer,
    #[serde(with = "json_f64::vec")]
    surrogates: Vec<f64>,
}

delegate_params!(ImputerModel, params);

impl ImputerModel {
    /// The value that replaces missing entries, per input column in order.
    pub fn surrogates(&self) -> &[f64] {
        &self.surrogates
    }

    /// The parameters it was fitted with.
    pub fn params(&self) -> &Imputer {
        &self.params
    }
}

#[typetag::serde(name = "ImputerModel")]
impl Transformer for ImputerModel {
    /// Valid parameters and one surrogate per input column.
    fn validate_structure(&self) -> Result<()> {
        self.params.validate()?;
        let n = self.params.columns()?.len();
        if n != self.surrogates.len() {
            return Err(MlError::param(
                "surrogates",
                format!("{n} columns but {} surrogates", self.surrogates.len()),
            ));
        }
        Ok(())
    }

    fn transform(&self, data: &Dataset) -> Result<Dataset> {
        let schema = Transformer::transform_schema(self, &data.schema())?;
        let cols = self.params.columns()?;
        let mut columns = data.batch().columns().to_vec();
        for ((input, _), &s) in cols.iter().zip(&self.surrogates) {
            let arr = column_to_f64(data, input, NullPolicy::Keep)?;
            let values = arr.values();
            let out: Vec<f64> = match arr.nulls() {
                None => values
                    .iter()
                    .map(|&v| if self.params.is_missing(v) { s } else { v })
                    .collect(),
                Some(nulls) => values
                    .iter()
                    .zip(nulls.iter())
                    .map(|(&v, valid)| {
                        if !valid || self.params.is_missing(v) {
                            s
                        } else {
                            v
                        }
                    })
                    .collect(),
            };
            columns.push(Arc::new(Float64Array::from(out)) as ArrayRef);
        }
        Ok(Dataset::new(arrow::record_batch::RecordBatch::try_new(
            Arc::new(schema),
            columns,
        )?))
    }

    fn compile_row(&self, layout: &mut RowLayout) -> Result<Option<Box<dyn RowStage>>> {
        let cols = self.params.columns()?;
        let mut inputs = Vec::with_capacity(cols.len());
        for (i, _) in &cols {
            inputs.push(layout.input(i, ColumnKind::Number)?);
        }
        layout.advance(self)?;
        let mut columns = Vec::with_capacity(cols.len());
        for (((name, o), input), &surrogate) in cols.iter().zip(inputs).zip(&self.surrogates) {
            columns.push(ImputerRowColumn {
                name: name.clone(),
                input,
                output: layout.output(o)?,
                surrogate,
            });
        }
        Ok(Some(Box::new(ImputerRow {
            columns,
            missing_value: self.params.missing_value,
        })))
    }

    fn transform_schema(&self, schema: &Schema) -> Result<Schema> {
        let s = self.params.output_schema(schema)?;
        let n = self.params.columns()?.len();
        if n != self.surrogates.len() {
            return Err(MlError::param(
                "input_cols",
                format!(
                    "the model was fitted on {} columns but {n} are configured",
                    self.surrogates.len()
                ),
            ));
        }
        Ok(s)
    }
}

/// One column of [`ImputerRow`].
#[derive(Debug)]
struct ImputerRowColumn {
    name: String,
    input: usize,
    output: usize,
    surrogate: f64,
}

/// [`ImputerModel`] compiled for one row.
#[derive(Debug)]
struct ImputerRow {
    columns: Vec<ImputerRowColumn>,
    missing_value: f64,
}

impl RowStage for ImputerRow {
    fn apply(&self, row: &mut [RowValue], _index: usize) -> Result<RowStep> {
        for c in &self.columns {
            let v = match row[c.input].number(&c.name)? {
                Some(v) if !(v.is_nan() || v == self.missing_value) => v,
                _ => c.surrogate,
            };
            row[c.output] = RowValue::Number(v);
        }
        Ok(RowStep::Keep)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_median_and_mode_follow_spark() {
        assert_eq!(lower_median(&mut [4.0, 1.0, 3.0, 2.0]), 2.0);
        assert_eq!(lower_median(&mut [5.0, 1.0, 3.0]), 3.0);
        assert_eq!(lower_median(&mut [7.0]), 7.0);
        assert_eq!(mode(&[3.0, 1.0, 3.0, 1.0, 2.0]), 1.0);
        assert_eq!(mode(&[-0.0, 0.0, 5.0]), 0.0);
    }
}
