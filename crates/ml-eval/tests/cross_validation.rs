//! CrossValidator and TrainValidationSplit on a real pipeline (StringIndexer -> VectorAssembler
//! -> StandardScaler -> LogisticRegression) over the shipped Lending Club sample.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use arrow::array::{ArrayRef, Float64Array};
use ml_core::feature::{HandleInvalid, StandardScaler, StringIndexer, VectorAssembler};
use ml_core::io::{read_csv, CsvReadOptions};
use ml_core::linear::LogisticRegression;
use ml_core::{Dataset, Estimator, MlError, Params, Pipeline, PipelineModel, Transformer};
use ml_eval::{
    BinaryClassificationEvaluator, BinaryMetric, CrossValidator, CrossValidatorModel, Evaluator,
    ParamGridBuilder, ParamMap, TrainValidationSplit,
};

fn loans(rows: usize) -> Dataset {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/data/loans/loanstats3a_2007_2011_16cols.csv"
    );
    let data = read_csv(path, &CsvReadOptions::default())
        .unwrap()
        .slice(0, rows);
    let status = data.string_column("loan_status").unwrap();
    let label: Float64Array = status
        .iter()
        .map(|s| Some((s == Some("Charged Off")) as u8 as f64))
        .collect();
    data.with_column("label", Arc::new(label) as ArrayRef)
        .unwrap()
}

fn pipeline() -> Pipeline {
    let numeric = [
        "loan_amnt",
        "annual_inc",
        "delinq_2yrs",
        "inq_last_6mths",
        "open_acc",
        "pub_rec",
        "revol_bal",
        "total_acc",
        "home_idx",
    ];
    Pipeline::new()
        .estimator(
            "indexer",
            StringIndexer::new("home_ownership", "home_idx")
                .with_handle_invalid(HandleInvalid::Keep),
        )
        .transformer("assembler", VectorAssembler::new(&numeric, "raw"))
        .estimator("scaler", StandardScaler::new("raw", "features"))
        .estimator("lr", LogisticRegression::new().with_max_iter(25))
}

fn grid() -> Vec<ParamMap> {
    ParamGridBuilder::new()
        .add_grid("scaler.with_mean", [false, true])
        .add_grid("lr.reg_param", [0.001, 0.3])
        .add_grid("lr.elastic_net_param", [0.0, 1.0])
        .build()
}

fn cross_validate(data: &Dataset, parallelism: usize) -> (CrossValidatorModel, usize) {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let model = CrossValidator::new(pipeline(), BinaryClassificationEvaluator::new())
        .with_estimator_param_maps(grid())
        .with_num_folds(3)
        .with_seed(2024)
        .with_parallelism(parallelism)
        .on_progress(move |p| {
            assert!(p.done <= p.total && p.total == 25);
            c.fetch_add(1, Ordering::SeqCst);
        })
        .fit(data)
        .unwrap();
    (model, calls.load(Ordering::SeqCst))
}

#[test]
fn grid_of_2x2x2_picks_the_same_best_map_with_parallelism_1_and_2() {
    let data = loans(2400);
    let (one, calls1) = cross_validate(&data, 1);
    let (two, calls2) = cross_validate(&data, 2);
    assert_eq!(calls1, 25, "24 (fold, map) fits and the refit");
    assert_eq!(calls2, 25);
    assert_eq!(one.param_maps().len(), 8);
    assert_eq!(one.best_index(), two.best_index());
    assert_eq!(one.best_param_map(), two.best_param_map());
    // Identical metrics, bit for bit.
    assert_eq!(one.avg_metrics(), two.avg_metrics());
    assert_eq!(one.fold_metrics(), two.fold_metrics());
    let a = one.transform(&data).unwrap();
    let b = two.transform(&data).unwrap();
    assert_eq!(
        a.features("probability").unwrap(),
        b.features("probability").unwrap()
    );
    // The choice is real: heavy L1 (reg 0.3, elastic net 1) zeroes every coefficient, its AUC
    // is 0.5 on every fold, and it is not the best.
    let avg = one.avg_metrics();
    let best = one.best_index();
    for (i, m) in one.param_maps().iter().enumerate() {
        assert!(avg[best] >= avg[i]);
        let heavy_l1 = m.get("lr.reg_param") == Some(&0.3.into())
            && m.get("lr.elastic_net_param") == Some(&1.0.into());
        if heavy_l1 {
            assert_eq!(avg[i], 0.5, "map {i} {m}");
        }
    }
    assert!(avg[best] > 0.55, "{avg:?}");
    assert!(one.best_model_as::<PipelineModel>().is_some());
}

