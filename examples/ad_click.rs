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

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array};
use arrow::datatypes::{DataType, Field, Schema};
use clap::Parser;
use common::{chart, title, CommonArgs, Report, Result, Sql, Timings};
use ml_core::io::CsvReadOptions;
use ml_core::Dataset;
use serde_json::json;

#[derive(Debug, Parser)]
#[command(about = "Ad clicks: CSV -> Parquet, CTR in SQL, boosted trees on indexed categories")]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    /// Where to write the Parquet copy (default: a temporary directory).
    #[arg(long)]
    parquet_out: Option<PathBuf>,
    /// String columns with at most this many distinct values are indexed as categories.
    #[arg(long, default_value_t = 70)]
    max_distinct: usize,
    /// Seed of the 70/30 split.
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let mut timings = Timings::new();
    let dir = args.common.data_path("clicks");
    let files = click_files(&dir)?;
    println!(
        "Ad clicks on {}",
        files
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let raw = timings.phase("csv_read_infer", || read_clicks(&files))?;
    println!(
        "read {} impressions x {} columns; inferred schema:",
        raw.num_rows(),
        raw.num_columns()
    );
    for f in raw.schema().fields() {
        print!("{}: {}  ", f.name(), f.data_type());
    }
    println!();

    let tmp = tempfile::tempdir()?;
    let pq_path = args
        .parquet_out
        .clone()
        .unwrap_or_else(|| tmp.path().join("clicks.parquet"));
    timings.phase("write_parquet", || {
        ml_core::io::write_parquet(&raw, &pq_path)
    })?;
    let back = timings.phase("read_parquet", || ml_core::io::read_parquet(&pq_path))?;
    if back.num_rows() != raw.num_rows() || back.schema().fields() != raw.schema().fields() {
        return Err(format!(
            "Parquet round trip changed the table: {} rows before, {} after",
            raw.num_rows(),
            back.num_rows()
        )
        .into());
    }
    println!(
        "Parquet round trip: {} ({} rows)",
        pq_path.display(),
        back.num_rows()
    );
    let hod: Int64Array = back
        .i64_column("hour")?
        .iter()
        .map(|h| h.map(|h| h % 100))
        .collect();
    let data = back.with_column("hour_of_day", Arc::new(hod) as ArrayRef)?;

    let mut report = Report::new("Ad clicks (Avazu)");
    report.paragraph(&format!(
        "Input: {} impressions from {} file(s); schema inferred from the CSV, written to Parquet and read back.",
        data.num_rows(),
        files.len()
    ));
    let sql = Sql::new()?;
    let profile = timings.phase("sql", || explore(&sql, &data, &mut report))?;
    let indexed: Vec<String> = profile
        .iter()
        .filter(|(_, n)| *n <= args.max_distinct)
        .map(|(c, _)| c.clone())
        .collect();
    let numeric = numeric_columns(&data);
    println!(
        "indexed string columns (<= {} distinct): {indexed:?}",
        args.max_distinct
    );
    println!("numeric columns: {numeric:?}");

    let out = args.common.report_dir("ad_click");
    let index = report.write(&out)?;
    println!("\nreport: {}", index.display());
    common::print_summary(
        "ad_click",
        json!({
            "rows": data.num_rows(),
            "ctr": common::round(mean(&data, "click")?, 4),
            "indexed_string_cols": indexed,
            "numeric_cols": numeric,
            "report": index.display().to_string(),
            "seconds": timings.to_json(),
        }),
    );
    Ok(())
}

/// CSV files in `dir` (or `dir` itself) whose header has a `click` column.
fn click_files(dir: &Path) -> Result<Vec<PathBuf>> {
    if dir.is_file() {
        return Ok(vec![dir.to_path_buf()]);
    }
    let mut files = Vec::new();
    for p in common::files_with_suffix(dir, ".csv")? {
        let head = std::fs::read(&p).map_err(|e| format!("cannot read '{}': {e}", p.display()))?;
        let first = head.split(|b| *b == b'\n').next().unwrap_or_default();
        let first = String::from_utf8_lossy(first);
        if first.trim_end().split(',').any(|c| c == "click") {
            files.push(p);
        }
    }
    if files.is_empty() {
        return Err(format!("no CSV file with a 'click' column in '{}'", dir.display()).into());
    }
    Ok(files)
}

/// Reads the click files with one schema, inferred from the first file. The `id` column is read
/// as a string: Avazu ids go beyond the range of a 64-bit signed integer.
fn read_clicks(files: &[PathBuf]) -> Result<Dataset> {
    let inferred = ml_core::io::infer_csv_schema(&files[0], &CsvReadOptions::default())?;
    let fields: Vec<Field> = inferred
        .fields()
        .iter()
        .map(|f| {
            if f.name() == "id" {
                Field::new("id", DataType::Utf8, true)
            } else {
                f.as_ref().clone()
            }
        })
        .collect();
    let schema = Arc::new(Schema::new(fields));
    let opts = CsvReadOptions::default().schema(schema);
    let parts = files
        .iter()
        .map(|f| ml_core::io::read_csv(f, &opts))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(Dataset::concat(&parts)?)
}

/// Integer feature columns: every Int64 column except id, click and hour (hour_of_day stands
/// in for hour).
fn numeric_columns(data: &Dataset) -> Vec<String> {
    data.schema()
        .fields()
        .iter()
        .filter(|f| {
            matches!(f.data_type(), DataType::Int64 | DataType::Float64)
                && !["id", "click", "hour"].contains(&f.name().as_str())
        })
        .map(|f| f.name().clone())
        .collect()
}

fn mean(data: &Dataset, column: &str) -> Result<f64> {
    let v = data.numeric_column(column)?;
    Ok(v.iter().flatten().sum::<f64>() / v.len().max(1) as f64)
}

/// CTR by banner position and by hour of day, and the number of distinct values of each
/// string column (returned).
fn explore(sql: &Sql, data: &Dataset, report: &mut Report) -> Result<Vec<(String, usize)>> {
    sql.register("impressions", data)?;
    title("Exploration (SQL through DataFusion)");
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
        let table = sql.show(caption, q, 30)?;
        report.table(caption, &table, 30)?;
        let labels = common::sql::string_values(&table, x)?;
        let ctr = common::sql::f64_values(&table, "ctr")?;
        report.svg(&chart::bar_chart(caption, "CTR", &labels, &ctr)?);
    }
    let strings: Vec<String> = data
        .schema()
        .fields()
        .iter()
        .filter(|f| f.data_type() == &DataType::Utf8 && f.name() != "id")
        .map(|f| f.name().clone())
        .collect();
    let q = format!(
        "SELECT {} FROM impressions",
        strings
            .iter()
            .map(|c| format!("count(DISTINCT {c}) AS {c}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let counts = sql.query(&q)?;
    let mut profile = Vec::new();
    for c in &strings {
        let n = common::sql::f64_values(&counts, c)?[0] as usize;
        profile.push((c.clone(), n));
    }
    let rows: Vec<Vec<String>> = profile
        .iter()
        .map(|(c, n)| vec![c.clone(), n.to_string()])
        .collect();
    println!("\nDistinct values of the string columns");
    for r in &rows {
        println!("  {:<18} {:>8}", r[0], r[1]);
    }
    report.string_table(
        "Distinct values of the string columns",
        &["column", "distinct"],
        &rows,
    );
    Ok(profile)
}
