//! Scoring one row at a time without Arrow batches: a fitted pipeline compiled once into a
//! [`RowScorer`] (`Send + Sync`), which gives the same values as `transform`, bit for bit.
//!
//! Each stage compiles itself through
//! [`Transformer::compile_row`](crate::Transformer::compile_row) into a [`RowStage`] that
//! reads and writes the slots of a row (`&mut [RowValue]`): its column names resolved to slot
//! indices, its tables (label indexes, shifts and scales, the trees' flattened predictor) built
//! once. Invalid values (unseen labels, nulls, NaN) follow each stage's `handle_invalid` as in
//! `transform`: an error naming the column and row, the row skipped (the scorer returns
//! `None`), or kept. A value of the wrong kind (a string where a number is read) is an
//! [`MlError::ColumnType`](crate::MlError::ColumnType) naming the column, as a column of the
//! wrong type is for `transform`.
//!
//! ```
//! use std::sync::Arc;
//! use arrow::array::{ArrayRef, Float64Array, StringArray};
//! use ml_core::{Dataset, Estimator, Pipeline, Transformer};
//! use ml_core::feature::{HandleInvalid, Imputer, OneHotEncoder, StandardScaler, StringIndexer, VectorAssembler};
//! use ml_core::row::{Row, RowScorer, RowValue};
//!
//! let data = Dataset::from_columns(vec![
//!     ("income", Arc::new(Float64Array::from(vec![Some(10.0), None, Some(30.0)])) as ArrayRef),
//!     ("home", Arc::new(StringArray::from(vec!["RENT", "OWN", "RENT"])) as ArrayRef),
//! ]).unwrap();
//! let model = Pipeline::new()
//!     .estimator("impute", Imputer::single("income", "income_imp"))
//!     .estimator("index", StringIndexer::new("home", "home_idx").with_handle_invalid(HandleInvalid::Keep))
//!     .estimator("onehot", OneHotEncoder::single("home_idx", "home_vec"))
//!     .transformer("assemble", VectorAssembler::new(&["income_imp", "home_vec"], "raw"))
//!     .estimator("scale", StandardScaler::new("raw", "features"))
//!     .fit(&data).unwrap();
//! let scorer = RowScorer::compile(&model, &["features"]).unwrap();
//! let out = scorer.score(&Row::new().with("income", None::<f64>).with("home", "CONDO")).unwrap();
//! let batch = model.transform(&data).unwrap();
//! // Row 1 of the batch: income missing (the mean, 20), home "OWN" (code 1).
//! let row1 = scorer.score(&Row::new().with("income", None::<f64>).with("home", "OWN")).unwrap().unwrap();
//! assert_eq!(row1[0], RowValue::Vector(batch.features("features").unwrap().row(1).to_vec()));
//! // An unseen category goes to the extra "keep" slot, which drop_last drops: all zeros.
//! assert!(out.is_some());
//! ```

mod layout;
mod scorer;
mod value;

pub use layout::{ColumnKind, RowInput, RowLayout};
pub use scorer::{Row, RowScorer};
pub use value::RowValue;

use crate::error::Result;

/// What became of a row after a stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowStep {
    /// The row goes on to the next stage.
    Keep,
    /// The stage dropped the row (`handle_invalid = "skip"`), as `transform` drops it.
    Skip,
}

/// A stage compiled for one row: reads its input slots, writes its output slots.
///
/// Made by [`Transformer::compile_row`](crate::Transformer::compile_row); `index` is the row's position in the batch being
/// scored, for error messages (as `transform` names the row).
pub trait RowStage: Send + Sync + std::fmt::Debug {
    /// Computes the stage's outputs for one row in place.
    fn apply(&self, row: &mut [RowValue], index: usize) -> Result<RowStep>;
}

/// Stages applied in order (a compiled pipeline); stops at the first that skips the row.
#[derive(Debug)]
pub struct RowStages(pub Vec<Box<dyn RowStage>>);

impl RowStage for RowStages {
    #[inline]
    fn apply(&self, row: &mut [RowValue], index: usize) -> Result<RowStep> {
        for s in &self.0 {
            if s.apply(row, index)? == RowStep::Skip {
                return Ok(RowStep::Skip);
            }
        }
        Ok(RowStep::Keep)
    }
}
