//! ONNX models run with tract, and a small registry of known models.
//!
//! [`OnnxModel::load`] reads an ONNX file with `tract-onnx`, fixes its input to
//! `f32[1, 3, size, size]` (after checking that the model declares a compatible shape),
//! rebuilds its convolutions in channels-last layout with this crate's operator
//! (`channels_last`), lets tract declutter and optimize the rest (any depthwise
//! convolution left channels-first goes to `depthwise_op`) and makes it runnable. A
//! loaded model is immutable and `Sync`: several threads run it at once, each call with its
//! own state, which is how the featurizer parallelizes across images (the shipped model has a
//! fixed batch of 1).
//!
//! Outputs are picked by index, not by name: tract renames outputs after optimization
//! (EfficientNet-lite0's `features` and `logits` become `/Flatten` and `/_fc/Gemm`).
//!
//! ```no_run
//! use ml_vision::model::{known_model, OnnxModel};
//! let spec = known_model("efficientnet-lite0").unwrap();
//! let model = OnnxModel::load("efficientnet-lite0-imagenet.onnx", spec.preprocessing.input_size).unwrap();
//! let outputs = model.run(&vec![0.0; 3 * 224 * 224]).unwrap();
//! assert_eq!(outputs[spec.feature_output].len(), 1280);
//! ```

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use ml_core::{MlError, ParamType, ParamValue};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use tract_onnx::prelude::*;
use tract_onnx::tract_hir::infer::Factoid;

use crate::error::{Result, VisionError};
use crate::preprocess::Preprocessing;

/// What the library knows about a pretrained model: how to feed it and which output is which.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelSpec {
    /// Registry name (`modelName`).
    pub name: &'static str,
    /// The file it is usually shipped as.
    pub file_name: &'static str,
    /// Input preprocessing.
    pub preprocessing: Preprocessing,
    /// Index of the feature (embedding) output.
    pub feature_output: usize,
    /// Width of the feature output.
    pub feature_dim: usize,
    /// Index of the class-logits output, if any.
    pub logits_output: Option<usize>,
    /// Number of classes of the logits output.
    pub num_classes: usize,
    /// The class-name file shipped with it (line i = class i).
    pub labels_file: Option<&'static str>,
    /// Where it comes from and what it is.
    pub description: &'static str,
}

/// The `model_name` of a stage: a registry model, whose preprocessing and outputs the library
/// knows, or `custom`, any other ONNX file whose preprocessing and outputs are set by hand.
///
/// Parsed by name ignoring case (`"EfficientNet-Lite0"` is accepted; the canonical lower-case
/// name is written back); an unknown name is a [`VisionError::Param`] naming `model_name` and
/// listing the allowed names. Saved stages hold the name, as they did when it was a string.
///
/// ```
/// use ml_vision::model::ModelName;
/// assert_eq!("EfficientNet-Lite0".parse::<ModelName>().unwrap(), ModelName::EfficientNetLite0);
/// assert_eq!(ModelName::Custom.to_string(), "custom");
/// let e = "resnet50".parse::<ModelName>().unwrap_err().to_string();
/// assert!(e.contains("model_name") && e.contains("efficientnet-lite0, custom"), "{e}");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ModelName {
    /// `efficientnet-lite0`: EfficientNet-Lite0, ImageNet-1k (the registry's model).
    #[default]
    EfficientNetLite0,
    /// `custom`: any other ONNX model.
    Custom,
}

impl ModelName {
    /// The parameter these values belong to.
    pub const PARAM: &'static str = "model_name";
    /// Every value, in the documented order.
    pub const ALL: [ModelName; 2] = [ModelName::EfficientNetLite0, ModelName::Custom];

    /// The value's name.
    pub fn as_str(self) -> &'static str {
        match self {
            ModelName::EfficientNetLite0 => "efficientnet-lite0",
            ModelName::Custom => "custom",
        }
    }

    /// Parses a name (any letter case); the error names `param` and lists the allowed names.
    pub fn parse_param(param: &str, value: &str) -> Result<Self> {
        ModelName::ALL
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(value))
            .ok_or_else(|| {
                let names: Vec<&str> = ModelName::ALL.iter().map(|m| m.as_str()).collect();
                VisionError::param(
                    param,
                    format!("unknown model '{value}'; use one of: {}", names.join(", ")),
                )
            })
    }

    /// The registry entry of this model (`None` for [`ModelName::Custom`]).
    pub fn spec(self) -> Option<ModelSpec> {
        known_models().into_iter().find(|m| m.name == self.as_str())
    }
}

impl FromStr for ModelName {
    type Err = VisionError;
    fn from_str(s: &str) -> Result<Self> {
        ModelName::parse_param(ModelName::PARAM, s)
    }
}

