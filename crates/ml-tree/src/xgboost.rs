//! Export to and import from XGBoost's JSON model format (`Booster.save_model("m.json")`).
//!
//! A model trained here can be scored by XGBoost (Python, JVM and so XGBoost4J-Spark), and an
//! XGBoost `gbtree` model can be scored here. Both sides compare features as `f32` against `f32`
//! thresholds, so predictions agree to float rounding of the leaf sums.
//!
//! Limits:
//! * Categorical (subset) splits are written and read as XGBoost 3 stores them
//!   (`split_type` 1, `categories_nodes`, `categories_segments`, `categories_sizes`,
//!   `categories`), and the categorical slots as `feature_types` `"c"`: XGBoost scores such a
//!   model on a plain numeric matrix of category codes, or with the same feature types and
//!   `enable_categorical`. XGBoost sends a split's set right and every other value left
//!   (codes it never saw, negative values), NaN the default way; the export orients each split
//!   so that it sends each value where ours does, and the import keeps XGBoost's directions
//!   ([`CategorySet::unknown_left`]). One difference is left: XGBoost truncates a fractional
//!   code (2.5 is category 2), here it is an unknown code. A model of numeric splits is written
//!   as before, byte for byte.
//! * Objectives `binary:logistic`, `reg:squarederror`, `multi:softmax`/`multi:softprob`
//!   (import), and the regression losses `reg:absoluteerror`, `reg:pseudohubererror`,
//!   `reg:quantileerror` (one output per alpha: `num_target` outputs, a base score each),
//!   `count:poisson`, `reg:tweedie`, `reg:gamma` with their parameters. Export of
//!   `multi:softmax` is refused (XGBoost 3's per-class intercepts are not written here).
//! * `gbtree` boosters with one tree per class and round (no `dart`, no `num_parallel_tree`).
//! * Feature names are not written, so XGBoost accepts a plain numeric matrix.
//!
//! ```
//! # use std::sync::Arc;
//! # use arrow::array::{ArrayRef, Float64Array};
//! # use ml_core::dataset::vector_column_from_vec;
//! # use ml_core::{Dataset, Estimator};
//! use ml_tree::xgboost::{from_xgboost_json, to_xgboost_json};
//! # let n = 100;
//! # let x: Vec<f64> = (0..n).map(|i| i as f64).collect();
//! # let y: Vec<f64> = (0..n).map(|i| (i % 3 == 0) as i32 as f64).collect();
//! # let data = Dataset::from_columns(vec![
//! #     ("features", vector_column_from_vec(x, n, 1)),
//! #     ("label", Arc::new(Float64Array::from(y)) as ArrayRef),
//! # ]).unwrap();
//! let model = ml_tree::GradientBoostedTrees::new().fit(&data).unwrap();
//! let json = to_xgboost_json(&model).unwrap();
//! let back = from_xgboost_json(&json, std::path::Path::new("<memory>")).unwrap();
//! let x = data.features("features").unwrap();
//! let (a, b) = (model.predict(x).unwrap(), back.predict(x).unwrap());
//! assert!(a.iter().zip(&b).all(|(p, q)| (p - q).abs() < 1e-6));
//! ```

use std::path::Path;

use serde_json::{json, Value};

use ml_core::{MlError, Result};

use crate::model::GradientBoostedTreesModel;
use crate::objective::Objective;
use crate::tree::{CategorySet, Node, Tree, LEAF};

const ROOT_PARENT: i64 = 2147483647;

fn fmt_f32(v: f64) -> String {
    format!("{:E}", v as f32)
}

/// A parameter value as XGBoost writes it (shortest `f32` form).
fn fmt_num(v: f64) -> String {
    format!("{}", v as f32)
}

/// The numbers of a string like `"[0.1,0.5]"` or `"0.5"`.
fn num_list(v: &Value, what: &str) -> std::result::Result<Vec<f64>, String> {
    match v {
        Value::String(s) => s
            .trim_matches(|c| c == '[' || c == ']')
            .split(',')
            .filter(|p| !p.trim().is_empty())
            .map(|p| {
                p.trim()
                    .parse::<f64>()
                    .map_err(|_| format!("bad number '{p}' in {what}"))
            })
            .collect(),
        other => num_str(other, what).map(|v| vec![v]),
    }
}

