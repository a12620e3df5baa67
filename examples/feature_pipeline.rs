//! The main job for now: fit and apply a full Spark-style feature pipeline on the shipped
//! Lending Club sample (39,786 loans, 2007-2011).
//!
//! Reads `examples/data/loans/loanstats3a_2007_2011_16cols.csv`, derives the label `bad_loan`
//! (`loan_status == "Charged Off"`), parses `revol_util` ("83.70%") to a number, then fits
//! Imputer(median) -> StringIndexer(keep) -> OneHotEncoder -> VectorAssembler ->
//! StandardScaler(with_mean, with_std), transforms, prints the feature width, a few rows and the
//! timings, and saves the fitted pipeline to `target/feature_pipeline_model.json`.
//!
//! ```bash
//! cargo run --release --example feature_pipeline
//! ```
//!
//! The last line printed is a JSON object `{"rows", "features", "fit_s", "transform_s"}`.
//!
//! The code is `ml_examples::feature_pipeline::run` in `crates/ml-examples/src/feature_pipeline.rs`;
//! the tests call it too.

use std::process::ExitCode;

use ml_examples::feature_pipeline::{run, Args};

fn main() -> ExitCode {
    let args = match ml_examples::parse_args::<Args>() {
        Ok(args) => args,
        Err(code) => return code,
    };
    ml_examples::finish(run(&args, &mut std::io::stdout()))
}
