//! [`DeepImageFeaturizer`] (transfer learning: a pretrained CNN turns each image into a feature
//! vector) and [`DeepImagePredictor`] (top-k class labels), as in Databricks' Spark Deep Learning
//! Pipelines, running ONNX models with tract.
//!
//! Both read an `image` column with Spark's image schema (see [`crate::image_table`]), apply the
//! model's preprocessing ([`Preprocessing`]), and run the model on every row in parallel (rayon,
//! through `ml_core::threads::install`: `n_threads` = 0 uses the current pool, n >= 1 runs on n
//! threads). The model has a fixed batch of 1, so each thread runs single-image inferences on
//! the one shared, optimized plan; results are in row order whatever the thread count, and
//! each row's features depend on that row only.
//!
//! # Persistence
//! Both stages serialize (through `ml_core::persist`) their parameters only, including
//! `model_path` **as given**: the ONNX file is not copied into the saved model. A relative path is
//! resolved against the working directory of the process that loads and uses the stage, so save
//! absolute paths (or ship the model next to the saved stage and use the same relative path).
//! The model is loaded lazily, on first use, and cached inside the stage (clones share it).
//!
//! ```no_run
//! use ml_vision::{DeepImageFeaturizer, image_table::{read_images, ImageReadOptions}};
//! use ml_core::Transformer;
//! let images = read_images("frames/", &ImageReadOptions::default()).unwrap();
//! let featurizer = DeepImageFeaturizer::new("efficientnet-lite0-imagenet.onnx");
//! let out = featurizer.transform(&images).unwrap();
//! assert_eq!(out.vector_size("features").unwrap(), 1280);
//! ```

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use arrow::array::{ArrayRef, Float64Array, Int64Array, ListArray, StringArray, StructArray};
use arrow::buffer::OffsetBuffer;
use arrow::datatypes::{DataType, Field, Fields, Schema};
use ml_core::dataset::{field_of, schema_with_field, vector_column_from_vec, vector_type};
use ml_core::{impl_params, Dataset, MlError, Transformer};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Result, VisionError};
use crate::image_table::{check_image_field, ImageColumn, IMAGE_COL};
use crate::model::{known_model, read_labels, ModelName, OnnxModel};
use crate::preprocess::{Preprocessing, RgbPixels};

/// Default registry model.
pub const DEFAULT_MODEL: ModelName = ModelName::EfficientNetLite0;

/// A loaded model shared by clones of a stage, keyed by what it was loaded from.
#[derive(Clone, Default)]
struct ModelCache(Arc<Mutex<Option<CachedModel>>>);

/// (model path, input size) and the model loaded from them.
type CachedModel = ((PathBuf, usize), Arc<OnnxModel>);

impl fmt::Debug for ModelCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let loaded = self.0.lock().map(|g| g.is_some()).unwrap_or(false);
        write!(f, "ModelCache {{ loaded: {loaded} }}")
    }
}

impl ModelCache {
    fn get(&self, path: &str, input_size: usize) -> Result<Arc<OnnxModel>> {
        if path.is_empty() {
            return Err(VisionError::param(
                "model_path",
                "no model file set; give the path of the .onnx file",
            ));
        }
        let key = (PathBuf::from(path), input_size);
        let mut guard = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((k, m)) = guard.as_ref() {
            if *k == key {
                return Ok(m.clone());
            }
        }
        let model = Arc::new(OnnxModel::load(&key.0, input_size)?);
        *guard = Some((key, model.clone()));
        Ok(model)
    }
}

fn preprocessing_of(
    input_size: usize,
    resize_shorter: usize,
    mean: &[f64],
    std: &[f64],
) -> Result<Preprocessing> {
    let three = |name: &str, v: &[f64]| -> Result<[f32; 3]> {
        match v {
            [a] => Ok([*a as f32; 3]),
            [a, b, c] => Ok([*a as f32, *b as f32, *c as f32]),
            _ => Err(VisionError::param(
                name,
                format!("expected 1 or 3 values (R, G, B), got {}", v.len()),
            )),
        }
    };
    let p = Preprocessing {
        input_size,
        resize_shorter,
        mean: three("mean", mean)?,
        std: three("std", std)?,
    };
    p.validate()?;
    Ok(p)
}

