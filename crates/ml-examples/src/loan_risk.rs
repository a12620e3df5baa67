//! Loan risk (Lending Club): ETL, SQL exploration, a boosted-trees pipeline, cross-validation
//! and the business value of the model's decisions.
//!
//! ```text
//! cargo run --release --example loan_risk                       # shipped sample (39,786 loans)
//! cargo run --release --example loan_risk -- --file lending_club_fullschema_sample1000.csv
//! cargo run --release --example loan_risk -- --data DIR         # DIR/loans.parquet, loans.csv, LoanStats3a.csv, ...
//! ```
//!
//! The seed is the Databricks "Loan Risk Analysis" notebook: keep Default / Charged Off / Fully
//! Paid loans, label bad loans, explore in SQL, fit Imputer -> StringIndexer -> OneHotEncoder ->
//! VectorAssembler -> StandardScaler -> boosted trees, report the validation AUC, tune with
//! CrossValidator, and price the confusion matrix.
//!
//! Money per cell: `net = total_pymnt - funded_amnt` where the file has those columns (the full
//! Lending Club schema, e.g. `lending_club_fullschema_sample1000.csv` or the peers' loans data).
//! The default sample (`loanstats3a_2007_2011_16cols.csv`) has neither: there the stand-in is
//! `loan_amnt` as the money at risk. A bad loan loses its whole `loan_amnt` (no recoveries: an
//! upper bound on the loss); a good loan earns the interest of a fully amortised loan over its
//! term at `int_rate` when present, else at an assumed 12 % a year (about the 2007-2011 average).
//! The report and the terminal say which rule was used.
//!
//! The money table (ml-eval's `BusinessValue`) sums `net` per confusion-matrix cell of the
//! tuned model on the test split and reports the notebook's `value = -(loss avoided - profit
//! forfeited)` (loss avoided = sum of net over bad loans predicted bad, a negative number; profit
//! forfeited = sum over good loans predicted bad), and beside it the money saved by refusing the
//! loans predicted bad, net of the profit forfeited: `-(loss avoided + profit forfeited)`. Few
//! loans reach P(bad) > 0.5, so the table is also given at the threshold that saves the most on
//! the training part (searched in steps of 0.01), applied unchanged to the test part.
//!
//! The loans refused at that threshold are explained: TreeSHAP contributions of the tuned
//! trees on the test rows, summed from feature slots back to input columns ([`explain`]), give
//! each refused loan its three reasons (the columns pushing P(bad) up most), a summary chart
//! (mean |contribution| per column) and a waterfall of the riskiest loan. Credit treats a
//! higher `int_rate` as more risk, so where the file has `int_rate` one more model is fitted
//! with the tuned parameters and a monotone constraint (+1) on its slot, and both test AUCs are
//! reported with a check that the constrained P(bad) never falls along an `int_rate` grid.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

pub mod explain;

use crate::common::data::{leading_number, parse_emp_length, parse_percent, to_f64, unparsable};
use crate::common::{self, chart, title, CommonArgs, Report, Result, Sql, Timings};
use crate::Summary;
use arrow::array::{Array, BooleanArray, Float64Array};
use arrow::datatypes::{DataType, Field};
use ml_core::feature::{
    HandleInvalid, Imputer, ImputerStrategy, OneHotEncoder, StandardScaler, StringIndexer,
    VectorAssembler,
};
use ml_core::{Dataset, Estimator, MlError, Pipeline, Transformer};
use ml_eval::{
    BinaryClassificationEvaluator, BusinessValue, CrossValidator, CrossValidatorModel, Evaluator,
    ParamGridBuilder,
};
use ml_tree::{GradientBoostedTrees, GradientBoostedTreesModel};
use serde_json::{json, Value};

use explain::{ColumnSlots, Explanation};

/// Categorical features, used when present.
const CATS: &[&str] = &[
    "grade",
    "home_ownership",
    "purpose",
    "addr_state",
    "verification_status",
];
/// Numeric features, used when present (term and emp_length are parsed to numbers).
const NUMS: &[&str] = &[
    "loan_amnt",
    "term",
    "emp_length",
    "int_rate",
    "annual_inc",
    "dti",
    "revol_util",
    "delinq_2yrs",
    "inq_last_6mths",
    "open_acc",
    "pub_rec",
    "revol_bal",
    "total_acc",
];
/// File names looked for, in order, in the data directory.
const CANDIDATES: &[&str] = &[
    "loans.parquet",
    "loans.csv",
    "LoanStats3a.csv",
    "loanstats3a_2007_2011_16cols.csv",
    "lending_club_fullschema_sample1000.csv",
];

/// The flags of `examples/loan_risk.rs`.
#[derive(Debug, clap::Parser)]
#[command(about = "Loan risk: ETL, SQL, boosted trees, cross-validation, business value")]
pub struct Args {
    /// --data, --report-dir, --quick.
    #[command(flatten)]
    pub common: CommonArgs,
    /// A file inside the data directory to use instead of the first one found.
    #[arg(long)]
    pub file: Option<String>,
    /// Seed of the 80/20 split and of cross-validation folds.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Save the fitted pipeline (preprocessing + the tuned trees) here, for `score_service`
    /// and `score_bench` (written to a temporary name, then renamed).
    #[arg(long, value_name = "PATH")]
    pub model_out: Option<PathBuf>,
    /// Write the test split's model inputs (the columns the saved pipeline reads, after the
    /// ETL) here as CSV: rows to score with the saved model.
    #[arg(long, value_name = "CSV")]
    pub rows_out: Option<PathBuf>,
}

/// How the money column was obtained.
#[derive(Debug, Clone, Copy, PartialEq)]
enum MoneyRule {
    /// total_pymnt - funded_amnt.
    Net,
    /// loan_amnt at risk, interest at int_rate.
    StandInRate,
    /// loan_amnt at risk, interest at an assumed 12 %.
    StandInAssumed,
}

