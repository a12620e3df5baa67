//! Runs the loan_risk use case on the shipped sample and checks its figures against independent
//! ones (see `scripts/examples_peer_figures.py`, run with the peers venv:
//! Python 3.11.7, xgboost 3.2.0, scikit-learn 1.9.1, pandas 2.3.3).

mod support;
use ml_examples::loan_risk;
use support::{check_report, num, run_example};

/// XGBoost 3.2.0 (`XGBClassifier(tree_method="hist", n_estimators=5, max_depth=6,
/// learning_rate=0.3)`) on the same 80/20 split (Dataset::random_split seed 42, reproduced in
/// Python) with the same features (median-imputed numerics, one-hot categoricals): test AUC
/// 0.6688. scikit-learn HistGradientBoosting with the same settings: 0.6707.
const XGBOOST_AUC_16COLS: f64 = 0.6688;

#[test]
fn loan_risk_on_the_16_column_sample_reaches_the_xgboost_floor() {
    let run = run_example("loan_risk", loan_risk::run, &["--quick"]);
    // 39,786 loans, all completed; 5,670 charged off (PROVENANCE.md).
    assert_eq!(num(&run, "/rows_completed"), 39786.0);
    assert_eq!(num(&run, "/bad_loans"), 5670.0);
    // The split reproduced in Python: 31,924 / 7,862 rows.
    assert_eq!(num(&run, "/train_rows"), 31924.0);
    assert_eq!(num(&run, "/test_rows"), 7862.0);
    let auc = num(&run, "/auc");
    assert!(
        auc >= XGBOOST_AUC_16COLS - 0.01,
        "AUC {auc} below the XGBoost floor {XGBOOST_AUC_16COLS} - 0.01"
    );
    let auc_cv = num(&run, "/auc_cv");
    assert!(
        auc_cv >= XGBOOST_AUC_16COLS - 0.02,
        "tuned AUC {auc_cv} far below XGBoost's {XGBOOST_AUC_16COLS}"
    );
    assert_eq!(
        run.summary["cv_avg_metrics"].as_array().map(Vec::len),
        Some(8)
    );
    // Money stand-in (no total_pymnt/funded_amnt): the test split's net computed in Python with
    // the same rule (bad: -loan_amnt; good: amortised interest at 12 %): 4,331,609.60.
    assert_eq!(run.summary["money_rule"], "StandInAssumed");
    assert!((num(&run, "/net_test_total") - 4_331_609.60).abs() < 0.5);
    // The four cells hold every test loan.
    let cells = run.summary["confusion"]
        .as_array()
        .expect("confusion cells");
    let n: f64 = cells.iter().map(|c| c["n"].as_f64().unwrap()).sum();
    assert_eq!(n, 7862.0);
    check_report(
        &run,
        "Loan risk (Lending Club)",
        &[
            "Bad-loan rate by term",
            "Cross-validation",
            "ROC curve",
            "profit forfeited",
        ],
    );
}

#[test]
fn loan_risk_on_the_full_schema_sample_prices_cells_with_total_pymnt() {
    let run = run_example(
        "loan_risk",
        loan_risk::run,
        &[
            "--quick",
            "--file",
            "lending_club_fullschema_sample1000.csv",
        ],
    );
    assert_eq!(run.summary["money_rule"], "Net");
    assert_eq!(num(&run, "/rows_completed"), 1000.0);
    assert_eq!(num(&run, "/bad_loans"), 208.0);
    // Python: sum(total_pymnt - funded_amnt) over the 211 test rows of the same split.
    assert_eq!(num(&run, "/test_rows"), 211.0);
    assert!((num(&run, "/net_test_total") - -22_532.93).abs() < 0.01);
    // This file has a grade column: the SQL groups by it.
    assert!(run.stdout.contains("Bad-loan rate by grade"));
    check_report(&run, "Loan risk (Lending Club)", &["Loan amount by grade"]);
}
