//! Parameters out of range are refused at fit time (even when set directly on the public
//! fields) with an `InvalidParam` naming the parameter, the allowed range and the value.

use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Builder, ListArray, ListBuilder};
use arrow::datatypes::Int64Type;
use ml_core::testing::assert_invalid_param;
use ml_core::{Dataset, Estimator};
use ml_fpm::{FPGrowth, PrefixSpan};

fn baskets() -> Dataset {
    let b = ListArray::from_iter_primitive::<Int64Type, _, _>(vec![
        Some(vec![Some(1), Some(2), Some(5)]),
        Some(vec![Some(1), Some(2)]),
    ]);
    Dataset::from_columns(vec![("items", Arc::new(b) as ArrayRef)]).unwrap()
}

fn sequences() -> Dataset {
    let mut b = ListBuilder::new(ListBuilder::new(Int64Builder::new()));
    for seq in [vec![vec![1, 2], vec![3]], vec![vec![1], vec![3, 2]]] {
        for set in seq {
            for x in set {
                b.values().values().append_value(x);
            }
            b.values().append(true);
        }
        b.append(true);
    }
    Dataset::from_columns(vec![("sequence", Arc::new(b.finish()) as ArrayRef)]).unwrap()
}

#[test]
fn fp_growth_refuses_out_of_range_parameters_at_fit() {
    type Set = fn(&mut FPGrowth);
    let cases: Vec<(Set, &str, &[&str])> = vec![
        (|f| f.min_support = 0.0, "min_support", &["(0, 1]", "got 0"]),
        (
            |f| f.min_support = -0.2,
            "min_support",
            &["(0, 1]", "got -0.2"],
        ),
        (
            |f| f.min_support = 1.5,
            "min_support",
            &["(0, 1]", "got 1.5"],
        ),
        (
            |f| f.min_support = f64::NAN,
            "min_support",
            &["(0, 1]", "got NaN"],
        ),
        (
            |f| f.min_confidence = -0.1,
            "min_confidence",
            &["[0, 1]", "got -0.1"],
        ),
        (
            |f| f.min_confidence = 2.0,
            "min_confidence",
            &["[0, 1]", "got 2"],
        ),
        (
            |f| f.min_confidence = f64::NAN,
            "min_confidence",
            &["[0, 1]"],
        ),
        (
            |f| f.n_threads = Some(0),
            "n_threads",
            &["[1, 1024]", "got 0"],
        ),
        (
            |f| f.n_threads = Some(100_000),
            "n_threads",
            &["1024", "got 100000"],
        ),
    ];
    for (set, param, words) in cases {
        let mut fp = FPGrowth::new();
        set(&mut fp);
        assert_invalid_param(fp.fit(&baskets()).unwrap_err(), param, words);
    }
    assert_eq!(
        FPGrowth::new()
            .with_min_support(1.0)
            .fit(&baskets())
            .unwrap()
            .num_itemsets(),
        3 // {1}, {2}, {1, 2}
    );
}

#[test]
fn prefix_span_refuses_out_of_range_parameters() {
    type Set = fn(&mut PrefixSpan);
    let cases: Vec<(Set, &str, &[&str])> = vec![
        (|p| p.min_support = 0.0, "min_support", &["(0, 1]"]),
        (
            |p| p.min_support = 1.01,
            "min_support",
            &["(0, 1]", "got 1.01"],
        ),
        (|p| p.min_support = f64::NAN, "min_support", &["(0, 1]"]),
        (
            |p| p.max_pattern_length = 0,
            "max_pattern_length",
            &["at least 1"],
        ),
        (
            |p| p.max_local_proj_db_size = 0,
            "max_local_proj_db_size",
            &["at least 1"],
        ),
        (|p| p.n_threads = Some(0), "n_threads", &["[1, 1024]"]),
        (|p| p.n_threads = Some(5000), "n_threads", &["got 5000"]),
        (|p| p.max_patterns = 0, "max_patterns", &["at least 1"]),
    ];
    for (set, param, words) in cases {
        let mut ps = PrefixSpan::new();
        set(&mut ps);
        assert_invalid_param(
            ps.find_frequent_sequential_patterns(&sequences())
                .unwrap_err(),
            param,
            words,
        );
    }
    assert!(PrefixSpan::new()
        .find_frequent_sequential_patterns(&sequences())
        .is_ok());
}