/// Writes image `i`'s model tensor into the buffer (see [`Preprocessing::write_tensor`]).
type TensorWriter<'a> = dyn Fn(usize, &mut [f32]) -> Result<()> + Sync + 'a;

/// Runs `model` on every image and returns output `index` of each (row order).
fn infer_output(
    model: &OnnxModel,
    n: usize,
    tensor: &TensorWriter<'_>,
    index: usize,
    n_threads: usize,
) -> Result<Vec<Vec<f32>>> {
    model.output_len(index)?;
    // ml-core's one pool helper: 0 = the current pool, n = n threads (pools are kept per size:
    // a fresh pool per call costs each inference its memory again, +50% per frame measured).
    ml_core::threads::install(n_threads, || {
        (0..n)
            .into_par_iter()
            .map(|row| model.run_output_filled(index, |x| tensor(row, x)))
            .collect::<Result<Vec<_>>>()
    })?
}

/// Turns images into feature vectors with a pretrained CNN (ONNX, run by tract).
///
/// Reads `input_col` (Spark's image struct), appends `output_col` (`FixedSizeList<Float64>`,
/// 1280 wide for EfficientNet-lite0). Parameters: `model_name` (registry name or `custom`),
/// `model_path`, `input_size`, `resize_shorter`, `mean`, `std`, `output_index`, `n_threads`.
/// See the [module docs](self) for persistence.
///
/// ```no_run
/// use ml_vision::DeepImageFeaturizer;
/// use ml_core::Params;
/// let mut f = DeepImageFeaturizer::for_model("efficientnet-lite0", "models/efficientnet-lite0-imagenet.onnx").unwrap();
/// f.set_param("nThreads", 2usize.into()).unwrap();
/// let rows = f.featurize_rgb(&[]).unwrap();
/// assert!(rows.is_empty());
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeepImageFeaturizer {
    /// Input column with Spark's image struct (`image`).
    pub input_col: String,
    /// Output vector column (`features`).
    pub output_col: String,
    /// Registry model (`efficientnet-lite0`), or `custom`.
    pub model_name: ModelName,
    /// Path of the ONNX file (stored as given when the stage is saved).
    pub model_path: String,
    /// Side of the square model input (224).
    pub input_size: usize,
    /// Shorter side after the first resize (256); 0 resizes straight to `input_size`.
    pub resize_shorter: usize,
    /// Per-channel values subtracted, R, G, B (or one for all) (`[127]`).
    pub mean: Vec<f64>,
    /// Per-channel divisors, R, G, B (or one for all) (`[128]`).
    pub std: Vec<f64>,
    /// Index of the model output used as features (0).
    pub output_index: usize,
    /// Threads for inference: 0 uses the current rayon pool, n >= 1 runs on n threads.
    pub n_threads: usize,
    #[serde(skip)]
    cache: ModelCache,
}

impl Default for DeepImageFeaturizer {
    fn default() -> Self {
        DeepImageFeaturizer::for_model(DEFAULT_MODEL.as_str(), "")
            .expect("the default model is known")
    }
}

fn validate_featurizer(f: &DeepImageFeaturizer) -> ml_core::Result<()> {
    preprocessing_of(f.input_size, f.resize_shorter, &f.mean, &f.std)?;
    Ok(())
}

impl_params!(DeepImageFeaturizer {
    input_col: "Input column with Spark's image struct (origin, height, width, nChannels, mode, data).",
    output_col: "Output column: the feature vector (FixedSizeList<Float64>).",
    model_name: "Registry name of the model (efficientnet-lite0) or 'custom'; for_model() applies its preprocessing.",
    model_path: "Path of the ONNX model file (saved as given; relative paths resolve against the working directory).",
    input_size: "Side of the square model input, > 0 (224).",
    resize_shorter: "Shorter side after the first bilinear resize (256), >= input_size; 0 = resize straight to input_size.",
    mean: "Per-channel value subtracted after resizing, R,G,B or one value ([127]).",
    std: "Per-channel divisor, R,G,B or one value, non-zero ([128]).",
    output_index: "Index of the model output taken as features (0 = EfficientNet-lite0's pooled 1280-d features).",
    n_threads: "Threads running inference in parallel across images; 0 = the current rayon pool.",
} validate = validate_featurizer);

