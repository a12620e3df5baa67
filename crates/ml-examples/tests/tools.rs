//! The command-line tools (`train_gbdt`, `train_logreg`, `mine_itemsets`) called as their `main`
//! calls them, on small data with figures known independently of this code base.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int32Array, Int8Array};
use clap::Parser;
use ml_core::Dataset;
use ml_examples::common::repo_path;
use ml_examples::{mine_itemsets, train_gbdt, train_logreg, Summary};

fn run_tool<A: Parser>(
    run: fn(&A, &mut dyn std::io::Write) -> ml_examples::Result<Summary>,
    argv: &[&str],
) -> (serde_json::Value, String) {
    let args = A::try_parse_from(argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
    let mut out = Vec::new();
    let summary = run(&args, &mut out)
        .unwrap_or_else(|e| panic!("{argv:?}: {}", ml_examples::error_line(e.as_ref())));
    let json: serde_json::Value = serde_json::from_str(summary.line()).expect("one JSON object");
    (json, String::from_utf8(out).expect("UTF-8 output"))
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

/// Exact AUC by comparing every (positive, negative) pair, ties counting one half.
fn pairwise_auc(scores: &[f64], labels: &[f64]) -> f64 {
    let (mut wins, mut pairs) = (0.0, 0.0);
    for (i, &si) in scores.iter().enumerate() {
        for (j, &sj) in scores.iter().enumerate() {
            if labels[i] > 0.5 && labels[j] <= 0.5 {
                pairs += 1.0;
                wins += if si > sj {
                    1.0
                } else if si == sj {
                    0.5
                } else {
                    0.0
                };
            }
        }
    }
    wins / pairs
}

/// 400 rows: `label` = 1 exactly when the category code `cat` (`(row / 3) % 8`, every 13th one
/// missing) is 1, 4 or 6; `x` is noise, `n` an integer column; rows where `is_test` = 1 (every
/// 4th) are the test set. Both parts hold every code.
fn category_table(dir: &Path) -> PathBuf {
    let n: usize = 400;
    let cat: Vec<f64> = (0..n)
        .map(|i| {
            if i % 13 == 5 {
                f64::NAN
            } else {
                ((i / 3) % 8) as f64
            }
        })
        .collect();
    let label: Vec<i8> = cat
        .iter()
        .map(|c| i8::from(matches!(*c as i64, 1 | 4 | 6) && c.is_finite()))
        .collect();
    let x: Vec<f64> = (0..n).map(|i| ((i * 37) % 101) as f64 / 101.0).collect();
    let ints: Vec<i32> = (0..n).map(|i| (i % 5) as i32).collect();
    let is_test: Vec<i8> = (0..n).map(|i| i8::from(i % 4 == 0)).collect();
    let data = Dataset::from_columns(vec![
        ("x", Arc::new(Float64Array::from(x)) as ArrayRef),
        ("cat", Arc::new(Float64Array::from(cat)) as ArrayRef),
        ("n", Arc::new(Int32Array::from(ints)) as ArrayRef),
        ("label", Arc::new(Int8Array::from(label)) as ArrayRef),
        ("is_test", Arc::new(Int8Array::from(is_test)) as ArrayRef),
    ])
    .unwrap();
    let path = dir.join("cats.parquet");
    ml_core::io::write_parquet(&data, &path).unwrap();
    path
}

fn read_predictions(path: &Path) -> Vec<f64> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("prediction"));
    lines.map(|l| l.parse().unwrap()).collect()
}

fn gbdt_args<'a>(file: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut argv = vec![
        "train_gbdt",
        "--train",
        file,
        "--test",
        file,
        "--split-col",
        "is_test",
        "--label",
        "label",
        "--num-round",
        "1",
        "--max-depth",
        "1",
        "--threads",
        "1",
    ];
    argv.extend_from_slice(extra);
    argv
}

