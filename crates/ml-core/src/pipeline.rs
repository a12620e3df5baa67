//! [`Pipeline`] (a list of named estimators and transformers) and its fitted [`PipelineModel`].
//!
//! Parameters of stages are addressed as `stage_name.param` through [`Params`], which is what
//! ParamGrid and CrossValidator use to tune a whole pipeline.

use std::sync::Arc;

use arrow::datatypes::Schema;
use serde::{Deserialize, Serialize};

use crate::dataset::Dataset;
use crate::error::{MlError, Result};
use crate::params::{ParamSpec, ParamValue, Params};
use crate::row::{RowLayout, RowStage, RowStages};
use crate::stream::{BatchSource, StagedSource, TransformedSource};
use crate::traits::{DynEstimator, Estimator, Transformer};

/// One stage of a pipeline: something to fit, or something that only transforms.
#[derive(Debug, Clone)]
pub enum PipelineStage {
    /// Fitted on the data that reaches it; its model joins the pipeline model.
    Estimator(Box<dyn DynEstimator>),
    /// Used as is.
    Transformer(Box<dyn Transformer>),
}

impl PipelineStage {
    fn params(&self) -> &dyn Params {
        match self {
            PipelineStage::Estimator(e) => e.as_ref(),
            PipelineStage::Transformer(t) => t.as_ref(),
        }
    }
    fn params_mut(&mut self) -> &mut dyn Params {
        match self {
            PipelineStage::Estimator(e) => e.as_mut(),
            PipelineStage::Transformer(t) => t.as_mut(),
        }
    }
    fn transform_schema(&self, schema: &Schema) -> Result<Schema> {
        match self {
            PipelineStage::Estimator(e) => e.transform_schema_dyn(schema),
            PipelineStage::Transformer(t) => t.transform_schema(schema),
        }
    }
    /// The stage fitted on `data` (an estimator), or a copy of it (a transformer).
    fn fit(&self, data: &Dataset) -> Result<Box<dyn Transformer>> {
        match self {
            PipelineStage::Estimator(e) => e.fit_dyn(data),
            PipelineStage::Transformer(t) => Ok(t.clone()),
        }
    }
    fn is_estimator(&self) -> bool {
        matches!(self, PipelineStage::Estimator(_))
    }
    /// The stage's concrete type.
    fn type_id(&self) -> std::any::TypeId {
        match self {
            PipelineStage::Estimator(e) => (**e).as_any().type_id(),
            PipelineStage::Transformer(t) => (**t).as_any().type_id(),
        }
    }
    /// Same kind, same type and same parameter values: the two stages fit the same model.
    fn same_setting(&self, other: &PipelineStage) -> bool {
        self.is_estimator() == other.is_estimator()
            && self.type_id() == other.type_id()
            && self.params().param_values() == other.params().param_values()
    }
}

/// A sequence of named stages fitted in order, as Spark ML's `Pipeline`.
///
/// `fit` first checks the whole chain of schemas (so a typo in the last stage's column fails
/// before the first stage trains), then fits each estimator on the output of the stages before
/// it.
///
/// ```
/// use ml_core::{Pipeline, Params, ParamValue};
/// use ml_core::feature::Imputer;
/// let mut p = Pipeline::new().estimator("fill", Imputer::single("x", "x_filled"));
/// p.set_param("fill.strategy", ParamValue::Str("median".into())).unwrap();
/// assert_eq!(p.get_param("fill.strategy").unwrap(), ParamValue::Str("median".into()));
/// assert!(p.set_param("fill.strategy", ParamValue::Str("average".into())).is_err());
/// assert!(p.set_param("nope.strategy", ParamValue::Str("mean".into())).is_err());
/// ```
#[derive(Debug, Clone, Default)]
pub struct Pipeline {
    stages: Vec<(String, PipelineStage)>,
}

impl Pipeline {
    /// An empty pipeline.
    pub fn new() -> Self {
        Pipeline { stages: Vec::new() }
    }

    /// Appends an estimator under a name (names must be unique and contain no '.').
    pub fn estimator(mut self, name: &str, estimator: impl Estimator) -> Self {
        self.stages.push((
            name.to_string(),
            PipelineStage::Estimator(Box::new(estimator)),
        ));
        self
    }

