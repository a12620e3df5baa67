//! Checks a Parquet file's column chunks and page headers before the parquet crate reads them.
//!
//! Why: the parquet crate decodes page headers (Thrift compact protocol) straight from the file
//! and trusts what they claim. Fuzzing found (`fuzz/regressions/parquet_dir/page_header_loop`)
//! a page header with an unknown field holding a list of millions of `double`s: the crate skips
//! each element with a read of 8 bytes that, past the end of the file, returns nothing without
//! an error, so the skip goes on element by element, one `read` call on the file each, for
//! tens of seconds. A list of booleans is worse: the crate skips those elements without
//! reading at all, so a list header claiming 2^31 of them costs 2^31 steps and no bytes.
//!
//! So, for every column chunk about to be read, [`check_column_chunks`]:
//! - checks the chunk's byte range (`dictionary_page_offset` or `data_page_offset`, and
//!   `total_compressed_size`) lies between the magic and the footer of the file;
//! - walks its pages as the crate's page reader does (header, then `compressed_page_size` bytes
//!   of data, until the chunk's bytes are used up), decoding each header with the crate's own
//!   rules (the same fields read with the same types, the rest skipped, so that it ends where
//!   the crate's decoding ends) but inside the chunk only, where every list, map and binary
//!   must fit in the bytes left and a list of booleans, which the crate cannot skip, is
//!   refused.
//!
//! - checks each page's uncompressed size is one its codec can reach from its compressed
//!   bytes (the crate allocates and zeroes the claimed size before decompressing: 2 GB for a
//!   page of a few bytes otherwise).
//!
//! A file that passes costs the crate's decoder time in proportion to its bytes; one that does
//! not is an [`MlError::Parquet`] naming the file, the row group, the column, the byte offset
//! and what is wrong. The walk reads only the headers (a few KB per page), not the page data.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use ::parquet::basic::Compression;
use ::parquet::file::metadata::{ColumnChunkMetaData, ParquetMetaData};

use crate::error::{MlError, Result};

/// The Thrift compact protocol's skip depth in the parquet crate: deeper nesting is an error.
const MAX_DEPTH: u8 = 64;

/// Bytes read at first for a page header; doubled (up to the end of the chunk) when the header
/// is longer. Page headers are tens of bytes, more with statistics.
const FIRST_WINDOW: usize = 4096;

/// Page types the crate reads (`DATA_PAGE`, `INDEX_PAGE`, `DICTIONARY_PAGE`, `DATA_PAGE_V2`).
const MAX_PAGE_TYPE: i32 = 3;

/// Why a page header could not be decoded from the bytes at hand.
enum HeaderError {
    /// The bytes read so far end before the header does; more of the chunk is left.
    NeedMore,
    /// The header is corrupt: what is wrong.
    Corrupt(String),
}

type HeaderResult<T> = std::result::Result<T, HeaderError>;

fn corrupt<T>(message: impl Into<String>) -> HeaderResult<T> {
    Err(HeaderError::Corrupt(message.into()))
}

/// What the page walk needs from a page header.
struct PageHeaderInfo {
    /// Bytes the header takes.
    len: usize,
    /// The page's data bytes after the header.
    compressed_page_size: i32,
    /// The page's size once decompressed, which the crate allocates before decompressing.
    uncompressed_page_size: i32,
}

/// A Thrift compact protocol decoder over the bytes of a page header, consuming exactly what
/// the parquet crate's `ThriftReadInputProtocol` consumes for the same bytes.
struct Decoder<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Whether `buf` runs to the end of the column chunk (then running out is corruption,
    /// else more bytes are needed).
    to_chunk_end: bool,
}

