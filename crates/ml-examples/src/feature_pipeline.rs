//! The main job for now: fit and apply a full Spark-style feature pipeline on the shipped
//! Lending Club sample (39,786 loans, 2007-2011).
//!
//! Reads `examples/data/loans/loanstats3a_2007_2011_16cols.csv`, derives the label `bad_loan`
//! (`loan_status == "Charged Off"`), parses `revol_util` ("83.70%") to a number, then fits
//! Imputer(median) -> StringIndexer(keep) -> OneHotEncoder -> VectorAssembler ->
//! StandardScaler(with_mean, with_std), transforms, prints the feature width, a few rows and the
//! timings, and saves the fitted pipeline to `target/feature_pipeline_model.json`.
//!
//! ```bash
//! cargo run --release --example feature_pipeline
//! ```
//!
//! The last line printed is a JSON object `{"rows", "features", "fit_s", "transform_s"}`.
//! `examples/feature_pipeline.rs` runs it.

use std::io::Write;
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{Array, ArrayRef, Float64Array};
use arrow::datatypes::{DataType, Field};
use ml_core::attributes::slot_names;
use ml_core::feature::{
    HandleInvalid, Imputer, ImputerStrategy, OneHotEncoder, StandardScaler, StringIndexer,
    StringIndexerModel, VectorAssembler,
};
use ml_core::io::{read_csv, CsvReadOptions};
use ml_core::{persist, Dataset, Estimator, Pipeline, Transformer};

use crate::common::{repo_path, Result};
use crate::Summary;

/// `examples/feature_pipeline.rs` takes no flags.
#[derive(Debug, Default, clap::Parser)]
#[command(about = "Fit and apply a Spark-style feature pipeline on the shipped loans sample")]
pub struct Args {}

const NUMERIC: [&str; 9] = [
    "loan_amnt",
    "annual_inc",
    "delinq_2yrs",
    "inq_last_6mths",
    "open_acc",
    "pub_rec",
    "revol_bal",
    "revol_util",
    "total_acc",
];
const CATEGORICAL: [&str; 5] = [
    "term",
    "emp_length",
    "home_ownership",
    "verification_status",
    "addr_state",
];

/// `bad_loan` = 1.0 where `loan_status` is "Charged Off", else 0.0; `revol_util` "83.70%" ->
/// 83.7 (null when empty or unparsable).
fn prepare(raw: &Dataset) -> Result<Dataset> {
    let status = raw.string_column("loan_status")?;
    let label: Float64Array = status
        .iter()
        .map(|s| Some(if s == Some("Charged Off") { 1.0 } else { 0.0 }))
        .collect();
    let util = raw.column("revol_util")?;
    let util: Float64Array = match util.data_type() {
        DataType::Utf8 => raw
            .string_column("revol_util")?
            .iter()
            .map(|s| s.and_then(|s| s.trim().trim_end_matches('%').trim().parse::<f64>().ok()))
            .collect(),
        _ => raw.numeric_column("revol_util")?,
    };
    let data = raw.replace_column(
        Field::new("revol_util", DataType::Float64, true),
        Arc::new(util) as ArrayRef,
    )?;
    Ok(data.with_column("bad_loan", Arc::new(label) as ArrayRef)?)
}

fn refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn pipeline() -> Pipeline {
    let imputed: Vec<String> = NUMERIC.iter().map(|c| format!("{c}_imp")).collect();
    let indexed: Vec<String> = CATEGORICAL.iter().map(|c| format!("{c}_idx")).collect();
    let encoded: Vec<String> = CATEGORICAL.iter().map(|c| format!("{c}_vec")).collect();
    let assembled: Vec<&str> = refs(&imputed).into_iter().chain(refs(&encoded)).collect();
    Pipeline::new()
        .estimator(
            "impute",
            Imputer::new(&NUMERIC, &refs(&imputed)).with_strategy(ImputerStrategy::Median),
        )
        .estimator(
            "index",
            StringIndexer::multi(&CATEGORICAL, &refs(&indexed))
                .with_handle_invalid(HandleInvalid::Keep),
        )
        .estimator(
            "onehot",
            OneHotEncoder::new(&refs(&indexed), &refs(&encoded)),
        )
        .transformer("assemble", VectorAssembler::new(&assembled, "raw"))
        .estimator(
            "scale",
            StandardScaler::new("raw", "features")
                .with_mean(true)
                .with_std(true),
        )
}

/// Runs the pipeline on the shipped sample, writing progress to `out` and the fitted pipeline to
/// `target/feature_pipeline_model.json`; returns `{"rows", "features", "fit_s", "transform_s"}`.
pub fn run(_args: &Args, out: &mut dyn Write) -> Result<Summary> {
    let csv = repo_path("examples/data/loans/loanstats3a_2007_2011_16cols.csv");

    let t = Instant::now();
    let raw = read_csv(&csv, &CsvReadOptions::default().infer_rows(None))?;
    let read_s = t.elapsed().as_secs_f64();
    let data = prepare(&raw)?;
    let bad = data.f64_column("bad_loan")?.values().iter().sum::<f64>();
    writeln!(
        out,
        "read {} rows x {} columns from {} in {read_s:.3} s; bad_loan rate {:.4}",
        data.num_rows(),
        raw.num_columns(),
        csv.display(),
        bad / data.num_rows() as f64
    )?;

    let t = Instant::now();
    let model = pipeline().fit(&data)?;
    let fit_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let transformed = model.transform(&data)?;
    let transform_s = t.elapsed().as_secs_f64();

    let width = transformed.vector_size("features")?;
    writeln!(
        out,
        "fit {fit_s:.3} s, transform {transform_s:.3} s; feature vector width {width}"
    )?;
    if let Some(si) = model.stage_as::<StringIndexerModel>("index") {
        for (col, labels) in CATEGORICAL.iter().zip(si.labels_array()) {
            let head: Vec<&str> = labels.iter().take(4).map(String::as_str).collect();
            writeln!(
                out,
                "  {col}: {} labels, most frequent first: {head:?}",
                labels.len()
            )?;
        }
    }

    let field = transformed.field("features")?;
    let names = slot_names(&field, width);
    let features = transformed.features("features")?;
    let shown = 6.min(width);
    writeln!(
        out,
        "first rows (bad_loan, term, addr_state, revol_util, then features[0..{shown}]: {}):",
        names[..shown].join(", ")
    )?;
    let term = transformed.string_column("term")?;
    let state = transformed.string_column("addr_state")?;
    let util = transformed.f64_column("revol_util_imp")?;
    let label = transformed.f64_column("bad_loan")?;
    for row in 0..5.min(transformed.num_rows()) {
        let f: Vec<String> = (0..shown)
            .map(|j| format!("{:+.3}", features[[row, j]]))
            .collect();
        writeln!(
            out,
            "  {} | {:<9} | {} | {:>6.2} | [{}, ...]",
            label.value(row),
            if term.is_null(row) {
                "null"
            } else {
                term.value(row)
            },
            if state.is_null(row) {
                "null"
            } else {
                state.value(row)
            },
            util.value(row),
            f.join(", ")
        )?;
    }

    let model_path = repo_path("target/feature_pipeline_model.json");
    persist::save(&model, &model_path)?;
    writeln!(out, "saved the fitted pipeline to {}", model_path.display())?;

    Ok(Summary::new(serde_json::json!({
        "rows": transformed.num_rows(),
        "features": width,
        "fit_s": (fit_s * 1e4).round() / 1e4,
        "transform_s": (transform_s * 1e4).round() / 1e4,
    })))
}
