//! [`RowLayout`]: the compile-time map from column names to the slots of a row, and the
//! schema the stages validate against.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema};

use crate::dataset::{column_not_found, field_of, is_numeric, type_error};
use crate::error::{MlError, Result};
use crate::hash::FxHashMap;
use crate::traits::Transformer;

/// What a stage reads from an input column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// A number (any Arrow numeric or boolean type).
    Number,
    /// A string (`Utf8`).
    Text,
    /// A feature vector (`FixedSizeList<Float64>`).
    Vector,
}

/// An input column of the compiled row path: a value the caller gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowInput {
    /// The column name.
    pub name: String,
    /// What the stages read from it.
    pub kind: ColumnKind,
    /// Its slot in the row.
    pub slot: usize,
}

/// The layout of a row while a pipeline is compiled: which slot holds which column, the schema
/// the stages have produced so far (so each stage checks its columns with its own
/// `transform_schema`, exactly as `transform` does), and the input columns the stages read.
///
/// Built from a known input schema ([`RowLayout::new`]), or inferred ([`RowLayout::inferred`]):
/// then a column a stage reads that no earlier stage wrote becomes an input of the type the
/// stage reads (`Float64` for numbers, `Utf8` for strings; vectors cannot be inferred, their
/// width is unknown).
///
/// ```
/// use arrow::datatypes::{DataType, Field, Schema};
/// use ml_core::row::{ColumnKind, RowLayout};
///
/// let mut layout = RowLayout::new(&Schema::new(vec![Field::new("x", DataType::Int64, true)]));
/// assert_eq!(layout.input("x", ColumnKind::Number).unwrap(), 0);
/// assert!(layout.input("x", ColumnKind::Text).is_err());
/// assert!(layout.input("y", ColumnKind::Number).is_err());
/// let mut inferred = RowLayout::inferred();
/// assert_eq!(inferred.input("y", ColumnKind::Text).unwrap(), 0);
/// assert_eq!(inferred.schema().field(0).data_type(), &DataType::Utf8);
/// ```
#[derive(Debug, Clone)]
pub struct RowLayout {
    schema: Schema,
    slots: FxHashMap<String, usize>,
    num_slots: usize,
    inputs: Vec<RowInput>,
    infer: bool,
}

impl RowLayout {
    /// A layout over a known input schema: stages may read only its columns (and those earlier
    /// stages write), with the types it gives.
    pub fn new(schema: &Schema) -> Self {
        RowLayout {
            schema: schema.clone(),
            slots: FxHashMap::default(),
            num_slots: 0,
            inputs: Vec::new(),
            infer: false,
        }
    }

    /// A layout that learns its input columns from what the stages read.
    pub fn inferred() -> Self {
        RowLayout {
            infer: true,
            ..RowLayout::new(&Schema::empty())
        }
    }

    /// The schema so far: the inputs, then every compiled stage's outputs.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// A field of the schema so far.
    pub fn field(&self, name: &str) -> Result<Arc<Field>> {
        field_of(&self.schema, name)
    }

    /// The input columns read so far, in the order first read.
    pub fn inputs(&self) -> &[RowInput] {
        &self.inputs
    }

    /// Number of slots a row needs.
    pub fn num_slots(&self) -> usize {
        self.num_slots
    }

    /// The slot of a column already in the layout (an input read or an output written).
    pub fn slot(&self, name: &str) -> Option<usize> {
        self.slots.get(name).copied()
    }

    /// The slot a stage reads `name` from, checking the column's type against `kind` (an
    /// [`MlError::ColumnType`] naming it otherwise). A column of the input schema (or, when
    /// inferring, a new one) becomes an input of the row the first time a stage reads it.
    pub fn input(&mut self, name: &str, kind: ColumnKind) -> Result<usize> {
        if self.schema.index_of(name).is_err() {
            if !self.infer {
                return Err(column_not_found(&self.schema, name));
            }
            let dt = match kind {
                ColumnKind::Number => DataType::Float64,
                ColumnKind::Text => DataType::Utf8,
                ColumnKind::Vector => {
                    return Err(MlError::param(
                        name,
                        "a vector input column cannot be inferred (its width is unknown); \
                         compile with the input schema",
                    ))
                }
            };
            let mut fields: Vec<Arc<Field>> = self.schema.fields().iter().cloned().collect();
            fields.push(Arc::new(Field::new(name, dt, true)));
            self.schema = Schema::new_with_metadata(fields, self.schema.metadata().clone());
        }
        let field = self.field(name)?;
        let dt = field.data_type();
        let ok = match kind {
            ColumnKind::Number => is_numeric(dt),
            ColumnKind::Text => matches!(dt, DataType::Utf8 | DataType::LargeUtf8),
            ColumnKind::Vector => {
                matches!(dt, DataType::FixedSizeList(item, _) if item.data_type() == &DataType::Float64)
            }
        };
        if !ok {
            let expected = match kind {
                ColumnKind::Number => "a numeric type",
                ColumnKind::Text => "a string type (the row path reads strings as given)",
                ColumnKind::Vector => "FixedSizeList<Float64>",
            };
            return Err(type_error(name, expected, dt));
        }
        if let Some(&s) = self.slots.get(name) {
            return Ok(s);
        }
        let slot = self.new_slot(name);
        self.inputs.push(RowInput {
            name: name.to_string(),
            kind,
            slot,
        });
        Ok(slot)
    }

    /// Advances the schema through `stage`'s `transform_schema`: the same checks of columns
    /// and types `transform` makes, and the output fields (with their metadata) that later
    /// stages read. Call it after declaring the stage's inputs and before its outputs.
    pub fn advance(&mut self, stage: &dyn Transformer) -> Result<()> {
        self.schema = stage.transform_schema(&self.schema)?;
        Ok(())
    }

    /// A new slot for an output column the stage writes; the column must be in the schema
    /// (call [`RowLayout::advance`] first) and not written before.
    pub fn output(&mut self, name: &str) -> Result<usize> {
        self.field(name)?;
        if self.slots.contains_key(name) {
            return Err(MlError::ColumnExists {
                column: name.to_string(),
            });
        }
        Ok(self.new_slot(name))
    }

    /// The slots of a stage that maps input columns to output columns one to one
    /// (`columns`: `(input, output)` names, inputs of `kind`): declares the inputs, advances
    /// through `stage`, declares the outputs; returns `(input slot, output slot)` per pair.
    pub fn column_pairs(
        &mut self,
        stage: &dyn Transformer,
        columns: &[(String, String)],
        kind: ColumnKind,
    ) -> Result<Vec<(usize, usize)>> {
        let inputs = columns
            .iter()
            .map(|(i, _)| self.input(i, kind))
            .collect::<Result<Vec<_>>>()?;
        self.advance(stage)?;
        columns
            .iter()
            .zip(inputs)
            .map(|((_, o), input)| Ok((input, self.output(o)?)))
            .collect()
    }

    fn new_slot(&mut self, name: &str) -> usize {
        let slot = self.num_slots;
        self.slots.insert(name.to_string(), slot);
        self.num_slots += 1;
        slot
    }
}
