//! Feature stages with Spark MLlib's parameters and defaults.
//!
//! | stage | fits | what it does |
//! |---|---|---|
//! | [`Imputer`] | yes | fills nulls / NaN with the column mean, median or mode |
//! | [`StringIndexer`] | yes | maps strings (or numbers as strings) to category codes, marked nominal |
//! | [`IndexToString`] | no | maps codes back to labels |
//! | [`OneHotEncoder`] | yes | category codes to 0/1 indicator vectors |
//! | [`VectorAssembler`] | no | numeric and vector columns into one `features` vector |
//! | [`StandardScaler`] | yes | centres and/or scales a vector column |
//! | [`Bucketizer`] | no | bins a numeric column by split points |
//!
//! Every stage reads named input columns and appends output columns (never in place), checks
//! columns and types in `transform_schema` before any work, and marks its outputs with
//! [`attributes`](crate::attributes) the way Spark's ML attributes do, so tree learners see
//! which slots of a feature vector are categorical.
//!
//! ```
//! use std::sync::Arc;
//! use arrow::array::{ArrayRef, Float64Array, StringArray};
//! use ml_core::{Dataset, Estimator, Pipeline, Transformer};
//! use ml_core::feature::{HandleInvalid, Imputer, ImputerStrategy, OneHotEncoder, StandardScaler};
//! use ml_core::feature::{StringIndexer, VectorAssembler};
//!
//! let data = Dataset::from_columns(vec![
//!     ("income", Arc::new(Float64Array::from(vec![Some(10.0), None, Some(30.0), Some(20.0)])) as ArrayRef),
//!     ("home", Arc::new(StringArray::from(vec!["RENT", "OWN", "RENT", "MORTGAGE"])) as ArrayRef),
//! ]).unwrap();
//! let pipeline = Pipeline::new()
//!     .estimator("impute", Imputer::new(&["income"], &["income_imp"]).with_strategy(ImputerStrategy::Median))
//!     .estimator("index", StringIndexer::new("home", "home_idx").with_handle_invalid(HandleInvalid::Keep))
//!     .estimator("onehot", OneHotEncoder::new(&["home_idx"], &["home_vec"]))
//!     .transformer("assemble", VectorAssembler::new(&["income_imp", "home_vec"], "raw"))
//!     .estimator("scale", StandardScaler::new("raw", "features"));
//! let model = pipeline.fit(&data).unwrap();
//! let out = model.transform(&data).unwrap();
//! // 1 numeric + 3 labels + "__unknown" - 1 dropped slot.
//! assert_eq!(out.vector_size("features").unwrap(), 4);
//! ```

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, StringArray};
use arrow::compute;
use arrow::datatypes::{DataType, Field, Schema};

use crate::dataset::{field_of, is_numeric, type_error, Dataset};
use crate::error::{MlError, Result};

mod bucketizer;
mod imputer;
mod index_to_string;
mod one_hot_encoder;
mod standard_scaler;
mod string_indexer;
mod vector_assembler;

pub use bucketizer::Bucketizer;
pub use imputer::{Imputer, ImputerModel, ImputerStrategy};
pub use index_to_string::IndexToString;
pub use one_hot_encoder::{OneHotEncoder, OneHotEncoderModel};
pub use standard_scaler::{StandardScaler, StandardScalerModel};
pub use string_indexer::{StringIndexer, StringIndexerModel, StringOrderType};
pub use vector_assembler::VectorAssembler;

crate::param_enum! {
    /// What a stage does with invalid input (unseen labels, nulls, NaN): Spark's
    /// `handleInvalid`. Which values a stage accepts is said in its docs.
    #[derive(Default)]
    pub enum HandleInvalid: "handle_invalid" {
        /// Fail with an error naming the column and row (the default).
        #[default]
        Error => "error",
        /// Drop the rows holding invalid values.
        Skip => "skip",
        /// Keep invalid values in an extra category (or as NaN).
        Keep => "keep",
    }
}

impl HandleInvalid {
    /// Checks that a stage supports this value (OneHotEncoder has no `skip`, as in Spark).
    pub(crate) fn check_supported(self, allowed: &[HandleInvalid]) -> Result<()> {
        if allowed.contains(&self) {
            return Ok(());
        }
        let names: Vec<&str> = allowed.iter().map(|h| h.as_str()).collect();
        Err(crate::params::unsupported_value(
            Self::PARAM,
            self.as_str(),
            &names,
        ))
    }
}

