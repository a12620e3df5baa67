//! `ML_VISION_MAX_ISA=portable`: no SIMD kernel runs (the portable code of every layer,
//! among them the fused inverted-residual blocks' rows), and the model still matches
//! onnxruntime's reference outputs. Its own test binary: the cap is read once per process.

mod isa_cap;

#[test]
fn the_portable_cap_still_matches_the_onnxruntime_reference() {
    // The only test in this binary, so nothing has read the cap before this line.
    isa_cap::features_match_the_onnxruntime_reference_under("portable");
}