    /// Appends a boxed estimator under a name.
    pub fn boxed_estimator(mut self, name: &str, estimator: Box<dyn DynEstimator>) -> Self {
        self.stages
            .push((name.to_string(), PipelineStage::Estimator(estimator)));
        self
    }

    /// Appends a transformer under a name.
    pub fn transformer(
        mut self,
        name: &str,
        transformer: impl Transformer + Clone + 'static,
    ) -> Self {
        self.stages.push((
            name.to_string(),
            PipelineStage::Transformer(Box::new(transformer)),
        ));
        self
    }

    /// [`Estimator::fit_source`] over a shared source, with the stages' work beside the
    /// estimators': every estimator after the first stage reads the source through the stages
    /// fitted before it on a thread of its own, one batch ahead
    /// ([`ReadAheadSource`](crate::stream::ReadAheadSource)), so that reading and transforming
    /// batch i+1 overlaps the estimator's own work on batch i. The same batches in the same
    /// order reach every estimator, so the model is the one `fit_source` gives; memory grows by
    /// at most two batches.
    pub fn fit_shared_source(&self, source: Arc<dyn BatchSource>) -> Result<PipelineModel> {
        let unstaged = source.clone();
        self.fit_stages(
            &*unstaged,
            source,
            |seen: &Arc<dyn BatchSource>, before, e| match before {
                // Nothing applied yet: the source as it is.
                0 => e.fit_source_dyn(&**seen),
                _ => e.fit_source_dyn(&crate::stream::read_ahead(seen.clone())),
            },
            |seen, model| Arc::new(TransformedSource::new(seen, model)),
        )
    }

    /// Fits the stages in order over a stream: `seen` is the source as the stages fitted so
    /// far leave it (`then` applies one more stage to it), `fit` fits an estimator on it
    /// (given the number of stages before the estimator); transformers are used as they are.
    fn fit_stages<S>(
        &self,
        source: &dyn BatchSource,
        mut seen: S,
        fit: impl Fn(&S, usize, &dyn DynEstimator) -> Result<Box<dyn Transformer>>,
        then: impl Fn(S, Box<dyn Transformer>) -> S,
    ) -> Result<PipelineModel> {
        self.validate()?;
        Estimator::transform_schema(self, &*source.schema()?)?;
        let mut fitted = Vec::with_capacity(self.stages.len());
        for (i, (name, stage)) in self.stages.iter().enumerate() {
            let model: Box<dyn Transformer> = match stage {
                PipelineStage::Estimator(e) => fit(&seen, i, e.as_ref())?,
                PipelineStage::Transformer(t) => t.clone(),
            };
            seen = then(seen, model.clone());
            fitted.push((name.clone(), model));
        }
        Ok(PipelineModel { stages: fitted })
    }

    /// Stage names in order.
    pub fn stage_names(&self) -> Vec<&str> {
        self.stages.iter().map(|(n, _)| n.as_str()).collect()
    }

    /// The stages.
    pub fn stages(&self) -> &[(String, PipelineStage)] {
        &self.stages
    }

    fn check_names(&self) -> Result<()> {
        let mut seen = std::collections::HashSet::new();
        for (name, _) in &self.stages {
            if name.is_empty() || name.contains('.') {
                return Err(MlError::param(
                    name.as_str(),
                    "stage names must be non-empty and contain no '.'",
                ));
            }
            if !seen.insert(name.as_str()) {
                return Err(MlError::param(
                    name.as_str(),
                    "two stages have this name; give each stage its own name",
                ));
            }
        }
        Ok(())
    }
}

fn split_qualified(name: &str) -> Result<(&str, &str)> {
    name.split_once('.').ok_or_else(|| {
        MlError::param(
            name,
            "pipeline parameters are stage-qualified: use 'stage_name.param'",
        )
    })
}

fn find_stage<'a, T>(stages: &'a [(String, T)], stage: &str, full: &str) -> Result<&'a T> {
    stages
        .iter()
        .find(|(n, _)| n == stage)
        .map(|(_, s)| s)
        .ok_or_else(|| unknown_stage(stages, full))
}

