//! The model compiled for one row ([`ml_core::row`]): the trees walked for a single feature
//! vector, margins summed in the same order as the batch path, so the outputs equal
//! `transform`'s bit for bit.

use ndarray::ArrayView2;

use ml_core::dataset::null_features;
use ml_core::row::{ColumnKind, RowLayout, RowStage, RowStep, RowValue};
use ml_core::{MlError, Result};

use crate::model::GradientBoostedTreesModel;
use crate::objective::{argmax, sigmoid, Objective};
use crate::shap::TreeShap;
use crate::tree::Tree;

/// [`GradientBoostedTreesModel`] compiled for one row; its TreeSHAP tables (when the model
/// writes contributions) are prepared once here.
#[derive(Debug)]
pub(crate) struct TreesRow {
    name: String,
    input: usize,
    trees: Vec<Tree>,
    objective: Objective,
    num_class: usize,
    num_features: usize,
    base_margins: Vec<f64>,
    raw: Option<usize>,
    probability: Option<usize>,
    prediction: usize,
    contributions: Option<(usize, TreeShap)>,
}

/// Compiles `model` for one row (see [`ml_core::Transformer::compile_row`]).
pub(crate) fn compile(
    model: &GradientBoostedTreesModel,
    layout: &mut RowLayout,
) -> Result<TreesRow> {
    let p = &model.params;
    let input = layout.input(&p.features_col, ColumnKind::Vector)?;
    layout.advance(model)?;
    let (raw, probability) = if model.objective.is_regression() {
        (None, None)
    } else {
        (
            Some(layout.output(&p.raw_prediction_col)?),
            Some(layout.output(&p.probability_col)?),
        )
    };
    let prediction = layout.output(&p.prediction_col)?;
    let contributions = match &p.contrib_prediction_col {
        Some(c) => Some((layout.output(c)?, model.tree_shap()?)),
        None => None,
    };
    Ok(TreesRow {
        name: p.features_col.clone(),
        input,
        trees: model.trees.clone(),
        objective: model.objective,
        num_class: model.num_class,
        num_features: model.num_features,
        base_margins: model.base_margins(),
        raw,
        probability,
        prediction,
        contributions,
    })
}

impl RowStage for TreesRow {
    fn apply(&self, row: &mut [RowValue], index: usize) -> Result<RowStep> {
        let x = row[self.input]
            .vector(&self.name, self.num_features)?
            .ok_or_else(|| null_features(&self.name, index))?;
        let k = self.num_class;
        // As the batch path: every margin starts at the base margin, trees add in order.
        let mut m = self.base_margins.clone();
        for (t, tree) in self.trees.iter().enumerate() {
            m[t % k] += tree.predict_row(x);
        }
        let contributions = match &self.contributions {
            Some((slot, shap)) => {
                let view = ArrayView2::from_shape((1, x.len()), x)
                    .map_err(|e| MlError::data(format!("column '{}': {e}", self.name)))?;
                Some((*slot, shap.contributions(view)?))
            }
            None => None,
        };
        let pred = match self.objective {
            o if o.is_regression() && k > 1 => {
                row[self.prediction] =
                    RowValue::Vector(m.iter().map(|&v| o.regression_output(v)).collect());
                if let Some((slot, c)) = contributions {
                    row[slot] = RowValue::Vector(c);
                }
                return Ok(RowStep::Keep);
            }
            o if o.is_regression() => o.regression_output(m[0]),
            Objective::BinaryLogistic => {
                let v = m[0];
                let p = sigmoid(v);
                self.set_vector(row, self.raw, [-v, v]);
                self.set_vector(row, self.probability, [1.0 - p, p]);
                if v > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            _ => {
                let mx = m.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let z: f64 = m.iter().map(|v| (v - mx).exp()).sum();
                let prob: Vec<f64> = m.iter().map(|v| (v - mx).exp() / z).collect();
                let pred = argmax(&m) as f64;
                if let Some(s) = self.probability {
                    row[s] = RowValue::Vector(prob);
                }
                if let Some(s) = self.raw {
                    row[s] = RowValue::Vector(m);
                }
                pred
            }
        };
        row[self.prediction] = RowValue::Number(pred);
        if let Some((slot, c)) = contributions {
            row[slot] = RowValue::Vector(c);
        }
        Ok(RowStep::Keep)
    }
}

impl TreesRow {
    fn set_vector<const N: usize>(&self, row: &mut [RowValue], slot: Option<usize>, v: [f64; N]) {
        if let Some(s) = slot {
            row[s].zeroed_vector(N).copy_from_slice(&v);
        }
    }
}
