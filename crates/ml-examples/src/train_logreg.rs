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

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use arrow::array::{Array, BooleanArray};
use arrow::datatypes::DataType;
use ml_core::dataset::vector_column_from_vec;
use ml_core::linear::LogisticRegression;
use ml_core::{Dataset, Estimator, MlError, Transformer};
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

fn read(path: &Path) -> ml_core::Result<Dataset> {
    let is_csv = path
        .extension()
        .map(|e| e.eq_ignore_ascii_case("csv"))
        .unwrap_or(false);
    if is_csv {
        ml_core::io::read_csv(path, &ml_core::io::CsvReadOptions::default())
    } else {
        ml_core::io::read_parquet(path)
    }
}

/// Builds the `features` column: the one list column, or all remaining numeric columns.
fn with_features(data: &Dataset, skip: &[String]) -> ml_core::Result<(Dataset, usize)> {
    let schema = data.schema();
    let candidates: Vec<_> = schema
        .fields()
        .iter()
        .filter(|f| !skip.contains(f.name()))
        .collect();
    if let Some(list) = candidates
        .iter()
        .find(|f| matches!(f.data_type(), DataType::FixedSizeList(..)))
    {
        let width = data.vector_size(list.name())?;
        let ds = if list.name() == "features" {
            data.clone()
        } else {
            data.with_column("features", data.column(list.name())?.clone())?
        };
        return Ok((ds, width));
    }
    let cols: Vec<String> = candidates
        .iter()
        .filter(|f| ml_core::dataset::is_numeric(f.data_type()))
        .map(|f| f.name().clone())
        .collect();
    if cols.is_empty() {
        return Err(MlError::data("no numeric feature columns left"));
    }
    let arrays = cols
        .iter()
        .map(|c| data.numeric_column(c))
        .collect::<ml_core::Result<Vec<_>>>()?;
    let n = data.num_rows();
    let mut values = Vec::with_capacity(n * cols.len());
    for i in 0..n {
        for (c, a) in cols.iter().zip(&arrays) {
            if a.is_null(i) {
                return Err(MlError::value(
                    c,
                    i,
                    "missing value; impute or --exclude this column",
                ));
            }
            values.push(a.value(i));
        }
    }
    let ds = data.with_column("features", vector_column_from_vec(values, n, cols.len()))?;
    Ok((ds, cols.len()))
}

/// Area under the ROC curve from ranks (Mann-Whitney U), ties at their average rank.
fn auc(scores: &[f64], labels: &[f64]) -> Option<f64> {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut rank_sum_pos = 0.0;
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && scores[idx[j + 1]] == scores[idx[i]] {
            j += 1;
        }
        let avg_rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            if labels[k] > 0.0 {
                rank_sum_pos += avg_rank;
            }
        }
        i = j + 1;
    }
    let pos = labels.iter().filter(|l| **l > 0.0).count() as f64;
    let neg = labels.len() as f64 - pos;
    if pos == 0.0 || neg == 0.0 {
        return None;
    }
    Some((rank_sum_pos - pos * (pos + 1.0) / 2.0) / (pos * neg))
}

/// Trains on `--train`, evaluates on the test rows (or the training rows) and writes predictions
/// where asked; returns `{"rows_train", "features", "iterations", "objective", "nonzero",
/// "train_s", "auc"}`. Progress goes to stderr; nothing is written to `out`.
pub fn run(args: &Args, _out: &mut dyn Write) -> crate::Result<Summary> {
    let t0 = Instant::now();
    let data = read(&args.train)?;
    let mut skip = args.exclude.clone();
    skip.push(args.label.clone());
    if let Some(s) = &args.split_col {
        skip.push(s.clone());
    }
    let (data, width) = with_features(&data, &skip)?;
    let (train, test) = match (&args.split_col, &args.test) {
        (Some(col), _) => {
            let flag = data.numeric_column(col)?;
            let is_test: BooleanArray =
                flag.iter().map(|v| Some(v.unwrap_or(0.0) != 0.0)).collect();
            let is_train: BooleanArray = is_test.iter().map(|v| v.map(|b| !b)).collect();
            (data.filter(&is_train)?, Some(data.filter(&is_test)?))
        }
        (None, Some(path)) => {
            let t = read(path)?;
            (data, Some(with_features(&t, &skip)?.0))
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
    let model = lr.fit(&train)?;
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
    let labels: Vec<f64> = labels.values().to_vec();
    let prob = out.features("probability")?;
    let p1: Vec<f64> = prob.column(1).to_vec();
    let auc = if model.num_classes == 2 {
        auc(&p1, &labels)
    } else {
        None
    };
    if let Some(path) = &args.predictions_out {
        let pred = out.f64_column("prediction")?;
        let mut f =
            std::io::BufWriter::new(std::fs::File::create(path).map_err(|e| MlError::io(path, e))?);
        let mut write = || -> std::io::Result<()> {
            writeln!(f, "label,probability,prediction")?;
            for ((l, p), y) in labels.iter().zip(&p1).zip(pred.values().iter()) {
                writeln!(f, "{l},{p},{y}")?;
            }
            f.flush()
        };
        write().map_err(|e| MlError::io(path, e))?;
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
