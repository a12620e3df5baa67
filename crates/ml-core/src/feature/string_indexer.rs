//! [`StringIndexer`]: maps string categories to `0.0, 1.0, ...` codes.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Float64Array, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use serde::{Deserialize, Serialize};

use super::{append_fields, delegate_params, filter_rows, is_string_like};
use super::{resolve_columns, string_view, HandleInvalid};
use crate::attributes::{with_attribute, Attribute};
use crate::dataset::{field_of, type_error, Dataset};
use crate::error::{MlError, Result};
use crate::hash::FxHashMap;
use crate::params::Params;
use crate::row::{ColumnKind, RowLayout, RowStage, RowStep, RowValue};
use crate::stream::BatchSource;
use crate::traits::{Estimator, Transformer};

/// The label Spark gives the extra category of `handle_invalid = "keep"`.
pub const UNKNOWN_LABEL: &str = "__unknown";

crate::param_enum! {
    /// How [`StringIndexer`] orders labels (Spark's `stringOrderType`).
    #[derive(Default)]
    pub enum StringOrderType: "string_order_type" {
        /// The most frequent label gets code 0 (the default); ties alphabetically.
        #[default]
        FrequencyDesc => "frequencyDesc",
        /// The least frequent label gets code 0; ties alphabetically.
        FrequencyAsc => "frequencyAsc",
        /// Reverse alphabetical (code point) order.
        AlphabetDesc => "alphabetDesc",
        /// Alphabetical (code point) order.
        AlphabetAsc => "alphabetAsc",
    }
}

/// Encodes string columns as category codes, as Spark MLlib's `StringIndexer`.
///
/// Labels are ordered by `string_order_type`: `frequencyDesc` (default: the most frequent label
/// gets 0), `frequencyAsc`, `alphabetDesc` or `alphabetAsc`. Equal frequencies are broken
/// alphabetically (ascending) in both frequency orders, as Spark does. Strings compare by code
/// point. Numeric and boolean input columns are cast to strings first (as Spark's
/// `cast(col as string)`), so `7` and `7.0` are different labels. Nulls are ignored when fitting.
///
/// The output columns are `Float64`, marked [`Attribute::Nominal`] with the labels, so tree
/// learners treat them as categorical. `handle_invalid` decides what happens to labels not seen
/// in fit and to nulls: `error` (default: a typed error naming column, row and value), `skip`
/// (drop the row) or `keep` (code `labels.len()`, labelled [`UNKNOWN_LABEL`] in the metadata).
///
/// ```
/// use std::sync::Arc;
/// use arrow::array::{ArrayRef, StringArray};
/// use ml_core::{Dataset, Estimator, Transformer};
/// use ml_core::feature::StringIndexer;
///
/// let data = Dataset::from_columns(vec![
///     ("grade", Arc::new(StringArray::from(vec!["b", "a", "c", "a", "b", "a"])) as ArrayRef),
/// ]).unwrap();
/// let model = StringIndexer::new("grade", "grade_idx").fit(&data).unwrap();
/// assert_eq!(model.labels(), &["a", "b", "c"]);
/// let out = model.transform(&data).unwrap();
/// assert_eq!(out.f64_column("grade_idx").unwrap().values(), &[1.0, 0.0, 2.0, 0.0, 1.0, 0.0]);
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StringIndexer {
    /// Single input column (use either this with `output_col`, or `input_cols`).
    pub input_col: Option<String>,
    /// Single output column.
    pub output_col: Option<String>,
    /// Input columns.
    pub input_cols: Option<Vec<String>>,
    /// Output columns, one per input.
    pub output_cols: Option<Vec<String>>,
    /// `error` (default), `skip` or `keep`.
    pub handle_invalid: HandleInvalid,
    /// `frequencyDesc` (default), `frequencyAsc`, `alphabetDesc` or `alphabetAsc`.
    pub string_order_type: StringOrderType,
}

impl Default for StringIndexer {
    fn default() -> Self {
        StringIndexer {
            input_col: None,
            output_col: None,
            input_cols: None,
            output_cols: None,
            handle_invalid: HandleInvalid::Error,
            string_order_type: StringOrderType::FrequencyDesc,
        }
    }
}

