//! [`RowScorer`]: a fitted pipeline compiled once, scoring rows of named values.

use std::sync::Arc;

use arrow::datatypes::{Field, Schema};
use serde_json::Value;

use super::layout::{ColumnKind, RowInput, RowLayout};
use super::value::RowValue;
use super::{RowStage, RowStep};
use crate::error::{MlError, Result};
use crate::hash::FxHashMap;
use crate::traits::Transformer;

/// A row of named values, the input of [`RowScorer::score`]. Names the scorer does not read
/// are ignored; a name given twice keeps its last value.
///
/// ```
/// use ml_core::row::{Row, RowValue};
/// let row = Row::new().with("income", 52_000.0).with("home", "RENT").with("dti", None::<f64>);
/// assert_eq!(row.get("home"), Some(&RowValue::Text("RENT".into())));
/// assert_eq!(row.get("dti"), Some(&RowValue::Null));
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Row {
    values: Vec<(String, RowValue)>,
}

impl Row {
    /// An empty row.
    pub fn new() -> Self {
        Row::default()
    }

    /// The row with `name` set to `value`.
    pub fn with(mut self, name: &str, value: impl Into<RowValue>) -> Self {
        self.set(name, value);
        self
    }

    /// Sets `name` to `value`.
    pub fn set(&mut self, name: &str, value: impl Into<RowValue>) {
        let value = value.into();
        match self.values.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = value,
            None => self.values.push((name.to_string(), value)),
        }
    }

    /// The value of `name`.
    pub fn get(&self, name: &str) -> Option<&RowValue> {
        self.values.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// Row `i` of `data`, every column (see [`RowValue::from_array`]).
    pub fn from_dataset(data: &crate::Dataset, i: usize) -> Result<Row> {
        let batch = data.batch();
        let mut values = Vec::with_capacity(batch.num_columns());
        for (f, c) in batch.schema().fields().iter().zip(batch.columns()) {
            values.push((
                f.name().clone(),
                RowValue::from_array(c.as_ref(), f.name(), i)?,
            ));
        }
        Ok(Row { values })
    }

    /// The (name, value) pairs in the order set.
    pub fn values(&self) -> &[(String, RowValue)] {
        &self.values
    }
}

/// A fitted transformer (usually a [`PipelineModel`](crate::PipelineModel)) compiled once to
/// score rows of named values without building Arrow batches: same values as `transform`, bit
/// for bit, for every output column asked for. `Send + Sync`: share one behind an `Arc`
/// across threads.
///
/// Compile with the input schema ([`RowScorer::compile_with_schema`]) or let the stages say
/// what they read ([`RowScorer::compile`]: numbers as `Float64`, strings as `Utf8`). Every
/// input column a stage reads must be in a scored row (null is a value; an absent column is an
/// [`MlError::ColumnNotFound`], as for `transform`). A row that a stage drops
/// (`handle_invalid = "skip"`) scores as `None`.
///
/// ```
/// use std::sync::Arc;
/// use arrow::array::{ArrayRef, Float64Array};
/// use ml_core::{Dataset, Estimator, Transformer};
/// use ml_core::feature::Imputer;
/// use ml_core::row::{Row, RowScorer, RowValue};
///
/// let data = Dataset::from_columns(vec![
///     ("x", Arc::new(Float64Array::from(vec![Some(1.0), None, Some(5.0)])) as ArrayRef),
/// ]).unwrap();
/// let model = Imputer::single("x", "x_imp").fit(&data).unwrap();
/// let scorer = RowScorer::compile(&model, &["x_imp"]).unwrap();
/// let out = scorer.score(&Row::new().with("x", None::<f64>)).unwrap().unwrap();
/// assert_eq!(out, vec![RowValue::Number(3.0)]);
/// let err = scorer.score(&Row::new().with("x", "three")).unwrap_err();
/// assert!(err.to_string().contains("'x'"));
/// assert!(scorer.score(&Row::new()).is_err()); // x is missing
/// ```
#[derive(Debug)]
pub struct RowScorer {
    stages: Box<dyn RowStage>,
    num_slots: usize,
    inputs: Vec<RowInput>,
    input_index: FxHashMap<String, usize>,
    outputs: Vec<(Arc<Field>, usize)>,
    schema: Schema,
}

