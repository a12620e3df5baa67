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

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{BooleanArray, Float64Array};
use arrow::datatypes::Schema;
use indicatif::{ProgressBar, ProgressStyle};
use ml_core::dataset::{column_to_f64, index_of, numeric_columns_except, NullPolicy};
use ml_core::feature::{HandleInvalid, VectorAssembler};
use ml_core::io::{parquet_batches, read_parquet_with, write_values_csv, ParquetReadOptions};
use ml_core::{Dataset, Estimator, MlError, Result, Transformer};
use ml_eval::{BinaryClassificationEvaluator, Evaluator};
use ml_tree::GradientBoostedTrees;

use crate::Summary;

/// The flags of `examples/train_gbdt.rs`.
#[derive(clap::Parser, Debug)]
#[command(about = "Train gradient boosted trees on Parquet data and score a test set")]
pub struct Args {
    /// Training data (Parquet).
    #[arg(long)]
    pub train: PathBuf,
    /// Test data (Parquet); may be the training file with --split-col.
    #[arg(long)]
    pub test: PathBuf,
    /// Label column.
    #[arg(long)]
    pub label: String,
    /// Columns to leave out, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub exclude: Vec<String>,
    /// Columns holding integer category codes, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub categorical: Vec<String>,
    /// Column marking test rows with 1 (when --test is the training file).
    #[arg(long)]
    pub split_col: Option<String>,
    /// binary:logistic, reg:squarederror or multi:softmax.
    #[arg(long, default_value = "binary:logistic")]
    pub objective: String,
    /// Boosting rounds.
    #[arg(long, default_value_t = 100)]
    pub num_round: usize,
    /// Maximum tree depth.
    #[arg(long, default_value_t = 6)]
    pub max_depth: usize,
    /// Learning rate.
    #[arg(long, default_value_t = 0.3)]
    pub eta: f64,
    /// Maximum bins per feature.
    #[arg(long, default_value_t = 256)]
    pub max_bin: usize,
    /// Threads.
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Where to save the model (`.xgb.json` = XGBoost JSON format).
    #[arg(long)]
    pub model_out: Option<PathBuf>,
    /// Where to write the test predictions (CSV, one per row).
    #[arg(long)]
    pub predictions_out: Option<PathBuf>,
    /// Where to write the test rows' TreeSHAP contributions (CSV: one column per feature, then
    /// `bias`).
    #[arg(long)]
    pub contribs_out: Option<PathBuf>,
}

/// Rows per Parquet batch while reading.
const BATCH_ROWS: usize = 65536;

/// The feature columns: every numeric column but the label, the split column and `--exclude`,
/// in file order. A non-numeric column that is not excluded is an error (the tool does not
/// silently drop a column).
fn feature_columns(args: &Args, schema: &Schema) -> Result<Vec<String>> {
    let mut except: Vec<&str> = args.exclude.iter().map(String::as_str).collect();
    except.push(&args.label);
    if let Some(s) = &args.split_col {
        except.push(s);
    }
    let features = numeric_columns_except(schema, &except)?;
    if let Some(f) = schema
        .fields()
        .iter()
        .find(|f| !except.contains(&f.name().as_str()) && !features.contains(f.name()))
    {
        return Err(ml_core::dataset::type_error(
            f.name(),
            "a numeric type (leave the column out with --exclude)",
            f.data_type(),
        ));
    }
    for c in &args.categorical {
        if !features.contains(c) {
            index_of(schema, c)?;
            return Err(MlError::param(
                "--categorical",
                format!("column '{c}' is not a feature column (it is the label, the split column or excluded)"),
            ));
        }
    }
    Ok(features)
}

/// Reads the feature, label and split columns of `path` (column projection) and assembles the
/// features into one vector column `features`, the `--categorical` columns marked nominal (with
/// largest code + 1 categories over the rows read); returns `features`, the label and the split
/// column only.
fn read_assembled(args: &Args, path: &Path, features: &[String]) -> Result<Dataset> {
    let mut columns: Vec<&str> = features.iter().map(String::as_str).collect();
    columns.push(&args.label);
    if let Some(s) = &args.split_col {
        columns.push(s);
    }
    let opts = ParquetReadOptions::new()
        .columns(&columns)
        .batch_size(BATCH_ROWS);
    let data = read_parquet_with(path, &opts)?;
    let inputs: Vec<&str> = features.iter().map(String::as_str).collect();
    let categorical: Vec<&str> = args.categorical.iter().map(String::as_str).collect();
    let assembled = VectorAssembler::new(&inputs, "features")
        .with_categorical_cols(&categorical)
        .with_handle_invalid(HandleInvalid::Keep)
        .transform(&data)?;
    drop(data);
    // Keep only what training and scoring read: the raw feature columns would otherwise be
    // copied by the split and held beside the assembled vector (1.5x the peak RSS on clicks).
    let mut keep = vec!["features", args.label.as_str()];
    keep.extend(args.split_col.as_deref());
    assembled.select(&keep)
}

/// The rows of `data` in the test set (`test = true`) or the training set: with `--split-col`,
/// test rows are those where the column is 1; without it, every row is in both.
fn split_rows(args: &Args, data: &Dataset, test: bool) -> Result<Dataset> {
    let Some(col) = &args.split_col else {
        return Ok(data.clone());
    };
    let flags = column_to_f64(data, col, NullPolicy::NullAsNaN)?;
    let mask: BooleanArray = flags
        .values()
        .iter()
        .map(|&v| Some((v == 1.0) == test))
        .collect();
    data.filter(&mask)
}

