//! Train gradient boosted trees from Parquet files and score a test set.
//!
//! ```text
//! cargo run --release --example train_gbdt -- --train TRAIN.parquet --test TEST.parquet --label COL
//!     [--exclude COL,...] [--categorical COL,...] [--split-col is_test]
//!     [--objective binary:logistic] [--num-round 100] [--max-depth 6] [--eta 0.3]
//!     [--max-bin 256] [--threads 2] [--seed 0] [--model-out PATH] [--predictions-out PATH.csv]
//!     [--contribs-out PATH.csv] [--grow-policy depthwise] [--max-leaves 0]
//!     [--monotone-constraints "(1,0,-1)"] [--interaction-constraints "[[0,1],[2,3,4]]"]
//! ```
//!
//! `--monotone-constraints` and `--interaction-constraints` take XGBoost's string syntax, by
//! feature position (features in file order) or by column name: `'{"int_rate": 1}'`,
//! `'[["grade","int_rate"],["dti"]]'`.
//!
//! Every column that is not the label, the split column or excluded is a feature (numeric; the
//! ones named in `--categorical` hold integer category codes, NaN = missing). `--test` may be the
//! same file as `--train` with `--split-col is_test`: rows where it is 1 are the test set (the
//! layout of the peers harness's `*_features.parquet`). `--model-out` writes the model in
//! ml-core's format, or XGBoost's JSON format when the name ends in `.xgb.json`.
//! `--predictions-out` writes one prediction (the probability of class 1 for binary) per test
//! row, in row order. `--contribs-out` writes the test rows' TreeSHAP contributions (one column
//! per feature, then `bias`; they sum to the margin). The output paths are checked before
//! training, and the outputs are written together ([`OutputFiles`]): a failure leaves every
//! one of them as it was. The last line of output is one JSON object:
//! `{"rows_train", "rows_test", "features", "train_s", "predict_s", "auc"}`.
//!
//! Example with the bundled-free peers data (see /work/shared/peers):
//! `cargo run --release --example train_gbdt -- --train loans_features.parquet
//!  --test loans_features.parquet --split-col is_test --label label --eta 0.1`

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{ArrayRef, BooleanArray, Float64Array};
use arrow::datatypes::{Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use indicatif::{ProgressBar, ProgressStyle};
use ml_core::dataset::{column_to_f64, index_of, numeric_columns_except, NullPolicy};
use ml_core::feature::{HandleInvalid, VectorAssembler};
use ml_core::io::{check_output_path, OutputFiles, ParquetReadOptions};
use ml_core::stream::{category_counts, BatchIter, BatchSource, ParquetSource};
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
    /// depthwise or lossguide.
    #[arg(long, default_value = "depthwise")]
    pub grow_policy: String,
    /// Maximum leaves per tree (0 = unlimited).
    #[arg(long, default_value_t = 0)]
    pub max_leaves: usize,
    /// XGBoost's monotone_constraints: "(1,0,-1)" by feature position, or '{"col": 1}'.
    #[arg(long, default_value = "", allow_hyphen_values = true)]
    pub monotone_constraints: String,
    /// XGBoost's interaction_constraints: "[[0,1],[2,3,4]]", or by column name.
    #[arg(long, default_value = "")]
    pub interaction_constraints: String,
    /// How the training bins are held in memory: auto, fast or compact (the row-major bins
    /// alone: less memory, slower training; the same model).
    #[arg(long, default_value = "auto")]
    pub bin_layout: String,
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

/// One part of an input file (the training or the test rows) as a stream of batches: the
/// projected columns of each Parquet batch assembled into one vector column `features` (the
/// `--categorical` columns nominal, their category counts fixed over the whole file, so every
/// batch has the same slots), the part's rows kept (`--split-col`), and only `features`, the
/// label and the split column passed on. Re-readable: each `open` reads the file again.
#[derive(Debug)]
struct Part {
    file: ParquetSource,
    assembler: VectorAssembler,
    split: Option<String>,
    test: bool,
    keep: Vec<String>,
    /// Rows passed on by the latest read.
    rows_read: AtomicUsize,
    /// Nanoseconds spent reading and assembling batches, over all reads.
    read_nanos: AtomicU64,
}

impl Part {
    /// The training (`test = false`) or test part of `path`, with category counts `counts`.
    fn new(args: &Args, path: &Path, features: &[String], counts: &[usize], test: bool) -> Self {
        let mut columns: Vec<&str> = features.iter().map(String::as_str).collect();
        columns.push(&args.label);
        columns.extend(args.split_col.as_deref());
        let inputs: Vec<&str> = features.iter().map(String::as_str).collect();
        let categorical: Vec<&str> = args.categorical.iter().map(String::as_str).collect();
        let mut keep = vec!["features".to_string(), args.label.clone()];
        keep.extend(args.split_col.clone());
        Part {
            // Decoded on the thread that asks, so that the reading timed apart from `train_s`
            // and `predict_s` does not run beside the training in another thread.
            file: ParquetSource::new(path)
                .with_options(
                    ParquetReadOptions::new()
                        .columns(&columns)
                        .batch_size(BATCH_ROWS),
                )
                .with_read_ahead(false),
            assembler: VectorAssembler::new(&inputs, "features")
                .with_categorical_cols(&categorical)
                .with_category_counts(counts)
                .with_handle_invalid(HandleInvalid::Keep),
            split: args.split_col.clone(),
            test,
            keep,
            rows_read: AtomicUsize::new(0),
            read_nanos: AtomicU64::new(0),
        }
    }

    /// Seconds spent reading and assembling batches so far.
    fn read_seconds(&self) -> f64 {
        self.read_nanos.load(Ordering::Relaxed) as f64 * 1e-9
    }

    /// One batch of the file as this part's batch.
    fn part_of(&self, batch: RecordBatch) -> Result<RecordBatch> {
        let assembled = self.assembler.transform(&Dataset::new(batch))?;
        let keep: Vec<&str> = self.keep.iter().map(String::as_str).collect();
        let rows = match &self.split {
            None => assembled,
            Some(col) => {
                let flags = column_to_f64(&assembled, col, NullPolicy::NullAsNaN)?;
                let mask: BooleanArray = flags
                    .values()
                    .iter()
                    .map(|&v| Some((v == 1.0) == self.test))
                    .collect();
                assembled.filter(&mask)?
            }
        };
        self.rows_read.fetch_add(rows.num_rows(), Ordering::Relaxed);
        Ok(rows.select(&keep)?.into_batch())
    }
}

impl BatchSource for Part {
    fn schema(&self) -> Result<SchemaRef> {
        let assembled = self
            .assembler
            .transform_schema(self.file.schema()?.as_ref())?;
        let fields: Vec<Field> = self
            .keep
            .iter()
            .map(|k| Ok(assembled.field_with_name(k)?.clone()))
            .collect::<std::result::Result<_, arrow::error::ArrowError>>()?;
        Ok(Arc::new(Schema::new(fields)))
    }
    fn open(&self) -> Result<BatchIter<'_>> {
        self.rows_read.store(0, Ordering::Relaxed);
        let mut file = self.file.open()?;
        Ok(Box::new(std::iter::from_fn(move || {
            let t = Instant::now();
            let next = file.next().map(|b| b.and_then(|b| self.part_of(b)));
            self.read_nanos
                .fetch_add(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
            next
        })))
    }
}

/// Trains on `--train`, scores the test rows and writes the model and predictions where asked;
/// returns `{"rows_train", "rows_test", "features", "train_s", "predict_s", "auc"}`. Nothing is
/// written to `out` (the closing line is the whole output).
///
/// The data goes through the library's public API and is streamed: the Parquet file is read in
/// batches of 65,536 rows with column projection ([`ParquetSource`]), the feature list comes
/// from [`numeric_columns_except`], a [`VectorAssembler`] marks `--categorical` columns nominal
/// with category counts taken over the whole file first ([`category_counts`]), the trees train
/// from the stream ([`Estimator::fit_source`]: the features are binned batch by batch, never
/// held as one `f64` matrix), the test rows are scored batch by batch, and ml-eval's
/// [`BinaryClassificationEvaluator`] gives the AUC. Memory is the binned training rows plus
/// one batch. Everything runs on one pool of `--threads` threads ([`ml_core::threads::install`]).
/// `train_s` is the time of training without the time spent reading and assembling the
/// batches (the file is read twice: once for the cut sample and the labels, once to bin the
/// rows), `predict_s` the time of scoring the test rows without reading them: the same
/// measure as before training streamed, when the file was read whole beforehand.
pub fn run(args: &Args, _out: &mut dyn Write) -> crate::Result<Summary> {
    let threads = crate::common::check_threads(args.threads)?;
    Ok(ml_core::threads::install(threads, || {
        train_and_score(args)
    })??)
}

/// The number of categories of each `--categorical` column over every row of `path`.
fn categorical_counts(args: &Args, path: &Path) -> Result<Vec<usize>> {
    if args.categorical.is_empty() {
        return Ok(Vec::new());
    }
    let cats: Vec<&str> = args.categorical.iter().map(String::as_str).collect();
    let source = ParquetSource::new(path).with_options(
        ParquetReadOptions::new()
            .columns(&cats)
            .batch_size(BATCH_ROWS),
    );
    category_counts(&source, &cats)
}

fn train_and_score(args: &Args) -> Result<Summary> {
    // An output path that cannot be written is refused before the training, not after it.
    for p in [&args.model_out, &args.predictions_out, &args.contribs_out]
        .into_iter()
        .flatten()
    {
        check_output_path(p)?;
    }
    let schema = ParquetSource::new(&args.train).schema()?;
    let features = feature_columns(args, &schema)?;
    let d = features.len();
    // One file: categories are counted over all its rows, then the rows are split.
    let train_counts = categorical_counts(args, &args.train)?;
    let test_counts = if args.train == args.test {
        train_counts.clone()
    } else {
        categorical_counts(args, &args.test)?
    };
    let train_part = Part::new(args, &args.train, &features, &train_counts, false);
    let test_part = Part::new(args, &args.test, &features, &test_counts, true);
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
    gbt.grow_policy = args.grow_policy.parse()?;
    gbt.max_leaves = args.max_leaves;
    gbt.monotone_constraints = args.monotone_constraints.clone();
    gbt.interaction_constraints = args.interaction_constraints.clone();
    gbt.bin_layout = args.bin_layout.parse()?;
    if args.objective.starts_with("multi:") {
        // Classes 0..k-1: counted as category codes of the label over the training rows.
        gbt.num_class = category_counts(&train_part, &[args.label.as_str()])
            .map_err(|e| in_training_file(args, e))?[0];
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
    // Training time as before streaming: without the time spent reading the batches.
    let (t0, read0) = (Instant::now(), train_part.read_seconds());
    let model = gbt
        .fit_source(&train_part)
        .map_err(|e| in_training_file(args, e))?;
    let train_s = t0.elapsed().as_secs_f64() - (train_part.read_seconds() - read0);
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let rows_train = train_part.rows_read.load(Ordering::Relaxed);

    // The test rows, batch by batch: predictions, labels and (when asked) contributions.
    let t1 = Instant::now();
    let mut pred: Vec<f64> = Vec::new();
    let mut labels: Vec<f64> = Vec::new();
    let mut contribs_s = 0.0;
    let mut contribs = args
        .contribs_out
        .as_ref()
        .map(|_| contribution_header(&model, &features));
    for batch in test_part.open()? {
        let batch = Dataset::new(batch?);
        let x = batch.features("features")?;
        pred.extend(model.predict(x)?);
        labels.extend(column_to_f64(&batch, &args.label, NullPolicy::NullAsNaN)?.values());
        if let Some(text) = contribs.as_mut() {
            contribs_s += append_contributions(text, &model, &batch)?;
        }
    }
    let predict_s = t1.elapsed().as_secs_f64() - contribs_s - test_part.read_seconds();
    let rows_test = pred.len();
    if contribs.is_some() {
        // scripts/xgb_shap_check.py reads this line.
        eprintln!("contributions: {rows_test} rows in {contribs_s:.3} s");
    }
    let auc = if args.objective == "binary:logistic" {
        let scored = Dataset::from_columns(vec![
            (
                "score",
                Arc::new(Float64Array::from(pred.clone())) as ArrayRef,
            ),
            (
                args.label.as_str(),
                Arc::new(Float64Array::from(labels)) as ArrayRef,
            ),
        ])?;
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
    // The outputs are written together: a failure leaves every one of them as it was.
    let mut files = OutputFiles::new();
    if let Some(path) = &args.model_out {
        let json = if path.to_string_lossy().ends_with(".xgb.json") {
            ml_tree::xgboost::to_xgboost_json(&model)?
        } else {
            ml_core::persist::to_json(&model)?
        };
        files.bytes(path, json.as_bytes())?;
    }
    if let Some(path) = &args.predictions_out {
        files.values_csv(path, "prediction", &pred)?;
    }
    if let (Some(path), Some(text)) = (&args.contribs_out, contribs) {
        files.bytes(path, text.as_bytes())?;
    }
    files.commit()?;
    Ok(Summary::new(serde_json::json!({
        "rows_train": rows_train,
        "rows_test": rows_test,
        "features": d,
        "train_s": (train_s * 1e3).round() / 1e3,
        "predict_s": (predict_s * 1e3).round() / 1e3,
        "auc": auc,
    })))
}

/// An error about a value of the training rows, with the row as `--train` counts it: with
/// `--split-col`, the trainer counts only the training rows, so its row `k` is the file's
/// `k`-th row whose split flag is not 1. Other errors pass through.
fn in_training_file(args: &Args, e: MlError) -> MlError {
    let (column, row, message) = match e {
        MlError::InvalidValue {
            column,
            row,
            message,
        } => (column, row, message),
        other => return other,
    };
    let file = args.train.display();
    let Some(split) = &args.split_col else {
        return MlError::value(column, row, format!("{message} (in '{file}')"));
    };
    match training_row_in_file(&args.train, split, row) {
        Ok(Some(file_row)) => MlError::value(
            column,
            file_row,
            format!("{message} (in '{file}'; training row {row}, '{split}' not 1)"),
        ),
        _ => MlError::value(
            column,
            row,
            format!("{message} (in '{file}', counting only the rows where '{split}' is not 1)"),
        ),
    }
}

/// The row of `path` that is its `k`-th training row (split flag not 1), if there is one.
fn training_row_in_file(path: &Path, split: &str, k: usize) -> Result<Option<usize>> {
    let source = ParquetSource::new(path).with_options(
        ParquetReadOptions::new()
            .columns(&[split])
            .batch_size(BATCH_ROWS),
    );
    let (mut seen, mut offset) = (0usize, 0usize);
    for batch in source.open()? {
        let batch = Dataset::new(batch?);
        let flags = column_to_f64(&batch, split, NullPolicy::NullAsNaN)?;
        for (i, &v) in flags.values().iter().enumerate() {
            if v != 1.0 {
                if seen == k {
                    return Ok(Some(offset + i));
                }
                seen += 1;
            }
        }
        offset += batch.num_rows();
    }
    Ok(None)
}

/// The header line of the TreeSHAP contributions file: one column per feature, then `bias`
/// (for multiclass, one such group per class, prefixed `class{k}_`).
fn contribution_header(model: &ml_tree::GradientBoostedTreesModel, features: &[&str]) -> String {
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
    s
}

/// Appends the TreeSHAP contributions of the rows of `batch` to `text`, one line per row;
/// returns the seconds the contributions took.
fn append_contributions(
    text: &mut String,
    model: &ml_tree::GradientBoostedTreesModel,
    batch: &Dataset,
) -> Result<f64> {
    let x = batch.features("features")?;
    let t = Instant::now();
    let c = model.predict_contributions(x)?;
    let seconds = t.elapsed().as_secs_f64();
    let width = model.num_class * (x.ncols() + 1);
    for row in c.chunks(width.max(1)) {
        let cells: Vec<String> = row.iter().map(|v| v.to_string()).collect();
        text.push_str(&cells.join(","));
        text.push('\n');
    }
    Ok(seconds)
}
