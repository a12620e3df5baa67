//! Replays, on stable, what the fuzz targets `image_decode`, `featurizer_preprocess` and
//! `video_open` in `fuzz/` run (`ml_vision::testing::fuzz`) on their seed corpora
//! (`fuzz/seeds/<target>`) and on every input that once made a target fail
//! (`fuzz/regressions/<target>`, one file per fixed crash), and checks the limits those
//! inputs led to.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use ml_core::testing::fuzz::{fuzz_dir, replay};
use ml_vision::image_table::{decode_rgb, read_images, ImageReadOptions, MAX_IMAGE_BYTES};
use ml_vision::preprocess::{Preprocessing, RgbPixels};
use ml_vision::testing::fuzz::{image_bytes, preprocess, preprocess_bytes, PreprocessInput};
use ml_vision::VisionError;

/// Counts the bytes the current thread has allocated and not freed, and their peak, so that
/// a test can bound what one call allocates (other tests run on other threads).
struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let _ = LIVE.try_with(|l| {
                l.set(l.get() + layout.size() as isize);
                let _ = PEAK.try_with(|p| p.set(p.get().max(l.get())));
            });
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        let _ = LIVE.try_with(|l| l.set(l.get() - layout.size() as isize));
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// The result of `f` and the most bytes it had allocated at once on this thread.
fn peak_bytes<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let start = LIVE.with(|l| l.get());
    PEAK.with(|p| p.set(start));
    let out = f();
    let peak = PEAK.with(|p| p.get()) - start;
    (out, peak.max(0) as usize)
}

#[test]
fn image_decode_inputs_replay_without_a_panic() {
    assert!(replay("image_decode", image_bytes) >= 6);
}

#[test]
fn featurizer_preprocess_inputs_replay_without_a_panic() {
    assert!(replay("featurizer_preprocess", preprocess_bytes) >= 4);
}

#[cfg(feature = "video")]
#[test]
fn video_open_inputs_replay_without_a_panic() {
    assert!(replay("video_open", ml_vision::testing::fuzz::video_bytes) >= 3);
}

/// A PNG whose header claims `w x h` RGB pixels, with a tiny (invalid) image data chunk.
fn png_claiming(w: u32, h: u32) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let mut crc = 0xFFFF_FFFFu32;
        for &b in kind.iter().chain(data) {
            crc ^= b as u32;
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        out.extend_from_slice(&(!crc).to_be_bytes());
    }
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(&mut png, b"IHDR", &ihdr);
    chunk(
        &mut png,
        b"IDAT",
        &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    );
    chunk(&mut png, b"IEND", &[]);
    png
}

