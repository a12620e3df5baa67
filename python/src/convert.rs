//! Conversions between Python values, JSON parameters and the library's errors.

use ml_core::{MlError, ParamValue};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::PyErr;

/// A library error as a Python exception: `ValueError` for what the caller passed (parameters,
/// columns, values), `RuntimeError` for the rest (a lost peer, a failed check on another
/// worker, I/O).
pub fn py_err(e: MlError) -> PyErr {
    match e {
        MlError::InvalidParam { .. }
        | MlError::ColumnNotFound { .. }
        | MlError::ColumnType { .. }
        | MlError::ColumnExists { .. }
        | MlError::InvalidValue { .. } => PyValueError::new_err(e.to_string()),
        other => PyRuntimeError::new_err(other.to_string()),
    }
}

/// A JSON value as a parameter value: booleans, integers, reals, strings, lists of strings or
/// of numbers, and null (unset).
pub fn param_value(name: &str, v: &serde_json::Value) -> Result<ParamValue, MlError> {
    use serde_json::Value;
    Ok(match v {
        Value::Null => ParamValue::None,
        Value::Bool(b) => ParamValue::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => ParamValue::Int(i),
            None => ParamValue::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => ParamValue::Str(s.clone()),
        Value::Array(a) if a.iter().all(Value::is_string) => ParamValue::StrList(
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect(),
        ),
        Value::Array(a) if a.iter().all(Value::is_number) => {
            ParamValue::FloatList(a.iter().filter_map(Value::as_f64).collect())
        }
        other => {
            return Err(MlError::param(
                name,
                format!("expected a bool, number, string or list of them, got {other}"),
            ))
        }
    })
}

/// A parameter value as JSON (for the Python side's defaults).
pub fn param_json(v: &ParamValue) -> serde_json::Value {
    use serde_json::json;
    match v {
        ParamValue::Bool(b) => json!(b),
        ParamValue::Int(i) => json!(i),
        ParamValue::Float(x) if x.is_finite() => json!(x),
        ParamValue::Float(x) => json!(x.to_string()),
        ParamValue::Str(s) => json!(s),
        ParamValue::StrList(l) => json!(l),
        ParamValue::FloatList(l) => json!(l),
        _ => serde_json::Value::Null,
    }
}
