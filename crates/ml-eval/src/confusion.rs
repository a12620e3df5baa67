//! [`ConfusionMatrix`]: row counts and sums of value columns per (label, prediction) cell, and
//! the seed notebook's business table ([`BusinessValue`]) in one call.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Float64Array, Int64Array, StringArray};
use ml_core::{Dataset, MlError, Result};

use crate::evaluators::numeric_values;

/// Counts rows per (label, prediction) and sums any number of value columns per cell.
///
/// Labels and predictions may be any numeric column (nulls and NaN are errors naming the row).
/// Nulls and NaN in value columns are skipped, as SQL's `SUM`.
///
/// ```
/// use std::sync::Arc;
/// use arrow::array::{ArrayRef, Float64Array};
/// use ml_core::Dataset;
/// use ml_eval::ConfusionMatrix;
///
/// let data = Dataset::from_columns(vec![
///     ("label", Arc::new(Float64Array::from(vec![0.0, 0.0, 1.0, 1.0, 1.0])) as ArrayRef),
///     ("prediction", Arc::new(Float64Array::from(vec![0.0, 1.0, 1.0, 1.0, 0.0])) as ArrayRef),
///     ("net", Arc::new(Float64Array::from(vec![10.0, 20.0, -5.0, -7.0, -30.0])) as ArrayRef),
/// ]).unwrap();
/// let cm = ConfusionMatrix::new("label", "prediction").with_value_col("net").compute(&data).unwrap();
/// assert_eq!(cm.count(1.0, 1.0), 2);
/// assert_eq!(cm.sum("net", 1.0, 1.0).unwrap(), -12.0);
/// println!("{cm}");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ConfusionMatrix {
    label_col: String,
    prediction_col: String,
    value_cols: Vec<String>,
}

impl ConfusionMatrix {
    /// A confusion matrix over these label and prediction columns.
    pub fn new(label_col: &str, prediction_col: &str) -> Self {
        ConfusionMatrix {
            label_col: label_col.into(),
            prediction_col: prediction_col.into(),
            value_cols: Vec::new(),
        }
    }

    /// Adds a numeric column to sum per cell.
    pub fn with_value_col(mut self, col: &str) -> Self {
        self.value_cols.push(col.to_string());
        self
    }

    /// Counts and sums over `data`.
    pub fn compute(&self, data: &Dataset) -> Result<ConfusionTable> {
        let labels = numeric_values(data, &self.label_col)?;
        let preds = numeric_values(data, &self.prediction_col)?;
        let values: Vec<Float64Array> = self
            .value_cols
            .iter()
            .map(|c| data.numeric_column(c))
            .collect::<Result<_>>()?;
        let mut cells: BTreeMap<(u64, u64), Cell> = BTreeMap::new();
        for row in 0..labels.len() {
            let (l, p) = (norm(labels[row]), norm(preds[row]));
            let cell = cells
                .entry((asc_key(l), asc_key(p)))
                .or_insert_with(|| Cell {
                    label: l,
                    prediction: p,
                    count: 0,
                    sums: vec![0.0; values.len()],
                });
            cell.count += 1;
            for (k, v) in values.iter().enumerate() {
                if v.is_valid(row) && !v.value(row).is_nan() {
                    cell.sums[k] += v.value(row);
                }
            }
        }
        Ok(ConfusionTable {
            label_col: self.label_col.clone(),
            prediction_col: self.prediction_col.clone(),
            value_cols: self.value_cols.clone(),
            cells: cells.into_values().collect(),
        })
    }
}

fn norm(x: f64) -> f64 {
    if x == 0.0 {
        0.0
    } else {
        x
    }
}

fn asc_key(x: f64) -> u64 {
    let bits = x.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    }
}

/// One (label, prediction) cell.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    /// The label.
    pub label: f64,
    /// The prediction.
    pub prediction: f64,
    /// Number of rows.
    pub count: u64,
    /// Sum of each value column, in the order they were added.
    pub sums: Vec<f64>,
}

/// The result of [`ConfusionMatrix::compute`]: the non-empty cells sorted by (label,
/// prediction).
#[derive(Debug, Clone, PartialEq)]
pub struct ConfusionTable {
    label_col: String,
    prediction_col: String,
    value_cols: Vec<String>,
    cells: Vec<Cell>,
}

impl ConfusionTable {
    /// The non-empty cells, sorted by label then prediction.
    pub fn cells(&self) -> &[Cell] {
        &self.cells
    }

    fn cell(&self, label: f64, prediction: f64) -> Option<&Cell> {
        let (l, p) = (norm(label), norm(prediction));
        self.cells
            .iter()
            .find(|c| c.label == l && c.prediction == p)
    }

    /// Rows with this label and prediction (0 for an empty cell).
    pub fn count(&self, label: f64, prediction: f64) -> u64 {
        self.cell(label, prediction).map_or(0, |c| c.count)
    }