/// Issue 19: a PNG that claims 20000 x 20000 pixels (1.2 GB decoded) is refused, naming the
/// file, within 100 MB.
#[test]
fn a_png_claiming_20000_by_20000_is_refused_within_100_mb() {
    const { assert!(20000usize * 20000 * 3 > MAX_IMAGE_BYTES) };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.png");
    std::fs::write(&path, png_claiming(20000, 20000)).unwrap();
    let (res, peak) = peak_bytes(|| decode_rgb(&path));
    match res.unwrap_err() {
        VisionError::ImageDecode { path: p, message } => {
            assert_eq!(p, path);
            assert!(message.contains("limit"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert!(peak < 100 << 20, "{peak} bytes");
    let opts = ImageReadOptions::default().with_n_threads(1);
    let (res, peak) = peak_bytes(|| read_images(&path, &opts));
    assert!(matches!(res, Err(VisionError::ImageDecode { .. })));
    assert!(peak < 100 << 20, "{peak} bytes");
}

/// Found by `featurizer_preprocess`: sizes whose product overflows `usize` (as an image
/// table's Int32 width, height and channels can) panicked in debug builds and wrapped in
/// release; they are an error naming the sizes.
#[test]
fn image_sizes_that_overflow_are_errors() {
    let big = usize::MAX / 2;
    let e = RgbPixels::new(big, 3, vec![0; 12]).unwrap_err();
    assert!(e.to_string().contains("too large to address"), "{e}");
    let e = RgbPixels::from_bgr_channels(1 << 31, 1 << 31, 1 << 31, &[0; 3]).unwrap_err();
    assert!(e.to_string().contains("too large to address"), "{e}");
}

/// Found by the lost `featurizer_preprocess` run: a 1 x 4,000,000 image, resized so that its
/// shorter side is 256 (1.024e9 rows), computed the resize taps of every row, ~64 GB. Only the
/// centre crop's taps are computed now: the preprocessing takes a few times the image.
#[test]
fn a_one_pixel_wide_tall_image_preprocesses_in_bounded_memory() {
    let (w, h) = (1, 4_000_000);
    let img = RgbPixels::new(w, h, (0..w * h * 3).map(|i| (i % 251) as u8).collect()).unwrap();
    let p = Preprocessing::efficientnet_lite();
    let (tensor, peak) = peak_bytes(|| p.to_tensor(&img));
    assert_eq!(tensor.len(), 3 * 224 * 224);
    assert!(peak < 100 << 20, "{peak} bytes");
    // The same in the other orientation.
    let img = RgbPixels::new(h, w, img.into_data()).unwrap();
    let (tensor, peak) = peak_bytes(|| p.to_tensor(&img));
    assert_eq!(tensor.len(), 3 * 224 * 224);
    assert!(peak < 100 << 20, "{peak} bytes");
}

/// Found by `featurizer_preprocess` (`regressions/featurizer_preprocess/
/// direct_resize_17x98309_to_672`, a timeout): a resize straight to the input size
/// (`resize_shorter` 0) kept the horizontal pass of every source row, `source height x
/// input_size` pixels (17 x 98309 to 672: 198 MB; 1 x 4,000,000 to 1024: 12 GB). The pass now
/// runs into a ring as tall as the vertical filter, with the same pixels.
#[test]
fn a_direct_resize_of_a_tall_image_keeps_only_the_filter_rows() {
    let (w, h) = (1, 500_000);
    let img = RgbPixels::new(w, h, (0..w * h * 3).map(|i| (i % 253) as u8).collect()).unwrap();
    let p = Preprocessing {
        input_size: 64,
        resize_shorter: 0,
        mean: [0.0; 3],
        std: [1.0; 3],
    };
    let (crop, peak) = peak_bytes(|| p.resize_and_crop(&img));
    assert_eq!((crop.width(), crop.height()), (64, 64));
    assert!(peak < 40 << 20, "{peak} bytes");
    // Same pixels as the window of the full resize computed a row band at a time.
    let band = ml_vision::preprocess::resize_bilinear_pil_window(&img, 64, 64, 0, 10, 64, 5);
    assert_eq!(band.data(), &crop.data()[10 * 64 * 3..15 * 64 * 3]);
}

/// The preprocessing of extreme shapes, directly (the fuzz target's checks included).
#[test]
fn extreme_aspect_ratios_preprocess() {
    for (width, height, input_size, resize_shorter) in [
        (1, 4_000_000, 224, 256),
        (4_000_000, 1, 224, 256),
        (1, 1, 224, 256),
        (3, 1000, 1, 4096),
        (1000, 3, 1024, 0),
        (u32::MAX, u32::MAX, 7, 9),
    ] {
        preprocess(&PreprocessInput {
            width,
            height,
            channels: 3,
            input_size,
            resize_shorter,
            mean: [127.0; 3],
            std: [128.0; 3],
            pixels: vec![1, 2, 3, 200, 100, 50, 7],
        });
    }
}

/// Writes the image seeds (tiny PNGs of each pixel format and JPEGs, gray and colour) and the
/// preprocessing seeds. Refreshed with
/// `cargo test -p ml-vision --test fuzz_regressions -- --ignored`.
#[test]
#[ignore]
fn write_seeds() {
    use image::{DynamicImage, ImageBuffer, ImageFormat};
    let dir = fuzz_dir().join("seeds/image_decode");
    std::fs::create_dir_all(&dir).unwrap();
    let (w, h) = (5u32, 3u32);
    let px = |x: u32, y: u32, c: u32| ((x * 50 + y * 80 + c * 30) % 256) as u8;
    let rgb = ImageBuffer::from_fn(w, h, |x, y| {
        image::Rgb([px(x, y, 0), px(x, y, 1), px(x, y, 2)])
    });
    let images = [
        (
            "gray",
            DynamicImage::ImageLuma8(ImageBuffer::from_fn(w, h, |x, y| {
                image::Luma([px(x, y, 0)])
            })),
        ),
        ("rgb", DynamicImage::ImageRgb8(rgb.clone())),
        (
            "rgba",
            DynamicImage::ImageRgba8(ImageBuffer::from_fn(w, h, |x, y| {
                image::Rgba([px(x, y, 0), px(x, y, 1), px(x, y, 2), px(x, y, 3)])
            })),
        ),
        (
            "gray_alpha",
            DynamicImage::ImageLumaA8(ImageBuffer::from_fn(w, h, |x, y| {
                image::LumaA([px(x, y, 0), px(x, y, 1)])
            })),
        ),
        (
            "rgb16",
            DynamicImage::ImageRgb16(ImageBuffer::from_fn(w, h, |x, y| {
                image::Rgb([px(x, y, 0) as u16 * 257, 7, 65535])
            })),
        ),
    ];
    for (name, img) in &images {
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, ImageFormat::Png).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), out.into_inner()).unwrap();
    }
    for (name, img) in [("gray", &images[0].1), ("rgb", &images[1].1)] {
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, ImageFormat::Jpeg).unwrap();
        std::fs::write(dir.join(format!("{name}.jpg")), out.into_inner()).unwrap();
    }
    std::fs::write(dir.join("huge_claim.png"), png_claiming(20000, 20000)).unwrap();
    for f in std::fs::read_dir(&dir).unwrap() {
        image_bytes(&std::fs::read(f.unwrap().path()).unwrap());
    }

    // Preprocessing: the layout `arbitrary` reads (fields in order, the pixels the rest).
    let dir = fuzz_dir().join("seeds/featurizer_preprocess");
    std::fs::create_dir_all(&dir).unwrap();
    let seed = |w: u32, h: u32, size: u16, shorter: u16, pixels: &[u8]| {
        let mut b = Vec::new();
        b.extend_from_slice(&w.to_le_bytes());
        b.extend_from_slice(&h.to_le_bytes());
        b.push(3);
        b.extend_from_slice(&size.to_le_bytes());
        b.extend_from_slice(&shorter.to_le_bytes());
        for v in [127.0f32, 127.0, 127.0, 128.0, 128.0, 128.0] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(pixels);
        b
    };
    for (name, bytes) in [
        (
            "efficientnet_320x240",
            seed(320, 240, 224, 256, &[10, 20, 30, 250, 1, 128]),
        ),
        ("direct_17x5", seed(17, 5, 8, 0, &[0, 255, 7])),
        (
            "tall_1x4000000",
            seed(1, 4_000_000, 224, 256, &[1, 2, 3, 4]),
        ),
        ("wide_3000x2", seed(3000, 2, 16, 40, &[9; 9])),
        ("one_pixel", seed(1, 1, 1, 1, &[200, 100, 0])),
    ] {
        std::fs::write(dir.join(name), &bytes).unwrap();
        preprocess_bytes(&bytes);
    }
}