#[test]
fn train_gbdt_takes_constraints_in_xgboost_syntax_by_position_or_name() {
    let tmp = tempfile::tempdir().unwrap();
    let file = category_table(tmp.path());
    let file = path_str(&file);
    let pred = |extra: &[&str]| {
        let p = tmp.path().join("pred.csv");
        let mut e = vec![
            "--max-depth",
            "3",
            "--num-round",
            "3",
            "--predictions-out",
            path_str(&p),
        ];
        e.extend_from_slice(extra);
        // Deeper trees and more rounds than gbdt_args' (clap takes each flag once).
        let mut argv = gbdt_args(file, &e);
        for flag in ["--num-round", "--max-depth"] {
            let at = argv
                .iter()
                .position(|a| *a == flag)
                .expect("gbdt_args sets it");
            argv.drain(at..at + 2);
        }
        run_tool(train_gbdt::run, &argv);
        read_predictions(&p)
    };
    // Features in file order: x, cat, n.
    let by_pos = pred(&[
        "--monotone-constraints",
        "(-1,0,1)",
        "--interaction-constraints",
        "[[0],[1,2]]",
    ]);
    let by_name = pred(&[
        "--monotone-constraints",
        r#"{"n": 1, "x": -1}"#,
        "--interaction-constraints",
        r#"[["x"],["cat","n"]]"#,
    ]);
    assert_eq!(by_pos, by_name);
    assert_eq!(by_pos.len(), 100);
    // Four constraints for three features: an error naming the parameter.
    let args =
        train_gbdt::Args::try_parse_from(gbdt_args(file, &["--monotone-constraints", "(1,0,0,1)"]))
            .unwrap();
    let err = train_gbdt::run(&args, &mut Vec::new()).unwrap_err();
    let line = ml_examples::error_line(err.as_ref());
    assert!(line.contains("monotone_constraints"), "{line}");
}

#[test]
fn train_gbdt_splits_a_nominal_column_on_a_category_subset() {
    let tmp = tempfile::tempdir().unwrap();
    let file = category_table(tmp.path());
    let file = path_str(&file);
    let pred_path = tmp.path().join("pred.csv");
    let model_path = tmp.path().join("model.json");
    let (s, out) = run_tool(
        train_gbdt::run,
        &gbdt_args(
            file,
            &[
                "--categorical",
                "cat",
                "--predictions-out",
                path_str(&pred_path),
                "--model-out",
                path_str(&model_path),
            ],
        ),
    );
    assert_eq!(out, "", "train_gbdt prints only its closing line");
    assert_eq!(s["rows_train"], 300);
    assert_eq!(s["rows_test"], 100);
    // x, cat, n: the label and the split column are not features.
    assert_eq!(s["features"], 3);
    // One stump on the nominal column separates {1, 4, 6} from the other codes: the test rows
    // are ranked perfectly.
    assert_eq!(s["auc"], 1.0);
    let pred = read_predictions(&pred_path);
    assert_eq!(pred.len(), 100);
    // The test rows are rows 0, 4, 8, ...: their labels by the rule above.
    let labels: Vec<f64> = (0..400)
        .step_by(4)
        .map(|i: usize| {
            let c = (i / 3) % 8;
            f64::from(u8::from(i % 13 != 5 && matches!(c, 1 | 4 | 6)))
        })
        .collect();
    assert_eq!(pairwise_auc(&pred, &labels), 1.0);
    assert!(model_path.is_file());

    // Read as a number, the same column cannot be split that way by one stump.
    let (numeric, _) = run_tool(train_gbdt::run, &gbdt_args(file, &[]));
    let auc = numeric["auc"].as_f64().unwrap();
    assert!(auc < 0.9, "a numeric stump reached AUC {auc}");
}