impl DeepImageFeaturizer {
    /// The default registry model (EfficientNet-lite0) loaded from `model_path`.
    pub fn new(model_path: impl Into<String>) -> Self {
        DeepImageFeaturizer {
            model_path: model_path.into(),
            ..Default::default()
        }
    }

    /// A featurizer for registry model `name`, with its preprocessing and feature output.
    pub fn for_model(name: &str, model_path: impl Into<String>) -> Result<Self> {
        let spec = known_model(name)?;
        let p = &spec.preprocessing;
        Ok(DeepImageFeaturizer {
            input_col: IMAGE_COL.into(),
            output_col: "features".into(),
            model_name: spec.name.parse()?,
            model_path: model_path.into(),
            input_size: p.input_size,
            resize_shorter: p.resize_shorter,
            mean: p.mean.iter().map(|&v| v as f64).collect(),
            std: p.std.iter().map(|&v| v as f64).collect(),
            output_index: spec.feature_output,
            n_threads: 0,
            cache: ModelCache::default(),
        })
    }

    /// The preprocessing the parameters describe.
    pub fn preprocessing(&self) -> Result<Preprocessing> {
        preprocessing_of(self.input_size, self.resize_shorter, &self.mean, &self.std)
    }

    /// The loaded model (loaded on first use, then cached).
    pub fn model(&self) -> Result<Arc<OnnxModel>> {
        self.cache.get(&self.model_path, self.input_size)
    }

    /// Width of the feature vectors (loads the model).
    pub fn feature_dim(&self) -> Result<usize> {
        self.model()?.output_len(self.output_index)
    }

    /// Features of RGB images held in memory (video frames, say), one row per image.
    pub fn featurize_rgb(&self, images: &[RgbPixels]) -> Result<Vec<Vec<f32>>> {
        if images.is_empty() {
            return Ok(Vec::new());
        }
        let prep = self.preprocessing()?;
        let model = self.model()?;
        infer_output(
            &model,
            images.len(),
            &|i, x| {
                prep.write_tensor(&images[i], x);
                Ok(())
            },
            self.output_index,
            self.n_threads,
        )
    }

    /// Features of an already preprocessed CHW tensor (`3 * input_size^2` values).
    pub fn featurize_tensor(&self, input: &[f32]) -> Result<Vec<f32>> {
        let model = self.model()?;
        model.output_len(self.output_index)?;
        Ok(model.run(input)?.swap_remove(self.output_index))
    }
}

// The tag written into saved files: an explicit string, so renaming the type keeps them loadable.
#[typetag::serde(name = "DeepImageFeaturizer")]
impl Transformer for DeepImageFeaturizer {
    fn transform(&self, data: &Dataset) -> ml_core::Result<Dataset> {
        let schema = Transformer::transform_schema(self, &data.schema())?;
        let width = match schema.field_with_name(&self.output_col)?.data_type() {
            DataType::FixedSizeList(_, w) => *w as usize,
            _ => unreachable!("transform_schema returns a vector field"),
        };
        let prep = self.preprocessing()?;
        let model = self.model()?;
        let col = ImageColumn::new(data, &self.input_col)?;
        let rows = infer_output(
            &model,
            col.len(),
            &|i, x| col.write_tensor(i, &prep, x),
            self.output_index,
            self.n_threads,
        )?;
        let mut values = Vec::with_capacity(rows.len() * width);
        for r in &rows {
            values.extend(r.iter().map(|&v| v as f64));
        }
        let array = vector_column_from_vec(values, rows.len(), width);
        data.with_field(
            Field::new(&self.output_col, vector_type(width), true),
            array,
        )
    }

    fn transform_schema(&self, schema: &Schema) -> ml_core::Result<Schema> {
        let f = field_of(schema, &self.input_col)?;
        check_image_field(&self.input_col, f.data_type())?;
        let width = self.feature_dim()?;
        schema_with_field(
            schema,
            Field::new(&self.output_col, vector_type(width), true),
        )
    }
}