impl RowScorer {
    /// Compiles `model`, taking its input columns from what its stages read.
    pub fn compile(model: &dyn Transformer, outputs: &[&str]) -> Result<Self> {
        Self::build(model, RowLayout::inferred(), outputs)
    }

    /// Compiles `model` for rows of the columns of `schema` (with their types).
    pub fn compile_with_schema(
        model: &dyn Transformer,
        schema: &Schema,
        outputs: &[&str],
    ) -> Result<Self> {
        Self::build(model, RowLayout::new(schema), outputs)
    }

    fn build(model: &dyn Transformer, mut layout: RowLayout, outputs: &[&str]) -> Result<Self> {
        let stages = model.compile_row(&mut layout)?.ok_or_else(|| {
            MlError::data(format!(
                "{} has no row path; score it with transform",
                short_type_name(model)
            ))
        })?;
        let mut outs = Vec::with_capacity(outputs.len());
        for &name in outputs {
            let field = layout.field(name)?;
            let slot = layout.slot(name).ok_or_else(|| {
                MlError::data(format!(
                    "column '{name}' is not read or written by the model"
                ))
            })?;
            outs.push((field, slot));
        }
        let inputs = layout.inputs().to_vec();
        let input_index = inputs
            .iter()
            .enumerate()
            .map(|(i, inp)| (inp.name.clone(), i))
            .collect();
        Ok(RowScorer {
            stages,
            num_slots: layout.num_slots(),
            inputs,
            input_index,
            outputs: outs,
            schema: layout.schema().clone(),
        })
    }

    /// The input columns a row must give, in the order the stages first read them.
    pub fn inputs(&self) -> &[RowInput] {
        &self.inputs
    }

    /// The output fields, in the order asked for (with their metadata: slot names of a vector,
    /// category labels).
    pub fn output_fields(&self) -> impl Iterator<Item = &Field> {
        self.outputs.iter().map(|(f, _)| f.as_ref())
    }

    /// The schema `transform` would produce from the input columns.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// Scores one row: the output values in the order asked for, or `None` when a stage
    /// dropped the row.
    pub fn score(&self, row: &Row) -> Result<Option<Vec<RowValue>>> {
        self.score_at(row, 0)
    }

    /// Scores rows in order; the first error (naming the column and the row's index) fails
    /// the call, as it fails `transform`.
    pub fn score_batch(&self, rows: &[Row]) -> Result<Vec<Option<Vec<RowValue>>>> {
        rows.iter()
            .enumerate()
            .map(|(i, r)| self.score_at(r, i))
            .collect()
    }

    fn score_at(&self, row: &Row, index: usize) -> Result<Option<Vec<RowValue>>> {
        let mut slots = self.empty_slots();
        let mut seen = Seen::new(self.inputs.len());
        for (name, value) in row.values() {
            if let Some(&i) = self.input_index.get(name.as_str()) {
                seen.mark(i);
                slots[self.inputs[i].slot] = value.clone();
            }
        }
        self.check_all_given(&seen, || row.values().iter().map(|(n, _)| n.as_str()))?;
        self.run(slots, index)
    }

    /// Scores one JSON object (`{"column": value, ...}`; `index` is its position in the
    /// request, for error messages). JSON null is null, numbers are numbers, `true`/`false`
    /// are 1/0, strings are strings, arrays of numbers are vectors; anything else is an
    /// [`MlError::ColumnType`] naming the field.
    pub fn score_json(&self, object: &Value, index: usize) -> Result<Option<Vec<RowValue>>> {
        let map = object.as_object().ok_or_else(|| {
            MlError::InvalidData(format!(
                "row {index}: expected a JSON object of column values, found {}",
                json_kind(object)
            ))
        })?;
        let mut slots = self.empty_slots();
        let mut seen = Seen::new(self.inputs.len());
        for (name, v) in map {
            if let Some(&i) = self.input_index.get(name.as_str()) {
                seen.mark(i);
                let input = &self.inputs[i];
                slots[input.slot] = json_value(&input.name, input.kind, v)?;
            }
        }
        self.check_all_given(&seen, || map.keys().map(String::as_str))?;
        self.run(slots, index)
    }

