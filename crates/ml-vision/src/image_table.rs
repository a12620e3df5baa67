//! Image tables: a directory or glob of image files read into a [`Dataset`] with Spark's image
//! schema.
//!
//! Like `spark.read.format("image").load(path)`, the result has one struct column `image` with
//! the fields of Spark's `ImageSchema`:
//!
//! | field | type | meaning |
//! |---|---|---|
//! | `origin` | Utf8 | the file path |
//! | `height` | Int32 | rows |
//! | `width` | Int32 | columns |
//! | `nChannels` | Int32 | 1 (gray), 3 (colour) or 4 (with alpha) |
//! | `mode` | Int32 | OpenCV type: 0 = `CV_8UC1`, 16 = `CV_8UC3`, 24 = `CV_8UC4` |
//! | `data` | Binary | row-major bytes in OpenCV order: gray, BGR or BGRA |
//!
//! Files are decoded in parallel (rayon) with the `image` crate (JPEG and PNG), or JPEGs with the
//! system libjpeg-turbo when the `libjpeg-turbo` cargo feature is on (the decoder Pillow uses, so
//! decoded pixels match Python pipelines exactly); rows come in
//! sorted path order whatever the thread count. An undecodable file is a typed error naming it,
//! or, with `drop_invalid` (Spark's `dropInvalid` option), is left out with a `tracing` warning.
//!
//! ```no_run
//! use ml_vision::image_table::{read_images, ImageReadOptions};
//! let table = read_images("photos/*.jpg", &ImageReadOptions::default()).unwrap();
//! println!("{}", table.num_rows());
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BinaryArray, Int32Array, StringArray, StructArray};
use arrow::buffer::NullBuffer;
use arrow::datatypes::{DataType, Field, Fields};
use ml_core::Dataset;
use rayon::prelude::*;

use crate::error::{Result, VisionError};
use crate::preprocess::{Preprocessing, RgbPixels};

/// Name of the image struct column (Spark's).
pub const IMAGE_COL: &str = "image";
/// OpenCV type of 8-bit, 1-channel images.
pub const CV_8UC1: i32 = 0;
/// OpenCV type of 8-bit, 3-channel (BGR) images.
pub const CV_8UC3: i32 = 16;
/// OpenCV type of 8-bit, 4-channel (BGRA) images.
pub const CV_8UC4: i32 = 24;

/// File extensions read from a directory (lower case).
pub const IMAGE_EXTENSIONS: &[&str] = &["jpg", "jpeg", "png"];

/// The fields of Spark's image struct.
pub fn image_fields() -> Fields {
    Fields::from(vec![
        Field::new("origin", DataType::Utf8, true),
        Field::new("height", DataType::Int32, false),
        Field::new("width", DataType::Int32, false),
        Field::new("nChannels", DataType::Int32, false),
        Field::new("mode", DataType::Int32, false),
        Field::new("data", DataType::Binary, false),
    ])
}

/// The type of the `image` column.
pub fn image_type() -> DataType {
    DataType::Struct(image_fields())
}

/// One decoded image in Spark's layout (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRow {
    /// Where it came from (file path, or `video#t=1000ms` for a video frame).
    pub origin: String,
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
    /// 1, 3 or 4.
    pub n_channels: usize,
    /// Bytes in OpenCV order (gray, BGR, BGRA), row-major.
    pub data: Vec<u8>,
}

impl ImageRow {
    /// A 3-channel row from RGB pixels (stored as BGR, as Spark does).
    pub fn from_rgb(origin: impl Into<String>, img: &RgbPixels) -> Self {
        let data = img
            .data()
            .chunks_exact(3)
            .flat_map(|p| [p[2], p[1], p[0]])
            .collect();
        ImageRow {
            origin: origin.into(),
            height: img.height(),
            width: img.width(),
            n_channels: 3,
            data,
        }
    }

    /// The OpenCV mode of this row.
    pub fn mode(&self) -> i32 {
        match self.n_channels {
            1 => CV_8UC1,
            4 => CV_8UC4,
            _ => CV_8UC3,
        }
    }

    /// The pixels as RGB (alpha dropped, gray replicated).
    pub fn to_rgb(&self) -> Result<RgbPixels> {
        RgbPixels::from_bgr_channels(self.width, self.height, self.n_channels, &self.data)
    }
}

