//! FP-growth and PrefixSpan give bit-identical results at 1, 2 and 3 threads (issue 19,
//! item 6).
//!
//! Where the thread count reaches the work: encoding counts items over row chunks of
//! `max(16,384, n / 256)` baskets (50,003 baskets here: 4 chunks, which 2 and 3 threads share
//! out differently); the FP tree is built from as many chunks of the sorted baskets as the pool
//! has threads (2 or 3 chunks, merged afterwards: the merge is what a 3-way split exercises
//! beyond the 2-way one); mining runs per item in parallel; the rules are derived in chunks of
//! 4,096 itemsets (more than 8,192 itemsets here, so at least 3 chunks). The model (saved
//! JSON), the itemsets, the rules (confidence, lift and support compared bit for bit as Arrow
//! arrays) and the recommendations must not change.

use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Builder, ListArray, ListBuilder, StringArray};
use arrow::datatypes::Int64Type;
use ml_core::dataset::unit_uniform;
use ml_core::{persist, threads, Dataset, Estimator, Transformer};
use ml_fpm::{FPGrowth, PrefixSpan};

const THREADS: [usize; 3] = [1, 2, 3];

/// `n` baskets over 40 items, item `i` present with probability about `0.5 / (1 + i / 6)`,
/// with a few correlated pairs so that multi-item rules have high confidence.
fn baskets(n: usize, seed: u64) -> Vec<Vec<i64>> {
    (0..n)
        .map(|r| {
            let u = |k: usize| unit_uniform(seed, (r * 64 + k) as u64);
            let mut b: Vec<i64> = (0..40)
                .filter(|&i| u(i) < 0.5 / (1.0 + i as f64 / 6.0))
                .map(|i| i as i64)
                .collect();
            if b.contains(&3) && u(50) < 0.8 && !b.contains(&17) {
                b.push(17);
            }
            if b.contains(&0) && b.contains(&1) && u(51) < 0.7 && !b.contains(&25) {
                b.push(25);
            }
            b
        })
        .collect()
}

fn int_dataset(baskets: &[Vec<i64>]) -> Dataset {
    let list = ListArray::from_iter_primitive::<Int64Type, _, _>(
        baskets
            .iter()
            .map(|b| Some(b.iter().map(|&x| Some(x)).collect::<Vec<_>>())),
    );
    Dataset::from_columns(vec![("items", Arc::new(list) as ArrayRef)]).unwrap()
}

/// The same baskets with string items (`"item-07"`), the other encoding path.
fn string_dataset(baskets: &[Vec<i64>]) -> Dataset {
    let offsets: Vec<i32> = std::iter::once(0)
        .chain(baskets.iter().scan(0i32, |o, b| {
            *o += b.len() as i32;
            Some(*o)
        }))
        .collect();
    let values: Vec<String> = baskets
        .iter()
        .flatten()
        .map(|x| format!("item-{x:02}"))
        .collect();
    let field = Arc::new(arrow::datatypes::Field::new(
        "item",
        arrow::datatypes::DataType::Utf8,
        true,
    ));
    let list = ListArray::new(
        field,
        arrow::buffer::OffsetBuffer::new(offsets.into()),
        Arc::new(StringArray::from(values)),
        None,
    );
    Dataset::from_columns(vec![("items", Arc::new(list) as ArrayRef)]).unwrap()
}

/// What a fit at `n` threads produces: the model's JSON, its itemsets, its rules and its
/// recommendations for `data` (all computed inside a pool of `n` threads).
fn run(fp: &FPGrowth, data: &Dataset, n: usize) -> (String, Dataset, Dataset, Dataset) {
    let fp = fp.clone().with_n_threads(n);
    threads::install(n, || {
        assert_eq!(threads::current_num_threads(), n);
        let model = fp.fit(data).unwrap();
        (
            persist::to_json(&model).unwrap(),
            model.freq_itemsets().unwrap(),
            model.association_rules().unwrap(),
            model.transform(data).unwrap(),
        )
    })
    .unwrap()
}

fn check(what: &str, fp: &FPGrowth, data: &Dataset, min_itemsets: usize) {
    let runs: Vec<_> = THREADS.iter().map(|&n| run(fp, data, n)).collect();
    let (json1, sets1, rules1, out1) = &runs[0];
    assert!(
        sets1.num_rows() > min_itemsets,
        "{what}: {} itemsets",
        sets1.num_rows()
    );
    assert!(
        rules1.num_rows() > 100,
        "{what}: {} rules",
        rules1.num_rows()
    );
    for (n, (json, sets, rules, out)) in THREADS.iter().zip(&runs).skip(1) {
        assert!(json == json1, "{what}: model JSON at {n} threads differs");
        assert!(
            sets.batch() == sets1.batch(),
            "{what}: itemsets at {n} threads differ"
        );
        assert!(
            rules.batch() == rules1.batch(),
            "{what}: rules at {n} threads differ"
        );
        assert!(
            out.batch() == out1.batch(),
            "{what}: recommendations at {n} threads differ"
        );
    }
}

#[test]
fn fpgrowth_on_integer_items_is_bit_identical_at_1_2_3_threads() {
    let b = baskets(50_003, 1);
    let fp = FPGrowth::new()
        .with_min_support(0.003)
        .with_min_confidence(0.2);
    check("int items", &fp, &int_dataset(&b), 8192);
}

#[test]
fn fpgrowth_on_string_items_with_max_len_is_bit_identical_at_1_2_3_threads() {
    let b = baskets(50_003, 2);
    let fp = FPGrowth::new()
        .with_min_support(0.003)
        .with_min_confidence(0.1)
        .with_max_len(4);
    check("string items", &fp, &string_dataset(&b), 8192);
}

#[test]
fn prefixspan_is_bit_identical_at_1_2_3_threads() {
    // 3,001 sequences of 2 to 6 itemsets over 12 items; small projected databases are explored
    // in parallel (max_local_proj_db_size 50).
    let mut b = ListBuilder::new(ListBuilder::new(Int64Builder::new()));
    for r in 0..3001u64 {
        let u = |k: u64| unit_uniform(9, r * 64 + k);
        let len = 2 + (u(0) * 5.0) as u64;
        for s in 0..len {
            for i in 0..12u64 {
                if u(1 + s * 12 + i) < 0.35 / (1.0 + i as f64 / 4.0) {
                    b.values().values().append_value(i as i64);
                }
            }
            b.values().append(true);
        }
        b.append(true);
    }
    let data = Dataset::from_columns(vec![("sequence", Arc::new(b.finish()) as ArrayRef)]).unwrap();
    let out: Vec<Dataset> = THREADS
        .iter()
        .map(|&n| {
            threads::install(n, || {
                PrefixSpan::new()
                    .with_min_support(0.01)
                    .with_max_pattern_length(5)
                    .with_max_local_proj_db_size(50)
                    .with_n_threads(n)
                    .find_frequent_sequential_patterns(&data)
                    .unwrap()
            })
            .unwrap()
        })
        .collect();
    assert!(out[0].num_rows() > 200, "{} patterns", out[0].num_rows());
    for (n, o) in THREADS.iter().zip(&out).skip(1) {
        assert!(
            o.batch() == out[0].batch(),
            "patterns at {n} threads differ"
        );
    }
}
