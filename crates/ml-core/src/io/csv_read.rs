//! CSV reading: schema inference and a streaming record-batch reader.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;

use ::csv::{ByteRecord, ReaderBuilder};
use arrow::array::{
    ArrayRef, BooleanBuilder, Float64Builder, Int64Builder, NullBufferBuilder, StringArray,
    UInt64Builder,
};
use arrow::buffer::{Buffer, OffsetBuffer, ScalarBuffer};
use arrow::compute::{cast_with_options, CastOptions};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;

use super::csv_guard::{csv_error_of, next_record, CsvReader, Guard, READ_BUFFER};
use super::csv_plain::{Chunk, PlainLines, Stop, MAX_CHUNK_BYTES, READ_BLOCK};
use super::{concat_batches, parse_i64, parse_u64};
use crate::dataset::Dataset;
use crate::error::{MlError, Result};
use rayon::iter::{IntoParallelRefIterator, ParallelBridge, ParallelIterator};
use std::sync::atomic::{AtomicBool, Ordering};

/// Options for [`read_csv`], [`csv_batches`] and [`infer_csv_schema`].
///
/// The defaults follow Spark's `spark.read.csv(header=True, inferSchema=True)` with pandas'
/// null markers: comma-delimited, a header row, types inferred from the first 1000 rows,
/// `""`, `NA` and `null` read as nulls, batches of 8192 rows.
///
/// ```
/// use std::sync::Arc;
/// use arrow::datatypes::{DataType, Field, Schema};
/// use ml_core::io::CsvReadOptions;
///
/// let opts = CsvReadOptions::default()
///     .delimiter(b';')
///     .infer_rows(None) // infer from the whole file
///     .null_values(vec!["".into(), "?".into()]);
/// assert_eq!(opts.delimiter, b';');
/// let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Float64, true)]));
/// let explicit = CsvReadOptions::default().has_header(false).schema(schema);
/// assert!(explicit.schema.is_some());
/// ```
#[derive(Debug, Clone)]
pub struct CsvReadOptions {
    /// Field delimiter byte (default `b','`).
    pub delimiter: u8,
    /// Whether the first row holds column names (default `true`). Without a header the columns
    /// are named `_c0, _c1, ...`.
    pub has_header: bool,
    /// Number of data rows used to infer column types (default `Some(1000)`); `None` scans the
    /// whole file first.
    pub infer_rows: Option<usize>,
    /// Field values read as null (default `""`, `"NA"`, `"null"`), compared exactly.
    pub null_values: Vec<String>,
    /// An explicit schema; when set, no inference happens and its field names are used.
    pub schema: Option<SchemaRef>,
    /// Rows per record batch when streaming (default 8192).
    pub batch_size: usize,
    /// The columns to read, in this order (default `None`: every column). Only these are
    /// parsed, so a bad value in another column is not an error; the schema is still inferred
    /// (or given) for the whole file. A name the file lacks is an
    /// [`MlError::ColumnNotInFile`] naming file and column.
    pub columns: Option<Vec<String>>,
    /// Longest field accepted, in bytes (default [`DEFAULT_MAX_FIELD_BYTES`], 1 MiB); a longer
    /// one is an [`MlError::Csv`] naming the file, line and column.
    pub max_field_bytes: usize,
    /// Longest record accepted, in bytes of text (a line, or several when a quoted field holds
    /// line breaks; default [`DEFAULT_MAX_RECORD_BYTES`], 16 MiB). A longer one (say a file
    /// with an unclosed quote, or no line breaks at all) is an [`MlError::Csv`] naming the
    /// file and the line it starts on, raised before more than the limit and one read buffer
    /// (256 KiB) of it is held in memory.
    pub max_record_bytes: usize,
}

/// The default [`CsvReadOptions::max_field_bytes`]: 1 MiB.
pub const DEFAULT_MAX_FIELD_BYTES: usize = 1 << 20;
/// The default [`CsvReadOptions::max_record_bytes`]: 16 MiB.
pub const DEFAULT_MAX_RECORD_BYTES: usize = 16 << 20;

impl Default for CsvReadOptions {
    fn default() -> Self {
        CsvReadOptions {
            delimiter: b',',
            has_header: true,
            infer_rows: Some(1000),
            null_values: vec!["".into(), "NA".into(), "null".into()],
            schema: None,
            batch_size: 8192,
            columns: None,
            max_field_bytes: DEFAULT_MAX_FIELD_BYTES,
            max_record_bytes: DEFAULT_MAX_RECORD_BYTES,
        }
    }
}

impl CsvReadOptions {
    /// The default options.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the field delimiter.
    pub fn delimiter(mut self, delimiter: u8) -> Self {
        self.delimiter = delimiter;
        self
    }

    /// Sets whether the first row is a header.
    pub fn has_header(mut self, has_header: bool) -> Self {
        self.has_header = has_header;
        self
    }

