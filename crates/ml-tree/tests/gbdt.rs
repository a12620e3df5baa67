//! Model-level tests through the public API.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array};
use arrow::datatypes::{DataType, Field};
use ml_core::attributes::{with_vector_attributes, Attribute};
use ml_core::dataset::{vector_column_from_vec, vector_type};
use ml_core::stream::BatchSource;
use ml_core::{Dataset, Estimator, MlError, ParamValue, Params, Transformer};
use ml_tree::xgboost::{from_xgboost_json, to_xgboost_json};
use ml_tree::{GradientBoostedTrees, GradientBoostedTreesModel, ImportanceType, Metric, Objective};

fn uniform(seed: u64, i: u64) -> f64 {
    ml_core::dataset::unit_uniform(seed, i)
}

/// n rows, 4 numeric features (one with 10% NaN) and a binary label from a noisy logistic
/// model; optionally a categorical slot 4 with 12 categories carrying most of the signal.
fn binary_data(n: usize, seed: u64, with_cat: bool) -> Dataset {
    let d = if with_cat { 5 } else { 4 };
    let effect = [
        1.5, -1.0, 0.2, 2.0, -2.0, 0.0, 1.0, -0.5, 0.7, -1.7, 0.3, 1.1,
    ];
    let mut x = Vec::with_capacity(n * d);
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        let u = |k: u64| uniform(seed, i as u64 * 16 + k);
        let a = u(0) * 4.0 - 2.0;
        let b = u(1) * 4.0 - 2.0;
        let c = if u(2) < 0.1 { f64::NAN } else { u(3) * 10.0 };
        let e = (u(4) * 100.0).floor();
        let mut z = a * 1.2 - b * b * 0.5 + if c.is_nan() { 1.0 } else { (c - 5.0) * 0.2 };
        x.extend([a, b, c, e]);
        if with_cat {
            let k = (u(5) * 12.0).floor();
            x.push(k);
            z += effect[k as usize];
        }
        let p = 1.0 / (1.0 + (-z).exp());
        y.push(if u(6) < p { 1.0 } else { 0.0 });
    }
    let mut field = Field::new("features", vector_type(d), false);
    if with_cat {
        let mut attrs: Vec<Attribute> = ["a", "b", "c", "e"]
            .iter()
            .map(|s| Attribute::numeric(*s))
            .collect();
        attrs.push(Attribute::Nominal {
            name: Some("k".into()),
            num_values: 12,
            values: None,
        });
        field = with_vector_attributes(field, &attrs);
    }
    Dataset::from_fields(
        vec![field, Field::new("label", DataType::Float64, false)],
        vec![
            vector_column_from_vec(x, n, d),
            Arc::new(Float64Array::from(y)) as ArrayRef,
        ],
    )
    .unwrap()
}

fn probs(model: &GradientBoostedTreesModel, data: &Dataset) -> Vec<f64> {
    model.predict(data.features("features").unwrap()).unwrap()
}

fn test_auc(model: &GradientBoostedTreesModel, data: &Dataset) -> f64 {
    ml_core::metrics::roc_auc(
        &probs(model, data),
        data.f64_column("label").unwrap().values(),
        None,
    )
    .unwrap()
}

#[test]
fn same_seed_gives_bit_identical_models_at_one_and_two_threads() {
    let data = binary_data(20_000, 3, true);
    let mut gbt = GradientBoostedTrees::new();
    gbt.num_round = 8;
    gbt.subsample = 0.8;
    gbt.colsample_bytree = 0.8;
    gbt.seed = 11;
    gbt.n_threads = 1;
    let m1 = gbt.fit(&data).unwrap();
    gbt.n_threads = 2;
    let m2 = gbt.fit(&data).unwrap();
    assert_eq!(m1, m2);
    let (j1, j2) = (
        ml_core::persist::to_json(&m1).unwrap(),
        ml_core::persist::to_json(&m2).unwrap(),
    );
    assert_eq!(j1, j2);
    gbt.seed = 12;
    assert_ne!(
        gbt.fit(&data).unwrap(),
        m1,
        "another seed samples other rows"
    );
}

