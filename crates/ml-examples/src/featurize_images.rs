//! Turn images or video frames into CNN feature vectors (transfer learning) and write them to
//! Parquet.
//!
//! ```text
//! cargo run --release [--features video] --example featurize_images --
//!     (--images DIR | --video PATH [--interval-ms 1000] [--frames-out DIR])
//!     --model PATH.onnx [--threads 2] --out features.parquet
//! ```
//!
//! `--images` reads every .jpg/.jpeg/.png in DIR (or a glob such as `DIR/*.jpg`), in sorted
//! order. `--video` (only with `--features video`, which needs FFmpeg's development packages)
//! keeps one frame per `--interval-ms` of presentation time and, with `--frames-out`, also writes
//! them as `<video stem>frame%04d.jpg`. The model is the shipped EfficientNet-lite0
//! (`examples/data/models/efficientnet-lite0-imagenet.onnx`): shorter side to 256 (Pillow
//! bilinear), centre crop 224, `(x - 127) / 128`, 1280-d features.
//!
//! The Parquet file has `origin` (file path, or `video#t=<ms>ms`), `timestamp_ms` for video
//! frames, and `features` (FixedSizeList<Float64>). Progress lines go to stderr; the last line of
//! stdout is one JSON object: `{"images", "decode_s", "featurize_s", "feature_dim"}`
//! (`decode_s`: reading and decoding images or video; `featurize_s`: preprocessing and inference,
//! model load excluded and reported on stderr).
//!
//! Example:
//! `cargo run --release --example featurize_images -- --images examples/data/video/vtest_frames_1fps
//!  --model examples/data/models/efficientnet-lite0-imagenet.onnx --threads 2 --out /tmp/features.parquet`

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{ArrayRef, StringArray};
use ml_core::{Dataset, Transformer};
use ml_vision::image_table::{read_images, ImageColumn, ImageReadOptions};
use ml_vision::DeepImageFeaturizer;

use crate::common::Result;
use crate::Summary;

/// The flags of `examples/featurize_images.rs`.
#[derive(clap::Parser, Debug)]
#[command(about = "Featurize images or video frames with a pretrained CNN (ONNX via tract)")]
pub struct Args {
    /// Directory (or glob) of .jpg/.jpeg/.png images.
    #[arg(long, conflicts_with = "video", required_unless_present = "video")]
    pub images: Option<PathBuf>,
    /// Video file (needs the `video` cargo feature).
    #[arg(long)]
    pub video: Option<PathBuf>,
    /// Keep one video frame per this many milliseconds.
    #[arg(long, default_value_t = 1000)]
    pub interval_ms: u64,
    /// Also write the kept video frames here as <stem>frame%04d.jpg.
    #[arg(long)]
    pub frames_out: Option<PathBuf>,
    /// The ONNX model file.
    #[arg(long)]
    pub model: PathBuf,
    /// Threads for decoding and inference.
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// Output Parquet file.
    #[arg(long)]
    pub out: PathBuf,
}

/// Featurizes the images or video frames and writes the Parquet file; returns `{"images",
/// "decode_s", "featurize_s", "feature_dim"}` (keys in that order). Progress goes to stderr;
/// nothing is written to `out`.
pub fn run(args: &Args, _out: &mut dyn Write) -> Result<Summary> {
    crate::common::check_threads(args.threads)?;
    // A path that cannot take the output is refused before the model is loaded.
    ml_core::io::check_output_path(&args.out)?;
    let mut featurizer = DeepImageFeaturizer::new(args.model.to_string_lossy());
    featurizer.n_threads = args.threads;
    let t = Instant::now();
    let dim = featurizer.feature_dim()?;
    eprintln!(
        "model {} loaded and optimized in {:.3} s ({dim}-d features)",
        args.model.display(),
        t.elapsed().as_secs_f64()
    );

    let (table, decode_s, featurize_s) = match (&args.images, &args.video) {
        (Some(dir), _) => {
            let t = Instant::now();
            let images = read_images(
                dir,
                &ImageReadOptions::default().with_n_threads(args.threads),
            )?;
            let decode_s = t.elapsed().as_secs_f64();
            eprintln!("{} images decoded in {decode_s:.3} s", images.num_rows());
            let t = Instant::now();
            let out = featurizer.transform(&images)?;
            let featurize_s = t.elapsed().as_secs_f64();
            let col = ImageColumn::new(&images, "image")?;
            let origins = StringArray::from_iter_values((0..col.len()).map(|i| col.origin(i)));
            let table = Dataset::from_columns(vec![
                ("origin", Arc::new(origins) as ArrayRef),
                ("features", out.column("features")?.clone()),
            ])?;
            (table, decode_s, featurize_s)
        }
        (None, Some(video)) => featurize_video(args, &featurizer, video, dim)?,
        (None, None) => return Err("give --images DIR or --video PATH".into()),
    };
    ml_core::io::write_parquet(&table, &args.out)?;
    eprintln!("wrote {} rows to {}", table.num_rows(), args.out.display());
    // Keys in the documented order (serde_json's json! would sort them).
    Ok(Summary::from_line(format!(
        "{{\"images\": {}, \"decode_s\": {:.3}, \"featurize_s\": {:.3}, \"feature_dim\": {}}}",
        table.num_rows(),
        decode_s,
        featurize_s,
        dim
    ))?)
}

#[cfg(feature = "video")]
fn featurize_video(
    args: &Args,
    featurizer: &DeepImageFeaturizer,
    video: &std::path::Path,
    dim: usize,
) -> Result<(Dataset, f64, f64)> {
    use arrow::array::Int64Array;
    use arrow::datatypes::{DataType, Field};
    use ml_core::dataset::{vector_column_from_vec, vector_type};
    use ml_vision::FrameExtractor;
    let mut extractor = FrameExtractor::new().interval_ms(args.interval_ms);
    if let Some(dir) = &args.frames_out {
        extractor = extractor.write_to(dir);
    }
    let t = Instant::now();
    let frames = extractor.extract(video)?;
    let decode_s = t.elapsed().as_secs_f64();
    eprintln!(
        "{} frames kept from {} in {decode_s:.3} s",
        frames.len(),
        video.display()
    );
    let images: Vec<_> = frames.iter().map(|f| f.image.clone()).collect();
    let t = Instant::now();
    let feats = featurizer.featurize_rgb(&images)?;
    let featurize_s = t.elapsed().as_secs_f64();
    let values: Vec<f64> = feats.iter().flatten().map(|&v| v as f64).collect();
    let origins = StringArray::from_iter_values(frames.iter().map(|f| f.origin()));
    let ts = Int64Array::from_iter_values(frames.iter().map(|f| f.timestamp_ms));
    let table = Dataset::from_fields(
        vec![
            Field::new("origin", DataType::Utf8, false),
            Field::new("timestamp_ms", DataType::Int64, false),
            Field::new("features", vector_type(dim), true),
        ],
        vec![
            Arc::new(origins) as ArrayRef,
            Arc::new(ts) as ArrayRef,
            vector_column_from_vec(values, frames.len(), dim),
        ],
    )?;
    Ok((table, decode_s, featurize_s))
}

#[cfg(not(feature = "video"))]
fn featurize_video(
    _args: &Args,
    _featurizer: &DeepImageFeaturizer,
    video: &std::path::Path,
    _dim: usize,
) -> Result<(Dataset, f64, f64)> {
    Err(format!(
        "--video {} needs frame extraction, which this binary was built without: rebuild with \
         `--features video` (FFmpeg development packages: libavcodec-dev libavformat-dev \
         libavutil-dev libswscale-dev pkg-config clang)",
        video.display()
    )
    .into())
}
