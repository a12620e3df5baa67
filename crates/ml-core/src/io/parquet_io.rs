//! Parquet reading (files and Spark-style directories) and writing.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ::parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReader,
    ParquetRecordBatchReaderBuilder,
};
use ::parquet::arrow::ProjectionMask;
use ::parquet::basic::Compression;
use ::parquet::file::properties::WriterProperties;
use ::parquet::schema::types::SchemaDescriptor;
use arrow::array::{new_null_array, ArrayRef, Int64Array, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::{RecordBatch, RecordBatchReader};
use rayon::prelude::*;

use super::parquet_check::check_column_chunks;
use super::parquet_encode::ColumnsInParallel;
use super::{parse_i64, write_file_atomic_with_sync};
use crate::dataset::Dataset;
use crate::error::{MlError, Result};

/// Spark's marker for a null partition value.
const HIVE_NULL: &str = "__HIVE_DEFAULT_PARTITION__";

fn pq_error(path: &Path, message: impl std::fmt::Display) -> MlError {
    MlError::Parquet {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

/// One data file and the partition values of the folders above it.
#[derive(Debug, Clone)]
struct PartFile {
    path: PathBuf,
    values: Vec<Option<String>>,
}

/// Options for [`read_parquet_with`] and [`parquet_batches_with`].
///
/// ```
/// use ml_core::io::ParquetReadOptions;
/// let opts = ParquetReadOptions::new().columns(&["label", "age"]).batch_size(4096);
/// assert_eq!(opts.columns.as_deref(), Some(&["label".to_string(), "age".to_string()][..]));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParquetReadOptions {
    /// The columns to read, in this order (default `None`: every column, file columns then
    /// partition columns). Only these columns are decoded (the parquet reader's projection
    /// mask); a name neither in the files nor a partition folder is an
    /// [`MlError::ColumnNotInFile`] naming the file and the column.
    pub columns: Option<Vec<String>>,
    /// Rows per record batch when streaming with [`parquet_batches_with`] (default 65,536);
    /// [`read_parquet_with`] reads whole files and does not use it.
    pub batch_size: usize,
}

impl Default for ParquetReadOptions {
    fn default() -> Self {
        ParquetReadOptions {
            columns: None,
            batch_size: 65_536,
        }
    }
}

impl ParquetReadOptions {
    /// The default options: every column, batches of 65,536 rows.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads only these columns, in this order.
    pub fn columns(mut self, columns: &[&str]) -> Self {
        self.columns = Some(columns.iter().map(|c| c.to_string()).collect());
        self
    }

    /// Sets the number of rows per streamed batch (at least 1).
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size;
        self
    }
}

/// Where an output column comes from.
#[derive(Debug, Clone, Copy)]
enum Source {
    /// Position in the batch decoded from a file (the projected file columns, in file order).
    File(usize),
    /// A partition column (index in `Scan::keys`).
    Key(usize),
}

/// The files of a Parquet "table" (a single file or a directory) and its output schema.
#[derive(Debug)]
struct Scan {
    files: Vec<PartFile>,
    /// Partition columns: name and type (Int64 or Utf8).
    keys: Vec<(String, DataType)>,
    /// The schema of the data files, as read from the first one.
    file_schema: SchemaRef,
    /// The file columns decoded (root positions, increasing); `None`: all of them.
    read_cols: Option<Vec<usize>>,
    /// Where each output column comes from.
    outputs: Vec<Source>,
    /// The output schema (file columns then partition columns, or the projection's order).
    schema: SchemaRef,
    is_dir: bool,
}

/// Decodes Spark's `%XX` escapes in partition folder names.
fn unescape(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Spark's rule: names starting with `.` or `_` (except `_key=value` folders) and checksum
/// files are not data.
fn is_hidden(name: &str) -> bool {
    name.starts_with('.')
        || (name.starts_with('_') && !name.contains('='))
        || name.ends_with(".crc")
}

fn walk(
    dir: &Path,
    keys: &mut Vec<String>,
    values: &mut Vec<Option<String>>,
    out: &mut Vec<(PartFile, Vec<String>)>,
) -> Result<()> {
    let mut entries: Vec<(String, PathBuf)> = fs::read_dir(dir)
        .map_err(|e| MlError::io(dir, e))?
        .map(|e| {
            e.map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
                .map_err(|err| MlError::io(dir, err))
        })
        .collect::<Result<_>>()?;
    entries.sort();
    for (name, path) in entries {
        if is_hidden(&name) {
            continue;
        }
        let meta = fs::metadata(&path).map_err(|e| MlError::io(&path, e))?;
        if meta.is_dir() {
            let pushed = if let Some((k, v)) = name.split_once('=') {
                keys.push(unescape(k));
                values.push(if v == HIVE_NULL {
                    None
                } else {
                    Some(unescape(v))
                });
                true
            } else {
                false
            };
            walk(&path, keys, values, out)?;
            if pushed {
                keys.pop();
                values.pop();
            }
        } else {
            out.push((
                PartFile {
                    path,
                    values: values.clone(),
                },
                keys.clone(),
            ));
        }
    }
    Ok(())
}

fn load_metadata(path: &Path) -> Result<(File, ArrowReaderMetadata)> {
    let file = File::open(path).map_err(|e| MlError::io(path, e))?;
    let meta = without_panics(path, "not a readable Parquet file", || {
        ArrowReaderMetadata::load(&file, ArrowReaderOptions::new())
            .map_err(|e| pq_error(path, format!("not a readable Parquet file: {e}")))
    })?;
    Ok((file, meta))
}

/// Runs `read` (a call into the parquet and arrow crates on the bytes of `path`), turning a
/// panic of theirs on corrupt input into an [`MlError::Parquet`] naming the file: `what`
/// and the panic's message. (Fuzzing found such panics, e.g. an unknown type in the Arrow
/// schema a file embeds; the reader is dropped afterwards, nothing of it is reused.)
fn without_panics<T>(path: &Path, what: &str, read: impl FnOnce() -> Result<T>) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(read)).unwrap_or_else(|panic| {
        let message = crate::error::panic_message(panic.as_ref());
        Err(pq_error(
            path,
            format!("{what}: the file is corrupt (the Parquet decoder failed: {message})"),
        ))
    })
}

