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

use std::collections::HashSet;
use std::fs::File;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, RecordBatchReader};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Float64Type};
use indicatif::{ProgressBar, ProgressStyle};
use ml_core::attributes::{with_vector_attributes, Attribute};
use ml_core::dataset::{vector_column_from_vec, vector_type};
use ml_core::{Dataset, Estimator, MlError, Result};
use ml_tree::GradientBoostedTrees;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

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

/// Columns of a Parquet file, each cast to Float64, with their names.
fn read_columns(path: &Path) -> Result<Vec<(String, Float64Array)>> {
    let perr = |e: &dyn std::fmt::Display| MlError::Parquet {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let file = File::open(path).map_err(|e| MlError::io(path, e))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| perr(&e))?
        .with_batch_size(65536)
        .build()
        .map_err(|e| perr(&e))?;
    let schema = reader.schema();
    let mut parts: Vec<Vec<ArrayRef>> = vec![Vec::new(); schema.fields().len()];
    for batch in reader {
        let batch = batch.map_err(|e| perr(&e))?;
        for (i, c) in batch.columns().iter().enumerate() {
            parts[i].push(c.clone());
        }
    }
    let mut out = Vec::new();
    for (field, cols) in schema.fields().iter().zip(parts) {
        if !ml_core::dataset::is_numeric(field.data_type()) {
            return Err(ml_core::dataset::type_error(
                field.name(),
                "a numeric type",
                field.data_type(),
            ));
        }
        let mut values = Vec::new();
        for c in cols {
            let c = cast(&c, &DataType::Float64)?;
            let c = c.as_primitive::<Float64Type>();
            values.extend((0..c.len()).map(|i| if c.is_null(i) { f64::NAN } else { c.value(i) }));
        }
        out.push((field.name().clone(), Float64Array::from(values)));
    }
    Ok(out)
}

struct Part {
    x: Vec<f64>,
    y: Vec<f64>,
}

/// Trains on `--train`, scores the test rows and writes the model and predictions where asked;
/// returns `{"rows_train", "rows_test", "features", "train_s", "predict_s", "auc"}`. Nothing is
/// written to `out` (the closing line is the whole output).
pub fn run(args: &Args, _out: &mut dyn Write) -> crate::Result<Summary> {
    // Training runs on a pool of --threads threads that the estimator builds; prediction and the
    // data preparation run on rayon's global pool, which gets --threads as well (started here,
    // so its threads exist before anything is timed). It fails only if already started.
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads.max(1))
        .build_global();
    let train_cols = read_columns(&args.train)?;
    let same_file = args.train == args.test;
    let test_cols = if same_file {
        None
    } else {
        Some(read_columns(&args.test)?)
    };
    let names: Vec<String> = train_cols.iter().map(|(n, _)| n.clone()).collect();
    let col = |cols: &[(String, Float64Array)], name: &str| -> Result<usize> {
        cols.iter()
            .position(|(n, _)| n == name)
            .ok_or_else(|| MlError::ColumnNotFound {
                column: name.to_string(),
                available: names.join(", "),
            })
    };
    let mut skip: HashSet<&str> = args.exclude.iter().map(String::as_str).collect();
    skip.insert(&args.label);
    if let Some(s) = &args.split_col {
        skip.insert(s);
    }
    for c in args.exclude.iter().chain(&args.categorical) {
        col(&train_cols, c)?;
    }
    let features: Vec<&str> = names
        .iter()
        .map(String::as_str)
        .filter(|n| !skip.contains(n))
        .collect();
    let d = features.len();
    // Split rows: with --split-col, rows where it is 1 are test rows.
    let gather = |cols: &[(String, Float64Array)], keep: &dyn Fn(usize) -> bool| -> Result<Part> {
        let fi: Vec<usize> = features
            .iter()
            .map(|f| col(cols, f))
            .collect::<Result<_>>()?;
        let li = col(cols, &args.label)?;
        let n = cols[li].1.len();
        let rows: Vec<usize> = (0..n).filter(|&i| keep(i)).collect();
        let mut x = Vec::with_capacity(rows.len() * fi.len());
        let vals: Vec<&[f64]> = fi.iter().map(|&j| cols[j].1.values().as_ref()).collect();
        for &r in &rows {
            for v in &vals {
                x.push(v[r]);
            }
        }
        let y = rows.iter().map(|&r| cols[li].1.value(r)).collect();
        Ok(Part { x, y })
    };
    let is_test = |cols: &[(String, Float64Array)]| -> Result<Option<Vec<bool>>> {
        match &args.split_col {
            None => Ok(None),
            Some(s) => {
                let c = &cols[col(cols, s)?].1;
                Ok(Some(c.values().iter().map(|&v| v == 1.0).collect()))
            }
        }
    };
    let (train, test) = {
        let tmask = is_test(&train_cols)?;
        let train = gather(&train_cols, &|i| tmask.as_ref().is_none_or(|m| !m[i]))?;
        let test = match &test_cols {
            None => gather(&train_cols, &|i| tmask.as_ref().is_none_or(|m| m[i]))?,
            Some(tc) => {
                let m = is_test(tc)?;
                gather(tc, &|i| m.as_ref().is_none_or(|m| m[i]))?
            }
        };
        (train, test)
    };
    drop(train_cols);
    drop(test_cols);
    // Slot attributes: categorical columns are nominal with max code + 1 categories.
    let cat: HashSet<&str> = args.categorical.iter().map(String::as_str).collect();
    let attrs: Vec<Attribute> = features
        .iter()
        .enumerate()
        .map(|(j, f)| {
            if cat.contains(f) {
                let max = train
                    .x
                    .iter()
                    .skip(j)
                    .step_by(d)
                    .chain(test.x.iter().skip(j).step_by(d))
                    .filter(|v| v.is_finite())
                    .fold(-1.0f64, |a, &b| a.max(b));
                Attribute::Nominal {
                    name: Some(f.to_string()),
                    num_values: (max + 1.0).max(0.0) as usize,
                    values: None,
                }
            } else {
                Attribute::numeric(*f)
            }
        })
        .collect();
    let to_dataset = |p: Part| -> Result<Dataset> {
        let n = p.y.len();
        let field = with_vector_attributes(Field::new("features", vector_type(d), false), &attrs);
        Dataset::from_fields(
            vec![field, Field::new("label", DataType::Float64, false)],
            vec![
                vector_column_from_vec(p.x, n, d),
                Arc::new(Float64Array::from(p.y)) as ArrayRef,
            ],
        )
    };
    let (rows_train, rows_test) = (train.y.len(), test.y.len());
    let train_ds = to_dataset(train)?;
    let test_ds = to_dataset(test)?;

    let mut gbt = GradientBoostedTrees::new();
    gbt.objective = args.objective.parse()?;
    gbt.num_round = args.num_round;
    gbt.max_depth = args.max_depth;
    gbt.eta = args.eta;
    gbt.max_bin = args.max_bin;
    gbt.n_threads = args.threads;
    gbt.seed = args.seed;
    if args.objective.starts_with("multi:") {
        let k = train_ds
            .f64_column("label")?
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
    let labels = test_ds.f64_column("label")?.values();
    let auc = if args.objective == "binary:logistic" {
        let a = ml_core::metrics::roc_auc(&pred, labels, None).unwrap_or(f64::NAN);
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
        let mut s = String::from("prediction\n");
        for p in &pred {
            s.push_str(&format!("{p}\n"));
        }
        ml_core::persist::write_atomic(path, s.as_bytes())?;
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
