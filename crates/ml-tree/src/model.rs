//! The fitted model: prediction over flat node arrays, output columns, importances.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array};
use arrow::datatypes::{DataType, Field, Schema};
use ndarray::ArrayView2;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use ml_core::dataset::{
    field_of, schema_with_field, type_error, vector_column_from_vec, vector_type,
};
use ml_core::{impl_params, Dataset, MlError, Result, Transformer};

use crate::estimator::row_major;
use crate::objective::{argmax, sigmoid, Objective};
use crate::tree::{FlatForest, Tree};

/// Kinds of feature importance, as XGBoost names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportanceType {
    /// Number of splits on the feature.
    Weight,
    /// Mean loss reduction of its splits.
    Gain,
    /// Mean hessian sum of the rows reaching its splits.
    Cover,
    /// Total loss reduction of its splits.
    TotalGain,
    /// Total hessian sum of the rows reaching its splits.
    TotalCover,
}

impl ImportanceType {
    /// Parses `weight`, `gain`, `cover`, `total_gain` or `total_cover`.
    pub fn parse(name: &str) -> Result<Self> {
        Ok(match name {
            "weight" => ImportanceType::Weight,
            "gain" => ImportanceType::Gain,
            "cover" => ImportanceType::Cover,
            "total_gain" => ImportanceType::TotalGain,
            "total_cover" => ImportanceType::TotalCover,
            other => {
                return Err(MlError::param(
                    "importance_type",
                    format!(
                    "unknown '{other}'; expected weight, gain, cover, total_gain or total_cover"
                ),
                ))
            }
        })
    }
}

/// A fitted [`GradientBoostedTrees`](crate::GradientBoostedTrees) model.
///
/// `transform` appends `rawPrediction` (margins; `[-m, m]` for binary as Spark does),
/// `probability` (class probabilities) and `prediction` (class index, or the value for
/// `reg:squarederror`, which only adds `prediction`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GradientBoostedTreesModel {
    /// The objective the model was trained with.
    pub objective: Objective,
    /// Width of the feature vectors.
    pub num_features: usize,
    /// Outputs per row (1, or the number of classes for multiclass).
    pub num_class: usize,
    /// Initial prediction (a probability for binary:logistic).
    pub base_score: f64,
    /// Trees, round by round; in a round, one per class.
    pub trees: Vec<Tree>,
    /// Feature (slot) names.
    pub feature_names: Vec<String>,
    /// Round kept by early stopping, if it stopped.
    pub best_iteration: Option<usize>,
    /// Input vector column.
    pub features_col: String,
    /// Output margin column.
    pub raw_prediction_col: String,
    /// Output probability column.
    pub probability_col: String,
    /// Output prediction column.
    pub prediction_col: String,
}

impl Default for GradientBoostedTreesModel {
    fn default() -> Self {
        GradientBoostedTreesModel {
            objective: Objective::BinaryLogistic,
            num_features: 0,
            num_class: 1,
            base_score: 0.5,
            trees: Vec::new(),
            feature_names: Vec::new(),
            best_iteration: None,
            features_col: "features".into(),
            raw_prediction_col: "rawPrediction".into(),
            probability_col: "probability".into(),
            prediction_col: "prediction".into(),
        }
    }
}

impl_params!(GradientBoostedTreesModel {
    features_col: "Input vector column.",
    raw_prediction_col: "Output margin column.",
    probability_col: "Output probability column.",
    prediction_col: "Output prediction column.",
});

/// Rows per parallel prediction task.
const PREDICT_CHUNK: usize = 128;

impl GradientBoostedTreesModel {
    /// The margin every row starts from.
    pub fn base_margin(&self) -> f64 {
        match self.objective {
            Objective::BinaryLogistic => (self.base_score / (1.0 - self.base_score)).ln(),
            _ => self.base_score,
        }
    }

    fn check_width(&self, d: usize) -> Result<()> {
        if d != self.num_features {
            return Err(MlError::data(format!(
                "column '{}' has {d} features per row, the model was trained on {}",
                self.features_col, self.num_features
            )));
        }
        Ok(())
    }

    /// Margins, `rows x num_class` row-major.
    pub fn predict_margins(&self, x: ArrayView2<'_, f64>) -> Result<Vec<f64>> {
        let (n, d) = x.dim();
        self.check_width(d)?;
        let x = row_major(x);
        let xs = x
            .as_slice()
            .ok_or_else(|| MlError::data("features are not contiguous"))?;
        let k = self.num_class;
        let mut out = vec![self.base_margin(); n * k];
        if d == 0 {
            return Ok(out);
        }
        let flat = FlatForest::new(&self.trees);
        let exact = flat.is_exact();
        let all_numeric = flat.all_numeric(d);
        out.par_chunks_mut(PREDICT_CHUNK * k)
            .enumerate()
            .for_each(|(ci, chunk)| {
                let r0 = ci * PREDICT_CHUNK;
                let rows = chunk.len() / k;
                let x = &xs[r0 * d..(r0 + rows) * d];
                if exact && all_numeric {
                    let mut x2 = Vec::with_capacity(rows * 2 * flat.width());
                    flat.fill_missing_split(x, d, &mut x2);
                    for t in 0..self.trees.len() {
                        flat.add_numeric_outputs(t, &x2, chunk, k, t % k);
                    }
                } else if exact {
                    let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
                    for t in 0..self.trees.len() {
                        flat.add_tree_outputs(t, x, &x32, d, chunk, k, t % k);
                    }
                } else {
                    for (t, tree) in self.trees.iter().enumerate() {
                        for j in 0..rows {
                            chunk[j * k + t % k] += tree.predict_row(&x[j * d..(j + 1) * d]);
                        }
                    }
                }
            });
        Ok(out)
    }

