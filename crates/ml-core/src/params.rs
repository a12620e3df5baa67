//! Parameters by name: what ParamGrid, CrossValidator, pipelines and persistence use.
//!
//! Every stage implements [`Params`]: it lists its parameters ([`ParamSpec`]: name, doc, default),
//! reads and writes them by name as [`ParamValue`]s, and validates them. The [`impl_params!`]
//! macro writes the implementation from a list of fields whose types implement [`ParamType`].
//!
//! [`impl_params!`]: crate::impl_params

use serde::{Deserialize, Serialize};

use crate::error::{MlError, Result};

/// A parameter value of one of the few types stages use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ParamValue {
    /// A boolean flag.
    Bool(bool),
    /// An integer (counts, depths, seeds).
    Int(i64),
    /// A real number (rates, penalties, fractions).
    Float(f64),
    /// A string (column names, enumerated options).
    Str(String),
    /// A list of strings (several columns).
    StrList(Vec<String>),
    /// A list of reals (splits, weights, thresholds).
    FloatList(Vec<f64>),
    /// An optional value that is not set.
    None,
}

impl std::fmt::Display for ParamValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParamValue::Bool(b) => write!(f, "{b}"),
            ParamValue::Int(i) => write!(f, "{i}"),
            ParamValue::Float(x) => write!(f, "{x}"),
            ParamValue::Str(s) => write!(f, "{s}"),
            ParamValue::StrList(v) => write!(f, "[{}]", v.join(", ")),
            ParamValue::FloatList(v) => {
                let s: Vec<String> = v.iter().map(|x| x.to_string()).collect();
                write!(f, "[{}]", s.join(", "))
            }
            ParamValue::None => write!(f, "none"),
        }
    }
}

impl ParamValue {
    /// The name of this value's kind, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            ParamValue::Bool(_) => "bool",
            ParamValue::Int(_) => "int",
            ParamValue::Float(_) => "float",
            ParamValue::Str(_) => "string",
            ParamValue::StrList(_) => "list of strings",
            ParamValue::FloatList(_) => "list of floats",
            ParamValue::None => "none",
        }
    }
}

macro_rules! from_value {
    ($($t:ty => $variant:ident),*) => {$(
        impl From<$t> for ParamValue {
            fn from(v: $t) -> Self { ParamValue::$variant(v.into()) }
        }
    )*};
}
from_value!(bool => Bool, i64 => Int, i32 => Int, u32 => Int, f64 => Float, String => Str,
    &str => Str, Vec<String> => StrList, Vec<f64> => FloatList);

impl From<usize> for ParamValue {
    fn from(v: usize) -> Self {
        ParamValue::Int(v as i64)
    }
}

/// Describes one parameter: its name, what it does, and its default.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamSpec {
    /// Name used to set it (snake_case; Spark's camelCase names are accepted as aliases).
    /// Inside a pipeline it is stage-qualified: `stage.param`.
    pub name: String,
    /// What it does and which values it accepts.
    pub doc: &'static str,
    /// The default value.
    pub default: ParamValue,
}

/// A Rust type that can be stored in and read from a [`ParamValue`].
pub trait ParamType: Sized {
    /// Converts to a parameter value.
    fn to_param(&self) -> ParamValue;
    /// Converts from a parameter value; `param` names the parameter in the error.
    fn from_param(param: &str, value: ParamValue) -> Result<Self>;
}

fn wrong_kind(param: &str, expected: &str, value: &ParamValue) -> MlError {
    MlError::param(
        param,
        format!("expected a {expected}, got {} ({value})", value.kind()),
    )
}

impl ParamType for bool {
    fn to_param(&self) -> ParamValue {
        ParamValue::Bool(*self)
    }
    fn from_param(param: &str, value: ParamValue) -> Result<Self> {
        match value {
            ParamValue::Bool(b) => Ok(b),
            v => Err(wrong_kind(param, "bool", &v)),
        }
    }
}

impl ParamType for f64 {
    fn to_param(&self) -> ParamValue {
        ParamValue::Float(*self)
    }
    fn from_param(param: &str, value: ParamValue) -> Result<Self> {
        match value {
            ParamValue::Float(x) => Ok(x),
            ParamValue::Int(i) => Ok(i as f64),
            v => Err(wrong_kind(param, "float", &v)),
        }
    }
}

