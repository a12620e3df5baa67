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
//! Every step streams, so memory is bounded by the binned training rows, not by the table: the
//! CSV files are written to Parquet batch by batch, the SQL runs in DataFusion over the Parquet
//! file, the 70/30 split is a split of the stream ([`ml_core::stream::random_split`], the same
//! rows as `Dataset::random_split`), the pipeline fits from the training part
//! ([`Pipeline::fit_shared_source`]: StringIndexer counts, then the trees from binned batches,
//! indexed one batch ahead of the trees' work) and scores the test part batch by batch.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::common::{self, chart, title, CommonArgs, Report, Result, Sql, Timings};
use crate::Summary;
use arrow::array::{ArrayRef, Float64Array, Int64Array};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use ml_core::feature::{HandleInvalid, StringIndexer, VectorAssembler};
use ml_core::io::{CsvReadOptions, ParquetReadOptions};
use ml_core::stream::{BatchIter, BatchSource, ConcatSource, CsvSource, ParquetSource};
use ml_core::{Dataset, Pipeline};
use ml_eval::{BinaryClassificationEvaluator, Evaluator};
use ml_tree::{GradientBoostedTrees, GradientBoostedTreesModel, ImportanceType};
use serde_json::json;

/// The flags of `examples/ad_click.rs`.
#[derive(Debug, clap::Parser)]
#[command(about = "Ad clicks: CSV -> Parquet, CTR in SQL, boosted trees on indexed categories")]
pub struct Args {
    /// --data, --report-dir, --quick.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Where to write the Parquet copy (default: a temporary directory).
    #[arg(long)]
    pub parquet_out: Option<PathBuf>,
    /// String columns with at most this many distinct values are indexed as categories.
    #[arg(long, default_value_t = 70)]
    pub max_distinct: usize,
    /// Seed of the 70/30 split.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

/// Runs the use case: progress and tables go to `out`, the report to `--report-dir`; returns the
/// key figures (the closing JSON line).
pub fn run(args: &Args, out: &mut dyn Write) -> Result<Summary> {
    let mut timings = Timings::new();
    let dir = args.common.data_path("clicks");
    let files = click_files(&dir)?;
    writeln!(
        out,
        "Ad clicks on {}",
        files
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )?;
    let csv = timings.phase("csv_read_infer", || click_sources(&files))?;
    let raw_schema = csv.schema()?;
    writeln!(
        out,
        "{} columns; schema inferred from the CSV:",
        raw_schema.fields().len()
    )?;
    for f in raw_schema.fields() {
        write!(out, "{}: {}  ", f.name(), f.data_type())?;
    }
    writeln!(out)?;

    let tmp = tempfile::tempdir()?;
    let pq_path = args
        .parquet_out
        .clone()
        .unwrap_or_else(|| tmp.path().join("clicks.parquet"));
    let written = timings.phase("write_parquet", || {
        if args.parquet_out.is_some() {
            ml_core::stream::write_parquet_source(&csv, &pq_path)
        } else {
            // A scratch copy in a temporary directory, deleted at the end: not synced to disk.
            ml_core::stream::write_parquet_source_unsynced(&csv, &pq_path)
        }
    })?;
    let parquet = ParquetSource::new(&pq_path);
    let back = timings.phase("read_parquet", || -> Result<usize> {
        // Row count from one projected column; the schema from the file's metadata.
        let one = ParquetSource::new(&pq_path)
            .with_options(ParquetReadOptions::new().columns(&["click"]));
        Ok(ml_core::stream::count_rows(&one)?)
    })?;
    if back != written || parquet.schema()?.fields() != raw_schema.fields() {
        return Err(format!(
            "Parquet round trip changed the table: {written} rows written, {back} read back"
        )
        .into());
    }
    check_clicks(&pq_path, &files)?;
    writeln!(
        out,
        "read {written} impressions; Parquet round trip: {} ({back} rows)",
        pq_path.display(),
    )?;
    let schema = Prepared { file: parquet }.schema()?;

    let mut report = Report::new("Ad clicks (Avazu)");
    report.paragraph(&format!(
        "Input: {written} impressions from {} file(s); schema inferred from the CSV, written to Parquet and read back.",
        files.len()
    ));
    let sql = Sql::new()?;
    let (profile, ctr) =
        timings.phase("sql", || explore(out, &sql, &pq_path, &schema, &mut report))?;
    let indexed: Vec<String> = profile
        .iter()
        .filter(|(_, n)| *n <= args.max_distinct)
        .map(|(c, _)| c.clone())
        .collect();
    let numeric = numeric_columns(&schema);
    writeln!(
        out,
        "indexed string columns (<= {} distinct): {indexed:?}",
        args.max_distinct
    )?;
    writeln!(out, "numeric columns: {numeric:?}")?;

    let m = timings.phase("model", || {
        let data = Impressions {
            // Only the columns the model reads are decoded (not the ids and other
            // high-cardinality strings), in batches of 32,768 rows: a batch's columns and
            // its assembled features then stay in cache from one stage to the next (the
            // model phase on 10M rows ~3% shorter than with 65,536; see benches).
            source: Arc::new(Prepared {
                file: ParquetSource::new(&pq_path).with_options(
                    ParquetReadOptions::new()
                        .columns(
                            &indexed
                                .iter()
                                .chain(numeric.iter().filter(|c| *c != "hour_of_day"))
                                .map(String::as_str)
                                .chain(["hour", "click"])
                                .collect::<Vec<_>>(),
                        )
                        .batch_size(32_768),
                ),
            }),
            rows: written,
        };
        model(out, args, data, &indexed, &numeric, &profile, &mut report)
    })?;

    let index = report.write(&args.common.report_dir("ad_click"))?;
    writeln!(out, "\nreport: {}", index.display())?;
    Ok(Summary::for_example(
        "ad_click",
        json!({
            "rows": written,
            "ctr": common::round(ctr, 4),
            "indexed_string_cols": indexed,
            "numeric_cols": numeric,
            "max_bins": m.max_bins,
            "train_rows": m.train_rows,
            "test_rows": m.test_rows,
            "auc": common::round(m.auc, 4),
            "importances": m.importances,
            "report": index.display().to_string(),
            "seconds": timings.to_json(),
            "peak_rss_mb": timings.peak_rss_json(),
        }),
    ))
}

/// The label must be 0 or 1 in every row. It is checked over the whole table, before the
/// split, so that a bad value is named by its row in the input (the trainer counts only the
/// rows of the training split).
fn check_clicks(pq_path: &Path, files: &[PathBuf]) -> Result<()> {
    let source =
        ParquetSource::new(pq_path).with_options(ParquetReadOptions::new().columns(&["click"]));
    let mut offset = 0;
    for batch in source.open()? {
        let data = Dataset::new(batch?);
        let clicks =
            ml_core::dataset::column_to_f64(&data, "click", ml_core::dataset::NullPolicy::Keep)?;
        for (i, v) in clicks.iter().enumerate() {
            if v == Some(0.0) || v == Some(1.0) {
                continue;
            }
            let what = v.map_or("missing".to_string(), |v| format!("{v}"));
            let place = match files {
                [one] => format!("in '{}'", one.display()),
                _ => "counting the rows of the CSV files in the order listed".to_string(),
            };
            return Err(ml_core::MlError::value(
                "click",
                offset + i,
                format!("the click label {what} is not 0 or 1 ({place}, the header not counted)"),
            )
            .into());
        }
        offset += data.num_rows();
    }
    Ok(())
}

/// The impressions as the model reads them: a source and its number of rows.
struct Impressions {
    source: Arc<dyn BatchSource>,
    rows: usize,
}

/// The Parquet copy as the model reads it, batch by batch: every column, then `hour_of_day`
/// (`hour % 100`: Avazu's hour is YYMMDDHH) and `label` (`click` as a double).
#[derive(Debug)]
struct Prepared {
    file: ParquetSource,
}

impl Prepared {
    fn prepare(batch: RecordBatch) -> ml_core::Result<RecordBatch> {
        let data = Dataset::new(batch);
        let hod: Int64Array = data
            .i64_column("hour")?
            .iter()
            .map(|h| h.map(|h| h % 100))
            .collect();
        let label: Float64Array = data.numeric_column("click")?;
        Ok(data
            .with_column("hour_of_day", Arc::new(hod) as ArrayRef)?
            .with_column("label", Arc::new(label) as ArrayRef)?
            .into_batch())
    }
}

impl BatchSource for Prepared {
    fn schema(&self) -> ml_core::Result<SchemaRef> {
        let mut fields: Vec<Field> = self
            .file
            .schema()?
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        fields.push(Field::new("hour_of_day", DataType::Int64, true));
        fields.push(Field::new("label", DataType::Float64, true));
        Ok(Arc::new(Schema::new(fields)))
    }
    fn open(&self) -> ml_core::Result<BatchIter<'_>> {
        Ok(Box::new(
            self.file.open()?.map(|b| b.and_then(Prepared::prepare)),
        ))
    }
    /// Columns of the file alone are read from the file alone (only they are decoded);
    /// with `hour_of_day` or `label` among them, every batch is prepared and cut.
    fn open_columns(&self, columns: &[&str]) -> ml_core::Result<BatchIter<'_>> {
        if columns.iter().any(|c| ["hour_of_day", "label"].contains(c)) {
            Ok(ml_core::stream::keep_columns(self.open()?, columns))
        } else {
            self.file.open_columns(columns)
        }
    }
}