/// Top-k class predictions of a pretrained classifier (ImageNet for EfficientNet-lite0).
///
/// Appends `output_col` (`predicted_labels`): per row a list of `top_k` structs
/// `{index: Int64, label: Utf8, probability: Float64, logit: Float64}`, by decreasing
/// probability (softmax of the logits output; ties broken by the lower index). Labels come from
/// `labels_path` (line i = class i); when it is empty, `label` is the class index as text.
///
/// ```no_run
/// use ml_vision::DeepImagePredictor;
/// let p = DeepImagePredictor::new("efficientnet-lite0-imagenet.onnx", "imagenet_classes_ILSVRC2012.txt");
/// let model = p.featurizer().model().unwrap();
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeepImagePredictor {
    /// Input column with Spark's image struct (`image`).
    pub input_col: String,
    /// Output column of top-k predictions (`predicted_labels`).
    pub output_col: String,
    /// Registry model (`efficientnet-lite0`), or `custom`.
    pub model_name: ModelName,
    /// Path of the ONNX model file (stored as given when the stage is saved).
    pub model_path: String,
    /// Path of the class-name file (line i = class i); empty for none.
    pub labels_path: String,
    /// Side of the square model input (224).
    pub input_size: usize,
    /// Shorter side after the first resize (256); 0 resizes straight to `input_size`.
    pub resize_shorter: usize,
    /// Per-channel values subtracted (`[127]`).
    pub mean: Vec<f64>,
    /// Per-channel divisors (`[128]`).
    pub std: Vec<f64>,
    /// Index of the logits output (1 for EfficientNet-lite0).
    pub output_index: usize,
    /// Number of classes kept per row (5).
    pub top_k: usize,
    /// Threads for inference: 0 uses the current rayon pool, n >= 1 runs on n threads.
    pub n_threads: usize,
    #[serde(skip)]
    cache: ModelCache,
}

impl Default for DeepImagePredictor {
    fn default() -> Self {
        DeepImagePredictor::new("", "")
    }
}

fn validate_predictor(p: &DeepImagePredictor) -> ml_core::Result<()> {
    preprocessing_of(p.input_size, p.resize_shorter, &p.mean, &p.std)?;
    if p.top_k == 0 {
        return Err(MlError::param("top_k", "must be >= 1"));
    }
    Ok(())
}

impl_params!(DeepImagePredictor {
    input_col: "Input column with Spark's image struct.",
    output_col: "Output column: list of {index, label, probability, logit}, best first.",
    model_name: "Registry name of the model (efficientnet-lite0) or 'custom'.",
    model_path: "Path of the ONNX model file (saved as given).",
    labels_path: "Class-name file, line i = class i; empty = use class indices.",
    input_size: "Side of the square model input, > 0 (224).",
    resize_shorter: "Shorter side after the first bilinear resize (256); 0 = resize straight to input_size.",
    mean: "Per-channel value subtracted, R,G,B or one value ([127]).",
    std: "Per-channel divisor, R,G,B or one value ([128]).",
    output_index: "Index of the logits output (1 for EfficientNet-lite0).",
    top_k: "Number of classes kept per image, >= 1 (5).",
    n_threads: "Threads running inference in parallel across images; 0 = the current rayon pool.",
} validate = validate_predictor);

/// One predicted class.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// Class index.
    pub index: usize,
    /// Class name (or the index as text without a labels file).
    pub label: String,
    /// Softmax probability.
    pub probability: f64,
    /// Raw logit.
    pub logit: f64,
}

/// The `k` best classes of a logits vector (softmax in f64; ties by lower index).
pub fn top_k(logits: &[f32], k: usize, labels: &[String]) -> Vec<Prediction> {
    let max = logits
        .iter()
        .fold(f64::NEG_INFINITY, |m, &v| m.max(v as f64));
    let denom: f64 = logits.iter().map(|&v| (v as f64 - max).exp()).sum();
    let mut order: Vec<usize> = (0..logits.len()).collect();
    order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]).then(a.cmp(&b)));
    order
        .into_iter()
        .take(k)
        .map(|i| Prediction {
            index: i,
            label: labels.get(i).cloned().unwrap_or_else(|| i.to_string()),
            probability: (logits[i] as f64 - max).exp() / denom,
            logit: logits[i] as f64,
        })
        .collect()
}

