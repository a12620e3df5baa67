//! LogisticRegression: edge cases, determinism, persistence, input errors (public API only).

use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, Float64Array};
use arrow::datatypes::Float64Type;
use ml_core::dataset::vector_column_from_vec;
use ml_core::linear::{Family, LogisticRegression, LogisticRegressionModel, StopReason};
use ml_core::{persist, Dataset, Estimator, MlError, ParamValue, Params, Transformer};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

fn fixture() -> Dataset {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/logreg_fixture.parquet");
    let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap())
        .unwrap()
        .build()
        .unwrap();
    let batches: Vec<_> = reader.map(|b| b.unwrap()).collect();
    Dataset::new(arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap())
}

fn dataset(x: Vec<f64>, width: usize, y: Vec<f64>) -> Dataset {
    let n = y.len();
    Dataset::from_columns(vec![
        ("features", vector_column_from_vec(x, n, width)),
        ("label", Arc::new(Float64Array::from(y)) as ArrayRef),
    ])
    .unwrap()
}

fn all_finite(out: &Dataset) -> bool {
    ["rawPrediction", "probability"].iter().all(|c| {
        let col = out.column(c).unwrap().as_fixed_size_list();
        col.values()
            .as_primitive::<Float64Type>()
            .values()
            .iter()
            .all(|v| v.is_finite())
    }) && out
        .f64_column("prediction")
        .unwrap()
        .values()
        .iter()
        .all(|v| v.is_finite())
}

/// Spark's objective recomputed from the returned (original-scale) model: mean log-loss plus the
/// elastic-net penalty on coefficients times the sample standard deviation.
fn objective_by_hand(m: &LogisticRegressionModel, data: &Dataset, reg: f64, a: f64) -> f64 {
    let x = data.features("features").unwrap();
    let y = data.f64_column("label").unwrap();
    let (n, p) = x.dim();
    let mut loss = 0.0;
    for i in 0..n {
        let z: f64 = (0..p).map(|j| x[[i, j]] * m.coefficients()[j]).sum::<f64>() + m.intercept();
        let prob1 = 1.0 / (1.0 + (-z).exp());
        loss -= if y.value(i) > 0.0 {
            prob1.ln()
        } else {
            (1.0 - prob1).ln()
        };
    }
    let mut pen = 0.0;
    for j in 0..p {
        let col: Vec<f64> = (0..n).map(|i| x[[i, j]]).collect();
        let mean = col.iter().sum::<f64>() / n as f64;
        let sd = (col.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt();
        let b = m.coefficients()[j] * sd;
        pen += (1.0 - a) / 2.0 * b * b + a * b.abs();
    }
    loss / n as f64 + reg * pen
}

#[test]
fn reported_objective_is_the_regularized_loss_recomputed_by_hand() {
    let data = fixture();
    for (reg, a) in [(0.05, 0.3), (0.01, 0.0), (0.02, 1.0)] {
        let m = LogisticRegression::new()
            .with_reg_param(reg)
            .with_elastic_net_param(a)
            .fit(&data)
            .unwrap();
        let by_hand = objective_by_hand(&m, &data, reg, a);
        let o = m.summary.objective();
        assert!(
            (o - by_hand).abs() < 1e-10,
            "reg {reg} a {a}: {o} vs {by_hand}"
        );
    }
}

#[test]
fn same_coefficients_with_one_and_two_threads() {
    let data = fixture();
    let fit = |t| {
        LogisticRegression::new()
            .with_reg_param(0.05)
            .with_elastic_net_param(0.3)
            .with_n_threads(t)
            .fit(&data)
            .unwrap()
    };
    let (a, b) = (fit(1), fit(2));
    assert_eq!(a.coefficient_matrix, b.coefficient_matrix);
    assert_eq!(a.summary.objective_history, b.summary.objective_history);
}

#[test]
fn save_and_load_give_the_same_predictions() {
    let data = fixture();
    let m = LogisticRegression::new()
        .with_label_col("label3")
        .with_reg_param(0.02)
        .fit(&data)
        .unwrap();
    assert!(m.is_multinomial && m.num_classes == 3);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lr.json");
    persist::save(&m, &path).unwrap();
    let back: LogisticRegressionModel = persist::load_as(&path).unwrap();
    assert_eq!(back, m);
    let (o1, o2) = (m.transform(&data).unwrap(), back.transform(&data).unwrap());
    assert_eq!(
        o1.f64_column("prediction").unwrap().values(),
        o2.f64_column("prediction").unwrap().values()
    );
    assert!(all_finite(&o1));
    // Probabilities sum to one and the prediction is their argmax.
    let prob = o1.features("probability").unwrap();
    let pred = o1.f64_column("prediction").unwrap();
    for i in 0..prob.nrows() {
        let r = prob.row(i);
        assert!((r.sum() - 1.0).abs() < 1e-12);
        let best = (0..3).fold(0, |b, k| if r[k] > r[b] { k } else { b });
        assert_eq!(pred.value(i), best as f64);
    }
}

#[test]
fn a_constant_column_gets_a_zero_coefficient_and_changes_nothing_else() {
    let data = fixture();
    let x = data.features("features").unwrap();
    let (n, p) = x.dim();
    let mut with_const = Vec::with_capacity(n * (p + 1));
    for i in 0..n {
        with_const.extend(x.row(i).iter());
        with_const.push(3.0);
    }
    let y: Vec<f64> = data.f64_column("label").unwrap().values().to_vec();
    let lr = LogisticRegression::new()
        .with_reg_param(0.05)
        .with_elastic_net_param(0.3);
    let a = lr.fit(&dataset(with_const, p + 1, y)).unwrap();
    let b = lr.fit(&data).unwrap();
    assert_eq!(a.coefficients()[p], 0.0);
    for j in 0..p {
        assert!((a.coefficients()[j] - b.coefficients()[j]).abs() < 1e-12);
    }
    assert!((a.intercept() - b.intercept()).abs() < 1e-12);
}

#[test]
fn a_single_class_gives_a_finite_documented_model() {
    let x = vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0];
    for (label, expect_sign) in [(1.0, 1.0), (0.0, -1.0)] {
        let data = dataset(x.clone(), 2, vec![label; 3]);
        let m = LogisticRegression::new().fit(&data).unwrap();
        assert_eq!(m.summary.stop_reason, StopReason::NotNeeded);
        assert!(m.coefficients().iter().all(|c| *c == 0.0));
        // log((3 + 0.5) / 0.5) with the sign of the class.
        let expected = expect_sign * (3.5f64 / 0.5).ln();
        assert!(
            (m.intercept() - expected).abs() < 1e-12,
            "{}",
            m.intercept()
        );
        let out = m.transform(&data).unwrap();
        assert!(all_finite(&out));
        assert!(out
            .f64_column("prediction")
            .unwrap()
            .values()
            .iter()
            .all(|p| *p == label));
    }
}

