//! Fitting several variants at once (`Estimator::fit_multiple`): shared bins and staged
//! rounds give every variant the model of its own `fit`, byte for byte, alone, inside a
//! pipeline and inside CrossValidator.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array};
use arrow::datatypes::{DataType, Field};
use ml_core::dataset::{unit_uniform, vector_column_from_vec, vector_type};
use ml_core::feature::StandardScaler;
use ml_core::{Dataset, Estimator, ParamValue, Params, Pipeline, PipelineModel, Transformer};
use ml_eval::{BinaryClassificationEvaluator, CrossValidator, ParamGridBuilder, ParamMap};
use ml_tree::{GradientBoostedTrees, GradientBoostedTreesModel};

/// `n` rows of 5 features (one with missing values) and a noisy binary label.
fn data(n: usize, seed: u64) -> Dataset {
    let d = 5;
    let mut x = Vec::with_capacity(n * d);
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        let u = |k: u64| unit_uniform(seed, i as u64 * 8 + k);
        let (a, b) = (u(0) * 4.0 - 2.0, u(1) * 4.0 - 2.0);
        let c = if u(2) < 0.1 { f64::NAN } else { u(3) * 10.0 };
        let e = (u(4) * 30.0).floor();
        x.extend([a, b, c, e, u(5)]);
        let z = a * 1.2 - b * b * 0.5 + if c.is_nan() { 1.0 } else { (c - 5.0) * 0.2 } + e * 0.02;
        y.push(if u(6) < 1.0 / (1.0 + (-z).exp()) {
            1.0
        } else {
            0.0
        });
    }
    Dataset::from_fields(
        vec![
            Field::new("raw", vector_type(d), false),
            Field::new("label", DataType::Float64, false),
        ],
        vec![
            vector_column_from_vec(x, n, d),
            Arc::new(Float64Array::from(y)) as ArrayRef,
        ],
    )
    .unwrap()
}

fn bytes(model: &dyn Transformer) -> String {
    ml_core::persist::to_json(model).unwrap()
}

/// Copies of `base` with each map applied.
fn variants<E: Estimator>(base: &E, maps: &[ParamMap]) -> Vec<E> {
    maps.iter()
        .map(|m| {
            let mut e = base.clone();
            m.apply(&mut e).unwrap();
            e
        })
        .collect()
}

fn trees() -> GradientBoostedTrees {
    let mut gbt = GradientBoostedTrees::new();
    gbt.features_col = "raw".into();
    gbt.seed = 5;
    gbt
}

#[test]
fn every_variant_gets_the_model_of_its_own_fit() {
    let train = data(3000, 1);
    let maps = ParamGridBuilder::new()
        .add_grid("max_depth", [2i64, 4])
        .add_grid("eta", [0.1, 0.6])
        .add_grid("num_round", [3i64, 7, 1])
        .add_grid("max_bin", [256i64, 16])
        .add_grid("subsample", [1.0, 0.7])
        .build();
    let base = trees();
    let vs = variants(&base, &maps);
    let together = base.fit_multiple(&train, &vs).unwrap();
    assert_eq!(together.len(), vs.len());
    for ((v, m), map) in vs.iter().zip(&together).zip(&maps) {
        let alone = v.fit(&train).unwrap();
        assert_eq!(bytes(m), bytes(&alone), "variant {map}");
        assert_eq!(m.num_rounds(), v.num_round, "variant {map}");
    }
    // Staging is real: the 3-round model is the first trees of the 7-round one (the first
    // grid parameter varies fastest: maps 0 and 4 differ only in num_round).
    assert_eq!((vs[0].num_round, vs[4].num_round), (3, 7));
    let (m3, m7): (&GradientBoostedTreesModel, &GradientBoostedTreesModel) =
        (&together[0], &together[4]);
    assert_eq!(m3.trees[..], m7.trees[..3]);
}

#[test]
fn early_stopping_and_callbacks_are_not_staged_and_still_match() {
    let train = data(2000, 2);
    let eval = data(800, 3);
    let mut base = trees().with_eval_set(eval);
    base.early_stopping_rounds = Some(2);
    base.eta = 0.9;
    let maps = ParamGridBuilder::new()
        .add_grid("num_round", [4i64, 30])
        .build();
    let vs = variants(&base, &maps);
    let together = base.fit_multiple(&train, &vs).unwrap();
    for (v, m) in vs.iter().zip(&together) {
        assert_eq!(bytes(m), bytes(&v.fit(&train).unwrap()));
    }
}