crate::impl_params!(StringIndexer {
    input_col: "Single input column (string, or numeric cast to string).",
    output_col: "Single output column.",
    input_cols: "Input columns (string, or numeric cast to string).",
    output_cols: "Output columns, one per input column.",
    handle_invalid:
        "Unseen labels and nulls: 'error' (default), 'skip' (drop the row) or 'keep' (extra code).",
    string_order_type:
        "Label order: 'frequencyDesc' (default), 'frequencyAsc', 'alphabetDesc', 'alphabetAsc'.",
});

impl StringIndexer {
    /// An indexer for one column, with Spark's defaults.
    pub fn new(input_col: &str, output_col: &str) -> Self {
        StringIndexer {
            input_col: Some(input_col.into()),
            output_col: Some(output_col.into()),
            ..Default::default()
        }
    }

    /// An indexer for several columns.
    pub fn multi(input_cols: &[&str], output_cols: &[&str]) -> Self {
        StringIndexer {
            input_cols: Some(input_cols.iter().map(|s| s.to_string()).collect()),
            output_cols: Some(output_cols.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        }
    }

    /// Sets `handle_invalid` (`error`, `skip`, `keep`).
    pub fn with_handle_invalid(mut self, value: HandleInvalid) -> Self {
        self.handle_invalid = value;
        self
    }

    /// Sets `string_order_type`.
    pub fn with_string_order_type(mut self, value: StringOrderType) -> Self {
        self.string_order_type = value;
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
            let f = field_of(schema, i)?;
            if !is_string_like(f.data_type()) {
                return Err(type_error(i, "a string or numeric type", f.data_type()));
            }
        }
        Ok(cols)
    }
}

/// Orders `(label, count)` pairs as Spark does for `order`.
fn order_labels(mut counts: Vec<(&str, u64)>, order: StringOrderType) -> Vec<String> {
    match order {
        StringOrderType::FrequencyDesc => {
            counts.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)))
        }
        StringOrderType::FrequencyAsc => {
            counts.sort_unstable_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(b.0)))
        }
        StringOrderType::AlphabetDesc => counts.sort_unstable_by(|a, b| b.0.cmp(a.0)),
        StringOrderType::AlphabetAsc => counts.sort_unstable_by(|a, b| a.0.cmp(b.0)),
    }
    counts.into_iter().map(|(s, _)| s.to_string()).collect()
}

fn count_labels(arr: &StringArray) -> Vec<(&str, u64)> {
    let mut counts: FxHashMap<&str, u64> = FxHashMap::default();
    if arr.null_count() == 0 {
        for i in 0..arr.len() {
            *counts.entry(arr.value(i)).or_insert(0) += 1;
        }
    } else {
        for i in 0..arr.len() {
            if arr.is_valid(i) {
                *counts.entry(arr.value(i)).or_insert(0) += 1;
            }
        }
    }
    counts.into_iter().collect()
}

impl Estimator for StringIndexer {
    type Model = StringIndexerModel;

    fn fit(&self, data: &Dataset) -> Result<StringIndexerModel> {
        let cols = self.check_inputs(&data.schema())?;
        let mut labels_array = Vec::with_capacity(cols.len());
        for (input, _) in &cols {
            let arr = string_view(data, input)?;
            labels_array.push(order_labels(count_labels(&arr), self.string_order_type));
        }
        Ok(StringIndexerModel {
            params: self.clone(),
            labels_array,
        })
    }

    /// One pass over the input columns alone ([`BatchSource::open_columns`]): label counts
    /// per batch, merged (the order of the labels depends only on the counts, so any cut into
    /// batches gives `fit`'s model). Memory: the distinct labels.
    fn fit_source(&self, source: &dyn BatchSource) -> Result<StringIndexerModel> {
        let cols = self.check_inputs(&*source.schema()?)?;
        let mut counts: Vec<FxHashMap<String, u64>> = vec![FxHashMap::default(); cols.len()];
        let mut inputs: Vec<&str> = Vec::with_capacity(cols.len());
        for (input, _) in &cols {
            if !inputs.contains(&input.as_str()) {
                inputs.push(input);
            }
        }
        for batch in source.open_columns(&inputs)? {
            let data = Dataset::new(batch?);
            for ((input, _), total) in cols.iter().zip(&mut counts) {
                let arr = string_view(&data, input)?;
                for (label, c) in count_labels(&arr) {
                    match total.get_mut(label) {
                        Some(t) => *t += c,
                        None => {
                            total.insert(label.to_string(), c);
                        }
                    }
                }
            }
        }
        let labels_array = counts
            .iter()
            .map(|total| {
                let counts = total.iter().map(|(l, &c)| (l.as_str(), c)).collect();
                order_labels(counts, self.string_order_type)
            })
            .collect();
        Ok(StringIndexerModel {
            params: self.clone(),
            labels_array,
        })
    }