impl Scan {
    fn new(path: &Path, columns: Option<&[String]>) -> Result<Scan> {
        let meta = fs::metadata(path).map_err(|e| MlError::io(path, e))?;
        let is_dir = meta.is_dir();
        let (files, key_names) = if is_dir {
            let mut found = Vec::new();
            walk(path, &mut Vec::new(), &mut Vec::new(), &mut found)?;
            let Some((_, first_keys)) = found.first() else {
                return Err(pq_error(
                    path,
                    "the directory holds no Parquet data files (hidden files, _SUCCESS and .crc files are ignored)",
                ));
            };
            let first_keys = first_keys.clone();
            for (f, k) in &found {
                if *k != first_keys {
                    return Err(pq_error(
                        &f.path,
                        format!(
                            "inconsistent partition folders: this file sits under [{}] but {} sits under [{}]",
                            k.join(", "),
                            found[0].0.path.display(),
                            first_keys.join(", ")
                        ),
                    ));
                }
            }
            (
                found.into_iter().map(|(f, _)| f).collect::<Vec<_>>(),
                first_keys,
            )
        } else {
            (
                vec![PartFile {
                    path: path.to_path_buf(),
                    values: vec![],
                }],
                vec![],
            )
        };
        let (_, first_meta) = load_metadata(&files[0].path)?;
        let file_schema = first_meta.schema().clone();
        if let Some(dups) =
            super::duplicate_names(file_schema.fields().iter().map(|f| f.name().as_str()))
        {
            return Err(pq_error(
                &files[0].path,
                format!(
                    "duplicate column names: {dups}; a column must be named once (rename them \
                     where the file is written)"
                ),
            ));
        }
        let mut keys = Vec::with_capacity(key_names.len());
        for (k, name) in key_names.iter().enumerate() {
            if file_schema.field_with_name(name).is_ok() {
                return Err(pq_error(
                    &files[0].path,
                    format!("column '{name}' is both in the data files and a partition folder name ({name}=...)"),
                ));
            }
            let all_int = files.iter().all(|f| {
                f.values[k]
                    .as_deref()
                    .is_none_or(|v| parse_i64(v.as_bytes()).is_some())
            });
            keys.push((
                name.clone(),
                if all_int {
                    DataType::Int64
                } else {
                    DataType::Utf8
                },
            ));
        }
        let mut fields: Vec<Field> = file_schema
            .fields()
            .iter()
            .map(|f| {
                // Parts of a directory may differ in nullability; the union is nullable.
                if is_dir {
                    f.as_ref().clone().with_nullable(true)
                } else {
                    f.as_ref().clone()
                }
            })
            .collect();
        for (name, dt) in &keys {
            fields.push(Field::new(name, dt.clone(), true));
        }
        let full = Schema::new_with_metadata(fields, file_schema.metadata().clone());
        let nfile = file_schema.fields().len();
        let (read_cols, outputs, schema) = match columns {
            None => (
                None,
                (0..nfile)
                    .map(Source::File)
                    .chain((0..keys.len()).map(Source::Key))
                    .collect(),
                Arc::new(full),
            ),
            Some(cols) => {
                let picked = super::projection_indices(path, &full, cols)?;
                let mut read: Vec<usize> = picked.iter().copied().filter(|&i| i < nfile).collect();
                read.sort_unstable();
                let outputs = picked
                    .iter()
                    .map(|&i| match read.binary_search(&i) {
                        Ok(pos) => Source::File(pos),
                        Err(_) => Source::Key(i - nfile),
                    })
                    .collect();
                (Some(read), outputs, Arc::new(full.project(&picked)?))
            }
        };
        Ok(Scan {
            files,
            keys,
            file_schema,
            read_cols,
            outputs,
            schema,
            is_dir,
        })
    }

