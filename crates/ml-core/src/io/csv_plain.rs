//! Plain lines of a CSV file, split without the CSV state machine.
//!
//! A line that ends in `\n`, is not empty and holds no quote (`"`) and no `\r` is, to the CSV
//! parser (`csv_core` with the options [`CsvReadOptions`](super::CsvReadOptions) sets), one
//! record whose fields are the bytes between delimiters; its line number is one more than the
//! line before. [`PlainLines`] takes such lines straight from the file's bytes (a `memchr`
//! for the line end and the quote and `\r`, eight bytes at a time for the delimiters) instead
//! of running the parser's state machine byte by byte, and leaves the bytes where they were
//! read: a chunk's fields are ranges of the bytes read.
//!
//! Any other line (an empty one, one with a quote or a `\r`, a last line without `\n`, a line
//! with another number of fields than the schema, or longer than a size limit) stops it at
//! the line's start, and the tokenizer reads from there with the CSV parser, which gives every
//! such line its usual meaning or error. So the records, their line numbers and the errors are
//! the parser's whatever the file holds; only the time spent differs.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

/// Bytes read from the file at a time.
pub(super) const READ_BLOCK: u64 = 1 << 18;

/// A chunk takes no more lines once its bytes pass this (2 GiB); with a line of at most
/// [`MAX_PLAIN_LINE`] bytes after it, its field offsets stay below `u32::MAX`.
pub(super) const MAX_CHUNK_BYTES: usize = 1 << 31;

/// The longest line taken plainly (1 GiB); a longer one goes to the CSV parser, whose own
/// limit (`max_record_bytes`) applies.
const MAX_PLAIN_LINE: usize = 1 << 30;

/// The raw fields of up to `batch_size` consecutive records.
pub(super) struct Chunk {
    /// The bytes the fields are ranges of.
    pub data: Vec<u8>,
    /// Per column, the `(start, end)` byte range in `data` of the field of every row (`data`
    /// stays below [`MAX_CHUNK_BYTES`] plus one record, so the offsets fit in `u32`: half the
    /// bytes written and read back per field).
    pub fields: Vec<Vec<(u32, u32)>>,
    /// One-based line on which each row starts.
    pub lines: Vec<usize>,
}

impl Chunk {
    /// An empty chunk of `ncols` columns, with room for `rows` rows of `bytes` bytes in all.
    pub fn new(ncols: usize, rows: usize, bytes: usize) -> Chunk {
        Chunk {
            data: Vec::with_capacity(bytes),
            fields: (0..ncols).map(|_| Vec::with_capacity(rows)).collect(),
            lines: Vec::with_capacity(rows),
        }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.lines.len()
    }

    /// The bytes of the field of row `r`, column `c`.
    #[inline]
    pub fn field(&self, r: usize, c: usize) -> &[u8] {
        let (start, end) = self.fields[c][r];
        &self.data[start as usize..end as usize]
    }
}

/// Why [`PlainLines::take`] stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stop {
    /// The chunk has its rows.
    Full,
    /// The end of the file, after the last line.
    End,
    /// The next line is not plain: read it with the CSV parser, from
    /// [`PlainLines::position`].
    NotPlain,
}

/// The plain lines of a CSV file from a position on (see the module docs).
pub(super) struct PlainLines {
    file: File,
    /// File offset of the stream's byte 0 (past a byte-order mark).
    base: u64,
    delimiter: u8,
    ncols: usize,
    max_record_bytes: usize,
    max_field_bytes: usize,
    /// Bytes read past the last line taken, put at the start of the next chunk's.
    carry: Vec<u8>,
    /// Stream offset and one-based line number of the next line (the first byte of `carry`).
    offset: u64,
    line: u64,
    /// Whether the file has no bytes past `carry`.
    eof: bool,
    /// Whether the CPU has AVX-512BW (the delimiters of a line found 64 bytes at a time).
    avx512: bool,
}

