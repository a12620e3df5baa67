//! [`VectorAssembler`]: numeric and vector columns into one feature vector.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, FixedSizeListArray, Float64Array};
use arrow::datatypes::{DataType, Field, Float64Type, Schema};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{append_fields, filter_rows, HandleInvalid};
use crate::attributes::{attribute_of, vector_attributes, with_vector_attributes, Attribute};
use crate::dataset::Dataset;
use crate::dataset::{
    category_count, check_category_code, column_to_f64, NullPolicy, MAX_CATEGORY_CODE,
};
use crate::dataset::{field_of, is_numeric, type_error, vector_column_from_vec, vector_type};
use crate::error::{MlError, Result};
use crate::params::Params;
use crate::row::{ColumnKind, RowLayout, RowStage, RowStep, RowValue};
use crate::traits::Transformer;

/// Concatenates numeric columns and vector columns into one vector column, as Spark MLlib's
/// `VectorAssembler`.
///
/// Inputs are numeric scalars (any integer, float, boolean or decimal type, cast to `Float64`)
/// and vector columns (`FixedSizeList<Float64>`), in the order given. The output field carries
/// one [`Attribute`] per slot: a scalar input's own attribute (so a
/// [`StringIndexer`](super::StringIndexer) output stays [`Attribute::Nominal`] in its slot and
/// tree learners can split it on category subsets) or a numeric one named after the column;
/// a vector input's per-slot attributes, or numeric ones named `<column>_<i>`.
///
/// `handle_invalid` governs nulls and NaN in scalar inputs and null vectors: `error` (default;
/// an error naming column and row), `skip` (drop the row) or `keep` (null becomes NaN, NaN
/// stays). NaN inside a vector input is passed through, as Spark does.
///
/// `categorical_cols` names scalar inputs that hold integer category codes (0, 1, 2, ...; null
/// or NaN = missing): their slots are marked [`Attribute::Nominal`] with the number of
/// categories = largest code + 1 over the rows transformed (before any `skip`), so tree
/// learners split them on category subsets. Codes are checked first, before anything is
/// allocated: a negative, fractional or too large code is an error naming column and row
/// ([`category_count`]). `transform_schema` cannot see the data, so there the slot is nominal
/// with `num_values` 0 (unknown). A stream of batches needs the same slots in every batch:
/// `category_counts` fixes the number of categories of each categorical column (counted over
/// the whole source first with [`crate::stream::category_counts`]); `transform_schema` then
/// gives them too, and a code at or above its column's count is an error naming the row.
///
/// ```
/// use std::sync::Arc;
/// use arrow::array::{ArrayRef, Float64Array, Int64Array};
/// use ml_core::{Dataset, Transformer};
/// use ml_core::feature::VectorAssembler;
///
/// let data = Dataset::from_columns(vec![
///     ("a", Arc::new(Float64Array::from(vec![1.0, 2.0])) as ArrayRef),
///     ("b", Arc::new(Int64Array::from(vec![10, 20])) as ArrayRef),
/// ]).unwrap();
/// let out = VectorAssembler::new(&["a", "b"], "features").transform(&data).unwrap();
/// let m = out.features("features").unwrap();
/// assert_eq!(m.as_slice().unwrap(), &[1.0, 10.0, 2.0, 20.0]);
///
/// // Integer-coded columns marked nominal: 'b' becomes a categorical slot with 21 categories.
/// use ml_core::attributes::{categorical_slots, Attribute};
/// let out = VectorAssembler::new(&["a", "b"], "features")
///     .with_categorical_cols(&["b"])
///     .transform(&data)
///     .unwrap();
/// assert_eq!(categorical_slots(&out.field("features").unwrap()), vec![(1, 21)]);
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VectorAssembler {
    /// Input columns (numeric scalars or vectors), in slot order.
    pub input_cols: Vec<String>,
    /// Output vector column (default `features`).
    pub output_col: String,
    /// `error` (default), `skip` or `keep`.
    pub handle_invalid: HandleInvalid,
    /// Inputs holding integer category codes, marked nominal (default none).
    #[serde(default)]
    pub categorical_cols: Vec<String>,
    /// The number of categories of each of `categorical_cols` (same order), when known in
    /// advance; empty (default) = counted over the rows of each `transform` call. Set it with
    /// [`VectorAssembler::with_category_counts`] (it is not a named parameter).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub category_counts: Vec<usize>,
}

