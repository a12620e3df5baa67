//! Shared by the ISA-cap test binaries (`kernel_isa_cap*.rs`): the shipped model, run under a
//! cap of `ML_VISION_MAX_ISA`, against onnxruntime's reference features of the baboon image.

use std::path::PathBuf;

use ml_vision::DeepImageFeaturizer;

fn data(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/data")
        .join(rel)
}

/// Sets `ML_VISION_MAX_ISA=cap` and checks that the model's features of the baboon image stay
/// within 1e-4 of onnxruntime's. Call it from the only test of its binary: the cap is read
/// once per process, before the first kernel runs.
pub fn features_match_the_onnxruntime_reference_under(cap: &str) {
    std::env::set_var("ML_VISION_MAX_ISA", cap);
    let bytes = std::fs::read(data("models/test_baboon_input_1x3x224x224.f32")).unwrap();
    let x: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let text = std::fs::read_to_string(data("models/test_baboon_expected.json")).unwrap();
    let exp: serde_json::Value = serde_json::from_str(&text).unwrap();
    let want: Vec<f64> = exp["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let f =
        DeepImageFeaturizer::new(data("models/efficientnet-lite0-imagenet.onnx").to_string_lossy());
    let got = f.featurize_tensor(&x).unwrap();
    assert_eq!(got.len(), want.len());
    let max = got
        .iter()
        .zip(&want)
        .map(|(a, b)| (*a as f64 - b).abs())
        .fold(0.0, f64::max);
    assert!(
        max < 1e-4,
        "under the {cap} cap, features differ from onnxruntime's by {max}"
    );
}