fn prediction_fields() -> Fields {
    Fields::from(vec![
        Field::new("index", DataType::Int64, false),
        Field::new("label", DataType::Utf8, false),
        Field::new("probability", DataType::Float64, false),
        Field::new("logit", DataType::Float64, false),
    ])
}

fn prediction_type() -> DataType {
    DataType::List(Arc::new(Field::new(
        "item",
        DataType::Struct(prediction_fields()),
        false,
    )))
}

impl DeepImagePredictor {
    /// EfficientNet-lite0 from `model_path`, labels from `labels_path`, top 5.
    pub fn new(model_path: impl Into<String>, labels_path: impl Into<String>) -> Self {
        let f = DeepImageFeaturizer::default();
        let spec = known_model(DEFAULT_MODEL.as_str()).expect("the default model is known");
        DeepImagePredictor {
            input_col: IMAGE_COL.into(),
            output_col: "predicted_labels".into(),
            model_name: f.model_name,
            model_path: model_path.into(),
            labels_path: labels_path.into(),
            input_size: f.input_size,
            resize_shorter: f.resize_shorter,
            mean: f.mean,
            std: f.std,
            output_index: spec.logits_output.unwrap_or(0),
            top_k: 5,
            n_threads: 0,
            cache: ModelCache::default(),
        }
    }

    /// A featurizer with the same model, preprocessing and output (the logits), sharing the
    /// loaded model.
    pub fn featurizer(&self) -> DeepImageFeaturizer {
        DeepImageFeaturizer {
            input_col: self.input_col.clone(),
            output_col: self.output_col.clone(),
            model_name: self.model_name,
            model_path: self.model_path.clone(),
            input_size: self.input_size,
            resize_shorter: self.resize_shorter,
            mean: self.mean.clone(),
            std: self.std.clone(),
            output_index: self.output_index,
            n_threads: self.n_threads,
            cache: self.cache.clone(),
        }
    }

    /// The class names (empty without a labels file).
    pub fn labels(&self) -> Result<Vec<String>> {
        if self.labels_path.is_empty() {
            Ok(Vec::new())
        } else {
            read_labels(&self.labels_path)
        }
    }

    /// Top-k predictions of RGB images held in memory.
    pub fn predict_rgb(&self, images: &[RgbPixels]) -> Result<Vec<Vec<Prediction>>> {
        let labels = self.labels()?;
        let logits = self.featurizer().featurize_rgb(images)?;
        Ok(logits
            .iter()
            .map(|l| top_k(l, self.top_k, &labels))
            .collect())
    }
}