impl PlainLines {
    /// Plain lines of `ncols` fields of the file at `path` from stream offset `offset` on
    /// (line `line`), the stream starting at file offset `base`; `None` when lines cannot be
    /// split plainly with this delimiter (a quote or a line-break byte).
    pub fn open(
        path: &Path,
        base: u64,
        (offset, line): (u64, u64),
        delimiter: u8,
        ncols: usize,
        (max_record_bytes, max_field_bytes): (usize, usize),
    ) -> io::Result<Option<PlainLines>> {
        if matches!(delimiter, b'"' | b'\r' | b'\n') {
            return Ok(None);
        }
        let mut lines = PlainLines {
            file: File::open(path)?,
            base,
            delimiter,
            ncols,
            max_record_bytes,
            max_field_bytes,
            carry: Vec::new(),
            offset: 0,
            line: 0,
            eof: false,
            avx512: has_avx512bw(),
        };
        lines.resume_at(offset, line)?;
        Ok(Some(lines))
    }

    /// Continues from stream offset `offset`, line `line` (where the CSV parser stopped).
    pub fn resume_at(&mut self, offset: u64, line: u64) -> io::Result<()> {
        self.file.seek(SeekFrom::Start(self.base + offset))?;
        self.carry.clear();
        self.offset = offset;
        self.line = line;
        self.eof = false;
        Ok(())
    }

    /// Stream offset and line number of the next line: where the CSV parser takes over after
    /// [`Stop::NotPlain`].
    pub fn position(&self) -> (u64, u64) {
        (self.offset, self.line)
    }

    /// Appends plain lines to `chunk` (after the bytes it holds) until it has `max_rows` rows,
    /// the file ends, or the next line is not plain.
    pub fn take(&mut self, chunk: &mut Chunk, max_rows: usize) -> io::Result<Stop> {
        let mut at = chunk.data.len();
        chunk.data.extend_from_slice(&self.carry);
        self.carry.clear();
        // Bytes before `clean_to` hold no quote and no '\r'; `clean_to` is the first one found,
        // or the end of the bytes looked at.
        let mut clean_to = at;
        let max_line = self.max_record_bytes.min(MAX_PLAIN_LINE);
        let stop = loop {
            if chunk.rows() >= max_rows || at >= MAX_CHUNK_BYTES {
                break Stop::Full;
            }
            let Some(nl) = memchr::memchr(b'\n', &chunk.data[at..]).map(|i| at + i) else {
                if self.eof {
                    break if at == chunk.data.len() {
                        Stop::End
                    } else {
                        Stop::NotPlain
                    };
                }
                if chunk.data.len() - at >= max_line {
                    break Stop::NotPlain;
                }
                let read = (&mut self.file)
                    .take(READ_BLOCK)
                    .read_to_end(&mut chunk.data)?;
                self.eof = read == 0;
                continue;
            };
            if nl >= clean_to {
                let from = clean_to.max(at);
                clean_to = memchr::memchr2(b'"', b'\r', &chunk.data[from..])
                    .map_or(chunk.data.len(), |i| from + i);
            }
            if nl == at || clean_to < nl || nl - at >= max_line {
                break Stop::NotPlain;
            }
            if !self.split(chunk, at, nl) {
                break Stop::NotPlain;
            }
            chunk.lines.push(self.line as usize);
            self.line += 1;
            self.offset += (nl + 1 - at) as u64;
            at = nl + 1;
        };
        if stop != Stop::NotPlain {
            self.carry.extend_from_slice(&chunk.data[at..]);
        }
        chunk.data.truncate(at);
        Ok(stop)
    }

    /// Adds the fields of the line `chunk.data[at..nl]` as the chunk's next row; false (and
    /// nothing added) when the line does not have `ncols` fields or a field is longer than
    /// `max_field_bytes`. `at` and `nl` are below `u32::MAX` (see [`MAX_CHUNK_BYTES`]).
    fn split(&self, chunk: &mut Chunk, at: usize, nl: usize) -> bool {
        let rows = chunk.rows();
        let mut column = 0;
        let mut start = at;
        let mut fits = true;
        let max_field = self.max_field_bytes;
        let mut field_end = |end: usize, fields: &mut [Vec<(u32, u32)>]| {
            if let Some(f) = fields.get_mut(column) {
                f.push((start as u32, end as u32));
            }
            fits &= end - start <= max_field;
            column += 1;
            start = end + 1;
        };
        let line = &chunk.data[at..nl];
        let fields = &mut chunk.fields;
        if self.avx512 {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `avx512` is set only where the CPU has AVX-512BW (`PlainLines::open`).
            unsafe {
                for_each_byte_avx512(line, self.delimiter, |i| field_end(at + i, fields));
            }
        } else {
            for_each_byte(line, self.delimiter, |i| field_end(at + i, fields));
        }
        field_end(nl, fields);
        if column == self.ncols && fits {
            return true;
        }
        for f in &mut chunk.fields {
            f.truncate(rows);
        }
        false
    }
}