fn unknown_stage<T>(stages: &[(String, T)], full: &str) -> MlError {
    let names: Vec<&str> = stages.iter().map(|(n, _)| n.as_str()).collect();
    MlError::param(
        full,
        format!("no such stage; stages are: {}", names.join(", ")),
    )
}

fn qualified_specs<'a>(stages: impl Iterator<Item = (&'a str, &'a dyn Params)>) -> Vec<ParamSpec> {
    stages
        .flat_map(|(name, p)| {
            p.param_specs().into_iter().map(move |s| ParamSpec {
                name: format!("{name}.{}", s.name),
                ..s
            })
        })
        .collect()
}

impl Params for Pipeline {
    fn param_specs(&self) -> Vec<ParamSpec> {
        qualified_specs(self.stages.iter().map(|(n, s)| (n.as_str(), s.params())))
    }
    fn get_param(&self, name: &str) -> Result<ParamValue> {
        let (stage, param) = split_qualified(name)?;
        find_stage(&self.stages, stage, name)?
            .params()
            .get_param(param)
    }
    fn set_param(&mut self, name: &str, value: ParamValue) -> Result<()> {
        let (stage, param) = split_qualified(name)?;
        let err = unknown_stage(&self.stages, name);
        let s = self
            .stages
            .iter_mut()
            .find(|(n, _)| n == stage)
            .ok_or(err)?;
        s.1.params_mut()
            .set_param(param, value)
            .map_err(|e| match e {
                MlError::InvalidParam { param: p, message } => MlError::InvalidParam {
                    param: format!("{stage}.{p}"),
                    message,
                },
                other => other,
            })
    }
    fn validate(&self) -> Result<()> {
        self.check_names()?;
        for (_, s) in &self.stages {
            s.params().validate()?;
        }
        Ok(())
    }
}

impl Estimator for Pipeline {
    type Model = PipelineModel;

    fn fit(&self, data: &Dataset) -> Result<PipelineModel> {
        self.validate()?;
        Estimator::transform_schema(self, &data.schema())?;
        let last_estimator = self
            .stages
            .iter()
            .rposition(|(_, s)| matches!(s, PipelineStage::Estimator(_)));
        let mut current = data.clone();
        let mut fitted = Vec::with_capacity(self.stages.len());
        for (i, (name, stage)) in self.stages.iter().enumerate() {
            let model: Box<dyn Transformer> = match stage {
                PipelineStage::Estimator(e) => e.fit_dyn(&current)?,
                PipelineStage::Transformer(t) => t.clone(),
            };
            // Later estimators need this stage's output; after the last one nothing does.
            if last_estimator.is_some_and(|l| i < l) {
                current = model.transform(&current)?;
            }
            fitted.push((name.clone(), model));
        }
        Ok(PipelineModel { stages: fitted })
    }

    fn transform_schema(&self, schema: &Schema) -> Result<Schema> {
        let mut s = schema.clone();
        for (_, stage) in &self.stages {
            s = stage.transform_schema(&s)?;
        }
        Ok(s)
    }

    /// Fits the stages every variant sets alike once, on the shared rows, and branches where
    /// they differ: at a stage whose output later stages are fitted on, once per distinct
    /// setting of it; at the last estimator, through its own
    /// [`fit_multiple`](Estimator::fit_multiple) over all variants (boosted trees then share
    /// their bins). Each model is the variant's own [`fit`](Estimator::fit), bit for bit.
    /// Variants with other stages (names, kinds or types) are fitted each on its own.
    fn fit_multiple(&self, data: &Dataset, variants: &[Pipeline]) -> Result<Vec<PipelineModel>> {
        for v in variants {
            v.validate()?;
            Estimator::transform_schema(v, &data.schema())?;
        }
        let alike = |v: &Pipeline| {
            v.stages.len() == self.stages.len()
                && v.stages.iter().zip(&self.stages).all(|((na, a), (nb, b))| {
                    na == nb && a.is_estimator() == b.is_estimator() && a.type_id() == b.type_id()
                })
        };
        if variants.len() < 2 || !variants.iter().all(alike) {
            return variants.iter().map(|v| v.fit(data)).collect();
        }
        let members: Vec<usize> = (0..variants.len()).collect();
        let mut out = vec![None; variants.len()];
        fit_shared(variants, &members, 0, data.clone(), Vec::new(), &mut out)?;
        Ok(out.into_iter().flatten().collect())
    }

