//! Saving and loading fitted stages and pipeline models.
//!
//! Format (version [`FORMAT_VERSION`]): one JSON document
//! `{"format": "ml-model", "version": 1, "model": {"type": "<StageType>", ...state}}`.
//! The `type` tag is the explicit name in `#[typetag::serde(name = "...")]` on each
//! transformer's impl (the stage's type name when it was first saved; it does not follow
//! renames). Every load checks the model's structure ([`Transformer::validate_structure`],
//! recursively through pipelines and tuned models) and reports an inconsistent file as
//! [`MlError::Persistence`] naming it. Floats are written
//! with shortest round-trip formatting and read back exactly. Files are written to a temporary
//! name in the same directory and renamed into place, so a crash never leaves half a model.

use std::fs;
use std::io::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{MlError, Result};
use crate::traits::Transformer;

/// Version written into every model file; loading a newer version is an error.
pub const FORMAT_VERSION: u32 = 1;
const FORMAT_NAME: &str = "ml-model";

#[derive(Serialize)]
struct EnvelopeOut<'a> {
    format: &'static str,
    version: u32,
    model: &'a dyn Transformer,
}

#[derive(Deserialize)]
struct EnvelopeIn {
    format: String,
    version: u32,
    model: Box<dyn Transformer>,
}

#[derive(Deserialize)]
struct Header {
    format: Option<String>,
    version: Option<u32>,
}

/// Writes bytes to `path` atomically: a temporary file in the same directory, flushed and
/// synced, then renamed over the target (the same mechanism the CSV and Parquet writers use).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    crate::io::write_file_atomic(path, |w| {
        w.write_all(bytes).map_err(|e| MlError::io(path, e))
    })
}

/// Serializes a transformer (any fitted stage or a whole pipeline model) to a JSON string.
pub fn to_json(model: &dyn Transformer) -> Result<String> {
    serde_json::to_string(&EnvelopeOut {
        format: FORMAT_NAME,
        version: FORMAT_VERSION,
        model,
    })
    .map_err(|e| MlError::Persistence {
        path: "<memory>".into(),
        message: e.to_string(),
    })
}

/// Reads a transformer back from [`to_json`]'s output. `origin` names the source in errors.
pub fn from_json(json: &str, origin: &Path) -> Result<Box<dyn Transformer>> {
    let fail = |message: String| MlError::Persistence {
        path: origin.to_path_buf(),
        message,
    };
    let header: Header = serde_json::from_str(json)
        .map_err(|e| fail(format!("not a model file (invalid JSON: {e})")))?;
    if header.format.as_deref() != Some(FORMAT_NAME) {
        return Err(fail(format!(
            "not a model file: expected format '{FORMAT_NAME}', found {:?}",
            header.format
        )));
    }
    match header.version {
        Some(v) if v <= FORMAT_VERSION => {}
        v => {
            return Err(fail(format!(
                "format version {v:?} is not supported (this build reads up to {FORMAT_VERSION}); upgrade ml"
            )))
        }
    }
    let env: EnvelopeIn = serde_json::from_str(json)
        .map_err(|e| fail(format!("corrupt or incompatible model: {e}")))?;
    debug_assert_eq!(env.format, FORMAT_NAME);
    debug_assert!(env.version <= FORMAT_VERSION);
    env.model
        .validate_structure()
        .map_err(|e| fail(format!("inconsistent model: {}", e.data_message())))?;
    Ok(env.model)
}

/// Saves a transformer to `path` (atomic write).
pub fn save(model: &dyn Transformer, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    let json = to_json(model).map_err(|e| match e {
        MlError::Persistence { message, .. } => MlError::Persistence {
            path: path.to_path_buf(),
            message,
        },
        other => other,
    })?;
    write_atomic(path, json.as_bytes())
}

/// Loads any saved transformer.
pub fn load(path: impl AsRef<Path>) -> Result<Box<dyn Transformer>> {
    let path = path.as_ref();
    let json = fs::read_to_string(path).map_err(|e| MlError::io(path, e))?;
    from_json(&json, path)
}

/// Loads a saved transformer of a known concrete type.
pub fn load_as<T: Transformer + Clone + 'static>(path: impl AsRef<Path>) -> Result<T> {
    let path = path.as_ref();
    let model = load(path)?;
    model
        .as_any()
        .downcast_ref::<T>()
        .cloned()
        .ok_or_else(|| MlError::Persistence {
            path: path.to_path_buf(),
            message: format!(
                "the file holds another kind of model than {}",
                std::any::type_name::<T>()
            ),
        })
}
