//! What the fuzz targets in `fuzz/` run for ml-tree, and the regression tests replay on
//! stable: a function feeds arbitrary bytes to a reader and returns normally whatever they
//! hold. An error is a fine answer; a panic, an abort, a hang or an unbounded allocation is a
//! bug. Where two ways must agree, a disagreement panics too.

use std::path::Path;

use ndarray::Array2;

use crate::model::GradientBoostedTreesModel;
use crate::xgboost::{from_xgboost_json, to_xgboost_json};

/// Models wider than this are imported but not scored (the rows would take
/// `rows x num_feature` values; the import bounds `num_feature` itself).
const MAX_SCORED_FEATURES: usize = 1 << 16;

/// XGBoost JSON import ([`from_xgboost_json`]) of the bytes. A model that imports scores a
/// few rows (NaN, zeros, negative and fractional values, category codes past any set, huge
/// and infinite values, and each split's own threshold); it must export
/// ([`to_xgboost_json`]) — or be refused as the export documents — and the export must import
/// back to a model that gives the same predictions, bit for bit.
pub fn xgboost_bytes(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(model) = from_xgboost_json(text, Path::new("fuzz.json")) else {
        return;
    };
    let x = rows(&model);
    let before = x.as_ref().map(|x| {
        model
            .predict(x.view())
            .expect("an imported model scores rows of its width")
    });
    let Ok(json) = to_xgboost_json(&model) else {
        return;
    };
    let again = from_xgboost_json(&json, Path::new("exported.json"))
        .unwrap_or_else(|e| panic!("an exported model does not import back: {e}\n{json}"));
    assert_eq!(again.num_features, model.num_features);
    assert_eq!(again.num_class, model.num_class);
    assert_eq!(again.trees.len(), model.trees.len());
    if let (Some(x), Some(before)) = (x, before) {
        let after = again.predict(x.view()).expect("scores");
        assert_eq!(before.len(), after.len());
        for (i, (a, b)) in before.iter().zip(&after).enumerate() {
            assert!(
                a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
                "prediction {i} changed across export and import: {a} vs {b}\n{json}"
            );
        }
    }
}

/// The rows scored: one row per special value (every feature set to it) and one per split
/// (its feature at its threshold, the others NaN), at most 64 of the latter.
fn rows(model: &GradientBoostedTreesModel) -> Option<Array2<f64>> {
    let d = model.num_features;
    if d == 0 || d > MAX_SCORED_FEATURES {
        return None;
    }
    let specials = [
        f64::NAN,
        0.0,
        1.0,
        2.0,
        -1.0,
        2.5,
        63.0,
        64.0,
        1e9,
        16_777_216.0,
        f64::MAX,
        f64::INFINITY,
        f64::NEG_INFINITY,
        -0.0,
    ];
    let splits: Vec<(usize, f64)> = model
        .trees
        .iter()
        .flat_map(|t| &t.nodes)
        .filter(|n| !n.is_leaf())
        .map(|n| (n.feature as usize, n.threshold as f64))
        .take(64)
        .collect();
    let n = specials.len() + splits.len();
    let mut x = Array2::from_elem((n, d), f64::NAN);
    for (r, &v) in specials.iter().enumerate() {
        x.row_mut(r).fill(v);
    }
    for (k, &(f, t)) in splits.iter().enumerate() {
        if f < d {
            x[(specials.len() + k, f)] = t;
        }
    }
    Some(x)
}