#[test]
fn learns_the_signal_and_categorical_splits_beat_treating_codes_as_numbers() {
    let train = binary_data(8000, 1, true);
    let test = binary_data(4000, 2, true);
    let mut gbt = GradientBoostedTrees::new();
    gbt.num_round = 30;
    gbt.eta = 0.2;
    gbt.max_depth = 2;
    let model = gbt.fit(&train).unwrap();
    assert!(
        model.trees.iter().any(|t| !t.categories.is_empty()),
        "subset splits used"
    );
    let with_cats = test_auc(&model, &test);
    // The same data without the nominal marking: codes are split as numbers.
    let strip = |d: &Dataset| {
        let f = Field::new("features", vector_type(5), false);
        d.replace_column(f, d.column("features").unwrap().clone())
            .unwrap()
    };
    let numeric = gbt.fit(&strip(&train)).unwrap();
    let as_numbers = test_auc(&numeric, &strip(&test));
    assert!(with_cats > 0.75, "auc {with_cats}");
    assert!(
        with_cats > as_numbers + 0.005,
        "{with_cats} vs {as_numbers}"
    );
}

#[test]
fn transform_adds_spark_columns() {
    let data = binary_data(2000, 4, false);
    let mut gbt = GradientBoostedTrees::new();
    gbt.num_round = 5;
    let model = gbt.fit(&data).unwrap();
    let out = model.transform(&data).unwrap();
    let p = probs(&model, &data);
    let prob = out.features("probability").unwrap();
    let raw = out.features("rawPrediction").unwrap();
    let pred = out.f64_column("prediction").unwrap();
    for i in 0..10 {
        assert!(
            (prob[[i, 1]] - p[i]).abs() < 1e-12
                && (prob[[i, 0]] + prob[[i, 1]] - 1.0).abs() < 1e-12
        );
        assert_eq!(raw[[i, 0]], -raw[[i, 1]]);
        assert_eq!(pred.value(i), if p[i] > 0.5 { 1.0 } else { 0.0 });
    }
    let schema = model.transform_schema(&data.schema()).unwrap();
    assert_eq!(schema.fields().len(), out.schema().fields().len());
}

/// A source whose every read after the first gives `later` batches of the first read's.
#[derive(Debug)]
struct Shrinking {
    batches: Vec<arrow::record_batch::RecordBatch>,
    later: usize,
    opened: AtomicUsize,
}

impl BatchSource for Shrinking {
    fn schema(&self) -> ml_core::Result<arrow::datatypes::SchemaRef> {
        Ok(self.batches[0].schema())
    }
    fn open(&self) -> ml_core::Result<ml_core::stream::BatchIter<'_>> {
        let take = if self.opened.fetch_add(1, Ordering::SeqCst) == 0 {
            self.batches.len()
        } else {
            self.later
        };
        Ok(Box::new(self.batches[..take].iter().cloned().map(Ok)))
    }
}

