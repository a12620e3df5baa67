//! Image decoding into image tables (`ml_vision::testing::fuzz::image_bytes`).
//!
//! ml-vision turns a panic of the `image` crate's decoders on corrupt input into an error
//! (`catch_unwind` around the decoder), so the panic hook libfuzzer-sys installs, which aborts
//! on every panic, is replaced by a silent one: a panic that escapes ml-vision still aborts,
//! through libfuzzer-sys's own `catch_unwind`, and is reported as a crash.
#![no_main]

libfuzzer_sys::fuzz_target!(
    init: std::panic::set_hook(Box::new(|_| {})),
    |data: &[u8]| {
        ml_vision::testing::fuzz::image_bytes(data);
    }
);
