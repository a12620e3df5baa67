//! What the fuzz targets in `fuzz/` run for ml-vision, and the regression tests replay on
//! stable: each function feeds arbitrary bytes to a reader and returns normally whatever they
//! hold. An error is a fine answer; a panic, an abort, a hang or an unbounded allocation is a
//! bug. Where two ways must agree, a disagreement panics too.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use arbitrary::{Arbitrary, Unstructured};

use crate::image_table::{
    decode_rgb, read_images, ImageColumn, ImageReadOptions, IMAGE_COL, MAX_IMAGE_BYTES,
};
use crate::preprocess::{resize_bilinear_pil, Preprocessing, RgbPixels};

/// A file in a fresh temporary directory holding `bytes`, removed (with the directory) when
/// dropped.
struct TempInput {
    dir: PathBuf,
    path: PathBuf,
}

impl TempInput {
    fn new(name: &str, bytes: &[u8]) -> TempInput {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "ml-vision-fuzz-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("creating the fuzz directory");
        let path = dir.join(name);
        std::fs::write(&path, bytes).expect("writing the fuzz input");
        TempInput { dir, path }
    }
}

impl Drop for TempInput {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Most pixels of an image [`image_bytes`] decodes (4 Mi). A header claiming more, whose
/// decoded bytes are within [`MAX_IMAGE_BYTES`], is legitimate work linear in the image (a
/// 447-byte JPEG claiming 4864 x 32367 gray pixels decodes to 157 MB, seconds under ASan per
/// decode; one claiming 10752 x 18761 decodes to 202 MB, and the target's four decodes and
/// their RGB conversions passed 2 GB): such inputs are skipped, as [`preprocess`] bounds its
/// work. Headers claiming more than the byte limit still run: they must be refused before
/// anything is allocated.
pub const MAX_DECODE_PIXELS: u64 = 1 << 22;

/// Whether the header of `data` (read without decoding pixels) claims an image of more than
/// [`MAX_DECODE_PIXELS`] pixels whose decoded bytes (in its own pixel format) are within
/// [`MAX_IMAGE_BYTES`].
fn large_but_allowed(data: &[u8]) -> bool {
    use image::ImageDecoder;
    let Ok(reader) = image::ImageReader::new(std::io::Cursor::new(data)).with_guessed_format()
    else {
        return false;
    };
    let Ok(decoder) = reader.into_decoder() else {
        return false;
    };
    let (w, h) = decoder.dimensions();
    let pixels = w as u64 * h as u64;
    // The decoded bytes in the file's own pixel format, as the byte limit counts them.
    pixels > MAX_DECODE_PIXELS && decoder.total_bytes() <= MAX_IMAGE_BYTES as u64
}

/// Image decoding: the bytes as an image file, read into an image table ([`read_images`] on
/// the file and on its directory) and decoded straight to RGB ([`decode_rgb`]). All must
/// succeed or fail together, with the same pixels. Inputs of more than [`MAX_DECODE_PIXELS`]
/// pixels that the limit allows are skipped (see there).
pub fn image_bytes(data: &[u8]) {
    if large_but_allowed(data) {
        return;
    }
    let input = TempInput::new("image.png", data);
    let opts = ImageReadOptions::default().with_n_threads(1);
    let table = read_images(&input.path, &opts);
    let rgb = decode_rgb(&input.path);
    let from_dir = read_images(&input.dir, &opts);
    let dropped = read_images(&input.dir, &opts.clone().with_drop_invalid(true))
        .expect("drop_invalid reads a directory of one file");
    match (&table, &rgb) {
        (Ok(t), Ok(rgb)) => {
            assert_eq!(t.num_rows(), 1);
            let col = ImageColumn::new(t, IMAGE_COL).expect("an image column");
            let again = col.rgb(0).expect("a decoded row converts to RGB");
            assert_eq!(&again, rgb, "read_images and decode_rgb disagree");
            let d = from_dir.expect("the directory reads as the file does");
            assert_eq!(d.batch(), t.batch(), "reading the directory differs");
            assert_eq!(dropped.num_rows(), 1);
        }
        (Err(_), Err(_)) => {
            assert!(from_dir.is_err());
            assert_eq!(dropped.num_rows(), 0);
        }
        (t, r) => panic!(
            "read_images and decode_rgb disagree: {:?} vs {:?}",
            t.as_ref().map(|d| d.num_rows()),
            r.as_ref().map(|p| (p.width(), p.height()))
        ),
    }
}

/// Most pixels of an image [`preprocess`] builds (4 Mi: a 1 x 4,000,000 image fits).
pub const MAX_FUZZ_PIXELS: usize = 1 << 22;

/// The structured input of [`preprocess`]: an image of any size (its pixels repeat to fill
/// it) and the preprocessing parameters.
#[derive(Debug, Clone, Arbitrary)]
pub struct PreprocessInput {
    /// Width; with `height`, first tried as given (sizes that overflow included), then
    /// reduced so that the image has at most [`MAX_FUZZ_PIXELS`] pixels.
    pub width: u32,
    /// Height.
    pub height: u32,
    /// Channels of the raw layout tried with [`RgbPixels::from_bgr_channels`].
    pub channels: u8,
    /// Side of the model input (taken modulo 1025: 0 is refused by validation).
    pub input_size: u16,
    /// Shorter side of the first resize (modulo 4097: 0 resizes straight to the input).
    pub resize_shorter: u16,
    /// Per-channel mean.
    pub mean: [f32; 3],
    /// Per-channel std.
    pub std: [f32; 3],
    /// The pixels, repeated to fill the image (zeros when empty).
    pub pixels: Vec<u8>,
}

/// [`preprocess`] of the [`PreprocessInput`] that `arbitrary` makes of the bytes (as the
/// fuzz target does).
pub fn preprocess_bytes(data: &[u8]) {
    if let Ok(input) = PreprocessInput::arbitrary_take_rest(Unstructured::new(data)) {
        preprocess(&input);
    }
}

/// The featurizer's preprocessing (what runs before the CNN, not the CNN): the image is
/// wrapped ([`RgbPixels::new`], [`RgbPixels::from_bgr_channels`], sizes as given, which must
/// be errors when they do not fit), then resized, cropped and normalized
/// ([`Preprocessing::to_tensor`]) when the parameters validate. The tensor has
/// `3 * input_size^2` values; for small images the centre crop equals cropping the full
/// resize.
pub fn preprocess(input: &PreprocessInput) {
    let (w, h) = (input.width as usize, input.height as usize);
    let _ = RgbPixels::new(w, h, input.pixels.clone());
    let _ = RgbPixels::from_bgr_channels(w, h, input.channels as usize, &input.pixels);
    let (w, h) = (w.max(1), h.max(1));
    let (w, h) = if w.saturating_mul(h) > MAX_FUZZ_PIXELS {
        // Keep the longer side when it fits alone: the extreme aspect ratios are the point.
        if w >= h {
            let w = w.min(MAX_FUZZ_PIXELS);
            (w, (MAX_FUZZ_PIXELS / w).min(h))
        } else {
            let h = h.min(MAX_FUZZ_PIXELS);
            ((MAX_FUZZ_PIXELS / h).min(w), h)
        }
    } else {
        (w, h)
    };
    let n = w * h * 3;
    let data: Vec<u8> = if input.pixels.is_empty() {
        vec![0; n]
    } else {
        input.pixels.iter().copied().cycle().take(n).collect()
    };
    let img = RgbPixels::new(w, h, data).expect("sizes that fit");
    let p = Preprocessing {
        input_size: input.input_size as usize % 1025,
        resize_shorter: input.resize_shorter as usize % 4097,
        mean: input.mean,
        std: input.std,
    };
    if p.validate().is_err() {
        return;
    }
    let s = p.input_size;
    let (nw, nh) = if p.resize_shorter > 0 {
        p.resized_size(&img)
    } else {
        (s, s)
    };
    // The work is Pillow's: every source row the crop reads times the crop's width times the
    // horizontal filter, plus the crop times the vertical filter. It grows with the image and
    // with `input_size`, as it should; inputs beyond this budget are left out so that the
    // instrumented build stays within the timeout (memory is checked by the tests on stable
    // with a 1 x 4,000,000 image).
    let filter = |from: usize, to: usize| {
        if from == to {
            1
        } else {
            2 * from.div_ceil(to) + 1
        }
    };
    let rows_read = if nh == h {
        s
    } else {
        (s * h / nh + 2 * h.div_ceil(nh) + 1).min(h)
    };
    let work = rows_read * s * filter(w, nw) + s * s * filter(h, nh);
    if work > MAX_FUZZ_WORK {
        return;
    }
    let tensor = p.to_tensor(&img);
    assert_eq!(tensor.len(), 3 * s * s);
    if p.resize_shorter > 0 && nw.saturating_mul(nh) <= 1 << 18 {
        let crop = p.resize_and_crop(&img);
        let full = resize_bilinear_pil(&img, nw, nh);
        assert_eq!(
            full.crop((nw - s) / 2, (nh - s) / 2, s, s),
            crop,
            "the centre crop differs from cropping the full resize"
        );
    }
}

/// Multiply-adds of one preprocessing the fuzz target runs at most (see [`preprocess`]).
const MAX_FUZZ_WORK: usize = 1 << 25;

/// Video opening (feature `video`): the bytes as a video file (the first byte picks the
/// extension FFmpeg's probing sees), at most 2 frames taken 40 ms apart.
#[cfg(feature = "video")]
pub fn video_bytes(data: &[u8]) {
    const EXT: [&str; 7] = ["mp4", "avi", "mkv", "webm", "mov", "ts", "y4m"];
    let Some((&first, body)) = data.split_first() else {
        return;
    };
    let input = TempInput::new(&format!("video.{}", EXT[first as usize % EXT.len()]), body);
    let extractor = crate::video::FrameExtractor::new()
        .interval_ms(40)
        .max_frames(2);
    if let Ok(frames) = extractor.extract(&input.path) {
        assert!(!frames.is_empty() && frames.len() <= 2);
        let table = crate::video::frames_to_dataset(&frames).expect("frames make a table");
        assert_eq!(table.num_rows(), frames.len());
    }
}