/// What the model found.
struct ModelFigures {
    max_bins: usize,
    train_rows: usize,
    test_rows: usize,
    auc: f64,
    importances: serde_json::Value,
}

/// StringIndexer(keep) on the low-cardinality string columns, VectorAssembler with the integer
/// columns, boosted trees on a 70/30 split, AUC and feature importances.
fn model(
    out: &mut dyn Write,
    args: &Args,
    data: Impressions,
    indexed: &[String],
    numeric: &[String],
    profile: &[(String, usize)],
    report: &mut Report,
) -> Result<ModelFigures> {
    let Impressions { source, rows } = data;
    let mut parts = ml_core::stream::random_split(source, &[0.7, 0.3], args.seed)?;
    let test: Arc<dyn BatchSource> = Arc::new(parts.pop().ok_or("split has two parts")?);
    let train = parts.pop().ok_or("split has two parts")?;
    let idx: Vec<String> = indexed.iter().map(|c| format!("{c}_idx")).collect();
    let inputs: Vec<&str> = idx
        .iter()
        .chain(numeric.iter())
        .map(String::as_str)
        .collect();
    // StringIndexer(keep) adds one bucket for unseen values, so the bins must cover
    // distinct + 1 categories (as the Spark peer raises maxBins).
    let max_bins = profile
        .iter()
        .filter(|(c, _)| indexed.contains(c))
        .map(|(_, n)| n + 1)
        .fold(70, usize::max);
    let mut gbt = GradientBoostedTrees::new();
    gbt.max_bin = max_bins;
    gbt.max_depth = 10;
    gbt.num_round = 10;
    gbt.seed = args.seed;
    let pipeline = Pipeline::new()
        .estimator(
            "index",
            StringIndexer::multi(
                &indexed.iter().map(String::as_str).collect::<Vec<_>>(),
                &idx.iter().map(String::as_str).collect::<Vec<_>>(),
            )
            .with_handle_invalid(HandleInvalid::Keep),
        )
        .transformer("assemble", VectorAssembler::new(&inputs, "features"))
        .estimator("gbt", gbt.clone());
    title(out, "Model")?;
    let bar = common::spinner("training boosted trees");
    // The indexing and assembling of each batch run beside the trees' own work on the batch
    // before (one batch ahead, on a thread of their own); the same model as `fit_source`.
    let fitted = pipeline.fit_shared_source(Arc::new(train))?;
    bar.finish_and_clear();
    // The test part scored batch by batch (indexed and assembled one batch ahead, on a thread
    // of their own); only the scores and labels are kept.
    let evaluator = BinaryClassificationEvaluator::new();
    let keep = [evaluator.raw_prediction_col.as_str(), "label"];
    let scored: Vec<Dataset> = fitted
        .transform_source_ahead(test)
        .open()?
        .map(|b| Dataset::new(b?).select(&keep))
        .collect::<ml_core::Result<_>>()?;
    let pred = Dataset::concat(&scored)?;
    let test_rows = pred.num_rows();
    let train_rows = rows - test_rows;
    let auc = evaluator.evaluate(&pred)?;
    writeln!(out,
        "split 70/30 (seed {}): {train_rows} train, {test_rows} test; boosted trees: {} rounds, depth 10, eta {}, max_bins {max_bins}",
        args.seed,
        gbt.num_round,
        gbt.eta
    )?;
    writeln!(out, "test AUC: {auc:.4}")?;
    let trees: &GradientBoostedTreesModel = fitted
        .stage_as::<GradientBoostedTreesModel>("gbt")
        .ok_or("the fitted pipeline has no boosted-trees stage")?;
    let gains = trees.feature_importances(ImportanceType::TotalGain);
    let total: f64 = gains.iter().sum::<f64>().max(f64::MIN_POSITIVE);
    let mut ranked: Vec<(String, f64)> = inputs
        .iter()
        .map(|s| s.to_string())
        .zip(gains.iter().map(|g| g / total))
        .collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    writeln!(out, "\nFeature importances (share of total gain)")?;
    for (name, g) in &ranked {
        writeln!(out, "  {name:<22} {g:.4}")?;
    }
    report.heading("Boosted trees");
    report.paragraph(&format!(
        "StringIndexer(keep) on {} string column(s) with at most {} distinct values ({}); these slots are marked nominal, \
         so the trees split them on subsets of categories (no one-hot). With {} integer columns: {} features. \
         Boosted trees ({} rounds, depth 10, eta {}, max_bins {max_bins}) on a 70/30 split with seed {}: \
         {} training and {} test impressions, test AUC {auc:.4}.",
        indexed.len(),
        args.max_distinct,
        indexed.join(", "),
        numeric.len(),
        inputs.len(),
        gbt.num_round,
        gbt.eta,
        args.seed,
        train_rows,
        test_rows
    ));
    let rows: Vec<Vec<String>> = ranked
        .iter()
        .map(|(n, g)| vec![n.clone(), format!("{g:.4}")])
        .collect();
    report.svg(&chart::bar_chart(
        "Feature importances (share of total gain)",
        "share of total gain",
        &ranked.iter().map(|r| r.0.clone()).collect::<Vec<_>>(),
        &ranked.iter().map(|r| r.1).collect::<Vec<_>>(),
    )?);
    report.string_table(
        "Feature importances",
        &["feature", "share of total gain"],
        &rows,
    );
    let importances = serde_json::Value::Object(
        ranked
            .iter()
            .map(|(n, g)| (n.clone(), json!(common::round(*g, 4))))
            .collect(),
    );
    Ok(ModelFigures {
        max_bins,
        train_rows,
        test_rows,
        auc,
        importances,
    })
}

