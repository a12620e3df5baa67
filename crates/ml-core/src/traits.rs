//! The stage traits: [`Transformer`], [`Estimator`], and the object-safe [`DynEstimator`].

use std::any::Any;
use std::fmt::Debug;

use arrow::datatypes::Schema;

use crate::dataset::Dataset;
use crate::error::Result;
use crate::params::Params;
use crate::row::{RowLayout, RowStage};
use crate::stream::BatchSource;

/// Turns a dataset into another by appending columns; fitted models are transformers.
///
/// `transform_schema` validates the input columns and types and returns the output schema
/// before any work, so a pipeline fails fast with a clear message.
///
/// Implementations are registered for persistence with `#[typetag::serde(name = "...")]` on
/// the impl block, with an explicit name that stays the same when the Rust type is renamed, so
/// any transformer (and a whole [`PipelineModel`](crate::PipelineModel)) saves and loads
/// through [`crate::persist`].
#[typetag::serde(tag = "type")]
pub trait Transformer: Params + CloneTransformer + AsAny + Send + Sync + Debug {
    /// Appends this stage's output columns to a copy of `data`.
    fn transform(&self, data: &Dataset) -> Result<Dataset>;
    /// Checks input columns and types and returns the output schema, without touching data.
    fn transform_schema(&self, schema: &Schema) -> Result<Schema>;
    /// Checks that the stage's state is consistent: its parameters are valid and its fitted
    /// values agree with each other (one label list per column, unique labels, vectors of the
    /// same length, ...). [`crate::persist`] runs it after every load, so a corrupted or
    /// hand-edited file fails with an error naming the file instead of misbehaving later.
    /// The default checks the parameters ([`Params::validate`]); models with fitted state
    /// override it.
    fn validate_structure(&self) -> Result<()> {
        self.validate()
    }
    /// Compiles the stage for scoring one row at a time ([`crate::row`]): declares the input
    /// columns it reads in `layout`, advances the layout's schema
    /// ([`RowLayout::advance`]), takes slots for its outputs, and returns a [`RowStage`] that
    /// gives the same values as [`Transformer::transform`], bit for bit. `Ok(None)` (the
    /// default) when the stage has no row path.
    fn compile_row(&self, layout: &mut RowLayout) -> Result<Option<Box<dyn RowStage>>> {
        let _ = layout;
        Ok(None)
    }
}

/// Learns a [`Transformer`] (its model) from a dataset.
pub trait Estimator: Params + Clone + Send + Sync + Debug + 'static {
    /// The fitted model.
    type Model: Transformer + Clone + 'static;
    /// Fits a model to `data`. Parameters are validated before any work.
    fn fit(&self, data: &Dataset) -> Result<Self::Model>;
    /// The schema the fitted model will produce from `schema` (input checks included).
    fn transform_schema(&self, schema: &Schema) -> Result<Schema>;
    /// Fits a model to the rows of a re-openable source of batches (data larger than memory;
    /// see [`crate::stream`]), giving the same model as [`fit`](Estimator::fit) on the same rows
    /// in the same order.
    ///
    /// The default reads the whole source into memory and calls `fit`. Stages whose statistic
    /// can be gathered batch by batch override it and hold one batch at a time:
    /// `StringIndexer` (label counts), `StandardScaler` (two passes: mean, then squared
    /// deviations), `Imputer` (mean, mode, and the median through a quantile sketch).
    fn fit_source(&self, source: &dyn BatchSource) -> Result<Self::Model> {
        self.fit(&crate::stream::collect(source)?)
    }
    /// Fits one model per variant on the same `data`, in the order of `variants` (Spark's
    /// `fitMultiple`): what tuning calls for each fold. `variants` are copies of this
    /// estimator that differ in parameter values only (as
    /// [`CrossValidator`](https://docs.rs/ml-eval) makes them: one per parameter map).
    ///
    /// Each model must be the one `variant.fit(data)` gives, bit for bit; an override only
    /// shares work between variants. The default fits each variant on its own. Overrides:
    /// [`Pipeline`](crate::Pipeline) fits the stages that all variants share once, and
    /// boosted trees bin the rows once and grow the variants that differ only in the number
    /// of rounds in one run.
    fn fit_multiple(&self, data: &Dataset, variants: &[Self]) -> Result<Vec<Self::Model>> {
        variants.iter().map(|v| v.fit(data)).collect()
    }
}

/// The object-safe face of an [`Estimator`], for pipelines and tuning over mixed stages.
/// Every `Estimator` implements it.
pub trait DynEstimator: Params + AsAny + Send + Sync + Debug {
    /// Fits and returns the model as a boxed transformer.
    fn fit_dyn(&self, data: &Dataset) -> Result<Box<dyn Transformer>>;
    /// See [`Estimator::transform_schema`].
    fn transform_schema_dyn(&self, schema: &Schema) -> Result<Schema>;
    /// See [`Estimator::fit_source`].
    fn fit_source_dyn(&self, source: &dyn BatchSource) -> Result<Box<dyn Transformer>>;
    /// A boxed copy (with the current parameter values).
    fn clone_dyn(&self) -> Box<dyn DynEstimator>;
    /// See [`Estimator::fit_multiple`]. Variants of another type than this estimator's are
    /// fitted each on its own.
    fn fit_multiple_dyn(
        &self,
        data: &Dataset,
        variants: &[&dyn DynEstimator],
    ) -> Result<Vec<Box<dyn Transformer>>>;
}

impl<E: Estimator> DynEstimator for E {
    fn fit_dyn(&self, data: &Dataset) -> Result<Box<dyn Transformer>> {
        Ok(Box::new(self.fit(data)?))
    }
    fn transform_schema_dyn(&self, schema: &Schema) -> Result<Schema> {
        self.transform_schema(schema)
    }
    fn fit_source_dyn(&self, source: &dyn BatchSource) -> Result<Box<dyn Transformer>> {
        Ok(Box::new(self.fit_source(source)?))
    }
    fn clone_dyn(&self) -> Box<dyn DynEstimator> {
        Box::new(self.clone())
    }
    fn fit_multiple_dyn(
        &self,
        data: &Dataset,
        variants: &[&dyn DynEstimator],
    ) -> Result<Vec<Box<dyn Transformer>>> {
        let typed: Option<Vec<E>> = variants
            .iter()
            .map(|v| (**v).as_any().downcast_ref::<E>().cloned())
            .collect();
        match typed {
            Some(typed) => Ok(self
                .fit_multiple(data, &typed)?
                .into_iter()
                .map(|m| Box::new(m) as Box<dyn Transformer>)
                .collect()),
            None => variants.iter().map(|v| v.fit_dyn(data)).collect(),
        }
    }
}

impl Clone for Box<dyn DynEstimator> {
    fn clone(&self) -> Self {
        self.clone_dyn()
    }
}

/// Boxed copies of transformers; implemented for every `Transformer + Clone`.
pub trait CloneTransformer {
    /// A boxed copy.
    fn clone_transformer(&self) -> Box<dyn Transformer>;
}

impl<T: Transformer + Clone + 'static> CloneTransformer for T {
    fn clone_transformer(&self) -> Box<dyn Transformer> {
        Box::new(self.clone())
    }
}

impl Clone for Box<dyn Transformer> {
    fn clone(&self) -> Self {
        self.clone_transformer()
    }
}

/// Downcasting support, implemented for every `'static` type.
pub trait AsAny {
    /// `self` as `&dyn Any`, to downcast a boxed stage to its concrete type.
    fn as_any(&self) -> &dyn Any;
}

impl<T: Any> AsAny for T {
    fn as_any(&self) -> &dyn Any {
        self
    }
}
