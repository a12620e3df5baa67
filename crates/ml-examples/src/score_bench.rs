//! `score_bench`: one-row scoring latency of a saved pipeline in-process, through the compiled
//! row scorer ([`ml_core::row::RowScorer`]), against `transform` of the whole batch (for
//! equality) and of one-row datasets (for speed).
//!
//! ```text
//! cargo run --release --example loan_risk -- --model-out loan_model.json --rows-out loan_rows.csv
//! cargo run --release --example score_bench -- --model loan_model.json --data loan_rows.csv --rows 10000
//! ```
//!
//! Rows of `--data` are turned into named values first (as a caller holding a request would
//! have them); each is then scored alone and timed. The data's rows are reused in turn when
//! `--rows` asks for more. The closing JSON line holds `rows`, `p50_us`, `p99_us` and
//! `batch_equal` (every row's probability equal, bit for bit, to the one `transform` gives
//! for the whole batch), with `threads`, `mean_us` and `transform_one_row_p50_us` beside them.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use ml_core::row::{Row, RowScorer, RowValue};
use ml_core::{PipelineModel, Transformer};
use serde_json::json;

use crate::common::{self, Result};
use crate::Summary;

/// The flags of `examples/score_bench.rs`.
#[derive(Debug, Clone, clap::Parser)]
#[command(about = "One-row scoring latency of a saved pipeline, in-process")]
pub struct Args {
    /// The saved pipeline model (`loan_risk --model-out PATH`).
    #[arg(long)]
    pub model: PathBuf,
    /// Rows to score (CSV or Parquet with the pipeline's input columns; `loan_risk --rows-out`).
    #[arg(long)]
    pub data: PathBuf,
    /// Rows scored one at a time (and timed).
    #[arg(long, default_value_t = 10_000)]
    pub rows: usize,
    /// Threads scoring at once, each its share of the rows, through one shared scorer.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// The output column compared with the batch path (its last slot for a vector).
    #[arg(long, default_value = "probability")]
    pub output: String,
    /// Also write, into this directory, the pipeline's last stage (boosted trees) in
    /// XGBoost's JSON format (`model.xgb.json`), the feature vectors it reads for the scored
    /// rows (`features.csv`) and their probabilities (`probability.csv`), for
    /// `scripts/score_xgboost_inplace.py`.
    #[arg(long, value_name = "DIR")]
    pub export_xgboost: Option<PathBuf>,
}

/// Runs the benchmark; the closing JSON line holds the figures.
pub fn run(args: &Args, out: &mut dyn Write) -> Result<Summary> {
    crate::common::check_threads(args.threads)?;
    let model: PipelineModel = ml_core::persist::load_as(&args.model)?;
    let data = ml_core::io::read_table(&args.data, &ml_core::io::ReadOptions::new())?;
    if data.num_rows() == 0 {
        return Err(format!("--data: '{}' has no rows", args.data.display()).into());
    }
    let t = Instant::now();
    let scorer = RowScorer::compile_with_schema(&model, &data.schema(), &[&args.output])?;
    let compile_us = t.elapsed().as_secs_f64() * 1e6;
    let distinct = data.num_rows().min(args.rows.max(1));
    let rows: Vec<Row> = (0..distinct)
        .map(|i| Row::from_dataset(&data, i))
        .collect::<ml_core::Result<_>>()?;
    writeln!(
        out,
        "scorer compiled in {compile_us:.0} us; {} input columns; scoring {} rows ({} distinct) on {} thread(s)",
        scorer.inputs().len(),
        args.rows,
        distinct,
        args.threads.max(1)
    )?;

    // The batch path, for equality.
    let batch = model.transform(&data.slice(0, distinct))?;
    let want = column_values(&batch, &args.output)?;

    if let Some(dir) = &args.export_xgboost {
        export_xgboost(&model, &batch, dir)?;
        writeln!(
            out,
            "XGBoost model, features and probabilities written to {}",
            dir.display()
        )?;
    }

    // Warm up, then time every row.
    for r in rows.iter().take(1000) {
        scorer.score(r)?;
    }
    let threads = args.threads.max(1);
    let n = args.rows.max(1);
    let results: Vec<Result<(Vec<f64>, bool)>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (scorer, rows, want) = (&scorer, &rows, &want);
                s.spawn(move || -> Result<(Vec<f64>, bool)> {
                    let mut lat = Vec::with_capacity(n / threads + 1);
                    let mut equal = true;
                    for i in (t..n).step_by(threads) {
                        let k = i % rows.len();
                        let t0 = Instant::now();
                        let got = scorer.score(&rows[k])?;
                        lat.push(t0.elapsed().as_secs_f64() * 1e6);
                        let v = got.and_then(|mut v| v.pop()).map(|v| last_slot(&v));
                        equal &= v.map(f64::to_bits) == want[k].map(f64::to_bits);
                    }
                    Ok((lat, equal))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("a scoring thread panicked".into()))
            })
            .collect()
    });
    let mut lat = Vec::with_capacity(n);
    let mut batch_equal = true;
    for r in results {
        let (l, e) = r?;
        lat.extend(l);
        batch_equal &= e;
    }
    let (p50, p99, mean) = percentiles(&mut lat);

    // `transform` of one-row datasets, for comparison.
    let m = distinct.min(2000);
    let mut one = Vec::with_capacity(m);
    for i in 0..m {
        let d = data.slice(i, 1);
        let t0 = Instant::now();
        model.transform(&d)?;
        one.push(t0.elapsed().as_secs_f64() * 1e6);
    }
    let (one_p50, one_p99, _) = percentiles(&mut one);
    writeln!(
        out,
        "row scorer:            p50 {p50:.2} us, p99 {p99:.2} us, mean {mean:.2} us"
    )?;
    writeln!(
        out,
        "transform of one row:  p50 {one_p50:.1} us, p99 {one_p99:.1} us ({m} rows)"
    )?;
    writeln!(
        out,
        "every row equal to the batch path, bit for bit: {batch_equal}"
    )?;
    Ok(Summary::new(json!({
        "rows": n,
        "threads": threads,
        "p50_us": common::round(p50, 3),
        "p99_us": common::round(p99, 3),
        "mean_us": common::round(mean, 3),
        "transform_one_row_p50_us": common::round(one_p50, 1),
        "batch_equal": batch_equal,
    })))
}

