//! [`Bucketizer`]: bins numeric columns by split points.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Float64Array};
use arrow::datatypes::{DataType, Field, Schema};
use serde::{Deserialize, Serialize};

use super::{append_fields, check_numeric, filter_rows, json_f64};
use super::{resolve_columns, HandleInvalid};
use crate::attributes::{with_attribute, Attribute};
use crate::dataset::Dataset;
use crate::dataset::{column_to_f64, NullPolicy};
use crate::error::{MlError, Result};
use crate::params::Params;
use crate::traits::Transformer;

/// Maps numeric columns to bucket indices, as Spark MLlib's `Bucketizer`.
///
/// `splits` `[s0, s1, ..., sn]` (at least three, strictly increasing; use `-inf` / `inf` for
/// open ends) define buckets `[s0, s1), [s1, s2), ..., [sn-1, sn]` (the last one includes its
/// upper bound). A value outside `[s0, sn]` is always an error naming the column and row, as in
/// Spark. `handle_invalid` governs NaN and null: `error` (default), `skip` (drop the row) or
/// `keep` (an extra bucket with index `n`).
///
/// For several columns use `input_cols` / `output_cols` with `splits_array` (one split list per
/// column; set it with [`Bucketizer::with_splits_array`], since nested lists are not a
/// [`ParamValue`](crate::ParamValue)). Outputs are `Float64` marked [`Attribute::Nominal`] with
/// one label per bucket (plus `NaN` with `keep`).
///
/// ```
/// use std::sync::Arc;
/// use arrow::array::{ArrayRef, Float64Array};
/// use ml_core::{Dataset, Transformer};
/// use ml_core::feature::Bucketizer;
///
/// let data = Dataset::from_columns(vec![
///     ("age", Arc::new(Float64Array::from(vec![3.0, 18.0, 40.0, 99.0])) as ArrayRef),
/// ]).unwrap();
/// let b = Bucketizer::new("age", "age_bin", vec![f64::NEG_INFINITY, 18.0, 65.0, f64::INFINITY]);
/// let out = b.transform(&data).unwrap();
/// assert_eq!(out.f64_column("age_bin").unwrap().values(), &[0.0, 1.0, 1.0, 2.0]);
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Bucketizer {
    /// Split points for `input_col`.
    #[serde(with = "json_f64::opt_vec")]
    pub splits: Option<Vec<f64>>,
    /// Single input column.
    pub input_col: Option<String>,
    /// Single output column.
    pub output_col: Option<String>,
    /// Input columns (with `splits_array`).
    pub input_cols: Option<Vec<String>>,
    /// Output columns, one per input.
    pub output_cols: Option<Vec<String>>,
    /// Split points per input column, for `input_cols` (not settable by name).
    #[serde(with = "json_f64::vec_vec", default)]
    pub splits_array: Vec<Vec<f64>>,
    /// `error` (default), `skip` or `keep`.
    #[serde(default)]
    pub handle_invalid: HandleInvalid,
}

impl Default for Bucketizer {
    fn default() -> Self {
        Bucketizer {
            splits: None,
            input_col: None,
            output_col: None,
            input_cols: None,
            output_cols: None,
            splits_array: Vec::new(),
            handle_invalid: HandleInvalid::Error,
        }
    }
}

fn check_splits(param: &str, splits: &[f64]) -> Result<()> {
    if splits.len() < 3 {
        return Err(MlError::param(
            param,
            format!(
                "needs at least 3 split points (2 buckets), got {}",
                splits.len()
            ),
        ));
    }
    if splits.iter().any(|s| s.is_nan()) || splits.windows(2).any(|w| w[0] >= w[1]) {
        return Err(MlError::param(
            param,
            "split points must be strictly increasing and not NaN",
        ));
    }
    Ok(())
}

fn validate(s: &Bucketizer) -> Result<()> {
    if let Some(sp) = &s.splits {
        check_splits("splits", sp)?;
    }
    for sp in &s.splits_array {
        check_splits("splits_array", sp)?;
    }
    Ok(())
}

crate::impl_params!(Bucketizer {
    splits: "Split points for input_col: at least 3, strictly increasing (use -inf/inf for open ends).",
    input_col: "Single input column (numeric).",
    output_col: "Single output column.",
    input_cols: "Input columns (numeric), with splits_array.",
    output_cols: "Output columns, one per input column.",
    handle_invalid: "NaN and null: 'error' (default), 'skip' (drop the row) or 'keep' (extra bucket).",
} validate = validate);

impl Bucketizer {
    /// A bucketizer for one column.
    pub fn new(input_col: &str, output_col: &str, splits: Vec<f64>) -> Self {
        Bucketizer {
            splits: Some(splits),
            input_col: Some(input_col.into()),
            output_col: Some(output_col.into()),
            ..Default::default()
        }
    }

    /// A bucketizer for several columns, one split list each.
    pub fn multi(input_cols: &[&str], output_cols: &[&str], splits_array: Vec<Vec<f64>>) -> Self {
        Bucketizer {
            input_cols: Some(input_cols.iter().map(|s| s.to_string()).collect()),
            output_cols: Some(output_cols.iter().map(|s| s.to_string()).collect()),
            splits_array,
            ..Default::default()
        }
    }

    /// Sets the split points per column (for `input_cols`).
    pub fn with_splits_array(mut self, splits_array: Vec<Vec<f64>>) -> Self {
        self.splits_array = splits_array;
        self
    }

    /// Sets `handle_invalid` (`error`, `skip`, `keep`).
    pub fn with_handle_invalid(mut self, value: HandleInvalid) -> Self {
        self.handle_invalid = value;
        self
    }

