//! Frames from video files through FFmpeg (cargo feature `video`, crate `ffmpeg-next`).
//!
//! [`FrameExtractor`] decodes a video's best video stream and keeps one frame per `interval_ms`
//! of presentation time: the first frame whose time (`best-effort timestamp`, else `pts`, times
//! the stream's time base) reaches 0, `interval`, `2 * interval`, ... Only kept frames are
//! converted to RGB24 (swscale), so the cost is mostly decoding. Frames can also be written as
//! `<video stem>frame%04d.jpg` (numbered 0, 1, 2, ... in kept order, as the seed's OpenCV loop
//! does), JPEG quality 90 by default, or PNG.
//!
//! ```no_run
//! use ml_vision::video::FrameExtractor;
//! let frames = FrameExtractor::new().interval_ms(1000).extract("vtest.avi").unwrap();
//! println!("{} frames, last at {} ms", frames.len(), frames.last().unwrap().timestamp_ms);
//! ```

use std::path::{Path, PathBuf};
use std::sync::{Arc, Once};

use arrow::array::{ArrayRef, Int64Array};
use arrow::datatypes::{DataType, Field};
use ffmpeg_next as ffmpeg;
use ml_core::Dataset;
use rayon::prelude::*;

use crate::error::{Result, VisionError};
use crate::image_table::{images_to_dataset, ImageRow};
use crate::preprocess::RgbPixels;

/// One frame taken from a video.
#[derive(Debug, Clone)]
pub struct Frame {
    /// The video file.
    pub source: PathBuf,
    /// Presentation time in milliseconds from the stream start.
    pub timestamp_ms: i64,
    /// Index of the frame among all decoded frames (0-based).
    pub frame_number: usize,
    /// The pixels.
    pub image: RgbPixels,
}

impl Frame {
    /// `<source>#t=<ms>ms`, the origin recorded in image tables.
    pub fn origin(&self) -> String {
        format!("{}#t={}ms", self.source.display(), self.timestamp_ms)
    }
}

/// Output format of written frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameFormat {
    /// JPEG with the given quality (1..=100).
    Jpeg(u8),
    /// PNG (lossless).
    Png,
}

/// Extracts frames from video files at a fixed interval (see the [module docs](self)).
#[derive(Debug, Clone)]
pub struct FrameExtractor {
    interval_ms: u64,
    max_frames: Option<usize>,
    output_dir: Option<PathBuf>,
    format: FrameFormat,
}

impl Default for FrameExtractor {
    fn default() -> Self {
        FrameExtractor {
            interval_ms: 1000,
            max_frames: None,
            output_dir: None,
            format: FrameFormat::Jpeg(90),
        }
    }
}

fn init_ffmpeg() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        let _ = ffmpeg::init();
        ffmpeg::util::log::set_level(ffmpeg::util::log::Level::Fatal);
    });
}

impl FrameExtractor {
    /// One frame per 1000 ms, kept in memory only.
    pub fn new() -> Self {
        FrameExtractor::default()
    }

    /// Keeps one frame per `ms` milliseconds of presentation time (> 0).
    pub fn interval_ms(mut self, ms: u64) -> Self {
        self.interval_ms = ms;
        self
    }

    /// Stops after `n` kept frames (> 0; by default every frame at the interval is kept).
    pub fn max_frames(mut self, n: usize) -> Self {
        self.max_frames = Some(n);
        self
    }

    /// Also writes each kept frame into `dir` as `<video stem>frame%04d.<jpg|png>`.
    pub fn write_to(mut self, dir: impl Into<PathBuf>) -> Self {
        self.output_dir = Some(dir.into());
        self
    }

    /// The format of written frames (JPEG quality 90 by default).
    pub fn format(mut self, format: FrameFormat) -> Self {
        self.format = format;
        self
    }

    /// The file name frame `k` of `video` is written as.
    pub fn frame_file_name(&self, video: &Path, k: usize) -> String {
        let stem = video
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let ext = match self.format {
            FrameFormat::Jpeg(_) => "jpg",
            FrameFormat::Png => "png",
        };
        format!("{stem}frame{k:04}.{ext}")
    }

