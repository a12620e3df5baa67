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
use crate::quantile::QuantileSummary;
use crate::row::{ColumnKind, RowLayout, RowStage, RowStep, RowValue};
use crate::stream::{BatchSource, MemorySource};
use crate::traits::{Estimator, Transformer};

crate::param_enum! {
    /// The statistic [`Imputer`] fills missing values with (Spark's `strategy`).
    #[derive(Default)]
    pub enum ImputerStrategy: "strategy" {
        /// The mean of the present values (the default).
        #[default]
        Mean => "mean",
        /// The lower median of the present values: exact up to 50,000 values, beyond that
        /// through a quantile sketch with `relative_error` as Spark's `approxQuantile`.
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
/// The median is Spark's: `approxQuantile(0.5, relative_error)` through the same sketch
/// ([`QuantileSummary`](crate::quantile::QuantileSummary)), a value whose rank is within
/// `relative_error · n` of `ceil(n / 2)`; up to 50,000 present values it is the exact lower
/// median (the value at rank `ceil(n / 2)`). For `mode`, ties go to the smallest value, as in
/// Spark.
///
/// Every statistic is gathered value by value in row order, so
/// [`fit_source`](Estimator::fit_source) over a stream of batches gives the same surrogates as
/// `fit` on the whole table, holding one batch at a time.
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
    /// Spark's `relativeError`: the rank precision of the median, in [0, 1] (default 0.001).
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
        return Err(MlError::param(
            "relative_error",
            format!("must be in [0, 1], got {}", s.relative_error),
        ));
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
    relative_error: "Rank precision of the median, as Spark's approxQuantile (default 0.001).",
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

    /// Sets the median's rank precision (`relativeError`).
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
}

/// The statistic of one input column, gathered value by value in row order (so that any cut of
/// the rows into batches gives the same result).
enum Accumulator {
    /// Running sum (from -0.0, as `Iterator::sum` starts) and count.
    Mean { total: f64, n: u64 },
    /// Spark's quantile sketch.
    Median(QuantileSummary),
    /// Count per value (bits; -0.0 counted as 0.0), with the value.
    Mode(FxHashMap<u64, (f64, u64)>),
}

impl Accumulator {
    fn new(strategy: ImputerStrategy, relative_error: f64) -> Result<Self> {
        Ok(match strategy {
            ImputerStrategy::Mean => Accumulator::Mean { total: -0.0, n: 0 },
            ImputerStrategy::Median => Accumulator::Median(QuantileSummary::new(relative_error)?),
            ImputerStrategy::Mode => Accumulator::Mode(FxHashMap::default()),
        })
    }

    fn add(&mut self, v: f64) {
        match self {
            Accumulator::Mean { total, n } => {
                *total += v;
                *n += 1;
            }
            Accumulator::Median(sketch) => sketch.insert(v),
            Accumulator::Mode(counts) => {
                let v = if v == 0.0 { 0.0 } else { v };
                counts.entry(v.to_bits()).or_insert((v, 0)).1 += 1;
            }
        }
    }

    /// The surrogate, or `None` when no value was added.
    fn finish(self) -> Result<Option<f64>> {
        Ok(match self {
            Accumulator::Mean { n: 0, .. } => None,
            Accumulator::Mean { total, n } => Some(total / n as f64),
            Accumulator::Median(mut sketch) => sketch.query(0.5)?,
            Accumulator::Mode(counts) => {
                // Most frequent; ties go to the smallest value.
                let mut best: Option<(f64, u64)> = None;
                for &(v, c) in counts.values() {
                    if best.is_none_or(|(bv, bc)| c > bc || (c == bc && v < bv)) {
                        best = Some((v, c));
                    }
                }
                best.map(|(v, _)| v)
            }
        })
    }
}

impl Imputer {
    /// Adds the present (not null, NaN or `missing_value`) values of a column, in row order.
    fn accumulate(&self, arr: &Float64Array, acc: &mut Accumulator) {
        let values = arr.values();
        match arr.nulls() {
            None => values
                .iter()
                .filter(|&&v| !self.is_missing(v))
                .for_each(|&v| acc.add(v)),
            Some(nulls) => values
                .iter()
                .zip(nulls.iter())
                .filter(|&(&v, valid)| valid && !self.is_missing(v))
                .for_each(|(&v, _)| acc.add(v)),
        }
    }
}

impl Estimator for Imputer {
    type Model = ImputerModel;

    fn fit(&self, data: &Dataset) -> Result<ImputerModel> {
        self.fit_source(&MemorySource::from_dataset(data, data.num_rows().max(1))?)
    }

    /// One pass over the source, one batch at a time (the median's sketch holds
    /// `O(1 / relative_error)` values).
    fn fit_source(&self, source: &dyn BatchSource) -> Result<ImputerModel> {
        self.output_schema(&*source.schema()?)?;
        let cols = self.columns()?;
        let mut accs = cols
            .iter()
            .map(|_| Accumulator::new(self.strategy, self.relative_error))
            .collect::<Result<Vec<_>>>()?;
        for batch in source.open()? {
            let data = Dataset::new(batch?);
            for ((input, _), acc) in cols.iter().zip(&mut accs) {
                self.accumulate(&column_to_f64(&data, input, NullPolicy::Keep)?, acc);
            }
        }
        let mut surrogates = Vec::with_capacity(cols.len());
        for ((input, _), acc) in cols.iter().zip(accs) {
            let Some(s) = acc.finish()? else {
                return Err(MlError::data(format!(
                    "Imputer: column '{input}' has no value that is not null, NaN or \
                     missing_value ({}); the {} cannot be computed",
                    self.missing_value, self.strategy
                )));
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
        let slots = layout.column_pairs(self, &cols, ColumnKind::Number)?;
        let mut columns = Vec::with_capacity(cols.len());
        for (((name, _), (input, output)), &surrogate) in
            cols.iter().zip(slots).zip(&self.surrogates)
        {
            columns.push(ImputerRowColumn {
                name: name.clone(),
                input,
                output,
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

    fn surrogate(strategy: ImputerStrategy, values: &[f64]) -> f64 {
        let mut acc = Accumulator::new(strategy, 0.001).unwrap();
        values.iter().for_each(|&v| acc.add(v));
        acc.finish().unwrap().unwrap()
    }

    #[test]
    fn lower_median_and_mode_follow_spark() {
        use ImputerStrategy::{Median, Mode};
        assert_eq!(surrogate(Median, &[4.0, 1.0, 3.0, 2.0]), 2.0);
        assert_eq!(surrogate(Median, &[5.0, 1.0, 3.0]), 3.0);
        assert_eq!(surrogate(Median, &[7.0]), 7.0);
        assert_eq!(surrogate(Mode, &[3.0, 1.0, 3.0, 1.0, 2.0]), 1.0);
        assert_eq!(surrogate(Mode, &[-0.0, 0.0, 5.0]), 0.0);
    }

    #[test]
    fn batches_of_any_size_give_the_whole_column_surrogates() {
        // 120,000 values (the median's buffer is merged twice), with gaps.
        let values: Vec<Option<f64>> = (0..120_000u64)
            .map(|i| (i % 7 != 3).then(|| ((i * 7919) % 100_003) as f64 * 0.25 - 100.0))
            .collect();
        let data = Dataset::from_columns(vec![(
            "x",
            Arc::new(Float64Array::from(values.clone())) as ArrayRef,
        )])
        .unwrap();
        let mut present: Vec<f64> = values.iter().flatten().copied().collect();
        for strategy in [
            ImputerStrategy::Mean,
            ImputerStrategy::Median,
            ImputerStrategy::Mode,
        ] {
            let imputer = Imputer::single("x", "y").with_strategy(strategy);
            let whole = imputer.fit(&data).unwrap().surrogates()[0];
            for rows in [1000, 65_536, 7_777] {
                let source = MemorySource::from_dataset(&data, rows).unwrap();
                let streamed = imputer.fit_source(&source).unwrap().surrogates()[0];
                assert_eq!(
                    whole.to_bits(),
                    streamed.to_bits(),
                    "{strategy} in batches of {rows}"
                );
            }
            if strategy == ImputerStrategy::Median {
                // Within relative_error * n ranks of the exact lower median.
                present.sort_by(f64::total_cmp);
                let n = present.len();
                let rank = present.partition_point(|&v| v < whole) + 1;
                let target = n.div_ceil(2);
                assert!(
                    rank.abs_diff(target) as f64 <= 0.001 * n as f64,
                    "{rank} vs {target}"
                );
            }
        }
    }
}