    /// The projection mask of the file columns read, if not all of them.
    fn mask(&self, descr: &SchemaDescriptor) -> Option<ProjectionMask> {
        self.read_cols
            .as_ref()
            .map(|cols| ProjectionMask::roots(descr, cols.iter().copied()))
    }

    /// Checks a part file's schema against the first one.
    fn check_schema(&self, path: &Path, schema: &Schema) -> Result<()> {
        let expected = self.file_schema.fields();
        let same = schema.fields().len() == expected.len()
            && schema
                .fields()
                .iter()
                .zip(expected.iter())
                .all(|(a, b)| a.name() == b.name() && a.data_type() == b.data_type());
        if same {
            return Ok(());
        }
        let describe = |s: &Schema| {
            s.fields()
                .iter()
                .map(|f| format!("{}: {}", f.name(), f.data_type()))
                .collect::<Vec<_>>()
                .join(", ")
        };
        Err(pq_error(
            path,
            format!(
                "schema [{}] differs from the first part file's [{}] ({})",
                describe(schema),
                describe(&self.file_schema),
                self.files[0].path.display()
            ),
        ))
    }

    /// Adds the partition columns (constant per file) and applies the output schema.
    fn finish_batch(&self, file: &PartFile, batch: RecordBatch) -> Result<RecordBatch> {
        let rows = batch.num_rows();
        let key_column = |k: usize| -> ArrayRef {
            match (&file.values[k], &self.keys[k].1) {
                (None, dt) => new_null_array(dt, rows),
                (Some(v), DataType::Int64) => {
                    let n = parse_i64(v.as_bytes()).unwrap_or_default();
                    Arc::new(Int64Array::from_value(n, rows))
                }
                (Some(v), _) => Arc::new(StringArray::from_iter_values(std::iter::repeat_n(
                    v.as_str(),
                    rows,
                ))),
            }
        };
        let columns: Vec<ArrayRef> = self
            .outputs
            .iter()
            .map(|src| match *src {
                Source::File(i) => batch.column(i).clone(),
                Source::Key(k) => key_column(k),
            })
            .collect();
        if columns.is_empty() {
            let options = arrow::record_batch::RecordBatchOptions::new().with_row_count(Some(rows));
            return RecordBatch::try_new_with_options(self.schema.clone(), columns, &options)
                .map_err(|e| pq_error(&file.path, format!("cannot assemble the batch: {e}")));
        }
        RecordBatch::try_new(self.schema.clone(), columns)
            .map_err(|e| pq_error(&file.path, format!("cannot assemble the batch: {e}")))
    }

