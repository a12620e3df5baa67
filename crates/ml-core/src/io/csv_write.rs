//! CSV writing.

use std::io::Write;
use std::path::Path;

use ::csv::{ByteRecord, QuoteStyle, WriterBuilder};
use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Float32Type, Float64Type};
use arrow::util::display::{ArrayFormatter, FormatOptions};

use super::write_file_atomic;
use crate::dataset::Dataset;
use crate::error::{MlError, Result};

/// How one column is turned into text.
enum Cell<'a> {
    F64(&'a arrow::array::Float64Array),
    F32(&'a arrow::array::Float32Array),
    Str(&'a arrow::array::StringArray),
    LargeStr(&'a arrow::array::LargeStringArray),
    Other(ArrayFormatter<'a>),
}

/// Formats a float so that it reads back as the same `Float64` (shortest round-trip digits,
/// always with a `.` or an exponent) and writes non-finite values as Spark does.
fn write_float(out: &mut Vec<u8>, v: f64) {
    if v.is_nan() {
        out.extend_from_slice(b"NaN");
    } else if v.is_infinite() {
        out.extend_from_slice(if v > 0.0 { b"Infinity" } else { b"-Infinity" });
    } else {
        // Debug formatting is the shortest representation that round-trips and keeps ".0".
        let _ = write!(out, "{v:?}");
    }
}

/// Writes a dataset as CSV: a header row, fields quoted only where needed (RFC 4180: fields
/// holding the delimiter, a quote or a line break are quoted, quotes doubled), nulls as empty
/// fields, floats with round-trip precision (`NaN`, `Infinity`, `-Infinity` for non-finite
/// values). Other types (dates, lists, ...) are written with Arrow's display format.
///
/// The file is written atomically (temporary file in the same directory, then renamed). Note
/// that an empty string and a null both come out as an empty field.
///
/// ```
/// use std::sync::Arc;
/// use arrow::array::{ArrayRef, Float64Array, StringArray};
/// use ml_core::{io::write_csv, Dataset};
/// let ds = Dataset::from_columns(vec![
///     ("name", Arc::new(StringArray::from(vec![Some("a,b"), None])) as ArrayRef),
///     ("x", Arc::new(Float64Array::from(vec![Some(1.0), Some(0.5)])) as ArrayRef),
/// ]).unwrap();
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("out.csv");
/// write_csv(&ds, &path).unwrap();
/// assert_eq!(std::fs::read_to_string(&path).unwrap(), "name,x\n\"a,b\",1.0\n,0.5\n");
/// ```
pub fn write_csv(data: &Dataset, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    let cells = CsvCells::new(data)?;
    write_file_atomic(path, |out| cells.write(path, out))
}

/// A dataset's columns ready to be written as CSV text (types checked before any file is
/// opened).
pub(crate) struct CsvCells<'a> {
    batch: &'a arrow::record_batch::RecordBatch,
    cells: Vec<(Cell<'a>, &'a arrow::array::ArrayRef)>,
}

impl<'a> CsvCells<'a> {
    pub(crate) fn new(data: &'a Dataset) -> Result<Self> {
        let batch = data.batch();
        let options = FormatOptions::default().with_null("");
        let mut cells = Vec::with_capacity(batch.num_columns());
        for (field, column) in batch.schema_ref().fields().iter().zip(batch.columns()) {
            let cell = match column.data_type() {
                DataType::Float64 => Cell::F64(column.as_primitive::<Float64Type>()),
                DataType::Float32 => Cell::F32(column.as_primitive::<Float32Type>()),
                DataType::Utf8 => Cell::Str(column.as_string::<i32>()),
                DataType::LargeUtf8 => Cell::LargeStr(column.as_string::<i64>()),
                _ => Cell::Other(ArrayFormatter::try_new(column.as_ref(), &options).map_err(
                    |e| MlError::ColumnType {
                        column: field.name().clone(),
                        expected: "a type that can be written as CSV text".into(),
                        found: format!("{} ({e})", column.data_type()),
                    },
                )?),
            };
            cells.push((cell, column));
        }
        Ok(CsvCells { batch, cells })
    }

    /// Writes the header and the rows to `out`; `path` names the file in errors.
    pub(crate) fn write(&self, path: &Path, out: &mut dyn Write) -> Result<()> {
        let batch = self.batch;
        let io_err = |e: ::csv::Error| {
            let message = e.to_string();
            match e.into_kind() {
                ::csv::ErrorKind::Io(io) => MlError::io(path, io),
                _ => MlError::Csv {
                    path: path.to_path_buf(),
                    line: 0,
                    message,
                },
            }
        };
        let mut writer = WriterBuilder::new()
            .quote_style(QuoteStyle::Necessary)
            .from_writer(out);
        let header: ByteRecord = batch
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().as_bytes())
            .collect();
        writer.write_byte_record(&header).map_err(io_err)?;
        let mut record = ByteRecord::new();
        let mut scratch: Vec<u8> = Vec::with_capacity(64);
        for row in 0..batch.num_rows() {
            record.clear();
            for (cell, column) in &self.cells {
                if column.is_null(row) {
                    record.push_field(b"");
                    continue;
                }
                match cell {
                    Cell::F64(a) => {
                        scratch.clear();
                        write_float(&mut scratch, a.value(row));
                        record.push_field(&scratch);
                    }
                    Cell::F32(a) => {
                        scratch.clear();
                        let v = a.value(row);
                        if v.is_finite() {
                            let _ = write!(scratch, "{v:?}");
                        } else {
                            write_float(&mut scratch, v as f64);
                        }
                        record.push_field(&scratch);
                    }
                    Cell::Str(a) => record.push_field(a.value(row).as_bytes()),
                    Cell::LargeStr(a) => record.push_field(a.value(row).as_bytes()),
                    Cell::Other(f) => {
                        scratch.clear();
                        write!(scratch, "{}", f.value(row)).map_err(|e| {
                            MlError::value(
                                batch.schema().field(record.len()).name().clone(),
                                row,
                                format!("cannot format the value as text: {e}"),
                            )
                        })?;
                        record.push_field(&scratch);
                    }
                }
            }
            writer.write_byte_record(&record).map_err(io_err)?;
        }
        writer.flush().map_err(|e| MlError::io(path, e))?;
        Ok(())
    }
}

/// Writes one column of numbers as a CSV file, atomically: a header line `column`, then one
/// value per line in row order, in Rust's `Display` format (the shortest digits that read
/// back as the same `f64`, in plain decimal notation: `1`, `0.25`, `0.0000001`; `NaN`, `inf`,
/// `-inf`). This is the predictions file of the command-line tools.
///
/// ```
/// use ml_core::io::write_values_csv;
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("pred.csv");
/// write_values_csv(&path, "prediction", &[0.25, 1.0, 1e-7]).unwrap();
/// assert_eq!(std::fs::read_to_string(&path).unwrap(), "prediction\n0.25\n1\n0.0000001\n");
/// ```
pub fn write_values_csv(path: impl AsRef<Path>, column: &str, values: &[f64]) -> Result<()> {
    let path = path.as_ref();
    write_file_atomic(path, |out| values_into(path, column, values, out))
}

/// The text of [`write_values_csv`] written to `out`; `path` names the file in errors.
pub(crate) fn values_into(
    path: &Path,
    column: &str,
    values: &[f64],
    out: &mut dyn Write,
) -> Result<()> {
    let header = if column.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", column.replace('"', "\"\""))
    } else {
        column.to_string()
    };
    writeln!(out, "{header}").map_err(|e| MlError::io(path, e))?;
    for v in values {
        writeln!(out, "{v}").map_err(|e| MlError::io(path, e))?;
    }
    Ok(())
}