#[test]
fn separable_data_without_penalty_stays_finite() {
    let x = vec![-2.0, -1.5, -1.0, -0.5, 0.5, 1.0, 1.5, 2.0];
    let y = vec![0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0];
    let data = dataset(x, 1, y.clone());
    let m = LogisticRegression::new().fit(&data).unwrap();
    assert!(m.coefficients()[0].is_finite() && m.coefficients()[0] > 5.0);
    assert!(m.intercept().is_finite());
    let out = m.transform(&data).unwrap();
    assert!(all_finite(&out));
    assert_eq!(out.f64_column("prediction").unwrap().values(), &y[..]);
}

#[test]
fn threshold_moves_the_binary_decision() {
    let data = fixture();
    let mut m = LogisticRegression::new()
        .with_reg_param(0.01)
        .fit(&data)
        .unwrap();
    let positives = |m: &LogisticRegressionModel| {
        let out = m.transform(&data).unwrap();
        out.f64_column("prediction")
            .unwrap()
            .values()
            .iter()
            .filter(|v| **v == 1.0)
            .count()
    };
    let at_half = positives(&m);
    m.set_param("threshold", ParamValue::Float(0.9)).unwrap();
    assert!(positives(&m) < at_half);
    m.set_param("threshold", ParamValue::Float(0.0)).unwrap();
    assert_eq!(positives(&m), data.num_rows());
    assert!(m
        .set_param("thresholds", ParamValue::FloatList(vec![0.5, 0.5, 0.5]))
        .is_err());
}

#[test]
fn bad_inputs_are_typed_errors_naming_the_culprit() {
    let nan = dataset(vec![0.0, 1.0, f64::NAN, 2.0], 2, vec![0.0, 1.0]);
    match LogisticRegression::new().fit(&nan).unwrap_err() {
        MlError::InvalidValue { column, row, .. } => {
            assert_eq!((column.as_str(), row), ("features", 1))
        }
        e => panic!("unexpected {e}"),
    }
    let bad_label = dataset(vec![0.0, 1.0, 2.0, 3.0], 2, vec![0.0, 0.5]);
    let e = LogisticRegression::new().fit(&bad_label).unwrap_err();
    assert!(
        matches!(e, MlError::InvalidValue { ref column, row: 1, .. } if column == "label"),
        "{e}"
    );
    let three = dataset(vec![0.0, 1.0, 2.0], 1, vec![0.0, 1.0, 2.0]);
    let e = LogisticRegression::new()
        .with_family(Family::Binomial)
        .fit(&three)
        .unwrap_err();
    assert!(e.to_string().contains("family"), "{e}");
    let mut lr = LogisticRegression::new();
    assert!(lr
        .set_param("elasticNetParam", ParamValue::Float(1.5))
        .is_err());
    assert!(lr
        .set_param("family", ParamValue::Str("poisson".into()))
        .is_err());
    lr.set_param("regParam", ParamValue::Float(0.1)).unwrap();
    assert_eq!(lr.reg_param, 0.1);
    let e = lr
        .fit(&three.drop_columns(&["label"]).unwrap())
        .unwrap_err();
    assert!(matches!(e, MlError::ColumnNotFound { .. }), "{e}");
    let out_err = LogisticRegression::new()
        .fit(&dataset(vec![0.0, 1.0], 1, vec![0.0, 1.0]))
        .unwrap()
        .transform(&dataset(vec![0.0, 1.0, 2.0, 3.0], 2, vec![0.0, 1.0]))
        .unwrap_err();
    assert!(out_err.to_string().contains("width"), "{out_err}");
    assert!(out_err.to_string().contains("features"));
}
