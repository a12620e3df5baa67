//! FP-growth's bounds: `max_len` (mlxtend's) and `max_itemsets`, checked against a brute force
//! over every subset of a small vocabulary, and the case that used to abort: one basket of 40
//! items, 2^40 - 1 itemsets, is a typed error naming the parameter to raise.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, ListArray};
use arrow::datatypes::Int64Type;
use ml_core::dataset::unit_uniform;
use ml_core::{Dataset, Estimator, MlError};
use ml_fpm::{FPGrowth, DEFAULT_MAX_ITEMSETS};

fn dataset(baskets: &[Vec<i64>]) -> Dataset {
    let list = ListArray::from_iter_primitive::<Int64Type, _, _>(
        baskets
            .iter()
            .map(|b| Some(b.iter().map(|&x| Some(x)).collect::<Vec<_>>())),
    );
    Dataset::from_columns(vec![("items", Arc::new(list) as ArrayRef)]).unwrap()
}

/// `n` baskets over items 0..10, each item in a basket with probability ~0.45.
fn random_baskets(n: usize, seed: u64) -> Vec<Vec<i64>> {
    (0..n)
        .map(|r| {
            (0..10)
                .filter(|&i| unit_uniform(seed, (r * 10 + i) as u64) < 0.45)
                .map(|i| i as i64)
                .collect()
        })
        .collect()
}

/// Every subset of the vocabulary of at most `max_len` items in at least `min_count` baskets.
fn brute_force(baskets: &[Vec<i64>], min_count: usize, max_len: usize) -> BTreeMap<Vec<i64>, i64> {
    let mut out = BTreeMap::new();
    for mask in 1u32..(1 << 10) {
        let set: Vec<i64> = (0..10).filter(|i| mask & (1 << i) != 0).collect();
        if set.len() > max_len {
            continue;
        }
        let count = baskets
            .iter()
            .filter(|b| set.iter().all(|x| b.contains(x)))
            .count();
        if count >= min_count {
            out.insert(set, count as i64);
        }
    }
    out
}

/// The model's itemsets (sorted items) with their counts.
fn mined(fp: &FPGrowth, data: &Dataset) -> BTreeMap<Vec<i64>, i64> {
    let sets = fp.fit(data).unwrap().freq_itemsets().unwrap();
    let items = sets.column("items").unwrap().as_list::<i32>().clone();
    let freq = sets.i64_column("freq").unwrap();
    let mut out = BTreeMap::new();
    for r in 0..sets.num_rows() {
        let v = items.value(r);
        let mut set: Vec<i64> = v.as_primitive::<Int64Type>().values().to_vec();
        set.sort_unstable();
        assert!(out.insert(set, freq.value(r)).is_none(), "an itemset twice");
    }
    out
}

fn max_itemsets_error(e: MlError) -> String {
    match e {
        MlError::InvalidParam { param, message } => {
            assert_eq!(param, "max_itemsets");
            message
        }
        other => panic!("expected InvalidParam max_itemsets, got {other:?}"),
    }
}

#[test]
fn max_len_keeps_exactly_the_itemsets_of_at_most_that_many_items() {
    for seed in 0..4 {
        let baskets = random_baskets(60, seed);
        let data = dataset(&baskets);
        for (min_support, min_count) in [(0.05, 3), (0.2, 12)] {
            for max_len in [1, 2, 3, 10] {
                for threads in [1, 3] {
                    let fp = FPGrowth::new()
                        .with_min_support(min_support)
                        .with_max_len(max_len)
                        .with_n_threads(threads);
                    assert_eq!(
                        mined(&fp, &data),
                        brute_force(&baskets, min_count, max_len),
                        "seed {seed} support {min_support} max_len {max_len} threads {threads}"
                    );
                }
            }
            // No max_len: every frequent itemset.
            let fp = FPGrowth::new().with_min_support(min_support);
            assert_eq!(mined(&fp, &data), brute_force(&baskets, min_count, 10));
        }
    }
}

#[test]
fn max_itemsets_is_exact_and_the_same_at_any_thread_count() {
    let baskets = random_baskets(80, 7);
    let data = dataset(&baskets);
    let total = brute_force(&baskets, 4, 10).len(); // min_support 0.05 of 80 baskets
    assert!(total > 100, "{total}");
    for threads in [1, 2, 3] {
        let fp = |max: usize| {
            FPGrowth::new()
                .with_min_support(0.05)
                .with_n_threads(threads)
                .with_max_itemsets(max)
        };
        assert_eq!(fp(total).fit(&data).unwrap().num_itemsets(), total);
        let m = max_itemsets_error(fp(total - 1).fit(&data).unwrap_err());
        assert!(
            m.contains(&format!("more than {}", total - 1)) && m.contains("raise max_itemsets"),
            "{m}"
        );
        let mut streamed = 0;
        let e = fp(total - 1)
            .stream_itemsets(&data, 16, |d| {
                streamed += d.num_rows();
                Ok(())
            })
            .unwrap_err();
        max_itemsets_error(e);
        assert!(streamed < total);
        assert_eq!(
            fp(total).stream_itemsets(&data, 16, |_| Ok(())).unwrap(),
            total as u64
        );
    }
}

#[test]
fn one_basket_of_forty_items_is_an_error_naming_the_parameter_not_an_abort() {
    let basket: Vec<i64> = (0..40).collect();
    for baskets in [
        vec![basket.clone()],
        vec![basket.clone(), basket.clone(), vec![1, 2]],
    ] {
        let data = dataset(&baskets);
        let started = std::time::Instant::now();
        let e = FPGrowth::new()
            .with_min_support(1e-9)
            .fit(&data)
            .unwrap_err();
        let m = max_itemsets_error(e);
        assert!(
            m.contains(&format!(
                "more than {DEFAULT_MAX_ITEMSETS} frequent itemsets"
            )) && m.contains("min_support 0.000000001")
                && m.contains("set max_len"),
            "{m}"
        );
        // Refused before the itemsets are written, not after ten million of them.
        assert!(started.elapsed().as_secs() < 5, "{:?}", started.elapsed());
    }
    // With max_len 2 the same basket gives 40 + 40 * 39 / 2 itemsets.
    let data = dataset(&[basket]);
    let model = FPGrowth::new()
        .with_min_support(1e-9)
        .with_max_len(2)
        .fit(&data)
        .unwrap();
    assert_eq!(model.num_itemsets(), 40 + 780);
}

#[test]
fn limits_out_of_range_are_refused() {
    let data = dataset(&[vec![1, 2]]);
    let e = FPGrowth::new().with_max_len(0).fit(&data).unwrap_err();
    assert!(
        matches!(&e, MlError::InvalidParam { param, .. } if param == "max_len"),
        "{e}"
    );
    let e = FPGrowth::new().with_max_itemsets(0).fit(&data).unwrap_err();
    assert!(
        matches!(&e, MlError::InvalidParam { param, .. } if param == "max_itemsets"),
        "{e}"
    );
}