    /// Sets how many rows type inference looks at (`None`: the whole file).
    pub fn infer_rows(mut self, infer_rows: Option<usize>) -> Self {
        self.infer_rows = infer_rows;
        self
    }

    /// Uses an explicit schema instead of inference.
    pub fn schema(mut self, schema: SchemaRef) -> Self {
        self.schema = Some(schema);
        self
    }

    /// Sets the number of rows per record batch (at least 1).
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size;
        self
    }

    /// Sets the longest field accepted, in bytes.
    pub fn max_field_bytes(mut self, bytes: usize) -> Self {
        self.max_field_bytes = bytes;
        self
    }

    /// Sets the longest record accepted, in bytes.
    pub fn max_record_bytes(mut self, bytes: usize) -> Self {
        self.max_record_bytes = bytes;
        self
    }

    /// Sets the values read as null.
    pub fn null_values(mut self, null_values: Vec<String>) -> Self {
        self.null_values = null_values;
        self
    }

    /// Reads only these columns, in this order (see [`CsvReadOptions::columns`]).
    ///
    /// ```
    /// use ml_core::io::{read_csv, CsvReadOptions};
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("t.csv");
    /// std::fs::write(&path, "a,b,c\n1,x,2.5\n2,y,3.5\n").unwrap();
    /// let ds = read_csv(&path, &CsvReadOptions::default().columns(&["c", "a"])).unwrap();
    /// assert_eq!(ds.column_names(), vec!["c", "a"]);
    /// let err = read_csv(&path, &CsvReadOptions::default().columns(&["d"])).unwrap_err();
    /// assert!(err.to_string().contains("'d'") && err.to_string().contains("t.csv"));
    /// ```
    pub fn columns(mut self, columns: &[&str]) -> Self {
        self.columns = Some(columns.iter().map(|c| c.to_string()).collect());
        self
    }
}

/// Exact-match set of null markers.
#[derive(Debug, Clone)]
struct NullSet {
    values: Vec<Vec<u8>>,
    max_len: usize,
}

impl NullSet {
    fn new(values: &[String]) -> Self {
        let values: Vec<Vec<u8>> = values.iter().map(|v| v.as_bytes().to_vec()).collect();
        let max_len = values.iter().map(Vec::len).max().unwrap_or(0);
        NullSet { values, max_len }
    }

    /// Whether `field` is one of the markers. Compared byte by byte in line: the fields and
    /// markers are a few bytes long, and a `memcmp` call per field of a marker's length (a
    /// four-digit number against "null") cost more than the comparison.
    #[inline]
    fn contains(&self, field: &[u8]) -> bool {
        field.len() <= self.max_len
            && self
                .values
                .iter()
                .any(|v| v.len() == field.len() && v.iter().zip(field).all(|(a, b)| a == b))
    }
}

#[inline]
fn parse_bool(bytes: &[u8]) -> Option<bool> {
    if bytes.eq_ignore_ascii_case(b"true") {
        Some(true)
    } else if bytes.eq_ignore_ascii_case(b"false") {
        Some(false)
    } else {
        None
    }
}

#[inline]
fn parse_f64(bytes: &[u8]) -> Option<f64> {
    std::str::from_utf8(bytes).ok()?.parse::<f64>().ok()
}

fn csv_error(path: &Path, line: usize, message: impl Into<String>) -> MlError {
    MlError::Csv {
        path: path.to_path_buf(),
        line,
        message: message.into(),
    }
}

fn map_csv_error(path: &Path, e: ::csv::Error) -> MlError {
    let line = e.position().map(|p| p.line() as usize).unwrap_or(0);
    match e.into_kind() {
        ::csv::ErrorKind::Io(io) => {
            csv_error_of(path, &io).unwrap_or_else(|| MlError::io(path, io))
        }
        other => csv_error(path, line, format!("{other:?}")),
    }
}

/// Opens the file, skipping a UTF-8 byte-order mark, and wraps it in a CSV reader.
fn open_reader(path: &Path, opts: &CsvReadOptions) -> Result<CsvReader> {
    for (param, v) in [
        ("max_field_bytes", opts.max_field_bytes),
        ("max_record_bytes", opts.max_record_bytes),
    ] {
        if v == 0 {
            return Err(MlError::param(param, "must be at least 1 byte, got 0"));
        }
    }
    let mut file = File::open(path).map_err(|e| MlError::io(path, e))?;
    let mut bom = [0u8; 3];
    let mut got = 0;
    while got < 3 {
        let n = file
            .read(&mut bom[got..])
            .map_err(|e| MlError::io(path, e))?;
        if n == 0 {
            break;
        }
        got += n;
    }
    let has_bom = got == 3 && bom == [0xEF, 0xBB, 0xBF];
    if !has_bom {
        file.seek(SeekFrom::Start(0))
            .map_err(|e| MlError::io(path, e))?;
    }
    Ok(ReaderBuilder::new()
        .delimiter(opts.delimiter)
        .has_headers(false)
        .flexible(true)
        .buffer_capacity(READ_BUFFER)
        .from_reader(Guard::new(
            file,
            if has_bom { 3 } else { 0 },
            opts.max_record_bytes,
            opts.max_field_bytes,
        )))
}

