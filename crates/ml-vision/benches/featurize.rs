//! Featurization benchmarks on the shipped EfficientNet-lite0 and the CCTV frames:
//! preprocessing of one 768x576 frame (and its resize, whole frame vs centre crop only), one
//! inference at batch 1 (with this crate's depthwise
//! convolution, and with tract's own for comparison), and 8 frames through the featurizer with
//! 1 and 2 threads (our batching: frames run in parallel on one shared plan).
//!
//! `cargo bench -p ml-vision --bench featurize` (figures in benches/vision.md).

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use ml_vision::image_table::decode_rgb;
use ml_vision::preprocess::resize_bilinear_pil;
use ml_vision::{DeepImageFeaturizer, OnnxModel, Preprocessing};
use tract_onnx::prelude::*;

fn data(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/data")
        .join(rel)
}

fn model_path() -> PathBuf {
    data("models/efficientnet-lite0-imagenet.onnx")
}

fn frame(i: usize) -> ml_vision::RgbPixels {
    decode_rgb(&data(&format!("video/vtest_frames_1fps/vtest_{i:03}.jpg"))).expect("frame")
}

fn bench_featurize(c: &mut Criterion) {
    let mut g = c.benchmark_group("featurize");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));

    let img = frame(0);
    let prep = Preprocessing::efficientnet_lite();
    g.bench_function("preprocess_768x576_frame", |b| {
        b.iter(|| prep.to_tensor(black_box(&img)))
    });

    // The same output the slow way: the whole 341x256 resize, then the crop.
    g.bench_function("resize_whole_frame_then_crop", |b| {
        b.iter(|| resize_bilinear_pil(black_box(&img), 341, 256).crop(58, 16, 224, 224))
    });
    g.bench_function("resize_centre_crop_only", |b| {
        b.iter(|| prep.resize_and_crop(black_box(&img)))
    });

    let x = prep.to_tensor(&img);
    let model = OnnxModel::load(model_path(), 224).expect("model");
    g.bench_function("inference_batch1", |b| {
        b.iter(|| model.run(black_box(&x)).expect("run"))
    });

    let tract_only = onnx()
        .model_for_path(model_path())
        .and_then(|m| m.with_input_fact(0, f32::fact([1, 3, 224, 224]).into()))
        .and_then(|m| m.into_optimized())
        .and_then(|m| m.into_runnable())
        .expect("tract plan");
    let t = Tensor::from_shape(&[1, 3, 224, 224], &x).expect("tensor");
    g.bench_function("inference_batch1_tract_depthwise", |b| {
        b.iter(|| {
            tract_only
                .run(tvec!(black_box(t.clone()).into()))
                .expect("run")
        })
    });

    let frames: Vec<_> = (0..8).map(frame).collect();
    let mut f = DeepImageFeaturizer::new(model_path().to_string_lossy());
    for threads in [1, 0] {
        f.n_threads = threads;
        g.bench_function(format!("featurize_1_frame_{threads}_thread"), |b| {
            b.iter(|| f.featurize_rgb(black_box(&frames[..1])).expect("features"))
        });
    }
    f.n_threads = 0;
    g.bench_function("featurize_8_frames_global_pool", |b| {
        b.iter(|| f.featurize_rgb(black_box(&frames)).expect("features"))
    });
    for threads in [1, 2] {
        f.n_threads = threads;
        f.feature_dim().expect("model loads");
        g.bench_function(format!("featurize_8_frames_{threads}_threads"), |b| {
            b.iter(|| f.featurize_rgb(black_box(&frames)).expect("features"))
        });
    }
    g.finish();
}

criterion_group!(benches, bench_featurize);
criterion_main!(benches);
