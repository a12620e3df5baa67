//! [`LogisticRegressionModel`]: the fitted coefficients, prediction, and the training summary.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array};
use arrow::datatypes::{DataType, Field, Schema};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::loss::dot;
use super::optim::StopReason;
use super::params::LogisticRegression;
use crate::dataset::{
    field_of, null_features, schema_with_field, type_error, vector_column_from_vec, vector_type,
};
use crate::error::{MlError, Result};
use crate::params::{ParamSpec, ParamValue, Params};
use crate::row::{ColumnKind, RowLayout, RowStage, RowStep, RowValue};
use crate::traits::Transformer;
use crate::Dataset;

/// What happened during training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingSummary {
    /// Objective (regularized loss, as Spark defines it) at the start and after each iteration.
    pub objective_history: Vec<f64>,
    /// Number of optimizer iterations.
    pub total_iterations: usize,
    /// True when the optimizer met its convergence test (not merely `max_iter`).
    pub converged: bool,
    /// Why the optimizer stopped.
    pub stop_reason: StopReason,
}

impl TrainingSummary {
    /// The final objective value.
    pub fn objective(&self) -> f64 {
        self.objective_history.last().copied().unwrap_or(f64::NAN)
    }
}

/// A fitted [`LogisticRegression`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogisticRegressionModel {
    /// The parameters it was fitted with (threshold(s) and columns can still be changed).
    pub params: LogisticRegression,
    /// Number of classes K.
    pub num_classes: usize,
    /// Number of features.
    pub num_features: usize,
    /// True for a multinomial model (K coefficient rows), false for binomial (one row).
    pub is_multinomial: bool,
    /// Coefficients on the original feature scale, row-major: one row per coefficient set.
    pub coefficient_matrix: Vec<f64>,
    /// One intercept per coefficient set.
    pub intercept_vector: Vec<f64>,
    /// The training summary.
    pub summary: TrainingSummary,
}

impl LogisticRegressionModel {
    /// Binomial coefficients (the single row); for a multinomial model, the first row.
    pub fn coefficients(&self) -> &[f64] {
        &self.coefficient_matrix[..self.num_features]
    }
    /// Binomial intercept (for a multinomial model, the first class's).
    pub fn intercept(&self) -> f64 {
        self.intercept_vector[0]
    }
    /// Number of coefficient sets (1 for binomial, K for multinomial).
    pub fn num_coefficient_sets(&self) -> usize {
        self.intercept_vector.len()
    }

    /// Margins (rawPrediction) of one feature row.
    pub fn predict_raw(&self, x: &[f64]) -> Vec<f64> {
        let p = self.num_features;
        let margins: Vec<f64> = (0..self.num_coefficient_sets())
            .map(|k| {
                dot(&self.coefficient_matrix[k * p..(k + 1) * p], x) + self.intercept_vector[k]
            })
            .collect();
        if self.is_multinomial {
            margins
        } else {
            vec![-margins[0], margins[0]]
        }
    }

    /// Probabilities from margins.
    pub fn raw_to_probability(&self, raw: &[f64]) -> Vec<f64> {
        if self.is_multinomial {
            softmax(raw)
        } else {
            // As Spark: P(0) = sigmoid(raw[0]) with raw[0] = -margin, P(1) = 1 - P(0).
            let p0 = 1.0 / (1.0 + (-raw[0]).exp());
            vec![p0, 1.0 - p0]
        }
    }

    /// The predicted class from probabilities.
    pub fn probability_to_prediction(&self, prob: &[f64]) -> f64 {
        if let Some(t) = &self.params.thresholds {
            let mut best = 0usize;
            let mut best_v = f64::NEG_INFINITY;
            for (k, (&pk, &tk)) in prob.iter().zip(t).enumerate() {
                let v = if tk == 0.0 { f64::INFINITY } else { pk / tk };
                if v > best_v {
                    best_v = v;
                    best = k;
                }
            }
            best as f64
        } else if !self.is_multinomial {
            if prob[1] > self.params.threshold {
                1.0
            } else {
                0.0
            }
        } else {
            argmax(prob) as f64
        }
    }

    /// The number of nonzero coefficients (intercepts excluded).
    pub fn num_nonzero(&self) -> usize {
        self.coefficient_matrix
            .iter()
            .filter(|v| **v != 0.0)
            .count()
    }

    fn check_features(&self, schema: &Schema) -> Result<()> {
        let col = &self.params.features_col;
        let f = field_of(schema, col)?;
        match f.data_type() {
            DataType::FixedSizeList(item, n) if item.data_type() == &DataType::Float64 => {
                if *n as usize != self.num_features {
                    return Err(MlError::ColumnType {
                        column: col.clone(),
                        expected: format!(
                            "vectors of width {} (as in training)",
                            self.num_features
                        ),
                        found: format!("width {n}"),
                    });
                }
                Ok(())
            }
            other => Err(type_error(col, "FixedSizeList<Float64>", other)),
        }
    }
}