    /// Fits stage by stage over a re-openable source: each estimator reads the source through
    /// the stages fitted before it ([`StagedSource`]), one batch at a time where the estimator
    /// fits in passes ([`Estimator::fit_source`]). Gives the same model as
    /// [`fit`](Estimator::fit) on the same rows.
    fn fit_source(&self, source: &dyn BatchSource) -> Result<PipelineModel> {
        self.fit_stages(
            source,
            StagedSource::new(source),
            |seen, _, e| e.fit_source_dyn(seen),
            |mut seen, model| {
                seen.push(model);
                seen
            },
        )
    }
}

/// A fitted pipeline: every stage as a transformer, applied in order. Saves and loads whole
/// through [`crate::persist`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PipelineModel {
    stages: Vec<(String, Box<dyn Transformer>)>,
}

impl PipelineModel {
    /// Builds a pipeline model from fitted stages.
    pub fn new(stages: Vec<(String, Box<dyn Transformer>)>) -> Self {
        PipelineModel { stages }
    }

    /// The fitted stages in order.
    pub fn stages(&self) -> &[(String, Box<dyn Transformer>)] {
        &self.stages
    }

    /// The model applied to every batch of `source`, lazily (a stream in, a stream out):
    /// write it with [`write_parquet_source`](crate::stream::write_parquet_source) or fit a
    /// later stage from it.
    pub fn transform_source(&self, source: Arc<dyn BatchSource>) -> TransformedSource {
        TransformedSource::new(source, Box::new(self.clone()))
    }

    /// [`transform_source`](PipelineModel::transform_source) with the stages' work split
    /// between two threads: every stage but the last is applied on a thread of its own, one
    /// batch ahead ([`ReadAheadSource`](crate::stream::ReadAheadSource)), the last one (a
    /// model scoring the batch, say) on the reader's thread. The same batches come out; memory
    /// grows by at most two batches.
    pub fn transform_source_ahead(&self, source: Arc<dyn BatchSource>) -> TransformedSource {
        let Some(((_, last), before)) = self.stages.split_last() else {
            return self.transform_source(source);
        };
        if before.is_empty() {
            return self.transform_source(source);
        }
        let before: Arc<dyn BatchSource> = Arc::new(TransformedSource::new(
            source,
            Box::new(PipelineModel::new(before.to_vec())),
        ));
        TransformedSource::new(Arc::new(crate::stream::read_ahead(before)), last.clone())
    }

    /// A fitted stage by name.
    pub fn stage(&self, name: &str) -> Option<&dyn Transformer> {
        self.stages
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t.as_ref())
    }

    /// A fitted stage by name, as its concrete type (`None` if absent or of another type).
    pub fn stage_as<T: 'static>(&self, name: &str) -> Option<&T> {
        self.stage(name)
            .and_then(|t| t.as_any().downcast_ref::<T>())
    }
}

/// Fitted stages of a pipeline model, in order.
type FittedStages = Vec<(String, Box<dyn Transformer>)>;

