//! Train an elastic-net logistic regression (Spark MLlib's algorithm) on a Parquet or CSV file.
//!
//! ```text
//! cargo run --release --example train_logreg -- --train PATH --label COL \
//!     [--test PATH | --split-col COL] [--exclude COL,...] [--max-iter 20] [--reg 0.05] \
//!     [--elastic-net 0.3] [--threads 2] [--predictions-out PATH.csv]
//! ```
//!
//! Features are the one list column (`FixedSizeList<Float64>`, e.g. CNN embeddings) or else all
//! other columns, which must be numeric (a text column is an error naming it: leave it out with
//! `--exclude`). With `--split-col`, rows where that column is non-zero are the test
//! set (the peers' `is_test`). AUC is computed on the test set (or on the training set when there
//! is none) with a rank-based formula (ties get their average rank). The last line printed is
//! one JSON object: `{"rows_train", "features", "iterations", "objective", "nonzero", "train_s",
//! "auc"}`, where `objective` is the regularized training loss as Spark defines it.
//!
//! The 50k x 2048 benchmark (`scripts/bench_logreg.sh`) runs it on the peers' generated data:
//! `--train lr.parquet --label label --split-col is_test --max-iter 20 --reg 0.05 --elastic-net 0.3`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use arrow::array::BooleanArray;
use arrow::datatypes::DataType;
use ml_core::dataset::numeric_columns_except;
use ml_core::feature::VectorAssembler;
use ml_core::io::{check_output_path, read_table, ReadOptions};
use ml_core::linear::LogisticRegression;
use ml_core::{Dataset, Estimator, MlError, Transformer};
use ml_eval::{BinaryClassificationEvaluator, Evaluator};
use serde_json::json;

use crate::Summary;

/// The flags of `examples/train_logreg.rs`.
#[derive(clap::Parser, Debug)]
#[command(
    about = "Elastic-net logistic regression (Spark MLlib's optimizer) on a Parquet/CSV file"
)]
pub struct Args {
    /// Training data (Parquet file or directory, or .csv).
    #[arg(long)]
    pub train: PathBuf,
    /// Label column (0/1, or 0..K-1 for multinomial).
    #[arg(long)]
    pub label: String,
    /// Separate test data.
    #[arg(long, conflicts_with = "split_col")]
    pub test: Option<PathBuf>,
    /// Column marking test rows (non-zero = test).
    #[arg(long)]
    pub split_col: Option<String>,
    /// Columns to leave out of the features (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub exclude: Vec<String>,
    /// Maximum optimizer iterations.
    #[arg(long, default_value_t = 20)]
    pub max_iter: usize,
    /// Regularization strength (regParam).
    #[arg(long, default_value_t = 0.05)]
    pub reg: f64,
    /// Elastic-net mixing (elasticNetParam): 0 = L2, 1 = L1.
    #[arg(long, default_value_t = 0.3)]
    pub elastic_net: f64,
    /// Threads.
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// Write label, P(class 1) and prediction of the evaluated rows to this CSV.
    #[arg(long)]
    pub predictions_out: Option<PathBuf>,
}

/// Builds the `features` column: the one vector column left after `skip`, or else every
/// remaining numeric column assembled by a [`VectorAssembler`] (a null is an error naming the
/// column and row: impute it or leave the column out with `--exclude`).
fn with_features(data: &Dataset, skip: &[String]) -> ml_core::Result<(Dataset, usize)> {
    let schema = data.schema();
    if let Some(list) = schema
        .fields()
        .iter()
        .find(|f| !skip.contains(f.name()) && matches!(f.data_type(), DataType::FixedSizeList(..)))
    {
        let width = data.vector_size(list.name())?;
        let ds = if list.name() == "features" {
            data.clone()
        } else {
            data.with_column("features", data.column(list.name())?.clone())?
        };
        return Ok((ds, width));
    }
    let skip: Vec<&str> = skip.iter().map(String::as_str).collect();
    let cols = numeric_columns_except(&schema, &skip)?;
    // A column that is not numeric (text in a CSV column makes it a string column) is not
    // dropped without a word.
    if let Some(f) = schema
        .fields()
        .iter()
        .find(|f| !skip.contains(&f.name().as_str()) && !cols.contains(f.name()))
    {
        return Err(ml_core::dataset::type_error(
            f.name(),
            "a numeric type (a CSV column with text in the rows its type is inferred from \
             is read as strings; leave the column out with --exclude)",
            f.data_type(),
        ));
    }
    if cols.is_empty() {
        return Err(MlError::data("no numeric feature columns left"));
    }
    let cols: Vec<&str> = cols.iter().map(String::as_str).collect();
    let ds = VectorAssembler::new(&cols, "features").transform(data)?;
    Ok((ds, cols.len()))
}