impl MoneyRule {
    fn describe(self) -> &'static str {
        match self {
            MoneyRule::Net => "net = total_pymnt - funded_amnt (columns present in the file)",
            MoneyRule::StandInRate => {
                "stand-in (no total_pymnt / funded_amnt): a bad loan loses its loan_amnt; a good loan earns amortised interest at int_rate over its term"
            }
            MoneyRule::StandInAssumed => {
                "stand-in (no total_pymnt / funded_amnt / int_rate): a bad loan loses its loan_amnt; a good loan earns amortised interest at an assumed 12 % a year over its term"
            }
        }
    }
}

/// Runs the use case: progress and tables go to `out`, the report to `--report-dir`; returns the
/// key figures (the closing JSON line).
pub fn run(args: &Args, out: &mut dyn Write) -> Result<Summary> {
    for p in args.model_out.iter().chain(&args.rows_out) {
        ml_core::io::check_output_path(p)?;
    }
    let mut timings = Timings::new();
    let path = input_file(args)?;
    writeln!(out, "Loan risk on {}", path.display())?;

    let raw = timings.phase("read", || {
        Ok::<_, crate::BoxError>(ml_core::io::read_table(
            &path,
            &ml_core::io::ReadOptions::new(),
        )?)
    })?;
    writeln!(
        out,
        "read {} rows x {} columns",
        raw.num_rows(),
        raw.num_columns()
    )?;
    let mut warnings = Vec::new();
    let (loans, rule) = timings.phase("etl", || etl(&raw, &mut warnings))?;
    for w in &warnings {
        writeln!(out, "warning: {w}")?;
    }
    let n_bad = loans.f64_column("bad_loan")?.values().iter().sum::<f64>();
    writeln!(
        out,
        "kept {} completed loans (Default / Charged Off / Fully Paid), {} bad ({:.2} %)",
        loans.num_rows(),
        n_bad,
        100.0 * n_bad / loans.num_rows().max(1) as f64
    )?;
    writeln!(out, "money per loan: {}", rule.describe())?;

    let mut report = Report::new("Loan risk (Lending Club)");
    report.paragraph(&format!(
        "Input: {} ({} rows). Kept {} completed loans, {} bad ({:.2} %). Money per loan: {}.",
        path.display(),
        raw.num_rows(),
        loans.num_rows(),
        n_bad,
        100.0 * n_bad / loans.num_rows().max(1) as f64,
        rule.describe()
    ));
    for w in &warnings {
        report.paragraph(&format!("Warning: {w}."));
    }

    let sql = Sql::new()?;
    timings.phase("sql", || explore(out, &sql, &loans, &mut report))?;

    let m = model(out, args, &loans, &mut timings, &mut report)?;

    let index = report.write(&args.common.report_dir("loan_risk"))?;
    writeln!(out, "\nreport: {}", index.display())?;
    let mut figures = json!({
        "input": path.display().to_string(),
        "rows_read": raw.num_rows(),
        "rows_completed": loans.num_rows(),
        "bad_loans": n_bad as u64,
        "train_rows": m.train_rows,
        "test_rows": m.test_rows,
        "n_features": m.n_features,
        "auc": common::round(m.auc, 4),
        "auc_cv": common::round(m.auc_cv, 4),
        "cv_best": m.cv_best,
        "cv_avg_metrics": m.cv_avg.iter().map(|v| common::round(*v, 4)).collect::<Vec<_>>(),
        "num_folds": m.num_folds,
        "money_rule": format!("{rule:?}"),
        "confusion": m.confusion,
        "net_test_total": common::round(m.net_test_total, 2),
        "value_musd": common::round(m.value / 1e6, 4),
        "threshold": m.threshold,
        "saved_at_threshold_musd": common::round(m.saved_at_threshold / 1e6, 4),
        "report": index.display().to_string(),
        "seconds": timings.to_json(),
        "peak_rss_mb": timings.peak_rss_json(),
    });
    if let Value::Object(keys) = &mut figures {
        keys.extend(m.extra);
    }
    Ok(Summary::for_example("loan_risk", figures))
}

/// What the modelling part found.
struct ModelFigures {
    train_rows: usize,
    test_rows: usize,
    n_features: usize,
    auc: f64,
    auc_cv: f64,
    cv_best: String,
    cv_avg: Vec<f64>,
    num_folds: usize,
    confusion: serde_json::Value,
    net_test_total: f64,
    value: f64,
    threshold: f64,
    saved_at_threshold: f64,
    /// Summary keys added by the explanation and the monotone constraint.
    extra: serde_json::Map<String, Value>,
}

