//! Metric values against scikit-learn 1.9.1 and Spark 4.3.0 on fixed vectors.
//!
//! Every expected number below was printed by `tests/sklearn_reference.py` (same vectors), run
//! with the peers venv: `~/.cache/ml-peers/venv/bin/python crates/ml-eval/tests/sklearn_reference.py`.
//! The Python call that produced each value is given next to it.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array};
use ml_core::dataset::vector_column_from_vec;
use ml_core::{Dataset, MlError, ParamValue, Params};
use ml_eval::metrics;
use ml_eval::{
    BinaryClassificationEvaluator, BinaryMetric, Evaluator, MulticlassClassificationEvaluator,
    RegressionEvaluator,
};

const Y: [f64; 20] = [
    0., 0., 1., 1., 0., 1., 0., 1., 1., 0., 1., 0., 0., 1., 1., 0., 1., 0., 0., 1.,
];
const S: [f64; 20] = [
    0.1, 0.4, 0.35, 0.8, 0.4, 0.4, 0.2, 0.9, 0.35, 0.8, 0.6, 0.6, 0.1, 0.7, 0.4, 0.3, 0.9, 0.5,
    0.2, 0.1,
];
const W: [f64; 20] = [
    1.0, 2.0, 0.5, 1.0, 3.0, 1.0, 1.0, 2.0, 0.25, 1.0, 1.5, 0.0, 2.0, 1.0, 0.5, 1.0, 1.0, 2.5, 1.0,
    1.0,
];
const P: [f64; 20] = [
    0.05, 0.45, 0.35, 0.8, 0.4, 0.42, 0.2, 0.93, 0.36, 0.71, 0.6, 0.61, 0.12, 0.7, 0.44, 0.3, 0.9,
    0.5, 0.22, 0.15,
];

fn close(a: f64, b: f64) {
    assert!(
        (a - b).abs() <= 1e-12 * b.abs().max(1.0),
        "{a} vs expected {b}"
    );
}

fn col(v: &[f64]) -> ArrayRef {
    Arc::new(Float64Array::from(v.to_vec()))
}

fn binary_data() -> Dataset {
    // rawPrediction as Spark lays it out: [-score, score]; probability: [1 - p, p].
    let raw: Vec<f64> = S.iter().flat_map(|&s| [-s, s]).collect();
    let prob: Vec<f64> = P.iter().flat_map(|&p| [1.0 - p, p]).collect();
    Dataset::from_columns(vec![
        ("rawPrediction", vector_column_from_vec(raw, 20, 2)),
        ("probability", vector_column_from_vec(prob, 20, 2)),
        ("score", col(&S)),
        (
            "label",
            Arc::new(Int64Array::from_iter_values(Y.iter().map(|&y| y as i64))) as ArrayRef,
        ),
        ("w", col(&W)),
    ])
    .unwrap()
}

#[test]
fn roc_auc_with_ties_and_weights_equals_sklearn() {
    // roc_auc_score(Y, S) -> 0.7 ; Spark BinaryClassificationMetrics(numBins=0).areaUnderROC -> 0.7
    close(metrics::roc_auc(&S, &Y, None).unwrap(), 0.7);
    // roc_auc_score(Y, S, sample_weight=W)
    close(
        metrics::roc_auc(&S, &Y, Some(&W)).unwrap(),
        0.7780725022104332,
    );
    let d = binary_data();
    let ev = BinaryClassificationEvaluator::new();
    close(ev.evaluate(&d).unwrap(), 0.7);
    close(
        ev.clone()
            .with_raw_prediction_col("score")
            .evaluate(&d)
            .unwrap(),
        0.7,
    );
    close(
        ev.clone().with_weight_col("w").evaluate(&d).unwrap(),
        0.7780725022104332,
    );
}

#[test]
fn pr_auc_equals_spark_binary_classification_metrics() {
    // Spark BinaryClassificationMetrics(rdd of (score, label), numBins=0).areaUnderPR
    // (= sklearn precision_recall_curve points with Spark's first point (0, p0), trapezoids)
    close(metrics::pr_auc(&S, &Y, None).unwrap(), 0.7356372549019607);
    // ... of (score, label, weight)
    close(
        metrics::pr_auc(&S, &Y, Some(&W)).unwrap(),
        0.7827609142540166,
    );
    let ev = BinaryClassificationEvaluator::new().with_metric_name(BinaryMetric::AreaUnderPr);
    let d = binary_data();
    close(ev.evaluate(&d).unwrap(), 0.7356372549019607);
    close(
        ev.with_weight_col("w").evaluate(&d).unwrap(),
        0.7827609142540166,
    );
}

