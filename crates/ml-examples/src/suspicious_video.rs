//! Suspicious behaviour in video: frames at 1 fps, features from a pretrained CNN, Parquet, a
//! join with hand labels, logistic regression evaluated by cross-validation, and frames ranked by
//! P(suspicious) with thumbnails in the report.
//!
//! ```text
//! cargo run --release --example suspicious_video                    # the shipped 1-fps frames
//! cargo run --release --features video --example suspicious_video   # cut frames from vtest.avi
//! cargo run --release --example suspicious_video -- --data DIR      # DIR/vtest_frames_1fps, DIR/vtest_labels_1fps.csv
//! ```
//!
//! The seed is the Databricks "identify suspicious behaviour in video" notebook: there a CAVIAR
//! clip, InceptionV3 features (DeepImageFeaturizer) and Spark's LogisticRegression(maxIter 20,
//! regParam 0.05, elasticNetParam 0.3). Here: OpenCV's `vtest.avi` sample (a fixed camera over a
//! path and a lawn), EfficientNet-lite0's 1280-d pooled features, and the label 1 = someone on the
//! lawn (`vtest_labels_1fps.csv`, see `examples/data/PROVENANCE.md`).
//!
//! Without the `video` cargo feature (FFmpeg) the frames are the 80 JPEGs shipped in
//! `vtest_frames_1fps/` (cut from vtest.avi at 1 fps with OpenCV); the program says which source
//! it used.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::common::report::Thumb;
use crate::common::{self, chart, title, CommonArgs, Report, Result, Sql, Timings};
use crate::Summary;
use arrow::array::{ArrayRef, Float64Array, StringArray};
use ml_core::linear::LogisticRegression;
use ml_core::{Dataset, Estimator, Transformer};
use ml_eval::{BinaryClassificationEvaluator, CrossValidator, Evaluator, ParamGridBuilder};
use ml_vision::DeepImageFeaturizer;
use serde_json::json;

