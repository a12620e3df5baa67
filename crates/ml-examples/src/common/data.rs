//! Reading tables for the examples, and column parsing helpers for ETL.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, StringArray};
use arrow::datatypes::DataType;
use ml_core::Dataset;

use super::Result;

/// A column as `Float64`: numeric columns are cast; string columns are parsed by `parse`
/// (`None` = null). Errors name the column.
pub fn to_f64(
    data: &Dataset,
    column: &str,
    parse: impl Fn(&str) -> Option<f64>,
) -> Result<Float64Array> {
    let col = data.column(column)?;
    match col.data_type() {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            let strings = arrow::compute::cast(col, &DataType::Utf8)?;
            let strings: &StringArray = strings.as_string::<i32>();
            Ok(strings
                .iter()
                .map(|s| s.and_then(|s| parse(s.trim())))
                .collect())
        }
        _ => Ok(data.numeric_column(column)?),
    }
}

/// In a string column, the non-empty values `parse` cannot read: how many, and the first one's
/// row and text (`None`: every value parsed, or the column is not a string column). What
/// [`to_f64`] would turn into nulls without a word.
pub fn unparsable(
    data: &Dataset,
    column: &str,
    parse: impl Fn(&str) -> Option<f64>,
) -> Result<Option<(usize, usize, String)>> {
    let col = data.column(column)?;
    if !matches!(
        col.data_type(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    ) {
        return Ok(None);
    }
    let strings = arrow::compute::cast(col, &DataType::Utf8)?;
    let mut count = 0;
    let mut first = None;
    for (row, s) in strings.as_string::<i32>().iter().enumerate() {
        let Some(t) = s.map(str::trim).filter(|t| !t.is_empty()) else {
            continue;
        };
        if parse(t).is_none() {
            count += 1;
            first.get_or_insert_with(|| (row, t.to_string()));
        }
    }
    Ok(first.map(|(row, text)| (count, row, text)))
}

/// Parses a number, ignoring a trailing `%` and surrounding spaces ("83.70%" -> 83.7).
pub fn parse_percent(s: &str) -> Option<f64> {
    s.trim().trim_end_matches('%').trim().parse().ok()
}

/// The first number in a string ("36 months" -> 36, "10+ years" -> 10, "< 1 year" -> 0 is
/// handled by [`parse_emp_length`]).
pub fn leading_number(s: &str) -> Option<f64> {
    let digits: String = s
        .trim()
        .chars()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    digits.parse().ok()
}

/// Lending Club's emp_length: "< 1 year" -> 0, "1 year" -> 1, "10+ years" -> 10, "n/a" -> null.
pub fn parse_emp_length(s: &str) -> Option<f64> {
    let s = s.trim();
    if s.starts_with('<') {
        return Some(0.0);
    }
    leading_number(s)
}

/// A `Float64` column as an `ArrayRef`.
pub fn f64_array(values: Float64Array) -> ArrayRef {
    Arc::new(values)
}

/// The values of a Utf8 column (cast from any string type), nulls as `None`.
pub fn strings(data: &Dataset, column: &str) -> Result<Vec<Option<String>>> {
    let col = data.column(column)?;
    let cast = arrow::compute::cast(col, &DataType::Utf8)?;
    let s = cast.as_string::<i32>();
    Ok((0..s.len())
        .map(|i| (!s.is_null(i)).then(|| s.value(i).to_string()))
        .collect())
}