/// CSV files in `dir` (or `dir` itself) whose header has a `click` column.
fn click_files(dir: &Path) -> Result<Vec<PathBuf>> {
    if dir.is_file() {
        return Ok(vec![dir.to_path_buf()]);
    }
    let mut files = Vec::new();
    for p in common::files_with_suffix(dir, ".csv")? {
        if header_line(&p)?.split(',').any(|c| c == "click") {
            files.push(p);
        }
    }
    if files.is_empty() {
        return Err(format!("no CSV file with a 'click' column in '{}'", dir.display()).into());
    }
    Ok(files)
}

/// The first line of the file at `path` without its line ending, read alone: the files are
/// the size of the data set (Avazu's is 6 GB) and must not be read whole to look at a header.
/// A header longer than 1 MiB is cut there (it cannot be the header of a click file).
fn header_line(path: &Path) -> Result<String> {
    use std::io::{BufRead, Read};
    let file =
        std::fs::File::open(path).map_err(|e| format!("cannot read '{}': {e}", path.display()))?;
    let mut first = Vec::new();
    std::io::BufReader::new(file)
        .take(1 << 20)
        .read_until(b'\n', &mut first)
        .map_err(|e| format!("cannot read '{}': {e}", path.display()))?;
    Ok(String::from_utf8_lossy(&first).trim_end().to_string())
}

