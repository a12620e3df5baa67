//! Train an elastic-net logistic regression (Spark MLlib's algorithm) on a Parquet or CSV file.
//!
//! ```text
//! cargo run --release --example train_logreg -- --train PATH --label COL \
//!     [--test PATH | --split-col COL] [--exclude COL,...] [--max-iter 20] [--reg 0.05] \
//!     [--elastic-net 0.3] [--threads 2] [--predictions-out PATH.csv]
//! ```
//!
//! Features are the one list column (`FixedSizeList<Float64>`, e.g. CNN embeddings) or else all
//! other numeric columns. With `--split-col`, rows where that column is non-zero are the test
//! set (the peers' `is_test`). AUC is computed on the test set (or on the training set when there
//! is none) with a rank-based formula (ties get their average rank). The last line printed is
//! one JSON object: `{"rows_train", "features", "iterations", "objective", "nonzero", "train_s",
//! "auc"}`, where `objective` is the regularized training loss as Spark defines it.
//!
//! The 50k x 2048 benchmark (`scripts/bench_logreg.sh`) runs it on the peers' generated data:
//! `--train lr.parquet --label label --split-col is_test --max-iter 20 --reg 0.05 --elastic-net 0.3`.
//!
//! The code is `ml_examples::train_logreg::run` in `crates/ml-examples/src/train_logreg.rs`;
//! the tests call it too.

use std::process::ExitCode;

use ml_examples::train_logreg::{run, Args};

fn main() -> ExitCode {
    let args = match ml_examples::parse_args::<Args>() {
        Ok(args) => args,
        Err(code) => return code,
    };
    ml_examples::finish(run(&args, &mut std::io::stdout()))
}