#[test]
fn a_pipeline_fits_shared_stages_once_and_branches_where_variants_differ() {
    let train = data(2500, 4);
    let pipeline = Pipeline::new()
        .estimator(
            "scale",
            StandardScaler::new("raw", "scaled").with_mean(true),
        )
        .estimator("trees", {
            let mut t = trees();
            t.features_col = "scaled".into();
            t
        });
    // A grid over the last stage only, then over an earlier stage too (a branch per
    // setting of the scaler).
    for maps in [
        ParamGridBuilder::new()
            .add_grid("trees.max_depth", [2i64, 3])
            .add_grid("trees.num_round", [2i64, 5])
            .build(),
        ParamGridBuilder::new()
            .add_grid("scale.with_std", [true, false])
            .add_grid("trees.num_round", [2i64, 5])
            .build(),
    ] {
        let vs = variants(&pipeline, &maps);
        let together: Vec<PipelineModel> = pipeline.fit_multiple(&train, &vs).unwrap();
        for ((v, m), map) in vs.iter().zip(&together).zip(&maps) {
            assert_eq!(bytes(m), bytes(&v.fit(&train).unwrap()), "variant {map}");
        }
    }
    // Variants of other shapes are fitted one by one.
    let other = Pipeline::new().estimator("trees", trees());
    let mixed = vec![pipeline.clone(), other.clone()];
    let models = pipeline.fit_multiple(&train, &mixed).unwrap();
    assert_eq!(bytes(&models[1]), bytes(&other.fit(&train).unwrap()));
    // A variant whose column is missing is an error naming it, as its own fit is.
    let mut bad = pipeline.clone();
    bad.set_param("trees.label_col", ParamValue::Str("nope".into()))
        .unwrap();
    let err = pipeline
        .fit_multiple(&train, &[pipeline.clone(), bad])
        .unwrap_err();
    assert!(err.to_string().contains("nope"), "{err}");
}

#[test]
fn cross_validation_sub_models_and_metrics_equal_separate_fits() {
    let data = data(3000, 6);
    let maps = ParamGridBuilder::new()
        .add_grid("max_depth", [2i64, 4])
        .add_grid("num_round", [3i64, 6])
        .build();
    let evaluator = BinaryClassificationEvaluator::new();
    let base = trees();
    for parallelism in [1, 2] {
        let cvm = CrossValidator::new(base.clone(), evaluator.clone())
            .with_estimator_param_maps(maps.clone())
            .with_num_folds(3)
            .with_seed(9)
            .with_parallelism(parallelism)
            .with_collect_sub_models(true)
            .fit(&data)
            .unwrap();
        let folds = CrossValidator::fold_of_rows(data.num_rows(), 3, 9);
        let sub = cvm.sub_models().unwrap();
        for (f, sub_f) in sub.iter().enumerate().take(3) {
            let (valid, train): (Vec<usize>, Vec<usize>) =
                (0..data.num_rows()).partition(|&i| folds[i] == f);
            let (train, valid) = (data.take(&train).unwrap(), data.take(&valid).unwrap());
            for (m, v) in variants(&base, &maps).iter().enumerate() {
                let alone = v.fit(&train).unwrap();
                assert_eq!(bytes(sub_f[m].as_ref()), bytes(&alone), "fold {f} map {m}");
                let metric =
                    ml_eval::Evaluator::evaluate(&evaluator, &alone.transform(&valid).unwrap())
                        .unwrap();
                assert_eq!(
                    cvm.fold_metrics()[f][m].to_bits(),
                    metric.to_bits(),
                    "fold {f} map {m}"
                );
            }
        }
    }
}

#[test]
fn early_stopping_inside_cross_validation_folds_by_validation_indicator() {
    // A tenth of the rows are marked for evaluation; each fold's fit early-stops on the
    // marked rows of its own training part.
    let mut data = data(3000, 8);
    let marks: Vec<bool> = (0..data.num_rows())
        .map(|i| unit_uniform(77, i as u64) < 0.2)
        .collect();
    data = data
        .with_column(
            "is_val",
            Arc::new(arrow::array::BooleanArray::from(marks.clone())) as ArrayRef,
        )
        .unwrap();
    let mut base = trees();
    base.validation_indicator_col = Some("is_val".into());
    base.early_stopping_rounds = Some(3);
    base.eta = 0.8;
    base.num_round = 60;
    // The same as an explicit evaluation set of the marked rows.
    let (val_rows, train_rows): (Vec<usize>, Vec<usize>) =
        (0..data.num_rows()).partition(|&i| marks[i]);
    let mut explicit = trees().with_eval_set(data.take(&val_rows).unwrap());
    explicit.early_stopping_rounds = Some(3);
    explicit.eta = 0.8;
    explicit.num_round = 60;
    let by_col = base.fit(&data).unwrap();
    let by_set = explicit.fit(&data.take(&train_rows).unwrap()).unwrap();
    assert_eq!(by_col.trees, by_set.trees);
    assert!(
        by_col.best_iteration.is_some_and(|b| b < 59),
        "stopped early"
    );
    // Inside CrossValidator: each fold's model stopped on its own rows.
    let cvm = CrossValidator::new(base.clone(), BinaryClassificationEvaluator::new())
        .with_num_folds(3)
        .with_collect_sub_models(true)
        .fit(&data)
        .unwrap();
    let best: Vec<Option<usize>> = cvm.sub_models().unwrap()[..]
        .iter()
        .map(|fold| {
            fold[0]
                .as_any()
                .downcast_ref::<GradientBoostedTreesModel>()
                .unwrap()
                .best_iteration
        })
        .collect();
    assert!(best.iter().all(|b| b.is_some()), "{best:?}");
    // Refused combinations name the parameter.
    let err = base
        .clone()
        .with_eval_set(data.clone())
        .fit(&data)
        .unwrap_err();
    assert!(
        err.to_string().contains("validation_indicator_col"),
        "{err}"
    );
}