/// A tree's children, default directions and category sets as XGBoost writes them.
///
/// XGBoost's categorical split sends the categories of its set right and every other value
/// left (codes it never saw, negative values), NaN the default way. Ours sends its set left
/// and unknown codes the unknown direction ([`CategorySet::unknown_left`], by default the
/// node's default). So a split is written with XGBoost's left child where ours sends unknown
/// codes, and XGBoost's set is the known codes that go the other way.
struct XgbTree {
    left: Vec<i64>,
    right: Vec<i64>,
    default_left: Vec<i32>,
    categories: Vec<u32>,
    categories_nodes: Vec<usize>,
    categories_segments: Vec<usize>,
    categories_sizes: Vec<usize>,
}

impl XgbTree {
    fn of(t: &Tree) -> XgbTree {
        let m = t.nodes.len();
        let mut x = XgbTree {
            left: vec![-1; m],
            right: vec![-1; m],
            default_left: vec![0; m],
            categories: Vec::new(),
            categories_nodes: Vec::new(),
            categories_segments: Vec::new(),
            categories_sizes: Vec::new(),
        };
        for (i, n) in t.nodes.iter().enumerate() {
            if n.is_leaf() {
                continue;
            }
            let (mut l, mut r, mut dl) = (n.left, n.right, n.default_left);
            if let Some(s) = n.category_split {
                let set = &t.categories[s as usize];
                let unknown_left = set.unknown_left.unwrap_or(n.default_left);
                if !unknown_left {
                    (l, r, dl) = (r, l, !dl);
                }
                let begin = x.categories.len();
                x.categories.extend(
                    (0..set.num_categories).filter(|&c| set.contains(c as usize) != unknown_left),
                );
                x.categories_nodes.push(i);
                x.categories_segments.push(begin);
                x.categories_sizes.push(x.categories.len() - begin);
            }
            (x.left[i], x.right[i], x.default_left[i]) = (l as i64, r as i64, dl as i32);
        }
        x
    }
}