    /// Decodes `video` and returns the kept frames in time order (and writes them when asked).
    ///
    /// Errors name the file: [`VisionError::Io`] when it does not exist, [`VisionError::Video`]
    /// when FFmpeg cannot open it, it has no video stream, or no frame decodes.
    pub fn extract(&self, video: impl AsRef<Path>) -> Result<Vec<Frame>> {
        let path = video.as_ref();
        if self.interval_ms == 0 {
            return Err(VisionError::param("interval_ms", "must be > 0"));
        }
        let max_frames = self.max_frames.unwrap_or(usize::MAX);
        if max_frames == 0 {
            return Err(VisionError::param("max_frames", "must be > 0"));
        }
        if let FrameFormat::Jpeg(q) = self.format {
            if !(1..=100).contains(&q) {
                return Err(VisionError::param("jpeg_quality", "must be in 1..=100"));
            }
        }
        std::fs::metadata(path).map_err(|e| VisionError::io(path, e))?;
        init_ffmpeg();
        let verr = |what: &str, e: ffmpeg::Error| VisionError::video(path, format!("{what}: {e}"));
        let mut ictx = ffmpeg::format::input(&path)
            .map_err(|e| verr("not a readable video file (FFmpeg could not open it)", e))?;
        let stream = ictx
            .streams()
            .best(ffmpeg::media::Type::Video)
            .ok_or_else(|| VisionError::video(path, "no video stream"))?;
        let stream_index = stream.index();
        let time_base = stream.time_base();
        let frame_rate = stream.avg_frame_rate();
        let ctx = ffmpeg::codec::context::Context::from_parameters(stream.parameters())
            .map_err(|e| verr("codec parameters", e))?;
        let mut decoder = ctx
            .decoder()
            .video()
            .map_err(|e| verr("no decoder for the video stream", e))?;

        let tb = (time_base.numerator() as f64, time_base.denominator() as f64);
        let fps = if frame_rate.numerator() > 0 && frame_rate.denominator() > 0 {
            frame_rate.numerator() as f64 / frame_rate.denominator() as f64
        } else {
            0.0
        };
        let interval = i64::try_from(self.interval_ms).unwrap_or(i64::MAX);
        let mut state = KeepState {
            next_ms: i64::MIN,
            decoded: 0,
            frames: Vec::new(),
            scaler: None,
            packet_errors: 0,
        };
        let process = |decoder: &mut ffmpeg::decoder::Video, state: &mut KeepState| -> Result<()> {
            let mut decoded = ffmpeg::util::frame::video::Video::empty();
            while state.frames.len() < max_frames && decoder.receive_frame(&mut decoded).is_ok() {
                let n = state.decoded;
                state.decoded += 1;
                let t_ms = match decoded.timestamp().or(decoded.pts()) {
                    // Float to integer casts saturate: a damaged timestamp cannot overflow.
                    Some(ts) if tb.1 > 0.0 => (ts as f64 * tb.0 * 1000.0 / tb.1).round() as i64,
                    _ if fps > 0.0 => (n as f64 * 1000.0 / fps).round() as i64,
                    _ => (n as i64).saturating_mul(interval),
                };
                if t_ms < state.next_ms {
                    continue;
                }
                state.next_ms = t_ms
                    .div_euclid(interval)
                    .saturating_add(1)
                    .saturating_mul(interval);
                let image = to_rgb(path, &decoded, &mut state.scaler)?;
                state.frames.push(Frame {
                    source: path.to_path_buf(),
                    timestamp_ms: t_ms,
                    frame_number: n,
                    image,
                });
            }
            Ok(())
        };
        for (s, packet) in ictx.packets() {
            if state.frames.len() >= max_frames {
                break;
            }
            if s.index() != stream_index {
                continue;
            }
            if decoder.send_packet(&packet).is_err() {
                // A damaged packet: FFmpeg's own tools skip it and go on.
                state.packet_errors += 1;
                continue;
            }
            process(&mut decoder, &mut state)?;
        }
        if state.frames.len() < max_frames {
            let _ = decoder.send_eof();
            process(&mut decoder, &mut state)?;
        }
        if state.frames.is_empty() {
            return Err(VisionError::video(
                path,
                format!(
                    "no frame could be decoded ({} damaged packets); the file is corrupt or not a video",
                    state.packet_errors
                ),
            ));
        }
        if let Some(dir) = &self.output_dir {
            self.write_frames(path, dir, &state.frames)?;
        }
        Ok(state.frames)
    }

