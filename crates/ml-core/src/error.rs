//! The error type of ml-core: every failure names the column, file, row or parameter at fault.

use std::path::PathBuf;

/// Result alias used throughout ml-core.
pub type Result<T, E = MlError> = std::result::Result<T, E>;

/// Everything that can go wrong in ml-core. Each variant names the place at fault and, where it
/// helps, says what to do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MlError {
    /// A column was asked for by name and the dataset has no such column.
    #[error("column '{column}' not found; available columns: {available}")]
    ColumnNotFound {
        /// The column that was asked for.
        column: String,
        /// The columns the dataset has, comma-separated.
        available: String,
    },
    /// A column was asked for when reading a file (a projection) and the file has no such
    /// column.
    #[error("file '{path}' has no column '{column}'; its columns: {available}")]
    ColumnNotInFile {
        /// The file (or directory of part files).
        path: PathBuf,
        /// The column that was asked for.
        column: String,
        /// The columns the file has, comma-separated.
        available: String,
    },
    /// A column exists but holds another type than the stage needs.
    #[error("column '{column}' has type {found}, expected {expected}")]
    ColumnType {
        /// The column at fault.
        column: String,
        /// What the stage needs.
        expected: String,
        /// What the column holds.
        found: String,
    },
    /// An output column would overwrite an existing one.
    #[error("output column '{column}' already exists; choose another output column name")]
    ColumnExists {
        /// The column that already exists.
        column: String,
    },
    /// A value in a column is not acceptable (null where none is allowed, unseen label, ...).
    #[error("column '{column}', row {row}: {message}")]
    InvalidValue {
        /// The column at fault.
        column: String,
        /// Zero-based row index.
        row: usize,
        /// What is wrong and what to do.
        message: String,
    },
    /// A parameter has a value outside its domain, or no such parameter exists.
    #[error("parameter '{param}': {message}")]
    InvalidParam {
        /// Parameter name (stage-qualified inside a pipeline).
        param: String,
        /// What is wrong and what is accepted.
        message: String,
    },
    /// The data as a whole is unusable (empty, a single class, shapes that do not agree).
    #[error("invalid data: {0}")]
    InvalidData(String),
    /// Reading or writing a file failed at the OS level.
    #[error("I/O error on '{path}': {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A CSV file could not be parsed.
    #[error("CSV file '{path}', line {line}: {message}")]
    Csv {
        /// The file.
        path: PathBuf,
        /// One-based line number in the file (0 when unknown).
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A Parquet file could not be read or written.
    #[error("Parquet file '{path}': {message}")]
    Parquet {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A saved model or pipeline could not be written or read back.
    #[error("model file '{path}': {message}")]
    Persistence {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// An error from Arrow compute kernels.
    #[error("arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
}

impl MlError {
    /// Shorthand for [`MlError::InvalidParam`].
    pub fn param(param: impl Into<String>, message: impl Into<String>) -> Self {
        MlError::InvalidParam {
            param: param.into(),
            message: message.into(),
        }
    }

    /// Shorthand for [`MlError::InvalidValue`].
    pub fn value(column: impl Into<String>, row: usize, message: impl Into<String>) -> Self {
        MlError::InvalidValue {
            column: column.into(),
            row,
            message: message.into(),
        }
    }

    /// Shorthand for [`MlError::Io`].
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        MlError::Io {
            path: path.into(),
            source,
        }
    }

    /// Shorthand for [`MlError::InvalidData`].
    pub fn data(message: impl Into<String>) -> Self {
        MlError::InvalidData(message.into())
    }

    /// This error as [`MlError::InvalidData`] found in `context` (a pipeline stage, a part of
    /// a model): the message becomes `"{context}: {message}"`, without repeating the
    /// "invalid data" prefix when errors nest.
    pub fn in_context(self, context: &str) -> Self {
        MlError::InvalidData(format!("{context}: {}", self.data_message()))
    }

    /// The message of an [`MlError::InvalidData`], or the whole text of any other error.
    pub fn data_message(&self) -> String {
        match self {
            MlError::InvalidData(m) => m.clone(),
            other => other.to_string(),
        }
    }
}

/// The message of a caught panic (`catch_unwind`'s payload): its `&str` or `String`, or "no
/// message". Readers that run a third-party decoder under `catch_unwind` put it in the error
/// they return.
///
/// ```
/// let payload = std::panic::catch_unwind(|| panic!("bad block {}", 3)).unwrap_err();
/// assert_eq!(ml_core::error::panic_message(payload.as_ref()), "bad block 3");
/// ```
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".into())
}
