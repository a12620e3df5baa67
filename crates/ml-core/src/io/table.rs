//! [`read_table`]: the one way of reading a table whatever its format, chosen by the path.

use std::path::Path;

use super::{read_csv, read_parquet_with, CsvReadOptions, ParquetReadOptions};
use crate::dataset::Dataset;
use crate::error::{MlError, Result};

/// Options for [`read_table`]: the columns to read (for every format) and the CSV options
/// (used for `.csv` files only).
///
/// ```
/// use ml_core::io::{CsvReadOptions, ReadOptions};
/// let opts = ReadOptions::new()
///     .columns(&["label", "age"])
///     .csv(CsvReadOptions::default().delimiter(b';'));
/// assert_eq!(opts.columns.as_ref().map(Vec::len), Some(2));
/// ```
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// The columns to read, in this order (default `None`: every column). A name the table
    /// lacks is an [`MlError::ColumnNotInFile`] naming the file and the column.
    pub columns: Option<Vec<String>>,
    /// How CSV files are parsed (its own `columns` is replaced by [`ReadOptions::columns`]).
    pub csv: CsvReadOptions,
}

impl ReadOptions {
    /// Every column; CSV files with [`CsvReadOptions::default`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads only these columns, in this order.
    pub fn columns(mut self, columns: &[&str]) -> Self {
        self.columns = Some(columns.iter().map(|c| c.to_string()).collect());
        self
    }

    /// Sets the CSV options.
    pub fn csv(mut self, csv: CsvReadOptions) -> Self {
        self.csv = csv;
        self
    }
}

/// The formats [`read_table`] knows, by path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Csv,
    Parquet,
}

/// The format of the table at `path` as [`read_table`] decides it (a `.csv`, `.parquet`/`.pq`
/// file or a directory of part files), with the same errors.
pub(crate) fn format_of(path: &Path) -> Result<Format> {
    if path.is_dir() {
        return Ok(Format::Parquet);
    }
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    match ext.as_deref() {
        Some("csv") => Ok(Format::Csv),
        Some("parquet") | Some("pq") => Ok(Format::Parquet),
        _ if !path.exists() => Err(MlError::io(
            path,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or directory"),
        )),
        _ => Err(MlError::param(
            "path",
            format!(
                "cannot tell the format of '{}' from its name: expected a .csv or .parquet \
                 file or a directory of Parquet part files",
                path.display()
            ),
        )),
    }
}

/// Reads a table by its path: a `.csv` file ([`read_csv`]), a `.parquet` (or `.pq`) file or a
/// directory of Parquet part files as Spark writes them ([`read_parquet_with`]), keeping only
/// [`ReadOptions::columns`] when set (only those are decoded).
///
/// Errors: a missing path ([`MlError::Io`]), a name that says no known format
/// ([`MlError::InvalidParam`] `path`), a column the table lacks
/// ([`MlError::ColumnNotInFile`]), and the errors of the format's reader.
///
/// ```
/// use ml_core::io::{read_table, write_parquet, ReadOptions};
/// let dir = tempfile::tempdir().unwrap();
/// let csv = dir.path().join("t.csv");
/// std::fs::write(&csv, "a,b,c\n1,x,2.5\n2,y,3.5\n").unwrap();
/// let from_csv = read_table(&csv, &ReadOptions::new().columns(&["c", "a"])).unwrap();
/// assert_eq!(from_csv.column_names(), vec!["c", "a"]);
///
/// let pq = dir.path().join("t.parquet");
/// write_parquet(&read_table(&csv, &ReadOptions::new()).unwrap(), &pq).unwrap();
/// let from_pq = read_table(&pq, &ReadOptions::new().columns(&["c", "a"])).unwrap();
/// assert_eq!(from_pq.batch(), from_csv.batch());
/// assert!(read_table(dir.path().join("t.txt"), &ReadOptions::new()).is_err());
/// ```
pub fn read_table(path: impl AsRef<Path>, opts: &ReadOptions) -> Result<Dataset> {
    let path = path.as_ref();
    match format_of(path)? {
        Format::Csv => {
            let mut csv = opts.csv.clone();
            csv.columns = opts.columns.clone();
            read_csv(path, &csv)
        }
        Format::Parquet => read_parquet_with(
            path,
            &ParquetReadOptions {
                columns: opts.columns.clone(),
                ..ParquetReadOptions::default()
            },
        ),
    }
}
