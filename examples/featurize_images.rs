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
//!
//! The code is `ml_examples::featurize_images::run` in `crates/ml-examples/src/featurize_images.rs`;
//! the tests call it too.

use std::process::ExitCode;

use ml_examples::featurize_images::{run, Args};

fn main() -> ExitCode {
    let args = match ml_examples::parse_args::<Args>() {
        Ok(args) => args,
        Err(code) => return code,
    };
    ml_examples::finish(run(&args, &mut std::io::stdout()))
}