/// Rejects a JPEG cut short. The `image` crate's JPEG decoder fills the missing part of a
/// truncated file with grey instead of failing (Pillow and Spark refuse such files), so we check
/// that an end-of-image marker follows the last start-of-scan marker (markers cannot occur
/// inside entropy-coded data, where 0xFF bytes are stuffed).
fn check_jpeg_complete(path: &Path, bytes: &[u8]) -> Result<()> {
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        return Ok(());
    }
    let last_sos = bytes.windows(2).rposition(|w| w == [0xFF, 0xDA]);
    let complete = match last_sos {
        Some(i) => bytes[i..].windows(2).any(|w| w == [0xFF, 0xD9]),
        None => false,
    };
    if complete {
        Ok(())
    } else {
        Err(VisionError::decode(
            path,
            "the JPEG data is truncated (no end-of-image marker after the last scan)",
        ))
    }
}

/// Most bytes one decoded image may take (512 MiB, the `image` crate's default limit): a
/// file that claims more (a PNG header saying 20000 x 20000) is an [`VisionError::ImageDecode`]
/// naming it, refused before the pixels are allocated.
pub const MAX_IMAGE_BYTES: usize = 512 << 20;

#[cfg(feature = "libjpeg-turbo")]
fn too_large(path: &Path, width: usize, height: usize, bytes: usize) -> VisionError {
    VisionError::decode(
        path,
        format!(
            "the image claims {width}x{height} pixels ({bytes} bytes decoded), more than the \
             limit of {MAX_IMAGE_BYTES} bytes"
        ),
    )
}

/// Decoded pixels before conversion to Spark's layout: 1 (gray), 3 (RGB) or 4 (RGBA) channels.
struct Decoded {
    width: usize,
    height: usize,
    channels: usize,
    data: Vec<u8>,
}

/// Decodes a JPEG with libjpeg-turbo (TurboJPEG API, accurate integer IDCT and fancy chroma
/// upsampling, as Pillow decodes). `None` for colour spaces it does not turn into RGB or gray
/// (CMYK, YCCK): those go through the `image` crate. A libjpeg-turbo warning (corrupt data) is
/// an error, as TurboJPEG reports it.
#[cfg(feature = "libjpeg-turbo")]
fn decode_jpeg_turbo(path: &Path, bytes: &[u8]) -> Result<Option<Decoded>> {
    use turbojpeg::{Colorspace, Decompressor, Image, PixelFormat};
    let err = |e: turbojpeg::Error| VisionError::decode(path, format!("libjpeg-turbo: {e}"));
    let mut dec = Decompressor::new().map_err(err)?;
    let header = dec.read_header(bytes).map_err(err)?;
    let (format, channels) = match header.colorspace {
        Colorspace::Gray => (PixelFormat::GRAY, 1),
        Colorspace::YCbCr | Colorspace::RGB => (PixelFormat::RGB, 3),
        _ => return Ok(None),
    };
    let (width, height) = (header.width, header.height);
    let bytes_needed = crate::preprocess::image_bytes(width, height, channels)?;
    if bytes_needed > MAX_IMAGE_BYTES {
        return Err(too_large(path, width, height, bytes_needed));
    }
    let mut data = vec![0u8; bytes_needed];
    dec.decompress(
        bytes,
        Image {
            pixels: data.as_mut_slice(),
            width,
            pitch: width * channels,
            height,
            format,
        },
    )
    .map_err(err)?;
    Ok(Some(Decoded {
        width,
        height,
        channels,
        data,
    }))
}

/// Reads and decodes one file. JPEGs go through libjpeg-turbo when the `libjpeg-turbo` feature
/// is on; everything else (and every file without the feature) through the `image` crate.
/// 8-bit gray, RGB and RGBA keep 1, 3 and 4 channels; other pixel formats (16-bit, gray+alpha)
/// become 8-bit RGB(A).
fn load_image(path: &Path) -> Result<Decoded> {
    let bytes = std::fs::read(path).map_err(|e| VisionError::io(path, e))?;
    check_jpeg_complete(path, &bytes)?;
    #[cfg(feature = "libjpeg-turbo")]
    if bytes.starts_with(&[0xFF, 0xD8]) {
        if let Some(d) = decode_jpeg_turbo(path, &bytes)? {
            return Ok(d);
        }
    }
    let derr = |e: image::ImageError| VisionError::decode(path, e.to_string());
    let mut reader = image::ImageReader::new(std::io::Cursor::new(&bytes))
        .with_guessed_format()
        .map_err(|e| VisionError::io(path, e))?;
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(MAX_IMAGE_BYTES as u64);
    reader.limits(limits);
    let img = decode_without_panics(path, || reader.decode().map_err(derr))?;
    let (width, height) = (img.width() as usize, img.height() as usize);
    let (channels, data) = match img {
        image::DynamicImage::ImageLuma8(g) => (1, g.into_raw()),
        image::DynamicImage::ImageRgba8(_) | image::DynamicImage::ImageLumaA8(_) => {
            (4, img.into_rgba8().into_raw())
        }
        other => (3, other.into_rgb8().into_raw()),
    };
    Ok(Decoded {
        width,
        height,
        channels,
        data,
    })
}