/// Resolves Spark's `input_col`/`output_col` vs `input_cols`/`output_cols` pair into a list of
/// (input, output) column pairs. Exactly one of the two forms must be set.
pub(crate) fn resolve_columns(
    input_col: &Option<String>,
    output_col: &Option<String>,
    input_cols: &Option<Vec<String>>,
    output_cols: &Option<Vec<String>>,
) -> Result<Vec<(String, String)>> {
    match (input_col, input_cols) {
        (Some(_), Some(_)) => Err(MlError::param(
            "input_cols",
            "set either input_col/output_col or input_cols/output_cols, not both",
        )),
        (None, None) => Err(MlError::param(
            "input_col",
            "no input column: set input_col/output_col or input_cols/output_cols",
        )),
        (Some(i), None) => {
            if output_cols.is_some() {
                return Err(MlError::param(
                    "output_cols",
                    "input_col is set: use output_col with it, not output_cols",
                ));
            }
            let o = output_col.as_ref().ok_or_else(|| {
                MlError::param("output_col", "input_col is set but output_col is not")
            })?;
            Ok(vec![(i.clone(), o.clone())])
        }
        (None, Some(ins)) => {
            if output_col.is_some() {
                return Err(MlError::param(
                    "output_col",
                    "input_cols is set: use output_cols with it, not output_col",
                ));
            }
            let outs = output_cols.as_ref().ok_or_else(|| {
                MlError::param("output_cols", "input_cols is set but output_cols is not")
            })?;
            if ins.is_empty() {
                return Err(MlError::param("input_cols", "must not be empty"));
            }
            if ins.len() != outs.len() {
                return Err(MlError::param(
                    "output_cols",
                    format!(
                        "{} input columns but {} output columns; give one output per input",
                        ins.len(),
                        outs.len()
                    ),
                ));
            }
            let mut seen = std::collections::HashSet::new();
            for o in outs {
                if !seen.insert(o.as_str()) {
                    return Err(MlError::param(
                        "output_cols",
                        format!("output column '{o}' is listed twice"),
                    ));
                }
            }
            Ok(ins.iter().cloned().zip(outs.iter().cloned()).collect())
        }
    }
}

/// Checks that a column exists and is numeric (integer, float, boolean or decimal).
pub(crate) fn check_numeric(schema: &Schema, col: &str) -> Result<Arc<Field>> {
    let f = field_of(schema, col)?;
    if !is_numeric(f.data_type()) {
        return Err(type_error(col, "a numeric type", f.data_type()));
    }
    Ok(f)
}

/// Appends fields to a schema, failing on a name that is taken.
pub(crate) fn append_fields(schema: &Schema, fields: Vec<Field>) -> Result<Schema> {
    let mut s = schema.clone();
    for f in fields {
        s = crate::dataset::schema_with_field(&s, f)?;
    }
    Ok(s)
}

/// True for column types a string-based stage accepts: strings, and numbers / booleans, which
/// are cast to strings first as Spark does.
pub(crate) fn is_string_like(dt: &DataType) -> bool {
    match dt {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => true,
        DataType::Dictionary(_, v) => is_string_like(v),
        other => is_numeric(other),
    }
}

/// A column as a `Utf8` array: strings as they are, other types cast as Spark's
/// `cast(col as string)` (numbers print as Arrow formats them, e.g. `1.5`, `7`).
pub(crate) fn string_view(data: &Dataset, col: &str) -> Result<StringArray> {
    let arr = data.column(col)?;
    if let Some(s) = arr.as_string_opt::<i32>() {
        return Ok(s.clone());
    }
    if !is_string_like(arr.data_type()) {
        return Err(type_error(col, "a string or numeric type", arr.data_type()));
    }
    let cast: ArrayRef = compute::cast(arr, &DataType::Utf8)?;
    Ok(cast.as_string::<i32>().clone())
}

/// Implements [`Params`](crate::Params) for a fitted model by delegating to the parameters of
/// the estimator it was fitted with (held in the given field), as Spark models share their
/// estimator's params.
macro_rules! delegate_params {
    ($model:ty, $field:ident) => {
        impl $crate::params::Params for $model {
            fn param_specs(&self) -> Vec<$crate::params::ParamSpec> {
                self.$field.param_specs()
            }
            fn get_param(&self, name: &str) -> $crate::error::Result<$crate::params::ParamValue> {
                self.$field.get_param(name)
            }
            fn set_param(
                &mut self,
                name: &str,
                value: $crate::params::ParamValue,
            ) -> $crate::error::Result<()> {
                self.$field.set_param(name, value)
            }
            fn validate(&self) -> $crate::error::Result<()> {
                $crate::params::Params::validate(&self.$field)
            }
        }
    };
}
pub(crate) use delegate_params;