fn record_line(record: &ByteRecord) -> usize {
    record.position().map(|p| p.line() as usize).unwrap_or(0)
}

/// Reads the header row (when there is one) and returns the column names, or an error for an
/// empty file.
fn read_header(
    path: &Path,
    reader: &mut CsvReader,
    record: &mut ByteRecord,
) -> Result<Vec<String>> {
    let has = next_record(path, reader, record, map_csv_error)?;
    if !has {
        return Err(csv_error(
            path,
            1,
            "the file is empty: expected a header row with the column names \
             (use CsvReadOptions::has_header(false) for a file without a header)",
        ));
    }
    let raw: Vec<String> = record
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let name = String::from_utf8_lossy(f).into_owned();
            if name.is_empty() {
                format!("_c{i}")
            } else {
                name
            }
        })
        .collect();
    // Spark's rule for duplicate names: every duplicate gets its column index appended.
    let mut counts: crate::hash::FxHashMap<&str, usize> = Default::default();
    for n in &raw {
        *counts.entry(n.as_str()).or_default() += 1;
    }
    let names = raw
        .iter()
        .enumerate()
        .map(|(i, n)| {
            if counts[n.as_str()] > 1 {
                format!("{n}{i}")
            } else {
                n.clone()
            }
        })
        .collect::<Vec<String>>();
    // Renaming can collide with another header name ("a,a,a1" gives a1 twice).
    if let Some(dups) = super::duplicate_names(names.iter().map(String::as_str)) {
        return Err(csv_error(
            path,
            record_line(record),
            format!(
                "duplicate column names after renaming repeated header names (Spark's rule: \
                 the column index is appended): {dups}; rename the columns in the header"
            ),
        ));
    }
    Ok(names)
}

fn ragged_error(path: &Path, line: usize, found: usize, expected: usize, what: &str) -> MlError {
    csv_error(
        path,
        line,
        format!("the row has {found} fields but {what} has {expected}; every row needs the same number of fields (check quoting and delimiters)"),
    )
}

/// What inference has seen in a column.
#[derive(Debug, Clone, Copy, Default)]
struct Seen {
    int: bool,
    float: bool,
    boolean: bool,
    string: bool,
}

impl Seen {
    #[inline]
    fn observe(&mut self, field: &[u8]) {
        if self.string {
            return;
        }
        let t = field.trim_ascii();
        if parse_bool(t).is_some() {
            self.boolean = true;
        } else if parse_i64(t).is_some() {
            self.int = true;
        } else if parse_f64(t).is_some() {
            self.float = true;
        } else {
            self.string = true;
        }
        if self.boolean && (self.int || self.float) {
            self.string = true;
        }
    }

    fn data_type(&self) -> DataType {
        if self.string {
            DataType::Utf8
        } else if self.boolean {
            DataType::Boolean
        } else if self.float {
            DataType::Float64
        } else if self.int {
            DataType::Int64
        } else {
            // Only nulls (or no rows): Spark infers a string column.
            DataType::Utf8
        }
    }
}

/// Infers the schema of a CSV file (or returns the explicit schema of `opts`).
///
/// Looks at the first `opts.infer_rows` data rows (`None`: all of them). An all-null column is
/// `Utf8`. Errors: an empty file, a ragged row, an unreadable file; each names file and line.
pub fn infer_csv_schema(path: impl AsRef<Path>, opts: &CsvReadOptions) -> Result<SchemaRef> {
    let path = path.as_ref();
    if let Some(schema) = &opts.schema {
        return Ok(schema.clone());
    }
    let nulls = NullSet::new(&opts.null_values);
    let mut reader = open_reader(path, opts)?;
    let mut record = ByteRecord::new();
    let mut names = if opts.has_header {
        Some(read_header(path, &mut reader, &mut record)?)
    } else {
        None
    };
    let mut seen: Vec<Seen> = names
        .as_ref()
        .map(|n| vec![Seen::default(); n.len()])
        .unwrap_or_default();
    let limit = opts.infer_rows.unwrap_or(usize::MAX);
    let mut rows = 0usize;
    while rows < limit {
        if !next_record(path, &mut reader, &mut record, map_csv_error)? {
            break;
        }
        if names.is_none() {
            names = Some((0..record.len()).map(|i| format!("_c{i}")).collect());
            seen = vec![Seen::default(); record.len()];
        }
        if record.len() != seen.len() {
            let what = if opts.has_header {
                "the header"
            } else {
                "the first row"
            };
            return Err(ragged_error(
                path,
                record_line(&record),
                record.len(),
                seen.len(),
                what,
            ));
        }
        for (s, f) in seen.iter_mut().zip(record.iter()) {
            if !nulls.contains(f) {
                s.observe(f);
            }
        }
        rows += 1;
    }
    let names = names.ok_or_else(|| {
        csv_error(
            path,
            1,
            "the file is empty: there are no rows to infer a schema from; pass an explicit schema with CsvReadOptions::schema",
        )
    })?;
    let fields: Vec<Field> = names
        .into_iter()
        .zip(seen.iter())
        .map(|(n, s)| Field::new(n, s.data_type(), true))
        .collect();
    Ok(Arc::new(Schema::new(fields)))
}

