//! Train gradient boosted trees from Parquet files and score a test set.
//!
//! ```text
//! cargo run --release --example train_gbdt -- --train TRAIN.parquet --test TEST.parquet --label COL
//!     [--exclude COL,...] [--categorical COL,...] [--split-col is_test]
//!     [--objective binary:logistic] [--num-round 100] [--max-depth 6] [--eta 0.3]
//!     [--max-bin 256] [--threads 2] [--seed 0] [--model-out PATH] [--predictions-out PATH.csv]
//!     [--contribs-out PATH.csv]
//! ```
//!
//! Every column that is not the label, the split column or excluded is a feature (numeric; the
//! ones named in `--categorical` hold integer category codes, NaN = missing). `--test` may be the
//! same file as `--train` with `--split-col is_test`: rows where it is 1 are the test set (the
//! layout of the peers harness's `*_features.parquet`). `--model-out` writes the model in
//! ml-core's format, or XGBoost's JSON format when the name ends in `.xgb.json`.
//! `--predictions-out` writes one prediction (the probability of class 1 for binary) per test
//! row, in row order. `--contribs-out` writes the test rows' TreeSHAP contributions (one column
//! per feature, then `bias`; they sum to the margin). The last line of output is one JSON object:
//! `{"rows_train", "rows_test", "features", "train_s", "predict_s", "auc"}`.
//!
//! Example with the bundled-free peers data (see /work/shared/peers):
//! `cargo run --release --example train_gbdt -- --train loans_features.parquet
//!  --test loans_features.parquet --split-col is_test --label label --eta 0.1`
//!
//! The code is `ml_examples::train_gbdt::run` in `crates/ml-examples/src/train_gbdt.rs`;
//! the tests call it too.

use std::process::ExitCode;

use ml_examples::train_gbdt::{run, Args};

fn main() -> ExitCode {
    let args = match ml_examples::parse_args::<Args>() {
        Ok(args) => args,
        Err(code) => return code,
    };
    ml_examples::finish(run(&args, &mut std::io::stdout()))
}