impl fmt::Display for ModelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ModelName {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ModelName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl ParamType for ModelName {
    fn to_param(&self) -> ParamValue {
        ParamValue::Str(self.as_str().into())
    }
    fn from_param(param: &str, value: ParamValue) -> ml_core::Result<Self> {
        match value {
            ParamValue::Str(s) => Ok(ModelName::parse_param(param, &s)?),
            v => Err(MlError::param(
                param,
                format!("expected a model name (string), got {} ({v})", v.kind()),
            )),
        }
    }
}

/// The models the library knows by name.
pub fn known_models() -> Vec<ModelSpec> {
    vec![ModelSpec {
        name: "efficientnet-lite0",
        file_name: "efficientnet-lite0-imagenet.onnx",
        preprocessing: Preprocessing::efficientnet_lite(),
        feature_output: 0,
        feature_dim: 1280,
        logits_output: Some(1),
        num_classes: 1000,
        labels_file: Some("imagenet_classes_ILSVRC2012.txt"),
        description:
            "EfficientNet-Lite0, ImageNet-1k (Apache-2.0 weights), ONNX opset 13, batch 1; \
                      outputs 0 = 1280-d pooled features, 1 = 1000 logits",
    }]
}

/// The registry entry called `name` (case-insensitive), or an error listing the known names.
pub fn known_model(name: &str) -> Result<ModelSpec> {
    let all = known_models();
    all.iter()
        .find(|m| m.name.eq_ignore_ascii_case(name))
        .cloned()
        .ok_or_else(|| {
            let names: Vec<&str> = all.iter().map(|m| m.name).collect();
            VisionError::param(
                "model_name",
                format!("unknown model '{name}'; known models: {}", names.join(", ")),
            )
        })
}

/// A loaded, optimized, runnable ONNX model with one `f32[1, 3, size, size]` input.
#[derive(Debug, Clone)]
pub struct OnnxModel {
    path: PathBuf,
    input_size: usize,
    plan: Arc<TypedSimplePlan>,
    /// Per output, a plan over the same graph that runs only the nodes the output needs (a
    /// featurizer taking the pooled features then skips the classifier's matrix product).
    output_plans: Vec<Arc<TypedSimplePlan>>,
    output_lens: Vec<usize>,
}

fn shape_string(dims: &[Option<usize>], open: bool) -> String {
    let mut parts: Vec<String> = dims
        .iter()
        .map(|d| d.map(|v| v.to_string()).unwrap_or_else(|| "?".into()))
        .collect();
    if open {
        parts.push("..".into());
    }
    format!("[{}]", parts.join(", "))
}

impl OnnxModel {
    /// Loads and optimizes the model at `path` for square inputs of side `input_size`.
    ///
    /// Errors: [`VisionError::Io`] when the file cannot be read, [`VisionError::Model`] when it
    /// is not a valid ONNX model (or tract cannot optimize it), [`VisionError::InputShape`] when
    /// the model declares an input shape other than `[1 or N, 3, input_size, input_size]`.
    pub fn load(path: impl AsRef<Path>, input_size: usize) -> Result<Self> {
        let path = path.as_ref();
        let meta = std::fs::metadata(path).map_err(|e| VisionError::io(path, e))?;
        if !meta.is_file() {
            return Err(VisionError::io(
                path,
                std::io::Error::other("not a file (expected an .onnx model file)"),
            ));
        }
        let err = |e: TractError| VisionError::model(path, format!("{e:#}"));
        let model = onnx().model_for_path(path).map_err(err)?;
        let inputs = model.input_outlets().map_err(err)?.len();
        if inputs != 1 {
            return Err(VisionError::model(
                path,
                format!("expected one image input, the model has {inputs}"),
            ));
        }
        let fact = model.input_fact(0).map_err(err)?;
        let dims: Vec<Option<usize>> = fact
            .shape
            .dims()
            .map(|d| d.concretize().and_then(|d| d.as_i64()).map(|d| d as usize))
            .collect();
        let want = [1usize, 3, input_size, input_size];
        let rank_ok = dims.len() == 4 || (fact.shape.is_open() && dims.len() <= 4);
        let dims_ok = dims
            .iter()
            .zip(want.iter())
            .all(|(d, w)| d.is_none_or(|d| d == *w));
        if !rank_ok || !dims_ok {
            return Err(VisionError::InputShape {
                path: path.to_path_buf(),
                expected: format!("{want:?}"),
                found: shape_string(&dims, fact.shape.is_open()),
            });
        }
        // Type the model for the concrete input shape, rebuild its convolutions channels-last
        // (2.2x faster than tract's own plan on EfficientNet-lite0, see benches/vision.md),
        // declutter, give any depthwise convolution still channels-first to FastDepthwise,
        // then let tract optimize the rest.
        let typed = model
            .with_input_fact(0, f32::fact(want).into())
            .and_then(|m| m.into_typed())
            .map_err(err)?;
        // Convolutions in channels-last layout with this crate's kernels (before declutter,
        // which turns 1x1 convolutions into matrix products and drops the batch axis).
        let typed = match crate::channels_last::to_channels_last(&typed).map_err(err)? {
            Some(converted) => converted,
            None => typed,
        };
        let mut typed = typed.into_decluttered().map_err(err)?;
        crate::depthwise_op::use_fast_depthwise(&mut typed).map_err(err)?;
        typed.optimize().map_err(err)?;
        // The graph is cheap to clone: operators share their weights (`Arc`).
        let output_plans = typed
            .output_outlets()
            .map_err(err)?
            .iter()
            .map(|&outlet| {
                let mut one = typed.clone();
                one.select_output_outlets(&[outlet])?;
                TypedSimplePlan::new(one)
            })
            .collect::<TractResult<Vec<_>>>()
            .map_err(err)?;
        let plan = typed.into_runnable().map_err(err)?;
        let mut output_lens = Vec::new();
        for i in 0..plan.model().output_outlets().map_err(err)?.len() {
            let f = plan.model().output_fact(i).map_err(err)?;
            let len = f
                .shape
                .as_concrete()
                .map(|s| s.iter().product::<usize>())
                .ok_or_else(|| {
                    VisionError::model(path, format!("output {i} has a symbolic shape"))
                })?;
            output_lens.push(len);
        }
        Ok(OnnxModel {
            path: path.to_path_buf(),
            input_size,
            plan,
            output_plans,
            output_lens,
        })
    }