/// The value compared per row: a number, or the last slot of a vector (P(class 1) for a
/// binary probability); `None` for null.
fn last_slot(v: &RowValue) -> f64 {
    match v {
        RowValue::Number(x) => *x,
        RowValue::Vector(x) => x.last().copied().unwrap_or(f64::NAN),
        _ => f64::NAN,
    }
}

fn column_values(data: &ml_core::Dataset, name: &str) -> Result<Vec<Option<f64>>> {
    let col = data.column(name)?;
    (0..data.num_rows())
        .map(|i| {
            let v = RowValue::from_array(col.as_ref(), name, i)?;
            Ok((v != RowValue::Null).then(|| last_slot(&v)))
        })
        .collect()
}

/// p50, p99 and mean of `v` (sorted in place).
pub fn percentiles(v: &mut [f64]) -> (f64, f64, f64) {
    if v.is_empty() {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1];
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    (at(0.50), at(0.99), mean)
}

/// Writes the last stage (boosted trees) as XGBoost JSON, the feature vectors it read and its
/// P(class 1), for a side-by-side run of XGBoost's `inplace_predict`.
fn export_xgboost(
    model: &PipelineModel,
    scored: &ml_core::Dataset,
    dir: &std::path::Path,
) -> Result<()> {
    let (_, last) = model.stages().last().ok_or("the pipeline has no stage")?;
    let trees = last
        .as_any()
        .downcast_ref::<ml_tree::GradientBoostedTreesModel>()
        .ok_or("the pipeline's last stage is not boosted trees")?;
    std::fs::create_dir_all(dir)?;
    ml_tree::xgboost::save_xgboost_json(trees, dir.join("model.xgb.json"))?;
    let x = scored.features(&trees.params.features_col)?;
    let mut csv = String::new();
    for row in x.rows() {
        let line: Vec<String> = row.iter().map(|v| format!("{v:?}")).collect();
        csv.push_str(&line.join(","));
        csv.push('\n');
    }
    ml_core::persist::write_atomic(&dir.join("features.csv"), csv.as_bytes())?;
    let p = scored.features(&trees.params.probability_col)?;
    let probs: Vec<String> = p
        .rows()
        .into_iter()
        .map(|r| format!("{:?}", r[r.len() - 1]))
        .collect();
    ml_core::persist::write_atomic(&dir.join("probability.csv"), probs.join("\n").as_bytes())?;
    Ok(())
}