impl Default for VectorAssembler {
    fn default() -> Self {
        VectorAssembler {
            input_cols: Vec::new(),
            output_col: "features".into(),
            handle_invalid: HandleInvalid::Error,
            categorical_cols: Vec::new(),
            category_counts: Vec::new(),
        }
    }
}

crate::impl_params!(VectorAssembler {
    input_cols: "Input columns: numeric scalars or vectors, in slot order.",
    output_col: "Output vector column (default 'features').",
    handle_invalid: "Nulls and NaN: 'error' (default), 'skip' (drop the row) or 'keep' (NaN).",
    categorical_cols:
        "Scalar inputs holding integer category codes, marked nominal (max code + 1 categories).",
});

/// What one input contributes.
enum Part {
    Scalar,
    Vector(usize),
}

impl VectorAssembler {
    /// An assembler with Spark's defaults.
    pub fn new(input_cols: &[&str], output_col: &str) -> Self {
        VectorAssembler {
            input_cols: input_cols.iter().map(|s| s.to_string()).collect(),
            output_col: output_col.into(),
            ..Default::default()
        }
    }

    /// Sets `handle_invalid` (`error`, `skip`, `keep`).
    pub fn with_handle_invalid(mut self, value: HandleInvalid) -> Self {
        self.handle_invalid = value;
        self
    }

    /// Sets `categorical_cols`: scalar inputs holding integer category codes, whose slots are
    /// marked nominal with largest code + 1 categories (see the type's docs).
    pub fn with_categorical_cols(mut self, cols: &[&str]) -> Self {
        self.categorical_cols = cols.iter().map(|s| s.to_string()).collect();
        self
    }

    /// Fixes the number of categories of each of `categorical_cols` (same order) instead of
    /// counting them per `transform` call, so that every batch of a stream gets the same
    /// slots; [`crate::stream::category_counts`] counts them over a source.
    pub fn with_category_counts(mut self, counts: &[usize]) -> Self {
        self.category_counts = counts.to_vec();
        self
    }

    /// The fixed number of categories of categorical input `c`, when `category_counts` is set.
    fn fixed_count(&self, c: &str) -> Option<usize> {
        let i = self.categorical_cols.iter().position(|x| x == c)?;
        self.category_counts.get(i).copied()
    }

