//! # ml-vision
//!
//! Images and video for `ml` datasets: frames from video files (`video::FrameExtractor`,
//! cargo feature `video`, FFmpeg through `ffmpeg-next`), image tables with Spark's image schema
//! ([`image_table::read_images`]), and a pretrained CNN run with tract-onnx that turns images into
//! feature vectors ([`DeepImageFeaturizer`], an ml-core `Transformer`) or top-k class labels
//! ([`DeepImagePredictor`]). Preprocessing reproduces Pillow's bilinear resize bit for bit
//! ([`preprocess`]). A small registry ([`model::known_models`]) names the shipped model
//! (EfficientNet-lite0, ImageNet, 1280-d features). tract loads, checks and runs the model;
//! its convolutions are rebuilt in channels-last layout and run by this crate's own tract
//! operator, 2.2x faster than tract's own plan on EfficientNet-lite0 and on par with
//! onnxruntime (`benches/vision.md`). With the cargo feature `libjpeg-turbo`, JPEGs are decoded
//! by the system libjpeg-turbo (as Pillow does), which makes the preprocessed tensors identical
//! to Python's.
//!
//! # Layout
//! - [`image_table`], `video`, [`preprocess`]: pixels in (files, frames) and model tensors out.
//! - [`model`] loads an ONNX file with tract; [`featurizer`] holds the two pipeline stages.
//! - `channels_last`: the rewrite of a tract model into channels-last layout and its
//!   convolution operator `ChannelsLastConv`, whose arithmetic is in `kernels/`, one file
//!   per kernel family (1x1 products on unpacked activations, depthwise
//!   convolutions vectorised over channels, im2col for the stem; ReLU6 and residual adds fused).
//! - `depthwise_op`: the tract operator `FastDepthwise` for depthwise convolutions that stay
//!   channels-first.
//! - `tract_graph`: the graph patterns (constants, clips) both rewrites look for.
//! - `isa`: which SIMD kernels may run. The kernels use AVX-512F or AVX2 where the CPU has
//!   them; the environment variable `ML_VISION_MAX_ISA=avx2` (or `portable`) caps them, to
//!   measure or test the narrower kernels on a wider CPU.
//!
//! These last five are crate-private; the crate's benches and examples reach what they measure
//! through the hidden `bench` module, which is not part of the API.
//!
//! ```no_run
//! use ml_core::Transformer;
//! use ml_vision::image_table::{read_images, ImageReadOptions};
//! use ml_vision::DeepImageFeaturizer;
//!
//! let images = read_images("examples/data/video/vtest_frames_1fps", &ImageReadOptions::default())?;
//! let mut featurizer =
//!     DeepImageFeaturizer::new("examples/data/models/efficientnet-lite0-imagenet.onnx");
//! featurizer.n_threads = 2;
//! let table = featurizer.transform(&images)?;
//! assert_eq!(table.features("features")?.ncols(), 1280);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod block_fusion;
mod channels_last;
mod depthwise_op;
pub mod error;
pub mod featurizer;
pub mod image_table;
mod isa;
mod kernels;
pub mod model;
pub mod preprocess;
#[doc(hidden)]
pub mod testing;
mod tract_graph;
#[cfg(feature = "video")]
pub mod video;

pub use error::{Result, VisionError};
pub use featurizer::{DeepImageFeaturizer, DeepImagePredictor, Prediction};
pub use image_table::{read_images, ImageReadOptions};
pub use model::{known_model, known_models, ModelName, ModelSpec, OnnxModel};
pub use preprocess::{Preprocessing, RgbPixels};
#[cfg(feature = "video")]
pub use video::{Frame, FrameExtractor};

/// Crate internals for this crate's benches (`benches/conv_kernels.rs`) and the
/// `profile_model` example only: the convolution kernels and the tract rewrites. Not part of the
/// API; may change at any time.
#[doc(hidden)]
pub mod bench {
    pub use crate::block_fusion::count_fused_blocks;
    pub use crate::channels_last::{
        count_channels_last, to_channels_last, to_channels_last_unfused,
    };
    pub use crate::depthwise_op::use_fast_depthwise;
    /// The AVX-512 pointwise kernel's tiles.
    #[cfg(target_arch = "x86_64")]
    pub use crate::kernels::pointwise::avx512::{max_rows, Tile};
    pub use crate::kernels::{
        im2col, ConvGeometry, DepthwiseWeights, Epilogue, InputLayout, PointwiseWeights,
    };
}