/// `video_open` takes at most 2 frames: `max_frames` stops decoding there (0 is refused,
/// naming the parameter).
#[cfg(feature = "video")]
#[test]
fn max_frames_stops_the_extraction() {
    use ml_vision::video::FrameExtractor;
    let video = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/data/video/vtest.avi");
    let frames = FrameExtractor::new()
        .interval_ms(1000)
        .max_frames(2)
        .extract(&video)
        .unwrap();
    assert_eq!(
        frames.iter().map(|f| f.timestamp_ms).collect::<Vec<_>>(),
        vec![0, 1000]
    );
    let e = FrameExtractor::new()
        .max_frames(0)
        .extract(&video)
        .unwrap_err();
    assert!(
        matches!(&e, VisionError::Param { param, .. } if param == "max_frames"),
        "{e:?}"
    );
}

/// Found by `image_decode` (`regressions/image_decode/jpeg_zune_idct_unwrap_panic`): the
/// `image` crate's JPEG decoder (zune-jpeg) panics on this crafted baseline JPEG; reading it
/// is an error naming the file, on every path, not a panic.
#[test]
fn a_jpeg_that_makes_the_decoder_panic_is_an_error_naming_the_file() {
    let bytes = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fuzz/regressions/image_decode/jpeg_zune_idct_unwrap_panic"),
    )
    .expect("the regression input");
    let dir = std::env::temp_dir().join(format!("ml-vision-zune-panic-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad.jpg");
    std::fs::write(&path, &bytes).unwrap();
    let err = decode_rgb(&path).expect_err("a corrupt JPEG");
    let text = err.to_string();
    assert!(text.contains("bad.jpg"), "{text}");
    #[cfg(not(feature = "libjpeg-turbo"))]
    assert!(text.contains("the image decoder failed"), "{text}");
    let opts = ImageReadOptions::default().with_n_threads(1);
    assert!(read_images(&path, &opts).is_err());
    let dropped = read_images(&dir, &opts.with_drop_invalid(true)).expect("drop_invalid");
    assert_eq!(dropped.num_rows(), 0);
    std::fs::remove_dir_all(&dir).unwrap();
}