/// Trains on `--train`, scores the test rows and writes the model and predictions where asked;
/// returns `{"rows_train", "rows_test", "features", "train_s", "predict_s", "auc"}`. Nothing is
/// written to `out` (the closing line is the whole output).
///
/// The data goes through the library's public API: Parquet read with column projection
/// ([`read_parquet_with`]), the feature list from [`numeric_columns_except`], a
/// [`VectorAssembler`] marking `--categorical` columns nominal, the estimator, and ml-eval's
/// [`BinaryClassificationEvaluator`]. Everything runs on one pool of `--threads` threads
/// ([`ml_core::threads::install`]).
pub fn run(args: &Args, _out: &mut dyn Write) -> crate::Result<Summary> {
    Ok(ml_core::threads::install(args.threads.max(1), || {
        train_and_score(args)
    })??)
}

fn train_and_score(args: &Args) -> Result<Summary> {
    let schema = parquet_batches(&args.train, BATCH_ROWS)?.schema();
    let features = feature_columns(args, &schema)?;
    let d = features.len();
    let train_file = read_assembled(args, &args.train, &features)?;
    let (train_ds, test_ds) = if args.train == args.test {
        // One file: categories are counted over all its rows, then the rows are split.
        let train = split_rows(args, &train_file, false)?;
        let test = split_rows(args, &train_file, true)?;
        (train, test)
    } else {
        let test_file = read_assembled(args, &args.test, &features)?;
        (
            split_rows(args, &train_file, false)?,
            split_rows(args, &test_file, true)?,
        )
    };
    drop(train_file);
    let (rows_train, rows_test) = (train_ds.num_rows(), test_ds.num_rows());
    let features: Vec<&str> = features.iter().map(String::as_str).collect();

    let mut gbt = GradientBoostedTrees::new();
    gbt.label_col = args.label.clone();
    gbt.objective = args.objective.parse()?;
    gbt.num_round = args.num_round;
    gbt.max_depth = args.max_depth;
    gbt.eta = args.eta;
    gbt.max_bin = args.max_bin;
    gbt.n_threads = args.threads;
    gbt.seed = args.seed;
    if args.objective.starts_with("multi:") {
        let k = train_ds
            .numeric_column(&args.label)?
            .values()
            .iter()
            .fold(0.0f64, |a, &b| a.max(b));
        gbt.num_class = k as usize + 1;
    }
    let bar = std::io::stderr().is_terminal().then(|| {
        let b = ProgressBar::new(args.num_round as u64);
        b.set_style(
            ProgressStyle::with_template("training {bar:40} {pos}/{len} rounds {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        b
    });
    if let Some(b) = bar.clone() {
        gbt = gbt.with_callback(move |_| {
            b.inc(1);
            true
        });
    }
    let t0 = Instant::now();
    let model = gbt.fit(&train_ds)?;
    let train_s = t0.elapsed().as_secs_f64();
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let t1 = Instant::now();
    let pred = model.predict(test_ds.features("features")?)?;
    let predict_s = t1.elapsed().as_secs_f64();
    let auc = if args.objective == "binary:logistic" {
        let scored = test_ds.with_column("score", Arc::new(Float64Array::from(pred.clone())))?;
        let a = BinaryClassificationEvaluator::new()
            .with_raw_prediction_col("score")
            .with_label_col(&args.label)
            .evaluate(&scored)
            .unwrap_or(f64::NAN);
        if a.is_finite() {
            serde_json::json!((a * 1e4).round() / 1e4)
        } else {
            serde_json::Value::Null
        }
    } else {
        serde_json::Value::Null
    };
    if let Some(path) = &args.model_out {
        if path.to_string_lossy().ends_with(".xgb.json") {
            ml_tree::xgboost::save_xgboost_json(&model, path)?;
        } else {
            model.save(path)?;
        }
    }
    if let Some(path) = &args.predictions_out {
        write_values_csv(path, "prediction", &pred)?;
    }
    if let Some(path) = &args.contribs_out {
        write_contributions(path, &model, &test_ds, &features)?;
    }
    Ok(Summary::new(serde_json::json!({
        "rows_train": rows_train,
        "rows_test": rows_test,
        "features": d,
        "train_s": (train_s * 1e3).round() / 1e3,
        "predict_s": (predict_s * 1e3).round() / 1e3,
        "auc": auc,
    })))
}

/// Writes the TreeSHAP contributions of the rows of `data`: one column per feature, then `bias`
/// (for multiclass, one such group per class, prefixed `class{k}_`); the time taken goes to
/// stderr as `contributions: ROWS rows in SECONDS s`.
fn write_contributions(
    path: &Path,
    model: &ml_tree::GradientBoostedTreesModel,
    data: &Dataset,
    features: &[&str],
) -> Result<()> {
    let x = data.features("features")?;
    let t = Instant::now();
    let c = model.predict_contributions(x)?;
    eprintln!(
        "contributions: {} rows in {:.3} s",
        x.nrows(),
        t.elapsed().as_secs_f64()
    );
    let k = model.num_class;
    let mut names = Vec::new();
    for class in 0..k {
        let prefix = if k > 1 {
            format!("class{class}_")
        } else {
            String::new()
        };
        for f in features.iter().copied().chain(["bias"]) {
            names.push(format!("{prefix}{f}"));
        }
    }
    let mut s = names.join(",");
    s.push('\n');
    for row in c.chunks(names.len().max(1)) {
        let cells: Vec<String> = row.iter().map(|v| v.to_string()).collect();
        s.push_str(&cells.join(","));
        s.push('\n');
    }
    ml_core::persist::write_atomic(path, s.as_bytes())
}
