//! The tuners give bit-identical results at 1, 2 and 3 threads (issue 19, item 6):
//! CrossValidator (3 and 4 folds), TrainValidationSplit and SuccessiveHalving over a pipeline
//! ending in LogisticRegression, whose `n_threads = 0` follows the pool it runs in.
//!
//! Each run happens inside a pool of `t` threads with `parallelism = t` (folds fitted `t` at a
//! time; 3 folds on 2 threads and 4 folds on 3 threads are shared out unevenly), and once more
//! at 3 threads with `parallelism = 1` (folds one after another, each fit using the 3 threads).
//! The logistic regression's row blocks (256 rows each) make every fold's fit parallel inside.
//! Metrics are compared bit for bit, the chosen map exactly, the best model as saved JSON and
//! the transform as Arrow batches.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array};
use arrow::datatypes::{DataType, Field};
use ml_core::dataset::{unit_uniform, vector_column_from_vec, vector_type};
use ml_core::feature::StandardScaler;
use ml_core::linear::LogisticRegression;
use ml_core::{persist, threads, Dataset, Pipeline, Transformer};
use ml_eval::{
    BinaryClassificationEvaluator, CrossValidator, ParamGridBuilder, ParamMap, SuccessiveHalving,
    TrainValidationSplit,
};

/// (threads of the pool, parallelism of the tuner).
const RUNS: [(usize, usize); 4] = [(1, 1), (2, 2), (3, 3), (3, 1)];

fn data(n: usize, seed: u64) -> Dataset {
    let d = 5;
    let mut x = Vec::with_capacity(n * d);
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        let u = |k: u64| unit_uniform(seed, i as u64 * 8 + k);
        let row = [
            u(0) * 4.0 - 2.0,
            (u(1) - 0.5) * 1e3,
            u(2).ln(),
            (u(3) * 9.0).floor(),
            u(4) * u(5),
        ];
        let z = row[0] * 0.9 - row[1] * 1e-3 + row[2] * 0.4 + (row[3] - 4.0) * 0.2;
        y.push(f64::from(u(6) < 1.0 / (1.0 + (-z).exp())));
        x.extend(row);
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

fn pipeline() -> Pipeline {
    Pipeline::new()
        .estimator("scaler", StandardScaler::new("raw", "features"))
        .estimator("lr", LogisticRegression::new().with_max_iter(30))
}

fn grid() -> Vec<ParamMap> {
    ParamGridBuilder::new()
        .add_grid("scaler.with_mean", [false, true])
        .add_grid("lr.reg_param", [0.001, 0.05])
        .add_grid("lr.elastic_net_param", [0.0, 0.7])
        .build()
}

/// Runs `f` for every (threads, parallelism) pair inside a pool of that many threads.
fn each_run<R: Send>(f: impl Fn(usize) -> R + Sync) -> Vec<R> {
    RUNS.iter()
        .map(|&(t, p)| {
            threads::install(t, || {
                assert_eq!(threads::current_num_threads(), t);
                f(p)
            })
            .unwrap()
        })
        .collect()
}

fn assert_same<T: PartialEq + std::fmt::Debug>(what: &str, results: &[T]) {
    for ((t, p), r) in RUNS.iter().zip(results).skip(1) {
        assert!(
            *r == results[0],
            "{what}: {t} threads, parallelism {p}: {r:?}\n differs from 1 thread: {:?}",
            results[0]
        );
    }
}

fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn cross_validator_is_bit_identical_at_1_2_3_threads() {
    let d = data(6007, 1);
    for folds in [3, 4] {
        let runs = each_run(|p| {
            let m = CrossValidator::new(pipeline(), BinaryClassificationEvaluator::new())
                .with_estimator_param_maps(grid())
                .with_num_folds(folds)
                .with_seed(7)
                .with_parallelism(p)
                .fit(&d)
                .unwrap();
            let fold_bits: Vec<Vec<u64>> = m.fold_metrics().iter().map(|f| bits(f)).collect();
            (
                m.best_index(),
                bits(m.avg_metrics()),
                fold_bits,
                persist::to_json(m.best_model()).unwrap(),
                m.transform(&d).unwrap().batch().clone(),
            )
        });
        assert_eq!(runs[0].2.len(), folds);
        // The grid matters (the metrics differ between maps), so equal choices are not luck.
        assert!(runs[0].1.iter().any(|&b| b != runs[0].1[0]));
        let what = format!("CrossValidator, {folds} folds");
        assert_same(
            &format!("{what}: best index"),
            &runs.iter().map(|r| r.0).collect::<Vec<_>>(),
        );
        assert_same(
            &format!("{what}: avg metrics"),
            &runs.iter().map(|r| r.1.clone()).collect::<Vec<_>>(),
        );
        assert_same(
            &format!("{what}: fold metrics"),
            &runs.iter().map(|r| r.2.clone()).collect::<Vec<_>>(),
        );
        let jsons: Vec<&String> = runs.iter().map(|r| &r.3).collect();
        assert!(
            jsons.iter().all(|j| *j == jsons[0]),
            "{what}: best model JSON differs"
        );
        assert!(
            runs.iter().all(|r| r.4 == runs[0].4),
            "{what}: transform differs"
        );
    }
}

#[test]
fn train_validation_split_is_bit_identical_at_1_2_3_threads() {
    let d = data(6007, 2);
    let runs = each_run(|p| {
        let m = TrainValidationSplit::new(pipeline(), BinaryClassificationEvaluator::new())
            .with_estimator_param_maps(grid())
            .with_train_ratio(0.7)
            .with_seed(3)
            .with_parallelism(p)
            .fit(&d)
            .unwrap();
        (
            m.best_index(),
            bits(m.validation_metrics()),
            persist::to_json(m.best_model()).unwrap(),
            m.transform(&d).unwrap().batch().clone(),
        )
    });
    assert_same(
        "TVS: best index",
        &runs.iter().map(|r| r.0).collect::<Vec<_>>(),
    );
    assert_same(
        "TVS: metrics",
        &runs.iter().map(|r| r.1.clone()).collect::<Vec<_>>(),
    );
    assert!(
        runs.iter().all(|r| r.2 == runs[0].2),
        "TVS: best model JSON differs"
    );
    assert!(
        runs.iter().all(|r| r.3 == runs[0].3),
        "TVS: transform differs"
    );
}

#[test]
fn successive_halving_is_bit_identical_at_1_2_3_threads() {
    let d = data(4099, 3);
    let runs = each_run(|p| {
        let cv = CrossValidator::new(pipeline(), BinaryClassificationEvaluator::new())
            .with_estimator_param_maps(grid())
            .with_num_folds(3)
            .with_seed(11)
            .with_parallelism(p);
        let m = SuccessiveHalving::new(cv, "lr.max_iter", 2, 18)
            .fit(&d)
            .unwrap();
        let rungs: Vec<(i64, Vec<usize>, Vec<u64>)> = m
            .rungs
            .iter()
            .map(|r| (r.resource, r.candidates.clone(), bits(&r.avg_metrics)))
            .collect();
        (
            m.best_index,
            rungs,
            persist::to_json(m.cv_model.best_model()).unwrap(),
        )
    });
    assert!(runs[0].1.len() >= 2, "several rungs: {:?}", runs[0].1);
    assert_same(
        "halving: best index",
        &runs.iter().map(|r| r.0).collect::<Vec<_>>(),
    );
    assert_same(
        "halving: rungs",
        &runs.iter().map(|r| r.1.clone()).collect::<Vec<_>>(),
    );
    assert!(
        runs.iter().all(|r| r.2 == runs[0].2),
        "halving: best model JSON differs"
    );
}
