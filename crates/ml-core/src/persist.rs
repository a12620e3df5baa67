//! Saving and loading fitted stages and pipeline models.
//!
//! Format (version [`FORMAT_VERSION`] = 2): one JSON document
//! `{"format":"ml-model","version":2,"checksum":"crc32:<8 hex digits>","model":{"type":"<StageType>",...state}}`.
//! The checksum is the CRC-32 (zlib's) of the exact bytes of the `model` value as written, so a
//! truncated, bit-flipped or edited file is refused instead of loading a different model.
//! Files of version 1 (written before the checksum existed: the same document without
//! `checksum`) still load, without that protection; saving always writes version 2.
//!
//! The `type` tag is the explicit name in `#[typetag::serde(name = "...")]` on each
//! transformer's impl (the stage's type name when it was first saved; it does not follow
//! renames). Every load checks the model's structure ([`Transformer::validate_structure`],
//! recursively through pipelines and tuned models). Every fault of a file (empty, not UTF-8,
//! not JSON, truncated, another format, an unsupported version, a checksum that does not
//! match, an unknown stage type, an inconsistent model) is an [`MlError::Persistence`] naming
//! the file and saying what is wrong; a path that is not a regular file is refused. Floats are
//! written with shortest round-trip formatting and read back exactly.
//!
//! Saving is atomic: the document goes to a temporary file in the same directory, which is
//! synced and renamed over the target only when complete, so a crash or a full disk leaves the
//! previous file intact. Only a regular file (or nothing) is replaced; a symbolic link is
//! followed to the regular file it names (see [`crate::io`]).

use std::fs;
use std::path::Path;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::crc32::crc32;
use crate::error::{MlError, Result};
use crate::traits::Transformer;

/// Version written into every model file; files of this version or older load (version 1
/// without a checksum), a newer version is an error.
pub const FORMAT_VERSION: u32 = 2;
const FORMAT_NAME: &str = "ml-model";
const CHECKSUM_PREFIX: &str = "crc32:";

/// The envelope as read: every field optional, so that each missing one gets its own message.
#[derive(Deserialize)]
struct EnvelopeIn<'a> {
    format: Option<String>,
    version: Option<u64>,
    checksum: Option<String>,
    #[serde(borrow)]
    model: Option<&'a RawValue>,
}

/// Writes bytes to `path` atomically: a temporary file in the same directory, flushed and
/// synced, then renamed over the target (the same mechanism the CSV and Parquet writers use).
/// A target that is a directory, FIFO, device or socket is refused; a symbolic link is
/// followed to the regular file it names.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    crate::io::write_file_atomic(path, |w| {
        w.write_all(bytes).map_err(|e| MlError::io(path, e))
    })
}

/// Serializes a transformer (any fitted stage or a whole pipeline model) to a JSON string,
/// the document [`save`] writes.
pub fn to_json(model: &dyn Transformer) -> Result<String> {
    let payload = serde_json::to_string(model).map_err(|e| MlError::Persistence {
        path: "<memory>".into(),
        message: e.to_string(),
    })?;
    Ok(format!(
        r#"{{"format":"{FORMAT_NAME}","version":{FORMAT_VERSION},"checksum":"{CHECKSUM_PREFIX}{:08x}","model":{payload}}}"#,
        crc32(payload.as_bytes())
    ))
}