fn argmax(v: &[f64]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

fn softmax(raw: &[f64]) -> Vec<f64> {
    let max = raw.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = raw.iter().map(|m| (m - max).exp()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|v| v / s).collect()
}

impl Params for LogisticRegressionModel {
    fn param_specs(&self) -> Vec<ParamSpec> {
        self.params.param_specs()
    }
    fn get_param(&self, name: &str) -> Result<ParamValue> {
        self.params.get_param(name)
    }
    fn set_param(&mut self, name: &str, value: ParamValue) -> Result<()> {
        let mut next = self.params.clone();
        next.set_param(name, value)?;
        if let Some(t) = &next.thresholds {
            if t.len() != self.num_classes {
                return Err(MlError::param(
                    "thresholds",
                    format!(
                        "needs {} values (one per class), got {}",
                        self.num_classes,
                        t.len()
                    ),
                ));
            }
        }
        self.params = next;
        Ok(())
    }
    fn validate(&self) -> Result<()> {
        self.params.validate()
    }
}

pub(super) fn output_schema(
    p: &LogisticRegression,
    schema: &Schema,
    width: usize,
) -> Result<Schema> {
    let s = schema_with_field(
        schema,
        Field::new(&p.raw_prediction_col, vector_type(width), true),
    )?;
    let s = schema_with_field(&s, Field::new(&p.probability_col, vector_type(width), true))?;
    schema_with_field(&s, Field::new(&p.prediction_col, DataType::Float64, true))
}

#[typetag::serde(name = "LogisticRegressionModel")]
impl Transformer for LogisticRegressionModel {
    /// Valid parameters, at least one class (at most two for a binomial model), one
    /// coefficient row of `num_features` values and one intercept per coefficient set, and
    /// one threshold per class when `thresholds` is set.
    fn validate_structure(&self) -> Result<()> {
        self.params.validate()?;
        let sets = if self.is_multinomial {
            self.num_classes
        } else {
            1
        };
        let bad =
            |message: String| Err(MlError::data(format!("LogisticRegressionModel: {message}")));
        if self.num_classes == 0 || (!self.is_multinomial && self.num_classes > 2) {
            return bad(format!(
                "{} classes for a {} model",
                self.num_classes,
                if self.is_multinomial {
                    "multinomial"
                } else {
                    "binomial"
                }
            ));
        }
        if self.intercept_vector.len() != sets
            || Some(self.coefficient_matrix.len()) != sets.checked_mul(self.num_features)
        {
            return bad(format!(
                "{sets} coefficient sets of {} features need {} coefficients and {sets} \
                 intercepts, found {} and {}",
                self.num_features,
                sets.saturating_mul(self.num_features),
                self.coefficient_matrix.len(),
                self.intercept_vector.len()
            ));
        }
        if let Some(t) = self
            .params
            .thresholds
            .as_ref()
            .filter(|t| t.len() != self.num_classes)
        {
            return Err(MlError::param(
                "thresholds",
                format!(
                    "needs {} values (one per class), got {}",
                    self.num_classes,
                    t.len()
                ),
            ));
        }
        Ok(())
    }

    fn transform(&self, data: &Dataset) -> Result<Dataset> {
        let schema = self.transform_schema(&data.schema())?;
        let x = data.features(&self.params.features_col)?;
        let n = x.nrows();
        let width = self.num_classes.max(2);
        let rows: Vec<(Vec<f64>, Vec<f64>, f64)> = (0..n)
            .into_par_iter()
            .with_min_len(256)
            .map(|i| {
                let row = x.row(i);
                let row: Vec<f64> = row.iter().copied().collect();
                let mut raw = self.predict_raw(&row);
                raw.resize(width, 0.0);
                let prob = self.raw_to_probability(&raw);
                let pred = self.probability_to_prediction(&prob);
                (raw, prob, pred)
            })
            .collect();
        let mut raw_all = Vec::with_capacity(n * width);
        let mut prob_all = Vec::with_capacity(n * width);
        let mut pred_all = Vec::with_capacity(n);
        for (r, p, y) in rows {
            raw_all.extend(r);
            prob_all.extend(p);
            pred_all.push(y);
        }
        let cols = [
            vector_column_from_vec(raw_all, n, width),
            vector_column_from_vec(prob_all, n, width),
            Arc::new(Float64Array::from(pred_all)) as ArrayRef,
        ];
        let mut out = data.clone();
        let k = schema.fields().len() - 3;
        for (f, c) in schema.fields()[k..].iter().zip(cols) {
            out = out.with_field(f.as_ref().clone(), c)?;
        }
        Ok(out)
    }
    fn compile_row(&self, layout: &mut RowLayout) -> Result<Option<Box<dyn RowStage>>> {
        let input = layout.input(&self.params.features_col, ColumnKind::Vector)?;
        layout.advance(self)?;
        Ok(Some(Box::new(LogisticRow {
            model: self.clone(),
            input,
            raw: layout.output(&self.params.raw_prediction_col)?,
            probability: layout.output(&self.params.probability_col)?,
            prediction: layout.output(&self.params.prediction_col)?,
        })))
    }

    fn transform_schema(&self, schema: &Schema) -> Result<Schema> {
        self.check_features(schema)?;
        output_schema(&self.params, schema, self.num_classes.max(2))
    }
}

/// [`LogisticRegressionModel`] compiled for one row.
#[derive(Debug)]
struct LogisticRow {
    model: LogisticRegressionModel,
    input: usize,
    raw: usize,
    probability: usize,
    prediction: usize,
}

impl RowStage for LogisticRow {
    fn apply(&self, row: &mut [RowValue], index: usize) -> Result<RowStep> {
        let m = &self.model;
        let name = &m.params.features_col;
        let x = row[self.input]
            .vector(name, m.num_features)?
            .ok_or_else(|| null_features(name, index))?;
        let mut raw = m.predict_raw(x);
        raw.resize(m.num_classes.max(2), 0.0);
        let prob = m.raw_to_probability(&raw);
        let pred = m.probability_to_prediction(&prob);
        row[self.raw] = RowValue::Vector(raw);
        row[self.probability] = RowValue::Vector(prob);
        row[self.prediction] = RowValue::Number(pred);
        Ok(RowStep::Keep)
    }
}
