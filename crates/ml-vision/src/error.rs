//! The error type of ml-vision: every failure names the file (image, video or model) at fault.

use std::path::PathBuf;

use ml_core::MlError;

/// Result alias used throughout ml-vision.
pub type Result<T, E = VisionError> = std::result::Result<T, E>;

/// Everything that can go wrong in ml-vision.
///
/// Stages that implement ml-core's traits return [`MlError`]; a `VisionError` converts into it
/// keeping the file name and the message (`From<VisionError> for MlError`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VisionError {
    /// Reading or writing a file failed at the OS level (missing file, permission, ...).
    #[error("I/O error on '{path}': {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// An image file could not be decoded (truncated, corrupt, unsupported format).
    #[error("image '{path}' could not be decoded: {message}")]
    ImageDecode {
        /// The image file.
        path: PathBuf,
        /// What the decoder said.
        message: String,
    },
    /// An image could not be encoded or written.
    #[error("image '{path}' could not be written: {message}")]
    ImageEncode {
        /// The output file.
        path: PathBuf,
        /// What the encoder said.
        message: String,
    },
    /// A video file could not be opened or decoded (not a video, corrupt, no video stream).
    #[error("video '{path}': {message}")]
    Video {
        /// The video file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// An ONNX model could not be loaded, optimized or run.
    #[error("model '{path}': {message}")]
    Model {
        /// The model file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The model's input shape does not match the configured preprocessing.
    #[error("model '{path}': input shape {found} does not match the expected {expected}; set input_size to the model's input size")]
    InputShape {
        /// The model file.
        path: PathBuf,
        /// The shape the preprocessing produces, e.g. `[1, 3, 224, 224]`.
        expected: String,
        /// The shape the model declares.
        found: String,
    },
    /// A parameter has a value outside its domain.
    #[error("parameter '{param}': {message}")]
    Param {
        /// Parameter name.
        param: String,
        /// What is wrong and what is accepted.
        message: String,
    },
    /// An error from ml-core (columns, datasets, IO).
    #[error(transparent)]
    Core(#[from] MlError),
}

impl VisionError {
    /// Shorthand for [`VisionError::Io`].
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        VisionError::Io {
            path: path.into(),
            source,
        }
    }

    /// Shorthand for [`VisionError::Model`].
    pub fn model(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        VisionError::Model {
            path: path.into(),
            message: message.into(),
        }
    }

    /// Shorthand for [`VisionError::Video`].
    pub fn video(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        VisionError::Video {
            path: path.into(),
            message: message.into(),
        }
    }

    /// Shorthand for [`VisionError::ImageDecode`].
    pub fn decode(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        VisionError::ImageDecode {
            path: path.into(),
            message: message.into(),
        }
    }

    /// Shorthand for [`VisionError::Param`].
    pub fn param(param: impl Into<String>, message: impl Into<String>) -> Self {
        VisionError::Param {
            param: param.into(),
            message: message.into(),
        }
    }
}

impl From<VisionError> for MlError {
    fn from(e: VisionError) -> Self {
        match e {
            VisionError::Core(e) => e,
            VisionError::Io { path, source } => MlError::Io { path, source },
            VisionError::Param { param, message } => MlError::InvalidParam { param, message },
            VisionError::Model { path, message } => MlError::Persistence { path, message },
            VisionError::InputShape {
                path,
                expected,
                found,
            } => MlError::Persistence {
                path,
                message: format!(
                    "input shape {found} does not match the expected {expected}; set input_size to the model's input size"
                ),
            },
            other => MlError::InvalidData(other.to_string()),
        }
    }
}