/// Reads a transformer back from [`to_json`]'s output (or a version-1 document). `origin`
/// names the source in errors.
pub fn from_json(json: &str, origin: &Path) -> Result<Box<dyn Transformer>> {
    let fail = |message: String| MlError::Persistence {
        path: origin.to_path_buf(),
        message,
    };
    if json.trim().is_empty() {
        return Err(fail("the file is empty, not a model".into()));
    }
    let env: EnvelopeIn = serde_json::from_str(json).map_err(|e| {
        use serde_json::error::Category;
        let at_end = byte_offset(json, e.line(), e.column()) + 1 >= json.trim_end().len();
        fail(match e.classify() {
            Category::Eof | Category::Syntax if at_end => format!(
                "truncated: the document ends early (line {}, column {}); the file is incomplete",
                e.line(),
                e.column()
            ),
            Category::Syntax | Category::Eof => {
                format!("not a model file or corrupted (invalid JSON: {e})")
            }
            _ => format!("not a model file ({e})"),
        })
    })?;
    if env.format.as_deref() != Some(FORMAT_NAME) {
        return Err(fail(format!(
            "not a model file: expected format '{FORMAT_NAME}', found {:?}",
            env.format
        )));
    }
    let version = match env.version {
        None => return Err(fail("no format version in the file".into())),
        Some(v @ 1..=2) => v,
        Some(v) if v > FORMAT_VERSION as u64 => {
            return Err(fail(format!(
                "format version {v} is not supported (this build reads up to {FORMAT_VERSION}); upgrade ml"
            )))
        }
        Some(v) => return Err(fail(format!("format version {v} does not exist"))),
    };
    let Some(raw) = env.model else {
        return Err(fail("no model in the file".into()));
    };
    let parse = || -> Result<Box<dyn Transformer>> {
        let model: Box<dyn Transformer> = serde_json::from_str(raw.get())
            .map_err(|e| fail(format!("corrupt or incompatible model: {e}")))?;
        model
            .validate_structure()
            .map_err(|e| fail(format!("inconsistent model: {}", e.data_message())))?;
        Ok(model)
    };
    if version >= 2 {
        let Some(stored) = env.checksum else {
            return Err(fail(format!("no checksum in a version-{version} file")));
        };
        let expected = parse_checksum(&stored).ok_or_else(|| {
            fail(format!(
                "malformed checksum {stored:?} (expected '{CHECKSUM_PREFIX}' and 8 lowercase hex digits)"
            ))
        })?;
        let actual = crc32(raw.get().as_bytes());
        if actual != expected {
            // Say what else is wrong when the model itself shows it.
            let detail = match parse() {
                Err(MlError::Persistence { message, .. }) => format!("; {message}"),
                _ => String::new(),
            };
            return Err(fail(format!(
                "checksum mismatch: the model's CRC-32 is {actual:08x} but the file records \
                 {expected:08x}; the file was corrupted or edited after it was saved{detail}"
            )));
        }
    }
    parse()
}

/// The byte offset of serde_json's one-based `line` and `column` in `text`.
fn byte_offset(text: &str, line: usize, column: usize) -> usize {
    let line_start: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    (line_start + column).saturating_sub(1)
}

