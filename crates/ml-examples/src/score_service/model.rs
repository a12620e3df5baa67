//! The model being served: loaded and compiled once per file version, swapped atomically when
//! the file changes, so a request always scores with one whole model.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use ml_core::params::{ParamValue, Params};
use ml_core::row::{RowScorer, RowValue};
use ml_core::{MlError, PipelineModel};

/// The output column the service adds for TreeSHAP reasons.
const CONTRIBUTIONS: &str = "contributions__";

/// What identifies one version of the model file: a new file renamed into place changes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

impl FileStamp {
    /// The stamp of the file at `path` now.
    pub fn of(path: &Path) -> std::io::Result<FileStamp> {
        let m = std::fs::metadata(path)?;
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(&m);
        #[cfg(not(unix))]
        let inode = 0;
        Ok(FileStamp {
            modified: m.modified().ok(),
            len: m.len(),
            inode,
        })
    }
}

/// One loaded version of the model, compiled for rows.
#[derive(Debug)]
pub struct LoadedModel {
    /// The compiled scorer.
    pub scorer: RowScorer,
    /// The output columns returned, in order (the contributions column excluded).
    pub outputs: Vec<String>,
    /// Names of the feature slots the TreeSHAP contributions refer to (empty without reasons).
    pub feature_names: Vec<String>,
    /// How many reasons to return per row (0: none).
    pub reasons: usize,
    /// 1 for the model loaded at start, then one more per reload.
    pub version: u64,
    /// The file version it was loaded from.
    pub stamp: FileStamp,
}

impl LoadedModel {
    /// Loads the pipeline model saved at `path` and compiles it for rows, returning `outputs`
    /// and, when `reasons > 0` and a stage offers TreeSHAP contributions, the `reasons` slots
    /// that moved the margin most.
    pub fn load(
        path: &Path,
        outputs: &[String],
        reasons: usize,
        version: u64,
    ) -> ml_core::Result<LoadedModel> {
        let stamp = FileStamp::of(path).map_err(|e| MlError::io(path, e))?;
        let mut model: PipelineModel = ml_core::persist::load_as(path)?;
        let mut asked: Vec<&str> = outputs.iter().map(String::as_str).collect();
        let mut feature_names = Vec::new();
        if reasons > 0 {
            if let Some(features_col) = enable_contributions(&mut model)? {
                asked.push(CONTRIBUTIONS);
                let scorer = RowScorer::compile(&model, &[])?;
                let field = scorer
                    .schema()
                    .field_with_name(&features_col)
                    .map_err(|e| MlError::data(e.to_string()))?
                    .clone();
                let width = match field.data_type() {
                    arrow::datatypes::DataType::FixedSizeList(_, w) => *w as usize,
                    _ => 0,
                };
                feature_names = ml_core::attributes::slot_names(&field, width);
            }
        }
        let scorer = RowScorer::compile(&model, &asked)?;
        Ok(LoadedModel {
            scorer,
            outputs: outputs.to_vec(),
            reasons: if feature_names.is_empty() { 0 } else { reasons },
            feature_names,
            version,
            stamp,
        })
    }

    /// The top reasons of a row from its contributions: the slots with the largest absolute
    /// contribution to the margin of `group` (the predicted class for multiclass models).
    pub fn reasons_of(&self, contributions: &RowValue, group: usize) -> Vec<(String, f64)> {
        let RowValue::Vector(c) = contributions else {
            return Vec::new();
        };
        let d = self.feature_names.len();
        let Some(g) = c.get(group * (d + 1)..(group + 1) * (d + 1)) else {
            return Vec::new();
        };
        let mut order: Vec<usize> = (0..d).filter(|&i| g[i] != 0.0).collect();
        order.sort_by(|&a, &b| g[b].abs().total_cmp(&g[a].abs()).then(a.cmp(&b)));
        order
            .into_iter()
            .take(self.reasons)
            .map(|i| (self.feature_names[i].clone(), g[i]))
            .collect()
    }
}

/// Sets `contrib_prediction_col` on the last stage that has it (the model), returning its
/// features column; `None` when no stage offers contributions.
fn enable_contributions(model: &mut PipelineModel) -> ml_core::Result<Option<String>> {
    let stage = model
        .stages()
        .iter()
        .rev()
        .find(|(_, s)| {
            s.param_specs()
                .iter()
                .any(|p| p.name == "contrib_prediction_col")
        })
        .map(|(n, s)| (n.clone(), s.get_param("features_col")));
    let Some((name, features)) = stage else {
        return Ok(None);
    };
    model.set_param(
        &format!("{name}.contrib_prediction_col"),
        ParamValue::Str(CONTRIBUTIONS.into()),
    )?;
    match features? {
        ParamValue::Str(f) => Ok(Some(f)),
        _ => Ok(None),
    }
}

/// The model in service: the current version behind a lock held only to clone an `Arc`, so a
/// swap never waits for requests and a request in flight keeps the version it started with.
#[derive(Debug)]
pub struct ModelSlot {
    path: PathBuf,
    outputs: Vec<String>,
    reasons: usize,
    current: RwLock<Arc<LoadedModel>>,
    last_error: RwLock<Option<String>>,
    failed_stamp: RwLock<Option<FileStamp>>,
}

impl ModelSlot {
    /// Loads the first version; an error here stops the service from starting.
    pub fn open(path: &Path, outputs: &[String], reasons: usize) -> ml_core::Result<ModelSlot> {
        let first = LoadedModel::load(path, outputs, reasons, 1)?;
        Ok(ModelSlot {
            path: path.to_path_buf(),
            outputs: outputs.to_vec(),
            reasons,
            current: RwLock::new(Arc::new(first)),
            last_error: RwLock::new(None),
            failed_stamp: RwLock::new(None),
        })
    }

    /// The model file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The current version.
    pub fn current(&self) -> Arc<LoadedModel> {
        // A poisoned lock still holds a whole `Arc`: no writer panics between its steps.
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The error of the last failed reload, cleared by a successful one.
    pub fn last_error(&self) -> Option<String> {
        self.last_error
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Loads the file again when it changed since the current version (and since the last
    /// failed attempt); returns the new version number when it swapped. A file that fails to
    /// load leaves the current version in service.
    pub fn reload_if_changed(&self) -> Option<u64> {
        let stamp = FileStamp::of(&self.path).ok()?;
        let current = self.current();
        let failed = *self.failed_stamp.read().unwrap_or_else(|e| e.into_inner());
        if stamp == current.stamp || Some(stamp) == failed {
            return None;
        }
        match LoadedModel::load(&self.path, &self.outputs, self.reasons, current.version + 1) {
            Ok(m) => {
                let v = m.version;
                *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(m);
                *self.last_error.write().unwrap_or_else(|e| e.into_inner()) = None;
                tracing::info!(version = v, path = %self.path.display(), "model reloaded");
                Some(v)
            }
            Err(e) => {
                tracing::warn!(error = %e, "model reload failed; the previous version stays");
                *self.failed_stamp.write().unwrap_or_else(|e| e.into_inner()) = Some(stamp);
                *self.last_error.write().unwrap_or_else(|e| e.into_inner()) = Some(e.to_string());
                None
            }
        }
    }
}