/// The flags of `examples/suspicious_video.rs`.
#[derive(Debug, clap::Parser)]
#[command(about = "Suspicious video frames: CNN features, logistic regression, ranking")]
pub struct Args {
    /// --data, --report-dir, --quick.
    #[command(flatten)]
    pub common: CommonArgs,
    /// The ONNX model (default: the shipped EfficientNet-lite0).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Number of cross-validation folds.
    #[arg(long, default_value_t = 4)]
    pub folds: usize,
    /// Seed of the fold assignment.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

/// Frames as an image table with an `ImageName` column matching the label file and a `thumb`
/// column (the thumbnail's path relative to the report directory).
struct Frames {
    images: Dataset,
    source: String,
}

/// Runs the use case: progress and tables go to `out`, the report (with the frames' thumbnails)
/// to `--report-dir`; returns the key figures (the closing JSON line).
pub fn run(args: &Args, out: &mut dyn Write) -> Result<Summary> {
    // Checked before the frames are decoded and featurized (the slow part).
    if !(2..=1000).contains(&args.folds) {
        return Err(ml_core::MlError::param(
            "--folds",
            format!("must be in [2, 1000], got {}", args.folds),
        )
        .into());
    }
    let mut timings = Timings::new();
    let dir = args.common.data_path("video");
    let report_dir = args.common.report_dir("suspicious_video");
    let model_path = args.model.clone().unwrap_or_else(|| {
        common::repo_path("examples/data/models/efficientnet-lite0-imagenet.onnx")
    });
    let frames = timings.phase("frames", || frames(&dir, &report_dir))?;
    writeln!(out, "{}", frames.source)?;
    writeln!(out, "{} frames", frames.images.num_rows())?;

    let mut featurizer = DeepImageFeaturizer::new(model_path.to_string_lossy());
    featurizer.n_threads = 2;
    let bar = common::spinner("CNN features");
    let featurized = timings.phase("featurize", || featurizer.transform(&frames.images))?;
    bar.finish_and_clear();
    let table = featurized.select(&["ImageName", "thumb", "features"])?;
    writeln!(
        out,
        "features: {} x {} (EfficientNet-lite0 pooled output)",
        table.num_rows(),
        table.vector_size("features")?
    )?;
    let tmp = tempfile::tempdir()?;
    let pq = tmp.path().join("frame_features.parquet");
    timings.phase("parquet", || -> Result<()> {
        ml_core::io::write_parquet(&table, &pq)?;
        Ok(())
    })?;
    let back = ml_core::io::read_parquet(&pq)?;

    // Join with the labels in SQL.
    let labels = ml_core::io::read_table(
        dir.join("vtest_labels_1fps.csv"),
        &ml_core::io::ReadOptions::new(),
    )?;
    let sql = Sql::new()?;
    sql.register("frames", &back)?;
    sql.register("labels", &labels)?;
    let data = sql.query(
        "SELECT f.\"ImageName\", f.thumb, f.features, CAST(l.label AS DOUBLE) AS label \
         FROM frames f JOIN labels l ON f.\"ImageName\" = l.\"ImageName\" ORDER BY f.\"ImageName\"",
    )?;
    let n = data.num_rows();
    let positives = data.f64_column("label")?.values().iter().sum::<f64>();
    title(out, "Labels joined in SQL")?;
    writeln!(
        out,
        "{n} labelled frames, {positives} with someone on the lawn"
    )?;
    if n / 2 < args.folds {
        return Err(format!("only {n} labelled frames: too few for {} folds", args.folds).into());
    }

    // Logistic regression (the notebook's parameters), judged by cross-validation.
    let lr = LogisticRegression::new()
        .with_max_iter(20)
        .with_reg_param(0.05)
        .with_elastic_net_param(0.3);
    let evaluator = BinaryClassificationEvaluator::new();
    let cv = CrossValidator::new(lr.clone(), evaluator.clone())
        .with_estimator_param_maps(ParamGridBuilder::new().build())
        .with_num_folds(args.folds)
        .with_seed(args.seed);
    let cvm = timings.phase("cross_validation", || cv.fit(&data))?;
    let cv_auc = cvm.avg_metrics()[0];
    // Out-of-fold P(suspicious) for every frame (same folds), for the ranking.
    let folds = CrossValidator::fold_of_rows(n, args.folds, args.seed);
    let mut p = vec![f64::NAN; n];
    for f in 0..args.folds {
        let (held, train): (Vec<usize>, Vec<usize>) = (0..n).partition(|&i| folds[i] == f);
        let model = lr.fit(&data.take(&train)?)?;
        let scored = model.transform(&data.take(&held)?)?;
        let prob = scored.features("probability")?;
        for (k, &i) in held.iter().enumerate() {
            p[i] = prob[[k, 1]];
        }
    }
    let ranked = data.with_column(
        "p_suspicious",
        Arc::new(Float64Array::from(p.clone())) as ArrayRef,
    )?;
    let oof_auc = evaluator
        .clone()
        .with_raw_prediction_col("p_suspicious")
        .evaluate(&ranked)?;
    writeln!(out,
        "{}-fold cross-validation: mean AUC over folds {cv_auc:.4}, AUC of the pooled out-of-fold probabilities {oof_auc:.4}",
        args.folds
    )?;
    sql.register("scored", &ranked)?;
    let top = sql.show(
        out,
        "Frames ranked by P(suspicious) (out of fold)",
        "SELECT \"ImageName\", label, round(p_suspicious, 4) AS p_suspicious FROM scored \
         ORDER BY p_suspicious DESC, \"ImageName\"",
        15,
    )?;
    let k = positives as usize;
    let labels_ranked = common::sql::f64_values(&top, "label")?;
    let hits = labels_ranked.iter().take(k).filter(|l| **l > 0.5).count();
    writeln!(
        out,
        "of the {k} frames ranked highest, {hits} have someone on the lawn"
    )?;

    // Report.
    let mut report = Report::new("Suspicious behaviour in video");
    report.paragraph(&format!(
        "{} {n} frames featurized with EfficientNet-lite0 ({} features each), written to Parquet and read back, \
         joined in SQL with the hand labels ({positives} frames with someone on the lawn). Logistic regression \
         (max_iter 20, reg_param 0.05, elastic_net_param 0.3), {}-fold cross-validation (seed {}): mean AUC {cv_auc:.4}; \
         AUC of the pooled out-of-fold probabilities {oof_auc:.4}; {hits} of the {k} highest-ranked frames are suspicious.",
        frames.source,
        table.vector_size("features")?,
        args.folds,
        args.seed
    ));
    let seconds: Vec<f64> = (0..n).map(|i| i as f64).collect();
    let names = common::data::strings(&data, "ImageName")?;
    let label_vals = data.f64_column("label")?.values().to_vec();
    report.svg(&chart::line_chart(
        "P(suspicious) over time (out of fold) and the label",
        "frame (seconds into the clip)",
        "probability / label",
        &[
            chart::Series {
                name: "P(suspicious)".into(),
                points: seconds.iter().copied().zip(p.iter().copied()).collect(),
            },
            chart::Series {
                name: "label (1 = on the lawn)".into(),
                points: seconds
                    .iter()
                    .copied()
                    .zip(label_vals.iter().copied())
                    .collect(),
            },
        ],
    )?);
    report.heading("Frames ranked by P(suspicious)");
    let thumbs_of = common::data::strings(&ranked, "thumb")?;
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| p[b].total_cmp(&p[a]).then(names[a].cmp(&names[b])));
    let gallery: Vec<Thumb> = order
        .iter()
        .map(|&i| Thumb {
            src: thumbs_of[i].clone().unwrap_or_default(),
            caption: format!(
                "{} p={:.3} label {}",
                names[i].clone().unwrap_or_default(),
                p[i],
                label_vals[i]
            ),
        })
        .collect();
    report.gallery(&gallery);
    report.table("Frames ranked by P(suspicious)", &top, n)?;
    let index = report.write(&report_dir)?;
    writeln!(out, "\nreport: {}", index.display())?;
    Ok(Summary::for_example(
        "suspicious_video",
        json!({
            "source": if cfg!(feature = "video") { "video" } else { "frames" },
            "frames": n,
            "positives": positives as u64,
            "feature_dim": table.vector_size("features")?,
            "folds": args.folds,
            "cv_auc": common::round(cv_auc, 4),
            "oof_auc": common::round(oof_auc, 4),
            "top_k_hits": hits,
            "report": index.display().to_string(),
            "seconds": timings.to_json(),
            "peak_rss_mb": timings.peak_rss_json(),
        }),
    ))
}