/// `crc32:` followed by exactly 8 lowercase hex digits (as written; nothing else is accepted,
/// so that a flipped bit in the checksum never goes unnoticed).
fn parse_checksum(s: &str) -> Option<u32> {
    let hex = s.strip_prefix(CHECKSUM_PREFIX)?;
    if hex.len() != 8 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    u32::from_str_radix(hex, 16).ok()
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
    let meta = fs::metadata(path).map_err(|e| MlError::io(path, e))?;
    if !meta.is_file() {
        return Err(MlError::Persistence {
            path: path.to_path_buf(),
            message: format!(
                "not a regular file ({}), not a model",
                crate::io::kind_of(&meta.file_type())
            ),
        });
    }
    let bytes = fs::read(path).map_err(|e| MlError::io(path, e))?;
    let json = std::str::from_utf8(&bytes).map_err(|e| MlError::Persistence {
        path: path.to_path_buf(),
        message: format!(
            "not a model file or corrupted: not UTF-8 text (invalid byte at offset {})",
            e.valid_up_to()
        ),
    })?;
    from_json(json, path)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{AddConstant, MeanCenter};
    use crate::{Dataset, Estimator, Pipeline, PipelineModel};
    use arrow::array::{ArrayRef, Float64Array};
    use std::sync::Arc;

    /// A small fitted pipeline (a constant, then centring) and its saved document.
    fn saved() -> (PipelineModel, String) {
        let data = Dataset::from_columns(vec![(
            "x",
            Arc::new(Float64Array::from(vec![1.0, 2.0, 6.5])) as ArrayRef,
        )])
        .unwrap();
        let model = Pipeline::new()
            .transformer("plus", AddConstant::new("x", "y", 0.1))
            .estimator("center", MeanCenter::new("y", "z"))
            .fit(&data)
            .unwrap();
        let json = to_json(&model).unwrap();
        (model, json)
    }

    fn message(e: MlError, origin: &str) -> String {
        match e {
            MlError::Persistence { path, message } => {
                assert_eq!(path, Path::new(origin));
                message
            }
            other => panic!("expected a Persistence error, got {other:?}"),
        }
    }

    #[test]
    fn the_document_carries_version_2_and_the_crc32_of_the_model_as_written() {
        // Checksum computed independently: Python's zlib.crc32 of the payload bytes.
        let json = to_json(&AddConstant::new("x", "y", 0.1)).unwrap();
        assert_eq!(
            json,
            r#"{"format":"ml-model","version":2,"checksum":"crc32:98f80fae","model":{"type":"AddConstant","input_col":"x","output_col":"y","amount":0.1}}"#
        );
        let back = from_json(&json, Path::new("m.json")).unwrap();
        let back = back.as_any().downcast_ref::<AddConstant>().unwrap();
        assert_eq!(back.amount, 0.1);
    }

    #[test]
    fn version_1_files_without_a_checksum_still_load() {
        let v1 = r#"{"format":"ml-model","version":1,"model":{"type":"AddConstant","input_col":"x","output_col":"y","amount":2.5}}"#;
        let m = from_json(v1, Path::new("old.json")).unwrap();
        assert_eq!(
            m.as_any().downcast_ref::<AddConstant>().unwrap().amount,
            2.5
        );
        // Key order does not matter.
        let reordered = r#"{"model":{"amount":2.5,"type":"AddConstant","input_col":"x","output_col":"y"},"version":1,"format":"ml-model"}"#;
        assert!(from_json(reordered, Path::new("old.json")).is_ok());
    }

    #[test]
    fn every_single_bit_flip_is_refused() {
        let (_, json) = saved();
        let bytes = json.as_bytes();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flipped.json");
        let origin = path.to_str().unwrap().to_string();
        for i in 0..bytes.len() {
            for bit in 0..8 {
                let mut b = bytes.to_vec();
                b[i] ^= 1 << bit;
                fs::write(&path, &b).unwrap();
                match load(&path) {
                    Ok(_) => panic!("byte {i} bit {bit} flipped loads as a model"),
                    Err(e) => {
                        let m = message(e, &origin);
                        assert!(!m.is_empty());
                    }
                }
            }
        }
        // The unflipped file loads.
        fs::write(&path, bytes).unwrap();
        assert!(load(&path).is_ok());
    }

    #[test]
    fn every_truncation_is_refused_and_says_so() {
        let (_, json) = saved();
        for len in 0..json.len() {
            let m = message(
                from_json(&json[..len], Path::new("cut.json")).unwrap_err(),
                "cut.json",
            );
            if len == 0 {
                assert!(m.contains("empty"), "{m}");
            } else {
                assert!(m.starts_with("truncated"), "{len}: {m}");
            }
        }
    }

    #[test]
    fn an_edited_model_is_a_checksum_mismatch_that_says_what_else_is_wrong() {
        let (_, json) = saved();
        // A valid model with another constant: only the checksum can tell.
        let edited = json.replace("\"amount\":0.1", "\"amount\":0.2");
        assert_ne!(edited, json);
        let m = message(
            from_json(&edited, Path::new("e.json")).unwrap_err(),
            "e.json",
        );
        assert!(m.starts_with("checksum mismatch"), "{m}");
        assert!(m.contains("corrupted or edited"), "{m}");
        // An unknown stage type: the mismatch and the cause.
        let edited = json.replace("\"AddConstant\"", "\"AddKonstant\"");
        let m = message(
            from_json(&edited, Path::new("e.json")).unwrap_err(),
            "e.json",
        );
        assert!(
            m.starts_with("checksum mismatch") && m.contains("AddKonstant"),
            "{m}"
        );
        // Checksums are written and read in lowercase only.
        let start = json.find("crc32:").unwrap() + 6;
        let upper = format!(
            "{}{}{}",
            &json[..start],
            json[start..start + 8].to_uppercase(),
            &json[start + 8..]
        );
        if upper != json {
            let m = message(
                from_json(&upper, Path::new("u.json")).unwrap_err(),
                "u.json",
            );
            assert!(m.starts_with("malformed checksum"), "{m}");
        }
        let no_sum = json.replacen("\"checksum\"", "\"comment\"", 1);
        let m = message(
            from_json(&no_sum, Path::new("n.json")).unwrap_err(),
            "n.json",
        );
        assert_eq!(m, "no checksum in a version-2 file");
    }

    #[test]
    fn foreign_files_are_refused_naming_the_file_and_the_fault() {
        let cases: &[(&[u8], &str)] = &[
            (b"", "the file is empty"),
            (b"  \n", "the file is empty"),
            (
                b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR",
                "not UTF-8 text (invalid byte at offset 0)",
            ),
            (b"a,b\n1,2\n", "not a model file or corrupted (invalid JSON"),
            (b"[1, 2]", "not a model file (invalid type: integer `1`"),
            (
                b"{}",
                "not a model file: expected format 'ml-model', found None",
            ),
            (
                br#"{"format":"onnx"}"#,
                "expected format 'ml-model', found Some(\"onnx\")",
            ),
            (br#"{"format":"ml-model"}"#, "no format version in the file"),
            (
                br#"{"format":"ml-model","version":0,"model":{}}"#,
                "format version 0 does not exist",
            ),
            (
                br#"{"format":"ml-model","version":3,"model":{}}"#,
                "format version 3 is not supported",
            ),
            (
                br#"{"format":"ml-model","version":-1}"#,
                "not a model file (invalid value: integer `-1`",
            ),
            (
                br#"{"format":"ml-model","version":2}"#,
                "no model in the file",
            ),
            (
                br#"{"format":"ml-model","version":1,"model":{}} trailing"#,
                "trailing characters",
            ),
        ];
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("foreign.bin");
        let origin = path.to_str().unwrap().to_string();
        for (bytes, expected) in cases {
            fs::write(&path, bytes).unwrap();
            let e = load(&path).unwrap_err();
            assert!(e.to_string().contains("foreign.bin"), "{e}");
            let m = message(e, &origin);
            assert!(
                m.contains(expected),
                "{:?}: {m}",
                String::from_utf8_lossy(bytes)
            );
        }
        // Not a regular file.
        let m = message(load(dir.path()).unwrap_err(), dir.path().to_str().unwrap());
        assert_eq!(m, "not a regular file (a directory), not a model");
        #[cfg(unix)]
        {
            let m = message(load("/dev/zero").unwrap_err(), "/dev/zero");
            assert!(m.contains("a character device"), "{m}");
        }
    }

    #[test]
    fn a_failed_save_leaves_the_previous_model_and_no_temporary_file() {
        let (model, _) = saved();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.json");
        save(&AddConstant::new("x", "y", 7.0), &path).unwrap();
        let before = fs::read(&path).unwrap();
        // A disk that fills after n bytes, through the writer `save` uses.
        let json = to_json(&model).unwrap();
        for n in [0, 1, json.len() / 2, json.len() - 1] {
            let e = crate::io::write_file_atomic_via(
                &path,
                |file| Ok(crate::io::FailAfter { file, left: n }),
                |w| {
                    w.write_all(json.as_bytes())
                        .map_err(|e| MlError::io(&path, e))
                },
            )
            .unwrap_err();
            assert!(matches!(e, MlError::Io { .. }), "{e}");
            assert_eq!(fs::read(&path).unwrap(), before);
            assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        }
        let kept: AddConstant = load_as(&path).unwrap();
        assert_eq!(kept.amount, 7.0);

        // A read-only directory: the temporary file cannot be created. (Root ignores the
        // permission bits; the check then only runs where it can fail.)
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o555)).unwrap();
            let enforced = fs::File::create(dir.path().join("probe")).is_err();
            if enforced {
                let e = save(&model, &path).unwrap_err();
                assert!(matches!(e, MlError::Io { .. }), "{e}");
                assert!(e.to_string().contains("model.json"), "{e}");
                assert_eq!(fs::read(&path).unwrap(), before);
                assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
            } else {
                eprintln!("running as root: read-only directory check skipped");
            }
            fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        }

        // A save that succeeds replaces the file completely.
        save(&model, &path).unwrap();
        let loaded: PipelineModel = load_as(&path).unwrap();
        assert_eq!(to_json(&loaded).unwrap(), to_json(&model).unwrap());
    }
}