    /// Reads one whole file, decoding columns in parallel.
    fn read_file(&self, file: &PartFile) -> Result<RecordBatch> {
        let path = &file.path;
        let (handle, meta) = load_metadata(path)?;
        let schema = meta.schema().clone();
        if self.is_dir {
            self.check_schema(path, &schema)?;
        }
        check_column_chunks(path, &handle, meta.metadata(), self.read_cols.as_deref())?;
        let rows = meta.metadata().file_metadata().num_rows().max(0) as usize;
        let cols: Vec<usize> = match &self.read_cols {
            Some(c) => c.clone(),
            None => (0..schema.fields().len()).collect(),
        };
        let ncols = cols.len();
        let read = |mask: Option<ProjectionMask>| -> Result<RecordBatch> {
            // A separate open file per reader: `try_clone` would share one file offset between
            // threads, and concurrent seek + read would interleave.
            let handle = File::open(path).map_err(|e| MlError::io(path, e))?;
            let mut builder =
                ParquetRecordBatchReaderBuilder::new_with_metadata(handle, meta.clone())
                    .with_batch_size(rows.clamp(1, 1 << 20));
            if let Some(mask) = mask {
                builder = builder.with_projection(mask);
            }
            let reader = builder.build().map_err(|e| pq_error(path, e))?;
            let out_schema = reader.schema();
            let batches: Vec<RecordBatch> = reader
                .collect::<std::result::Result<_, _>>()
                .map_err(|e| pq_error(path, format!("corrupt data: {e}")))?;
            arrow::compute::concat_batches(&out_schema, &batches).map_err(|e| pq_error(path, e))
        };
        let read = |mask| without_panics(path, "corrupt data", || read(mask));
        let batch = if ncols <= 1 || rows < 50_000 {
            read(self.mask(meta.parquet_schema()))?
        } else {
            let descr = meta.parquet_schema();
            let columns: Vec<ArrayRef> = cols
                .par_iter()
                .map(|&c| {
                    read(Some(ProjectionMask::roots(descr, [c]))).map(|b| b.column(0).clone())
                })
                .collect::<Result<_>>()?;
            let schema = Arc::new(schema.project(&cols).map_err(|e| pq_error(path, e))?);
            RecordBatch::try_new(schema, columns).map_err(|e| pq_error(path, e))?
        };
        self.finish_batch(file, batch)
    }
}

/// Reads a Parquet file, or a directory of part files as Spark writes it, into one
/// [`Dataset`].
///
/// In a directory, `_SUCCESS`, `.crc` and other hidden files (names starting with `.` or `_`)
/// are ignored; the part files are read in sorted path order and concatenated; hive-style
/// `key=value` folders become columns after the file columns (`Int64` when every value parses
/// as an integer, else `Utf8`; `__HIVE_DEFAULT_PARTITION__` is null). Columns are decoded in
/// parallel. Field metadata stored in the file (ML attributes) is kept.
///
/// Before a file's pages are decoded, the column chunks read are checked against the file:
/// each lies in the file's data, and its page headers decode within it in time proportional
/// to their bytes (a corrupt header could otherwise keep the parquet crate's decoder busy for
/// minutes on a file of a few KB).
///
/// Errors: a missing path ([`MlError::Io`]); a truncated or non-Parquet file, part files
/// whose schemas differ, or a column chunk or page header that claims more than the file
/// holds ([`MlError::Parquet`] naming the file, and the row group and column where it applies).
pub fn read_parquet(path: impl AsRef<Path>) -> Result<Dataset> {
    read_parquet_with(path, &ParquetReadOptions::default())
}

