//! The featurizer's preprocessing (resize, centre crop, normalize; not the CNN) on images of
//! any size, from a structured input (`ml_vision::testing::fuzz::PreprocessInput`, made by
//! `arbitrary` from the bytes in `preprocess_bytes`, so that the regression tests replay the
//! same input on stable).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    ml_vision::testing::fuzz::preprocess_bytes(data);
});
