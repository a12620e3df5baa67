//! XGBoost JSON model import, scoring, export and import again
//! (`ml_tree::testing::fuzz::xgboost_bytes`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    ml_tree::testing::fuzz::xgboost_bytes(data);
});
