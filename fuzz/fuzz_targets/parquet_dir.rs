//! Parquet reading of a Spark-style directory of part files built from the bytes
//! (`ml_core::testing::fuzz::parquet_dir_bytes`). The panic hook is silenced as in
//! `parquet_read`: ml-core turns decoder panics into errors, and a panic escaping ml-core
//! still aborts through libfuzzer-sys's `catch_unwind`.
#![no_main]

libfuzzer_sys::fuzz_target!(
    init: std::panic::set_hook(Box::new(|_| {})),
    |data: &[u8]| {
        ml_core::testing::fuzz::parquet_dir_bytes(data);
    }
);