    fn write_frames(&self, video: &Path, dir: &Path, frames: &[Frame]) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| VisionError::io(dir, e))?;
        frames.par_iter().enumerate().try_for_each(|(k, f)| {
            let out = dir.join(self.frame_file_name(video, k));
            write_rgb(&out, &f.image, self.format)
        })
    }
}

struct KeepState {
    next_ms: i64,
    decoded: usize,
    frames: Vec<Frame>,
    scaler: Option<(
        ffmpeg::software::scaling::Context,
        (u32, u32, ffmpeg::format::Pixel),
    )>,
    packet_errors: usize,
}

fn to_rgb(
    path: &Path,
    frame: &ffmpeg::util::frame::video::Video,
    scaler: &mut Option<(
        ffmpeg::software::scaling::Context,
        (u32, u32, ffmpeg::format::Pixel),
    )>,
) -> Result<RgbPixels> {
    use ffmpeg::software::scaling::{context::Context, flag::Flags};
    let key = (frame.width(), frame.height(), frame.format());
    if scaler.as_ref().map(|(_, k)| *k != key).unwrap_or(true) {
        // Bicubic chroma upsampling, as OpenCV's FFmpeg backend uses.
        let ctx = Context::get(
            key.2,
            key.0,
            key.1,
            ffmpeg::format::Pixel::RGB24,
            key.0,
            key.1,
            Flags::BICUBIC,
        )
        .map_err(|e| VisionError::video(path, format!("pixel conversion: {e}")))?;
        *scaler = Some((ctx, key));
    }
    let (ctx, _) = scaler.as_mut().expect("set above");
    let mut rgb = ffmpeg::util::frame::video::Video::empty();
    ctx.run(frame, &mut rgb)
        .map_err(|e| VisionError::video(path, format!("pixel conversion: {e}")))?;
    let (w, h) = (rgb.width() as usize, rgb.height() as usize);
    let stride = rgb.stride(0);
    let plane = rgb.data(0);
    let mut data = Vec::with_capacity(w * h * 3);
    for y in 0..h {
        data.extend_from_slice(&plane[y * stride..y * stride + w * 3]);
    }
    RgbPixels::new(w, h, data)
}

/// Writes RGB pixels as JPEG (quality 1..=100) or PNG.
pub fn write_rgb(path: &Path, img: &RgbPixels, format: FrameFormat) -> Result<()> {
    let enc_err = |e: image::ImageError| VisionError::ImageEncode {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let file = std::fs::File::create(path).map_err(|e| VisionError::io(path, e))?;
    let mut w = std::io::BufWriter::new(file);
    match format {
        FrameFormat::Jpeg(q) => image::codecs::jpeg::JpegEncoder::new_with_quality(&mut w, q)
            .encode(
                img.data(),
                img.width() as u32,
                img.height() as u32,
                image::ExtendedColorType::Rgb8,
            )
            .map_err(enc_err)?,
        FrameFormat::Png => image::ImageEncoder::write_image(
            image::codecs::png::PngEncoder::new(&mut w),
            img.data(),
            img.width() as u32,
            img.height() as u32,
            image::ExtendedColorType::Rgb8,
        )
        .map_err(enc_err)?,
    }
    std::io::Write::flush(&mut w).map_err(|e| VisionError::io(path, e))
}

/// An image table (Spark's image schema, see [`crate::image_table`]) of frames, plus a
/// `timestamp_ms` (Int64) column; origins are `<video>#t=<ms>ms`.
pub fn frames_to_dataset(frames: &[Frame]) -> Result<Dataset> {
    let rows: Vec<ImageRow> = frames
        .par_iter()
        .map(|f| ImageRow::from_rgb(f.origin(), &f.image))
        .collect();
    let ds = images_to_dataset(&rows)?;
    let ts = Int64Array::from_iter_values(frames.iter().map(|f| f.timestamp_ms));
    Ok(ds.with_field(
        Field::new("timestamp_ms", DataType::Int64, false),
        Arc::new(ts) as ArrayRef,
    )?)
}
