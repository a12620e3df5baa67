//! The regression losses beyond squared error, continued training and per-row base margins,
//! through the public API: each loss lowers its own metric, quantile outputs cover their
//! alphas, bad parameters and labels are errors naming them, models save, load and move
//! through XGBoost's JSON format; 50 rounds and 50 more equal 100 rounds byte for byte.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array};
use ml_core::dataset::{unit_uniform, vector_column_from_vec};
use ml_core::stream::MemorySource;
use ml_core::{Dataset, Estimator, MlError, ParamValue, Params, Transformer};
use ml_tree::xgboost::{from_xgboost_json, to_xgboost_json};
use ml_tree::{GradientBoostedTrees, GradientBoostedTreesModel, Metric, Objective};

const D: usize = 4;

/// `n` rows of 4 features (one with missing values) and a label: `positive` labels are
/// `exp(z / 2)` times noise (counts-like, > 0), otherwise `z` plus skewed noise.
fn data(n: usize, seed: u64, positive: bool) -> (Dataset, Vec<f64>, Vec<f64>) {
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for i in 0..n {
        let u = |k: u64| unit_uniform(seed, i as u64 * 8 + k);
        let a = u(0) * 4.0 - 2.0;
        let b = u(1) * 4.0 - 2.0;
        let c = if u(2) < 0.1 { f64::NAN } else { u(3) };
        let e = (u(4) * 10.0).floor();
        x.extend([a, b, c, e]);
        let z = a - 0.5 * b * b + if c.is_nan() { 0.5 } else { c } + 0.1 * e;
        let noise = -(1.0 - u(5)).ln(); // exponential: skewed
        y.push(if positive {
            (z / 2.0).exp() * (0.2 + noise)
        } else {
            z + noise - 1.0
        });
    }
    let ds = Dataset::from_columns(vec![
        ("features", vector_column_from_vec(x.clone(), n, D)),
        ("label", Arc::new(Float64Array::from(y.clone())) as ArrayRef),
    ])
    .unwrap();
    (ds, x, y)
}

fn view(x: &[f64]) -> ndarray::ArrayView2<'_, f64> {
    ndarray::ArrayView2::from_shape((x.len() / D, D), x).unwrap()
}

fn gbt(obj: &str, rounds: i64) -> GradientBoostedTrees {
    let mut g = GradientBoostedTrees::new();
    g.set_param("objective", obj.into()).unwrap();
    g.set_param("num_round", ParamValue::Int(rounds)).unwrap();
    g.set_param("eta", ParamValue::Float(0.2)).unwrap();
    g.set_param("max_depth", ParamValue::Int(4)).unwrap();
    if obj == "reg:quantileerror" {
        g.set_param("quantile_alpha", ParamValue::FloatList(vec![0.1, 0.5, 0.9]))
            .unwrap();
    }
    g
}

/// The model's metric on the training rows, from its margins.
fn metric_of(m: &GradientBoostedTreesModel, metric: Metric, x: &[f64], y: &[f64]) -> f64 {
    let margins = m.predict_margins(view(x)).unwrap();
    let lp = m.loss.clone().unwrap_or_default();
    metric.evaluate_with(m.objective, &lp, &margins, m.num_class, y, None)
}

#[test]
fn every_loss_lowers_its_metric_below_the_base_score() {
    for (obj, positive) in [
        ("reg:absoluteerror", false),
        ("reg:pseudohubererror", false),
        ("reg:quantileerror", false),
        ("count:poisson", true),
        ("reg:tweedie", true),
        ("reg:gamma", true),
    ] {
        let (ds, x, y) = data(2000, 1, positive);
        let o: Objective = obj.parse().unwrap();
        let metric = Metric::default_for(o);
        let base = gbt(obj, 1)
            .with_eta(1e-9)
            .fit(&ds)
            .map(|m| metric_of(&m, metric, &x, &y))
            .unwrap();
        let model = gbt(obj, 30).fit(&ds).unwrap();
        let fitted = metric_of(&model, metric, &x, &y);
        assert!(
            fitted < base - 0.05 * base.abs(),
            "{obj}: {metric} {fitted} after 30 rounds, {base} at the base score"
        );
        // Saved and loaded, the model predicts the same bits.
        let json = serde_json::to_string(&model).unwrap();
        let back: GradientBoostedTreesModel = serde_json::from_str(&json).unwrap();
        assert_eq!(
            back.predict(view(&x)).unwrap(),
            model.predict(view(&x)).unwrap()
        );
        // Through XGBoost's JSON format, within f32 rounding of the leaves.
        let xgb = from_xgboost_json(&to_xgboost_json(&model).unwrap(), "<m>".as_ref()).unwrap();
        assert_eq!(xgb.objective, model.objective);
        assert_eq!(xgb.num_class, model.num_class);
        let (a, b) = (
            model.predict(view(&x)).unwrap(),
            xgb.predict(view(&x)).unwrap(),
        );
        for (p, q) in a.iter().zip(&b) {
            assert!(
                (p - q).abs() <= 1e-5 * p.abs().max(1.0),
                "{obj}: {p} vs {q}"
            );
        }
    }
}

