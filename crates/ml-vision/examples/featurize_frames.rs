//! The 80-frame timing of `featurize_images` (`crates/ml-examples/src/featurize_images.rs`)
//! with ml-vision alone, so that it builds without the facade's DataFusion: the same calls
//! (`DeepImageFeaturizer` with `n_threads`, `feature_dim` to load the model, `read_images`
//! with the same thread count, then `transform` timed), no Parquet output.
//!
//! ```text
//! cargo run --release -p ml-vision --features libjpeg-turbo --example featurize_frames -- \
//!     DIR MODEL.onnx [THREADS]
//! ```
//!
//! stdout: one JSON object `{"images", "decode_s", "featurize_s", "feature_dim"}` as
//! `featurize_images` prints it (`featurize_s`: preprocessing and inference).

use std::time::Instant;

use ml_core::Transformer;
use ml_vision::image_table::{read_images, ImageReadOptions};
use ml_vision::DeepImageFeaturizer;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(dir), Some(model)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: featurize_frames DIR MODEL.onnx [THREADS]");
        std::process::exit(2);
    };
    let threads: usize = args.get(3).map(|s| s.parse()).transpose()?.unwrap_or(2);
    let mut featurizer = DeepImageFeaturizer::new(model.as_str());
    featurizer.n_threads = threads;
    let t = Instant::now();
    let dim = featurizer.feature_dim()?;
    eprintln!(
        "model loaded and optimized in {:.3} s",
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let images = read_images(dir, &ImageReadOptions::default().with_n_threads(threads))?;
    let decode_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let out = featurizer.transform(&images)?;
    let featurize_s = t.elapsed().as_secs_f64();
    assert_eq!(out.num_rows(), images.num_rows());
    println!(
        "{{\"images\": {}, \"decode_s\": {:.3}, \"featurize_s\": {:.3}, \"feature_dim\": {}}}",
        images.num_rows(),
        decode_s,
        featurize_s,
        dim
    );
    Ok(())
}