/// Trains on `--train`, evaluates on the test rows (or the training rows) and writes predictions
/// where asked; returns `{"rows_train", "features", "iterations", "objective", "nonzero",
/// "train_s", "auc"}`. Progress goes to stderr; nothing is written to `out`.
///
/// The data goes through the library's public API: [`read_table`] (CSV or Parquet by the path),
/// [`numeric_columns_except`] and a [`VectorAssembler`] for the features, the estimator, and
/// ml-eval's [`BinaryClassificationEvaluator`]; everything runs on one pool of `--threads`
/// threads ([`ml_core::threads::install`]).
pub fn run(args: &Args, _out: &mut dyn Write) -> crate::Result<Summary> {
    let threads = crate::common::check_threads(args.threads)?;
    Ok(ml_core::threads::install(threads, || {
        fit_and_evaluate(args)
    })??)
}

/// An [`MlError::InvalidValue`] about row `row` of the rows a step saw, told as the row of
/// `file`: `rows` maps the step's rows to the file's (`None`: the same rows). Other errors
/// pass through.
fn in_file(file: &Path, rows: Option<&[usize]>, e: MlError) -> MlError {
    match e {
        MlError::InvalidValue {
            column,
            row,
            message,
        } => {
            let file = file.display();
            match rows.map(|r| r.get(row)) {
                None => MlError::value(column, row, format!("{message} (in '{file}')")),
                Some(Some(&file_row)) => MlError::value(
                    column,
                    file_row,
                    format!("{message} (in '{file}'; row {row} of the training rows)"),
                ),
                Some(None) => MlError::value(
                    column,
                    row,
                    format!("{message} (in '{file}', counting only the training rows)"),
                ),
            }
        }
        other => other,
    }
}

fn fit_and_evaluate(args: &Args) -> ml_core::Result<Summary> {
    if let Some(p) = &args.predictions_out {
        check_output_path(p)?;
    }
    let t0 = Instant::now();
    let data = read_table(&args.train, &ReadOptions::new())?;
    let mut skip = args.exclude.clone();
    skip.push(args.label.clone());
    if let Some(s) = &args.split_col {
        skip.push(s.clone());
    }
    let (data, width) = with_features(&data, &skip).map_err(|e| in_file(&args.train, None, e))?;
    // The file's row of each training row, when the training rows are a part of the file.
    let mut train_rows: Option<Vec<usize>> = None;
    let (train, test) = match (&args.split_col, &args.test) {
        (Some(col), _) => {
            let flag = data.numeric_column(col)?;
            let is_test: BooleanArray =
                flag.iter().map(|v| Some(v.unwrap_or(0.0) != 0.0)).collect();
            let is_train: BooleanArray = is_test.iter().map(|v| v.map(|b| !b)).collect();
            train_rows = Some(
                is_train
                    .iter()
                    .enumerate()
                    .filter(|(_, t)| *t == Some(true))
                    .map(|(i, _)| i)
                    .collect(),
            );
            (data.filter(&is_train)?, Some(data.filter(&is_test)?))
        }
        (None, Some(path)) => {
            let t = read_table(path, &ReadOptions::new())?;
            let t = with_features(&t, &skip).map_err(|e| in_file(path, None, e))?;
            (data, Some(t.0))
        }
        (None, None) => (data, None),
    };
    eprintln!(
        "loaded {} training rows x {width} features in {:.2}s",
        train.num_rows(),
        t0.elapsed().as_secs_f64()
    );
    let lr = LogisticRegression::new()
        .with_label_col(&args.label)
        .with_max_iter(args.max_iter)
        .with_reg_param(args.reg)
        .with_elastic_net_param(args.elastic_net)
        .with_n_threads(args.threads);
    let t1 = Instant::now();
    let model = lr
        .fit(&train)
        .map_err(|e| in_file(&args.train, train_rows.as_deref(), e))?;
    let train_s = t1.elapsed().as_secs_f64();
    eprintln!(
        "trained in {train_s:.3}s: {} iterations ({:?}), objective {:.10}",
        model.summary.total_iterations,
        model.summary.stop_reason,
        model.summary.objective()
    );
    let eval = test.as_ref().unwrap_or(&train);
    let out = model.transform(eval)?;
    let labels = out.numeric_column(&args.label)?;
    let prob = out.features("probability")?;
    let p1: Vec<f64> = prob.column(1).to_vec();
    let auc = if model.num_classes == 2 {
        BinaryClassificationEvaluator::new()
            .with_raw_prediction_col("probability")
            .with_label_col(&args.label)
            .evaluate(&out)
            .ok()
    } else {
        None
    };
    if let Some(path) = &args.predictions_out {
        let pred = out.f64_column("prediction")?;
        let mut csv = String::from("label,probability,prediction\n");
        for ((l, p), y) in labels.values().iter().zip(&p1).zip(pred.values().iter()) {
            csv.push_str(&format!("{l},{p},{y}\n"));
        }
        ml_core::persist::write_atomic(path, csv.as_bytes())?;
    }
    Ok(Summary::new(json!({
        "rows_train": train.num_rows(),
        "features": width,
        "iterations": model.summary.total_iterations,
        "objective": model.summary.objective(),
        "nonzero": model.num_nonzero(),
        "train_s": (train_s * 1000.0).round() / 1000.0,
        "auc": auc.map(|a| (a * 1e6).round() / 1e6),
    })))
}