/// 80/20 split, preprocessing fitted on the training part, boosted trees, AUC, CrossValidator,
/// confusion matrix with money per cell.
fn model(
    out: &mut dyn Write,
    args: &Args,
    loans: &Dataset,
    timings: &mut Timings,
    report: &mut Report,
) -> Result<ModelFigures> {
    let cats: Vec<&str> = CATS
        .iter()
        .copied()
        .filter(|c| loans.has_column(c))
        .collect();
    let nums: Vec<&str> = NUMS
        .iter()
        .copied()
        .filter(|c| loans.has_column(c))
        .collect();
    let idx: Vec<String> = cats.iter().map(|c| format!("{c}_idx")).collect();
    let ohe: Vec<String> = cats.iter().map(|c| format!("{c}_ohe")).collect();
    let imp: Vec<String> = nums.iter().map(|c| format!("{c}_imp")).collect();
    let assembled: Vec<&str> = refs(&ohe).into_iter().chain(refs(&imp)).collect();

    let parts = loans.random_split(&[0.8, 0.2], args.seed)?;
    let (train, test) = (&parts[0], &parts[1]);
    title(out, "Model")?;
    writeln!(out, "categorical features: {cats:?}")?;
    writeln!(out, "numeric features:     {nums:?}")?;
    writeln!(
        out,
        "split 80/20 (seed {}): {} train, {} test",
        args.seed,
        train.num_rows(),
        test.num_rows()
    )?;

    let prep = Pipeline::new()
        .estimator(
            "impute",
            Imputer::new(&nums, &refs(&imp)).with_strategy(ImputerStrategy::Median),
        )
        .estimator(
            "index",
            StringIndexer::multi(&cats, &refs(&idx)).with_handle_invalid(HandleInvalid::Keep),
        )
        .estimator(
            "onehot",
            OneHotEncoder::new(&refs(&idx), &refs(&ohe)).with_handle_invalid(HandleInvalid::Keep),
        )
        .transformer("assemble", VectorAssembler::new(&assembled, "raw"))
        .estimator(
            "scale",
            StandardScaler::new("raw", "features")
                .with_mean(true)
                .with_std(true),
        );
    let prep = timings.phase("preprocess_fit", || prep.fit(train))?;
    let keep = ["bad_loan", "net", "features"];
    let (tr, te, slots) = timings.phase("preprocess_transform", || -> Result<_> {
        let tr = prep.transform(train)?;
        let slots = column_slots(&tr, &cats, &ohe, &nums)?;
        Ok((
            tr.select(&keep)?,
            prep.transform(test)?.select(&keep)?,
            slots,
        ))
    })?;
    let n_features = tr.vector_size("features")?;
    writeln!(out, "features after one-hot + assembly: {n_features}")?;

    // The notebook's first model: 5 rounds of depth-6 trees, eta 0.3.
    let mut gbt = GradientBoostedTrees::new();
    gbt.label_col = "bad_loan".into();
    gbt.num_round = 5;
    gbt.max_depth = 6;
    gbt.eta = 0.3;
    gbt.seed = args.seed;
    let evaluator = BinaryClassificationEvaluator::new().with_label_col("bad_loan");
    let fitted = timings.phase("train", || gbt.fit(&tr))?;
    let pred = fitted.transform(&te)?;
    let auc = timings.phase("predict_auc", || evaluator.evaluate(&pred))?;
    writeln!(out, "validation AUC (5 rounds, depth 6, eta 0.3): {auc:.4}")?;

    // CrossValidator over the notebook's grid.
    let num_folds = if args.common.quick { 2 } else { 4 };
    let grid = ParamGridBuilder::new()
        .add_grid("max_depth", [4i64, 7])
        .add_grid("eta", [0.1, 0.6])
        .add_grid("num_round", [5i64, 10])
        .build();
    let total = (grid.len() * num_folds + 1) as u64;
    let bar = common::progress(total, "cross-validation fits");
    let bar2 = bar.clone();
    let cv = CrossValidator::new(gbt.clone(), evaluator.clone())
        .with_estimator_param_maps(grid)
        .with_num_folds(num_folds)
        .with_seed(args.seed)
        // Folds fitted at once, one per thread: the trees share the same pool, so nothing is
        // oversubscribed, and the metrics are the same as one fold at a time (1.3x faster on
        // 2 cores, benches/tuning.md).
        .with_parallelism(ml_core::threads::current_num_threads().clamp(1, num_folds))
        .on_progress(move |p| bar2.set_position(p.done as u64));
    let cvm = timings.phase("cv_fit", || cv.fit(&tr))?;
    bar.finish_and_clear();
    if args.model_out.is_some() || args.rows_out.is_some() {
        let mut stages = prep.stages().to_vec();
        stages.push((
            "trees".to_string(),
            ml_core::traits::CloneTransformer::clone_transformer(cvm.best_model()),
        ));
        let pipeline = ml_core::PipelineModel::new(stages);
        // Both outputs are written together: a failure leaves both as they were.
        let mut files = ml_core::io::OutputFiles::new();
        if let Some(p) = &args.model_out {
            files.bytes(p, ml_core::persist::to_json(&pipeline)?.as_bytes())?;
        }
        let inputs: Vec<&str> = cats.iter().chain(&nums).copied().collect();
        if let Some(p) = &args.rows_out {
            files.csv(&test.select(&inputs)?, p)?;
        }
        files.commit()?;
        if let Some(p) = &args.model_out {
            writeln!(out, "fitted pipeline saved to {}", p.display())?;
        }
        if let Some(p) = &args.rows_out {
            writeln!(
                out,
                "{} test rows (model inputs) written to {}",
                test.num_rows(),
                p.display()
            )?;
        }
    }
    let tuned = cvm.transform(&te)?;
    let auc_cv = timings.phase("cv_predict_auc", || evaluator.evaluate(&tuned))?;
    let best = cvm.best_param_map().to_string();
    writeln!(
        out,
        "CrossValidator ({num_folds} folds x {} maps): best {best}",
        cvm.param_maps().len()
    )?;
    writeln!(out, "tuned AUC: {auc_cv:.4}")?;

    report.heading("Model");
    report.paragraph(&format!(
        "Split 80/20 with seed {}: {} training and {} test loans. Preprocessing (fitted on the training part): \
         Imputer(median) on {} numeric columns, StringIndexer(keep) + OneHotEncoder on {} categorical columns, \
         VectorAssembler, StandardScaler(with_mean, with_std): {} features. Boosted trees (binary:logistic, 5 rounds, depth 6, eta 0.3): \
         validation AUC {:.4}. CrossValidator ({} folds) over max_depth {{4, 7}} x eta {{0.1, 0.6}} x rounds {{5, 10}}: best {}, tuned AUC {:.4}.",
        args.seed,
        train.num_rows(),
        test.num_rows(),
        nums.len(),
        cats.len(),
        n_features,
        auc,
        num_folds,
        best,
        auc_cv
    ));
    let cv_rows: Vec<Vec<String>> = cvm
        .param_maps()
        .iter()
        .zip(cvm.avg_metrics())
        .zip(cvm.std_metrics())
        .map(|((m, a), s)| vec![m.to_string(), format!("{a:.4}"), format!("{s:.4}")])
        .collect();
    writeln!(out, "\nCross-validation: mean AUC per parameter map")?;
    for r in &cv_rows {
        writeln!(out, "  {:<52} {} +- {}", r[0], r[1], r[2])?;
    }
    report.string_table(
        "Cross-validation: AUC per parameter map",
        &["parameters", "mean AUC", "std"],
        &cv_rows,
    );
    let roc = |d: &Dataset, name: &str| -> Result<chart::Series> {
        let p = d.features("probability")?;
        let scores: Vec<f64> = p.column(1).to_vec();
        let labels = d.f64_column("bad_loan")?.values().to_vec();
        let curve = ml_eval::metrics::roc_curve(&scores, &labels, None)?;
        let step = (curve.len() / 300).max(1);
        let mut points: Vec<(f64, f64)> = curve.iter().step_by(step).map(|c| (c.x, c.y)).collect();
        if let Some(last) = curve.last() {
            points.push((last.x, last.y));
        }
        Ok(chart::Series {
            name: name.to_string(),
            points,
        })
    };
    report.svg(&chart::line_chart(
        "ROC curve on the test split",
        "false positive rate",
        "true positive rate",
        &[
            roc(&pred, &format!("5 rounds, depth 6 (AUC {auc:.3})"))?,
            roc(&tuned, &format!("tuned (AUC {auc_cv:.3})"))?,
        ],
    )?);

    // Money per confusion-matrix cell on the test split, with the tuned model.
    let business = BusinessValue::compute(&tuned, "bad_loan", "prediction", "net")?;
    let table = business.to_dataset()?;
    title(out, "Confusion matrix with money (tuned model, test split)")?;
    writeln!(out, "{}", table.show(4)?)?;
    let saved = -(business.loss_avoided + business.profit_forfeited);
    writeln!(out,
        "value = -(loss avoided - profit forfeited) = ${:.4} M; money saved by refusing the predicted-bad loans = -(loss avoided + profit forfeited) = ${:.4} M",
        business.value / 1e6,
        saved / 1e6
    )?;
    report.heading("Confusion matrix with money (tuned model, test split)");
    report.table("Loans and net money per cell", &table, 4)?;
    report.paragraph(&format!(
        "value = -(loss avoided - profit forfeited) = ${:.4} M (the notebook's formula); the money saved by refusing \
         the loans predicted bad, net of the profit forfeited, is -(loss avoided + profit forfeited) = ${:.4} M.",
        business.value / 1e6,
        saved / 1e6
    ));
    let cells = ["TN", "FP", "FN", "TP"];
    let sums = [
        business.profit_retained,
        business.profit_forfeited,
        business.loss_incurred,
        business.loss_avoided,
    ];
    report.svg(&chart::bar_chart(
        "Net money per cell ($M)",
        "$M",
        &cells.iter().map(|c| c.to_string()).collect::<Vec<_>>(),
        &sums.iter().map(|v| v / 1e6).collect::<Vec<_>>(),
    )?);
    // Few loans reach P(bad) > 0.5, so also price the threshold that saves the most money on
    // the training part, applied unchanged to the test part.
    let train_scored = cvm.transform(&tr)?;
    let threshold = best_threshold(&train_scored)?;
    let at_t = with_threshold(&tuned, threshold)?;
    let business_t = BusinessValue::compute(&at_t, "bad_loan", "decision", "net")?;
    let table_t = business_t.to_dataset()?;
    let saved_t = -(business_t.loss_avoided + business_t.profit_forfeited);
    let caption = format!(
        "Loans and net money per cell at P(bad) >= {threshold:.2} (the threshold saving the most on the training part)"
    );
    writeln!(out, "\n{caption}")?;
    writeln!(out, "{}", table_t.show(4)?)?;
    writeln!(out,
        "value = -(loss avoided - profit forfeited) = ${:.4} M; money saved = -(loss avoided + profit forfeited) = ${:.4} M",
        business_t.value / 1e6,
        saved_t / 1e6
    )?;
    report.table(&caption, &table_t, 4)?;
    report.paragraph(&format!(
        "At this threshold: value = ${:.4} M; money saved, net of the profit forfeited = ${:.4} M.",
        business_t.value / 1e6,
        saved_t / 1e6
    ));
    let confusion = json!(cells
        .iter()
        .zip(business.counts)
        .zip(sums)
        .map(|((c, n), v)| json!({"cell": c, "n": n, "net_musd": common::round(v / 1e6, 4)}))
        .collect::<Vec<_>>());
    let net_test_total = te.f64_column("net")?.iter().flatten().sum::<f64>();
    let explain_from = Fitted {
        gbt: &gbt,
        cv: &cvm,
        model: cvm
            .best_model_as::<GradientBoostedTreesModel>()
            .ok_or("the tuned model is not a GradientBoostedTreesModel")?,
        evaluator: &evaluator,
        slots: &slots,
        tr: &tr,
        te: &te,
        tuned: &tuned,
        test,
        auc_cv,
        threshold,
    };
    let mut extra = explain_refusals(out, timings, report, &explain_from)?;
    extra.extend(monotone_int_rate(out, timings, report, &explain_from)?);
    Ok(ModelFigures {
        train_rows: train.num_rows(),
        test_rows: test.num_rows(),
        n_features,
        auc,
        auc_cv,
        cv_best: best,
        cv_avg: cvm.avg_metrics().to_vec(),
        num_folds,
        confusion,
        net_test_total,
        value: business.value,
        threshold,
        saved_at_threshold: saved_t,
        extra,
    })
}