    /// Predicted probability of class 1 (binary), the value (regression) or the class
    /// (multiclass), one per row.
    pub fn predict(&self, x: ArrayView2<'_, f64>) -> Result<Vec<f64>> {
        let m = self.predict_margins(x)?;
        let k = self.num_class;
        Ok(match self.objective {
            Objective::BinaryLogistic => m.into_iter().map(sigmoid).collect(),
            Objective::SquaredError => m,
            Objective::MultiSoftmax => m.chunks(k).map(|c| argmax(c) as f64).collect(),
        })
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

    /// Loads a model saved by [`GradientBoostedTreesModel::save`], checking its trees.
    pub fn load(path: impl AsRef<std::path::Path>) -> Result<Self> {
        let path = path.as_ref();
        let m: Self = ml_core::persist::load_as(path)?;
        m.check_structure()
            .map_err(|message| MlError::Persistence {
                path: path.to_path_buf(),
                message,
            })?;
        Ok(m)
    }

    /// Checks that every child index, feature and category set is in range.
    pub(crate) fn check_structure(&self) -> std::result::Result<(), String> {
        if self.num_class == 0 {
            return Err("num_class is 0".into());
        }
        for (ti, t) in self.trees.iter().enumerate() {
            if t.nodes.is_empty() {
                return Err(format!("tree {ti} has no nodes"));
            }
            for (i, n) in t.nodes.iter().enumerate() {
                if n.is_leaf() {
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
                if let Some(s) = n.category_split {
                    let ok = t
                        .categories
                        .get(s as usize)
                        .is_some_and(|c| c.bits.len() == (c.num_categories as usize).div_ceil(64));
                    if !ok {
                        return Err(format!("tree {ti}, node {i}: bad category set"));
                    }
                }
            }
        }
        Ok(())
    }

    /// The output schema; `width`, when known, is checked against the model.
    pub(crate) fn output_schema(&self, schema: &Schema, width: Option<usize>) -> Result<Schema> {
        let f = field_of(schema, &self.features_col)?;
        match f.data_type() {
            DataType::FixedSizeList(item, w) if item.data_type() == &DataType::Float64 => {
                if width.is_some() {
                    self.check_width(*w as usize)?;
                }
            }
            other => {
                return Err(type_error(
                    &self.features_col,
                    "FixedSizeList<Float64>",
                    other,
                ))
            }
        }
        let mut s = schema.clone();
        if self.objective != Objective::SquaredError {
            let k = self.num_class.max(2);
            s = schema_with_field(
                &s,
                Field::new(&self.raw_prediction_col, vector_type(k), false),
            )?;
            s = schema_with_field(&s, Field::new(&self.probability_col, vector_type(k), false))?;
        }
        schema_with_field(
            &s,
            Field::new(&self.prediction_col, DataType::Float64, false),
        )
    }
}

#[typetag::serde]
impl Transformer for GradientBoostedTreesModel {
    fn transform(&self, data: &Dataset) -> Result<Dataset> {
        self.output_schema(&data.schema(), Some(self.num_features))?;
        let x = data.features(&self.features_col)?;
        let n = x.nrows();
        let m = self.predict_margins(x)?;
        let mut out = data.clone();
        let pred: Vec<f64> = match self.objective {
            Objective::SquaredError => m,
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
                    Field::new(&self.raw_prediction_col, vector_type(2), false),
                    vector_column_from_vec(raw, n, 2),
                )?;
                out = out.with_field(
                    Field::new(&self.probability_col, vector_type(2), false),
                    vector_column_from_vec(prob, n, 2),
                )?;
                pred
            }
            Objective::MultiSoftmax => {
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
                    Field::new(&self.raw_prediction_col, vector_type(k), false),
                    vector_column_from_vec(m, n, k),
                )?;
                out = out.with_field(
                    Field::new(&self.probability_col, vector_type(k), false),
                    vector_column_from_vec(prob, n, k),
                )?;
                pred
            }
        };
        out.with_field(
            Field::new(&self.prediction_col, DataType::Float64, false),
            Arc::new(Float64Array::from(pred)) as ArrayRef,
        )
    }

    fn transform_schema(&self, schema: &Schema) -> Result<Schema> {
        self.output_schema(schema, Some(self.num_features))
    }
}