#[typetag::serde(name = "DeepImagePredictor")]
impl Transformer for DeepImagePredictor {
    fn transform(&self, data: &Dataset) -> ml_core::Result<Dataset> {
        Transformer::transform_schema(self, &data.schema())?;
        let labels = self.labels()?;
        let f = self.featurizer();
        let prep = f.preprocessing()?;
        let model = f.model()?;
        let col = ImageColumn::new(data, &self.input_col)?;
        let rows = infer_output(
            &model,
            col.len(),
            &|i, x| col.write_tensor(i, &prep, x),
            self.output_index,
            self.n_threads,
        )?;
        let preds: Vec<Vec<Prediction>> =
            rows.iter().map(|r| top_k(r, self.top_k, &labels)).collect();
        let flat: Vec<&Prediction> = preds.iter().flatten().collect();
        let children: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from_iter_values(
                flat.iter().map(|p| p.index as i64),
            )),
            Arc::new(StringArray::from_iter_values(
                flat.iter().map(|p| p.label.as_str()),
            )),
            Arc::new(Float64Array::from_iter_values(
                flat.iter().map(|p| p.probability),
            )),
            Arc::new(Float64Array::from_iter_values(flat.iter().map(|p| p.logit))),
        ];
        let items = StructArray::try_new(prediction_fields(), children, None)?;
        let offsets = OffsetBuffer::from_lengths(preds.iter().map(|p| p.len()));
        let list = ListArray::try_new(
            Arc::new(Field::new(
                "item",
                DataType::Struct(prediction_fields()),
                false,
            )),
            offsets,
            Arc::new(items),
            None,
        )?;
        data.with_field(
            Field::new(&self.output_col, prediction_type(), true),
            Arc::new(list),
        )
    }

    fn transform_schema(&self, schema: &Schema) -> ml_core::Result<Schema> {
        let f = field_of(schema, &self.input_col)?;
        check_image_field(&self.input_col, f.data_type())?;
        self.featurizer().feature_dim()?;
        schema_with_field(
            schema,
            Field::new(&self.output_col, prediction_type(), true),
        )
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use ml_core::{persist, ParamValue, Params};

    use super::*;

    /// A featurizer saved by this crate before `model_name` became an enum (the tag and every
    /// field as they were written then).
    const SAVED_FEATURIZER: &str = r#"{"format":"ml-model","version":1,"model":{"type":"DeepImageFeaturizer","input_col":"image","output_col":"features","model_name":"efficientnet-lite0","model_path":"/models/m.onnx","input_size":224,"resize_shorter":256,"mean":[127.0],"std":[128.0],"output_index":0,"n_threads":2}}"#;

    #[test]
    fn saved_stages_keep_their_type_tags_and_model_names() {
        let loaded = persist::from_json(SAVED_FEATURIZER, Path::new("saved.json")).unwrap();
        let f = loaded
            .as_any()
            .downcast_ref::<DeepImageFeaturizer>()
            .expect("a DeepImageFeaturizer");
        assert_eq!(f.model_name, ModelName::EfficientNetLite0);
        assert_eq!((f.model_path.as_str(), f.n_threads), ("/models/m.onnx", 2));
        // Written back with the same tag and strings (now in a version-2 envelope, which adds
        // a checksum around the same model bytes).
        let model = &SAVED_FEATURIZER[SAVED_FEATURIZER.find(r#""model":"#).unwrap()..];
        let json = persist::to_json(f).unwrap();
        assert!(json.ends_with(model), "{json}");
        assert!(json.starts_with(r#"{"format":"ml-model","version":2,"checksum":"crc32:"#));

        let mut p = DeepImagePredictor::new("/models/m.onnx", "");
        p.model_name = ModelName::Custom;
        let json = persist::to_json(&p).unwrap();
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["model"]["type"], "DeepImagePredictor");
        assert_eq!(v["model"]["model_name"], "custom");
        let back = persist::from_json(&json, Path::new("mem")).unwrap();
        let back = back.as_any().downcast_ref::<DeepImagePredictor>().unwrap();
        assert_eq!(back.model_name, ModelName::Custom);

        // An unknown model name in a file is a load error naming the value and the choices.
        let bad = SAVED_FEATURIZER.replace("efficientnet-lite0", "resnet50");
        let e = persist::from_json(&bad, Path::new("bad.json"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("resnet50") && e.contains("efficientnet-lite0, custom"),
            "{e}"
        );
    }

    #[test]
    fn model_name_is_set_by_name_in_any_case_and_rejects_unknown_names() {
        let mut f = DeepImageFeaturizer::new("m.onnx");
        f.set_param("modelName", ParamValue::Str("CUSTOM".into()))
            .unwrap();
        assert_eq!(f.model_name, ModelName::Custom);
        assert_eq!(
            f.get_param("model_name").unwrap(),
            ParamValue::Str("custom".into())
        );
        let e = f
            .set_param("model_name", ParamValue::Str("vgg".into()))
            .unwrap_err();
        assert!(matches!(e, MlError::InvalidParam { ref param, .. } if param == "model_name"));
        assert!(
            e.to_string()
                .contains("use one of: efficientnet-lite0, custom"),
            "{e}"
        );
        assert_eq!(
            f.model_name,
            ModelName::Custom,
            "a rejected value changes nothing"
        );
        assert!(f.set_param("model_name", ParamValue::Int(3)).is_err());
        assert_eq!(
            ModelName::EfficientNetLite0.spec().map(|s| s.feature_dim),
            Some(1280)
        );
        assert_eq!(ModelName::Custom.spec(), None);
    }
}