/// [`read_parquet`] with options: only the columns of [`ParquetReadOptions::columns`] are
/// decoded (by the parquet reader's projection mask), in the order asked for.
///
/// ```
/// use std::sync::Arc;
/// use arrow::array::{ArrayRef, Float64Array, Int64Array};
/// use ml_core::io::{read_parquet_with, write_parquet, ParquetReadOptions};
/// use ml_core::{Dataset, MlError};
///
/// let ds = Dataset::from_columns(vec![
///     ("id", Arc::new(Int64Array::from(vec![1, 2])) as ArrayRef),
///     ("x", Arc::new(Float64Array::from(vec![0.5, 1.5])) as ArrayRef),
///     ("label", Arc::new(Float64Array::from(vec![0.0, 1.0])) as ArrayRef),
/// ]).unwrap();
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("t.parquet");
/// write_parquet(&ds, &path).unwrap();
/// let got = read_parquet_with(&path, &ParquetReadOptions::new().columns(&["label", "x"])).unwrap();
/// assert_eq!(got.column_names(), vec!["label", "x"]);
/// let err = read_parquet_with(&path, &ParquetReadOptions::new().columns(&["y"])).unwrap_err();
/// assert!(matches!(err, MlError::ColumnNotInFile { ref column, .. } if column == "y"));
/// ```
pub fn read_parquet_with(path: impl AsRef<Path>, opts: &ParquetReadOptions) -> Result<Dataset> {
    let scan = Scan::new(path.as_ref(), opts.columns.as_deref())?;
    let parts: Vec<RecordBatch> = scan
        .files
        .par_iter()
        .map(|f| scan.read_file(f))
        .collect::<Result<_>>()?;
    super::concat_batches(&scan.schema, parts).map(Dataset::new)
}

/// A streaming Parquet reader over a file or a directory of part files; made by
/// [`parquet_batches`]. After an error the iterator ends.
pub struct ParquetBatches {
    scan: Scan,
    next_file: usize,
    current: Option<(usize, ParquetRecordBatchReader)>,
    batch_size: usize,
    done: bool,
}

impl std::fmt::Debug for ParquetBatches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParquetBatches")
            .field("files", &self.scan.files.len())
            .field("schema", &self.scan.schema)
            .field("batch_size", &self.batch_size)
            .finish()
    }
}

impl ParquetBatches {
    /// The schema of every batch (file columns, then partition columns).
    pub fn schema(&self) -> SchemaRef {
        self.scan.schema.clone()
    }

    fn step(&mut self) -> Result<Option<RecordBatch>> {
        loop {
            if let Some((i, reader)) = &mut self.current {
                let file = &self.scan.files[*i];
                let path = &file.path;
                let next = without_panics(path, "corrupt data", || Ok(reader.next()))?;
                match next {
                    Some(Ok(batch)) => return self.scan.finish_batch(file, batch).map(Some),
                    Some(Err(e)) => return Err(pq_error(&file.path, format!("corrupt data: {e}"))),
                    None => self.current = None,
                }
            }
            if self.next_file >= self.scan.files.len() {
                return Ok(None);
            }
            let i = self.next_file;
            self.next_file += 1;
            let path = &self.scan.files[i].path;
            let (handle, meta) = load_metadata(path)?;
            if self.scan.is_dir {
                self.scan.check_schema(path, meta.schema())?;
            }
            check_column_chunks(
                path,
                &handle,
                meta.metadata(),
                self.scan.read_cols.as_deref(),
            )?;
            let mut builder = ParquetRecordBatchReaderBuilder::new_with_metadata(handle, meta)
                .with_batch_size(self.batch_size);
            if let Some(mask) = self.scan.mask(builder.parquet_schema()) {
                builder = builder.with_projection(mask);
            }
            let reader = without_panics(path, "corrupt data", || {
                builder.build().map_err(|e| pq_error(path, e))
            })?;
            self.current = Some((i, reader));
        }
    }
}