#[test]
fn fold_metrics_equal_fitting_the_fold_by_hand() {
    let data = loans(900);
    let maps = grid();
    let model = CrossValidator::new(pipeline(), BinaryClassificationEvaluator::new())
        .with_estimator_param_maps(maps.clone())
        .with_seed(5)
        .with_collect_sub_models(true)
        .fit(&data)
        .unwrap();
    let folds = CrossValidator::fold_of_rows(data.num_rows(), 3, 5);
    // Spark-like fold sizes: about n / k each.
    for f in 0..3 {
        let size = folds.iter().filter(|&&x| x == f).count();
        assert!((250..350).contains(&size), "fold {f} has {size} rows");
    }
    assert_ne!(folds, CrossValidator::fold_of_rows(data.num_rows(), 3, 6));
    let (f, m) = (1, 5);
    let train: Vec<usize> = (0..data.num_rows()).filter(|&i| folds[i] != f).collect();
    let valid: Vec<usize> = (0..data.num_rows()).filter(|&i| folds[i] == f).collect();
    let mut p = pipeline();
    maps[m].apply(&mut p).unwrap();
    let fitted = p.fit(&data.take(&train).unwrap()).unwrap();
    let out = fitted.transform(&data.take(&valid).unwrap()).unwrap();
    let metric = BinaryClassificationEvaluator::new().evaluate(&out).unwrap();
    assert_eq!(model.fold_metrics()[f][m], metric);
    let mean: f64 = (0..3).map(|f| model.fold_metrics()[f][m]).sum::<f64>() / 3.0;
    assert_eq!(model.avg_metrics()[m], mean);
    let subs = model.sub_models().unwrap();
    assert_eq!((subs.len(), subs[0].len()), (3, 8));
    // The refit uses all rows with the best map.
    let mut best = pipeline();
    model.best_param_map().apply(&mut best).unwrap();
    let refit = best.fit(&data).unwrap();
    assert_eq!(
        refit
            .transform(&data)
            .unwrap()
            .features("probability")
            .unwrap(),
        model
            .transform(&data)
            .unwrap()
            .features("probability")
            .unwrap()
    );
}

#[test]
fn smaller_is_better_metrics_pick_the_minimum() {
    let data = loans(900);
    let model = CrossValidator::new(
        pipeline(),
        BinaryClassificationEvaluator::new().with_metric_name(BinaryMetric::LogLoss),
    )
    .with_estimator_param_maps(grid())
    .fit(&data)
    .unwrap();
    let avg = model.avg_metrics();
    let min = avg.iter().cloned().fold(f64::INFINITY, f64::min);
    assert_eq!(avg[model.best_index()], min);
    assert_eq!(model.metric(), ("logLoss", false));
}

#[test]
fn train_validation_split_uses_the_ratio_and_is_deterministic() {
    let data = loans(900);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let tvs = TrainValidationSplit::new(pipeline(), BinaryClassificationEvaluator::new())
        .with_estimator_param_maps(grid())
        .with_train_ratio(0.7)
        .with_seed(11)
        .with_parallelism(2)
        .on_progress(move |p| s.lock().unwrap().push((p.fold, p.map_index)));
    let a = tvs.fit(&data).unwrap();
    let mut seen = seen.lock().unwrap().clone();
    let b = tvs.clone().with_parallelism(1).fit(&data).unwrap();
    assert_eq!(a.validation_metrics(), b.validation_metrics());
    assert_eq!(a.validation_metrics().len(), 8);
    seen.sort();
    assert_eq!(seen.len(), 9);
    assert_eq!(seen[0], (None, a.best_index()));
    // By hand: the training part is the rows with unit_uniform(11, i) < 0.7.
    let (train, valid): (Vec<usize>, Vec<usize>) =
        (0..data.num_rows()).partition(|&i| ml_core::dataset::unit_uniform(11, i as u64) < 0.7);
    let mut p = pipeline();
    grid()[3].apply(&mut p).unwrap();
    let out = p
        .fit(&data.take(&train).unwrap())
        .unwrap()
        .transform(&data.take(&valid).unwrap())
        .unwrap();
    let metric = BinaryClassificationEvaluator::new().evaluate(&out).unwrap();
    assert_eq!(a.validation_metrics()[3], metric);
}

