//! The fitted model: its trees, margins and output columns, importances, saving and loading
//! (every load checks the model's structure).

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array};
use arrow::datatypes::{DataType, Field, Schema};
use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

use ml_core::dataset::{
    field_of, schema_with_field, type_error, vector_column_from_vec, vector_type,
};
use ml_core::params::{ParamSpec, ParamValue, Params};
use ml_core::{Dataset, MlError, Result, Transformer};

use crate::forest::{add_margins, row_major, ForestCache};
use crate::loss::LossParams;
use crate::objective::{argmax, sigmoid, Objective};
use crate::params::ModelParams;
use crate::shap::TreeShap;
use crate::tree::Tree;

ml_core::param_enum! {
    /// Kinds of feature importance, by XGBoost's names (`importance_type`).
    pub enum ImportanceType: "importance_type" {
        /// `weight`: number of splits on the feature.
        Weight => "weight",
        /// `gain`: mean loss reduction of its splits.
        Gain => "gain",
        /// `cover`: mean hessian sum of the rows reaching its splits.
        Cover => "cover",
        /// `total_gain`: total loss reduction of its splits.
        TotalGain => "total_gain",
        /// `total_cover`: total hessian sum of the rows reaching its splits.
        TotalCover => "total_cover",
    }
}

/// A fitted [`GradientBoostedTrees`](crate::GradientBoostedTrees) model.
///
/// `transform` appends `rawPrediction` (margins; `[-m, m]` for binary as Spark does),
/// `probability` (class probabilities) and `prediction` (class index, or the value for
/// `reg:squarederror`, which only adds `prediction`). Its parameters (the columns) are
/// [`ModelParams`], set by name through [`Params`].
///
/// Every way of reading a model (serde, [`ml_core::persist::load`] alone or inside a
/// pipeline, [`GradientBoostedTreesModel::load`], XGBoost import) checks its structure: child
/// indices after their parent and in range, features below `num_features`, category sets of
/// the right size, finite leaf values and base score, a tree count that is a multiple of
/// `num_class`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "ModelFile")]
pub struct GradientBoostedTreesModel {
    /// The objective the model was trained with.
    pub objective: Objective,
    /// Width of the feature vectors.
    pub num_features: usize,
    /// Outputs per row (1, or the number of classes for multiclass).
    pub num_class: usize,
    /// Initial prediction (a probability for binary:logistic, a mean for the log-link
    /// losses); of the first output when `base_scores` is set.
    pub base_score: f64,
    /// Initial prediction of each output, when they differ (`reg:quantileerror` with
    /// several alphas); empty otherwise (every output starts from `base_score`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub base_scores: Vec<f64>,
    /// The loss's parameters, for the losses that have them (not written for
    /// `binary:logistic`, `reg:squarederror` and `multi:softmax`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss: Option<LossParams>,
    /// Trees, round by round; in a round, one per class.
    pub trees: Vec<Tree>,
    /// Feature (slot) names.
    pub feature_names: Vec<String>,
    /// Round kept by early stopping, if it stopped.
    pub best_iteration: Option<usize>,
    /// The input and output columns (written inline, as the fields they were before).
    #[serde(flatten)]
    pub params: ModelParams,
    /// The flattened predictor, built on first prediction and kept (not saved).
    #[serde(skip)]
    pub(crate) forest: ForestCache,
}

/// A model as read from a file, before its structure is checked.
#[derive(Deserialize)]
struct ModelFile {
    objective: Objective,
    num_features: usize,
    num_class: usize,
    base_score: f64,
    #[serde(default)]
    base_scores: Vec<f64>,
    #[serde(default)]
    loss: Option<LossParams>,
    trees: Vec<Tree>,
    feature_names: Vec<String>,
    best_iteration: Option<usize>,
    #[serde(flatten)]
    params: ModelParams,
}

impl TryFrom<ModelFile> for GradientBoostedTreesModel {
    type Error = String;

