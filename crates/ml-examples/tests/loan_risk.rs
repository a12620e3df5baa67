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
            "Why loans are refused",
            "Mean |TreeSHAP contribution|",
            "Riskiest refused loan",
            "no int_rate column",
        ],
    );
    check_refusals_explained(&run);
    // The 16-column file has no int_rate: no constrained model.
    assert!(run.summary["auc_monotone_int_rate"].is_null());
    assert!(run.summary["monotone_int_rate"].is_null());
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
    check_report(
        &run,
        "Loan risk (Lending Club)",
        &[
            "Loan amount by grade",
            "Why loans are refused",
            "monotone_constraints +1 on int_rate",
        ],
    );
    check_refusals_explained(&run);
    // int_rate is in this file: the constrained model is fitted, and its P(bad) never falls
    // along the int_rate grid of the check.
    let auc_monotone = num(&run, "/auc_monotone_int_rate");
    assert!(
        (0.5..=1.0).contains(&auc_monotone),
        "constrained AUC {auc_monotone}"
    );
    assert_eq!(num(&run, "/monotone_int_rate/violations"), 0.0);
    assert!(num(&run, "/monotone_int_rate/rows") * num(&run, "/monotone_int_rate/grid") >= 100.0);
    assert!(run
        .stdout
        .contains(&format!("test AUC {auc_monotone:.4} with the constraint")));
}

/// The refused loans listed in the summary: riskiest first, P(bad) = sigmoid(margin), every
/// column's contribution plus the bias adds up to the margin, and exactly three reasons, the
/// three largest contributions in decreasing order.
fn check_refusals_explained(run: &support::Run) {
    let refused = num(run, "/refused_test");
    let listed = run.summary["refused_explained"]
        .as_array()
        .expect("refused_explained");
    assert!(refused > 0.0, "no loan refused");
    assert_eq!(listed.len() as f64, refused.min(10.0));
    assert!(run.stdout.contains("Why loans are refused"));
    let mut last_p = f64::INFINITY;
    for loan in listed {
        let p = loan["p_bad"].as_f64().expect("p_bad");
        let margin = loan["margin"].as_f64().expect("margin");
        let bias = loan["bias"].as_f64().expect("bias");
        assert!(p <= last_p, "not riskiest first: {loan}");
        last_p = p;
        assert!((p - 1.0 / (1.0 + (-margin).exp())).abs() < 1e-12, "{loan}");
        let contributions = loan["contributions"].as_object().expect("contributions");
        let total: f64 = contributions.values().filter_map(|v| v.as_f64()).sum();
        assert!(
            (bias + total - margin).abs() < 1e-9,
            "bias {bias} + contributions {total} != margin {margin}"
        );
        let reasons = loan["reasons"].as_array().expect("reasons");
        assert_eq!(reasons.len(), 3, "{loan}");
        let values: Vec<f64> = reasons
            .iter()
            .map(|r| r["contribution"].as_f64().expect("contribution"))
            .collect();
        assert!(
            values.windows(2).all(|w| w[0] >= w[1]),
            "unsorted {values:?}"
        );
        for r in reasons {
            let column = r["column"].as_str().expect("column");
            assert_eq!(contributions[column], r["contribution"], "{loan}");
            assert!(!r["value"].as_str().expect("value").is_empty());
        }
        // No other column pushes harder towards bad than the third reason.
        let third = values[2];
        let above = contributions
            .values()
            .filter(|v| v.as_f64().is_some_and(|v| v > third))
            .count();
        assert!(above <= 2, "{loan}");
    }
}