/// The model as XGBoost's JSON model document.
pub fn to_xgboost_json(model: &GradientBoostedTreesModel) -> Result<String> {
    let refuse = |m: &str| Err(MlError::data(format!("XGBoost export: {m}")));
    if model.objective == Objective::MultiSoftmax {
        return refuse("multi:softmax models are not exported (see the module docs)");
    }
    let mut trees = Vec::with_capacity(model.trees.len());
    for (id, t) in model.trees.iter().enumerate() {
        let x = XgbTree::of(t);
        let m = t.nodes.len();
        let mut parents = vec![ROOT_PARENT; m];
        for i in 0..m {
            if x.left[i] >= 0 {
                parents[x.left[i] as usize] = i as i64;
                parents[x.right[i] as usize] = i as i64;
            }
        }
        let leaf = |n: &Node| n.is_leaf();
        trees.push(json!({
            "base_weights": t.nodes.iter().map(|n| n.value as f32).collect::<Vec<_>>(),
            "categories": x.categories,
            "categories_nodes": x.categories_nodes,
            "categories_segments": x.categories_segments,
            "categories_sizes": x.categories_sizes,
            "default_left": x.default_left,
            "id": id,
            "left_children": x.left,
            "right_children": x.right,
            "loss_changes": t.nodes.iter().map(|n| n.gain as f32).collect::<Vec<_>>(),
            "parents": parents,
            "split_conditions": t.nodes.iter().map(|n| if leaf(n) { n.value as f32 } else if n.category_split.is_some() { 0.0 } else { n.threshold }).collect::<Vec<_>>(),
            "split_indices": t.nodes.iter().map(|n| if leaf(n) { 0 } else { n.feature }).collect::<Vec<_>>(),
            "split_type": t.nodes.iter().map(|n| n.category_split.is_some() as i32).collect::<Vec<_>>(),
            "sum_hessian": t.nodes.iter().map(|n| n.cover as f32).collect::<Vec<_>>(),
            "tree_param": {
                "num_deleted": "0",
                "num_feature": model.num_features.to_string(),
                "num_nodes": m.to_string(),
                "size_leaf_vector": "1"
            }
        }));
    }
    let n_trees = trees.len();
    let lp = model.loss.clone().unwrap_or_default();
    let objective = match model.objective {
        Objective::BinaryLogistic => {
            json!({"name": "binary:logistic", "reg_loss_param": {"scale_pos_weight": "1"}})
        }
        Objective::AbsoluteError => json!({"name": "reg:absoluteerror"}),
        Objective::PseudoHuberError => json!({"name": "reg:pseudohubererror",
            "pseudo_huber_param": {"huber_slope": fmt_num(lp.huber_slope)}}),
        Objective::QuantileError => json!({"name": "reg:quantileerror",
            "quantile_loss_param": {"quantile_alpha": format!("[{}]",
                lp.quantile_alpha.iter().map(|&a| fmt_num(a)).collect::<Vec<_>>().join(","))}}),
        Objective::Poisson => json!({"name": "count:poisson",
            "poisson_regression_param": {"max_delta_step": fmt_num(lp.max_delta_step)}}),
        Objective::Tweedie => json!({"name": "reg:tweedie",
            "tweedie_regression_param": {"tweedie_variance_power": fmt_num(lp.tweedie_variance_power)}}),
        Objective::Gamma => {
            json!({"name": "reg:gamma", "reg_loss_param": {"scale_pos_weight": "1"}})
        }
        _ => json!({"name": "reg:squarederror", "reg_loss_param": {"scale_pos_weight": "1"}}),
    };
    let k = model.num_class.max(1);
    let base_scores = if model.base_scores.len() == k {
        model.base_scores.clone()
    } else {
        vec![model.base_score; k]
    };
    let base_score = format!(
        "[{}]",
        base_scores
            .iter()
            .map(|&b| fmt_f32(b))
            .collect::<Vec<_>>()
            .join(",")
    );
    let doc = json!({
        "learner": {
            "attributes": {},
            "feature_names": [],
            "feature_types": feature_types(model),
            "gradient_booster": {
                "model": {
                    "cats": {"enc": [], "feature_segments": [], "sorted_idx": []},
                    "gbtree_model_param": {"num_parallel_tree": "1", "num_trees": n_trees.to_string()},
                    "iteration_indptr": (0..=n_trees / k).map(|r| r * k).collect::<Vec<_>>(),
                    "tree_info": (0..n_trees).map(|t| t % k).collect::<Vec<_>>(),
                    "trees": trees
                },
                "name": "gbtree"
            },
            "learner_model_param": {
                "base_score": base_score,
                "boost_from_average": "1",
                "num_class": "0",
                "num_feature": model.num_features.to_string(),
                "num_target": k.to_string()
            },
            "objective": objective
        },
        "version": [3, 2, 0]
    });
    serde_json::to_string(&doc).map_err(|e| MlError::data(format!("XGBoost export: {e}")))
}

/// XGBoost's `feature_types` of the model: empty for a model of numeric splits (its file
/// stays as before), else `"c"` for each slot some categorical split tests and `"q"` for the
/// others.
fn feature_types(model: &GradientBoostedTreesModel) -> Vec<&'static str> {
    let categorical: std::collections::BTreeSet<u32> = model
        .trees
        .iter()
        .flat_map(|t| &t.nodes)
        .filter(|n| n.category_split.is_some())
        .map(|n| n.feature)
        .collect();
    if categorical.is_empty() {
        return Vec::new();
    }
    (0..model.num_features as u32)
        .map(|f| if categorical.contains(&f) { "c" } else { "q" })
        .collect()
}

/// Writes the model as an XGBoost JSON model file (atomic write).
pub fn save_xgboost_json(model: &GradientBoostedTreesModel, path: impl AsRef<Path>) -> Result<()> {
    let json = to_xgboost_json(model)?;
    ml_core::persist::write_atomic(path.as_ref(), json.as_bytes())
}

/// Reads an XGBoost JSON model file.
pub fn load_xgboost_json(path: impl AsRef<Path>) -> Result<GradientBoostedTreesModel> {
    let path = path.as_ref();
    let s = std::fs::read_to_string(path).map_err(|e| MlError::io(path, e))?;
    from_xgboost_json(&s, path)
}

fn get<'a>(v: &'a Value, keys: &[&str]) -> std::result::Result<&'a Value, String> {
    let mut cur = v;
    for k in keys {
        cur = cur
            .get(k)
            .ok_or_else(|| format!("missing field '{}'", keys.join(".")))?;
    }
    Ok(cur)
}