    fn try_from(f: ModelFile) -> std::result::Result<Self, String> {
        let m = GradientBoostedTreesModel {
            objective: f.objective,
            num_features: f.num_features,
            num_class: f.num_class,
            base_score: f.base_score,
            base_scores: f.base_scores,
            loss: f.loss,
            trees: f.trees,
            feature_names: f.feature_names,
            best_iteration: f.best_iteration,
            params: f.params,
            forest: ForestCache::default(),
        };
        m.check_structure()?;
        Ok(m)
    }
}

impl Default for GradientBoostedTreesModel {
    fn default() -> Self {
        GradientBoostedTreesModel {
            objective: Objective::BinaryLogistic,
            num_features: 0,
            num_class: 1,
            base_score: 0.5,
            base_scores: Vec::new(),
            loss: None,
            trees: Vec::new(),
            feature_names: Vec::new(),
            best_iteration: None,
            params: ModelParams::default(),
            forest: ForestCache::default(),
        }
    }
}

/// The model's parameters are its [`ModelParams`]: setting one changes only them.
impl Params for GradientBoostedTreesModel {
    fn param_specs(&self) -> Vec<ParamSpec> {
        self.params.param_specs()
    }
    fn get_param(&self, name: &str) -> Result<ParamValue> {
        self.params.get_param(name)
    }
    fn set_param(&mut self, name: &str, value: ParamValue) -> Result<()> {
        self.params.set_param(name, value)
    }
    fn validate(&self) -> Result<()> {
        self.params.validate()
    }
}

impl GradientBoostedTreesModel {
    /// The margin every row starts from (of the first output; see
    /// [`GradientBoostedTreesModel::base_margins`]).
    pub fn base_margin(&self) -> f64 {
        self.objective.margin_of_score(self.base_score)
    }

    /// The margin every row starts from, per output.
    pub fn base_margins(&self) -> Vec<f64> {
        let k = self.num_class.max(1);
        if self.base_scores.len() == k {
            self.base_scores
                .iter()
                .map(|&b| self.objective.margin_of_score(b))
                .collect()
        } else {
            vec![self.base_margin(); k]
        }
    }

    /// Per-row starting margins (`rows x num_class`) from the column `col` of `data`: a
    /// number per row for one output, a vector of `num_class` per row otherwise. Nulls and
    /// non-finite values are errors naming the column and row.
    pub(crate) fn read_base_margins(
        col: &str,
        data: &Dataset,
        k: usize,
        offset: usize,
    ) -> Result<Vec<f64>> {
        let bad =
            |i: usize| MlError::value(col, offset + i, "base margin is missing or not finite");
        if k == 1 {
            let c = data.numeric_column(col)?;
            let mut out = Vec::with_capacity(c.len());
            for i in 0..c.len() {
                let v = c.value(i);
                if arrow::array::Array::is_null(&c, i) || !v.is_finite() {
                    return Err(bad(i));
                }
                out.push(v);
            }
            return Ok(out);
        }
        let x = data.features(col)?;
        if x.ncols() != k {
            return Err(MlError::data(format!(
                "column '{col}' has {} base margins per row, the model has {k} outputs",
                x.ncols()
            )));
        }
        let mut out = Vec::with_capacity(x.len());
        for (i, row) in x.rows().into_iter().enumerate() {
            if row.iter().any(|v| !v.is_finite()) {
                return Err(bad(i));
            }
            out.extend(row.iter());
        }
        Ok(out)
    }

    fn check_width(&self, d: usize) -> Result<()> {
        if d != self.num_features {
            return Err(MlError::data(format!(
                "column '{}' has {d} features per row, the model was trained on {}",
                self.params.features_col, self.num_features
            )));
        }
        Ok(())
    }

    /// Margins, `rows x num_class` row-major. The trees' flattened predictor is built on the
    /// first call and reused by later ones while the trees are unchanged.
    pub fn predict_margins(&self, x: ArrayView2<'_, f64>) -> Result<Vec<f64>> {
        self.predict_margins_from(x, None)
    }

