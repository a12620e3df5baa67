//! [`IndexToString`]: maps category codes back to their labels.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema};
use serde::{Deserialize, Serialize};

use super::{append_fields, check_numeric};
use crate::attributes::{attribute_of, Attribute};
use crate::dataset::{column_to_f64, NullPolicy};
use crate::dataset::{field_of, Dataset};
use crate::error::{MlError, Result};
use crate::traits::Transformer;

/// Maps a column of category codes back to string labels, as Spark MLlib's `IndexToString`.
///
/// The labels come from the `labels` parameter when it is set, otherwise from the input
/// column's [`Attribute::Nominal`] metadata (which [`StringIndexer`](super::StringIndexer)
/// writes). A null code gives a null label; a code that is negative, not an integer, or has no
/// label is an error naming the column and row.
///
/// ```
/// use std::sync::Arc;
/// use arrow::array::{ArrayRef, StringArray};
/// use ml_core::{Dataset, Estimator, Transformer};
/// use ml_core::feature::{IndexToString, StringIndexer};
///
/// let data = Dataset::from_columns(vec![
///     ("city", Arc::new(StringArray::from(vec!["Oslo", "Rome", "Oslo"])) as ArrayRef),
/// ]).unwrap();
/// let indexed = StringIndexer::new("city", "city_idx").fit(&data).unwrap().transform(&data).unwrap();
/// let back = IndexToString::new("city_idx", "city_again").transform(&indexed).unwrap();
/// assert_eq!(back.string_column("city_again").unwrap(), back.string_column("city").unwrap());
/// ```
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct IndexToString {
    /// Input column of codes (numeric).
    pub input_col: String,
    /// Output column of labels (Utf8).
    pub output_col: String,
    /// Labels by code; when unset, taken from the input column's nominal metadata.
    pub labels: Option<Vec<String>>,
}

crate::impl_params!(IndexToString {
    input_col: "Input column of category codes (numeric).",
    output_col: "Output column of labels.",
    labels: "Labels by code; default: the input column's nominal metadata.",
});

impl IndexToString {
    /// A stage reading labels from the input column's metadata.
    pub fn new(input_col: &str, output_col: &str) -> Self {
        IndexToString {
            input_col: input_col.into(),
            output_col: output_col.into(),
            labels: None,
        }
    }

    /// Uses these labels instead of the column's metadata.
    pub fn with_labels(mut self, labels: Vec<String>) -> Self {
        self.labels = Some(labels);
        self
    }

    fn labels_for(&self, schema: &Schema) -> Result<Vec<String>> {
        if let Some(l) = &self.labels {
            return Ok(l.clone());
        }
        let f = field_of(schema, &self.input_col)?;
        match attribute_of(&f) {
            Some(Attribute::Nominal {
                values: Some(v), ..
            }) => Ok(v),
            _ => Err(MlError::param(
                "labels",
                format!(
                    "column '{}' carries no nominal labels in its metadata; set the labels \
                     parameter",
                    self.input_col
                ),
            )),
        }
    }
}

#[typetag::serde(name = "IndexToString")]
impl Transformer for IndexToString {
    fn transform(&self, data: &Dataset) -> Result<Dataset> {
        let schema = data.schema();
        let out_schema = self.transform_schema(&schema)?;
        let labels = self.labels_for(&schema)?;
        let codes = column_to_f64(data, &self.input_col, NullPolicy::Keep)?;
        let bytes: usize = labels.iter().map(String::len).sum::<usize>() / labels.len().max(1);
        let mut b = StringBuilder::with_capacity(codes.len(), codes.len() * bytes.max(1));
        for row in 0..codes.len() {
            if codes.is_null(row) {
                b.append_null();
                continue;
            }
            let c = codes.value(row);
            let idx = c as usize;
            if c < 0.0 || c.fract() != 0.0 || idx >= labels.len() {
                return Err(MlError::value(
                    &self.input_col,
                    row,
                    format!(
                        "IndexToString: code {c} has no label (there are {} labels)",
                        labels.len()
                    ),
                ));
            }
            b.append_value(&labels[idx]);
        }
        let mut columns = data.batch().columns().to_vec();
        columns.push(Arc::new(b.finish()) as ArrayRef);
        Ok(Dataset::new(arrow::record_batch::RecordBatch::try_new(
            Arc::new(out_schema),
            columns,
        )?))
    }

    /// Checks the input is numeric. Whether labels are available is checked in `transform`,
    /// since a [`StringIndexer`](super::StringIndexer) earlier in a pipeline writes them only
    /// once fitted.
    fn transform_schema(&self, schema: &Schema) -> Result<Schema> {
        check_numeric(schema, &self.input_col)?;
        append_fields(
            schema,
            vec![Field::new(&self.output_col, DataType::Utf8, true)],
        )
    }
}