#[test]
fn bad_grids_and_settings_fail_before_any_fit() {
    let data = loans(300);
    let fits = Arc::new(AtomicUsize::new(0));
    let f = fits.clone();
    let bad = ParamGridBuilder::new()
        .add_grid("lr.reg_param", [0.1])
        .add_grid("lr.max_dept", [3i64])
        .build();
    let e = CrossValidator::new(pipeline(), BinaryClassificationEvaluator::new())
        .with_estimator_param_maps(bad)
        .on_progress(move |_| {
            f.fetch_add(1, Ordering::SeqCst);
        })
        .fit(&data)
        .unwrap_err();
    assert!(
        matches!(e, MlError::InvalidParam { ref param, ref message }
            if param == "lr.max_dept" && message.contains("estimator_param_maps[0]")),
        "{e}"
    );
    assert_eq!(fits.load(Ordering::SeqCst), 0);
    let e = CrossValidator::new(pipeline(), BinaryClassificationEvaluator::new())
        .with_estimator_param_maps(vec![])
        .fit(&data)
        .unwrap_err();
    assert!(e.to_string().contains("estimator_param_maps"), "{e}");
    let e = CrossValidator::new(pipeline(), BinaryClassificationEvaluator::new())
        .with_num_folds(1)
        .fit(&data)
        .unwrap_err();
    assert!(matches!(e, MlError::InvalidParam { ref param, .. } if param == "num_folds"));
    let e = CrossValidator::new(pipeline(), BinaryClassificationEvaluator::new())
        .fit(&data.slice(0, 2))
        .unwrap_err();
    assert!(e.to_string().contains("too few"), "{e}");
    let e = CrossValidator::new(pipeline(), BinaryClassificationEvaluator::new())
        .fit(&data.drop_columns(&["annual_inc"]).unwrap())
        .unwrap_err();
    assert!(matches!(e, MlError::ColumnNotFound { .. }), "{e}");
    // Settings by name, Spark spelling accepted.
    let mut cv = CrossValidator::new(pipeline(), BinaryClassificationEvaluator::new());
    cv.set_param("numFolds", 4i64.into()).unwrap();
    assert_eq!(cv.get_param("num_folds").unwrap(), 4i64.into());
    assert!(cv.set_param("parallelism", 0i64.into()).is_err());
}

#[test]
fn cross_validator_model_saves_and_loads() {
    let data = loans(300);
    let model = CrossValidator::new(pipeline(), BinaryClassificationEvaluator::new())
        .with_estimator_param_maps(grid()[..2].to_vec())
        .fit(&data)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cv.json");
    ml_core::persist::save(&model, &path).unwrap();
    let loaded: CrossValidatorModel = ml_core::persist::load_as(&path).unwrap();
    let json = std::fs::read_to_string(&path).unwrap();
    assert!(json.contains(r#""type":"CrossValidatorModel""#), "{json}");
    // Corrupted files fail to load with an error naming the file and the fault.
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    let mut bad_index = doc.clone();
    bad_index["model"]["best_index"] = 7.into();
    let mut bad_stage = doc.clone();
    bad_stage["model"]["best_model"]["stages"][0][1]["labels_array"] =
        serde_json::json!([["RENT", "RENT"]]);
    for (bad, expected) in [
        (bad_index, "best index 7 but 2 parameter maps"),
        (bad_stage, "best model: pipeline stage 'indexer'"),
    ] {
        let e = ml_core::persist::from_json(&bad.to_string(), &path).unwrap_err();
        assert!(
            matches!(e, MlError::Persistence { ref message, .. } if message.contains(expected)),
            "expected '{expected}' in: {e}"
        );
    }
    assert_eq!(loaded.avg_metrics(), model.avg_metrics());
    assert_eq!(loaded.best_param_map(), model.best_param_map());
    assert_eq!(
        loaded.transform(&data).unwrap().batch(),
        model.transform(&data).unwrap().batch()
    );
}
