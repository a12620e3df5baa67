//! Image decoding into image tables (`ml_vision::testing::fuzz::image_bytes`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    ml_vision::testing::fuzz::image_bytes(data);
});
