//! Replays, on stable, what the fuzz target `xgboost_import` in `fuzz/` runs
//! (`ml_tree::testing::fuzz::xgboost_bytes`) on its seed corpus (`fuzz/seeds/xgboost_import`)
//! and on every input that once made it fail (`fuzz/regressions/xgboost_import`, one file per
//! fixed crash), and checks the limits those inputs led to.

use std::path::Path;

use ml_core::testing::fuzz::{fuzz_dir, replay};
use ml_core::MlError;
use ml_tree::testing::fuzz::xgboost_bytes;
use ml_tree::xgboost::{from_xgboost_json, to_xgboost_json};

#[test]
fn xgboost_import_inputs_replay_without_a_panic() {
    assert!(replay("xgboost_import", xgboost_bytes) >= 5);
}

/// The small XGBoost model of the test data, as a JSON value to edit.
fn small_model() -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/xgboost_small.json");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    doc["model"].clone()
}

/// The import error's message; panics unless it is a persistence error naming the file.
fn import_error(doc: &serde_json::Value) -> String {
    let origin = Path::new("hostile.json");
    match from_xgboost_json(&doc.to_string(), origin).unwrap_err() {
        MlError::Persistence { path, message } => {
            assert_eq!(path, origin);
            message
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn num_feature_and_num_class_are_bounded_before_anything_is_allocated() {
    let mut doc = small_model();
    doc["learner"]["learner_model_param"]["num_feature"] = "1e18".into();
    let m = import_error(&doc);
    assert!(
        m.contains("num_feature 1000000000000000000 is out of range"),
        "{m}"
    );
    doc["learner"]["learner_model_param"]["num_feature"] = "-3".into();
    assert!(import_error(&doc).contains("num_feature -3 is out of range"));
    let mut doc = small_model();
    doc["learner"]["learner_model_param"]["num_class"] = "4294967296".into();
    let m = import_error(&doc);
    assert!(
        m.contains("num_class 4294967296 is out of range (a whole number in 0..=65536)"),
        "{m}"
    );
}

#[test]
fn split_conditions_and_leaves_must_be_finite_f32_values() {
    for (node, value, what) in [
        (0, "1e39", "split condition"),
        (1, "NaN", "split condition"),
        (2, "inf", "split condition"),
        (7, "-1e39", "leaf value"),
    ] {
        let mut doc = small_model();
        let v: f64 = value.parse().unwrap();
        let tree = &mut doc["learner"]["gradient_booster"]["model"]["trees"][0];
        // JSON has no NaN or infinity: XGBoost's strings and huge numbers reach us instead.
        tree["split_conditions"][node] = if v.is_finite() {
            serde_json::json!(v)
        } else {
            serde_json::json!(value)
        };
        let m = import_error(&doc);
        assert!(
            m.contains(&format!("tree 0, node {node}: {what}"))
                && m.contains("is not a finite f32"),
            "{m}"
        );
    }
}

#[test]
fn base_score_is_rounded_to_f32_so_export_and_import_round_trip() {
    let mut doc = small_model();
    doc["learner"]["learner_model_param"]["base_score"] = "[0.30000000000000004]".into();
    let model = from_xgboost_json(&doc.to_string(), Path::new("m.json")).unwrap();
    assert_eq!(model.base_score, 0.3f32 as f64);
    let back = from_xgboost_json(&to_xgboost_json(&model).unwrap(), Path::new("e.json")).unwrap();
    assert_eq!(back.base_score.to_bits(), model.base_score.to_bits());
}

/// Writes the seeds: every XGBoost model of the test data (numeric, categorical, each loss)
/// and each one exported again by us. Refreshed with
/// `cargo test -p ml-tree --test fuzz_regressions -- --ignored`.
#[test]
#[ignore]
fn write_xgboost_seeds() {
    let dir = fuzz_dir().join("seeds/xgboost_import");
    std::fs::create_dir_all(&dir).unwrap();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let mut models = Vec::new();
    for name in ["xgboost_small", "xgboost_categorical", "xgboost_losses"] {
        let text = std::fs::read_to_string(data.join(format!("{name}.json"))).unwrap();
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        let mut found = Vec::new();
        collect_models(&doc, &mut found);
        for (i, m) in found.into_iter().enumerate() {
            models.push((format!("{name}_{i}"), m));
        }
    }
    for (name, model) in models {
        let text = model.to_string();
        std::fs::write(dir.join(format!("{name}.json")), &text).unwrap();
        if let Ok(m) = from_xgboost_json(&text, Path::new("seed.json")) {
            if let Ok(exported) = to_xgboost_json(&m) {
                std::fs::write(dir.join(format!("{name}.exported.json")), &exported).unwrap();
            }
        }
        xgboost_bytes(text.as_bytes());
    }
}

/// Every object with a `learner` field (an XGBoost model document) in `v`.
fn collect_models(v: &serde_json::Value, out: &mut Vec<serde_json::Value>) {
    match v {
        serde_json::Value::Object(o) if o.contains_key("learner") => out.push(v.clone()),
        serde_json::Value::Object(o) => o.values().for_each(|c| collect_models(c, out)),
        serde_json::Value::Array(a) => a.iter().for_each(|c| collect_models(c, out)),
        _ => {}
    }
}