    /// The file it was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Side of the square input.
    pub fn input_size(&self) -> usize {
        self.input_size
    }

    /// Number of values of each output (batch 1).
    pub fn output_lens(&self) -> &[usize] {
        &self.output_lens
    }

    /// Runs one image (`3 * size * size` CHW values) and returns every output, flattened.
    pub fn run(&self, input: &[f32]) -> Result<Vec<Vec<f32>>> {
        let s = self.input_size;
        let tensor = Tensor::from_shape(&[1, 3, s, s], input)
            .map_err(|e| VisionError::model(&self.path, format!("input tensor: {e:#}")))?;
        self.outputs_of(&self.plan, tensor)
    }

    /// Output `index` of one image, flattened, running only the nodes that output needs; the
    /// image's `3 * size * size` CHW values are written by `fill` straight into the input
    /// tensor (no intermediate buffer). `fill`'s error is returned as it is.
    pub fn run_output_filled(
        &self,
        index: usize,
        fill: impl FnOnce(&mut [f32]) -> Result<()>,
    ) -> Result<Vec<f32>> {
        self.output_len(index)?;
        let s = self.input_size;
        let err = |e: TractError| VisionError::model(&self.path, format!("input tensor: {e:#}"));
        let mut tensor = Tensor::zero::<f32>(&[1, 3, s, s]).map_err(err)?;
        let mut view = tensor.try_as_plain_ram_mut().map_err(err)?;
        fill(view.as_slice_mut::<f32>().map_err(err)?)?;
        let plan = &self.output_plans[index];
        Ok(self.outputs_of(plan, tensor)?.swap_remove(0))
    }

    /// Every output of `plan` on `tensor`, flattened.
    fn outputs_of(&self, plan: &Arc<TypedSimplePlan>, tensor: Tensor) -> Result<Vec<Vec<f32>>> {
        let outputs = plan
            .run(tvec!(tensor.into()))
            .map_err(|e| VisionError::model(&self.path, format!("inference failed: {e:#}")))?;
        outputs
            .iter()
            .map(|o| {
                o.to_plain_array_view::<f32>()
                    .map(|v| v.iter().copied().collect())
                    .map_err(|e| VisionError::model(&self.path, format!("output: {e:#}")))
            })
            .collect()
    }

    /// Checks that output `index` exists and returns its length.
    pub fn output_len(&self, index: usize) -> Result<usize> {
        self.output_lens.get(index).copied().ok_or_else(|| {
            VisionError::param(
                "output_index",
                format!(
                    "model '{}' has {} outputs, index {index} does not exist",
                    self.path.display(),
                    self.output_lens.len()
                ),
            )
        })
    }
}

/// Reads a class-name file: one name per line, line i = class i.
pub fn read_labels(path: impl AsRef<Path>) -> Result<Vec<String>> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|e| VisionError::io(path, e))?;
    Ok(text.lines().map(|l| l.trim().to_string()).collect())
}