#[test]
fn streamed_training_names_the_row_of_the_source_and_reads_small_values_once() {
    let data = binary_data(400, 9, false);
    let gbt = GradientBoostedTrees::new();
    let mut ys: Vec<f64> = data.f64_column("label").unwrap().values().to_vec();
    ys[250] = 3.0;
    let bad = data
        .replace_column(
            Field::new("label", DataType::Float64, true),
            Arc::new(Float64Array::from(ys)) as ArrayRef,
        )
        .unwrap();
    // Row 250 is row 56 of the third batch of 97: the error names the source's row.
    let source = ml_core::stream::MemorySource::from_dataset(&bad, 97).unwrap();
    match gbt.fit_source(&source) {
        Err(MlError::InvalidValue { column, row, .. }) => {
            assert_eq!((column.as_str(), row), ("label", 250))
        }
        other => panic!("{other:?}"),
    }
    // A missing label in row 250 too (it was counted within its batch: row 56).
    let mut ys: Vec<f64> = data.f64_column("label").unwrap().values().to_vec();
    ys[250] = f64::NAN;
    let missing = data
        .replace_column(
            Field::new("label", DataType::Float64, true),
            Arc::new(Float64Array::from(ys)) as ArrayRef,
        )
        .unwrap();
    let source = ml_core::stream::MemorySource::from_dataset(&missing, 97).unwrap();
    match gbt.fit_source(&source) {
        Err(MlError::InvalidValue {
            column,
            row,
            message,
        }) => {
            assert_eq!((column.as_str(), row), ("label", 250), "{message}");
            assert!(message.contains("missing label"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    let batches = ml_core::stream::MemorySource::from_dataset(&data, 100)
        .unwrap()
        .open()
        .unwrap()
        .map(|b| b.unwrap())
        .collect();
    let shrinking = Shrinking {
        batches,
        later: 3,
        opened: AtomicUsize::new(0),
    };
    // Every feature has at most 400 distinct values, so the first read keeps them as codes
    // and the rows are binned from those: the source is read once, and a source that would
    // give other rows on a second read trains the model of its first. (A source read twice
    // and changing between the reads is refused: `gather`'s unit tests.)
    let model = gbt.fit_source(&shrinking).unwrap();
    assert_eq!(shrinking.opened.load(Ordering::SeqCst), 1);
    let x = data.features("features").unwrap();
    assert_eq!(
        model.predict_margins(x).unwrap(),
        gbt.fit(&data).unwrap().predict_margins(x).unwrap()
    );
}

#[test]
fn bad_input_gives_typed_errors() {
    let data = binary_data(100, 5, false);
    let gbt = GradientBoostedTrees::new();
    let with_labels = |ys: Vec<f64>| {
        data.replace_column(
            Field::new("label", DataType::Float64, true),
            Arc::new(Float64Array::from(ys)) as ArrayRef,
        )
        .unwrap()
    };
    let mut ys: Vec<f64> = data.f64_column("label").unwrap().values().to_vec();
    ys[7] = 2.0;
    match gbt.fit(&with_labels(ys.clone())) {
        Err(MlError::InvalidValue { column, row, .. }) => {
            assert_eq!((column.as_str(), row), ("label", 7))
        }
        other => panic!("{other:?}"),
    }
    ys[7] = f64::NAN;
    assert!(matches!(
        gbt.fit(&with_labels(ys)),
        Err(MlError::InvalidValue { row: 7, .. })
    ));
    assert!(matches!(
        gbt.fit(&data.slice(0, 0)),
        Err(MlError::InvalidData(_))
    ));
    let mut bad = GradientBoostedTrees::new();
    assert!(matches!(
        bad.set_param("subsample", ParamValue::Float(0.0)),
        Err(MlError::InvalidParam { .. })
    ));
    assert!(bad
        .set_param("grow_policy", ParamValue::Str("random".into()))
        .is_err());
    bad.label_col = "nope".into();
    assert!(matches!(
        bad.fit(&data),
        Err(MlError::ColumnNotFound { .. })
    ));
    // Feature count mismatch at predict time.
    let model = GradientBoostedTrees::new().fit(&data).unwrap();
    let other = binary_data(50, 6, true);
    assert!(matches!(
        model.transform(&other),
        Err(MlError::InvalidData(_))
    ));
    assert!(model.transform_schema(&other.schema()).is_err());
    assert!(model.predict(other.features("features").unwrap()).is_err());
}

#[test]
fn save_load_round_trip_and_corrupt_files_are_errors() {
    let data = binary_data(3000, 7, true);
    let mut gbt = GradientBoostedTrees::new();
    gbt.num_round = 10;
    let model = gbt.fit(&data).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gbt.json");
    model.save(&path).unwrap();
    let back = GradientBoostedTreesModel::load(&path).unwrap();
    assert_eq!(back, model);
    let any = ml_core::persist::load(&path).unwrap();
    assert_eq!(
        any.transform(&data).unwrap().batch(),
        model.transform(&data).unwrap().batch()
    );

    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, &text[..text.len() / 2]).unwrap();
    assert!(matches!(
        GradientBoostedTreesModel::load(&path),
        Err(MlError::Persistence { .. })
    ));
    // Valid JSON, but a child index pointing outside the tree.
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["model"]["trees"][0]["nodes"][0]["left"] = serde_json::json!(100000);
    std::fs::write(&path, v.to_string()).unwrap();
    match GradientBoostedTreesModel::load(&path) {
        Err(MlError::Persistence { message, .. }) => {
            assert!(message.contains("child"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        GradientBoostedTreesModel::load(dir.path().join("missing.json")),
        Err(MlError::Io { .. })
    ));
}

/// Every load path checks the structure: the model's own `load`, `persist::load` (as a
/// pipeline loads its stages) and plain serde; each corruption is a persistence error saying
/// what is wrong.
#[test]
fn corrupt_models_are_refused_by_every_load_path() {
    let data = binary_data(2000, 17, true);
    let mut gbt = GradientBoostedTrees::new();
    gbt.num_round = 4;
    gbt.max_depth = 3;
    let model = gbt.fit(&data).unwrap();
    let text = ml_core::persist::to_json(&model).unwrap();
    let good: serde_json::Value = serde_json::from_str(&text).unwrap();
    // The first tree with a categorical split, and one of its split nodes.
    let ti = model
        .trees
        .iter()
        .position(|t| !t.categories.is_empty())
        .expect("a categorical split");
    let split = model.trees[ti]
        .nodes
        .iter()
        .position(|n| !n.is_leaf())
        .unwrap();
    type Corrupt = Box<dyn Fn(&mut serde_json::Value)>;
    let cases: Vec<(&str, Corrupt)> = vec![
        (
            "feature 5 >= num_features 5",
            Box::new(move |v| v["model"]["trees"][ti]["nodes"][split]["feature"] = 5.into()),
        ),
        (
            "child index out of range",
            Box::new(move |v| v["model"]["trees"][ti]["nodes"][split]["right"] = 0.into()),
        ),
        (
            "does not fit its",
            Box::new(move |v| {
                v["model"]["trees"][ti]["categories"][0]["num_categories"] = 200.into()
            }),
        ),
        (
            "category set 9 does not exist",
            Box::new(move |v| {
                let nodes = v["model"]["trees"][ti]["nodes"].as_array_mut().unwrap();
                for n in nodes.iter_mut().filter(|n| !n["category_split"].is_null()) {
                    n["category_split"] = 9.into();
                }
            }),
        ),
        (
            "best_iteration 99",
            Box::new(|v| v["model"]["best_iteration"] = 99.into()),
        ),
        (
            "2 feature names for 5 features",
            Box::new(|v| v["model"]["feature_names"] = serde_json::json!(["a", "b"])),
        ),
        (
            "needs num_class 1",
            Box::new(|v| v["model"]["num_class"] = 3.into()),
        ),
        (
            "base_score",
            Box::new(|v| v["model"]["base_score"] = 1.5.into()),
        ),
        (
            "no nodes",
            Box::new(|v| v["model"]["trees"][1]["nodes"] = serde_json::json!([])),
        ),
        (
            "unknown variant",
            Box::new(|v| v["model"]["objective"] = "BinaryLogitRaw".into()),
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("corrupt.json");
    for (expect, corrupt) in &cases {
        let mut v = good.clone();
        corrupt(&mut v);
        std::fs::write(&path, v.to_string()).unwrap();
        for (via, result) in [
            ("load", GradientBoostedTreesModel::load(&path).err()),
            ("persist::load", ml_core::persist::load(&path).err()),
        ] {
            match result {
                Some(MlError::Persistence { path: p, message }) => {
                    assert_eq!(p, path, "{via}");
                    assert!(message.contains(expect), "{via}: {message}");
                }
                other => panic!("{expect} via {via}: {other:?}"),
            }
        }
        let e = serde_json::from_value::<GradientBoostedTreesModel>(v["model"].clone());
        assert!(e.is_err(), "{expect} via serde");
    }
    // The untouched document still loads, through every path.
    std::fs::write(&path, &text).unwrap();
    assert_eq!(GradientBoostedTreesModel::load(&path).unwrap(), model);
    assert!(ml_core::persist::load(&path).is_ok());
}

/// Setting a fitted model's column by name changes only its parameters.
#[test]
fn fitted_model_parameters_are_set_by_name() {
    let data = binary_data(500, 18, false);
    let mut model = GradientBoostedTrees::new().fit(&data).unwrap();
    let trees = model.trees.clone();
    model
        .set_param("predictionCol", ParamValue::Str("p".into()))
        .unwrap();
    assert_eq!(model.params.prediction_col, "p");
    assert_eq!(model.trees, trees);
    assert!(model.transform(&data).unwrap().column("p").is_ok());
    assert!(model.set_param("trees", ParamValue::None).is_err());
}

#[test]
fn xgboost_json_round_trip_keeps_predictions() {
    let data = binary_data(3000, 8, false);
    let mut gbt = GradientBoostedTrees::new();
    gbt.num_round = 10;
    let model = gbt.fit(&data).unwrap();
    let json = to_xgboost_json(&model).unwrap();
    let back = from_xgboost_json(&json, std::path::Path::new("mem")).unwrap();
    let (a, b) = (probs(&model, &data), probs(&back, &data));
    assert!(a.iter().zip(&b).all(|(p, q)| (p - q).abs() < 1e-6));
    assert!(from_xgboost_json("{\"learner\": 3}", std::path::Path::new("m")).is_err());
}

#[test]
fn categorical_models_round_trip_through_xgboost_json() {
    // Slot 4 holds 12 category codes; the trees split on subsets of them. Besides the codes
    // seen in training, the rows below carry NaN, codes never seen (12, 40, 1e6), negative and
    // fractional values: XGBoost's format sends every value outside a split's set one way and
    // NaN possibly the other, and the export orients each split so that both agree with ours.
    let data = binary_data(4000, 9, true);
    let mut gbt = GradientBoostedTrees::new();
    gbt.num_round = 15;
    gbt.max_depth = 4;
    let model = gbt.fit(&data).unwrap();
    let n_cat = model
        .trees
        .iter()
        .flat_map(|t| &t.nodes)
        .filter(|n| n.category_split.is_some())
        .count();
    assert!(n_cat > 5, "the model has categorical splits ({n_cat})");
    let json = to_xgboost_json(&model).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    let written: usize = doc["learner"]["gradient_booster"]["model"]["trees"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["categories_nodes"].as_array().unwrap().len())
        .sum();
    assert_eq!(written, n_cat, "every categorical split is written as one");
    let back = from_xgboost_json(&json, std::path::Path::new("mem")).unwrap();
    let odd = [f64::NAN, 12.0, 40.0, 1e6, -1.0, -0.5, 2.5, 0.0, 11.0, 5.0];
    let mut rows = Vec::new();
    for (i, v) in odd.iter().enumerate() {
        for a in [-1.5, 0.0, 1.5] {
            rows.extend([
                a,
                0.3 * i as f64 - 1.0,
                if i % 3 == 0 { f64::NAN } else { 4.0 },
                50.0,
                *v,
            ]);
        }
    }
    let x = ndarray::Array2::from_shape_vec((rows.len() / 5, 5), rows).unwrap();
    let (a, b) = (
        model.predict(x.view()).unwrap(),
        back.predict(x.view()).unwrap(),
    );
    for (p, q) in a.iter().zip(&b) {
        assert!((p - q).abs() < 1e-6, "{p} vs {q}");
    }
    let (a, b) = (probs(&model, &data), probs(&back, &data));
    assert!(a.iter().zip(&b).all(|(p, q)| (p - q).abs() < 1e-6));
    // The imported model (XGBoost's orientation) exports and imports back to itself.
    let again =
        from_xgboost_json(&to_xgboost_json(&back).unwrap(), std::path::Path::new("m")).unwrap();
    assert_eq!(again.trees, back.trees);
}

#[test]
fn early_stopping_keeps_the_best_round_and_the_callback_sees_each_round() {
    let train = binary_data(3000, 9, false);
    let eval = binary_data(2000, 10, false);
    let rounds = Arc::new(AtomicUsize::new(0));
    let r2 = rounds.clone();
    let mut gbt = GradientBoostedTrees::new()
        .with_eval_set(eval.clone())
        .with_callback(move |info| {
            assert_eq!(info.metrics[0].0, "eval-auc");
            r2.fetch_add(1, Ordering::SeqCst);
            true
        });
    gbt.num_round = 200;
    gbt.eta = 0.5;
    gbt.max_depth = 6;
    gbt.eval_metric = Some(Metric::Auc);
    gbt.early_stopping_rounds = Some(5);
    let (model, history) = gbt.fit_with_history(&train).unwrap();
    let best = model.best_iteration.unwrap();
    let ran = rounds.load(Ordering::SeqCst);
    assert!(ran < 200, "stopped early");
    assert_eq!(ran, best + 6);
    assert_eq!(model.num_rounds(), best + 1);
    let max = history.iter().copied().fold(f64::MIN, f64::max);
    assert_eq!(history[best], max);
    // The kept model scores the evaluation set at the best value.
    assert!((test_auc(&model, &eval) - max).abs() < 1e-9);
}

#[test]
fn regression_and_multiclass_objectives() {
    let n = 3000;
    let x: Vec<f64> = (0..n * 2).map(|i| uniform(21, i as u64)).collect();
    let yr: Vec<f64> = (0..n)
        .map(|i| 3.0 * x[2 * i] + (x[2 * i + 1] > 0.5) as i32 as f64)
        .collect();
    let yc: Vec<f64> = (0..n).map(|i| (x[2 * i] * 3.0).floor()).collect();
    let make = |y: Vec<f64>| {
        Dataset::from_columns(vec![
            ("features", vector_column_from_vec(x.clone(), n, 2)),
            ("label", Arc::new(Float64Array::from(y)) as ArrayRef),
        ])
        .unwrap()
    };
    let mut gbt = GradientBoostedTrees::new();
    gbt.objective = Objective::SquaredError;
    gbt.num_round = 50;
    let reg = make(yr.clone());
    let m = gbt.fit(&reg).unwrap();
    let p = probs(&m, &reg);
    let rmse = (p.iter().zip(&yr).map(|(a, b)| (a - b).powi(2)).sum::<f64>() / n as f64).sqrt();
    assert!(rmse < 0.05, "rmse {rmse}");
    let out = m.transform(&reg).unwrap();
    assert!(!out.has_column("probability"));
    let j = from_xgboost_json(&to_xgboost_json(&m).unwrap(), std::path::Path::new("m")).unwrap();
    assert!(probs(&j, &reg)
        .iter()
        .zip(&p)
        .all(|(a, b)| (a - b).abs() < 1e-5));

    gbt.objective = Objective::MultiSoftmax;
    gbt.num_class = 3;
    gbt.num_round = 10;
    let cls = make(yc.clone());
    let m = gbt.fit(&cls).unwrap();
    assert_eq!(m.trees.len(), 30);
    let pred = probs(&m, &cls);
    let acc = pred.iter().zip(&yc).filter(|(a, b)| a == b).count() as f64 / n as f64;
    assert!(acc > 0.98, "accuracy {acc}");
    let out = m.transform(&cls).unwrap();
    assert_eq!(out.vector_size("probability").unwrap(), 3);
    gbt.num_class = 2;
    assert!(matches!(gbt.fit(&cls), Err(MlError::InvalidValue { .. })));
}

#[test]
fn importances_count_splits_and_sum_gain_and_cover() {
    let data = binary_data(3000, 12, false);
    let mut gbt = GradientBoostedTrees::new();
    gbt.num_round = 5;
    gbt.max_depth = 3;
    let m = gbt.fit(&data).unwrap();
    let w = m.feature_importances(ImportanceType::Weight);
    let tg = m.feature_importances(ImportanceType::TotalGain);
    let g = m.feature_importances(ImportanceType::Gain);
    let tc = m.feature_importances(ImportanceType::TotalCover);
    let c = m.feature_importances(ImportanceType::Cover);
    let splits: usize = m.trees.iter().map(|t| t.nodes.len() - t.num_leaves()).sum();
    assert_eq!(w.iter().sum::<f64>() as usize, splits);
    for f in 0..4 {
        if w[f] > 0.0 {
            assert!((g[f] * w[f] - tg[f]).abs() < 1e-9 * tg[f].max(1.0));
            assert!((c[f] * w[f] - tc[f]).abs() < 1e-9 * tc[f].max(1.0));
        }
    }
    // Feature 0 (strong linear effect) gains more than feature 3 (noise).
    assert!(tg[0] > tg[3]);
    // Root cover is the hessian sum of all rows.
    let root = m.trees[0].nodes[0].cover;
    let p = m.base_score;
    assert!((root - 3000.0 * p * (1.0 - p)).abs() < 1e-3 * root);
}

#[test]
fn spark_and_xgboost_aliases_set_the_same_parameters() {
    let mut g = GradientBoostedTrees::new();
    g.set_param("maxIter", ParamValue::Int(7)).unwrap();
    g.set_param("stepSize", ParamValue::Float(0.05)).unwrap();
    g.set_param("maxBins", ParamValue::Int(64)).unwrap();
    g.set_param("reg_lambda", ParamValue::Float(2.0)).unwrap();
    assert_eq!(
        (g.num_round, g.eta, g.max_bin, g.lambda),
        (7, 0.05, 64, 2.0)
    );
    let d = GradientBoostedTrees::new();
    assert_eq!(
        (d.max_depth, d.eta, d.max_bin, d.min_child_weight),
        (6, 0.3, 256, 1.0)
    );
}

/// A fixture written by XGBoost 3.2 (see its "provenance" field): the model, the rows (NaN
/// written as null) and XGBoost's predictions of them; returns our predictions of the rows
/// with the imported model, XGBoost's, and the rows.
fn score_xgboost_fixture(name: &str) -> (Vec<f64>, Vec<f64>, ndarray::Array2<f64>) {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let model = from_xgboost_json(&v["model"].to_string(), std::path::Path::new(&path)).unwrap();
    let rows = v["x"].as_array().unwrap();
    let width = rows[0].as_array().unwrap().len();
    let x: Vec<f64> = rows
        .iter()
        .flat_map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_f64().unwrap_or(f64::NAN))
        })
        .collect();
    let x = ndarray::Array2::from_shape_vec((rows.len(), width), x).unwrap();
    let theirs = v["predictions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_f64().unwrap())
        .collect();
    (model.predict(x.view()).unwrap(), theirs, x)
}

#[test]
fn a_model_trained_by_xgboost_scores_the_same_here() {
    let (ours, theirs, x) = score_xgboost_fixture("xgboost_small.json");
    for (a, b) in ours.iter().zip(&theirs) {
        assert!((a - b).abs() < 1e-6, "{a} vs {b}");
    }
    assert!(
        x.iter().any(|v| v.is_nan()),
        "the fixture exercises default directions"
    );
}

#[test]
fn an_xgboost_categorical_model_scores_the_same_here() {
    // XGBoost's categorical splits send their set right and any other value left (unseen
    // codes 12, 40, 1000 and negative ones included), NaN the default way, which is right at
    // some of the fixture's splits: the import keeps both directions.
    let (ours, theirs, x) = score_xgboost_fixture("xgboost_categorical.json");
    assert_eq!(ours.len(), theirs.len());
    for (i, (a, b)) in ours.iter().zip(&theirs).enumerate() {
        assert!((a - b).abs() < 1e-6, "row {i} ({:?}): {a} vs {b}", x.row(i));
    }
    let distinct: std::collections::BTreeSet<u64> = ours.iter().map(|p| p.to_bits()).collect();
    assert!(distinct.len() > 10, "the rows reach many different leaves");
}

#[test]
fn category_sets_of_hostile_size_are_refused() {
    // Every split's set widened to XGBoost's largest code: 32 sets of 2 MiB each, past the
    // 32 MiB the import allows for a model's category sets.
    let path = format!(
        "{}/tests/data/xgboost_categorical.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    for t in v["model"]["learner"]["gradient_booster"]["model"]["trees"]
        .as_array_mut()
        .unwrap()
    {
        for c in t["categories"].as_array_mut().unwrap() {
            *c = serde_json::json!(16_777_215);
        }
    }
    let err = from_xgboost_json(&v["model"].to_string(), std::path::Path::new("big.json"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("MiB") && err.contains("big.json"), "{err}");
}

/// Twelve rounds on 1,003 rows of `binary_data` (seed 13), with or without the category
/// feature: the data and the model the fast-prediction tests compare walks on.
fn twelve_rounds(categorical: bool) -> (Dataset, GradientBoostedTreesModel) {
    let data = binary_data(1003, 13, categorical);
    let mut gbt = GradientBoostedTrees::new();
    gbt.num_round = 12;
    let m = gbt.fit(&data).unwrap();
    (data, m)
}

/// The margin of `row` walked through every tree of `m` by hand, one tree at a time.
fn walked_margin(m: &GradientBoostedTreesModel, row: &[f64]) -> f64 {
    m.trees
        .iter()
        .fold(m.base_margin(), |acc, t| acc + t.predict_row(row))
}

#[test]
fn fast_prediction_equals_walking_each_tree() {
    // The flat 16-byte-node predictor against the plain per-tree walk, on a model with
    // categorical splits (general walk) or only numeric ones (branch-free 8-row walk) and
    // missing values, for row counts that exercise the lockstep and its remainder.
    for categorical in [true, false] {
        let (data, m) = twelve_rounds(categorical);
        let x = data.features("features").unwrap();
        let fast = m.predict_margins(x).unwrap();
        for (i, f) in fast.iter().enumerate() {
            let row: Vec<f64> = x.row(i).to_vec();
            let s = walked_margin(&m, &row);
            assert_eq!(*f, s, "row {i} (categorical splits: {categorical})");
        }
    }
}

#[test]
fn fast_prediction_of_values_that_are_no_category_equals_walking_each_tree() {
    // The category feature (slot 4, 12 categories) given values no training row had: NaN,
    // unseen codes, negative, fractional, infinite and huge ones; each row is walked through
    // every tree by hand and by the flat predictor (its general walk, for categorical splits).
    let (data, m) = twelve_rounds(true);
    assert!(
        m.trees
            .iter()
            .any(|t| t.nodes.iter().any(|n| n.category_split.is_some())),
        "the model has categorical splits"
    );
    let odd = [
        f64::NAN,
        12.0,
        13.0,
        -1.0,
        -0.5,
        0.5,
        3.25,
        11.999,
        f64::INFINITY,
        f64::NEG_INFINITY,
        2_147_483_647.0,
        2_147_483_648.0,
        4_294_967_294.0,
        1e300,
        -0.0,
        0.0,
        7.0,
    ];
    let x = data.features("features").unwrap();
    let n = 3 * odd.len() + 5;
    let rows = ndarray::Array2::from_shape_fn((n, 5), |(i, j)| {
        if j == 4 {
            odd[i % odd.len()]
        } else {
            x[[i, j]]
        }
    });
    let fast = m.predict_margins(rows.view()).unwrap();
    for (i, f) in fast.iter().enumerate() {
        let row: Vec<f64> = rows.row(i).to_vec();
        let s = walked_margin(&m, &row);
        assert_eq!(*f, s, "row {i}, category value {}", row[4]);
    }
}

#[test]
fn models_of_single_leaves_predict_their_leaf_sums() {
    // A constant feature gives nothing to split on: every tree is one leaf, and the fast
    // predictor (which tests no feature) must still add each leaf.
    let n = 37;
    let y: Vec<f64> = (0..n).map(|i| (i % 3 == 0) as u8 as f64).collect();
    let data = Dataset::from_columns(vec![
        ("features", vector_column_from_vec(vec![1.0; n], n, 1)),
        ("label", Arc::new(Float64Array::from(y)) as ArrayRef),
    ])
    .unwrap();
    let mut gbt = GradientBoostedTrees::new();
    gbt.num_round = 5;
    let m = gbt.fit(&data).unwrap();
    assert!(m.trees.iter().all(|t| t.nodes.len() == 1), "stumps only");
    let x = data.features("features").unwrap();
    let expect = m.base_margin() + m.trees.iter().map(|t| t.nodes[0].value).sum::<f64>();
    assert!(expect != m.base_margin(), "leaves move the margin");
    for v in m.predict_margins(x).unwrap() {
        assert_eq!(v, expect);
    }
}
