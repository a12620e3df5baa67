//! Parquet reading, whole and in batches (`ml_core::testing::fuzz::parquet_bytes`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    ml_core::testing::fuzz::parquet_bytes(data);
});