/// P(bad) of each row (element 1 of the probability vector).
fn p_bad(data: &Dataset) -> Result<Vec<f64>> {
    Ok(data.features("probability")?.column(1).to_vec())
}

/// The threshold in 0.01 steps whose decisions save the most money: -(sum of net over the
/// loans refused).
fn best_threshold(scored: &Dataset) -> Result<f64> {
    let p = p_bad(scored)?;
    let net = scored.f64_column("net")?;
    let mut best = (0.5, f64::MIN);
    for k in 1..100 {
        let t = k as f64 / 100.0;
        let saved: f64 = -p
            .iter()
            .zip(net.iter())
            .filter(|(p, _)| **p >= t)
            .map(|(_, n)| n.unwrap_or(0.0))
            .sum::<f64>();
        if saved > best.1 {
            best = (t, saved);
        }
    }
    Ok(best.0)
}

/// Adds a `decision` column: 1 when P(bad) >= threshold.
fn with_threshold(scored: &Dataset, threshold: f64) -> Result<Dataset> {
    let d: Float64Array = p_bad(scored)?
        .into_iter()
        .map(|p| Some(if p >= threshold { 1.0 } else { 0.0 }))
        .collect();
    Ok(scored.with_column("decision", Arc::new(d))?)
}

/// Reasons given per refused loan.
const REASONS: usize = 3;
/// Refused loans listed (riskiest first).
const LISTED: usize = 10;
/// Bars between the bias and the margin in the waterfall (the smallest columns summed).
const WATERFALL_STEPS: usize = 10;
/// Test rows walked along the `int_rate` grid by the monotone check.
const CHECK_ROWS: usize = 5;
/// Points of the `int_rate` grid of the monotone check.
const CHECK_GRID: usize = 25;