    /// Checks the inputs; returns each input's kind and the per-slot attributes.
    fn layout(&self, schema: &Schema) -> Result<(Vec<Part>, Vec<Attribute>)> {
        self.validate()?;
        if self.input_cols.is_empty() {
            return Err(MlError::param("input_cols", "must not be empty"));
        }
        for c in &self.categorical_cols {
            if !self.input_cols.contains(c) {
                return Err(MlError::param(
                    "categorical_cols",
                    format!("column '{c}' is not one of input_cols"),
                ));
            }
        }
        if !self.category_counts.is_empty()
            && self.category_counts.len() != self.categorical_cols.len()
        {
            return Err(MlError::param(
                "category_counts",
                format!(
                    "has {} counts for {} categorical_cols; give one per column, in order",
                    self.category_counts.len(),
                    self.categorical_cols.len()
                ),
            ));
        }
        let mut parts = Vec::with_capacity(self.input_cols.len());
        let mut attrs = Vec::new();
        for c in &self.input_cols {
            let f = field_of(schema, c)?;
            match f.data_type() {
                DataType::FixedSizeList(item, w) if item.data_type() == &DataType::Float64 => {
                    let w = *w as usize;
                    let given = vector_attributes(&f).filter(|a| a.len() == w);
                    for i in 0..w {
                        let a = given.as_ref().map(|g| g[i].clone());
                        attrs.push(match a {
                            Some(a) if a.name().is_some() => a,
                            Some(a) => a.renamed(format!("{c}_{i}")),
                            None => Attribute::numeric(format!("{c}_{i}")),
                        });
                    }
                    if self.categorical_cols.contains(c) {
                        return Err(MlError::param(
                            "categorical_cols",
                            format!(
                                "column '{c}' is a vector; only scalar columns hold category codes"
                            ),
                        ));
                    }
                    parts.push(Part::Vector(w));
                }
                dt if is_numeric(dt) => {
                    attrs.push(if self.categorical_cols.contains(c) {
                        // The number of categories is fixed, or comes from the data
                        // (`transform`).
                        Attribute::Nominal {
                            name: Some(c.clone()),
                            num_values: self.fixed_count(c).unwrap_or(0),
                            values: None,
                        }
                    } else {
                        match attribute_of(&f) {
                            Some(a) => a.renamed(c.as_str()),
                            None => Attribute::numeric(c.as_str()),
                        }
                    });
                    parts.push(Part::Scalar);
                }
                dt => {
                    return Err(type_error(
                        c,
                        "a numeric type or a vector (FixedSizeList<Float64>)",
                        dt,
                    ))
                }
            }
        }
        Ok((parts, attrs))
    }
}

/// The error for category code `v` of row `row` at or above its column's fixed count.
fn code_beyond(col: &str, row: usize, v: f64, fixed: usize) -> MlError {
    MlError::value(
        col,
        row,
        format!(
            "category code {v} is not below the {fixed} categories set in category_counts; \
             count the categories over all the data (stream::category_counts)"
        ),
    )
}

fn invalid(col: &str, row: usize, what: &str) -> MlError {
    MlError::value(
        col,
        row,
        format!(
            "VectorAssembler: encountered {what} with handle_invalid = 'error'; remove it or set \
             handle_invalid to 'skip' or 'keep'"
        ),
    )
}

