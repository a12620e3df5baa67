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
//! The code is `ml_examples::loan_risk::run` in `crates/ml-examples/src/loan_risk.rs`;
//! the tests call it too.

use std::process::ExitCode;

use ml_examples::loan_risk::{run, Args};

fn main() -> ExitCode {
    let args = match ml_examples::parse_args::<Args>() {
        Ok(args) => args,
        Err(code) => return code,
    };
    ml_examples::finish(run(&args, &mut std::io::stdout()))
}