    /// Sum of a value column over the cell (0 for an empty cell); an unknown column is an error.
    pub fn sum(&self, value_col: &str, label: f64, prediction: f64) -> Result<f64> {
        let k = self
            .value_cols
            .iter()
            .position(|c| c == value_col)
            .ok_or_else(|| {
                MlError::param(
                    value_col,
                    format!(
                        "not a value column of this confusion matrix; value columns: {}",
                        self.value_cols.join(", ")
                    ),
                )
            })?;
        Ok(self.cell(label, prediction).map_or(0.0, |c| c.sums[k]))
    }

    /// As a dataset: label, prediction, count, then `sum(<value column>)` per value column.
    pub fn to_dataset(&self) -> Result<Dataset> {
        let mut cols: Vec<(String, ArrayRef)> = vec![
            (
                self.label_col.clone(),
                Arc::new(Float64Array::from_iter_values(
                    self.cells.iter().map(|c| c.label),
                )),
            ),
            (
                self.prediction_col.clone(),
                Arc::new(Float64Array::from_iter_values(
                    self.cells.iter().map(|c| c.prediction),
                )),
            ),
            (
                "count".into(),
                Arc::new(Int64Array::from_iter_values(
                    self.cells.iter().map(|c| c.count as i64),
                )),
            ),
        ];
        for (k, v) in self.value_cols.iter().enumerate() {
            cols.push((
                format!("sum({v})"),
                Arc::new(Float64Array::from_iter_values(
                    self.cells.iter().map(|c| c.sums[k]),
                )),
            ));
        }
        Dataset::from_columns(cols.iter().map(|(n, a)| (n.as_str(), a.clone())).collect())
    }
}

impl fmt::Display for ConfusionTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ds = self.to_dataset().map_err(|_| fmt::Error)?;
        let s = ds.show(ds.num_rows()).map_err(|_| fmt::Error)?;
        write!(f, "{s}")
    }
}

/// The seed notebook's business table for a binary classifier (label 1 = bad loan, prediction
/// 1 = rejected), from a value column such as `net = total_pymnt - funded_amnt`:
///
/// | cell | label | prediction | meaning |
/// |---|---|---|---|
/// | TN | 0 | 0 | profit retained (good loans kept) |
/// | FP | 0 | 1 | profit forfeited (good loans turned down) |
/// | FN | 1 | 0 | loss still incurred (bad loans let through) |
/// | TP | 1 | 1 | loss avoided (bad loans caught; `net` is negative) |
///
/// and `value = -(loss_avoided - profit_forfeited)`: the money the model saves (loss avoided,
/// a negative sum, turned positive) minus the profit it gives up.
///
/// ```
/// use std::sync::Arc;
/// use arrow::array::{ArrayRef, Float64Array};
/// use ml_core::Dataset;
/// use ml_eval::BusinessValue;
///
/// let data = Dataset::from_columns(vec![
///     ("bad_loan", Arc::new(Float64Array::from(vec![0.0, 0.0, 1.0, 1.0])) as ArrayRef),
///     ("prediction", Arc::new(Float64Array::from(vec![0.0, 1.0, 1.0, 0.0])) as ArrayRef),
///     ("net", Arc::new(Float64Array::from(vec![100.0, 40.0, -300.0, -50.0])) as ArrayRef),
/// ]).unwrap();
/// let b = BusinessValue::compute(&data, "bad_loan", "prediction", "net").unwrap();
/// assert_eq!(b.loss_avoided, -300.0);
/// assert_eq!(b.profit_forfeited, 40.0);
/// assert_eq!(b.value, 340.0); // -(-300 - 40)
/// println!("{b}");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct BusinessValue {
    /// The value column summed.
    pub value_col: String,
    /// Rows per cell: [TN, FP, FN, TP].
    pub counts: [u64; 4],
    /// Sum over label 1, prediction 1 (TP).
    pub loss_avoided: f64,
    /// Sum over label 0, prediction 1 (FP).
    pub profit_forfeited: f64,
    /// Sum over label 1, prediction 0 (FN).
    pub loss_incurred: f64,
    /// Sum over label 0, prediction 0 (TN).
    pub profit_retained: f64,
    /// `-(loss_avoided - profit_forfeited)`.
    pub value: f64,
}

impl BusinessValue {
    /// Builds the table in one pass; labels and predictions must be 0 or 1 (an error names the
    /// column and row otherwise).
    pub fn compute(
        data: &Dataset,
        label_col: &str,
        prediction_col: &str,
        value_col: &str,
    ) -> Result<Self> {
        for col in [label_col, prediction_col] {
            let v = numeric_values(data, col)?;
            if let Some(row) = v.iter().position(|&x| x != 0.0 && x != 1.0) {
                return Err(MlError::value(
                    col,
                    row,
                    format!("the business table needs 0/1 values, got {}", v[row]),
                ));
            }
        }
        let t = ConfusionMatrix::new(label_col, prediction_col)
            .with_value_col(value_col)
            .compute(data)?;
        let s = |l, p| t.sum(value_col, l, p);
        let loss_avoided = s(1.0, 1.0)?;
        let profit_forfeited = s(0.0, 1.0)?;
        Ok(BusinessValue {
            value_col: value_col.to_string(),
            counts: [
                t.count(0.0, 0.0),
                t.count(0.0, 1.0),
                t.count(1.0, 0.0),
                t.count(1.0, 1.0),
            ],
            loss_avoided,
            profit_forfeited,
            loss_incurred: s(1.0, 0.0)?,
            profit_retained: s(0.0, 0.0)?,
            value: -(loss_avoided - profit_forfeited),
        })
    }

