//! # ml-examples
//!
//! The code behind the root package's `examples/`: each use case and each command-line tool is a
//! `run(&Args, &mut dyn Write) -> Result<Summary>` function. The example's `main` parses the
//! flags, calls `run` with standard output and hands the result to [`finish`], which prints the
//! closing JSON line (or the error as one line) and sets the exit code. The tests call the same
//! `run` functions directly, so no test builds an example binary.
//!
//! ```no_run
//! use clap::Parser;
//! use ml_examples::train_gbdt::{run, Args};
//!
//! let args = Args::parse_from(["train_gbdt", "--train", "f.parquet", "--test", "f.parquet",
//!     "--split-col", "is_test", "--label", "label"]);
//! let mut out = Vec::new();
//! let summary = run(&args, &mut out)?;
//! assert!(summary.json()["auc"].is_number());
//! # Ok::<(), ml_examples::BoxError>(())
//! ```
//!
//! Use cases (data exploration in SQL, a model, an HTML report): [`loan_risk`], [`ad_click`],
//! [`market_basket`], [`suspicious_video`]. Command-line tools (the ones the benchmarks run):
//! [`train_gbdt`], [`train_logreg`], [`mine_itemsets`], [`featurize_images`],
//! [`feature_pipeline`]. Serving: [`score_service`] (a saved pipeline over HTTP),
//! [`score_bench`] (one-row scoring latency in-process), [`score_load`] (the service under
//! load from a second process). Shared helpers (flags, SQL, reports, charts) are in [`common`].
//!
//! The `video` feature cuts frames from video files through FFmpeg (suspicious_video,
//! featurize_images `--video`).
#![deny(missing_docs)]

pub mod common;

pub mod ad_click;
pub mod feature_pipeline;
pub mod featurize_images;
pub mod loan_risk;
pub mod market_basket;
pub mod mine_itemsets;
pub mod score_bench;
pub mod score_load;
pub mod score_service;
pub mod suspicious_video;
pub mod train_gbdt;
pub mod train_logreg;

mod summary;

pub use common::{BoxError, Result};
pub use summary::{clap_error_line, error_line, finish, parse_args, Summary};