/// How a column is parsed.
#[derive(Debug, Clone)]
enum Kind {
    /// Parsed as i64 and range-checked, then cast to the target integer type if not Int64.
    Int {
        target: DataType,
        min: i64,
        max: i64,
    },
    /// Parsed as u64 (UInt64 columns: identifiers past the range of i64).
    UInt64,
    /// Parsed as f64, then cast to the target if not Float64.
    Float {
        target: DataType,
    },
    Boolean,
    Utf8,
    /// Collected as strings, then converted with Arrow's cast kernel.
    Cast {
        target: DataType,
    },
}

impl Kind {
    fn of(dt: &DataType) -> Kind {
        let int = |min: i64, max: i64| Kind::Int {
            target: dt.clone(),
            min,
            max,
        };
        match dt {
            DataType::Int64 => int(i64::MIN, i64::MAX),
            DataType::Int32 => int(i32::MIN as i64, i32::MAX as i64),
            DataType::Int16 => int(i16::MIN as i64, i16::MAX as i64),
            DataType::Int8 => int(i8::MIN as i64, i8::MAX as i64),
            DataType::UInt32 => int(0, u32::MAX as i64),
            DataType::UInt16 => int(0, u16::MAX as i64),
            DataType::UInt8 => int(0, u8::MAX as i64),
            DataType::UInt64 => Kind::UInt64,
            DataType::Float64 | DataType::Float32 => Kind::Float { target: dt.clone() },
            DataType::Boolean => Kind::Boolean,
            DataType::Utf8 => Kind::Utf8,
            other => Kind::Cast {
                target: other.clone(),
            },
        }
    }
}

enum ColBuf {
    Int(Int64Builder),
    UInt64(UInt64Builder),
    Float(Float64Builder),
    Bool(BooleanBuilder),
    Str(StrBuf),
}

/// The fields of a text column as raw bytes, checked as UTF-8 once when the column is done
/// (one validation of the whole buffer instead of one per field: the fields are short, and a
/// call per field cost as much as the rest of their parsing).
struct StrBuf {
    values: Vec<u8>,
    offsets: Vec<i32>,
    nulls: NullBufferBuilder,
}

impl StrBuf {
    fn new(rows: usize, bytes: usize) -> StrBuf {
        let mut offsets = Vec::with_capacity(rows + 1);
        offsets.push(0);
        StrBuf {
            values: Vec::with_capacity(bytes),
            offsets,
            nulls: NullBufferBuilder::new(rows),
        }
    }

    /// Appends a field's bytes; `Err(())` when the column's text would pass 2 GiB (Arrow's
    /// 32-bit offsets).
    #[inline]
    fn push(&mut self, field: &[u8]) -> std::result::Result<(), ()> {
        self.values.extend_from_slice(field);
        self.offsets
            .push(i32::try_from(self.values.len()).map_err(|_| ())?);
        self.nulls.append_non_null();
        Ok(())
    }

    #[inline]
    fn push_null(&mut self) {
        self.offsets.push(*self.offsets.last().unwrap_or(&0));
        self.nulls.append_null();
    }

    /// The column as a `StringArray`; `Err` when some field is not valid UTF-8 (the whole
    /// text is checked, and every field boundary must fall between characters, so that each
    /// field is valid UTF-8 exactly when this succeeds).
    fn finish(&mut self) -> std::result::Result<ArrayRef, ()> {
        let offsets = OffsetBuffer::new(ScalarBuffer::from(std::mem::take(&mut self.offsets)));
        let values = Buffer::from_vec(std::mem::take(&mut self.values));
        StringArray::try_new(offsets, values, self.nulls.finish())
            .map(|a| Arc::new(a) as ArrayRef)
            .map_err(|_| ())
    }
}

impl ColBuf {
    fn new(kind: &Kind, rows: usize, str_bytes: usize) -> ColBuf {
        match kind {
            Kind::Int { .. } => ColBuf::Int(Int64Builder::with_capacity(rows)),
            Kind::UInt64 => ColBuf::UInt64(UInt64Builder::with_capacity(rows)),
            Kind::Float { .. } => ColBuf::Float(Float64Builder::with_capacity(rows)),
            Kind::Boolean => ColBuf::Bool(BooleanBuilder::with_capacity(rows)),
            Kind::Utf8 | Kind::Cast { .. } => ColBuf::Str(StrBuf::new(rows, str_bytes)),
        }
    }