#[test]
fn binary_log_loss_equals_sklearn() {
    // log_loss(Y, P)
    close(
        metrics::binary_log_loss(&P, &Y, None, metrics::DEFAULT_EPS).unwrap(),
        0.5957174512796592,
    );
    // log_loss(Y, P, sample_weight=W)
    close(
        metrics::binary_log_loss(&P, &Y, Some(&W), metrics::DEFAULT_EPS).unwrap(),
        0.5107681075116179,
    );
    let mut ev = BinaryClassificationEvaluator::new();
    ev.set_param("metricName", ParamValue::Str("logLoss".into()))
        .unwrap();
    assert!(!ev.is_larger_better());
    let d = binary_data();
    close(ev.evaluate(&d).unwrap(), 0.5957174512796592);
    close(
        ev.with_weight_col("w").evaluate(&d).unwrap(),
        0.5107681075116179,
    );
}

#[test]
fn one_class_is_a_typed_error() {
    // sklearn: roc_auc_score([1, 1, 1], ...) warns "Only one class is present in y_true" (nan).
    let e = metrics::roc_auc(&[0.1, 0.2, 0.3], &[1.0, 1.0, 1.0], None).unwrap_err();
    assert!(matches!(e, MlError::InvalidData(_)), "{e}");
    let e = metrics::pr_auc(&[0.1, 0.2, 0.3], &[0.0, 0.0, 0.0], None).unwrap_err();
    assert!(matches!(e, MlError::InvalidData(_)), "{e}");
    let d = binary_data().slice(0, 2); // labels 0, 0
    let e = BinaryClassificationEvaluator::new()
        .evaluate(&d)
        .unwrap_err();
    assert!(e.to_string().contains("'label'"), "{e}");
}

#[test]
fn evaluator_errors_name_columns_and_rows() {
    let d = binary_data();
    let e = BinaryClassificationEvaluator::new()
        .with_raw_prediction_col("nope")
        .evaluate(&d)
        .unwrap_err();
    assert!(matches!(e, MlError::ColumnNotFound { .. }));
    let e = BinaryClassificationEvaluator::new()
        .with_label_col("score")
        .evaluate(&d)
        .unwrap_err();
    assert!(
        matches!(e, MlError::InvalidValue { ref column, row: 0, .. } if column == "score"),
        "{e}"
    );
    let e = "auc".parse::<BinaryMetric>().unwrap_err();
    assert!(
        matches!(e, MlError::InvalidParam { ref param, ref message }
            if param == "metric_name" && message.contains("areaUnderROC, areaUnderPR, logLoss")),
        "{e}"
    );
    let mut ev = BinaryClassificationEvaluator::new();
    assert!(ev
        .set_param("metric_name", ParamValue::Str("nope".into()))
        .is_err());
    // A probability vector of width 3 is not binary.
    let d3 = Dataset::from_columns(vec![
        ("rawPrediction", vector_column_from_vec(vec![0.2; 6], 2, 3)),
        ("label", col(&[0.0, 1.0])),
    ])
    .unwrap();
    let e = BinaryClassificationEvaluator::new()
        .evaluate(&d3)
        .unwrap_err();
    assert!(e.to_string().contains("rawPrediction"), "{e}");
}

const YM: [f64; 12] = [0., 1., 2., 2., 1., 0., 2., 1., 1., 0., 3., 2.];
const PM: [f64; 12] = [0., 2., 2., 2., 1., 0., 1., 1., 0., 0., 2., 2.];
const WM: [f64; 12] = [1.0, 2.0, 0.5, 1.0, 1.0, 3.0, 1.0, 0.5, 2.0, 1.0, 1.0, 0.25];
const PROBA: [[f64; 4]; 12] = [
    [0.7, 0.1, 0.1, 0.1],
    [0.1, 0.3, 0.5, 0.1],
    [0.1, 0.1, 0.7, 0.1],
    [0.2, 0.2, 0.5, 0.1],
    [0.1, 0.6, 0.2, 0.1],
    [0.8, 0.1, 0.05, 0.05],
    [0.1, 0.5, 0.3, 0.1],
    [0.2, 0.5, 0.2, 0.1],
    [0.5, 0.3, 0.1, 0.1],
    [0.6, 0.2, 0.1, 0.1],
    [0.1, 0.1, 0.6, 0.2],
    [0.1, 0.2, 0.6, 0.1],
];

fn multiclass_data() -> Dataset {
    let flat: Vec<f64> = PROBA.iter().flatten().copied().collect();
    Dataset::from_columns(vec![
        ("prediction", col(&PM)),
        ("label", col(&YM)),
        ("w", col(&WM)),
        ("probability", vector_column_from_vec(flat, 12, 4)),
    ])
    .unwrap()
}