#[test]
fn absolute_error_starts_from_the_median_and_log_links_from_the_mean() {
    let (ds, _, y) = data(999, 2, true);
    let mut sorted = y.clone();
    sorted.sort_by(f64::total_cmp);
    let m = gbt("reg:absoluteerror", 1).fit(&ds).unwrap();
    assert_eq!(m.base_score, (sorted[499] as f32) as f64);
    let m = gbt("count:poisson", 1).fit(&ds).unwrap();
    let mean = y.iter().sum::<f64>() / y.len() as f64;
    assert!((m.base_score - mean).abs() < 1e-6 * mean);
    assert!((m.base_margin() - m.base_score.ln()).abs() < 1e-15);
}

#[test]
fn quantile_outputs_cover_their_alphas_one_output_per_alpha() {
    let (ds, x, y) = data(3000, 3, false);
    let model = gbt("reg:quantileerror", 40).fit(&ds).unwrap();
    assert_eq!(model.num_class, 3);
    assert_eq!(model.base_scores.len(), 3);
    let p = model.predict(view(&x)).unwrap();
    for (j, alpha) in [0.1, 0.5, 0.9].into_iter().enumerate() {
        let below = (0..y.len()).filter(|&i| y[i] <= p[i * 3 + j]).count();
        let cover = below as f64 / y.len() as f64;
        assert!(
            (cover - alpha).abs() < 0.05,
            "alpha {alpha}: coverage {cover}"
        );
    }
    // The prediction column holds a vector of the three quantiles per row.
    let out = model.transform(&ds).unwrap();
    let pred = out.features("prediction").unwrap();
    assert_eq!(pred.dim(), (3000, 3));
    assert_eq!(pred[[7, 2]], p[7 * 3 + 2]);
}

#[test]
fn log_link_predictions_are_the_exponential_of_the_margins() {
    let (ds, x, _) = data(500, 4, true);
    let model = gbt("reg:gamma", 5).fit(&ds).unwrap();
    let m = model.predict_margins(view(&x)).unwrap();
    let p = model.predict(view(&x)).unwrap();
    assert!(m.iter().zip(&p).all(|(m, p)| m.exp() == *p));
    let out = model.transform(&ds).unwrap();
    assert_eq!(out.f64_column("prediction").unwrap().value(3), p[3]);
}

#[test]
fn bad_loss_parameters_and_labels_are_errors_naming_them() {
    let mut g = GradientBoostedTrees::new();
    g.set_param("objective", "reg:tweedie".into()).unwrap();
    let e = g
        .set_param("tweedie_variance_power", ParamValue::Float(2.5))
        .unwrap_err();
    assert!(e.to_string().contains("'tweedie_variance_power'"), "{e}");
    let (ds, _, _) = data(50, 5, false);
    let e = GradientBoostedTrees::new()
        .with_objective(Objective::QuantileError)
        .fit(&ds)
        .unwrap_err();
    assert!(e.to_string().contains("'quantile_alpha'"), "{e}");
    let e = GradientBoostedTrees::new()
        .with_objective(Objective::PseudoHuberError)
        .with_huber_slope(0.0)
        .fit(&ds)
        .unwrap_err();
    assert!(e.to_string().contains("'huber_slope'"), "{e}");
    // Negative labels for a count loss: the label column and the row are named.
    for obj in [Objective::Poisson, Objective::Gamma, Objective::Tweedie] {
        let e = GradientBoostedTrees::new()
            .with_objective(obj)
            .fit(&ds)
            .unwrap_err();
        assert!(matches!(e, MlError::InvalidValue { .. }), "{obj}: {e:?}");
        assert!(e.to_string().contains("label"), "{e}");
    }
}

/// The saved model document as bytes.
fn bytes(m: &GradientBoostedTreesModel) -> String {
    ml_core::persist::to_json(m).unwrap()
}