#[typetag::serde(name = "VectorAssembler")]
impl Transformer for VectorAssembler {
    fn transform(&self, data: &Dataset) -> Result<Dataset> {
        let schema = data.schema();
        let (parts, mut attrs) = self.layout(&schema)?;
        // Category codes are checked, and counted, before anything is allocated.
        let mut slot = 0;
        for (c, part) in self.input_cols.iter().zip(&parts) {
            match part {
                Part::Scalar => {
                    if self.categorical_cols.contains(c) {
                        let codes = column_to_f64(data, c, NullPolicy::Keep)?;
                        let counted = category_count(c, &codes)?;
                        match self.fixed_count(c) {
                            Some(fixed) if counted > fixed => {
                                let row = codes
                                    .values()
                                    .iter()
                                    .position(|&v| v >= fixed as f64)
                                    .unwrap_or(0);
                                return Err(code_beyond(c, row, codes.value(row), fixed));
                            }
                            Some(_) => {}
                            None => {
                                if let Attribute::Nominal { num_values, .. } = &mut attrs[slot] {
                                    *num_values = counted;
                                }
                            }
                        }
                    }
                    slot += 1;
                }
                Part::Vector(w) => slot += w,
            }
        }
        let field = with_vector_attributes(
            Field::new(&self.output_col, vector_type(attrs.len()), true),
            &attrs,
        );
        let out_schema = append_fields(&schema, vec![field])?;
        let width = attrs.len();
        let n = data.num_rows();
        let mode = self.handle_invalid;
        let mut keep_rows: Option<Vec<bool>> = (mode == HandleInvalid::Skip).then(|| vec![true; n]);
        let mut out = vec![0.0f64; n * width];
        // Scalar columns are checked here, in input order, and written together below.
        let mut scalars: Vec<(usize, Float64Array)> = Vec::new();
        let mut offset = 0;
        for (c, part) in self.input_cols.iter().zip(&parts) {
            match part {
                Part::Scalar => {
                    let arr = column_to_f64(data, c, NullPolicy::Keep)?;
                    if mode != HandleInvalid::Keep {
                        let has_nulls = arr.null_count() > 0;
                        for (row, &v) in arr.values().iter().enumerate() {
                            let null = has_nulls && arr.is_null(row);
                            if null || v.is_nan() {
                                match keep_rows.as_mut() {
                                    Some(k) => k[row] = false,
                                    None => {
                                        return Err(invalid(
                                            c,
                                            row,
                                            if null { "null" } else { "NaN" },
                                        ))
                                    }
                                }
                            }
                        }
                    }
                    scalars.push((offset, arr));
                    offset += 1;
                }
                Part::Vector(w) => {
                    let w = *w;
                    let col = data.column(c)?;
                    let list: &FixedSizeListArray = col.as_fixed_size_list();
                    let child = list.values().as_primitive::<Float64Type>();
                    let start = list.offset() * w;
                    let child_vals = &child.values()[start..start + n * w];
                    let child_nulls = child.null_count() > 0;
                    let has_nulls = list.null_count() > 0;
                    for row in 0..n {
                        let dst = &mut out[row * width + offset..row * width + offset + w];
                        if has_nulls && list.is_null(row) {
                            match mode {
                                HandleInvalid::Keep => {}
                                HandleInvalid::Skip => {
                                    if let Some(k) = keep_rows.as_mut() {
                                        k[row] = false;
                                    }
                                }
                                _ => return Err(invalid(c, row, "a null vector")),
                            }
                            dst.fill(f64::NAN);
                            continue;
                        }
                        dst.copy_from_slice(&child_vals[row * w..row * w + w]);
                        if child_nulls {
                            for (j, d) in dst.iter_mut().enumerate() {
                                if child.is_null(start + row * w + j) {
                                    *d = f64::NAN;
                                }
                            }
                        }
                    }
                    offset += w;
                }
            }
        }
        write_scalars(&mut out, width, &scalars);
        let mut columns = data.batch().columns().to_vec();
        columns.push(vector_column_from_vec(out, n, width) as ArrayRef);
        let ds = Dataset::new(arrow::record_batch::RecordBatch::try_new(
            Arc::new(out_schema),
            columns,
        )?);
        match keep_rows {
            Some(k) => filter_rows(ds, k),
            None => Ok(ds),
        }
    }

    fn compile_row(&self, layout: &mut RowLayout) -> Result<Option<Box<dyn RowStage>>> {
        // Vector inputs must be in the schema already (their width is not inferred).
        let mut slots = Vec::with_capacity(self.input_cols.len());
        for c in &self.input_cols {
            let is_vector = layout
                .field(c)
                .is_ok_and(|f| matches!(f.data_type(), DataType::FixedSizeList(..)));
            let kind = if is_vector {
                ColumnKind::Vector
            } else {
                ColumnKind::Number
            };
            slots.push(layout.input(c, kind)?);
        }
        let (parts, attrs) = self.layout(layout.schema())?;
        layout.advance(self)?;
        let inputs = self
            .input_cols
            .iter()
            .zip(parts)
            .zip(slots)
            .map(|((c, part), slot)| AssemblerInput {
                name: c.clone(),
                slot,
                width: match part {
                    Part::Scalar => None,
                    Part::Vector(w) => Some(w),
                },
                categorical: self.categorical_cols.contains(c),
                fixed_count: self.fixed_count(c),
            })
            .collect();
        Ok(Some(Box::new(AssemblerRow {
            inputs,
            output: layout.output(&self.output_col)?,
            width: attrs.len(),
            mode: self.handle_invalid,
        })))
    }

    fn transform_schema(&self, schema: &Schema) -> Result<Schema> {
        let (_, attrs) = self.layout(schema)?;
        let field = with_vector_attributes(
            Field::new(&self.output_col, vector_type(attrs.len()), true),
            &attrs,
        );
        append_fields(schema, vec![field])
    }
}