#[test]
fn multiclass_metrics_equal_sklearn_weighted_averages() {
    // (metric, sklearn call, unweighted, with sample_weight=WM)
    let cases = [
        // accuracy_score(YM, PM[, sample_weight=WM])
        ("accuracy", 0.6666666666666666, 0.5789473684210527),
        // f1_score(YM, PM, average="weighted"[, sample_weight=WM])
        ("f1", 0.626984126984127, 0.5271929824561403),
        // precision_score(YM, PM, average="weighted", zero_division=0[, sample_weight=WM])
        ("weightedPrecision", 0.6097222222222222, 0.5533043134151168),
        // recall_score(YM, PM, average="weighted"[, sample_weight=WM])
        ("weightedRecall", 0.6666666666666666, 0.5789473684210527),
        // log_loss(YM, PROBA, labels=[0, 1, 2, 3][, sample_weight=WM])
        ("logLoss", 0.7563850830851204, 0.7735314686475722),
    ];
    let d = multiclass_data();
    for (m, plain, weighted) in cases {
        let ev = MulticlassClassificationEvaluator::new().with_metric_name(m.parse().unwrap());
        close(ev.evaluate(&d).unwrap(), plain);
        close(ev.with_weight_col("w").evaluate(&d).unwrap(), weighted);
    }
    close(
        metrics::weighted_f1(&PM, &YM, Some(&WM)).unwrap(),
        0.5271929824561403,
    );
    close(
        metrics::accuracy(&PM, &YM, None).unwrap(),
        0.6666666666666666,
    );
    close(
        metrics::weighted_precision(&PM, &YM, None).unwrap(),
        0.6097222222222222,
    );
    close(
        metrics::weighted_recall(&PM, &YM, Some(&WM)).unwrap(),
        0.5789473684210527,
    );
    let flat: Vec<f64> = PROBA.iter().flatten().copied().collect();
    close(
        metrics::multiclass_log_loss(&flat, 4, &YM, None, metrics::DEFAULT_EPS).unwrap(),
        0.7563850830851204,
    );
}

const YR: [f64; 8] = [3.0, -0.5, 2.0, 7.0, 4.2, 1.1, 0.0, 5.5];
const PR: [f64; 8] = [2.5, 0.0, 2.0, 8.0, 3.9, 1.5, -0.3, 4.0];
const WR: [f64; 8] = [1.0, 2.0, 0.5, 1.0, 1.5, 1.0, 3.0, 0.75];

#[test]
fn regression_metrics_equal_sklearn() {
    let cases = [
        // mean_squared_error(YR, PR[, sample_weight=WR])
        ("mse", 0.51125, 0.3723255813953489),
        // root_mean_squared_error(YR, PR[, sample_weight=WR])
        ("rmse", 0.7150174823037546, 0.6101848747677616),
        // mean_absolute_error(YR, PR[, sample_weight=WR])
        ("mae", 0.5625, 0.5),
        // r2_score(YR, PR[, sample_weight=WR])
        ("r2", 0.916850905949023, 0.9409289977587633),
    ];
    let d = Dataset::from_columns(vec![
        ("prediction", col(&PR)),
        ("label", col(&YR)),
        ("w", col(&WR)),
    ])
    .unwrap();
    for (m, plain, weighted) in cases {
        let ev = RegressionEvaluator::new().with_metric_name(m.parse().unwrap());
        assert_eq!(ev.is_larger_better(), m == "r2");
        close(ev.evaluate(&d).unwrap(), plain);
        close(ev.with_weight_col("w").evaluate(&d).unwrap(), weighted);
    }
    close(metrics::rmse(&PR, &YR, None).unwrap(), 0.7150174823037546);
    close(metrics::mae(&PR, &YR, Some(&WR)).unwrap(), 0.5);
    close(metrics::mse(&PR, &YR, None).unwrap(), 0.51125);
    close(
        metrics::r2(&PR, &YR, Some(&WR)).unwrap(),
        0.9409289977587633,
    );
}

#[test]
fn curves_start_and_end_where_sklearn_and_spark_put_them() {
    let roc = metrics::roc_curve(&S, &Y, None).unwrap();
    assert_eq!((roc[0].x, roc[0].y), (0.0, 0.0));
    let last = roc.last().unwrap();
    assert_eq!((last.x, last.y, last.threshold), (1.0, 1.0, 0.1));
    // 10 distinct scores -> 10 points after the origin.
    assert_eq!(roc.len(), 11);
    assert_eq!(roc[1].threshold, 0.9);
    let pr = metrics::pr_curve(&S, &Y, None).unwrap();
    // Highest threshold 0.9: two positives, no negative -> precision 1, recall 2/10.
    assert_eq!((pr[0].x, pr[0].y), (0.0, 1.0));
    assert_eq!((pr[1].x, pr[1].y), (0.2, 1.0));
    assert_eq!(pr.last().unwrap().x, 1.0);
}