/// The click files as one stream of batches with one schema, inferred from the first file.
/// The `id` column is read as an unsigned 64-bit integer: Avazu ids go beyond the range of a
/// signed one, where inference (as Spark's) gives a double, which would round them. (As text
/// they took 8% longer to write, in a file a quarter larger; see benches.)
fn click_sources(files: &[PathBuf]) -> Result<ConcatSource> {
    let inferred = ml_core::io::infer_csv_schema(&files[0], &CsvReadOptions::default())?;
    let fields: Vec<Field> = inferred
        .fields()
        .iter()
        .map(|f| {
            if f.name() == "id" {
                Field::new("id", DataType::UInt64, true)
            } else {
                f.as_ref().clone()
            }
        })
        .collect();
    let schema = Arc::new(Schema::new(fields));
    // Batches of 65,536 rows: a batch's columns are parsed, then encoded, in parallel, with a
    // join per batch; with the reader's default 8,192 the write took 8-34% longer on 10M
    // rows, and 262,144 (past the cache) longer still (see benches/larger_than_memory.md).
    let opts = CsvReadOptions::default().schema(schema).batch_size(65_536);
    let parts = files
        .iter()
        .map(|f| Ok(Box::new(CsvSource::new(f, &opts)?) as Box<dyn BatchSource>))
        .collect::<ml_core::Result<Vec<_>>>()?;
    Ok(ConcatSource::new(parts)?)
}

/// Integer feature columns: every Int64 column except id, click and hour (hour_of_day stands
/// in for hour).
fn numeric_columns(schema: &Schema) -> Vec<String> {
    schema
        .fields()
        .iter()
        .filter(|f| {
            matches!(f.data_type(), DataType::Int64 | DataType::Float64)
                && !["id", "click", "hour", "label"].contains(&f.name().as_str())
        })
        .map(|f| f.name().clone())
        .collect()
}