    /// The (input, output, splits) triples.
    fn plan(&self) -> Result<Vec<(String, String, &[f64])>> {
        self.validate()?;
        let cols = resolve_columns(
            &self.input_col,
            &self.output_col,
            &self.input_cols,
            &self.output_cols,
        )?;
        if self.input_col.is_some() {
            let sp = self
                .splits
                .as_deref()
                .ok_or_else(|| MlError::param("splits", "input_col is set but splits is not"))?;
            if !self.splits_array.is_empty() {
                return Err(MlError::param(
                    "splits_array",
                    "input_col is set: use splits with it, not splits_array",
                ));
            }
            let (i, o) = cols.into_iter().next().expect("one column pair");
            return Ok(vec![(i, o, sp)]);
        }
        if self.splits.is_some() {
            return Err(MlError::param(
                "splits",
                "input_cols is set: use splits_array (one split list per column), not splits",
            ));
        }
        if self.splits_array.len() != cols.len() {
            return Err(MlError::param(
                "splits_array",
                format!(
                    "{} input columns but {} split lists",
                    cols.len(),
                    self.splits_array.len()
                ),
            ));
        }
        Ok(cols
            .into_iter()
            .zip(&self.splits_array)
            .map(|((i, o), s)| (i, o, s.as_slice()))
            .collect())
    }

    fn output_field(&self, output: &str, splits: &[f64]) -> Field {
        let last = splits.len() - 2;
        let mut labels: Vec<String> = splits
            .windows(2)
            .enumerate()
            .map(|(i, w)| {
                let close = if i == last { ']' } else { ')' };
                format!("[{}, {}{close}", w[0], w[1])
            })
            .collect();
        if self.handle_invalid == HandleInvalid::Keep {
            labels.push("NaN".into());
        }
        with_attribute(
            Field::new(output, DataType::Float64, true),
            &Attribute::nominal(output, labels),
        )
    }
}

/// The bucket of a finite or infinite, non-NaN value; `None` when outside the splits.
#[inline]
fn bucket(splits: &[f64], v: f64) -> Option<usize> {
    let last = splits.len() - 1;
    if v < splits[0] || v > splits[last] {
        return None;
    }
    if v == splits[last] {
        return Some(last - 1);
    }
    // Number of split points <= v, minus one.
    Some(splits.partition_point(|&s| s <= v) - 1)
}

#[typetag::serde(name = "Bucketizer")]
impl Transformer for Bucketizer {
    fn transform(&self, data: &Dataset) -> Result<Dataset> {
        let schema = self.transform_schema(&data.schema())?;
        let plan = self.plan()?;
        let n = data.num_rows();
        let mode = self.handle_invalid;
        let mut keep_rows: Option<Vec<bool>> = (mode == HandleInvalid::Skip).then(|| vec![true; n]);
        let mut columns = data.batch().columns().to_vec();
        for (input, _, splits) in &plan {
            let arr = column_to_f64(data, input, NullPolicy::Keep)?;
            let has_nulls = arr.null_count() > 0;
            let nan_bucket = (splits.len() - 1) as f64;
            let mut out = Vec::with_capacity(n);
            for (row, &v) in arr.values().iter().enumerate() {
                let null = has_nulls && arr.is_null(row);
                if null || v.is_nan() {
                    match mode {
                        HandleInvalid::Keep => {}
                        HandleInvalid::Skip => {
                            if let Some(k) = keep_rows.as_mut() {
                                k[row] = false;
                            }
                        }
                        _ => {
                            return Err(MlError::value(
                                input,
                                row,
                                format!(
                                    "Bucketizer: encountered {}; set handle_invalid to 'skip' \
                                     or 'keep' to accept it",
                                    if null { "null" } else { "NaN" }
                                ),
                            ))
                        }
                    }
                    out.push(nan_bucket);
                    continue;
                }
                match bucket(splits, v) {
                    Some(b) => out.push(b as f64),
                    None => {
                        return Err(MlError::value(
                            input,
                            row,
                            format!(
                                "Bucketizer: value {v} is outside the splits [{}, {}]; widen \
                                 the outer splits (e.g. to -inf / inf)",
                                splits[0],
                                splits[splits.len() - 1]
                            ),
                        ))
                    }
                }
            }
            columns.push(Arc::new(Float64Array::from(out)) as ArrayRef);
        }
        let ds = Dataset::new(arrow::record_batch::RecordBatch::try_new(
            Arc::new(schema),
            columns,
        )?);
        match keep_rows {
            Some(k) => filter_rows(ds, k),
            None => Ok(ds),
        }
    }

    fn transform_schema(&self, schema: &Schema) -> Result<Schema> {
        let plan = self.plan()?;
        let mut fields = Vec::with_capacity(plan.len());
        for (i, o, splits) in &plan {
            check_numeric(schema, i)?;
            fields.push(self.output_field(o, splits));
        }
        append_fields(schema, fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_edges_follow_spark() {
        let s = [0.0, 1.0, 2.0, 3.0];
        assert_eq!(bucket(&s, 0.0), Some(0));
        assert_eq!(bucket(&s, 0.999), Some(0));
        assert_eq!(bucket(&s, 1.0), Some(1));
        assert_eq!(bucket(&s, 2.5), Some(2));
        assert_eq!(
            bucket(&s, 3.0),
            Some(2),
            "the last bucket includes its upper bound"
        );
        assert_eq!(bucket(&s, -0.1), None);
        assert_eq!(bucket(&s, 3.1), None);
    }
}