    /// Appends one non-null field; `Err(())` when it does not parse.
    #[inline]
    fn push(&mut self, kind: &Kind, field: &[u8]) -> std::result::Result<(), ()> {
        match self {
            ColBuf::Int(b) => {
                let v = parse_i64(field.trim_ascii()).ok_or(())?;
                if let Kind::Int { min, max, .. } = kind {
                    if v < *min || v > *max {
                        return Err(());
                    }
                }
                b.append_value(v);
            }
            ColBuf::UInt64(b) => b.append_value(parse_u64(field.trim_ascii()).ok_or(())?),
            ColBuf::Float(b) => b.append_value(parse_f64(field.trim_ascii()).ok_or(())?),
            ColBuf::Bool(b) => b.append_value(parse_bool(field.trim_ascii()).ok_or(())?),
            ColBuf::Str(b) => b.push(field)?,
        }
        Ok(())
    }

    #[inline]
    fn push_null(&mut self) {
        match self {
            ColBuf::Int(b) => b.append_null(),
            ColBuf::UInt64(b) => b.append_null(),
            ColBuf::Float(b) => b.append_null(),
            ColBuf::Bool(b) => b.append_null(),
            ColBuf::Str(b) => b.push_null(),
        }
    }

    /// The column's array; `Err(())` when a text field is not valid UTF-8 (see
    /// [`StrBuf::finish`]).
    fn finish(&mut self) -> std::result::Result<ArrayRef, ()> {
        Ok(match self {
            ColBuf::Int(b) => Arc::new(b.finish()),
            ColBuf::UInt64(b) => Arc::new(b.finish()),
            ColBuf::Float(b) => Arc::new(b.finish()),
            ColBuf::Bool(b) => Arc::new(b.finish()),
            ColBuf::Str(b) => return b.finish(),
        })
    }
}

/// Splits the file into records (sequential part of reading): plain lines straight from the
/// bytes ([`PlainLines`]), any other line with the CSV parser, which then reads to the end of
/// the chunk (the next chunk starts plain again).
struct Tokenizer {
    path: PathBuf,
    reader: CsvReader,
    record: ByteRecord,
    ncols: usize,
    bytes_hint: usize,
    /// `None` when lines cannot be split plainly (see [`PlainLines::open`]).
    plain: Option<PlainLines>,
    /// Whether the CSV parser, not `plain`, is at the next record.
    parser_at_next: bool,
}

impl Tokenizer {
    /// A tokenizer from where `reader` is (past the header, if any). Lines are split plainly
    /// once the CSV parser has read a record (the header, or the first data record: the csv
    /// crate reads it before any seek, see [`Tokenizer::hand_over`]).
    fn new(
        path: &Path,
        reader: CsvReader,
        record: ByteRecord,
        ncols: usize,
        opts: &CsvReadOptions,
    ) -> Result<Tokenizer> {
        let pos = reader.position();
        let plain = PlainLines::open(
            path,
            reader.get_ref().base,
            (pos.byte(), pos.line()),
            opts.delimiter,
            ncols,
            (opts.max_record_bytes, opts.max_field_bytes),
        )
        .map_err(|e| MlError::io(path, e))?;
        Ok(Tokenizer {
            path: path.to_path_buf(),
            reader,
            record,
            ncols,
            bytes_hint: 1 << 16,
            plain,
            parser_at_next: !opts.has_header,
        })
    }

    /// Moves the CSV parser to where the plain lines stopped.
    fn hand_over(&mut self) -> Result<()> {
        let Some(plain) = &self.plain else {
            return Ok(());
        };
        let (offset, line) = plain.position();
        let mut pos = ::csv::Position::new();
        pos.set_byte(offset)
            .set_line(line)
            .set_record(self.reader.position().record());
        let base = self.reader.get_ref().base;
        self.reader
            .seek_raw(SeekFrom::Start(base + offset), pos)
            .map_err(|e| map_csv_error(&self.path, e))?;
        self.reader.get_ref().set_record_line(line);
        self.parser_at_next = true;
        Ok(())
    }