/// Rows written together by [`write_scalars`]: a tile of the output stays in cache while every
/// scalar column writes its slot of it.
const SCALAR_TILE: usize = 256;
/// Tiles written by one parallel task of [`write_scalars`].
const SCALAR_TILES_PER_TASK: usize = 16;

/// Writes each `(slot, column)` of `scalars` into slot `slot` of every row of the row-major
/// `out` (`width` values per row), null as NaN: in tiles of rows, in parallel over blocks of
/// tiles (each value is written once, so the result does not depend on the threads).
fn write_scalars(out: &mut [f64], width: usize, scalars: &[(usize, Float64Array)]) {
    if width == 0 || scalars.is_empty() {
        return;
    }
    out.par_chunks_mut(SCALAR_TILES_PER_TASK * SCALAR_TILE * width)
        .enumerate()
        .for_each(|(b, block)| {
            for (t, tile) in block.chunks_mut(SCALAR_TILE * width).enumerate() {
                let r0 = (b * SCALAR_TILES_PER_TASK + t) * SCALAR_TILE;
                for (slot, arr) in scalars {
                    let rows = tile.chunks_exact_mut(width).zip(&arr.values()[r0..]);
                    if arr.null_count() == 0 {
                        rows.for_each(|(row, &v)| row[*slot] = v);
                    } else {
                        for (i, (row, &v)) in rows.enumerate() {
                            row[*slot] = if arr.is_null(r0 + i) { f64::NAN } else { v };
                        }
                    }
                }
            }
        });
}

/// One input of [`AssemblerRow`]: a scalar (`width` `None`) or a vector.
#[derive(Debug)]
struct AssemblerInput {
    name: String,
    slot: usize,
    width: Option<usize>,
    categorical: bool,
    /// The fixed number of categories (`category_counts`), when set.
    fixed_count: Option<usize>,
}

/// [`VectorAssembler`] compiled for one row.
#[derive(Debug)]
struct AssemblerRow {
    inputs: Vec<AssemblerInput>,
    output: usize,
    width: usize,
    mode: HandleInvalid,
}

impl RowStage for AssemblerRow {
    fn apply(&self, row: &mut [RowValue], index: usize) -> Result<RowStep> {
        // As `transform`: category codes are checked before anything else.
        let limit = MAX_CATEGORY_CODE.max(2.0);
        for inp in self.inputs.iter().filter(|i| i.categorical) {
            if let Some(v) = row[inp.slot].number(&inp.name)?.filter(|v| !v.is_nan()) {
                check_category_code(&inp.name, index, v, limit)?;
                if let Some(fixed) = inp.fixed_count.filter(|&f| v >= f as f64) {
                    return Err(code_beyond(&inp.name, index, v, fixed));
                }
            }
        }
        let mut out = std::mem::take(&mut row[self.output]);
        let values = out.zeroed_vector(self.width);
        let mut step = RowStep::Keep;
        let mut offset = 0;
        for inp in &self.inputs {
            match inp.width {
                None => {
                    let v = row[inp.slot].number(&inp.name)?;
                    let x = v.unwrap_or(f64::NAN);
                    if x.is_nan() {
                        match self.mode {
                            HandleInvalid::Keep => {}
                            HandleInvalid::Skip => step = RowStep::Skip,
                            _ => {
                                let what = if v.is_none() { "null" } else { "NaN" };
                                return Err(invalid(&inp.name, index, what));
                            }
                        }
                    }
                    values[offset] = x;
                    offset += 1;
                }
                Some(w) => {
                    let dst = &mut values[offset..offset + w];
                    match row[inp.slot].vector(&inp.name, w)? {
                        Some(v) => dst.copy_from_slice(v),
                        None => {
                            match self.mode {
                                HandleInvalid::Keep => {}
                                HandleInvalid::Skip => step = RowStep::Skip,
                                _ => return Err(invalid(&inp.name, index, "a null vector")),
                            }
                            dst.fill(f64::NAN);
                        }
                    }
                    offset += w;
                }
            }
        }
        row[self.output] = out;
        Ok(step)
    }
}