macro_rules! int_param {
    ($($t:ty),*) => {$(
        impl ParamType for $t {
            fn to_param(&self) -> ParamValue { ParamValue::Int(*self as i64) }
            fn from_param(param: &str, value: ParamValue) -> Result<Self> {
                match value {
                    ParamValue::Int(i) => <$t>::try_from(i).map_err(|_| {
                        MlError::param(param, format!("{i} is out of range for {}", stringify!($t)))
                    }),
                    ParamValue::Float(x) if x.fract() == 0.0 && x.is_finite() => {
                        <$t>::try_from(x as i64).map_err(|_| {
                            MlError::param(param, format!("{x} is out of range for {}", stringify!($t)))
                        })
                    }
                    v => Err(wrong_kind(param, "integer", &v)),
                }
            }
        }
    )*};
}
int_param!(i64, i32, u64, u32, usize);

impl ParamType for String {
    fn to_param(&self) -> ParamValue {
        ParamValue::Str(self.clone())
    }
    fn from_param(param: &str, value: ParamValue) -> Result<Self> {
        match value {
            ParamValue::Str(s) => Ok(s),
            v => Err(wrong_kind(param, "string", &v)),
        }
    }
}

impl ParamType for Vec<String> {
    fn to_param(&self) -> ParamValue {
        ParamValue::StrList(self.clone())
    }
    fn from_param(param: &str, value: ParamValue) -> Result<Self> {
        match value {
            ParamValue::StrList(s) => Ok(s),
            ParamValue::Str(s) => Ok(vec![s]),
            v => Err(wrong_kind(param, "list of strings", &v)),
        }
    }
}

impl ParamType for Vec<f64> {
    fn to_param(&self) -> ParamValue {
        ParamValue::FloatList(self.clone())
    }
    fn from_param(param: &str, value: ParamValue) -> Result<Self> {
        match value {
            ParamValue::FloatList(s) => Ok(s),
            v => Err(wrong_kind(param, "list of floats", &v)),
        }
    }
}

impl<T: ParamType> ParamType for Option<T> {
    fn to_param(&self) -> ParamValue {
        match self {
            Some(v) => v.to_param(),
            None => ParamValue::None,
        }
    }
    fn from_param(param: &str, value: ParamValue) -> Result<Self> {
        match value {
            ParamValue::None => Ok(None),
            v => T::from_param(param, v).map(Some),
        }
    }
}

/// The error for a value that is not one of a parameter's allowed names.
pub fn unsupported_value(param: &str, value: &str, allowed: &[&str]) -> MlError {
    MlError::param(
        param,
        format!(
            "'{value}' is not supported; use one of: {}",
            allowed.join(", ")
        ),
    )
}

// For `param_enum!` in other crates (the macro names serde through ml-core).
#[doc(hidden)]
pub use serde as __serde;