/// What the explanation and the monotone constraint work from: the tuned model, the data it
/// saw, and the threshold its decisions use.
struct Fitted<'a> {
    /// The estimator the cross-validation tuned.
    gbt: &'a GradientBoostedTrees,
    /// The tuned model and its best parameters.
    cv: &'a CrossValidatorModel,
    /// The tuned trees (the cross-validation's best model).
    model: &'a GradientBoostedTreesModel,
    evaluator: &'a BinaryClassificationEvaluator,
    /// Feature slots per input column.
    slots: &'a ColumnSlots,
    /// Training and test features (with `bad_loan`).
    tr: &'a Dataset,
    te: &'a Dataset,
    /// The test features scored by the tuned model.
    tuned: &'a Dataset,
    /// The test split's input columns, row for row with `te`.
    test: &'a Dataset,
    /// The tuned model's test AUC.
    auc_cv: f64,
    /// Loans with P(bad) at or above it are refused.
    threshold: f64,
}

/// Which input column each slot of the assembled features came from: every one-hot column's
/// slots, then one slot per numeric column, the order of VectorAssembler's inputs.
fn column_slots(
    data: &Dataset,
    cats: &[&str],
    ohe: &[String],
    nums: &[&str],
) -> Result<ColumnSlots> {
    let mut parts = Vec::with_capacity(cats.len() + nums.len());
    for (c, o) in cats.iter().zip(ohe) {
        parts.push((c.to_string(), data.vector_size(o)?));
    }
    parts.extend(nums.iter().map(|n| (n.to_string(), 1)));
    Ok(ColumnSlots::new(&parts))
}

/// The test split explained by the tuned model.
struct Refusals {
    /// Every test row's explanation.
    explained: Vec<Explanation>,
    /// `(test row, P(bad))` of the refused loans, riskiest first.
    refused: Vec<(usize, f64)>,
    /// Mean |contribution| per input column over the test rows.
    mean_abs: Vec<f64>,
}

/// TreeSHAP on the test rows with the tuned trees, and the loans refused at the threshold.
fn refusals(f: &Fitted) -> Result<Refusals> {
    let explained = explain::explain(f.model, f.te.features("features")?, f.slots)?;
    let mut refused: Vec<(usize, f64)> = p_bad(f.tuned)?
        .into_iter()
        .enumerate()
        .filter(|(_, p)| *p >= f.threshold)
        .collect();
    refused.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let mean_abs = explain::mean_abs(&explained, f.slots.columns().len());
    Ok(Refusals {
        explained,
        refused,
        mean_abs,
    })
}

/// One reason a loan was refused.
struct Reason {
    /// The input column.
    column: String,
    /// Its contribution to the margin (log-odds of bad).
    contribution: f64,
    /// The loan's value of the column.
    value: String,
}

impl Reason {
    /// `int_rate +0.420 (15.27)`.
    fn text(&self) -> String {
        format!("{} {:+.3} ({})", self.column, self.contribution, self.value)
    }

    /// The reason as JSON.
    fn json(&self) -> Value {
        json!({"column": self.column, "contribution": self.contribution, "value": self.value})
    }
}

/// The top reasons of test row `row`: the columns pushing its margin up most, with its values.
fn reasons_of(e: &Explanation, f: &Fitted, row: usize) -> Result<Vec<Reason>> {
    e.top_reasons(REASONS)
        .into_iter()
        .map(|c| {
            let column = f.slots.columns()[c].clone();
            let value = raw_value(f.test, &column, row)?;
            Ok(Reason {
                column,
                contribution: e.by_column[c],
                value,
            })
        })
        .collect()
}

/// A cell of an input column as text: "missing" for null, whole numbers without a fraction.
fn raw_value(data: &Dataset, column: &str, row: usize) -> Result<String> {
    let array = data.column(column)?;
    if row >= array.len() {
        return Err(format!("row {row} of column '{column}' ({} rows)", array.len()).into());
    }
    if array.is_null(row) {
        return Ok("missing".into());
    }
    if let Some(v) = array.as_any().downcast_ref::<Float64Array>() {
        let v = v.value(row);
        return Ok(if v.fract() == 0.0 && v.abs() < 1e15 {
            format!("{v:.0}")
        } else {
            format!("{v}")
        });
    }
    let opts = arrow::util::display::FormatOptions::default();
    let fmt = arrow::util::display::ArrayFormatter::try_new(array.as_ref(), &opts)?;
    Ok(fmt.value(row).to_string())
}

/// A refused loan's line of the summary: its P(bad), margin, bias, every column's
/// contribution and its reasons.
fn refused_json(f: &Fitted, e: &Explanation, row: usize, p: f64, reasons: &[Reason]) -> Value {
    let contributions: serde_json::Map<String, Value> = f
        .slots
        .columns()
        .iter()
        .zip(&e.by_column)
        .map(|(c, v)| (c.clone(), json!(v)))
        .collect();
    json!({
        "row": row,
        "p_bad": p,
        "margin": e.margin,
        "bias": e.bias,
        "contributions": contributions,
        "reasons": reasons.iter().map(Reason::json).collect::<Vec<_>>(),
    })
}

