//! Ad clicks (Avazu): CSV with schema inference -> Parquet -> read back, click-through rates in
//! SQL, low-cardinality categorical columns indexed (no one-hot: the trees split on subsets of
//! categories), boosted trees, AUC and feature importances.
//!
//! ```text
//! cargo run --release --example ad_click                 # shipped sample (9,998 impressions)
//! cargo run --release --example ad_click -- --data DIR   # every DIR/*.csv whose header has 'click'
//! ```
//!
//! The seed is the Databricks "ad impressions" notebook as Spark runs it in
//! `../shared/peers/ad_click_spark.py`: StringIndexer(keep) on string columns with at most 70
//! distinct values, the integer columns as they are, GBT (max_bins 70, max_depth 10, 10 rounds)
//! on a 70/30 split with seed 42.
//!
//! The code is `ml_examples::ad_click::run` in `crates/ml-examples/src/ad_click.rs`;
//! the tests call it too.

use std::process::ExitCode;

use ml_examples::ad_click::{run, Args};

fn main() -> ExitCode {
    let args = match ml_examples::parse_args::<Args>() {
        Ok(args) => args,
        Err(code) => return code,
    };
    ml_examples::finish(run(&args, &mut std::io::stdout()))
}