#[test]
fn train_gbdt_reads_a_separate_test_file_and_names_missing_columns() {
    let tmp = tempfile::tempdir().unwrap();
    let file = category_table(tmp.path());
    let file = path_str(&file);
    let (s, _) = run_tool(
        train_gbdt::run,
        &[
            "train_gbdt",
            "--train",
            file,
            "--test",
            file,
            "--label",
            "label",
            "--exclude",
            "is_test",
            "--categorical",
            "cat",
            "--num-round",
            "3",
        ],
    );
    // No split column: every row trains and every row is scored.
    assert_eq!(s["rows_train"], 400);
    assert_eq!(s["rows_test"], 400);
    assert_eq!(s["features"], 3);

    let args =
        train_gbdt::Args::try_parse_from(gbdt_args(file, &["--categorical", "nope"])).unwrap();
    let err = train_gbdt::run(&args, &mut Vec::new()).unwrap_err();
    let line = ml_examples::error_line(err.as_ref());
    assert!(line.contains("nope"), "{line}");
}

/// Spark MLlib 4.3.0 on the same fixture (`crates/ml-core/tests/logreg_spark.rs`, "enet20":
/// regParam 0.05, elasticNetParam 0.3, maxIter 20, tol 1e-6): final objective.
const SPARK_ENET20_OBJECTIVE: f64 = 0.6782841675811899;

#[test]
fn train_logreg_reaches_sparks_objective_and_its_auc_counts_pairs() {
    let fixture = repo_path("crates/ml-core/tests/data/logreg_fixture.parquet");
    let tmp = tempfile::tempdir().unwrap();
    let pred_path = tmp.path().join("pred.csv");
    let (s, _) = run_tool(
        train_logreg::run,
        &[
            "train_logreg",
            "--train",
            path_str(&fixture),
            "--label",
            "label",
            "--exclude",
            "label3,weight",
            "--predictions-out",
            path_str(&pred_path),
        ],
    );
    assert_eq!(s["rows_train"], 1000);
    assert_eq!(s["features"], 30);
    let objective = s["objective"].as_f64().unwrap();
    assert!(
        ((objective - SPARK_ENET20_OBJECTIVE) / SPARK_ENET20_OBJECTIVE).abs() < 1e-9,
        "objective {objective} vs Spark's {SPARK_ENET20_OBJECTIVE}"
    );
    // The AUC is on the training rows (no test set): recount it from the predictions file.
    let text = std::fs::read_to_string(&pred_path).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("label,probability,prediction"));
    let (labels, probs): (Vec<f64>, Vec<f64>) = lines
        .map(|l| {
            let mut f = l.split(',').map(|v| v.parse::<f64>().unwrap());
            (f.next().unwrap(), f.next().unwrap())
        })
        .unzip();
    assert_eq!(labels.len(), 1000);
    let expected = (pairwise_auc(&probs, &labels) * 1e6).round() / 1e6;
    assert_eq!(s["auc"].as_f64().unwrap(), expected);
}

#[test]
fn mine_itemsets_finds_pyfims_itemsets_in_instacart_rows() {
    let baskets = repo_path("examples/data/baskets/instacart/order_products__prior_head10000.csv");
    let tmp = tempfile::tempdir().unwrap();
    let sets_path = tmp.path().join("itemsets.csv");
    let (s, out) = run_tool(
        mine_itemsets::run,
        &[
            "mine_itemsets",
            "--baskets",
            path_str(&baskets),
            "--min-support",
            "0.01",
            "--itemsets-out",
            path_str(&sets_path),
        ],
    );
    // pyfim 6.28 on the same orders (crates/ml-fpm/tests/peers.rs): 977 baskets, 142 itemsets
    // (125 single items, 17 pairs); at confidence 0 each pair gives two rules.
    assert_eq!(s["transactions"], 977);
    assert_eq!(s["itemsets"], 142);
    assert_eq!(s["rules"], 34);
    assert!(out.contains("loaded 977 baskets"), "{out}");
    let sets = std::fs::read_to_string(&sets_path).unwrap();
    assert_eq!(sets.lines().count(), 143, "header and one line per itemset");
}