    /// Margins as [`GradientBoostedTreesModel::predict_margins`], each row starting from
    /// `start` (`rows x num_class`, XGBoost's `base_margin`) instead of the base margin when
    /// given.
    pub fn predict_margins_from(
        &self,
        x: ArrayView2<'_, f64>,
        start: Option<&[f64]>,
    ) -> Result<Vec<f64>> {
        let (n, d) = x.dim();
        self.check_width(d)?;
        let x = row_major(x);
        let xs = x
            .as_slice()
            .ok_or_else(|| MlError::data("features are not contiguous"))?;
        let k = self.num_class;
        let mut out = match start {
            Some(s) if s.len() == n * k => s.to_vec(),
            Some(s) => {
                return Err(MlError::data(format!(
                    "{} base margins for {n} rows of {k} outputs",
                    s.len()
                )))
            }
            None => {
                let b = self.base_margins();
                (0..n * k).map(|i| b[i % k]).collect()
            }
        };
        add_margins(
            &self.forest.get(&self.trees),
            &self.trees,
            xs,
            d,
            k,
            &mut out,
        );
        Ok(out)
    }

    /// Predicted probability of class 1 (binary), the value (regression; `exp(margin)` for
    /// the log-link losses) or the class (multiclass), one per row; for
    /// `reg:quantileerror` with several alphas, one per row and alpha (row-major).
    pub fn predict(&self, x: ArrayView2<'_, f64>) -> Result<Vec<f64>> {
        let m = self.predict_margins(x)?;
        let k = self.num_class;
        Ok(self.outputs_of_margins(m, k))
    }

    /// Predictions from margins (see [`GradientBoostedTreesModel::predict`]).
    fn outputs_of_margins(&self, m: Vec<f64>, k: usize) -> Vec<f64> {
        match self.objective {
            Objective::BinaryLogistic => m.into_iter().map(sigmoid).collect(),
            Objective::MultiSoftmax => m.chunks(k).map(|c| argmax(c) as f64).collect(),
            o => m.into_iter().map(|v| o.regression_output(v)).collect(),
        }
    }

    /// Feature importances, one per feature slot (0 for unused features).
    pub fn feature_importances(&self, kind: ImportanceType) -> Vec<f64> {
        let d = self.num_features;
        let (mut count, mut gain, mut cover) = (vec![0.0; d], vec![0.0; d], vec![0.0; d]);
        for t in &self.trees {
            for n in t.nodes.iter().filter(|n| !n.is_leaf()) {
                let f = n.feature as usize;
                if f < d {
                    count[f] += 1.0;
                    gain[f] += n.gain;
                    cover[f] += n.cover;
                }
            }
        }
        let mean = |tot: Vec<f64>| {
            tot.iter()
                .zip(&count)
                .map(|(t, c)| if *c > 0.0 { t / c } else { 0.0 })
                .collect()
        };
        match kind {
            ImportanceType::Weight => count,
            ImportanceType::TotalGain => gain,
            ImportanceType::TotalCover => cover,
            ImportanceType::Gain => mean(gain),
            ImportanceType::Cover => mean(cover),
        }
    }

    /// Number of boosting rounds in the model.
    pub fn num_rounds(&self) -> usize {
        self.trees.len() / self.num_class.max(1)
    }

    /// Saves the model (ml-core's versioned format, atomic write).
    pub fn save(&self, path: impl AsRef<std::path::Path>) -> Result<()> {
        ml_core::persist::save(self, path)
    }

    /// Loads a model saved by [`GradientBoostedTreesModel::save`]; its structure is checked
    /// (see the type's docs), a broken model is an [`MlError::Persistence`] naming the file.
    pub fn load(path: impl AsRef<std::path::Path>) -> Result<Self> {
        ml_core::persist::load_as(path)
    }

