//! CSV and Parquet reading and writing.
//!
//! * CSV: [`read_csv`] reads a whole file into a [`Dataset`](crate::Dataset), [`csv_batches`]
//!   streams it in record batches (files larger than memory), [`infer_csv_schema`] only infers
//!   the schema. Types are inferred from the first [`CsvReadOptions::infer_rows`] rows (or the
//!   whole file): `Int64`, `Float64` (an integer column widens to `Float64` when a float
//!   appears), `Boolean` (`true`/`false`, any case), otherwise `Utf8`; dates stay strings.
//!   `""`, `NA` and `null` are nulls by default. Quoted fields may hold delimiters, newlines and
//!   doubled quotes (RFC 4180). Without a header the columns are named `_c0, _c1, ...` as Spark
//!   names them. [`write_csv`] writes a header, quotes where needed, and leaves nulls empty.
//!   Sizes are bounded: a field longer than [`CsvReadOptions::max_field_bytes`] (1 MiB) or a
//!   record longer than [`CsvReadOptions::max_record_bytes`] (16 MiB; refused while it is
//!   read, so a file without line breaks is not loaded whole) is an error naming the line.
//! * Parquet: [`read_parquet`] reads a file or a directory of part files as Spark writes it
//!   (`_SUCCESS`, `.crc` and hidden files are ignored; hive `key=value` folders become
//!   columns; a column name that occurs twice is an error naming it), [`parquet_batches`]
//!   streams it, [`write_parquet`] writes a Snappy-compressed file.
//!   Field metadata (ML attributes) survives a round trip.
//!
//! * Any table: [`read_table`] picks the reader by the path (`.csv`, `.parquet`, a directory
//!   of part files). Every reader can project columns ([`ReadOptions::columns`],
//!   [`ParquetReadOptions::columns`], [`CsvReadOptions::columns`]): only those are decoded, in
//!   the order asked for, and a column the file lacks is an
//!   [`MlError::ColumnNotInFile`](crate::MlError::ColumnNotInFile) naming file and column.
//!
//! Every write goes to a temporary file in the target directory that is renamed into place, so
//! a crash or a full disk never leaves a half-written file; only a regular file (or nothing) is
//! replaced: a directory, FIFO or device as the output path is an error, and a symbolic link is
//! followed to the regular file it names (a dangling link is refused). Several outputs of one
//! command go through [`OutputFiles`]: all are written before any is renamed into place, so a
//! failure leaves every target as it was; [`check_output_path`] checks a path before the work
//! whose result it takes. Every error names the file, and for CSV the line and column at fault.
//!
//! ```
//! use ml_core::io::{read_csv, read_parquet, write_parquet, CsvReadOptions};
//! use arrow::array::Array;
//! use arrow::datatypes::DataType;
//!
//! let dir = tempfile::tempdir().unwrap();
//! let csv = dir.path().join("people.csv");
//! std::fs::write(&csv, "name,age,score,member\n\"Doe, Jane\",41,3.5,true\nBob,NA,4,false\n").unwrap();
//!
//! let ds = read_csv(&csv, &CsvReadOptions::default()).unwrap();
//! let schema = ds.schema();
//! assert_eq!(schema.field(0).data_type(), &DataType::Utf8);
//! assert_eq!(schema.field(1).data_type(), &DataType::Int64);
//! assert_eq!(schema.field(2).data_type(), &DataType::Float64); // 3.5 widens the column
//! assert_eq!(schema.field(3).data_type(), &DataType::Boolean);
//! assert_eq!(ds.string_column("name").unwrap().value(0), "Doe, Jane");
//! assert!(ds.i64_column("age").unwrap().is_null(1));
//!
//! let pq = dir.path().join("people.parquet");
//! write_parquet(&ds, &pq).unwrap();
//! let back = read_parquet(&pq).unwrap();
//! assert_eq!(back.batch(), ds.batch());
//!
//! // A value that does not fit the inferred type is an error naming file, line and column.
//! std::fs::write(&csv, "id\n1\n2\nabc\n").unwrap();
//! let err = read_csv(&csv, &CsvReadOptions::default().infer_rows(Some(2))).unwrap_err();
//! assert!(err.to_string().contains("line 4") && err.to_string().contains("'id'"));
//! ```

mod atomic;
mod csv_guard;
// The AVX-512 delimiter search is the crate's only unsafe code (see its SAFETY comments).
#[allow(unsafe_code)]
mod csv_plain;
mod csv_read;
mod csv_write;
mod parquet_check;
mod parquet_encode;
mod parquet_io;
mod table;

pub use atomic::{check_output_path, OutputFiles};
pub(crate) use atomic::{kind_of, write_file_atomic, write_file_atomic_with_sync};
#[cfg(test)]
pub(crate) use atomic::{tests::FailAfter, write_file_atomic_via};
pub(crate) use csv_read::csv_batches_inferred;
pub use csv_read::{
    csv_batches, infer_csv_schema, read_csv, CsvBatches, CsvReadOptions, DEFAULT_MAX_FIELD_BYTES,
    DEFAULT_MAX_RECORD_BYTES,
};
pub use csv_write::{write_csv, write_values_csv};
pub(crate) use parquet_io::write_parquet_batches;
pub use parquet_io::{
    parquet_batches, parquet_batches_with, read_parquet, read_parquet_with, write_parquet,
    ParquetBatches, ParquetReadOptions,
};
pub(crate) use table::{format_of, Format};
pub use table::{read_table, ReadOptions};

use std::path::Path;

use crate::error::{MlError, Result};