#[test]
fn fifty_rounds_and_fifty_more_equal_a_hundred_rounds_byte_for_byte() {
    for (obj, positive) in [
        ("reg:squarederror", false),
        ("binary:logistic", false),
        ("reg:absoluteerror", false),
        ("reg:quantileerror", false),
        ("count:poisson", true),
    ] {
        let (mut ds, x, y) = data(1500, 6, positive);
        if obj == "binary:logistic" {
            let yb: Vec<f64> = y.iter().map(|&v| (v > 0.0) as i32 as f64).collect();
            ds = Dataset::from_columns(vec![
                ("features", vector_column_from_vec(x.clone(), yb.len(), D)),
                ("label", Arc::new(Float64Array::from(yb)) as ArrayRef),
            ])
            .unwrap();
        }
        let sampled = |g: GradientBoostedTrees| {
            g.with_subsample(0.8)
                .with_colsample_bytree(0.75)
                .with_seed(5)
        };
        let whole = sampled(gbt(obj, 100)).fit(&ds).unwrap();
        let half = sampled(gbt(obj, 50)).fit(&ds).unwrap();
        let more = sampled(gbt(obj, 50))
            .with_xgb_model(half.clone())
            .fit(&ds)
            .unwrap();
        assert_eq!(more.num_rounds(), 100);
        assert!(
            bytes(&more) == bytes(&whole),
            "{obj}: 50 + 50 rounds differ from 100"
        );
        // Continuing from the saved and loaded model is the same.
        let loaded: GradientBoostedTreesModel =
            serde_json::from_str(&serde_json::to_string(&half).unwrap()).unwrap();
        let again = sampled(gbt(obj, 50))
            .with_xgb_model(loaded)
            .fit(&ds)
            .unwrap();
        assert!(
            bytes(&again) == bytes(&whole),
            "{obj}: continuing a loaded model differs"
        );
    }
}

#[test]
fn continuing_needs_a_model_of_the_same_objective_and_width() {
    let (ds, _, _) = data(300, 7, false);
    let m = gbt("reg:squarederror", 2).fit(&ds).unwrap();
    let e = gbt("reg:absoluteerror", 2)
        .with_xgb_model(m.clone())
        .fit(&ds)
        .unwrap_err();
    assert!(e.to_string().contains("'xgb_model'"), "{e}");
    let mut narrow = m;
    narrow.num_features = 3;
    let e = gbt("reg:squarederror", 2)
        .with_xgb_model(narrow)
        .fit(&ds)
        .unwrap_err();
    assert!(e.to_string().contains("'xgb_model'"), "{e}");
}

#[test]
fn a_base_margin_column_starts_each_row_from_its_margin() {
    let (ds, x, _) = data(1200, 8, false);
    // Without sampling, training from the margins of a 20-round model as base margins grows
    // the trees that continuing that model grows.
    let first = gbt("reg:squarederror", 20).fit(&ds).unwrap();
    let margins = first.predict_margins(view(&x)).unwrap();
    let with_margin = ds
        .with_column(
            "bm",
            Arc::new(Float64Array::from(margins.clone())) as ArrayRef,
        )
        .unwrap();
    let from_margin = gbt("reg:squarederror", 10)
        .with_base_margin_col(Some("bm".into()))
        .fit(&with_margin)
        .unwrap();
    let continued = gbt("reg:squarederror", 10)
        .with_xgb_model(first.clone())
        .fit(&ds)
        .unwrap();
    assert_eq!(from_margin.trees[..], continued.trees[20..]);
    // Scoring data with the column adds the trees to it.
    let out = from_margin.transform(&with_margin).unwrap();
    let p = out.f64_column("prediction").unwrap();
    let want = continued.predict(view(&x)).unwrap();
    for i in [0, 17, 1199] {
        assert!(
            (p.value(i) - want[i]).abs() < 1e-9,
            "{} vs {}",
            p.value(i),
            want[i]
        );
    }
    assert_eq!(
        from_margin.get_param("base_margin_col").unwrap(),
        ParamValue::Str("bm".into())
    );
    // xgboost4j-spark's spelling sets the same parameter.
    let mut spark = GradientBoostedTrees::new();
    spark
        .set_param("baseMarginCol", ParamValue::Str("bm".into()))
        .unwrap();
    assert_eq!(spark.base_margin_col.as_deref(), Some("bm"));
    // A missing margin is an error naming the column.
    let mut bad = margins;
    bad[5] = f64::NAN;
    let bad = ds
        .with_column("bm", Arc::new(Float64Array::from(bad)) as ArrayRef)
        .unwrap();
    let e = gbt("reg:squarederror", 2)
        .with_base_margin_col(Some("bm".into()))
        .fit(&bad)
        .unwrap_err();
    assert!(e.to_string().contains("bm"), "{e}");
}