    /// The output columns are `Float64`; their nominal metadata (the labels) is known only
    /// after fitting, so this schema carries none.
    fn transform_schema(&self, schema: &Schema) -> Result<Schema> {
        let cols = self.check_inputs(schema)?;
        append_fields(
            schema,
            cols.iter()
                .map(|(_, o)| Field::new(o, DataType::Float64, true))
                .collect(),
        )
    }
}

/// A fitted [`StringIndexer`]: the ordered labels of each input column.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct StringIndexerModel {
    params: StringIndexer,
    labels_array: Vec<Vec<String>>,
}

delegate_params!(StringIndexerModel, params);

impl StringIndexerModel {
    /// A model from known labels (as Spark's `StringIndexerModel.from_labels`).
    pub fn from_labels(params: StringIndexer, labels_array: Vec<Vec<String>>) -> Result<Self> {
        let m = StringIndexerModel {
            params,
            labels_array,
        };
        m.check_structure()?;
        Ok(m)
    }

    /// Valid parameters, one label list per input column, no label twice in a list.
    fn check_structure(&self) -> Result<()> {
        self.params.validate()?;
        let cols = self.params.columns()?;
        if cols.len() != self.labels_array.len() {
            return Err(MlError::param(
                "labels",
                format!(
                    "{} columns but {} label lists",
                    cols.len(),
                    self.labels_array.len()
                ),
            ));
        }
        for ((input, _), labels) in cols.iter().zip(&self.labels_array) {
            let mut seen: FxHashMap<&str, ()> = FxHashMap::default();
            for l in labels {
                if seen.insert(l.as_str(), ()).is_some() {
                    return Err(MlError::param(
                        "labels",
                        format!("label '{l}' of column '{input}' is listed twice"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The labels of the first (or only) input column: label `i` has code `i`.
    pub fn labels(&self) -> &[String] {
        self.labels_array.first().map(Vec::as_slice).unwrap_or(&[])
    }

    /// The labels of every input column, in column order.
    pub fn labels_array(&self) -> &[Vec<String>] {
        &self.labels_array
    }

    /// The parameters it was fitted with.
    pub fn params(&self) -> &StringIndexer {
        &self.params
    }

    fn output_field(&self, output: &str, labels: &[String]) -> Field {
        let mut values = labels.to_vec();
        if self.params.handle_invalid == HandleInvalid::Keep {
            values.push(UNKNOWN_LABEL.to_string());
        }
        with_attribute(
            Field::new(output, DataType::Float64, true),
            &Attribute::nominal(output, values),
        )
    }
}

#[typetag::serde(name = "StringIndexerModel")]
impl Transformer for StringIndexerModel {
    fn transform(&self, data: &Dataset) -> Result<Dataset> {
        let schema = Transformer::transform_schema(self, &data.schema())?;
        let cols = self.params.columns()?;
        let n = data.num_rows();
        let mode = self.params.handle_invalid;
        let mut keep_rows: Option<Vec<bool>> = (mode == HandleInvalid::Skip).then(|| vec![true; n]);
        let mut columns = data.batch().columns().to_vec();
        for ((input, _), labels) in cols.iter().zip(&self.labels_array) {
            let arr = string_view(data, input)?;
            let mut index: FxHashMap<&str, f64> = FxHashMap::default();
            index.reserve(labels.len());
            for (i, l) in labels.iter().enumerate() {
                index.insert(l.as_str(), i as f64);
            }
            let unknown = labels.len() as f64;
            let mut out = Vec::with_capacity(n);
            let has_nulls = arr.null_count() > 0;
            for row in 0..n {
                let code = if has_nulls && arr.is_null(row) {
                    None
                } else {
                    index.get(arr.value(row)).copied()
                };
                match code {
                    Some(c) => out.push(c),
                    None => {
                        match mode {
                            HandleInvalid::Keep => {}
                            HandleInvalid::Skip => {
                                if let Some(k) = keep_rows.as_mut() {
                                    k[row] = false;
                                }
                            }
                            HandleInvalid::Error => {
                                let value = (!arr.is_null(row)).then(|| arr.value(row));
                                return Err(invalid_error(input, row, value, labels));
                            }
                        }
                        out.push(unknown);
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

    fn validate_structure(&self) -> Result<()> {
        self.check_structure()
    }

    fn compile_row(&self, layout: &mut RowLayout) -> Result<Option<Box<dyn RowStage>>> {
        let cols = self.params.columns()?;
        let slots = layout.column_pairs(self, &cols, ColumnKind::Text)?;
        let mut columns = Vec::with_capacity(cols.len());
        for (((name, _), (input, output)), labels) in cols.iter().zip(slots).zip(&self.labels_array)
        {
            let mut index: FxHashMap<String, f64> = FxHashMap::default();
            index.reserve(labels.len());
            for (i, l) in labels.iter().enumerate() {
                index.insert(l.clone(), i as f64);
            }
            columns.push(IndexerRowColumn {
                name: name.clone(),
                input,
                output,
                index,
                labels: labels.clone(),
            });
        }
        Ok(Some(Box::new(IndexerRow {
            columns,
            mode: self.params.handle_invalid,
        })))
    }

    fn transform_schema(&self, schema: &Schema) -> Result<Schema> {
        let cols = self.params.check_inputs(schema)?;
        if cols.len() != self.labels_array.len() {
            return Err(MlError::param(
                "input_cols",
                format!(
                    "the model was fitted on {} columns but {} are configured",
                    self.labels_array.len(),
                    cols.len()
                ),
            ));
        }
        append_fields(
            schema,
            cols.iter()
                .zip(&self.labels_array)
                .map(|((_, o), labels)| self.output_field(o, labels))
                .collect(),
        )
    }
}

fn invalid_error(input: &str, row: usize, value: Option<&str>, labels: &[String]) -> MlError {
    let what = match value {
        None => "null value".to_string(),
        Some(v) => format!("unseen label '{v}'"),
    };
    let shown: Vec<&str> = labels.iter().take(10).map(String::as_str).collect();
    let more = if labels.len() > 10 { ", ..." } else { "" };
    MlError::value(
        input,
        row,
        format!(
            "StringIndexer: {what} (labels seen in fit: {}{more}); set handle_invalid to \
             'skip' or 'keep' to accept it",
            shown.join(", ")
        ),
    )
}

/// One column of [`IndexerRow`].
#[derive(Debug)]
struct IndexerRowColumn {
    name: String,
    input: usize,
    output: usize,
    index: FxHashMap<String, f64>,
    labels: Vec<String>,
}

/// [`StringIndexerModel`] compiled for one row.
#[derive(Debug)]
struct IndexerRow {
    columns: Vec<IndexerRowColumn>,
    mode: HandleInvalid,
}

impl RowStage for IndexerRow {
    fn apply(&self, row: &mut [RowValue], index: usize) -> Result<RowStep> {
        let mut step = RowStep::Keep;
        for c in &self.columns {
            let value = row[c.input].text(&c.name)?;
            let code = match value.and_then(|v| c.index.get(v)) {
                Some(&code) => code,
                None => match self.mode {
                    HandleInvalid::Error => {
                        return Err(invalid_error(&c.name, index, value, &c.labels))
                    }
                    HandleInvalid::Skip => {
                        step = RowStep::Skip;
                        c.labels.len() as f64
                    }
                    HandleInvalid::Keep => c.labels.len() as f64,
                },
            };
            row[c.output] = RowValue::Number(code);
        }
        Ok(step)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_are_broken_alphabetically_in_both_frequency_orders() {
        let counts = vec![("b", 2), ("c", 1), ("a", 2), ("d", 1)];
        assert_eq!(
            order_labels(counts.clone(), StringOrderType::FrequencyDesc),
            vec!["a", "b", "c", "d"]
        );
        assert_eq!(
            order_labels(counts.clone(), StringOrderType::FrequencyAsc),
            vec!["c", "d", "a", "b"]
        );
        assert_eq!(
            order_labels(counts.clone(), StringOrderType::AlphabetDesc),
            vec!["d", "c", "b", "a"]
        );
        assert_eq!(
            order_labels(counts, StringOrderType::AlphabetAsc),
            vec!["a", "b", "c", "d"]
        );
    }
}
