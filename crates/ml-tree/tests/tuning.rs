//! Tuning boosted trees: random search and successive halving pick the same winner at any
//! thread count, halving's rungs shrink as documented, and the fold strategies hold.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Float64Array, StringArray};
use arrow::datatypes::{DataType, Field};
use ml_core::dataset::{unit_uniform, vector_column_from_vec, vector_type};
use ml_core::Dataset;
use ml_eval::{BinaryClassificationEvaluator, CrossValidator, RandomSearch, SuccessiveHalving};
use ml_tree::GradientBoostedTrees;

/// `n` rows of 4 features, a noisy binary label and a `customer` group of 5 rows each.
fn data(n: usize, seed: u64) -> Dataset {
    let d = 4;
    let mut x = Vec::with_capacity(n * d);
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        let u = |k: u64| unit_uniform(seed, i as u64 * 8 + k);
        let (a, b, c) = (u(0) * 4.0 - 2.0, u(1) * 4.0 - 2.0, u(2));
        x.extend([a, b, c, u(3)]);
        let z = a * 1.5 - b * b * 0.7 + (c - 0.5) * 2.0;
        y.push(if u(6) < 1.0 / (1.0 + (-z).exp()) {
            1.0
        } else {
            0.0
        });
    }
    let customer: Vec<String> = (0..n).map(|i| format!("c{}", i / 5)).collect();
    Dataset::from_fields(
        vec![
            Field::new("features", vector_type(d), false),
            Field::new("label", DataType::Float64, false),
            Field::new("customer", DataType::Utf8, false),
        ],
        vec![
            vector_column_from_vec(x, n, d),
            Arc::new(Float64Array::from(y)) as ArrayRef,
            Arc::new(StringArray::from(customer)) as ArrayRef,
        ],
    )
    .unwrap()
}

fn trees(n_threads: usize) -> GradientBoostedTrees {
    let mut gbt = GradientBoostedTrees::new();
    gbt.seed = 3;
    gbt.n_threads = n_threads;
    gbt
}

#[test]
fn random_search_and_halving_pick_the_same_winner_at_one_and_two_threads() {
    let data = data(2400, 1);
    let maps = RandomSearch::new()
        .log_uniform("eta", 0.02, 1.0)
        .int_uniform("max_depth", 1, 6)
        .uniform("subsample", 0.5, 1.0)
        .build(9, 11)
        .unwrap();
    let mut outcomes = Vec::new();
    for (parallelism, n_threads) in [(1, 1), (1, 2), (2, 1)] {
        let cv = CrossValidator::new(trees(n_threads), BinaryClassificationEvaluator::new())
            .with_estimator_param_maps(maps.clone())
            .with_num_folds(3)
            .with_parallelism(parallelism);
        let halving = SuccessiveHalving::new(cv.clone().with_seed(5), "num_round", 2, 18)
            .fit(&data)
            .unwrap();
        // 9 maps at 2 rounds, the best 3 at 6, the best one at 18.
        let sizes: Vec<(i64, usize)> = halving
            .rungs
            .iter()
            .map(|r| (r.resource, r.candidates.len()))
            .collect();
        assert_eq!(sizes, vec![(2, 9), (6, 3), (18, 1)]);
        // Each rung keeps the best third of the one before.
        for w in halving.rungs.windows(2) {
            let (prev, next) = (&w[0], &w[1]);
            let mut ranked: Vec<usize> = (0..prev.candidates.len()).collect();
            ranked.sort_by(|&a, &b| prev.avg_metrics[b].total_cmp(&prev.avg_metrics[a]));
            let mut best: Vec<usize> = ranked[..next.candidates.len()]
                .iter()
                .map(|&j| prev.candidates[j])
                .collect();
            best.sort_unstable();
            assert_eq!(best, next.candidates);
        }
        let full = cv.with_seed(5).fit(&data).unwrap();
        let metrics: Vec<u64> = halving
            .rungs
            .iter()
            .flat_map(|r| r.avg_metrics.iter().map(|m| m.to_bits()))
            .collect();
        outcomes.push((
            halving.best_index,
            metrics,
            full.best_index(),
            full.avg_metrics()
                .iter()
                .map(|m| m.to_bits())
                .collect::<Vec<_>>(),
        ));
    }
    assert_eq!(outcomes[0], outcomes[1]);
    assert_eq!(outcomes[0], outcomes[2]);
    // The draws follow the seed.
    let again = RandomSearch::new()
        .log_uniform("eta", 0.02, 1.0)
        .int_uniform("max_depth", 1, 6)
        .uniform("subsample", 0.5, 1.0)
        .build(9, 11)
        .unwrap();
    assert_eq!(maps, again);
    for m in &maps {
        let eta = match m.get("eta").unwrap() {
            ml_core::ParamValue::Float(v) => *v,
            v => panic!("{v:?}"),
        };
        assert!((0.02..1.0).contains(&eta));
    }
    let bad = RandomSearch::new().log_uniform("eta", 0.0, 1.0).build(3, 1);
    assert!(bad.unwrap_err().to_string().contains("eta"));
}

#[test]
fn stratified_and_group_folds_in_cross_validation() {
    let data = data(1000, 2);
    let labels = data.f64_column("label").unwrap().values().to_vec();
    let customers: Vec<String> = {
        let c = data.column("customer").unwrap();
        let c = c.as_any().downcast_ref::<StringArray>().unwrap();
        (0..c.len()).map(|i| c.value(i).to_string()).collect()
    };
    let base =
        CrossValidator::new(trees(0), BinaryClassificationEvaluator::new()).with_num_folds(4);
    // Stratified: every fold within one row of each class's share.
    let folds = base
        .clone()
        .with_stratify_col("label")
        .folds_of(&data)
        .unwrap();
    for class in [0.0, 1.0] {
        let total = labels.iter().filter(|&&l| l == class).count();
        for f in 0..4 {
            let here = (0..labels.len())
                .filter(|&i| folds[i] == f && labels[i] == class)
                .count();
            assert!(
                (here as f64 - total as f64 / 4.0).abs() < 1.0,
                "class {class} fold {f}"
            );
        }
    }
    // Grouped: no customer in two folds.
    let folds = base
        .clone()
        .with_group_col("customer")
        .folds_of(&data)
        .unwrap();
    for i in 1..customers.len() {
        if customers[i] == customers[i - 1] {
            assert_eq!(folds[i], folds[i - 1]);
        }
    }
    // Both fit; setting two strategies is an error naming the second.
    base.clone().with_group_col("customer").fit(&data).unwrap();
    let err = base
        .with_group_col("customer")
        .with_stratify_col("label")
        .fit(&data)
        .unwrap_err();
    assert!(err.to_string().contains("group_col"), "{err}");
}