impl Decoder<'_> {
    fn out_of_bytes<T>(&self) -> HeaderResult<T> {
        if self.to_chunk_end {
            corrupt(format!(
                "it runs past the end of the column chunk, which ends {} bytes after it starts",
                self.buf.len()
            ))
        } else {
            Err(HeaderError::NeedMore)
        }
    }

    fn byte(&mut self) -> HeaderResult<u8> {
        match self.buf.get(self.pos) {
            Some(&b) => {
                self.pos += 1;
                Ok(b)
            }
            None => self.out_of_bytes(),
        }
    }

    fn skip_bytes(&mut self, n: u64, what: &str) -> HeaderResult<()> {
        let left = (self.buf.len() - self.pos) as u64;
        if n > left {
            if self.to_chunk_end {
                return corrupt(format!(
                    "{what} of {n} bytes but only {left} bytes of the column chunk are left"
                ));
            }
            return Err(HeaderError::NeedMore);
        }
        self.pos += n as usize;
        Ok(())
    }

    /// An unsigned LEB128 varint, decoded as the crate does (extra high bits are dropped).
    fn vlq(&mut self) -> HeaderResult<u64> {
        let mut value = 0u64;
        let mut shift = 0u32;
        loop {
            let b = self.byte()?;
            value |= ((b & 0x7f) as u64).wrapping_shl(shift);
            if b & 0x80 == 0 {
                return Ok(value);
            }
            shift = shift.wrapping_add(7);
        }
    }

    fn zig_zag(&mut self) -> HeaderResult<i64> {
        let v = self.vlq()?;
        Ok((v >> 1) as i64 ^ -((v & 1) as i64))
    }

    fn i32(&mut self) -> HeaderResult<i32> {
        Ok(self.zig_zag()? as i32)
    }

    /// A field header: `None` at the struct's end, else the wire type and the field id.
    fn field_begin(&mut self, last_id: i16) -> HeaderResult<Option<(u8, i16)>> {
        let b = self.byte()?;
        let field_type = b & 0x0f;
        if field_type == 0 {
            return Ok(None);
        }
        if field_type > 13 {
            return corrupt(format!("unknown Thrift field type {field_type}"));
        }
        let delta = (b >> 4) as i16;
        let id = if delta != 0 {
            match last_id.checked_add(delta) {
                Some(id) => id,
                None => return corrupt("a Thrift field id overflows"),
            }
        } else {
            self.zig_zag()? as i16
        };
        Ok(Some((field_type, id)))
    }

    /// A list or map element type, as a field type (booleans as 1).
    fn element_type(nibble: u8) -> HeaderResult<u8> {
        match nibble {
            1 | 2 => Ok(1),
            3..=13 => Ok(nibble),
            _ => corrupt(format!("unknown Thrift element type {nibble}")),
        }
    }

    fn size(&mut self, what: &str) -> HeaderResult<usize> {
        let n = self.vlq()?;
        match i32::try_from(n) {
            Ok(n) => Ok(n as usize),
            Err(_) => corrupt(format!("a {what} claims {n} elements")),
        }
    }

    /// Skips a value of `field_type` as the crate's `skip_till_depth` does, refusing what it
    /// would spend time on without reading bytes.
    fn skip(&mut self, field_type: u8, depth: u8) -> HeaderResult<()> {
        if depth == 0 {
            return corrupt(format!("Thrift values nested more than {MAX_DEPTH} deep"));
        }
        match field_type {
            1 | 2 => Ok(()),
            3 => self.byte().map(|_| ()),
            4..=6 => self.vlq().map(|_| ()),
            7 => self.skip_bytes(8, "a double"),
            8 => {
                let n = self.vlq()?;
                self.skip_bytes(n, "a binary value")
            }
            9 | 10 => {
                let header = self.byte()?;
                if header == 0 {
                    return Ok(());
                }
                let element = Self::element_type(header & 0x0f)?;
                let count = header >> 4;
                let size = if count != 15 {
                    count as usize
                } else {
                    self.size("list")?
                };
                self.skip_elements(size, &[element], depth, "list")
            }
            11 => {
                let size = self.size("map")?;
                if size == 0 {
                    return Ok(());
                }
                let kv = self.byte()?;
                let key = Self::element_type(kv >> 4)?;
                let value = Self::element_type(kv & 0x0f)?;
                self.skip_elements(size, &[key, value], depth, "map")
            }
            12 => loop {
                match self.field_begin(0)? {
                    None => return Ok(()),
                    Some((t, _)) => self.skip(t, depth - 1)?,
                }
            },
            13 => self.skip_bytes(16, "a UUID"),
            _ => corrupt(format!("unknown Thrift field type {field_type}")),
        }
    }

    /// Skips `size` elements of the types in `each` (one for a list, key and value for a map).
    fn skip_elements(
        &mut self,
        size: usize,
        each: &[u8],
        depth: u8,
        what: &str,
    ) -> HeaderResult<()> {
        if size == 0 {
            return Ok(());
        }
        if each.iter().all(|&t| t == 1) {
            // The crate skips boolean elements without reading their byte: such a list costs
            // it `size` steps whatever the bytes, and desynchronises the rest of the header.
            return corrupt(format!(
                "a {what} of {size} booleans in the page header, which the parquet reader cannot skip"
            ));
        }
        // Every other element takes at least one byte.
        let left = self.buf.len() - self.pos;
        if size > left {
            if self.to_chunk_end {
                return corrupt(format!(
                    "a {what} of {size} elements but only {left} bytes of the column chunk are left"
                ));
            }
            return Err(HeaderError::NeedMore);
        }
        for _ in 0..size {
            for &t in each {
                self.skip(t, depth - 1)?;
            }
        }
        Ok(())
    }

    /// A boolean field's value, carried by its wire type.
    fn bool_field(field_type: u8, name: &str) -> HeaderResult<()> {
        match field_type {
            1 | 2 => Ok(()),
            _ => corrupt(format!(
                "field '{name}' should be a boolean but has Thrift type {field_type}"
            )),
        }
    }

    /// A struct of which the crate reads the fields of `known` (by id: `Some(true)` a
    /// boolean, `Some(false)` an i32 or enum) and skips the others.
    fn typed_struct(&mut self, known: &[(i16, bool, &str)]) -> HeaderResult<()> {
        let mut last = 0i16;
        while let Some((t, id)) = self.field_begin(last)? {
            match known.iter().find(|(k, _, _)| *k == id) {
                Some((_, true, name)) => Self::bool_field(t, name)?,
                Some((_, false, _)) => {
                    self.i32()?;
                }
                None => self.skip(t, MAX_DEPTH)?,
            }
            last = id;
        }
        Ok(())
    }

    /// A `PageHeader` as the crate's `read_thrift_without_stats` decodes it.
    fn page_header(&mut self) -> HeaderResult<PageHeaderInfo> {
        let (mut page_type, mut uncompressed, mut compressed) = (None, None, None);
        let mut v2_levels = None;
        let mut last = 0i16;
        while let Some((t, id)) = self.field_begin(last)? {
            match id {
                1 => page_type = Some(self.i32()?),
                2 => uncompressed = Some(self.i32()?),
                3 => compressed = Some(self.i32()?),
                4 => {
                    self.i32()?;
                }
                // DataPageHeader: num_values, encoding, definition and repetition level
                // encodings; the statistics (5) are skipped.
                5 => self.typed_struct(&[
                    (1, false, "num_values"),
                    (2, false, "encoding"),
                    (3, false, "definition_level_encoding"),
                    (4, false, "repetition_level_encoding"),
                ])?,
                // IndexPageHeader: no fields.
                6 => self.typed_struct(&[])?,
                // DictionaryPageHeader.
                7 => self.typed_struct(&[
                    (1, false, "num_values"),
                    (2, false, "encoding"),
                    (3, true, "is_sorted"),
                ])?,
                8 => v2_levels = Some(self.data_page_header_v2()?),
                _ => self.skip(t, MAX_DEPTH)?,
            }
            last = id;
        }
        let (Some(page_type), Some(uncompressed), Some(compressed)) =
            (page_type, uncompressed, compressed)
        else {
            return corrupt("the page header lacks its type or sizes");
        };
        if !(0..=MAX_PAGE_TYPE).contains(&page_type) {
            return corrupt(format!("unknown page type {page_type}"));
        }
        if compressed < 0 || uncompressed < 0 {
            return corrupt(format!(
                "negative page size (compressed {compressed}, uncompressed {uncompressed})"
            ));
        }
        if let Some((def, rep)) = v2_levels {
            if def < 0 || rep < 0 || def as i64 + rep as i64 > uncompressed as i64 {
                return corrupt(format!(
                    "a v2 data page's level lengths ({def} + {rep} bytes) exceed its \
                     uncompressed size ({uncompressed} bytes)"
                ));
            }
        }
        Ok(PageHeaderInfo {
            len: self.pos,
            compressed_page_size: compressed,
            uncompressed_page_size: uncompressed,
        })
    }

    /// A `DataPageHeaderV2` without statistics: the definition and repetition level lengths.
    fn data_page_header_v2(&mut self) -> HeaderResult<(i32, i32)> {
        let (mut def, mut rep) = (0, 0);
        let mut last = 0i16;
        while let Some((t, id)) = self.field_begin(last)? {
            match id {
                1..=4 => {
                    self.i32()?;
                }
                5 => def = self.i32()?,
                6 => rep = self.i32()?,
                7 => Self::bool_field(t, "is_compressed")?,
                _ => self.skip(t, MAX_DEPTH)?,
            }
            last = id;
        }
        Ok((def, rep))
    }
}

