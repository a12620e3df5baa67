//! Opening a video and taking at most 2 frames (`ml_vision::testing::fuzz::video_bytes`,
//! feature `video`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    ml_vision::testing::fuzz::video_bytes(data);
});
