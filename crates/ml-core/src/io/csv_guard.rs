//! Size limits of CSV reading: a record (a line, or several lines when a quoted field holds
//! line breaks) longer than `max_record_bytes` is refused while it is read, before the CSV
//! parser has buffered more than the limit and one read buffer of it; a field longer than
//! `max_field_bytes` is refused when its record is complete. Both are
//! [`MlError::Csv`](crate::MlError::Csv) errors naming the file and the line.

use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use ::csv::{ByteRecord, Reader};

use crate::error::{MlError, Result};

/// Capacity of the CSV parser's read buffer: the most it reads ahead of the record it parses.
pub(super) const READ_BUFFER: usize = 1 << 18;

/// A CSV reader over a guarded file.
pub(super) type CsvReader = Reader<Guard<std::fs::File>>;

/// Passes reads through while the record being parsed stays within `max_record_bytes`.
pub(super) struct Guard<R> {
    inner: R,
    /// Offset in `inner` of the stream's byte 0 (past a byte-order mark).
    pub(super) base: u64,
    /// Bytes handed to the parser so far.
    delivered: u64,
    /// Stream offset and one-based line where the record being parsed starts (set after
    /// every record by [`next_record`]).
    record_start: AtomicU64,
    record_line: AtomicU64,
    pub(super) max_record_bytes: usize,
    pub(super) max_field_bytes: usize,
}

impl<R> Guard<R> {
    /// Guards `inner`, positioned where the parser starts (offset 0 of its positions), which
    /// is offset `base` of `inner`.
    pub(super) fn new(
        inner: R,
        base: u64,
        max_record_bytes: usize,
        max_field_bytes: usize,
    ) -> Self {
        Guard {
            inner,
            base,
            delivered: 0,
            record_start: AtomicU64::new(0),
            record_line: AtomicU64::new(1),
            max_record_bytes,
            max_field_bytes,
        }
    }
}

impl<R> Guard<R> {
    /// The line of the record the parser reads next, for the error of a record too long
    /// (after a seek to it).
    pub(super) fn set_record_line(&self, line: u64) {
        self.record_line.store(line, Ordering::Relaxed);
    }
}

/// The error a [`Guard`] stops the parser with; turned into an [`MlError::Csv`] by
/// [`csv_error_of`].
#[derive(Debug)]
pub(super) struct RecordTooLong {
    line: u64,
    limit: usize,
}

impl std::fmt::Display for RecordTooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the record starting here is longer than max_record_bytes = {} bytes (an unclosed \
             quote, or not a CSV file?); raise CsvReadOptions::max_record_bytes for such data",
            self.limit
        )
    }
}

impl std::error::Error for RecordTooLong {}

impl<R: Read> Read for Guard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let start = self.record_start.load(Ordering::Relaxed);
        if self.delivered.saturating_sub(start) > (self.max_record_bytes + READ_BUFFER) as u64 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                RecordTooLong {
                    line: self.record_line.load(Ordering::Relaxed),
                    limit: self.max_record_bytes,
                },
            ));
        }
        let n = self.inner.read(buf)?;
        self.delivered += n as u64;
        Ok(n)
    }
}

/// Seeks in `inner`'s offsets; the parser's next record then starts there (offset minus
/// `base` in the stream), as when the parser resumes reading at a record of its own.
impl<R: Seek> Seek for Guard<R> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let at = self.inner.seek(pos)?;
        let stream = at.saturating_sub(self.base);
        self.delivered = stream;
        self.record_start.store(stream, Ordering::Relaxed);
        Ok(at)
    }
}

/// The [`MlError::Csv`] of a [`RecordTooLong`] inside a CSV I/O error, if that is what it is.
pub(super) fn csv_error_of(path: &Path, io: &io::Error) -> Option<MlError> {
    let e = io.get_ref()?.downcast_ref::<RecordTooLong>()?;
    Some(MlError::Csv {
        path: path.to_path_buf(),
        line: e.line as usize,
        message: e.to_string(),
    })
}

/// Reads the next record into `record`, enforcing both limits; false at the end of the file.
pub(super) fn next_record(
    path: &Path,
    reader: &mut CsvReader,
    record: &mut ByteRecord,
    map_error: impl Fn(&Path, ::csv::Error) -> MlError,
) -> Result<bool> {
    if !reader
        .read_byte_record(record)
        .map_err(|e| map_error(path, e))?
    {
        return Ok(false);
    }
    let next = reader.position().clone();
    let guard = reader.get_ref();
    let (start, line) = record.position().map_or((0, 0), |p| (p.byte(), p.line()));
    let raw_len = next.byte().saturating_sub(start);
    let too_long = |message: String| MlError::Csv {
        path: path.to_path_buf(),
        line: line as usize,
        message,
    };
    if raw_len > guard.max_record_bytes as u64 {
        return Err(too_long(format!(
            "the record is {raw_len} bytes, longer than max_record_bytes = {}; raise \
             CsvReadOptions::max_record_bytes for such data",
            guard.max_record_bytes
        )));
    }
    if raw_len > guard.max_field_bytes as u64 {
        for (i, field) in record.iter().enumerate() {
            if field.len() > guard.max_field_bytes {
                return Err(too_long(format!(
                    "column {} holds a field of {} bytes, longer than max_field_bytes = {}; \
                     raise CsvReadOptions::max_field_bytes for such data",
                    i + 1,
                    field.len(),
                    guard.max_field_bytes
                )));
            }
        }
    }
    guard.record_start.store(next.byte(), Ordering::Relaxed);
    guard.record_line.store(next.line(), Ordering::Relaxed);
    Ok(true)
}