fn num_str(v: &Value, what: &str) -> std::result::Result<f64, String> {
    match v {
        Value::Number(n) => n.as_f64().ok_or_else(|| format!("bad number in {what}")),
        Value::String(s) => s
            .trim_matches(|c| c == '[' || c == ']')
            .split(',')
            .next()
            .unwrap_or("")
            .trim()
            .parse::<f64>()
            .map_err(|_| format!("bad number '{s}' in {what}")),
        _ => Err(format!("{what} is not a number")),
    }
}

fn array<'a>(t: &'a Value, key: &str) -> std::result::Result<&'a Vec<Value>, String> {
    t.get(key)
        .and_then(Value::as_array)
        .ok_or_else(|| format!("tree field '{key}' is missing or not an array"))
}

fn nums(t: &Value, key: &str, m: usize) -> std::result::Result<Vec<f64>, String> {
    let a = array(t, key)?;
    if a.len() != m {
        return Err(format!(
            "tree field '{key}' has {} entries, expected {m}",
            a.len()
        ));
    }
    a.iter().map(|v| num_str(v, key)).collect()
}

/// Largest category code XGBoost accepts (its `OutOfRangeCat`, 2^24), plus one.
const MAX_CATEGORY: f64 = 16_777_216.0;

/// Most 64-bit words the category sets of one model may take (32 MiB): a set is as wide as
/// its largest code, so a few bytes of a hostile file could otherwise ask for megabytes each.
const MAX_CATEGORY_WORDS: usize = 1 << 22;

/// The category sets of a tree's categorical splits, by node: XGBoost's set (the codes it
/// sends right) becomes ours as the codes below its largest one that go left, with every
/// other value (codes past it included) going left too, as in XGBoost.
/// `words_left` is what remains of [`MAX_CATEGORY_WORDS`] for the model's sets.
fn categorical_splits(
    t: &Value,
    m: usize,
    words_left: &mut usize,
) -> std::result::Result<std::collections::HashMap<usize, CategorySet>, String> {
    let list = |key: &str| -> std::result::Result<Vec<f64>, String> {
        match t.get(key) {
            None => Ok(Vec::new()),
            Some(_) => nums(t, key, array(t, key)?.len()),
        }
    };
    let (nodes, segments, sizes, codes) = (
        list("categories_nodes")?,
        list("categories_segments")?,
        list("categories_sizes")?,
        list("categories")?,
    );
    if segments.len() != nodes.len() || sizes.len() != nodes.len() {
        return Err(
            "categories_nodes, categories_segments and categories_sizes differ in length".into(),
        );
    }
    let mut sets = std::collections::HashMap::new();
    for ((&node, &begin), &size) in nodes.iter().zip(&segments).zip(&sizes) {
        let (node, begin, size) = (node as usize, begin as usize, size as usize);
        let right = codes
            .get(begin..begin.saturating_add(size))
            .ok_or_else(|| format!("node {node}: category segment past the categories"))?;
        if node >= m {
            return Err(format!("categorical node {node} out of range"));
        }
        if let Some(bad) = right
            .iter()
            .find(|&&c| !(0.0..MAX_CATEGORY).contains(&c) || c.fract() != 0.0)
        {
            return Err(format!(
                "node {node}: category {bad} is not a code XGBoost accepts"
            ));
        }
        let k = right.iter().map(|&c| c as usize + 1).max().unwrap_or(0);
        *words_left = words_left.checked_sub(k.div_ceil(64)).ok_or_else(|| {
            format!(
                "node {node}: the category sets need more than {} MiB (codes up to {})",
                (MAX_CATEGORY_WORDS * 8) >> 20,
                k - 1
            )
        })?;
        let mut set = CategorySet::new(k);
        set.unknown_left = Some(true);
        let mut goes_right = vec![false; k];
        for &c in right {
            goes_right[c as usize] = true;
        }
        for (c, _) in goes_right.iter().enumerate().filter(|(_, &r)| !r) {
            set.insert(c);
        }
        sets.insert(node, set);
    }
    Ok(sets)
}

/// Most features an imported model may have (2^22): the import allocates per feature.
pub const MAX_FEATURES: usize = 1 << 22;

/// Most classes (outputs) an imported model may have (2^16).
pub const MAX_CLASSES: usize = 1 << 16;

/// A count read from the file: a whole number in `0..=max`, checked before anything is
/// allocated for it.
fn count(v: f64, what: &str, max: usize) -> std::result::Result<usize, String> {
    if v >= 0.0 && v <= max as f64 && v.fract() == 0.0 {
        Ok(v as usize)
    } else {
        Err(format!(
            "{what} {v} is out of range (a whole number in 0..={max})"
        ))
    }
}

