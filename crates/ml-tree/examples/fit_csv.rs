//! Fits boosted trees on a CSV file and writes the test rows' predictions: the ml-tree side of
//! `scripts/xgb_losses_check.py`.
//!
//! ```text
//! cargo run --release -p ml-tree --example fit_csv -- TRAIN.csv TEST.csv OUT.csv \
//!     [name=value ...] [--continue MODEL] [--model-out PATH] [--xgb-model-in PATH.json]
//! ```
//!
//! Both CSV files have a header; the first column is the label, the others are the features
//! (empty = missing). Each `name=value` sets a parameter by its XGBoost name
//! (`objective=reg:quantileerror`, `quantile_alpha=[0.1,0.5,0.9]`, `eta=0.1`, ...).
//! `--model-out` saves the model (XGBoost's JSON format when the name ends in `.xgb.json`),
//! `--continue` continues training from a saved model (`--xgb-model-in` from an XGBoost JSON
//! model). `--score-only` trains nothing and scores with the model given by `--continue` or
//! `--xgb-model-in` as it is. OUT.csv gets one line per test row: its predictions,
//! comma-separated (one per output).

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array};
use ml_core::dataset::vector_column_from_vec;
use ml_core::{Dataset, Estimator, MlError, ParamValue, Params, Result};
use ml_tree::{GradientBoostedTrees, GradientBoostedTreesModel};

/// Reads a CSV of numbers with a header: the first column as labels, the rest as features.
fn read(path: &str) -> Result<(Dataset, ndarray::Array2<f64>)> {
    let text = std::fs::read_to_string(path).map_err(|e| MlError::io(path, e))?;
    let mut lines = text.lines();
    let header = lines.next().unwrap_or("");
    let d = header.split(',').count().saturating_sub(1);
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for (i, line) in lines.enumerate() {
        for (j, f) in line.split(',').enumerate() {
            let v = if f.is_empty() {
                f64::NAN
            } else {
                f.parse::<f64>()
                    .map_err(|_| MlError::data(format!("{path}: row {i}: bad number '{f}'")))?
            };
            if j == 0 {
                y.push(v);
            } else {
                x.push(v);
            }
        }
    }
    let n = y.len();
    let data = Dataset::from_columns(vec![
        ("features", vector_column_from_vec(x.clone(), n, d)),
        ("label", Arc::new(Float64Array::from(y)) as ArrayRef),
    ])?;
    let xs = ndarray::Array2::from_shape_vec((n, d), x)
        .map_err(|e| MlError::data(format!("{path}: {e}")))?;
    Ok((data, xs))
}

/// A parameter value from its text: a list `[a,b]`, an integer, a number, or a string (a
/// nested list such as `interaction_constraints=[[0,1],[2,3]]` stays a string).
fn value(s: &str) -> ParamValue {
    if let Some(inner) = s
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .filter(|r| !r.contains('['))
    {
        return ParamValue::FloatList(
            inner
                .split(',')
                .filter_map(|p| p.trim().parse().ok())
                .collect(),
        );
    }
    if let Ok(i) = s.parse::<i64>() {
        return ParamValue::Int(i);
    }
    if let Ok(f) = s.parse::<f64>() {
        return ParamValue::Float(f);
    }
    ParamValue::Str(s.to_string())
}

fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        return Err(MlError::data(
            "usage: fit_csv TRAIN.csv TEST.csv OUT.csv [name=value ...]",
        ));
    }
    let (train, _) = read(&args[0])?;
    let (_, test_x) = read(&args[1])?;
    let mut gbt = GradientBoostedTrees::new();
    let mut model_out = None;
    let mut score_only = false;
    let mut given: Option<GradientBoostedTreesModel> = None;
    let mut rest = args[3..].iter();
    while let Some(a) = rest.next() {
        match a.as_str() {
            "--score-only" => score_only = true,
            "--continue" | "--xgb-model-in" | "--model-out" => {
                let p = rest
                    .next()
                    .ok_or_else(|| MlError::data(format!("{a} needs a path")))?;
                match a.as_str() {
                    "--continue" => given = Some(GradientBoostedTreesModel::load(p)?),
                    "--xgb-model-in" => given = Some(ml_tree::xgboost::load_xgboost_json(p)?),
                    _ => model_out = Some(p.clone()),
                }
            }
            kv => {
                let (k, v) = kv
                    .split_once('=')
                    .ok_or_else(|| MlError::data(format!("'{kv}' is not name=value")))?;
                gbt.set_param(k, value(v))?;
            }
        }
    }
    let model = match given {
        Some(m) if score_only => m,
        Some(m) => gbt.with_xgb_model(m).fit(&train)?,
        None => gbt.fit(&train)?,
    };
    if let Some(p) = model_out {
        if p.ends_with(".xgb.json") {
            ml_tree::xgboost::save_xgboost_json(&model, &p)?;
        } else {
            model.save(&p)?;
        }
    }
    let pred = model.predict(test_x.view())?;
    let k = model.num_class.max(1);
    let mut out = String::new();
    for row in pred.chunks(k) {
        let line: Vec<String> = row.iter().map(|v| format!("{v:.17e}")).collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    std::fs::write(&args[2], out).map_err(|e| MlError::io(&args[2], e))?;
    Ok(())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