/// JSON cannot hold NaN or infinities (serde_json writes them as `null`); these `serde(with)`
/// helpers write non-finite floats as the strings `"NaN"`, `"Infinity"`, `"-Infinity"` and read
/// them back, so split points and `missing_value = NaN` survive a save and load.
pub(crate) mod json_f64 {
    use serde::de::{self, Visitor};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    /// One float that may be non-finite.
    #[derive(Clone, Copy)]
    pub(crate) struct Jf(pub f64);

    impl Serialize for Jf {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let v = self.0;
            if v.is_nan() {
                s.serialize_str("NaN")
            } else if v == f64::INFINITY {
                s.serialize_str("Infinity")
            } else if v == f64::NEG_INFINITY {
                s.serialize_str("-Infinity")
            } else {
                s.serialize_f64(v)
            }
        }
    }

    struct JfVisitor;
    impl Visitor<'_> for JfVisitor {
        type Value = Jf;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a number or one of \"NaN\", \"Infinity\", \"-Infinity\"")
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Jf, E> {
            Ok(Jf(v))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Jf, E> {
            Ok(Jf(v as f64))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Jf, E> {
            Ok(Jf(v as f64))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Jf, E> {
            match v {
                "NaN" => Ok(Jf(f64::NAN)),
                "Infinity" => Ok(Jf(f64::INFINITY)),
                "-Infinity" => Ok(Jf(f64::NEG_INFINITY)),
                other => Err(E::invalid_value(de::Unexpected::Str(other), &self)),
            }
        }
    }

    impl<'de> Deserialize<'de> for Jf {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Jf, D::Error> {
            d.deserialize_any(JfVisitor)
        }
    }

    /// `serde(with)` for `f64`.
    pub(crate) mod scalar {
        use super::*;
        pub(crate) fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
            Jf(*v).serialize(s)
        }
        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
            Ok(Jf::deserialize(d)?.0)
        }
    }

    /// `serde(with)` for `Vec<f64>`.
    pub(crate) mod vec {
        use super::*;
        pub(crate) fn serialize<S: Serializer>(v: &[f64], s: S) -> Result<S::Ok, S::Error> {
            s.collect_seq(v.iter().map(|x| Jf(*x)))
        }
        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
            Ok(Vec::<Jf>::deserialize(d)?
                .into_iter()
                .map(|j| j.0)
                .collect())
        }
    }

    /// `serde(with)` for `Option<Vec<f64>>`.
    pub(crate) mod opt_vec {
        use super::*;
        pub(crate) fn serialize<S: Serializer>(
            v: &Option<Vec<f64>>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            v.as_ref()
                .map(|v| v.iter().map(|x| Jf(*x)).collect::<Vec<_>>())
                .serialize(s)
        }
        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<Vec<f64>>, D::Error> {
            Ok(Option::<Vec<Jf>>::deserialize(d)?.map(|v| v.into_iter().map(|j| j.0).collect()))
        }
    }

    /// `serde(with)` for `Vec<Vec<f64>>`.
    pub(crate) mod vec_vec {
        use super::*;
        pub(crate) fn serialize<S: Serializer>(v: &[Vec<f64>], s: S) -> Result<S::Ok, S::Error> {
            s.collect_seq(
                v.iter()
                    .map(|r| r.iter().map(|x| Jf(*x)).collect::<Vec<_>>()),
            )
        }
        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Vec<Vec<f64>>, D::Error> {
            Ok(Vec::<Vec<Jf>>::deserialize(d)?
                .into_iter()
                .map(|r| r.into_iter().map(|j| j.0).collect())
                .collect())
        }
    }
}

/// Keeps the rows where `keep` is true (used by `handle_invalid = "skip"`).
pub(crate) fn filter_rows(data: Dataset, keep: Vec<bool>) -> Result<Dataset> {
    if keep.iter().all(|&k| k) {
        return Ok(data);
    }
    data.filter(&arrow::array::BooleanArray::from(keep))
}
