//! `ML_VISION_MAX_ISA=avx2`: on a CPU with AVX-512 the AVX2 kernels run instead (elsewhere
//! nothing changes), and the model still matches onnxruntime's reference outputs. Its own test
//! binary: the cap is read once per process, before the first kernel runs.

mod isa_cap;

#[test]
fn the_avx2_cap_still_matches_the_onnxruntime_reference() {
    // The only test in this binary, so nothing has read the cap before this line.
    isa_cap::features_match_the_onnxruntime_reference_under("avx2");
}