    /// Scores a row whose input values are already in slot order: `values[i]` is the value of
    /// `inputs()[i]`. The fastest entry point; `values` is consumed.
    pub fn score_inputs(
        &self,
        values: Vec<RowValue>,
        index: usize,
    ) -> Result<Option<Vec<RowValue>>> {
        if values.len() != self.inputs.len() {
            return Err(MlError::data(format!(
                "{} input values for {} inputs",
                values.len(),
                self.inputs.len()
            )));
        }
        let mut slots = self.empty_slots();
        for (v, input) in values.into_iter().zip(&self.inputs) {
            slots[input.slot] = v;
        }
        self.run(slots, index)
    }

    fn empty_slots(&self) -> Vec<RowValue> {
        let mut v = Vec::with_capacity(self.num_slots);
        v.resize_with(self.num_slots, RowValue::default);
        v
    }

    fn check_all_given<'a, I: Iterator<Item = &'a str>>(
        &self,
        seen: &Seen,
        given: impl Fn() -> I,
    ) -> Result<()> {
        match seen.first_missing(self.inputs.len()) {
            None => Ok(()),
            Some(missing) => Err(MlError::ColumnNotFound {
                column: self.inputs[missing].name.clone(),
                available: given().collect::<Vec<_>>().join(", "),
            }),
        }
    }

    #[inline]
    fn run(&self, mut slots: Vec<RowValue>, index: usize) -> Result<Option<Vec<RowValue>>> {
        if self.stages.apply(&mut slots, index)? == RowStep::Skip {
            return Ok(None);
        }
        Ok(Some(
            self.outputs
                .iter()
                .map(|&(_, s)| std::mem::take(&mut slots[s]))
                .collect(),
        ))
    }
}

/// Which inputs a row gave: bits of a `u64` up to 64 inputs (so scoring a row allocates
/// nothing for it), a flag per input beyond.
struct Seen {
    bits: u64,
    many: Vec<bool>,
}

impl Seen {
    fn new(inputs: usize) -> Seen {
        Seen {
            bits: 0,
            many: vec![false; if inputs > 64 { inputs } else { 0 }],
        }
    }

    #[inline]
    fn mark(&mut self, i: usize) {
        if self.many.is_empty() {
            self.bits |= 1 << i;
        } else {
            self.many[i] = true;
        }
    }

    /// The first of `inputs` inputs not given, if any.
    fn first_missing(&self, inputs: usize) -> Option<usize> {
        if self.many.is_empty() {
            (self.bits.count_ones() as usize != inputs)
                .then(|| (0..inputs).find(|&i| self.bits & (1 << i) == 0))
                .flatten()
        } else {
            self.many.iter().position(|&s| !s)
        }
    }
}

/// A JSON value as the value of input column `name`.
fn json_value(name: &str, kind: ColumnKind, v: &Value) -> Result<RowValue> {
    Ok(match v {
        Value::Null => RowValue::Null,
        Value::Number(n) => RowValue::Number(n.as_f64().unwrap_or(f64::NAN)),
        Value::Bool(b) if kind == ColumnKind::Number => RowValue::Number(f64::from(u8::from(*b))),
        Value::String(s) => RowValue::Text(s.clone()),
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                out.push(item.as_f64().ok_or_else(|| MlError::ColumnType {
                    column: name.to_string(),
                    expected: "an array of numbers".into(),
                    found: format!("an array holding {}", json_kind(item)),
                })?);
            }
            RowValue::Vector(out)
        }
        other => {
            let expected = match kind {
                ColumnKind::Number => "a number or null",
                ColumnKind::Text => "a string or null",
                ColumnKind::Vector => "an array of numbers or null",
            };
            return Err(MlError::ColumnType {
                column: name.to_string(),
                expected: expected.into(),
                found: json_kind(other).into(),
            });
        }
    })
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn short_type_name(model: &dyn Transformer) -> String {
    format!("{model:?}")
        .split([' ', '{', '('])
        .next()
        .unwrap_or("the model")
        .to_string()
}