/// Cuts frames from `vtest.avi` at 1 fps (FFmpeg), writing them next to the report.
#[cfg(feature = "video")]
fn frames(dir: &Path, report_dir: &Path) -> Result<Frames> {
    use ml_vision::video::{frames_to_dataset, FrameExtractor};
    let video = dir.join("vtest.avi");
    let frame_dir = report_dir.join("frames");
    let extractor = FrameExtractor::new().interval_ms(1000).write_to(&frame_dir);
    let cut = extractor.extract(&video)?;
    let images = frames_to_dataset(&cut)?;
    // Frame k is second k of the clip: the label file names it vtest_<k>.jpg.
    let names: Vec<String> = cut
        .iter()
        .map(|f| format!("vtest_{:03}.jpg", f.timestamp_ms / 1000))
        .collect();
    let thumbs: Vec<String> = (0..cut.len())
        .map(|k| format!("frames/{}", extractor.frame_file_name(&video, k)))
        .collect();
    let images = with_names(images, &names, &thumbs)?;
    Ok(Frames {
        images,
        source: format!(
            "Frames cut from {} at 1 fps with FFmpeg (feature `video`).",
            video.display()
        ),
    })
}

/// Reads the shipped 1-fps frames and copies them next to the report as thumbnails.
#[cfg(not(feature = "video"))]
fn frames(dir: &Path, report_dir: &Path) -> Result<Frames> {
    let frame_dir = dir.join("vtest_frames_1fps");
    let images = ml_vision::read_images(&frame_dir, &ml_vision::ImageReadOptions::default())?;
    let files = ml_vision::image_table::list_image_files(&frame_dir, false)?;
    let names: Vec<String> = files
        .iter()
        .map(|f| {
            f.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let thumb_dir = report_dir.join("frames");
    std::fs::create_dir_all(&thumb_dir)
        .map_err(|e| format!("cannot create '{}': {e}", thumb_dir.display()))?;
    let mut thumbs = Vec::with_capacity(files.len());
    for (f, name) in files.iter().zip(&names) {
        copy(f, &thumb_dir.join(name))?;
        thumbs.push(format!("frames/{name}"));
    }
    let images = with_names(images, &names, &thumbs)?;
    Ok(Frames {
        images,
        source: format!(
            "Frames read from {} (shipped JPEGs cut at 1 fps; build with `--features video` to cut them from vtest.avi with FFmpeg).",
            frame_dir.display()
        ),
    })
}

#[cfg(not(feature = "video"))]
fn copy(from: &Path, to: &Path) -> Result<()> {
    std::fs::copy(from, to).map_err(|e| {
        format!(
            "cannot copy '{}' to '{}': {e}",
            from.display(),
            to.display()
        )
    })?;
    Ok(())
}

/// Adds `ImageName` and `thumb` (relative path of the thumbnail) columns.
fn with_names(images: Dataset, names: &[String], thumbs: &[String]) -> Result<Dataset> {
    if names.len() != images.num_rows() {
        return Err(format!(
            "{} frame names for {} images",
            names.len(),
            images.num_rows()
        )
        .into());
    }
    let names: ArrayRef = Arc::new(StringArray::from_iter_values(names));
    let thumbs: ArrayRef = Arc::new(StringArray::from_iter_values(thumbs));
    let out = images.with_column("ImageName", names)?;
    let out = out.with_column("thumb", thumbs)?;
    Ok(out)
}