    fn next_chunk(&mut self, max_rows: usize) -> Result<Option<Chunk>> {
        let ncols = self.ncols;
        // Room for as many bytes as the largest chunk so far and a block read past its last
        // line, so that the bytes are not copied as they grow.
        let mut chunk = Chunk::new(
            ncols,
            max_rows.min(1 << 16),
            self.bytes_hint + 2 * READ_BLOCK as usize,
        );
        if let Some(plain) = &mut self.plain {
            if self.parser_at_next && self.reader.position().record() > 0 {
                let pos = self.reader.position();
                plain
                    .resume_at(pos.byte(), pos.line())
                    .map_err(|e| MlError::io(&self.path, e))?;
                self.parser_at_next = false;
            }
            if !self.parser_at_next {
                let stop = plain
                    .take(&mut chunk, max_rows)
                    .map_err(|e| MlError::io(&self.path, e))?;
                if stop == Stop::NotPlain {
                    self.hand_over()?;
                }
            }
        }
        while self.parser_at_next && chunk.rows() < max_rows && chunk.data.len() < MAX_CHUNK_BYTES {
            let more = next_record(
                &self.path,
                &mut self.reader,
                &mut self.record,
                map_csv_error,
            )?;
            if !more {
                break;
            }
            let line = record_line(&self.record);
            if self.record.len() != ncols {
                return Err(ragged_error(
                    &self.path,
                    line,
                    self.record.len(),
                    ncols,
                    "the schema",
                ));
            }
            let base = chunk.data.len();
            // Field offsets are `u32` (see `Chunk::fields`).
            if u32::try_from(base + self.record.as_slice().len()).is_err() {
                return Err(csv_error(
                    &self.path,
                    line,
                    format!(
                        "the records read at once pass 4 GiB (this one is {} bytes); lower \
                         CsvReadOptions::max_record_bytes",
                        self.record.as_slice().len()
                    ),
                ));
            }
            chunk.data.extend_from_slice(self.record.as_slice());
            for (i, f) in chunk.fields.iter_mut().enumerate() {
                let (start, end) = self.record.range(i).map_or((0, 0), |r| (r.start, r.end));
                // Within the record, so they fit in `u32` too.
                f.push(((base + start) as u32, (base + end) as u32));
            }
            chunk.lines.push(line);
        }
        if chunk.rows() == 0 {
            return Ok(None);
        }
        self.bytes_hint = self.bytes_hint.max(chunk.data.len());
        Ok(Some(chunk))
    }
}

/// Turns chunks into record batches (the part that runs in parallel in [`read_csv`]).
struct Parser {
    path: PathBuf,
    /// The schema of the whole file.
    schema: SchemaRef,
    /// The columns parsed (positions in `schema`), in output order.
    proj: Vec<usize>,
    /// The schema of the batches made (the projected columns).
    out_schema: SchemaRef,
    kinds: Vec<Kind>,
    nulls: NullSet,
    inferred: Option<Option<usize>>,
}

impl Parser {
    fn parse_error(&self, col: usize, line: usize, field: &[u8]) -> MlError {
        let f = self.schema.field(col);
        let origin = match self.inferred {
            Some(Some(n)) => format!(
                "the type was inferred from the first {n} rows; read with CsvReadOptions::infer_rows(None) to infer from the whole file, or pass an explicit schema"
            ),
            Some(None) => "the type was inferred from the whole file".to_string(),
            None => "the type comes from the explicit schema; fix the value or the schema (e.g. Utf8)".to_string(),
        };
        let value = String::from_utf8_lossy(field);
        let what = if std::str::from_utf8(field).is_err() {
            "is not valid UTF-8".to_string()
        } else {
            match self.kinds[col] {
                Kind::Int { .. } | Kind::UInt64 => {
                    format!("is not a valid {} integer", f.data_type())
                }
                _ => format!("is not a valid {}", f.data_type()),
            }
        };
        csv_error(
            &self.path,
            line,
            format!(
                "column '{}' (field {}): value \"{}\" {what}; {origin}",
                f.name(),
                col + 1,
                value
            ),
        )
    }

    /// The chunk's projected columns as a record batch, the columns parsed in parallel. On a
    /// bad field, the error names the first one in row-major order (whatever the thread
    /// count: each column reports its first bad row, and the smallest (row, column) wins).
    fn parse(&self, chunk: &Chunk) -> Result<RecordBatch> {
        let rows = chunk.rows();
        let field = |r: usize, c: usize| chunk.field(r, c);
        // Per projected column: its array, or the row of its first bad field.
        let parsed: Vec<std::result::Result<Result<ArrayRef>, usize>> = self
            .proj
            .par_iter()
            .map(|&c| {
                let kind = &self.kinds[c];
                // A text column's bytes, counted first, so that its buffer is never grown
                // (and copied) while it fills.
                let text_bytes = match kind {
                    Kind::Utf8 | Kind::Cast { .. } => chunk.fields[c]
                        .iter()
                        .map(|&(start, end)| (end - start) as usize)
                        .sum(),
                    _ => 0,
                };
                let mut buf = ColBuf::new(kind, rows, text_bytes);
                for r in 0..rows {
                    let f = field(r, c);
                    if self.nulls.contains(f) {
                        buf.push_null();
                    } else if buf.push(kind, f).is_err() {
                        return Err(r);
                    }
                }
                match buf.finish() {
                    Ok(array) => Ok(self.cast_column(c, array, chunk, rows)),
                    // Text that is not UTF-8: the first field at fault (a null marker is
                    // ASCII, so it never is).
                    Err(()) => Err((0..rows)
                        .find(|&r| std::str::from_utf8(field(r, c)).is_err())
                        .unwrap_or(0)),
                }
            })
            .collect();
        let first_bad = parsed
            .iter()
            .zip(&self.proj)
            .filter_map(|(p, &c)| p.as_ref().err().map(|&r| (r, c)))
            .min();
        if let Some((r, c)) = first_bad {
            return Err(self.parse_error(c, chunk.lines[r], field(r, c)));
        }
        let columns = parsed
            .into_iter()
            .map(|p| p.unwrap_or_else(|_| unreachable!("no bad field")))
            .collect::<Result<Vec<_>>>()?;
        RecordBatch::try_new(self.out_schema.clone(), columns).map_err(|e| {
            csv_error(
                &self.path,
                chunk.lines[0],
                format!("cannot build a record batch: {e}"),
            )
        })
    }