    /// Checks the model's structure: what prediction relies on. The message names the tree and
    /// node at fault.
    pub(crate) fn check_structure(&self) -> std::result::Result<(), String> {
        let k = self.num_class;
        match self.objective {
            Objective::MultiSoftmax if k < 2 => {
                return Err(format!("multi:softmax needs num_class >= 2, found {k}"))
            }
            Objective::QuantileError => {
                let alphas = self.loss.as_ref().map_or(0, |l| l.quantile_alpha.len());
                if alphas != k {
                    return Err(format!(
                        "reg:quantileerror with {alphas} quantile_alpha needs num_class {alphas}, \
                         found {k}"
                    ));
                }
            }
            Objective::MultiSoftmax => {}
            _ if k != 1 => return Err(format!("{} needs num_class 1, found {k}", self.objective)),
            _ => {}
        }
        if !self.base_scores.is_empty() && self.base_scores.len() != k {
            return Err(format!(
                "{} base scores for {k} outputs",
                self.base_scores.len()
            ));
        }
        if let Some(lp) = &self.loss {
            lp.check(self.objective).map_err(|e| e.to_string())?;
        }
        if !self.trees.len().is_multiple_of(k) {
            return Err(format!(
                "{} trees is not a whole number of rounds of {k} trees",
                self.trees.len()
            ));
        }
        for &b in std::iter::once(&self.base_score).chain(&self.base_scores) {
            if !b.is_finite()
                || (self.objective == Objective::BinaryLogistic && !(b > 0.0 && b < 1.0))
                || (self.objective.has_log_link() && b <= 0.0)
            {
                return Err(format!(
                    "base_score {b} is not finite (in (0, 1) for binary:logistic, > 0 with a \
                     log link)"
                ));
            }
        }
        if !self.feature_names.is_empty() && self.feature_names.len() != self.num_features {
            return Err(format!(
                "{} feature names for {} features",
                self.feature_names.len(),
                self.num_features
            ));
        }
        if let Some(best) = self.best_iteration {
            if best >= self.num_rounds() {
                return Err(format!(
                    "best_iteration {best} is not one of the {} rounds",
                    self.num_rounds()
                ));
            }
        }
        for (ti, t) in self.trees.iter().enumerate() {
            if t.nodes.is_empty() {
                return Err(format!("tree {ti} has no nodes"));
            }
            for (si, c) in t.categories.iter().enumerate() {
                let n = c.num_categories as usize;
                let extra = c.bits.last().map_or(0, |&w| {
                    if n.is_multiple_of(64) {
                        0
                    } else {
                        w >> (n % 64)
                    }
                });
                if c.bits.len() != n.div_ceil(64) || extra != 0 {
                    return Err(format!(
                        "tree {ti}: category set {si} does not fit its {n} categories"
                    ));
                }
            }
            for (i, n) in t.nodes.iter().enumerate() {
                if n.is_leaf() {
                    if !n.value.is_finite() {
                        return Err(format!(
                            "tree {ti}, node {i}: leaf value {} is not finite",
                            n.value
                        ));
                    }
                    continue;
                }
                let ok_child = |c: u32| (c as usize) > i && (c as usize) < t.nodes.len();
                if !ok_child(n.left) || !ok_child(n.right) {
                    return Err(format!("tree {ti}, node {i}: child index out of range"));
                }
                if n.feature as usize >= self.num_features {
                    return Err(format!(
                        "tree {ti}, node {i}: feature {} >= num_features {}",
                        n.feature, self.num_features
                    ));
                }
                match n.category_split {
                    Some(s) if s as usize >= t.categories.len() => {
                        return Err(format!(
                            "tree {ti}, node {i}: category set {s} does not exist"
                        ));
                    }
                    None if n.threshold.is_nan() => {
                        return Err(format!("tree {ti}, node {i}: threshold is NaN"));
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// The output schema; `width`, when known, is checked against the model.
    pub(crate) fn output_schema(&self, schema: &Schema, width: Option<usize>) -> Result<Schema> {
        let f = field_of(schema, &self.params.features_col)?;
        match f.data_type() {
            DataType::FixedSizeList(item, w) if item.data_type() == &DataType::Float64 => {
                if width.is_some() {
                    self.check_width(*w as usize)?;
                }
            }
            other => {
                return Err(type_error(
                    &self.params.features_col,
                    "FixedSizeList<Float64>",
                    other,
                ))
            }
        }
        let mut s = schema.clone();
        if !self.objective.is_regression() {
            let k = self.num_class.max(2);
            s = schema_with_field(
                &s,
                Field::new(&self.params.raw_prediction_col, vector_type(k), false),
            )?;
            s = schema_with_field(
                &s,
                Field::new(&self.params.probability_col, vector_type(k), false),
            )?;
        }
        s = schema_with_field(&s, self.prediction_field())?;
        match &self.params.contrib_prediction_col {
            None => Ok(s),
            Some(c) => schema_with_field(
                &s,
                Field::new(c, vector_type(self.contributions_width()), false),
            ),
        }
    }

    /// The prediction column: a number per row, or a vector of one per alpha for
    /// `reg:quantileerror` with several alphas.
    fn prediction_field(&self) -> Field {
        let t = if self.objective.is_regression() && self.num_class > 1 {
            vector_type(self.num_class)
        } else {
            DataType::Float64
        };
        Field::new(&self.params.prediction_col, t, false)
    }

    /// Values per row of [`GradientBoostedTreesModel::predict_contributions`].
    fn contributions_width(&self) -> usize {
        self.num_class * (self.num_features + 1)
    }

    /// A TreeSHAP explainer of the model's margins, to explain many batches of rows without
    /// preparing the trees each time.
    pub fn tree_shap(&self) -> Result<TreeShap> {
        TreeShap::new(
            &self.trees,
            self.num_features,
            self.num_class,
            &self.base_margins(),
        )
    }

    /// TreeSHAP contributions of the rows of `x`, as XGBoost's
    /// `predict(..., pred_contribs=True)`: row-major `rows x num_class x (num_features + 1)`,
    /// for each row and class one value per feature and then the bias (the expected margin);
    /// they sum to the row's margin. Exact (Lundberg et al.'s TreeSHAP with the trees' cover
    /// statistics), for numeric and categorical splits and missing values; see [`crate::shap`].
    pub fn predict_contributions(&self, x: ArrayView2<'_, f64>) -> Result<Vec<f64>> {
        self.check_width(x.ncols())?;
        self.tree_shap()?.contributions(x)
    }

    /// SHAP interaction values of the rows of `x`, as XGBoost's
    /// `predict(..., pred_interactions=True)`: row-major
    /// `rows x num_class x (num_features + 1) x (num_features + 1)`; row `i` of a row's matrix
    /// sums to feature `i`'s contribution, and the bias sits in the last corner.
    pub fn predict_interactions(&self, x: ArrayView2<'_, f64>) -> Result<Vec<f64>> {
        self.check_width(x.ncols())?;
        self.tree_shap()?.interactions(x)
    }
}

#[typetag::serde(name = "GradientBoostedTreesModel")]
impl Transformer for GradientBoostedTreesModel {
    fn transform(&self, data: &Dataset) -> Result<Dataset> {
        self.output_schema(&data.schema(), Some(self.num_features))?;
        let x = data.features(&self.params.features_col)?;
        let n = x.nrows();
        let start = match &self.params.base_margin_col {
            Some(c) if data.schema().field_with_name(c).is_ok() => {
                Some(Self::read_base_margins(c, data, self.num_class, 0)?)
            }
            _ => None,
        };
        let m = self.predict_margins_from(x, start.as_deref())?;
        let mut out = data.clone();
        let k = self.num_class;
        let pred: Vec<f64> = match self.objective {
            o if o.is_regression() => self.outputs_of_margins(m, k),
            Objective::BinaryLogistic => {
                let raw: Vec<f64> = m.iter().flat_map(|&v| [-v, v]).collect();
                let prob: Vec<f64> = m
                    .iter()
                    .flat_map(|&v| {
                        let p = sigmoid(v);
                        [1.0 - p, p]
                    })
                    .collect();
                let pred = m.iter().map(|&v| if v > 0.0 { 1.0 } else { 0.0 }).collect();
                out = out.with_field(
                    Field::new(&self.params.raw_prediction_col, vector_type(2), false),
                    vector_column_from_vec(raw, n, 2),
                )?;
                out = out.with_field(
                    Field::new(&self.params.probability_col, vector_type(2), false),
                    vector_column_from_vec(prob, n, 2),
                )?;
                pred
            }
            _ => {
                let k = self.num_class;
                let mut prob = Vec::with_capacity(n * k);
                let mut pred = Vec::with_capacity(n);
                for c in m.chunks(k) {
                    let mx = c.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    let z: f64 = c.iter().map(|v| (v - mx).exp()).sum();
                    prob.extend(c.iter().map(|v| (v - mx).exp() / z));
                    pred.push(argmax(c) as f64);
                }
                out = out.with_field(
                    Field::new(&self.params.raw_prediction_col, vector_type(k), false),
                    vector_column_from_vec(m, n, k),
                )?;
                out = out.with_field(
                    Field::new(&self.params.probability_col, vector_type(k), false),
                    vector_column_from_vec(prob, n, k),
                )?;
                pred
            }
        };
        let pred_col = if self.objective.is_regression() && k > 1 {
            vector_column_from_vec(pred, n, k)
        } else {
            Arc::new(Float64Array::from(pred)) as ArrayRef
        };
        let out = out.with_field(self.prediction_field(), pred_col)?;
        match &self.params.contrib_prediction_col {
            None => Ok(out),
            Some(c) => {
                let w = self.contributions_width();
                out.with_field(
                    Field::new(c, vector_type(w), false),
                    vector_column_from_vec(self.predict_contributions(x)?, n, w),
                )
            }
        }
    }

    fn transform_schema(&self, schema: &Schema) -> Result<Schema> {
        self.output_schema(schema, Some(self.num_features))
    }

    /// The trees walked for one feature vector (and TreeSHAP prepared once when
    /// `contrib_prediction_col` is set); same outputs as `transform`, bit for bit.
    /// (No row path when the model reads per-row base margins, `base_margin_col`.)
    fn compile_row(
        &self,
        layout: &mut ml_core::row::RowLayout,
    ) -> Result<Option<Box<dyn ml_core::row::RowStage>>> {
        if self.params.base_margin_col.is_some() {
            return Ok(None);
        }
        Ok(Some(Box::new(crate::row::compile(self, layout)?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::Node;

    /// A stump on feature 0 of a 2-feature binary model.
    fn stump() -> GradientBoostedTreesModel {
        let mut root = Node::leaf(0.0, 2.0);
        root.feature = 0;
        root.threshold = 0.5;
        root.left = 1;
        root.right = 2;
        GradientBoostedTreesModel {
            num_features: 2,
            trees: vec![Tree {
                nodes: vec![root, Node::leaf(-0.1, 1.0), Node::leaf(0.2, 1.0)],
                categories: Vec::new(),
            }],
            feature_names: vec!["a".into(), "b".into()],
            ..Default::default()
        }
    }

    #[test]
    fn structure_checks_catch_what_json_cannot_carry() {
        assert_eq!(stump().check_structure(), Ok(()));
        let mut m = stump();
        m.trees[0].nodes[2].value = f64::INFINITY;
        assert!(m.check_structure().unwrap_err().contains("leaf value inf"));
        let mut m = stump();
        m.trees[0].nodes[0].threshold = f32::NAN;
        assert!(m
            .check_structure()
            .unwrap_err()
            .contains("threshold is NaN"));
        let mut m = stump();
        m.base_score = f64::NAN;
        assert!(m.check_structure().unwrap_err().contains("base_score"));
        let mut m = stump();
        m.objective = Objective::MultiSoftmax;
        assert!(m.check_structure().unwrap_err().contains("num_class >= 2"));
        m.num_class = 2;
        assert!(m
            .check_structure()
            .unwrap_err()
            .contains("whole number of rounds"));
    }

    #[test]
    fn the_saved_document_keeps_the_columns_inline() {
        let json = serde_json::to_value(stump()).unwrap();
        assert_eq!(json["features_col"], "features");
        assert_eq!(json["prediction_col"], "prediction");
        assert!(json.get("params").is_none());
        // Models of the first three objectives are written as before the regression losses.
        assert!(json.get("base_scores").is_none() && json.get("loss").is_none());
        assert!(json.get("base_margin_col").is_none());
        let back: GradientBoostedTreesModel = serde_json::from_value(json).unwrap();
        assert_eq!(back, stump());
    }

    #[test]
    fn importance_types_parse_by_name() {
        for &t in ImportanceType::ALL {
            assert_eq!(t.as_str().parse::<ImportanceType>().unwrap(), t);
        }
        let msg = "split".parse::<ImportanceType>().unwrap_err().to_string();
        assert!(
            msg.contains("'importance_type'") && msg.contains("total_cover"),
            "{msg}"
        );
    }
}