/// The names that occur more than once among `names`, in order of first occurrence, each
/// with its zero-based positions: `'x' (columns 0 and 3)`, joined by `, `; `None` when every
/// name is unique.
pub(crate) fn duplicate_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let mut positions: crate::hash::FxHashMap<&str, Vec<usize>> = Default::default();
    let mut order = Vec::new();
    for (i, n) in names.into_iter().enumerate() {
        let at = positions.entry(n).or_default();
        if at.is_empty() {
            order.push(n);
        }
        at.push(i);
    }
    let dups: Vec<String> = order
        .into_iter()
        .filter_map(|n| {
            let at = &positions[n];
            (at.len() > 1).then(|| {
                let list: Vec<String> = at.iter().map(|i| i.to_string()).collect();
                let (last, rest) = list.split_last().expect("two or more");
                format!("'{n}' (columns {} and {last})", rest.join(", "))
            })
        })
        .collect();
    (!dups.is_empty()).then(|| dups.join(", "))
}

/// Positions in `schema` of the projected `columns`, in the order asked for. Errors name the
/// file: a column it lacks ([`MlError::ColumnNotInFile`]), a column asked for twice or an
/// empty list ([`MlError::InvalidParam`] `columns`).
pub(crate) fn projection_indices(
    path: &Path,
    schema: &arrow::datatypes::Schema,
    columns: &[String],
) -> Result<Vec<usize>> {
    if columns.is_empty() {
        return Err(MlError::param(
            "columns",
            format!("the projection of '{}' names no column", path.display()),
        ));
    }
    let mut out = Vec::with_capacity(columns.len());
    for (i, c) in columns.iter().enumerate() {
        if columns[..i].contains(c) {
            return Err(MlError::param(
                "columns",
                format!("column '{c}' is asked for twice"),
            ));
        }
        let idx = schema.index_of(c).map_err(|_| MlError::ColumnNotInFile {
            path: path.to_path_buf(),
            column: c.clone(),
            available: schema
                .fields()
                .iter()
                .map(|f| f.name().as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })?;
        out.push(idx);
    }
    Ok(out)
}

/// Concatenates batches of one schema into one batch, concatenating columns in parallel.
pub(crate) fn concat_batches(
    schema: &arrow::datatypes::SchemaRef,
    mut batches: Vec<arrow::record_batch::RecordBatch>,
) -> Result<arrow::record_batch::RecordBatch> {
    use rayon::prelude::*;
    match batches.len() {
        0 => return Ok(arrow::record_batch::RecordBatch::new_empty(schema.clone())),
        1 => return Ok(batches.swap_remove(0)),
        _ => {}
    }
    let columns: Vec<arrow::array::ArrayRef> = (0..schema.fields().len())
        .into_par_iter()
        .map(|c| {
            let arrays: Vec<&dyn arrow::array::Array> =
                batches.iter().map(|b| b.column(c).as_ref()).collect();
            arrow::compute::concat(&arrays)
        })
        .collect::<std::result::Result<_, _>>()?;
    Ok(arrow::record_batch::RecordBatch::try_new(
        schema.clone(),
        columns,
    )?)
}

/// Parses a decimal integer (optional sign, ASCII digits only) without allocating.
pub(crate) fn parse_i64(bytes: &[u8]) -> Option<i64> {
    let (neg, digits) = match bytes.first()? {
        b'-' => (true, &bytes[1..]),
        b'+' => (false, &bytes[1..]),
        _ => (false, bytes),
    };
    let magnitude = unsigned_digits(digits)?;
    if neg {
        // 2^63 is i64::MIN's magnitude: as i64 it is i64::MIN, which negates to itself.
        (magnitude <= 1 << 63).then(|| (magnitude as i64).wrapping_neg())
    } else {
        i64::try_from(magnitude).ok()
    }
}

/// An unsigned decimal integer (an optional `+`, then digits), as `str::parse::<u64>` reads it;
/// `None` past `u64::MAX` or on any other byte.
#[inline]
pub(crate) fn parse_u64(bytes: &[u8]) -> Option<u64> {
    match bytes.first()? {
        b'+' => unsigned_digits(&bytes[1..]),
        _ => unsigned_digits(bytes),
    }
}

/// The value of one or more ASCII digits; `None` when empty, past `u64::MAX` or on any other
/// byte.
#[inline]
fn unsigned_digits(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    let mut v: u64 = 0;
    for &b in digits {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(d as u64)?;
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::{duplicate_names, parse_i64, parse_u64};

    #[test]
    fn duplicate_names_lists_each_repeated_name_with_its_columns() {
        assert_eq!(duplicate_names(["a", "b", "c"]), None);
        assert_eq!(duplicate_names([]), None);
        assert_eq!(
            duplicate_names(["x", "y", "x", "z", "y", "x"]).unwrap(),
            "'x' (columns 0, 2 and 5), 'y' (columns 1 and 4)"
        );
    }

    #[test]
    fn integer_parsers_match_std() {
        for s in [
            "0",
            "-0",
            "+7",
            "-7",
            "123",
            "-9223372036854775808",
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854775809",
            "18446744073709551615",
            "18446744073709551616",
            "-18446744073709551615",
            "-18446744073709551616",
            "99999999999999999999",
            "",
            "-",
            "+",
            "1.0",
            "1e3",
            " 1",
            "00012",
            "abc",
        ] {
            assert_eq!(parse_i64(s.as_bytes()), s.parse::<i64>().ok(), "i64 {s:?}");
            assert_eq!(parse_u64(s.as_bytes()), s.parse::<u64>().ok(), "u64 {s:?}");
        }
    }
}