/// Fits stages `from..` of the pipelines `members` (indices into `variants`, which have the
/// same stage names, kinds and types), given that they set the stages before `from` alike:
/// those are fitted (`prefix`) and `data` is their output. Each member's model goes to
/// `out[member]`.
fn fit_shared(
    variants: &[Pipeline],
    members: &[usize],
    from: usize,
    data: Dataset,
    prefix: FittedStages,
    out: &mut [Option<PipelineModel>],
) -> Result<()> {
    let stages_of = |m: usize| &variants[m].stages;
    let first = stages_of(members[0]);
    let last_estimator = first.iter().rposition(|(_, s)| s.is_estimator());
    let mut current = data;
    let mut fitted = prefix;
    for (i, (name, stage)) in first.iter().enumerate().skip(from) {
        let later_fits_on_output = last_estimator.is_some_and(|l| i < l);
        if members
            .iter()
            .all(|&m| stage.same_setting(&stages_of(m)[i].1))
        {
            let model = stage.fit(&current)?;
            if later_fits_on_output {
                current = model.transform(&current)?;
            }
            fitted.push((name.clone(), model));
            continue;
        }
        if !later_fits_on_output {
            // No stage after this one is fitted: the members' own settings of this stage
            // (one `fit_multiple` when it is an estimator), then their own transformers.
            let models: Vec<Box<dyn Transformer>> = match stage {
                PipelineStage::Estimator(e) => {
                    let own: Vec<&dyn DynEstimator> = members
                        .iter()
                        .filter_map(|&m| match &stages_of(m)[i].1 {
                            PipelineStage::Estimator(e) => Some(e.as_ref()),
                            PipelineStage::Transformer(_) => None,
                        })
                        .collect();
                    e.fit_multiple_dyn(&current, &own)?
                }
                PipelineStage::Transformer(_) => members
                    .iter()
                    .map(|&m| stages_of(m)[i].1.fit(&current))
                    .collect::<Result<_>>()?,
            };
            for (&m, model) in members.iter().zip(models) {
                let mut stages = fitted.clone();
                stages.push((name.clone(), model));
                for (later_name, later) in &stages_of(m)[i + 1..] {
                    stages.push((later_name.clone(), later.fit(&current)?));
                }
                out[m] = Some(PipelineModel { stages });
            }
            return Ok(());
        }
        // Later stages are fitted on this one's output: a branch per distinct setting.
        let mut groups: Vec<Vec<usize>> = Vec::new();
        for &m in members {
            let s = &stages_of(m)[i].1;
            match groups
                .iter_mut()
                .find(|g| stages_of(g[0])[i].1.same_setting(s))
            {
                Some(g) => g.push(m),
                None => groups.push(vec![m]),
            }
        }
        for group in groups {
            let model = stages_of(group[0])[i].1.fit(&current)?;
            let next = model.transform(&current)?;
            let mut branch = fitted.clone();
            branch.push((name.clone(), model));
            fit_shared(variants, &group, i + 1, next, branch, out)?;
        }
        return Ok(());
    }
    for &m in members {
        out[m] = Some(PipelineModel {
            stages: fitted.clone(),
        });
    }
    Ok(())
}

impl Params for PipelineModel {
    fn param_specs(&self) -> Vec<ParamSpec> {
        qualified_specs(
            self.stages
                .iter()
                .map(|(n, s)| (n.as_str(), s.as_ref() as &dyn Params)),
        )
    }
    fn get_param(&self, name: &str) -> Result<ParamValue> {
        let (stage, param) = split_qualified(name)?;
        find_stage(&self.stages, stage, name)?.get_param(param)
    }
    fn set_param(&mut self, name: &str, value: ParamValue) -> Result<()> {
        let (stage, param) = split_qualified(name)?;
        let err = unknown_stage(&self.stages, name);
        let s = self
            .stages
            .iter_mut()
            .find(|(n, _)| n == stage)
            .ok_or(err)?;
        s.1.set_param(param, value)
    }
}

#[typetag::serde(name = "PipelineModel")]
impl Transformer for PipelineModel {
    /// Unique stage names and every stage's own structure, in order; an error names the stage.
    fn validate_structure(&self) -> Result<()> {
        let mut seen = std::collections::HashSet::new();
        for (name, stage) in &self.stages {
            if !seen.insert(name.as_str()) {
                return Err(MlError::data(format!(
                    "pipeline stage name '{name}' is used twice"
                )));
            }
            stage
                .validate_structure()
                .map_err(|e| e.in_context(&format!("pipeline stage '{name}'")))?;
        }
        Ok(())
    }

    /// Every stage compiled in order; `None` when one has no row path.
    fn compile_row(&self, layout: &mut RowLayout) -> Result<Option<Box<dyn RowStage>>> {
        let mut stages = Vec::with_capacity(self.stages.len());
        for (name, stage) in &self.stages {
            match stage.compile_row(layout)? {
                Some(s) => stages.push(s),
                None => {
                    return Err(MlError::data(format!(
                        "pipeline stage '{name}' has no row path; score the pipeline with transform"
                    )))
                }
            }
        }
        Ok(Some(Box::new(RowStages(stages))))
    }