/// Reads `len` bytes at `offset` of `file`.
fn read_at(file: &File, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
    let mut reader = file;
    reader.seek(SeekFrom::Start(offset))?;
    let mut buf = vec![0u8; len];
    reader.read_exact(&mut buf)?;
    Ok(buf)
}

/// Where one column chunk is, for messages.
struct ChunkName<'a> {
    path: &'a Path,
    row_group: usize,
    column: String,
}

impl ChunkName<'_> {
    fn error(&self, message: impl std::fmt::Display) -> MlError {
        MlError::Parquet {
            path: self.path.to_path_buf(),
            message: format!(
                "row group {}, column '{}': {message}; the file is corrupt or truncated \
                 (write it again, or remove it from the directory)",
                self.row_group, self.column
            ),
        }
    }
}

/// The byte range of a column chunk, as the crate's `ColumnChunkMetaData::byte_range` computes
/// it (which panics on negative values), checked against the data region of the file.
fn chunk_range(
    chunk: &ColumnChunkMetaData,
    data_end: u64,
    file_len: u64,
    name: &ChunkName,
) -> Result<(u64, u64)> {
    let start = chunk
        .dictionary_page_offset()
        .unwrap_or_else(|| chunk.data_page_offset());
    let len = chunk.compressed_size();
    let (Ok(start_u), Ok(len_u)) = (u64::try_from(start), u64::try_from(len)) else {
        return Err(name.error(format!(
            "the metadata places the column chunk at byte {start} with {len} bytes"
        )));
    };
    match start_u.checked_add(len_u) {
        Some(_) if len_u == 0 => Ok((start_u, 0)),
        Some(end) if start_u >= 4 && end <= data_end => Ok((start_u, len_u)),
        _ => Err(name.error(format!(
            "the metadata places the column chunk at bytes {start}..{} but the file's data \
             lies in bytes 4..{data_end} (the file is {file_len} bytes, the rest is its footer)",
            start as i128 + len as i128,
        ))),
    }
}