/// Explains the refused test loans: a table of the riskiest with their three reasons (text and
/// report), a chart of mean |contribution| per column, and a waterfall of the riskiest loan.
/// Returns the summary keys `refused_test`, `refused_explained` and `shap_mean_abs`.
fn explain_refusals(
    out: &mut dyn Write,
    timings: &mut Timings,
    report: &mut Report,
    f: &Fitted,
) -> Result<serde_json::Map<String, Value>> {
    let r = timings.phase("explain", || refusals(f))?;
    let mut rows = Vec::new();
    let mut listed = Vec::new();
    for (rank, &(row, p)) in r.refused.iter().take(LISTED).enumerate() {
        let e = r.explained.get(row).ok_or("explained rows out of step")?;
        let reasons = reasons_of(e, f, row)?;
        let mut cells = vec![(rank + 1).to_string(), row.to_string(), format!("{p:.3}")];
        cells.extend(reasons.iter().map(Reason::text));
        rows.push(cells);
        listed.push(refused_json(f, e, row, p, &reasons));
    }
    let heading = "Why loans are refused (TreeSHAP, tuned model, test split)";
    let intro = format!(
        "{} of {} test loans are refused at P(bad) >= {:.2}. The {} riskiest, with the {REASONS} \
         input columns pushing their P(bad) up most: TreeSHAP contributions to the margin \
         (log-odds of a bad loan; one-hot slots summed into their column), with the loan's value.",
        r.refused.len(),
        r.explained.len(),
        f.threshold,
        rows.len()
    );
    title(out, heading)?;
    writeln!(out, "{intro}")?;
    let header = [
        "#", "test row", "P(bad)", "reason 1", "reason 2", "reason 3",
    ];
    write_reasons_table(out, &header, &rows)?;
    report.heading(heading);
    report.paragraph(&intro);
    report.string_table("Refused loans, riskiest first", &header, &rows);
    shap_charts(report, f, &r)?;
    let mean_abs: serde_json::Map<String, Value> = f
        .slots
        .columns()
        .iter()
        .zip(&r.mean_abs)
        .map(|(c, v)| (c.clone(), json!(common::round(*v, 4))))
        .collect();
    let mut keys = serde_json::Map::new();
    keys.insert("refused_test".into(), json!(r.refused.len()));
    keys.insert("refused_explained".into(), Value::Array(listed));
    keys.insert("shap_mean_abs".into(), Value::Object(mean_abs));
    Ok(keys)
}