/// Runs `decode` (a call into the `image` crate's decoders on the bytes of `path`), turning a
/// panic of theirs on corrupt input into a [`VisionError::ImageDecode`] naming the file and
/// the panic's message. (Fuzzing found one: zune-jpeg 0.5.15 unwraps a missing coefficient
/// block in its AVX2 IDCT on a crafted baseline JPEG; the decoder is dropped afterwards,
/// nothing of it is reused.)
fn decode_without_panics<T>(path: &Path, decode: impl FnOnce() -> Result<T>) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(decode)).unwrap_or_else(|panic| {
        let message = ml_core::error::panic_message(panic.as_ref());
        Err(VisionError::decode(
            path,
            format!("the file is corrupt (the image decoder failed: {message})"),
        ))
    })
}

/// Decodes one image file into Spark's layout. 8-bit gray, RGB and RGBA keep 1, 3 and 4
/// channels; other pixel formats (16-bit, gray+alpha) are converted to 8-bit RGB(A).
/// JPEGs are decoded by libjpeg-turbo with the `libjpeg-turbo` feature, else by the `image`
/// crate (which may differ from libjpeg-turbo by a few levels per value).
pub fn decode_image_file(path: &Path) -> Result<ImageRow> {
    let Decoded {
        width,
        height,
        channels,
        mut data,
    } = load_image(path)?;
    if channels >= 3 {
        data.chunks_exact_mut(channels).for_each(|p| p.swap(0, 2));
    }
    Ok(ImageRow {
        origin: path.to_string_lossy().into_owned(),
        height,
        width,
        n_channels: channels,
        data,
    })
}

/// Decodes one image file straight to RGB pixels (gray replicated, alpha dropped).
pub fn decode_rgb(path: &Path) -> Result<RgbPixels> {
    let d = load_image(path)?;
    let data = match d.channels {
        3 => d.data,
        1 => d.data.iter().flat_map(|&g| [g, g, g]).collect(),
        c => d
            .data
            .chunks_exact(c)
            .flat_map(|p| [p[0], p[1], p[2]])
            .collect(),
    };
    RgbPixels::new(d.width, d.height, data)
}

/// Options of [`read_images`].
#[derive(Debug, Clone, Default)]
pub struct ImageReadOptions {
    /// Leave out undecodable files (with a warning) instead of failing (Spark's `dropInvalid`).
    pub drop_invalid: bool,
    /// Also read sub-directories when the path is a directory.
    pub recursive: bool,
    /// Threads for decoding, as everywhere in `ml` (`ml_core::threads`): 0 (the default) uses
    /// the current rayon pool, n >= 1 decodes on n threads.
    pub n_threads: usize,
}

impl ImageReadOptions {
    /// Sets `drop_invalid`.
    pub fn with_drop_invalid(mut self, yes: bool) -> Self {
        self.drop_invalid = yes;
        self
    }
    /// Sets `recursive`.
    pub fn with_recursive(mut self, yes: bool) -> Self {
        self.recursive = yes;
        self
    }
    /// Sets `n_threads` (0: the current pool).
    pub fn with_n_threads(mut self, n: usize) -> Self {
        self.n_threads = n;
        self
    }
}

