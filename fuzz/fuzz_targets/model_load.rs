//! Loading persisted models and pipelines (`ml_core::testing::fuzz::model_bytes`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    ml_core::testing::fuzz::model_bytes(data);
});