    /// Rows TN, FP, FN, TP with columns cell, label, prediction, count, meaning and
    /// `sum(<value column>)`.
    pub fn to_dataset(&self) -> Result<Dataset> {
        let sums = [
            self.profit_retained,
            self.profit_forfeited,
            self.loss_incurred,
            self.loss_avoided,
        ];
        let sum_name = format!("sum({})", self.value_col);
        Dataset::from_columns(vec![
            (
                "cell",
                Arc::new(StringArray::from(vec!["TN", "FP", "FN", "TP"])) as ArrayRef,
            ),
            (
                "label",
                Arc::new(Float64Array::from(vec![0.0, 0.0, 1.0, 1.0])) as ArrayRef,
            ),
            (
                "prediction",
                Arc::new(Float64Array::from(vec![0.0, 1.0, 0.0, 1.0])) as ArrayRef,
            ),
            (
                "count",
                Arc::new(Int64Array::from_iter_values(
                    self.counts.iter().map(|&c| c as i64),
                )) as ArrayRef,
            ),
            (
                "meaning",
                Arc::new(StringArray::from(vec![
                    "profit retained",
                    "profit forfeited",
                    "loss still incurred",
                    "loss avoided",
                ])) as ArrayRef,
            ),
            (
                sum_name.as_str(),
                Arc::new(Float64Array::from(sums.to_vec())) as ArrayRef,
            ),
        ])
    }
}

impl fmt::Display for BusinessValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ds = self.to_dataset().map_err(|_| fmt::Error)?;
        let s = ds.show(4).map_err(|_| fmt::Error)?;
        writeln!(f, "{s}")?;
        write!(
            f,
            "value = -(loss avoided - profit forfeited) = -({} - {}) = {}",
            self.loss_avoided, self.profit_forfeited, self.value
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> Dataset {
        Dataset::from_columns(vec![
            (
                "label",
                Arc::new(Float64Array::from(vec![0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 2.0])) as ArrayRef,
            ),
            (
                "prediction",
                Arc::new(Int64Array::from(vec![0, 1, 1, 1, 0, 0, 1])) as ArrayRef,
            ),
            (
                "net",
                Arc::new(Float64Array::from(vec![
                    Some(10.0),
                    Some(20.0),
                    Some(-5.0),
                    None,
                    Some(-30.0),
                    Some(f64::NAN),
                    Some(1.0),
                ])) as ArrayRef,
            ),
        ])
        .unwrap()
    }

    #[test]
    fn counts_and_sums_per_cell_skip_null_and_nan_values() {
        let t = ConfusionMatrix::new("label", "prediction")
            .with_value_col("net")
            .compute(&data())
            .unwrap();
        // Cells by hand: (0,0): rows 0,5; (0,1): row 1; (1,0): row 4; (1,1): rows 2,3; (2,1): row 6.
        assert_eq!(t.cells().len(), 5);
        assert_eq!(t.count(0.0, 0.0), 2);
        assert_eq!(t.sum("net", 0.0, 0.0).unwrap(), 10.0);
        assert_eq!(t.count(1.0, 1.0), 2);
        assert_eq!(t.sum("net", 1.0, 1.0).unwrap(), -5.0);
        assert_eq!(t.count(2.0, 0.0), 0);
        assert!(t.sum("nope", 0.0, 0.0).is_err());
        let ds = t.to_dataset().unwrap();
        assert_eq!(
            ds.column_names(),
            ["label", "prediction", "count", "sum(net)"]
        );
        assert_eq!(
            ds.f64_column("label").unwrap().values(),
            &[0.0, 0.0, 1.0, 1.0, 2.0]
        );
        assert!(t.to_string().contains("sum(net)"));
    }

    #[test]
    fn business_value_needs_binary_columns_and_computes_the_seed_table() {
        let e = BusinessValue::compute(&data(), "label", "prediction", "net").unwrap_err();
        assert!(matches!(e, MlError::InvalidValue { ref column, row: 6, .. } if column == "label"));
        let d = data().slice(0, 6);
        let b = BusinessValue::compute(&d, "label", "prediction", "net").unwrap();
        assert_eq!(b.counts, [2, 1, 1, 2]);
        assert_eq!(b.profit_retained, 10.0);
        assert_eq!(b.profit_forfeited, 20.0);
        assert_eq!(b.loss_incurred, -30.0);
        assert_eq!(b.loss_avoided, -5.0);
        assert_eq!(b.value, 25.0);
        let ds = b.to_dataset().unwrap();
        assert_eq!(ds.num_rows(), 4);
        assert_eq!(
            ds.f64_column("sum(net)").unwrap().values(),
            &[10.0, 20.0, -30.0, -5.0]
        );
        let s = b.to_string();
        assert!(s.contains("loss avoided") && s.contains("= 25"), "{s}");
    }
}