fn has_image_extension(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .map(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        .unwrap_or(false)
}

fn is_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// Wildcard match of one file name: `*` any run, `?` one character, `[abc]` / `[a-z]` a set.
fn wildcard_match(pattern: &[char], name: &[char]) -> bool {
    match pattern.first() {
        None => name.is_empty(),
        Some('*') => (0..=name.len()).any(|i| wildcard_match(&pattern[1..], &name[i..])),
        Some('?') => !name.is_empty() && wildcard_match(&pattern[1..], &name[1..]),
        Some('[') => {
            let Some(end) = pattern.iter().position(|&c| c == ']') else {
                return name.first() == Some(&'[') && wildcard_match(&pattern[1..], &name[1..]);
            };
            let Some(&c) = name.first() else {
                return false;
            };
            let set = &pattern[1..end];
            let mut ok = false;
            let mut i = 0;
            while i < set.len() {
                if i + 2 < set.len() && set[i + 1] == '-' {
                    ok |= set[i] <= c && c <= set[i + 2];
                    i += 3;
                } else {
                    ok |= set[i] == c;
                    i += 1;
                }
            }
            ok && wildcard_match(&pattern[end + 1..], &name[1..])
        }
        Some(&p) => name.first() == Some(&p) && wildcard_match(&pattern[1..], &name[1..]),
    }
}

fn walk(dir: &Path, recursive: bool, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| VisionError::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| VisionError::io(dir, e))?;
        let p = entry.path();
        if p.is_dir() {
            if recursive {
                walk(&p, recursive, out)?;
            }
        } else if has_image_extension(&p) {
            out.push(p);
        }
    }
    Ok(())
}

/// The image files a path names, sorted: a single file, a directory (files with an
/// [`IMAGE_EXTENSIONS`] extension), or a glob whose last component has wildcards
/// (`dir/*.jpg`, `dir/frame_0[0-4]?.png`; any extension the pattern admits).
pub fn list_image_files(path: impl AsRef<Path>, recursive: bool) -> Result<Vec<PathBuf>> {
    let path = path.as_ref();
    let s = path.to_string_lossy();
    let mut files = Vec::new();
    if is_glob(&s) {
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if is_glob(&dir.to_string_lossy()) {
            return Err(VisionError::param(
                "path",
                format!("'{s}': wildcards are supported in the last path component only"),
            ));
        }
        let pattern: Vec<char> = path
            .file_name()
            .map(|n| n.to_string_lossy().chars().collect())
            .unwrap_or_default();
        let entries = std::fs::read_dir(dir).map_err(|e| VisionError::io(dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| VisionError::io(dir, e))?;
            let name: Vec<char> = entry.file_name().to_string_lossy().chars().collect();
            if entry.path().is_file() && wildcard_match(&pattern, &name) {
                files.push(entry.path());
            }
        }
    } else if path.is_dir() {
        walk(path, recursive, &mut files)?;
    } else if path.is_file() {
        files.push(path.to_path_buf());
    } else {
        return Err(VisionError::io(
            path,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or directory"),
        ));
    }
    files.sort();
    Ok(files)
}

/// Builds a dataset with one `image` struct column from decoded rows (in the given order).
pub fn images_to_dataset(rows: &[ImageRow]) -> Result<Dataset> {
    let origin = StringArray::from_iter_values(rows.iter().map(|r| r.origin.as_str()));
    let height = Int32Array::from_iter_values(rows.iter().map(|r| r.height as i32));
    let width = Int32Array::from_iter_values(rows.iter().map(|r| r.width as i32));
    let channels = Int32Array::from_iter_values(rows.iter().map(|r| r.n_channels as i32));
    let mode = Int32Array::from_iter_values(rows.iter().map(|r| r.mode()));
    let data = BinaryArray::from_iter_values(rows.iter().map(|r| r.data.as_slice()));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(origin),
        Arc::new(height),
        Arc::new(width),
        Arc::new(channels),
        Arc::new(mode),
        Arc::new(data),
    ];
    let image =
        StructArray::try_new(image_fields(), columns, None).map_err(ml_core::MlError::from)?;
    Ok(Dataset::from_columns(vec![(
        IMAGE_COL,
        Arc::new(image) as ArrayRef,
    )])?)
}

/// Reads every image a path names (see [`list_image_files`]) into a dataset with Spark's
/// image schema, decoding in parallel; rows are in sorted path order.
pub fn read_images(path: impl AsRef<Path>, options: &ImageReadOptions) -> Result<Dataset> {
    let files = list_image_files(path, options.recursive)?;
    let decoded: Vec<Result<ImageRow>> = ml_core::threads::install(options.n_threads, || {
        files.par_iter().map(|f| decode_image_file(f)).collect()
    })?;
    let mut rows = Vec::with_capacity(decoded.len());
    for r in decoded {
        match r {
            Ok(row) => rows.push(row),
            Err(e @ VisionError::ImageDecode { .. }) if options.drop_invalid => {
                tracing::warn!("dropping undecodable image: {e}");
            }
            Err(e) => return Err(e),
        }
    }
    images_to_dataset(&rows)
}