/// The reasons table on the terminal, in aligned columns.
fn write_reasons_table(out: &mut dyn Write, header: &[&str], rows: &[Vec<String>]) -> Result<()> {
    let widths: Vec<usize> = (0..header.len())
        .map(|k| {
            rows.iter()
                .filter_map(|r| r.get(k))
                .map(|c| c.chars().count())
                .chain([header[k].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<&str>| {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
    };
    writeln!(out, "  {}", line(header.to_vec()).trim_end())?;
    for r in rows {
        writeln!(
            out,
            "  {}",
            line(r.iter().map(String::as_str).collect()).trim_end()
        )?;
    }
    Ok(())
}

/// The SHAP summary chart (mean |contribution| per column, largest first) and the waterfall of
/// the riskiest refused loan (bias, each column's contribution, the margin).
fn shap_charts(report: &mut Report, f: &Fitted, r: &Refusals) -> Result<()> {
    let columns = f.slots.columns();
    let mut order: Vec<usize> = (0..columns.len()).collect();
    order.sort_by(|&a, &b| r.mean_abs[b].total_cmp(&r.mean_abs[a]));
    report.svg(&chart::bar_chart(
        "Mean |TreeSHAP contribution| per input column (test split)",
        "mean |contribution| to the log-odds of bad",
        &order
            .iter()
            .map(|&c| columns[c].clone())
            .collect::<Vec<_>>(),
        &order.iter().map(|&c| r.mean_abs[c]).collect::<Vec<_>>(),
    )?);
    let Some(&(row, p)) = r.refused.first() else {
        report.paragraph("No test loan is refused at this threshold: no waterfall to draw.");
        return Ok(());
    };
    let e = r.explained.get(row).ok_or("explained rows out of step")?;
    let steps = waterfall_steps(columns, &e.by_column, WATERFALL_STEPS);
    let bars = chart::waterfall_bars(("bias (expected margin)", e.bias), &steps, "margin");
    report.svg(&chart::waterfall_chart(
        &format!(
            "Riskiest refused loan (test row {row}, P(bad) {p:.3}): from the bias to its margin"
        ),
        "log-odds of a bad loan",
        &bars,
    )?);
    Ok(())
}

/// The columns of a waterfall: the `keep - 1` largest contributions by size, and the others
/// summed into one step (all of them when there are at most `keep`).
fn waterfall_steps(columns: &[String], contributions: &[f64], keep: usize) -> Vec<(String, f64)> {
    let mut steps: Vec<(String, f64)> = columns
        .iter()
        .cloned()
        .zip(contributions.iter().copied())
        .collect();
    steps.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
    if steps.len() > keep.max(1) {
        let rest = steps.split_off(keep.max(1) - 1);
        let sum = rest.iter().map(|(_, c)| c).sum();
        steps.push((format!("{} other columns", rest.len()), sum));
    }
    steps
}

/// The tuned parameters refitted with P(bad) constrained to rise with `int_rate`, when the
/// file has that column: both test AUCs (text and report) and a check that the constrained
/// P(bad) never falls along an `int_rate` grid. Returns the summary keys
/// `auc_monotone_int_rate` and `monotone_int_rate` (null without `int_rate`).
fn monotone_int_rate(
    out: &mut dyn Write,
    timings: &mut Timings,
    report: &mut Report,
    f: &Fitted,
) -> Result<serde_json::Map<String, Value>> {
    let mut keys = serde_json::Map::new();
    title(out, "Monotone constraint: P(bad) rises with int_rate")?;
    report.heading("Monotone constraint: P(bad) rises with int_rate");
    let Some(slot) = f.slots.first_slot("int_rate") else {
        let note = "This file has no int_rate column: no constrained model was fitted.";
        writeln!(out, "{note}")?;
        report.paragraph(note);
        keys.insert("auc_monotone_int_rate".into(), Value::Null);
        keys.insert("monotone_int_rate".into(), Value::Null);
        return Ok(keys);
    };
    let constrained = timings.phase("monotone_fit", || fit_monotone(f, slot))?;
    let auc = timings.phase("monotone_predict_auc", || -> Result<f64> {
        Ok(f.evaluator.evaluate(&constrained.transform(f.te)?)?)
    })?;
    let (violations, free_violations, grid_len) =
        timings.phase("monotone_check", || check_monotone(f, &constrained, slot))?;
    let rows = CHECK_ROWS.min(f.te.num_rows());
    let text = format!(
        "Same parameters as the tuned model ({}) with monotone_constraints +1 on int_rate \
         (feature slot {slot} of {}): test AUC {auc:.4} with the constraint, {:.4} without. \
         Along a grid of {grid_len} int_rate values for {rows} test rows, P(bad) falls {violations} \
         times with the constraint and {free_violations} times without.",
        f.cv.best_param_map(),
        f.slots.num_slots(),
        f.auc_cv
    );
    writeln!(out, "{text}")?;
    report.paragraph(&text);
    keys.insert("auc_monotone_int_rate".into(), json!(common::round(auc, 4)));
    keys.insert(
        "monotone_int_rate".into(),
        json!({
            "slot": slot,
            "rows": rows,
            "grid": grid_len,
            "violations": violations,
            "violations_unconstrained": free_violations,
        }),
    );
    Ok(keys)
}

/// The tuned estimator's best parameters with `monotone_constraints` +1 on `slot` (XGBoost's
/// "(0,...,0,1)" syntax, the slots after it left at 0), fitted on the training split.
fn fit_monotone(f: &Fitted, slot: usize) -> Result<GradientBoostedTreesModel> {
    let mut gbt = f.gbt.clone();
    f.cv.best_param_map().apply(&mut gbt)?;
    let signs: Vec<&str> = (0..=slot)
        .map(|k| if k == slot { "1" } else { "0" })
        .collect();
    gbt = gbt.with_monotone_constraints(format!("({})", signs.join(",")));
    Ok(gbt.fit(f.tr)?)
}

/// Falls of P(bad) along an `int_rate` grid (the test rows' range of the slot) for the first
/// test rows: `(constrained model, tuned model, grid points)`.
fn check_monotone(
    f: &Fitted,
    constrained: &GradientBoostedTreesModel,
    slot: usize,
) -> Result<(usize, usize, usize)> {
    let x = f.te.features("features")?;
    let grid = explain::grid(x.column(slot).iter().copied(), CHECK_GRID);
    let rows: Vec<usize> = (0..CHECK_ROWS.min(x.nrows())).collect();
    Ok((
        explain::monotone_violations(constrained, x, &rows, slot, &grid)?,
        explain::monotone_violations(f.model, x, &rows, slot, &grid)?,
        grid.len(),
    ))
}

/// Borrowed views of owned column names.
fn refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// The input file: `--data` may be a file, or a directory searched for known names.
fn input_file(args: &Args) -> Result<PathBuf> {
    let base = args.common.data_path("loans");
    if base.is_file() {
        return Ok(base);
    }
    if let Some(f) = &args.file {
        let p = base.join(f);
        return if p.exists() {
            Ok(p)
        } else {
            Err(format!("--file: '{}' does not exist", p.display()).into())
        };
    }
    CANDIDATES
        .iter()
        .map(|c| base.join(c))
        .find(|p| p.exists())
        .ok_or_else(|| {
            format!(
                "no loans file in '{}': expected one of {}",
                base.display(),
                CANDIDATES.join(", ")
            )
            .into()
        })
}

/// Keeps completed loans, labels bad ones, parses term / emp_length / revol_util / int_rate to
/// numbers, and adds `net` (money per loan).
fn etl(raw: &Dataset, warnings: &mut Vec<String>) -> Result<(Dataset, MoneyRule)> {
    let status = common::data::strings(raw, "loan_status")?;
    let keep: BooleanArray = status
        .iter()
        .map(|s| {
            Some(matches!(
                s.as_deref(),
                Some("Default") | Some("Charged Off") | Some("Fully Paid")
            ))
        })
        .collect();
    let mut data = raw.filter(&keep)?;
    // The input file's row of each kept loan, for messages.
    let kept_rows: Vec<usize> = keep
        .iter()
        .enumerate()
        .filter(|(_, k)| *k == Some(true))
        .map(|(i, _)| i)
        .collect();
    let bad: Float64Array = common::data::strings(&data, "loan_status")?
        .iter()
        .map(|s| {
            Some(if s.as_deref() == Some("Fully Paid") {
                0.0
            } else {
                1.0
            })
        })
        .collect();
    data = data.with_column("bad_loan", Arc::new(bad))?;

    type Parser = fn(&str) -> Option<f64>;
    let parsers: [(&str, Parser); 4] = [
        ("term", leading_number),
        ("emp_length", parse_emp_length),
        ("revol_util", parse_percent),
        ("int_rate", parse_percent),
    ];
    for (name, parse) in parsers {
        if data.has_column(name) {
            let parsed = to_f64(&data, name, parse)?;
            data =
                data.replace_column(Field::new(name, DataType::Float64, true), Arc::new(parsed))?;
        }
    }
    for name in NUMS {
        if data.has_column(name) && data.column(name)?.data_type() != &DataType::Float64 {
            // Text in a column of numbers made it a string column: the values that are not
            // numbers become missing, and the user is told which.
            if let Some((count, row, text)) = unparsable(&data, name, parse_percent)? {
                warnings.push(format!(
                    "column '{name}' holds text, so it was read as strings: {count} value(s) \
                     that are not numbers are read as missing (the first in row {} of the \
                     file: \"{text}\")",
                    kept_rows.get(row).copied().unwrap_or(row)
                ));
            }
            let parsed = to_f64(&data, name, parse_percent)?;
            data =
                data.replace_column(Field::new(*name, DataType::Float64, true), Arc::new(parsed))?;
        }
    }

    let bad = data.f64_column("bad_loan")?.clone();
    let (net, rule): (Float64Array, MoneyRule) = if data.has_column("total_pymnt")
        && data.has_column("funded_amnt")
    {
        let paid = data.numeric_column("total_pymnt")?;
        let funded = data.numeric_column("funded_amnt")?;
        let net = (0..data.num_rows())
            .map(|i| {
                (paid.is_valid(i) && funded.is_valid(i)).then(|| paid.value(i) - funded.value(i))
            })
            .collect();
        (net, MoneyRule::Net)
    } else {
        let amount = data.numeric_column("loan_amnt")?;
        let rate = if data.has_column("int_rate") {
            Some(data.f64_column("int_rate")?.clone())
        } else {
            None
        };
        let term = if data.has_column("term") {
            Some(data.f64_column("term")?.clone())
        } else {
            None
        };
        let net = (0..data.num_rows())
            .map(|i| {
                if !amount.is_valid(i) {
                    return None;
                }
                let a = amount.value(i);
                if bad.value(i) > 0.5 {
                    return Some(-a);
                }
                let r = rate
                    .as_ref()
                    .filter(|r| r.is_valid(i))
                    .map(|r| r.value(i))
                    .unwrap_or(12.0);
                let months = term
                    .as_ref()
                    .filter(|t| t.is_valid(i))
                    .map(|t| t.value(i))
                    .unwrap_or(36.0);
                Some(a * amortised_interest_factor(r / 100.0, months))
            })
            .collect();
        let rule = if rate.is_some() {
            MoneyRule::StandInRate
        } else {
            MoneyRule::StandInAssumed
        };
        (net, rule)
    };
    check_money(&net, rule, &kept_rows)?;
    data = data.with_column("net", Arc::new(net))?;
    Ok((data, rule))
}

/// Largest amount of money (in dollars, either sign) one loan may gain or lose: far above any
/// real loan, and small enough that sums over millions of loans stay finite.
const MAX_LOAN_MONEY: f64 = 1e12;

/// Refuses a money amount that is not finite or beyond [`MAX_LOAN_MONEY`] (a column holding
/// 1e308 would make every total `inf`), naming the columns it comes from and the row of the
/// input file (`kept_rows`: the file's row of each kept loan).
fn check_money(net: &Float64Array, rule: MoneyRule, kept_rows: &[usize]) -> Result<()> {
    let columns = match rule {
        MoneyRule::Net => "total_pymnt - funded_amnt",
        MoneyRule::StandInRate | MoneyRule::StandInAssumed => "loan_amnt",
    };
    for (i, v) in net.iter().enumerate() {
        if let Some(v) = v.filter(|v| v.is_nan() || v.abs() > MAX_LOAN_MONEY) {
            return Err(MlError::value(
                columns,
                kept_rows.get(i).copied().unwrap_or(i),
                format!(
                    "money per loan {v:e} is not a finite amount of at most {MAX_LOAN_MONEY:e} \
                     dollars either way; fix the value or leave the row out"
                ),
            )
            .into());
        }
    }
    Ok(())
}

/// Total interest paid on a fully amortised loan of 1 at `annual_rate` over `months`.
fn amortised_interest_factor(annual_rate: f64, months: f64) -> f64 {
    let r = annual_rate / 12.0;
    if r <= 0.0 || months <= 0.0 {
        return 0.0;
    }
    let payment = r / (1.0 - (1.0 + r).powf(-months));
    payment * months - 1.0
}

/// The notebook's SQL exploration; results go to the terminal and the report.
fn explore(
    out: &mut dyn Write,
    sql: &Sql,
    loans: &Dataset,
    report: &mut Report,
) -> Result<BTreeMap<String, Dataset>> {
    sql.register("loans", loans)?;
    let mut tables = BTreeMap::new();
    title(out, "Exploration (SQL through DataFusion)")?;
    report.heading("Exploration (SQL through DataFusion)");
    let by = if loans.has_column("grade") {
        "grade"
    } else {
        "term"
    };
    if by != "grade" {
        let note =
            "This file has no grade column: the 'by grade' tables group by term (months) instead.";
        writeln!(out, "{note}")?;
        report.paragraph(note);
    }
    let queries = [
        (
            "amount_by_group",
            format!("Loan amount by {by}"),
            format!(
                "SELECT {by}, count(*) AS loans, round(avg(loan_amnt), 0) AS avg_amount, \
                 round(sum(loan_amnt) / 1e6, 3) AS total_musd FROM loans GROUP BY {by} ORDER BY {by}"
            ),
        ),
        (
            "loans_by_state",
            "Loans by state (top 15)".to_string(),
            "SELECT addr_state, count(*) AS loans, round(sum(loan_amnt) / 1e6, 3) AS total_musd \
             FROM loans GROUP BY addr_state ORDER BY loans DESC, addr_state LIMIT 15"
                .to_string(),
        ),
        (
            "bad_rate_by_group",
            format!("Bad-loan rate by {by}"),
            format!(
                "SELECT {by}, count(*) AS loans, sum(bad_loan) AS bad, round(avg(bad_loan), 4) AS bad_rate \
                 FROM loans GROUP BY {by} ORDER BY {by}"
            ),
        ),
    ];
    for (key, caption, q) in queries {
        if key == "loans_by_state" && !loans.has_column("addr_state") {
            continue;
        }
        let table = sql.show(out, &caption, &q, 20)?;
        report.table(&caption, &table, 60)?;
        let labels = common::sql::string_values(&table, table.column_names()[0].as_str())?;
        let (value_col, unit) = match key {
            "amount_by_group" => ("total_musd", "total loan amount ($M)"),
            "loans_by_state" => ("loans", "loans"),
            _ => ("bad_rate", "bad-loan rate"),
        };
        let values = common::sql::f64_values(&table, value_col)?;
        report.svg(&chart::bar_chart(&caption, unit, &labels, &values)?);
        tables.insert(key.to_string(), table);
    }
    Ok(tables)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waterfall_steps_keep_the_largest_and_sum_the_rest() {
        let columns: Vec<String> = ["a", "b", "c", "d"].map(String::from).to_vec();
        let steps = waterfall_steps(&columns, &[0.1, -0.5, 0.02, 0.3], 3);
        assert_eq!(
            steps,
            vec![
                ("b".to_string(), -0.5),
                ("d".to_string(), 0.3),
                ("2 other columns".to_string(), 0.1 + 0.02),
            ]
        );
        assert_eq!(
            waterfall_steps(&columns, &[0.1, -0.5, 0.02, 0.3], 4).len(),
            4
        );
    }
}