/// `v` as XGBoost stores it (`f32`), when that is finite.
fn finite_f32(v: f64) -> Option<f32> {
    let f = v as f32;
    f.is_finite().then_some(f)
}

/// Parses an XGBoost JSON model document; `origin` names the source in errors.
///
/// Refused with [`MlError::Persistence`] naming `origin`: `num_feature` above
/// [`MAX_FEATURES`], `num_class` above [`MAX_CLASSES`], split conditions and leaf values that
/// are not finite `f32` values (XGBoost stores both as `f32`), and every structural fault.
/// Base scores are rounded to `f32`, as XGBoost keeps them.
pub fn from_xgboost_json(json: &str, origin: &Path) -> Result<GradientBoostedTreesModel> {
    parse(json).map_err(|message| MlError::Persistence {
        path: origin.to_path_buf(),
        message: format!("XGBoost model: {message}"),
    })
}

fn parse(json: &str) -> std::result::Result<GradientBoostedTreesModel, String> {
    let doc: Value = serde_json::from_str(json).map_err(|e| format!("invalid JSON: {e}"))?;
    let learner = get(&doc, &["learner"])?;
    let booster = get(learner, &["gradient_booster"])?;
    let name = get(booster, &["name"])?.as_str().unwrap_or("");
    if name != "gbtree" {
        return Err(format!("booster '{name}' is not supported (only gbtree)"));
    }
    let obj_name = get(learner, &["objective", "name"])?.as_str().unwrap_or("");
    let objective = match obj_name {
        "multi:softprob" => Objective::MultiSoftmax,
        other => other
            .parse::<Objective>()
            .map_err(|_| format!("objective '{other}' is not supported"))?,
    };
    let obj = get(learner, &["objective"])?;
    let param = |block: &str, key: &str| obj.get(block).and_then(|b| b.get(key));
    // XGBoost keeps these parameters as f32, and the export writes them so: rounded here,
    // so that a value beyond f32 is refused now rather than written as "inf".
    let f32_of = |v: f64| v as f32 as f64;
    let mut lp = crate::loss::LossParams::default();
    if let Some(v) = param("pseudo_huber_param", "huber_slope") {
        lp.huber_slope = f32_of(num_str(v, "huber_slope")?);
    }
    if let Some(v) = param("quantile_loss_param", "quantile_alpha") {
        lp.quantile_alpha = num_list(v, "quantile_alpha")?
            .into_iter()
            .map(f32_of)
            .collect();
    }
    if let Some(v) = param("poisson_regression_param", "max_delta_step") {
        lp.max_delta_step = f32_of(num_str(v, "max_delta_step")?);
    }
    if let Some(v) = param("tweedie_regression_param", "tweedie_variance_power") {
        lp.tweedie_variance_power = f32_of(num_str(v, "tweedie_variance_power")?);
    }
    let lmp = get(learner, &["learner_model_param"])?;
    // XGBoost keeps base scores as f32: rounded here as it reads them, so that a model
    // exported again (as f32) imports back to the same predictions.
    let base_scores: Vec<f64> = num_list(get(lmp, &["base_score"])?, "base_score")?
        .into_iter()
        .map(|b| b as f32 as f64)
        .collect();
    let base_score = *base_scores.first().ok_or("base_score is empty")?;
    let num_features = count(
        num_str(get(lmp, &["num_feature"])?, "num_feature")?,
        "num_feature",
        MAX_FEATURES,
    )?;
    let num_class = if objective == Objective::QuantileError {
        count(
            lp.quantile_alpha.len() as f64,
            "quantile_alpha (its length)",
            MAX_CLASSES,
        )?
        .max(1)
    } else {
        count(
            num_str(get(lmp, &["num_class"])?, "num_class")?,
            "num_class",
            MAX_CLASSES,
        )?
        .max(1)
    };
    let model = get(booster, &["model"])?;
    if let Ok(p) = get(model, &["gbtree_model_param", "num_parallel_tree"]) {
        if num_str(p, "num_parallel_tree")? as usize > 1 {
            return Err("num_parallel_tree > 1 is not supported".into());
        }
    }
    let tree_info = get(model, &["tree_info"])?
        .as_array()
        .ok_or("tree_info is not an array")?;
    let jtrees = get(model, &["trees"])?
        .as_array()
        .ok_or("trees is not an array")?;
    if tree_info.len() != jtrees.len() {
        return Err("tree_info and trees differ in length".into());
    }
    let mut trees = Vec::with_capacity(jtrees.len());
    let mut words_left = MAX_CATEGORY_WORDS;
    for (ti, t) in jtrees.iter().enumerate() {
        let class = num_str(&tree_info[ti], "tree_info")? as usize;
        if class != ti % num_class {
            return Err(format!(
                "tree {ti} is for class {class}, expected {}",
                ti % num_class
            ));
        }
        let lc = nums(t, "left_children", array(t, "left_children")?.len())?;
        let m = lc.len();
        let rc = nums(t, "right_children", m)?;
        let cond = nums(t, "split_conditions", m)?;
        let idx = nums(t, "split_indices", m)?;
        let dl = nums(t, "default_left", m)?;
        let loss = nums(t, "loss_changes", m).unwrap_or_else(|_| vec![0.0; m]);
        let hess = nums(t, "sum_hessian", m).unwrap_or_else(|_| vec![0.0; m]);
        let split_type = nums(t, "split_type", m).unwrap_or_else(|_| vec![0.0; m]);
        let mut cats =
            categorical_splits(t, m, &mut words_left).map_err(|e| format!("tree {ti}: {e}"))?;
        let mut categories = Vec::new();
        let mut nodes = Vec::with_capacity(m);
        for i in 0..m {
            if lc[i] < 0.0 {
                let value = finite_f32(cond[i]).ok_or_else(|| {
                    format!(
                        "tree {ti}, node {i}: leaf value {} is not a finite f32",
                        cond[i]
                    )
                })?;
                nodes.push(Node::leaf(value as f64, hess[i]));
            } else {
                let (l, r) = (lc[i] as usize, rc[i] as usize);
                if l <= i || r <= i || l >= m || r >= m {
                    return Err(format!("tree {ti}, node {i}: child index out of range"));
                }
                if !(idx[i] >= 0.0 && idx[i] < num_features as f64) || idx[i].fract() != 0.0 {
                    return Err(format!(
                        "tree {ti}, node {i}: feature {} out of range",
                        idx[i]
                    ));
                }
                let category_split = match split_type[i] {
                    0.0 => None,
                    1.0 => {
                        let set = cats.remove(&i).ok_or_else(|| {
                            format!("tree {ti}, node {i}: categorical split without categories")
                        })?;
                        categories.push(set);
                        Some(categories.len() as u32 - 1)
                    }
                    other => {
                        return Err(format!("tree {ti}, node {i}: unknown split_type {other}"))
                    }
                };
                let threshold = match category_split {
                    Some(_) => 0.0,
                    None => finite_f32(cond[i]).ok_or_else(|| {
                        format!(
                            "tree {ti}, node {i}: split condition {} is not a finite f32",
                            cond[i]
                        )
                    })?,
                };
                nodes.push(Node {
                    feature: idx[i] as u32,
                    threshold,
                    left: l as u32,
                    right: r as u32,
                    default_left: dl[i] != 0.0,
                    category_split,
                    value: 0.0,
                    gain: loss[i],
                    cover: hess[i],
                });
            }
        }
        if nodes.is_empty() {
            return Err(format!("tree {ti} has no nodes"));
        }
        debug_assert!(nodes
            .iter()
            .all(|n| n.feature == LEAF || n.feature < u32::MAX));
        if let Some(i) = cats.keys().next() {
            return Err(format!(
                "tree {ti}: node {i} has categories but is not a categorical split"
            ));
        }
        trees.push(Tree { nodes, categories });
    }
    let m = GradientBoostedTreesModel {
        objective,
        num_features,
        num_class: if matches!(
            objective,
            Objective::MultiSoftmax | Objective::QuantileError
        ) {
            num_class
        } else {
            1
        },
        base_score,
        base_scores: if objective == Objective::QuantileError
            && base_scores.len() == num_class
            && num_class > 1
        {
            base_scores
        } else {
            Vec::new()
        },
        loss: (objective.is_regression() && objective != Objective::SquaredError).then_some(lp),
        trees,
        feature_names: (0..num_features).map(|i| format!("f{i}")).collect(),
        ..Default::default()
    };
    m.check_structure()?;
    Ok(m)
}