impl Iterator for ParquetBatches {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.step() {
            Ok(Some(batch)) => Some(Ok(batch)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// Streams a Parquet file or directory (same layout rules as [`read_parquet`]) in record
/// batches of at most `batch_size` rows, one file at a time, so memory stays bounded.
///
/// ```
/// use std::sync::Arc;
/// use arrow::array::{ArrayRef, Int64Array};
/// use ml_core::{io::{parquet_batches, write_parquet}, Dataset};
/// let ds = Dataset::from_columns(vec![
///     ("n", Arc::new(Int64Array::from_iter_values(0..10)) as ArrayRef),
/// ]).unwrap();
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("n.parquet");
/// write_parquet(&ds, &path).unwrap();
/// let total: usize = parquet_batches(&path, 4).unwrap().map(|b| b.unwrap().num_rows()).sum();
/// assert_eq!(total, 10);
/// ```
pub fn parquet_batches(path: impl AsRef<Path>, batch_size: usize) -> Result<ParquetBatches> {
    parquet_batches_with(path, &ParquetReadOptions::new().batch_size(batch_size))
}

/// [`parquet_batches`] with options: batches of [`ParquetReadOptions::batch_size`] rows holding
/// only the columns of [`ParquetReadOptions::columns`] (only those are decoded).
///
/// ```
/// use std::sync::Arc;
/// use arrow::array::{ArrayRef, Int64Array};
/// use ml_core::{io::{parquet_batches_with, write_parquet, ParquetReadOptions}, Dataset};
/// let ds = Dataset::from_columns(vec![
///     ("a", Arc::new(Int64Array::from_iter_values(0..10)) as ArrayRef),
///     ("b", Arc::new(Int64Array::from_iter_values(10..20)) as ArrayRef),
/// ]).unwrap();
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("ab.parquet");
/// write_parquet(&ds, &path).unwrap();
/// let opts = ParquetReadOptions::new().columns(&["b"]).batch_size(4);
/// let batches: Vec<_> = parquet_batches_with(&path, &opts).unwrap().map(|b| b.unwrap()).collect();
/// assert_eq!(batches.len(), 3);
/// assert_eq!(batches[0].num_columns(), 1);
/// assert_eq!(batches[0].schema().field(0).name(), "b");
/// ```
pub fn parquet_batches_with(
    path: impl AsRef<Path>,
    opts: &ParquetReadOptions,
) -> Result<ParquetBatches> {
    if opts.batch_size == 0 {
        return Err(MlError::param("batch_size", "must be at least 1"));
    }
    Ok(ParquetBatches {
        scan: Scan::new(path.as_ref(), opts.columns.as_deref())?,
        next_file: 0,
        current: None,
        batch_size: opts.batch_size,
        done: false,
    })
}

/// Writes a dataset as one Snappy-compressed Parquet file, atomically (temporary file in the
/// same directory, then renamed). The Arrow schema, with field metadata such as ML attributes,
/// is stored in the file and restored by [`read_parquet`].
pub fn write_parquet(data: &Dataset, path: impl AsRef<Path>) -> Result<()> {
    write_parquet_batches(
        path.as_ref(),
        data.schema(),
        std::iter::once(Ok(data.batch().clone())),
        true,
    )
    .map(|_| ())
}

/// Writes batches of `schema` to one Parquet file as [`write_parquet`] does (Snappy, row groups
/// of at most 1,048,576 rows and about 256 MiB of values, see [`row_group_rows`], atomic);
/// returns the number of rows. The first error from `batches`
/// stops the write and removes the temporary file, leaving `path` as it was.
///
/// `batches` is read on a thread of its own, one batch ahead of the encoding (a CSV source
/// parses its next batch while this one is compressed), so at most three batches are held: the
/// one being read, one waiting, and the one being encoded, besides the open row group. The
/// columns of a batch are encoded in parallel, on the current rayon pool; the file is the same
/// bytes as `ArrowWriter` writes, at any number of threads. The file is synced to disk before
/// the rename when `sync` (see [`crate::stream::write_parquet_source_unsynced`] for when not).
pub(crate) fn write_parquet_batches(
    path: &Path,
    schema: SchemaRef,
    batches: impl Iterator<Item = Result<RecordBatch>> + Send,
    sync: bool,
) -> Result<usize> {
    // A caller inside a pool of n threads (a stage's `n_threads`) reads on n threads too.
    let pool = rayon::current_thread_index().map(|_| rayon::current_num_threads());
    std::thread::scope(|scope| {
        let (ahead, queued) = std::sync::mpsc::sync_channel::<Result<RecordBatch>>(1);
        scope.spawn(move || {
            // Stops when the writer does (an error of its own drops `queued`).
            let read = || crate::stream::read_ahead::forward(batches, &ahead);
            match pool {
                Some(n) => {
                    // `n` was the caller's pool size, so it is a valid thread count.
                    let _ = crate::threads::install(n, read);
                }
                None => read(),
            }
        });
        // `queued` is dropped when the write ends, which stops the reading thread.
        write_batches_in_order(path, schema, queued.into_iter(), sync)
    })
}

/// Raw bytes of values an open row group may hold (as Spark bounds a row group by its bytes,
/// 128 MB encoded by default): the row group is kept in memory until it is complete.
const ROW_GROUP_BYTES: usize = 256 << 20;

/// Rows per row group for rows of `schema`: as many as [`ROW_GROUP_BYTES`] of their values
/// hold (a value's width: its type's, a fixed-size list's length times its item's, 16 bytes
/// for text, binary and any other type), between 8,192 and 1,048,576 (arrow-rs's default row
/// count). On 10M rows of ad clicks (24 columns, 1,048,576-row groups; this bound gives them
/// 1,016,800) the write took 3.44 s against 3.59 s with the 262,144-row groups it had before
/// (medians of 6 alternating runs, AMD EPYC with AVX-512), for ~70 MB more peak memory.
fn row_group_rows(schema: &Schema) -> usize {
    fn width(t: &DataType) -> usize {
        match t {
            DataType::FixedSizeList(item, n) => width(item.data_type()) * (*n).max(0) as usize,
            t => t.primitive_width().unwrap_or(16),
        }
    }
    let row: usize = schema.fields().iter().map(|f| width(f.data_type())).sum();
    (ROW_GROUP_BYTES / row.max(1)).clamp(8 * 1024, 1024 * 1024)
}

/// The encoding side of [`write_parquet_batches`]: writes `batches` in order, atomically.
fn write_batches_in_order(
    path: &Path,
    schema: SchemaRef,
    batches: impl Iterator<Item = Result<RecordBatch>>,
    sync: bool,
) -> Result<usize> {
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(row_group_rows(&schema)))
        .build();
    let mut rows = 0;
    write_file_atomic_with_sync(path, sync, |out| {
        let mut writer = ColumnsInParallel::try_new(out, schema.clone(), props)
            .map_err(|e| pq_error(path, e))?;
        for batch in batches {
            let batch = batch?;
            let same =
                |a: &Field, b: &Field| a.name() == b.name() && a.data_type() == b.data_type();
            let fields = batch.schema().fields().clone();
            if fields.len() != schema.fields().len()
                || !fields.iter().zip(schema.fields()).all(|(a, b)| same(a, b))
            {
                return Err(MlError::data(format!(
                    "writing '{}': a batch's columns ({}) differ from the schema's ({})",
                    path.display(),
                    fields
                        .iter()
                        .map(|f| f.name().as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    schema
                        .fields()
                        .iter()
                        .map(|f| f.name().as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
            // The file's schema (with its field metadata) for every batch.
            let batch = RecordBatch::try_new(schema.clone(), batch.columns().to_vec())?;
            rows += batch.num_rows();
            writer.write(&batch).map_err(|e| pq_error(path, e))?;
        }
        writer.close().map_err(|e| pq_error(path, e))?;
        Ok(())
    })?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Row groups hold about 256 MiB of values: arrow-rs's 1,048,576 rows for a click log's
    /// narrow rows, fewer for wide ones (1,280 doubles: 10 KiB a row), never fewer than 8,192.
    #[test]
    fn row_groups_are_bounded_by_rows_and_bytes() {
        let clicks: Vec<Field> = (0..24)
            .map(|i| {
                let t = if i % 3 == 0 {
                    DataType::Utf8
                } else {
                    DataType::Int64
                };
                Field::new(format!("c{i}"), t, true)
            })
            .collect();
        // 8 text columns x 16 + 16 integer columns x 8 = 256 bytes a row: 1,048,576 rows.
        assert_eq!(row_group_rows(&Schema::new(clicks)), 1024 * 1024);
        let wide: Vec<Field> = (0..1280)
            .map(|i| Field::new(format!("f{i}"), DataType::Float64, true))
            .collect();
        assert_eq!(row_group_rows(&Schema::new(wide)), (256 << 20) / (1280 * 8));
        let vector = Field::new(
            "features",
            DataType::FixedSizeList(Arc::new(Field::new("item", DataType::Float32, true)), 4096),
            true,
        );
        // 16 KiB a row: 16,384 rows.
        assert_eq!(row_group_rows(&Schema::new(vec![vector])), 16 * 1024);
        let huge = Field::new(
            "features",
            DataType::FixedSizeList(
                Arc::new(Field::new("item", DataType::Float64, true)),
                1 << 20,
            ),
            true,
        );
        assert_eq!(row_group_rows(&Schema::new(vec![huge])), 8 * 1024);
        assert_eq!(row_group_rows(&Schema::empty()), 1024 * 1024);
    }
}