/// String columns whose estimated number of distinct values is at most this are counted
/// exactly; the others keep their HyperLogLog estimate (DataFusion's `approx_distinct`).
const EXACT_DISTINCT_UP_TO: usize = 100_000;

/// CTR by banner position and by hour of day over the Parquet file at `path` (DataFusion
/// streams it), and the number of distinct values of each string column of `schema` and the
/// overall CTR (returned).
fn explore(
    out: &mut dyn Write,
    sql: &Sql,
    path: &Path,
    schema: &Schema,
    report: &mut Report,
) -> Result<(Vec<(String, usize)>, f64)> {
    sql.register_parquet("clicks", path)?;
    sql.query(
        "CREATE OR REPLACE VIEW impressions AS SELECT *, hour % 100 AS hour_of_day FROM clicks",
    )?;
    title(out, "Exploration (SQL through DataFusion)")?;
    report.heading("Click-through rates (SQL through DataFusion)");
    for (caption, q, x) in [
        (
            "CTR by banner position",
            "SELECT banner_pos, count(1) AS impressions, sum(click) AS clicks, round(avg(click), 4) AS ctr \
             FROM impressions GROUP BY banner_pos ORDER BY banner_pos",
            "banner_pos",
        ),
        (
            "CTR by hour of day",
            "SELECT hour_of_day, count(1) AS impressions, sum(click) AS clicks, round(avg(click), 4) AS ctr \
             FROM impressions GROUP BY hour_of_day ORDER BY hour_of_day",
            "hour_of_day",
        ),
    ] {
        let table = sql.show(out, caption, q, 30)?;
        report.table(caption, &table, 30)?;
        let labels = common::sql::string_values(&table, x)?;
        let ctr = common::sql::f64_values(&table, "ctr")?;
        report.svg(&chart::bar_chart(caption, "CTR", &labels, &ctr)?);
    }
    let strings: Vec<String> = schema
        .fields()
        .iter()
        .filter(|f| f.data_type() == &DataType::Utf8 && f.name() != "id")
        .map(|f| f.name().clone())
        .collect();
    // Distinct values in two steps, so that memory does not grow with the ids: a HyperLogLog
    // estimate of every column (a few KB each), then an exact count of the columns estimated
    // at most EXACT_DISTINCT_UP_TO (an exact count of Avazu's device_ip would hold every
    // distinct value: 2.7 GB at 40M rows). The estimate cannot put a column of at most
    // `--max-distinct` values (70) beyond that bound.
    let select = |f: &dyn Fn(&String) -> String, cols: &[&String]| {
        cols.iter().map(|c| f(c)).collect::<Vec<_>>().join(", ")
    };
    let all: Vec<&String> = strings.iter().collect();
    let estimates = sql.query(&format!(
        "SELECT avg(click) AS ctr, {} FROM impressions",
        select(&|c| format!("approx_distinct({c}) AS {c}"), &all)
    ))?;
    let ctr = common::sql::f64_values(&estimates, "ctr")?[0];
    let mut profile = Vec::new();
    let mut exact: Vec<&String> = Vec::new();
    for c in &strings {
        let n = common::sql::f64_values(&estimates, c)?[0] as usize;
        if n <= EXACT_DISTINCT_UP_TO {
            exact.push(c);
        }
        profile.push((c.clone(), n));
    }
    if !exact.is_empty() {
        let counts = sql.query(&format!(
            "SELECT {} FROM impressions",
            select(&|c| format!("count(DISTINCT {c}) AS {c}"), &exact)
        ))?;
        for (c, n) in profile.iter_mut() {
            if exact.contains(&&*c) {
                *n = common::sql::f64_values(&counts, c)?[0] as usize;
            }
        }
    }
    let rows: Vec<Vec<String>> = profile
        .iter()
        .map(|(c, n)| {
            let n = if *n > EXACT_DISTINCT_UP_TO {
                format!("~{n}")
            } else {
                n.to_string()
            };
            vec![c.clone(), n]
        })
        .collect();
    writeln!(
        out,
        "\nDistinct values of the string columns (~: HyperLogLog estimate, beyond {EXACT_DISTINCT_UP_TO})"
    )?;
    for r in &rows {
        writeln!(out, "  {:<18} {:>9}", r[0], r[1])?;
    }
    report.string_table(
        "Distinct values of the string columns",
        &["column", "distinct (~: estimate)"],
        &rows,
    );
    Ok((profile, ctr))
}