/// A read-only view of the `image` struct column of a dataset.
#[derive(Debug)]
pub struct ImageColumn<'a> {
    name: String,
    array: &'a StructArray,
    origin: &'a StringArray,
    height: &'a Int32Array,
    width: &'a Int32Array,
    channels: &'a Int32Array,
    data: &'a BinaryArray,
}

fn child<'a, T: 'static>(name: &str, array: &'a StructArray, field: &str) -> Result<&'a T> {
    array
        .column_by_name(field)
        .and_then(|c| c.as_any().downcast_ref::<T>())
        .ok_or_else(|| {
            ml_core::dataset::type_error(
                name,
                "Struct<origin, height, width, nChannels, mode, data> (Spark's image schema)",
                array.data_type(),
            )
            .into()
        })
}

/// Checks that a field has Spark's image struct type.
pub fn check_image_field(name: &str, data_type: &DataType) -> ml_core::Result<()> {
    let ok = match data_type {
        DataType::Struct(fields) => image_fields().iter().all(|want| {
            fields
                .iter()
                .any(|f| f.name() == want.name() && f.data_type() == want.data_type())
        }),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(ml_core::dataset::type_error(
            name,
            "Struct<origin, height, width, nChannels, mode, data> (Spark's image schema)",
            data_type,
        ))
    }
}

impl<'a> ImageColumn<'a> {
    /// Views column `name` of `data`, checking its type.
    pub fn new(data: &'a Dataset, name: &str) -> Result<Self> {
        let col = data.column(name)?;
        check_image_field(name, col.data_type())?;
        let array = col
            .as_any()
            .downcast_ref::<StructArray>()
            .ok_or_else(|| ml_core::dataset::type_error(name, "Struct", col.data_type()))?;
        Ok(ImageColumn {
            name: name.to_string(),
            array,
            origin: child(name, array, "origin")?,
            height: child(name, array, "height")?,
            width: child(name, array, "width")?,
            channels: child(name, array, "nChannels")?,
            data: child(name, array, "data")?,
        })
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.array.len()
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.array.is_empty()
    }

    /// The origin of row `i` (empty when null).
    pub fn origin(&self, i: usize) -> &str {
        if self.origin.is_null(i) {
            ""
        } else {
            self.origin.value(i)
        }
    }

    /// The model tensor of row `i` ([`Preprocessing::write_tensor`] of [`rgb`](Self::rgb)),
    /// written into `out` (`3 * input_size^2` values). Three-channel rows are read as the BGR
    /// bytes they are stored as, without an RGB copy; errors as `rgb`'s.
    pub fn write_tensor(&self, i: usize, prep: &Preprocessing, out: &mut [f32]) -> Result<()> {
        let (w, h, c) = self.checked_size(i)?;
        if c != 3 {
            prep.write_tensor(&self.rgb(i)?, out);
            return Ok(());
        }
        prep.write_tensor_bgr(w, h, self.data.value(i), out)
            .map_err(|e| {
                ml_core::MlError::value(&self.name, i, format!("{} ({})", e, self.origin(i))).into()
            })
    }

    /// `(width, height, channels)` of row `i`: errors naming the row when it is null or a
    /// size is not positive.
    fn checked_size(&self, i: usize) -> Result<(usize, usize, usize)> {
        let nulls: Option<&NullBuffer> = self.array.nulls();
        if nulls.map(|n| n.is_null(i)).unwrap_or(false) || self.data.is_null(i) {
            return Err(ml_core::MlError::value(&self.name, i, "the image is null").into());
        }
        let (h, w, c) = (
            self.height.value(i),
            self.width.value(i),
            self.channels.value(i),
        );
        if h <= 0 || w <= 0 || c <= 0 {
            return Err(ml_core::MlError::value(
                &self.name,
                i,
                format!("invalid image size {w}x{h}x{c} ({})", self.origin(i)),
            )
            .into());
        }
        Ok((w as usize, h as usize, c as usize))
    }

    /// The pixels of row `i` as RGB; a null row or inconsistent sizes are errors naming the row.
    pub fn rgb(&self, i: usize) -> Result<RgbPixels> {
        let (w, h, c) = self.checked_size(i)?;
        RgbPixels::from_bgr_channels(w, h, c, self.data.value(i)).map_err(|e| {
            ml_core::MlError::value(&self.name, i, format!("{} ({})", e, self.origin(i))).into()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Encodes `img` as a JPEG file (quality 90) with the `image` crate.
    fn write_jpeg(path: &Path, img: image::DynamicImage) {
        let mut bytes = Vec::new();
        img.write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Jpeg,
        )
        .unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    #[test]
    fn gray_and_colour_jpegs_keep_their_channels_and_agree_with_the_image_crate() {
        let dir = tempfile::tempdir().unwrap();
        let (w, h) = (37u32, 23u32);
        let gray = image::GrayImage::from_fn(w, h, |x, y| image::Luma([(x * 5 + y * 3) as u8]));
        let rgb = image::RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x * 6) as u8, (y * 9) as u8, ((x + y) * 4) as u8])
        });
        let gp = dir.path().join("gray.jpg");
        let cp = dir.path().join("colour.jpg");
        write_jpeg(&gp, image::DynamicImage::ImageLuma8(gray));
        write_jpeg(&cp, image::DynamicImage::ImageRgb8(rgb));
        for (path, channels) in [(&gp, 1), (&cp, 3)] {
            let row = decode_image_file(path).unwrap();
            assert_eq!((row.width, row.height, row.n_channels), (37, 23, channels));
            // The independent reference: the `image` crate's own decoder. With libjpeg-turbo
            // the values may differ by a few levels (IDCT and upsampling rounding).
            let reference = image::open(path).unwrap();
            let reference: Vec<u8> = if channels == 1 {
                reference.into_luma8().into_raw()
            } else {
                let mut raw = reference.into_rgb8().into_raw();
                raw.chunks_exact_mut(3).for_each(|p| p.swap(0, 2));
                raw
            };
            let max = row
                .data
                .iter()
                .zip(&reference)
                .map(|(a, b)| a.abs_diff(*b))
                .max()
                .unwrap();
            assert!(max <= 4, "{}: max diff {max}", path.display());
            let rgb = decode_rgb(path).unwrap();
            assert_eq!(rgb, row.to_rgb().unwrap());
        }
    }

    #[test]
    fn column_tensors_equal_the_tensors_of_the_rgb_rows() {
        // Gray, BGR and BGRA rows (the BGR row takes the path without an RGB copy), against
        // the tensor of each row's RGB pixels; then a row whose bytes do not match its size.
        let (w, h) = (300usize, 240usize);
        let byte = |i: usize| ((i * 37 + i / 7 * 11) % 256) as u8;
        let rows: Vec<ImageRow> = [1usize, 3, 4]
            .iter()
            .map(|&c| ImageRow {
                origin: format!("mem://{c}"),
                height: h,
                width: w,
                n_channels: c,
                data: (0..w * h * c).map(byte).collect(),
            })
            .collect();
        let data = images_to_dataset(&rows).unwrap();
        let col = ImageColumn::new(&data, IMAGE_COL).unwrap();
        let prep = Preprocessing::efficientnet_lite();
        for (i, row) in rows.iter().enumerate() {
            let mut got = vec![0f32; 3 * 224 * 224];
            col.write_tensor(i, &prep, &mut got).unwrap();
            let want = prep.to_tensor(&row.to_rgb().unwrap());
            assert!(
                got.iter()
                    .zip(&want)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "row {i}"
            );
        }
        let mut bad = rows[1].clone();
        bad.data.truncate(100);
        let data = images_to_dataset(&[bad]).unwrap();
        let col = ImageColumn::new(&data, IMAGE_COL).unwrap();
        let err = col
            .write_tensor(0, &prep, &mut vec![0f32; 3 * 224 * 224])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("mem://3") && err.contains("300x240 BGR"),
            "{err}"
        );
    }

    #[test]
    fn wildcards() {
        let m = |p: &str, n: &str| {
            wildcard_match(
                &p.chars().collect::<Vec<_>>(),
                &n.chars().collect::<Vec<_>>(),
            )
        };
        assert!(m("*.jpg", "a.jpg"));
        assert!(!m("*.jpg", "a.png"));
        assert!(m("vtest_0[0-1]?.jpg", "vtest_012.jpg"));
        assert!(!m("vtest_0[0-1]?.jpg", "vtest_023.jpg"));
        assert!(m("a*b*c", "aXXbYc"));
        assert!(!m("a*b*c", "aXXbY"));
    }
}
