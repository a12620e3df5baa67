//! [`RowValue`]: one value of a row being scored, and the typed accessors stages read it with.

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Float64Type};

use crate::dataset::{is_numeric, type_error};
use crate::error::{MlError, Result};

/// One value of a row: what a column holds for that row.
///
/// A missing value is [`RowValue::Null`] (as an Arrow null); numbers of every Arrow numeric
/// type are `f64` (as `transform` casts them); a feature vector is a `Vec<f64>`.
///
/// ```
/// use ml_core::row::RowValue;
/// assert_eq!(RowValue::from(2.5), RowValue::Number(2.5));
/// assert_eq!(RowValue::from("RENT"), RowValue::Text("RENT".into()));
/// assert_eq!(RowValue::from(None::<f64>), RowValue::Null);
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub enum RowValue {
    /// A missing value (an Arrow null).
    #[default]
    Null,
    /// A number (integer, float or boolean column, as `f64`).
    Number(f64),
    /// A string.
    Text(String),
    /// A feature vector (`FixedSizeList<Float64>`).
    Vector(Vec<f64>),
}

impl From<f64> for RowValue {
    fn from(v: f64) -> Self {
        RowValue::Number(v)
    }
}

impl From<&str> for RowValue {
    fn from(v: &str) -> Self {
        RowValue::Text(v.to_string())
    }
}

impl From<String> for RowValue {
    fn from(v: String) -> Self {
        RowValue::Text(v)
    }
}

impl From<Vec<f64>> for RowValue {
    fn from(v: Vec<f64>) -> Self {
        RowValue::Vector(v)
    }
}

impl<T: Into<RowValue>> From<Option<T>> for RowValue {
    fn from(v: Option<T>) -> Self {
        v.map_or(RowValue::Null, Into::into)
    }
}

impl RowValue {
    /// What kind of value this is, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            RowValue::Null => "null",
            RowValue::Number(_) => "a number",
            RowValue::Text(_) => "a string",
            RowValue::Vector(_) => "a vector",
        }
    }

    /// The number, `None` for null; any other kind is an [`MlError::ColumnType`] naming
    /// `column`.
    #[inline]
    pub fn number(&self, column: &str) -> Result<Option<f64>> {
        match self {
            RowValue::Number(v) => Ok(Some(*v)),
            RowValue::Null => Ok(None),
            other => Err(wrong_kind(column, "a number", other)),
        }
    }

    /// The string, `None` for null; any other kind is an [`MlError::ColumnType`] naming
    /// `column`.
    #[inline]
    pub fn text(&self, column: &str) -> Result<Option<&str>> {
        match self {
            RowValue::Text(s) => Ok(Some(s)),
            RowValue::Null => Ok(None),
            other => Err(wrong_kind(column, "a string", other)),
        }
    }

    /// The vector, `None` for null; another kind, or a vector of another width than `width`,
    /// is an [`MlError::ColumnType`] naming `column`.
    #[inline]
    pub fn vector(&self, column: &str, width: usize) -> Result<Option<&[f64]>> {
        match self {
            RowValue::Vector(v) if v.len() == width => Ok(Some(v)),
            RowValue::Vector(v) => Err(MlError::ColumnType {
                column: column.to_string(),
                expected: format!("a vector of {width} numbers"),
                found: format!("a vector of {}", v.len()),
            }),
            RowValue::Null => Ok(None),
            other => Err(wrong_kind(column, "a vector of numbers", other)),
        }
    }

    /// Sets this value to a vector of `width` zeros, reusing its buffer when it already holds
    /// one, and returns the vector to fill.
    #[inline]
    pub fn zeroed_vector(&mut self, width: usize) -> &mut Vec<f64> {
        if !matches!(self, RowValue::Vector(_)) {
            *self = RowValue::Vector(Vec::with_capacity(width));
        }
        match self {
            RowValue::Vector(v) => {
                v.clear();
                v.resize(width, 0.0);
                v
            }
            _ => unreachable!("set to a vector just above"),
        }
    }
}

impl RowValue {
    /// The value at row `i` of an Arrow array, as the row path holds it: numbers (any numeric
    /// or boolean type, cast to `f64` as `transform` casts them) as [`RowValue::Number`],
    /// strings as [`RowValue::Text`], `FixedSizeList<Float64>` as [`RowValue::Vector`], nulls
    /// as [`RowValue::Null`]. Other types are an [`MlError::ColumnType`] naming `column`.
    pub fn from_array(array: &dyn Array, column: &str, i: usize) -> Result<RowValue> {
        if i >= array.len() {
            return Err(MlError::data(format!(
                "column '{column}' has {} rows, no row {i}",
                array.len()
            )));
        }
        if array.is_null(i) {
            return Ok(RowValue::Null);
        }
        Ok(match array.data_type() {
            DataType::Utf8 => RowValue::Text(array.as_string::<i32>().value(i).to_string()),
            DataType::LargeUtf8 => RowValue::Text(array.as_string::<i64>().value(i).to_string()),
            DataType::FixedSizeList(item, _) if item.data_type() == &DataType::Float64 => {
                let v = array.as_fixed_size_list().value(i);
                RowValue::Vector(v.as_primitive::<Float64Type>().values().to_vec())
            }
            DataType::Float64 => RowValue::Number(array.as_primitive::<Float64Type>().value(i)),
            dt if is_numeric(dt) => {
                let c = arrow::compute::cast(&array.slice(i, 1), &DataType::Float64)?;
                RowValue::Number(c.as_primitive::<Float64Type>().value(0))
            }
            dt => return Err(type_error(column, "a number, string or vector", dt)),
        })
    }
}

/// The error for a value of the wrong kind: as a column of the wrong type in `transform`.
pub(crate) fn wrong_kind(column: &str, expected: &str, found: &RowValue) -> MlError {
    MlError::ColumnType {
        column: column.to_string(),
        expected: expected.to_string(),
        found: found.kind().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accessors_name_the_column_on_a_wrong_kind() {
        let e = RowValue::from("x").number("income").unwrap_err();
        assert!(matches!(&e, MlError::ColumnType { column, .. } if column == "income"));
        assert_eq!(RowValue::Null.text("c").unwrap(), None);
        let e = RowValue::from(vec![1.0]).vector("v", 2).unwrap_err();
        assert!(e.to_string().contains("'v'"), "{e}");
        let mut v = RowValue::Null;
        v.zeroed_vector(3)[1] = 4.0;
        assert_eq!(v, RowValue::Vector(vec![0.0, 4.0, 0.0]));
    }
}