/// The most a page of `codec` can grow when decompressed, as (times the compressed size,
/// plus bytes): Snappy's densest element is a 3-byte copy of 64 bytes; a Zstandard block
/// holds at most 128 KiB and takes at least 4 bytes (an RLE block). `None`: no bound (no
/// decompression, or a codec this build cannot read, which the crate refuses).
fn max_expansion(codec: Compression) -> Option<(u64, u64)> {
    match codec {
        Compression::SNAPPY => Some((32, 64)),
        Compression::ZSTD(_) => Some((32 * 1024, 128 * 1024)),
        _ => None,
    }
}

/// Walks the pages of one column chunk: each header decoded within the chunk, each page's
/// data inside it, the last page ending where the chunk does; a page's uncompressed size (which
/// the crate allocates and zeroes before decompressing) must be one `codec` can reach.
fn check_pages(
    file: &File,
    start: u64,
    len: u64,
    codec: Compression,
    name: &ChunkName,
) -> Result<()> {
    let io = |e: std::io::Error| MlError::io(name.path, e);
    let (mut offset, mut remaining) = (start, len);
    while remaining > 0 {
        let mut window = FIRST_WINDOW.min(remaining as usize);
        let header = loop {
            let buf = read_at(file, offset, window).map_err(io)?;
            let mut decoder = Decoder {
                buf: &buf,
                pos: 0,
                to_chunk_end: window as u64 == remaining,
            };
            match decoder.page_header() {
                Ok(header) => break header,
                Err(HeaderError::NeedMore) => {
                    window = window.saturating_mul(2).min(remaining as usize)
                }
                Err(HeaderError::Corrupt(what)) => {
                    return Err(name.error(format!("the page header at byte {offset}: {what}")))
                }
            }
        };
        let header_len = header.len as u64;
        remaining -= header_len;
        let data = header.compressed_page_size as u64;
        if data > remaining {
            return Err(name.error(format!(
                "the page at byte {offset} claims {data} bytes of data but only {remaining} \
                 bytes of the column chunk are left"
            )));
        }
        let uncompressed = header.uncompressed_page_size as u64;
        if let Some((times, plus)) = max_expansion(codec) {
            if uncompressed > data * times + plus {
                return Err(name.error(format!(
                    "the page at byte {offset} claims {uncompressed} bytes once decompressed \
                     from {data} bytes of {codec:?} data, which can expand to {} at most",
                    data * times + plus
                )));
            }
        }
        remaining -= data;
        offset += header_len + data;
    }
    Ok(())
}

