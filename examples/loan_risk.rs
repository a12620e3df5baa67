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
//! Value of the model = money saved by refusing the loans it predicts bad
//! = -(sum of net over predicted-bad loans) = loss avoided (bad loans refused) - profit
//! forfeited (good loans refused), in $M on the test split.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::{Array, BooleanArray, Float64Array};
use arrow::datatypes::{DataType, Field};
use clap::Parser;
use common::data::{leading_number, parse_emp_length, parse_percent, to_f64};
use common::{chart, title, CommonArgs, Report, Result, Sql, Timings};
use ml_core::Dataset;
use serde_json::json;

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

#[derive(Debug, Parser)]
#[command(about = "Loan risk: ETL, SQL, boosted trees, cross-validation, business value")]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    /// A file inside the data directory to use instead of the first one found.
    #[arg(long)]
    file: Option<String>,
    /// Seed of the 80/20 split and of cross-validation folds.
    #[arg(long, default_value_t = 42)]
    seed: u64,
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

fn main() -> Result<()> {
    let args = Args::parse();
    let mut timings = Timings::new();
    let path = input_file(&args)?;
    println!("Loan risk on {}", path.display());

    let raw = timings.phase("read", || common::data::read_table(&path))?;
    println!(
        "read {} rows x {} columns",
        raw.num_rows(),
        raw.num_columns()
    );
    let (loans, rule) = timings.phase("etl", || etl(&raw))?;
    let n_bad = loans.f64_column("bad_loan")?.values().iter().sum::<f64>();
    println!(
        "kept {} completed loans (Default / Charged Off / Fully Paid), {} bad ({:.2} %)",
        loans.num_rows(),
        n_bad,
        100.0 * n_bad / loans.num_rows().max(1) as f64
    );
    println!("money per loan: {}", rule.describe());

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

    let sql = Sql::new()?;
    let explore = timings.phase("sql", || explore(&sql, &loans, &mut report))?;
    let _ = explore;

    let out = args.common.report_dir("loan_risk");
    let index = report.write(&out)?;
    println!("\nreport: {}", index.display());
    common::print_summary(
        "loan_risk",
        json!({
            "input": path.display().to_string(),
            "rows_read": raw.num_rows(),
            "rows_completed": loans.num_rows(),
            "bad_loans": n_bad,
            "money_rule": format!("{rule:?}"),
            "report": index.display().to_string(),
            "seconds": timings.to_json(),
        }),
    );
    Ok(())
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
fn etl(raw: &Dataset) -> Result<(Dataset, MoneyRule)> {
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
    data = data.with_column("net", Arc::new(net))?;
    Ok((data, rule))
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
fn explore(sql: &Sql, loans: &Dataset, report: &mut Report) -> Result<BTreeMap<String, Dataset>> {
    sql.register("loans", loans)?;
    let mut out = BTreeMap::new();
    title("Exploration (SQL through DataFusion)");
    report.heading("Exploration (SQL through DataFusion)");
    let by = if loans.has_column("grade") {
        "grade"
    } else {
        "term"
    };
    if by != "grade" {
        let note =
            "This file has no grade column: the 'by grade' tables group by term (months) instead.";
        println!("{note}");
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
        let table = sql.show(&caption, &q, 20)?;
        report.table(&caption, &table, 60)?;
        let labels = common::sql::string_values(&table, table.column_names()[0].as_str())?;
        let (value_col, unit) = match key {
            "amount_by_group" => ("total_musd", "total loan amount ($M)"),
            "loans_by_state" => ("loans", "loans"),
            _ => ("bad_rate", "bad-loan rate"),
        };
        let values = common::sql::f64_values(&table, value_col)?;
        report.svg(&chart::bar_chart(&caption, unit, &labels, &values)?);
        out.insert(key.to_string(), table);
    }
    Ok(out)
}
