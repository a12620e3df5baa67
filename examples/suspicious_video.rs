//! Suspicious behaviour in video: frames at 1 fps, features from a pretrained CNN, Parquet, a
//! join with hand labels, logistic regression evaluated by cross-validation, and frames ranked by
//! P(suspicious) with thumbnails in the report.
//!
//! ```text
//! cargo run --release --example suspicious_video                    # the shipped 1-fps frames
//! cargo run --release --features video --example suspicious_video   # cut frames from vtest.avi
//! cargo run --release --example suspicious_video -- --data DIR      # DIR/vtest_frames_1fps, DIR/vtest_labels_1fps.csv
//! ```
//!
//! The seed is the Databricks "identify suspicious behaviour in video" notebook: there a CAVIAR
//! clip, InceptionV3 features (DeepImageFeaturizer) and Spark's LogisticRegression(maxIter 20,
//! regParam 0.05, elasticNetParam 0.3). Here: OpenCV's `vtest.avi` sample (a fixed camera over a
//! path and a lawn), EfficientNet-lite0's 1280-d pooled features, and the label 1 = someone on the
//! lawn (`vtest_labels_1fps.csv`, see `examples/data/PROVENANCE.md`).
//!
//! Without the `video` cargo feature (FFmpeg) the frames are the 80 JPEGs shipped in
//! `vtest_frames_1fps/` (cut from vtest.avi at 1 fps with OpenCV); the program says which source
//! it used.
//!
//! The code is `ml_examples::suspicious_video::run` in `crates/ml-examples/src/suspicious_video.rs`;
//! the tests call it too.

use std::process::ExitCode;

use ml_examples::suspicious_video::{run, Args};

fn main() -> ExitCode {
    let args = match ml_examples::parse_args::<Args>() {
        Ok(args) => args,
        Err(code) => return code,
    };
    ml_examples::finish(run(&args, &mut std::io::stdout()))
}