#[test]
fn base_margins_and_continued_training_stream_from_batches_to_the_same_model() {
    let (ds, x, _) = data(700, 10, false);
    let first = gbt("reg:pseudohubererror", 5).fit(&ds).unwrap();
    let margins = first.predict_margins(view(&x)).unwrap();
    let with_margin = ds
        .with_column("bm", Arc::new(Float64Array::from(margins)) as ArrayRef)
        .unwrap();
    let estimators = [
        gbt("reg:pseudohubererror", 4).with_base_margin_col(Some("bm".into())),
        gbt("reg:pseudohubererror", 4).with_xgb_model(first),
    ];
    for g in estimators {
        let whole = bytes(&g.fit(&with_margin).unwrap());
        for rows in [1, 97] {
            let source = MemorySource::from_dataset(&with_margin, rows).unwrap();
            assert!(
                bytes(&g.fit_source(&source).unwrap()) == whole,
                "batches of {rows}"
            );
        }
    }
}

#[test]
fn continuing_an_imported_xgboost_model_adds_rounds_to_it() {
    let (ds, x, _) = data(800, 9, true);
    let ours = gbt("count:poisson", 10).fit(&ds).unwrap();
    let imported = from_xgboost_json(&to_xgboost_json(&ours).unwrap(), "<m>".as_ref()).unwrap();
    let more = gbt("count:poisson", 5)
        .with_xgb_model(imported.clone())
        .fit(&ds)
        .unwrap();
    assert_eq!(more.num_rounds(), 15);
    assert_eq!(more.trees[..10], imported.trees[..]);
    let (_, _, y) = data(800, 9, true);
    let nll = |m: &GradientBoostedTreesModel| metric_of(m, Metric::PoissonNLogLik, &x, &y);
    assert!(nll(&more) < nll(&imported));
}

#[test]
fn evaluation_metrics_use_xgboost_names_and_rounds_continue_from_the_model() {
    let (ds, _, _) = data(1500, 11, true);
    let (ev, _, _) = data(500, 12, true);
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    let g = gbt("reg:tweedie", 5)
        .with_eval_set(ev.clone())
        .with_callback(move |info| {
            log.lock()
                .unwrap()
                .push((info.round, info.metrics[0].0.clone()));
            true
        });
    let (first, hist) = g.fit_with_history(&ds).unwrap();
    assert_eq!(hist.len(), 5);
    assert!(hist[4] < hist[0], "{hist:?}");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen[0], (0, "eval-tweedie-nloglik@1.5".to_string()));
    // Continuing with early stopping: rounds are numbered after the model's, and the kept
    // rounds include the model's.
    let rounds = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = rounds.clone();
    let (more, _) = gbt("reg:tweedie", 200)
        .with_eval_set(ev)
        .with_early_stopping_rounds(Some(3))
        .with_xgb_model(first)
        .with_callback(move |info| {
            log.lock().unwrap().push(info.round);
            true
        })
        .fit_with_history(&ds)
        .unwrap();
    assert_eq!(rounds.lock().unwrap()[0], 5);
    let best = more.best_iteration.expect("stopped early");
    assert!(best >= 5 && more.num_rounds() == best + 1, "{best}");
}

#[test]
fn max_delta_step_clips_every_leaf_step() {
    let (ds, _, _) = data(800, 13, false);
    for (obj, mds, expect) in [
        ("reg:squarederror", Some(0.05), 0.05),
        // count:poisson's default, XGBoost's: 0.7.
        ("count:poisson", None, 0.7),
    ] {
        let (ds, eta) = if obj == "count:poisson" {
            (data(800, 13, true).0, 0.2)
        } else {
            (ds.clone(), 0.2)
        };
        let m = gbt(obj, 5).with_max_delta_step(mds).fit(&ds).unwrap();
        let largest = m
            .trees
            .iter()
            .flat_map(|t| t.nodes.iter().filter(|n| n.is_leaf()))
            .map(|n| n.value.abs())
            .fold(0.0, f64::max);
        assert!(
            largest <= (expect * eta) as f32 as f64 + 1e-12,
            "{obj}: leaf step {largest} above {expect} * eta"
        );
    }
    // Without it, squared error's first steps are larger.
    let free = gbt("reg:squarederror", 1).fit(&ds).unwrap();
    assert!(free.trees[0]
        .nodes
        .iter()
        .any(|n| n.is_leaf() && n.value.abs() > 0.05 * 0.2));
}