    /// Column `c`'s parsed values in the column's type (a cast where the parse type differs).
    fn cast_column(
        &self,
        c: usize,
        array: ArrayRef,
        chunk: &Chunk,
        rows: usize,
    ) -> Result<ArrayRef> {
        match &self.kinds[c] {
            Kind::Int { target, .. } | Kind::Float { target } | Kind::Cast { target }
                if target != array.data_type() =>
            {
                let options = CastOptions {
                    safe: false,
                    ..Default::default()
                };
                cast_with_options(&array, target, &options).map_err(|e| {
                    csv_error(
                        &self.path,
                        chunk.lines[0],
                        format!(
                            "column '{}': cannot convert the values of the {rows} rows starting here to {}: {e}",
                            self.schema.field(c).name(),
                            target
                        ),
                    )
                })
            }
            _ => Ok(array),
        }
    }
}

/// A streaming CSV reader yielding record batches of at most `batch_size` rows; made by
/// [`csv_batches`].
///
/// Splitting the file into records runs one chunk ahead on a thread of its own, while the
/// calling thread parses the previous chunk's columns (in parallel, on the current rayon
/// pool); at most two chunks are held. After an error the iterator ends.
pub struct CsvBatches {
    /// Until the first batch is asked for; then it moves to the tokenizer thread.
    tokenizer: Option<Tokenizer>,
    /// The tokenizer thread's chunks, once started.
    ahead: Option<Receiver<Result<Option<Chunk>>>>,
    parser: Parser,
    batch_size: usize,
    done: bool,
}

impl std::fmt::Debug for CsvBatches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CsvBatches")
            .field("path", &self.parser.path)
            .field("schema", &self.parser.schema)
            .field("batch_size", &self.batch_size)
            .finish()
    }
}

impl CsvBatches {
    /// The schema of every batch (the projected columns when [`CsvReadOptions::columns`] is
    /// set).
    pub fn schema(&self) -> SchemaRef {
        self.parser.out_schema.clone()
    }
}

impl CsvBatches {
    /// The next chunk of records from the tokenizer thread (started on the first call).
    fn next_chunk(&mut self) -> Result<Option<Chunk>> {
        if self.ahead.is_none() {
            let Some(mut tokenizer) = self.tokenizer.take() else {
                return Ok(None);
            };
            // One chunk in the channel and one being made: memory stays bounded.
            let (tx, rx) = sync_channel(1);
            let rows = self.batch_size;
            std::thread::Builder::new()
                .name("csv-tokenizer".into())
                .spawn(move || loop {
                    let chunk = tokenizer.next_chunk(rows);
                    let last = !matches!(chunk, Ok(Some(_)));
                    // A closed channel: the reader was dropped; stop.
                    if tx.send(chunk).is_err() || last {
                        break;
                    }
                })
                .map_err(|e| {
                    csv_error(
                        &self.parser.path,
                        0,
                        format!("cannot start the thread that splits the file into records: {e}"),
                    )
                })?;
            self.ahead = Some(rx);
        }
        match self.ahead.as_ref().map(|rx| rx.recv()) {
            Some(Ok(chunk)) => chunk,
            _ => Err(csv_error(
                &self.parser.path,
                0,
                "the thread splitting the file into records stopped unexpectedly".to_string(),
            )),
        }
    }
}