/// Whether the CPU has AVX-512BW, for [`for_each_byte_avx512`].
fn has_avx512bw() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512bw")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Calls `found` with the position of every byte of `bytes` equal to `b`, in order (eight
/// bytes at a time: a word's bytes equal to `b` have their high bit set in a mask).
#[inline]
fn for_each_byte(bytes: &[u8], b: u8, mut found: impl FnMut(usize)) {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let splat = u64::from_ne_bytes([b; 8]);
    let mut words = bytes.chunks_exact(8);
    let mut at = 0;
    for word in &mut words {
        let w = <[u8; 8]>::try_from(word).map_or(0, u64::from_le_bytes);
        // A zero byte of `x` (a byte equal to `b`) is the one whose high bit stays clear in
        // `((x & LOW7) + LOW7) | x`; no carry crosses bytes.
        let x = w ^ splat;
        let mut mask = !(((x & LOW7).wrapping_add(LOW7)) | x | LOW7);
        while mask != 0 {
            found(at + (mask.trailing_zeros() / 8) as usize);
            mask &= mask - 1;
        }
        at += 8;
    }
    for (i, &v) in words.remainder().iter().enumerate() {
        if v == b {
            found(at + i);
        }
    }
}

/// [`for_each_byte`] with AVX-512BW: 64 bytes compared at once, the last ones through a
/// masked load (which reads no byte past `bytes`).
///
/// # Safety
/// The CPU has AVX-512BW.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512bw")]
unsafe fn for_each_byte_avx512(bytes: &[u8], b: u8, mut found: impl FnMut(usize)) {
    use std::arch::x86_64::{
        _mm512_mask_cmpeq_epi8_mask, _mm512_maskz_loadu_epi8, _mm512_set1_epi8,
    };
    let splat = _mm512_set1_epi8(b as i8);
    let mut at = 0;
    while at < bytes.len() {
        let n = (bytes.len() - at).min(64);
        let keep = if n == 64 { u64::MAX } else { (1u64 << n) - 1 };
        // SAFETY: the lanes loaded are `bytes[at..at + n]`; masked-off lanes are not read (a
        // masked load suppresses their faults).
        let v = unsafe { _mm512_maskz_loadu_epi8(keep, bytes.as_ptr().add(at).cast()) };
        let mut mask = _mm512_mask_cmpeq_epi8_mask(keep, v, splat);
        while mask != 0 {
            found(at + mask.trailing_zeros() as usize);
            mask &= mask - 1;
        }
        at += 64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::csv_read::parser_only;
    use crate::io::{csv_batches, read_csv, CsvReadOptions};
    use arrow::record_batch::RecordBatch;

    /// A small deterministic generator (no dependency on the code under test).
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            self.0 >> 33
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// A CSV text of `ncols` columns: mostly plain lines, with (at the rate `odd` per line
    /// out of 100) quoted fields holding delimiters, quotes and line breaks, `\r\n` and `\r`
    /// line ends, empty lines, rows of another width, long fields, and sometimes a byte-order
    /// mark or no line break at the end.
    fn text(g: &mut Lcg, ncols: usize, rows: usize, odd: u64, header: bool) -> Vec<u8> {
        let mut out = Vec::new();
        if g.below(4) == 0 {
            out.extend_from_slice(&[0xEF, 0xBB, 0xBF]);
        }
        if header {
            let names: Vec<String> = (0..ncols).map(|c| format!("c{c}")).collect();
            out.extend_from_slice(names.join(",").as_bytes());
            out.push(b'\n');
        }
        for _ in 0..rows {
            let odd_line = g.below(100) < odd;
            let width = if odd_line && g.below(8) == 0 {
                ncols + 1 - g.below(2) as usize * 2
            } else {
                ncols
            };
            if odd_line && g.below(8) == 0 {
                out.push(b'\n');
            }
            for c in 0..width {
                if c > 0 {
                    out.push(b',');
                }
                let field: Vec<u8> = match (odd_line, g.below(10)) {
                    (true, 0) => b"\"a,\"\"b\"\"\nc\"".to_vec(),
                    (true, 1) => b"x\ry".to_vec(),
                    (true, 2) => vec![b'z'; 40],
                    (_, 3) => Vec::new(),
                    (_, 4) => b"NA".to_vec(),
                    (_, 5) => b"-17".to_vec(),
                    (true, 6) => b"1x".to_vec(),
                    _ if c == 0 => format!("{}", g.below(1000)).into_bytes(),
                    _ => format!("{:x}", g.below(1 << 20)).into_bytes(),
                };
                out.extend_from_slice(&field);
            }
            if odd_line && g.below(6) == 0 {
                out.extend_from_slice(b"\r\n");
            } else {
                out.push(b'\n');
            }
        }
        if g.below(3) == 0 {
            while out.last() == Some(&b'\n') {
                out.pop();
            }
        }
        out
    }

    /// The outcome of a read, comparable: the batches, or the error's text.
    fn outcome(
        r: crate::Result<Vec<RecordBatch>>,
    ) -> std::result::Result<Vec<RecordBatch>, String> {
        r.map_err(|e| e.to_string())
    }

    #[test]
    fn plain_lines_read_what_the_csv_parser_reads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        let mut g = Lcg(42);
        let mut plain_rows = 0;
        for case in 0..300 {
            let ncols = 1 + g.below(5) as usize;
            let rows = g.below(60) as usize;
            let odd = [0, 0, 1, 5, 30][g.below(5) as usize];
            let header = g.below(5) != 0;
            std::fs::write(&path, text(&mut g, ncols, rows, odd, header)).unwrap();
            // Column 0 is sometimes read as integers, so that a bad value is an error naming
            // its line.
            let first = if g.below(2) == 0 {
                arrow::datatypes::DataType::Int64
            } else {
                arrow::datatypes::DataType::Utf8
            };
            let schema = std::sync::Arc::new(arrow::datatypes::Schema::new(
                (0..ncols)
                    .map(|c| {
                        let t = if c == 0 {
                            first.clone()
                        } else {
                            arrow::datatypes::DataType::Utf8
                        };
                        arrow::datatypes::Field::new(format!("c{c}"), t, true)
                    })
                    .collect::<Vec<_>>(),
            ));
            let opts = CsvReadOptions::default()
                .has_header(header)
                .schema(schema)
                .batch_size(1 + g.below(12) as usize)
                .max_field_bytes([1 << 20, 30][g.below(2) as usize])
                .max_record_bytes([1 << 20, 60][g.below(2) as usize]);
            let expected = outcome(parser_only(&path, &opts, false));
            let got = outcome(csv_batches(&path, &opts).and_then(|b| b.collect()));
            assert_eq!(got, expected, "case {case} (streamed)");
            let expected = outcome(parser_only(&path, &opts, true));
            let got = outcome(read_csv(&path, &opts).map(|d| vec![d.into_batch()]));
            assert_eq!(got, expected, "case {case} (whole)");
            plain_rows += got.map_or(0, |b| b.iter().map(|b| b.num_rows()).sum::<usize>());
        }
        assert!(plain_rows > 1000, "the cases read rows: {plain_rows}");
    }

    #[test]
    fn bytes_are_found_where_a_plain_scan_finds_them() {
        let mut seed = 7u64;
        let mut next = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as u8
        };
        for len in 0..200 {
            for _ in 0..20 {
                // Bytes near the one looked for (and 0x80 apart from it) as well as random.
                let bytes: Vec<u8> = (0..len)
                    .map(|_| match next() % 4 {
                        0 => b',',
                        1 => b',' ^ 0x80,
                        2 => b',' + 1,
                        _ => next(),
                    })
                    .collect();
                let mut got = Vec::new();
                for_each_byte(&bytes, b',', |i| got.push(i));
                let expected: Vec<usize> = (0..len).filter(|&i| bytes[i] == b',').collect();
                assert_eq!(got, expected, "{bytes:?}");
                if has_avx512bw() {
                    #[cfg(target_arch = "x86_64")]
                    {
                        let mut wide = Vec::new();
                        // SAFETY: the CPU has AVX-512BW.
                        unsafe { for_each_byte_avx512(&bytes, b',', |i| wide.push(i)) };
                        assert_eq!(wide, expected, "AVX-512: {bytes:?}");
                    }
                }
            }
        }
    }
}