#[test]
fn gamma_with_scale_pos_weight_starts_from_a_newton_step() {
    let (ds, _, y) = data(600, 14, true);
    let m = gbt("reg:gamma", 1)
        .with_scale_pos_weight(3.0)
        .fit(&ds)
        .unwrap();
    // At margin 0: g = 1 - y, h = y, rows of label 1 weighted 3 (none here: real labels).
    let g: f64 = y.iter().map(|&v| 1.0 - v).sum();
    let h: f64 = y.iter().sum();
    let want = ((-g / h).exp() as f32) as f64;
    assert!(
        (m.base_score - want).abs() < 1e-6 * want,
        "{} vs {want}",
        m.base_score
    );
}

#[test]
fn xgboost_models_of_the_losses_import_score_and_continue_as_in_xgboost() {
    // Fixture written by XGBoost 3.2 (its "provenance" field): per objective a 5-round model,
    // its predictions, and the predictions of XGBoost's own 5 more rounds (`xgb_model=`).
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/xgboost_losses.json"
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let rows = v["x"].as_array().unwrap();
    let n = rows.len();
    let x: Vec<f64> = rows
        .iter()
        .flat_map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_f64().unwrap_or(f64::NAN))
        })
        .collect();
    let xv = ndarray::ArrayView2::from_shape((n, 3), &x).unwrap();
    let nums = |v: &serde_json::Value| -> Vec<f64> {
        v.as_array()
            .unwrap()
            .iter()
            .flat_map(|e| match e.as_array() {
                Some(a) => a.iter().map(|x| x.as_f64().unwrap()).collect(),
                None => vec![e.as_f64().unwrap()],
            })
            .collect()
    };
    for case in v["cases"].as_array().unwrap() {
        let obj = case["objective"].as_str().unwrap();
        let model =
            from_xgboost_json(&case["model"].to_string(), std::path::Path::new(path)).unwrap();
        assert_eq!(model.objective.name(), obj);
        let theirs = nums(&case["predictions"]);
        let ours = model.predict(xv).unwrap();
        assert_eq!(ours.len(), theirs.len(), "{obj}");
        for (a, b) in ours.iter().zip(&theirs) {
            assert!(
                (a - b).abs() <= 1e-5 * b.abs().max(1.0),
                "{obj}: {a} vs {b}"
            );
        }
        // Five more rounds here, from the imported model.
        let y = nums(&case["y"]);
        let data = Dataset::from_columns(vec![
            ("features", vector_column_from_vec(x.clone(), n, 3)),
            ("label", Arc::new(Float64Array::from(y.clone())) as ArrayRef),
        ])
        .unwrap();
        let mut g = GradientBoostedTrees::new();
        g.set_param("objective", obj.into()).unwrap();
        if let Some(a) = case["params"].get("quantile_alpha") {
            g.set_param("quantile_alpha", ParamValue::FloatList(nums(a)))
                .unwrap();
        }
        let g = g
            .with_num_round(5)
            .with_max_depth(3)
            .with_eta(0.3)
            .with_xgb_model(model.clone());
        let more = g.fit(&data).unwrap();
        assert_eq!(more.num_rounds(), 10);
        let k = more.num_class;
        let lp = more.loss.clone().unwrap_or_default();
        let metric = Metric::default_for(more.objective);
        let theirs_more = nums(&case["continued_predictions"]);
        let margins_of = |p: &[f64]| -> Vec<f64> {
            p.iter()
                .map(|&v| {
                    if model.objective.has_log_link() {
                        v.ln()
                    } else {
                        v
                    }
                })
                .collect()
        };
        let m_ours = metric.evaluate_with(
            more.objective,
            &lp,
            &more.predict_margins(xv).unwrap(),
            k,
            &y,
            None,
        );
        let m_theirs =
            metric.evaluate_with(more.objective, &lp, &margins_of(&theirs_more), k, &y, None);
        let m_before = metric.evaluate_with(more.objective, &lp, &margins_of(&theirs), k, &y, None);
        assert!(m_ours < m_before, "{obj}: {m_ours} not below {m_before}");
        assert!(
            (m_ours - m_theirs).abs() <= 0.01 * m_theirs.abs(),
            "{obj}: {metric} {m_ours} after continuing here, XGBoost's {m_theirs}"
        );
    }
}