/// Checks the column chunks of `meta` (the metadata of `file`, `path`) that a read of the root
/// columns `roots` (all when `None`) decodes: each chunk lies in the file's data region and its
/// page headers decode within it in time proportional to their bytes (see the module's doc).
/// Errors are [`MlError::Parquet`] naming the file, the row group, the column and what is
/// wrong, or [`MlError::Io`] when the file cannot be read.
pub(super) fn check_column_chunks(
    path: &Path,
    file: &File,
    meta: &ParquetMetaData,
    roots: Option<&[usize]>,
) -> Result<()> {
    let file_len = file.metadata().map_err(|e| MlError::io(path, e))?.len();
    // The footer: metadata, its 4-byte length, "PAR1". The metadata decoded, so both are there.
    let tail = read_at(file, file_len.saturating_sub(8), 4).map_err(|e| MlError::io(path, e))?;
    let meta_len = u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]) as u64;
    let data_end = file_len.saturating_sub(8 + meta_len);
    let descr = meta.file_metadata().schema_descr();
    for (rg, group) in meta.row_groups().iter().enumerate() {
        if group.num_rows() < 0 {
            return Err(MlError::Parquet {
                path: path.to_path_buf(),
                message: format!(
                    "row group {rg} claims {} rows; the file is corrupt (write it again)",
                    group.num_rows()
                ),
            });
        }
        for (leaf, chunk) in group.columns().iter().enumerate() {
            if leaf >= descr.num_columns() {
                break;
            }
            if let Some(roots) = roots {
                if !roots.contains(&descr.get_column_root_idx(leaf)) {
                    continue;
                }
            }
            let name = ChunkName {
                path,
                row_group: rg,
                column: chunk.column_path().string(),
            };
            let (start, len) = chunk_range(chunk, data_end, file_len, &name)?;
            check_pages(file, start, len, chunk.compression(), &name)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A DATA_PAGE header (sizes 10 and 10, one value), then `extra` fields, then the end.
    fn header(extra: &[u8]) -> Vec<u8> {
        let mut h = vec![
            0x15, 0x00, // 1: type DATA_PAGE
            0x15, 0x14, // 2: uncompressed_page_size 10
            0x15, 0x14, // 3: compressed_page_size 10
            0x2c, // 5: DataPageHeader
            0x15, 0x02, 0x15, 0x00, 0x15, 0x00, 0x15, 0x00, 0x00,
        ];
        h.extend_from_slice(extra);
        h.push(0x00);
        h
    }

    fn decode(bytes: &[u8], to_chunk_end: bool) -> HeaderResult<PageHeaderInfo> {
        Decoder {
            buf: bytes,
            pos: 0,
            to_chunk_end,
        }
        .page_header()
    }

    fn corrupt_message(bytes: &[u8]) -> String {
        match decode(bytes, true) {
            Err(HeaderError::Corrupt(m)) => m,
            Err(HeaderError::NeedMore) => panic!("asked for more bytes"),
            Ok(h) => panic!("decoded a header of {} bytes", h.len),
        }
    }

    #[test]
    fn a_plain_header_decodes_to_its_length_and_size() {
        let mut bytes = header(&[]);
        let len = bytes.len();
        bytes.extend_from_slice(&[0xaa; 10]);
        let h = decode(&bytes, true).ok().unwrap();
        assert_eq!((h.len, h.compressed_page_size), (len, 10));
        // An unknown field (9, a list of two i32s) is skipped as the crate skips it.
        let with_list = header(&[0x49, 0x25, 0x02, 0x04]);
        let h = decode(&with_list, true).ok().unwrap();
        assert_eq!(h.len, with_list.len());
    }

    #[test]
    fn a_list_of_booleans_is_refused_whatever_its_size() {
        // 9: a list of i32::MAX booleans, in 6 bytes.
        let m = corrupt_message(&header(&[0x49, 0xf1, 0xff, 0xff, 0xff, 0xff, 0x07]));
        assert!(m.contains("a list of 2147483647 booleans"), "{m}");
        // A map of booleans to booleans.
        let m = corrupt_message(&header(&[0x4b, 0x05, 0x11]));
        assert!(m.contains("a map of 5 booleans"), "{m}");
    }

    #[test]
    fn a_list_longer_than_the_bytes_left_is_refused_or_needs_more_bytes() {
        // 9: a list of 1,000,000 doubles.
        let bytes = header(&[0x49, 0xf7, 0xc0, 0x84, 0x3d]);
        let m = corrupt_message(&bytes);
        assert!(
            m.contains("a list of 1000000 elements but only 1 bytes of the column chunk are left"),
            "{m}"
        );
        assert!(matches!(decode(&bytes, false), Err(HeaderError::NeedMore)));
        // A binary of 2^40 bytes.
        let m = corrupt_message(&header(&[0x48, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20]));
        assert!(m.contains("a binary value of 1099511627776 bytes"), "{m}");
    }

    #[test]
    fn a_header_cut_short_needs_more_bytes_or_is_corrupt_at_the_chunk_end() {
        let bytes = header(&[]);
        let cut = &bytes[..bytes.len() - 3];
        assert!(matches!(decode(cut, false), Err(HeaderError::NeedMore)));
        let m = corrupt_message(cut);
        assert!(m.contains("runs past the end of the column chunk"), "{m}");
    }

    #[test]
    fn nesting_deeper_than_the_crate_skips_is_refused() {
        // 9: a struct holding a struct ... 70 deep.
        let mut extra = vec![0x4c];
        extra.extend(std::iter::repeat_n(0x1c, 70));
        extra.extend(std::iter::repeat_n(0x00, 71));
        let m = corrupt_message(&header(&extra));
        assert!(m.contains("nested more than 64 deep"), "{m}");
    }

    /// The unsigned LEB128 bytes of `v` zig-zag encoded, as Thrift writes an i32.
    fn zig_zag_vlq(v: i64) -> Vec<u8> {
        let mut z = ((v << 1) ^ (v >> 63)) as u64;
        let mut out = Vec::new();
        loop {
            let b = (z & 0x7f) as u8;
            z >>= 7;
            if z == 0 {
                out.push(b);
                return out;
            }
            out.push(b | 0x80);
        }
    }

    #[test]
    fn an_uncompressed_size_the_codec_cannot_reach_is_refused_before_allocating() {
        let mut chunk = vec![0x15, 0x00, 0x15];
        chunk.extend(zig_zag_vlq(1_000_000));
        chunk.extend([
            0x15, 0x14, 0x2c, 0x15, 0x02, 0x15, 0x00, 0x15, 0x00, 0x15, 0x00, 0x00,
        ]);
        chunk.push(0x00);
        chunk.extend([0u8; 10]);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chunk.parquet");
        std::fs::write(&path, &chunk).unwrap();
        let file = File::open(&path).unwrap();
        let name = ChunkName {
            path: &path,
            row_group: 2,
            column: "x".into(),
        };
        let len = chunk.len() as u64;
        let check = |codec| check_pages(&file, 0, len, codec, &name);
        match check(Compression::SNAPPY).unwrap_err() {
            MlError::Parquet { path: p, message } => {
                assert_eq!(p, path);
                assert!(
                    message.starts_with(
                        "row group 2, column 'x': the page at byte 0 claims 1000000 bytes once \
                         decompressed from 10 bytes of SNAPPY data, which can expand to 384 at most"
                    ),
                    "{message}"
                );
            }
            other => panic!("{other:?}"),
        }
        // Zstandard reaches 10 * 32768 + 131072 = 458752 bytes at most.
        let err = check(Compression::ZSTD(Default::default())).unwrap_err();
        assert!(
            err.to_string().contains("can expand to 458752 at most"),
            "{err}"
        );
        assert!(check(Compression::UNCOMPRESSED).is_ok());
        // A page whose data runs past the chunk.
        let err = check_pages(&file, 0, len - 1, Compression::UNCOMPRESSED, &name).unwrap_err();
        assert!(
            err.to_string()
                .contains("claims 10 bytes of data but only 9 bytes"),
            "{err}"
        );
    }

    #[test]
    fn bad_sizes_and_types_are_refused() {
        let mut bytes = header(&[]);
        bytes[3] = 0x01; // uncompressed size -1
        assert!(corrupt_message(&bytes).contains("negative page size"));
        let mut bytes = header(&[]);
        bytes[1] = 0x0a; // page type 5
        assert!(corrupt_message(&bytes).contains("unknown page type 5"));
        // 9: a field of type 14.
        assert!(corrupt_message(&header(&[0x4e])).contains("unknown Thrift field type 14"));
    }
}