/// Defines an enum of the values a parameter may take, parsed by their Spark (or XGBoost)
/// names.
///
/// The enum gets `FromStr` (an unknown name is [`MlError::InvalidParam`] naming the parameter
/// and listing the allowed names), `Display` and `as_str` (the name), serde as that name (so
/// saved files hold the same strings as before), and [`ParamType`] as a [`ParamValue::Str`], so
/// ParamGrid, CrossValidator and `set_param` keep setting it by name. `ignore_case` after the
/// parameter name accepts any letter case (as Spark does for `family`); the canonical name is
/// written back.
///
/// ```
/// use ml_core::{param_enum, ParamType, ParamValue};
///
/// param_enum! {
///     /// How to treat invalid rows.
///     pub enum Mode: "mode" {
///         /// Fail.
///         Error => "error",
///         /// Drop the row.
///         Skip => "skip",
///     }
/// }
/// assert_eq!("skip".parse::<Mode>().unwrap(), Mode::Skip);
/// assert_eq!(Mode::Error.to_string(), "error");
/// let e = "drop".parse::<Mode>().unwrap_err().to_string();
/// assert!(e.contains("'mode'") && e.contains("use one of: error, skip"), "{e}");
/// assert_eq!(Mode::from_param("mode", ParamValue::Str("skip".into())).unwrap(), Mode::Skip);
/// assert_eq!(serde_json::to_string(&Mode::Skip).unwrap(), "\"skip\"");
/// ```
#[macro_export]
macro_rules! param_enum {
    ($(#[$meta:meta])* $vis:vis enum $name:ident : $param:literal, ignore_case {
        $($(#[$vmeta:meta])* $variant:ident => $value:literal),+ $(,)?
    }) => {
        $crate::param_enum!(@define true, $(#[$meta])* $vis enum $name : $param {
            $($(#[$vmeta])* $variant => $value),+
        });
    };
    ($(#[$meta:meta])* $vis:vis enum $name:ident : $param:literal {
        $($(#[$vmeta:meta])* $variant:ident => $value:literal),+ $(,)?
    }) => {
        $crate::param_enum!(@define false, $(#[$meta])* $vis enum $name : $param {
            $($(#[$vmeta])* $variant => $value),+
        });
    };
    (@define $ignore_case:literal, $(#[$meta:meta])* $vis:vis enum $name:ident : $param:literal {
        $($(#[$vmeta:meta])* $variant:ident => $value:literal),+
    }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// The parameter these values belong to.
            pub const PARAM: &'static str = $param;
            /// Every value, in the documented order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// The allowed names, in the documented order.
            pub const NAMES: &'static [&'static str] = &[$($value),+];

            /// The value's Spark name.
            pub fn as_str(&self) -> &'static str {
                match self {
                    $($name::$variant => $value,)+
                }
            }

            /// Parses a name; errors name `param` (the name it was set under) and list the
            /// allowed values.
            pub fn parse_param(param: &str, value: &str) -> $crate::error::Result<Self> {
                $(
                    if value == $value || ($ignore_case && value.eq_ignore_ascii_case($value)) {
                        return Ok($name::$variant);
                    }
                )+
                Err($crate::params::unsupported_value(param, value, Self::NAMES))
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::error::MlError;
            fn from_str(s: &str) -> $crate::error::Result<Self> {
                Self::parse_param($param, s)
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl $crate::params::__serde::Serialize for $name {
            fn serialize<S: $crate::params::__serde::Serializer>(
                &self,
                s: S,
            ) -> ::std::result::Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> $crate::params::__serde::Deserialize<'de> for $name {
            fn deserialize<D: $crate::params::__serde::Deserializer<'de>>(
                d: D,
            ) -> ::std::result::Result<Self, D::Error> {
                let s = <::std::string::String as $crate::params::__serde::Deserialize>::deserialize(d)?;
                Self::parse_param($param, &s)
                    .map_err(<D::Error as $crate::params::__serde::de::Error>::custom)
            }
        }

        impl $crate::params::ParamType for $name {
            fn to_param(&self) -> $crate::params::ParamValue {
                $crate::params::ParamValue::Str(self.as_str().to_string())
            }
            fn from_param(
                param: &str,
                value: $crate::params::ParamValue,
            ) -> $crate::error::Result<Self> {
                match value {
                    $crate::params::ParamValue::Str(s) => Self::parse_param(param, &s),
                    v => Err($crate::error::MlError::param(
                        param,
                        format!(
                            "expected one of {} as a string, got {} ({v})",
                            Self::NAMES.join(", "),
                            v.kind()
                        ),
                    )),
                }
            }
        }
    };
}

/// Parameters readable and settable by name.
///
/// Names are snake_case. [`Params::set_param`] also accepts Spark's camelCase spelling
/// (`maxDepth` for `max_depth`), since [`normalize_param_name`] is applied first.
pub trait Params {
    /// Every parameter with its doc and default.
    fn param_specs(&self) -> Vec<ParamSpec>;
    /// The current value of a parameter.
    fn get_param(&self, name: &str) -> Result<ParamValue>;
    /// Sets a parameter, checking its type; then [`Params::validate`] is run.
    fn set_param(&mut self, name: &str, value: ParamValue) -> Result<()>;
    /// Checks that the current values are acceptable together (run before any work).
    fn validate(&self) -> Result<()> {
        Ok(())
    }
    /// Name and current value of every parameter.
    fn param_values(&self) -> Vec<(String, ParamValue)> {
        self.param_specs()
            .into_iter()
            .filter_map(|s| self.get_param(&s.name).ok().map(|v| (s.name, v)))
            .collect()
    }
}

/// Turns Spark's camelCase parameter names into snake_case (`maxDepth` -> `max_depth`).
pub fn normalize_param_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The error for an unknown parameter, listing the known ones.
pub fn unknown_param(name: &str, specs: &[ParamSpec]) -> MlError {
    let known: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
    MlError::param(
        name,
        format!("no such parameter; known parameters: {}", known.join(", ")),
    )
}

/// Implements [`Params`] for a struct from a list of its fields and their docs.
///
/// Each listed field's type must implement [`ParamType`], and the struct must implement
/// `Default` (the defaults reported by [`Params::param_specs`]). An optional
/// `validate = path` names a `fn(&Self) -> Result<()>` that checks values after every set.
/// `aliases { "other" => field }` adds alternative names (XGBoost's `num_round` for Spark's
/// `max_iter`, say).
///
/// ```
/// use ml_core::{impl_params, Params, ParamValue, MlError};
///
/// #[derive(Debug, Clone)]
/// struct Scaler { with_mean: bool, factor: f64 }
/// impl Default for Scaler { fn default() -> Self { Scaler { with_mean: false, factor: 1.0 } } }
/// fn check(s: &Scaler) -> Result<(), MlError> {
///     if s.factor <= 0.0 { return Err(MlError::param("factor", "must be > 0")); }
///     Ok(())
/// }
/// impl_params!(Scaler {
///     with_mean: "Center before scaling.",
///     factor: "Multiplier, > 0.",
/// } validate = check);
///
/// let mut s = Scaler::default();
/// s.set_param("withMean", ParamValue::Bool(true)).unwrap();
/// assert!(s.with_mean);
/// assert!(s.set_param("factor", ParamValue::Float(-1.0)).is_err());
/// assert_eq!(s.factor, 1.0, "a rejected value leaves the stage unchanged");
/// ```
#[macro_export]
macro_rules! impl_params {
    ($ty:ty { $($field:ident : $doc:expr),* $(,)? }
     $(aliases { $($alias:literal => $afield:ident),* $(,)? })?
     $(validate = $validate:path)?) => {
        impl $crate::params::Params for $ty {
            fn param_specs(&self) -> Vec<$crate::params::ParamSpec> {
                let d = <$ty as Default>::default();
                vec![$($crate::params::ParamSpec {
                    name: stringify!($field).to_string(),
                    doc: $doc,
                    default: $crate::params::ParamType::to_param(&d.$field),
                }),*]
            }
            fn get_param(&self, name: &str) -> $crate::error::Result<$crate::params::ParamValue> {
                let n = $crate::params::normalize_param_name(name);
                match n.as_str() {
                    $(stringify!($field) => Ok($crate::params::ParamType::to_param(&self.$field)),)*
                    $($($alias => Ok($crate::params::ParamType::to_param(&self.$afield)),)*)?
                    _ => Err($crate::params::unknown_param(name, &self.param_specs())),
                }
            }
            fn set_param(&mut self, name: &str, value: $crate::params::ParamValue) -> $crate::error::Result<()> {
                let n = $crate::params::normalize_param_name(name);
                let mut next = self.clone();
                match n.as_str() {
                    $(stringify!($field) => {
                        next.$field = $crate::params::ParamType::from_param(stringify!($field), value)?;
                    })*
                    $($($alias => {
                        next.$afield = $crate::params::ParamType::from_param($alias, value)?;
                    })*)?
                    _ => return Err($crate::params::unknown_param(name, &self.param_specs())),
                }
                $crate::params::Params::validate(&next)?;
                *self = next;
                Ok(())
            }
            fn validate(&self) -> $crate::error::Result<()> {
                $( return $validate(self); )?
                #[allow(unreachable_code)]
                Ok(())
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Default)]
    struct Demo {
        max_depth: usize,
        eta: f64,
        cols: Vec<String>,
        seed: Option<u64>,
    }
    crate::impl_params!(Demo {
        max_depth: "depth",
        eta: "rate",
        cols: "columns",
        seed: "seed",
    } aliases { "step_size" => eta });

    #[test]
    fn set_and_get_by_name_with_aliases_and_camel_case() {
        let mut d = Demo::default();
        d.set_param("maxDepth", 7usize.into()).unwrap();
        d.set_param("step_size", 0.3.into()).unwrap();
        d.set_param("cols", ParamValue::Str("a".into())).unwrap();
        d.set_param("seed", ParamValue::Int(5)).unwrap();
        assert_eq!(d.max_depth, 7);
        assert_eq!(d.get_param("eta").unwrap(), ParamValue::Float(0.3));
        assert_eq!(d.cols, vec!["a".to_string()]);
        assert_eq!(d.seed, Some(5));
        assert_eq!(d.param_specs().len(), 4);
    }

    #[test]
    fn wrong_type_and_unknown_name_are_errors_naming_the_param() {
        let mut d = Demo::default();
        let e = d
            .set_param("max_depth", ParamValue::Str("x".into()))
            .unwrap_err();
        assert!(e.to_string().contains("max_depth"));
        let e = d.set_param("max_dept", ParamValue::Int(1)).unwrap_err();
        assert!(e.to_string().contains("known parameters"));
        let e = d.set_param("max_depth", ParamValue::Int(-1)).unwrap_err();
        assert!(e.to_string().contains("out of range"));
    }

    #[test]
    fn camel_case_normalization() {
        assert_eq!(normalize_param_name("elasticNetParam"), "elastic_net_param");
        assert_eq!(normalize_param_name("max_bin"), "max_bin");
    }
}