impl Iterator for CsvBatches {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let result = self
            .next_chunk()
            .and_then(|chunk| chunk.map(|c| self.parser.parse(&c)).transpose());
        match result {
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

/// Streams a CSV file in record batches of `opts.batch_size` rows.
///
/// The schema is inferred first (a separate pass over the first `opts.infer_rows` rows) unless
/// `opts.schema` is set. Memory use is bounded by one batch, so files larger than memory can be
/// processed batch by batch.
///
/// ```
/// use ml_core::io::{csv_batches, CsvReadOptions};
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("n.csv");
/// std::fs::write(&path, "n\n1\n2\n3\n4\n5\n").unwrap();
/// let batches = csv_batches(&path, &CsvReadOptions::default().batch_size(2)).unwrap();
/// let sizes: Vec<usize> = batches.map(|b| b.unwrap().num_rows()).collect();
/// assert_eq!(sizes, vec![2, 2, 1]);
/// ```
pub fn csv_batches(path: impl AsRef<Path>, opts: &CsvReadOptions) -> Result<CsvBatches> {
    let inferred = opts.schema.is_none().then_some(opts.infer_rows);
    csv_batches_inferred(path.as_ref(), opts, inferred)
}

/// [`csv_batches`] with a schema in `opts` that was itself inferred from the first
/// `inferred` rows (`Some(None)`: the whole file; `None`: the caller's explicit schema), so
/// that a value the schema does not admit is reported with where its type came from.
pub(crate) fn csv_batches_inferred(
    path: &Path,
    opts: &CsvReadOptions,
    inferred: Option<Option<usize>>,
) -> Result<CsvBatches> {
    if opts.batch_size == 0 {
        return Err(MlError::param("batch_size", "must be at least 1"));
    }
    let schema = infer_csv_schema(path, opts)?;
    let mut reader = open_reader(path, opts)?;
    let mut record = ByteRecord::new();
    if opts.has_header {
        let names = read_header(path, &mut reader, &mut record)?;
        if names.len() != schema.fields().len() {
            return Err(csv_error(
                path,
                1,
                format!(
                    "the header has {} columns but the schema has {} fields",
                    names.len(),
                    schema.fields().len()
                ),
            ));
        }
    }
    let kinds = schema
        .fields()
        .iter()
        .map(|f| Kind::of(f.data_type()))
        .collect();
    let proj = match &opts.columns {
        Some(cols) => super::projection_indices(path, &schema, cols)?,
        None => (0..schema.fields().len()).collect(),
    };
    let out_schema = if opts.columns.is_some() {
        Arc::new(schema.project(&proj)?)
    } else {
        schema.clone()
    };
    Ok(CsvBatches {
        ahead: None,
        tokenizer: Some(Tokenizer::new(
            path,
            reader,
            record,
            schema.fields().len(),
            opts,
        )?),
        parser: Parser {
            path: path.to_path_buf(),
            schema,
            proj,
            out_schema,
            kinds,
            nulls: NullSet::new(&opts.null_values),
            inferred,
        },
        batch_size: opts.batch_size,
        done: false,
    })
}

/// Reads a whole CSV file into one [`Dataset`].
///
/// See the [module documentation](crate::io) for the inference rules and an example. Errors
/// (typed [`MlError::Csv`] naming file and line, or [`MlError::Io`]): an empty file, a ragged
/// row, a value that does not parse under the inferred or explicit schema.
pub fn read_csv(path: impl AsRef<Path>, opts: &CsvReadOptions) -> Result<Dataset> {
    read_all(path.as_ref(), csv_batches(path.as_ref(), opts)?)
}

/// [`read_csv`] and [`csv_batches`] with every record read by the CSV parser (no plain
/// lines): the reference the plain lines are tested against.
#[cfg(test)]
pub(super) fn parser_only(
    path: &Path,
    opts: &CsvReadOptions,
    whole: bool,
) -> Result<Vec<RecordBatch>> {
    let mut batches = csv_batches(path, opts)?;
    if let Some(t) = batches.tokenizer.as_mut() {
        t.plain = None;
        t.parser_at_next = true;
    }
    if whole {
        Ok(vec![read_all(path, batches)?.into_batch()])
    } else {
        batches.collect()
    }
}

/// The whole file of `batches` (not started) as one dataset, chunks parsed in parallel.
fn read_all(path: &Path, batches: CsvBatches) -> Result<Dataset> {
    let CsvBatches {
        tokenizer,
        parser,
        batch_size,
        ..
    } = batches;
    let mut tokenizer = tokenizer
        .ok_or_else(|| csv_error(path, 0, "the reader was already started".to_string()))?;
    // One thread splits records into chunks while the others parse chunks into columns. The
    // result (and which error is reported: the first in file order) does not depend on the
    // number of threads.
    let stop = AtomicBool::new(false);
    let mut index = 0usize;
    let chunks = std::iter::from_fn(|| {
        if stop.load(Ordering::Relaxed) {
            return None;
        }
        let i = index;
        index += 1;
        match tokenizer.next_chunk(batch_size) {
            Ok(Some(chunk)) => Some((i, Ok(chunk))),
            Ok(None) => None,
            Err(e) => {
                stop.store(true, Ordering::Relaxed);
                Some((i, Err(e)))
            }
        }
    });
    let mut parsed: Vec<(usize, Result<RecordBatch>)> = chunks
        .par_bridge()
        .map(|(i, chunk)| {
            let batch = chunk.and_then(|c| parser.parse(&c));
            if batch.is_err() {
                stop.store(true, Ordering::Relaxed);
            }
            (i, batch)
        })
        .collect();
    parsed.sort_by_key(|(i, _)| *i);
    let batches: Vec<RecordBatch> = parsed.into_iter().map(|(_, b)| b).collect::<Result<_>>()?;
    concat_batches(&parser.out_schema, batches).map(Dataset::new)
}