    fn transform(&self, data: &Dataset) -> Result<Dataset> {
        Transformer::transform_schema(self, &data.schema())?;
        let mut current = data.clone();
        for (_, stage) in &self.stages {
            current = stage.transform(&current)?;
        }
        Ok(current)
    }

    fn transform_schema(&self, schema: &Schema) -> Result<Schema> {
        let mut s = schema.clone();
        for (_, stage) in &self.stages {
            s = stage.transform_schema(&s)?;
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{AddConstant, MeanCenter};
    use arrow::array::{ArrayRef, Float64Array};
    use std::sync::Arc;

    fn data() -> Dataset {
        Dataset::from_columns(vec![(
            "x",
            Arc::new(Float64Array::from(vec![1.0, 2.0, 6.0])) as ArrayRef,
        )])
        .unwrap()
    }

    fn pipeline() -> Pipeline {
        Pipeline::new()
            .transformer("plus", AddConstant::new("x", "y", 1.0))
            .estimator("center", MeanCenter::new("y", "z"))
    }

    #[test]
    fn fit_chains_stages_and_transform_applies_them() {
        let model = pipeline().fit(&data()).unwrap();
        let out = model.transform(&data()).unwrap();
        // y = x + 1 = [2, 3, 7], mean 4, z = [-2, -1, 3]
        assert_eq!(out.f64_column("z").unwrap().values(), &[-2.0, -1.0, 3.0]);
    }

    #[test]
    fn schema_errors_come_before_any_fitting() {
        let p = Pipeline::new()
            .estimator("center", MeanCenter::new("x", "z"))
            .transformer("plus", AddConstant::new("missing", "w", 1.0));
        let e = p.fit(&data()).unwrap_err().to_string();
        assert!(e.contains("'missing'"), "{e}");
    }

    #[test]
    fn stage_qualified_params_reach_the_stage() {
        let mut p = pipeline();
        p.set_param("plus.amount", ParamValue::Float(3.0)).unwrap();
        let model = p.fit(&data()).unwrap();
        let out = model.transform(&data()).unwrap();
        // y = [4, 5, 9], mean 6
        assert_eq!(out.f64_column("z").unwrap().values(), &[-2.0, -1.0, 3.0]);
        assert_eq!(out.f64_column("y").unwrap().values(), &[4.0, 5.0, 9.0]);
        assert!(p.param_specs().iter().any(|s| s.name == "center.input_col"));
        let e = p.set_param("plus", ParamValue::Float(1.0)).unwrap_err();
        assert!(e.to_string().contains("stage_name.param"));
    }

    #[test]
    fn saved_and_loaded_pipeline_model_gives_identical_output() {
        let model = pipeline().fit(&data()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pipe.json");
        crate::persist::save(&model, &path).unwrap();
        let loaded: PipelineModel = crate::persist::load_as(&path).unwrap();
        let a = model.transform(&data()).unwrap();
        let b = loaded.transform(&data()).unwrap();
        assert_eq!(a.batch(), b.batch());
        assert!(loaded
            .stage_as::<crate::testing::MeanCenterModel>("center")
            .is_some());
    }

    #[test]
    fn corrupt_model_file_is_a_typed_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.json");
        std::fs::write(
            &path,
            "{\"format\":\"ml-model\",\"version\":1,\"model\":{\"type\":\"Nope\"}}",
        )
        .unwrap();
        let e = crate::persist::load(&path).unwrap_err();
        assert!(matches!(e, MlError::Persistence { .. }));
        assert!(e.to_string().contains("bad.json"));
        std::fs::write(&path, "garbage").unwrap();
        assert!(matches!(
            crate::persist::load(&path).unwrap_err(),
            MlError::Persistence { .. }
        ));
        std::fs::write(
            &path,
            "{\"format\":\"ml-model\",\"version\":99,\"model\":{}}",
        )
        .unwrap();
        assert!(crate::persist::load(&path)
            .unwrap_err()
            .to_string()
            .contains("not supported"));
    }
}
