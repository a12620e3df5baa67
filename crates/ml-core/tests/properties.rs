//! Property tests (issue 19, item 7) for ml-core's invariants, each checked against a reference
//! computed in the test:
//!
//! * StringIndexer labels are ordered as `string_order_type` says (recounted here), every code
//!   names its row's label, and IndexToString maps the codes back to the input strings; with
//!   `skip`, exactly the rows with labels unseen in fit are dropped.
//! * OneHotEncoder's output width is `categories + keep - drop_last`, with the number of
//!   categories from nominal metadata or learned as the largest code + 1, and every row is the
//!   expected indicator vector.
//! * `Dataset::random_split` partitions the rows: every row lands in exactly one part, in order,
//!   the part its `(seed, row)` draw picks against the normalised weights; zero-weight parts
//!   stay empty; `stream::random_split` over the same rows in batches gives the same parts.
//! * ROC AUC equals the brute-force count of correctly ordered (positive, negative) pairs (ties
//!   half, weighted), is unchanged by strictly increasing maps of the scores and becomes
//!   `1 - AUC` under strictly decreasing ones.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Float64Array, StringArray, UInt64Array};
use arrow::datatypes::{DataType, Field};
use ml_core::attributes::{with_attribute, Attribute};
use ml_core::dataset::unit_uniform;
use ml_core::feature::{
    HandleInvalid, IndexToString, OneHotEncoder, StringIndexer, StringOrderType,
};
use ml_core::metrics::roc_auc;
use ml_core::stream::{self, BatchSource, MemorySource};
use ml_core::{Dataset, Estimator, Transformer};
use proptest::prelude::*;

fn strings(name: &str, v: &[String]) -> Dataset {
    Dataset::from_columns(vec![(
        name,
        Arc::new(StringArray::from(v.to_vec())) as ArrayRef,
    )])
    .unwrap()
}

const ORDERS: [StringOrderType; 4] = [
    StringOrderType::FrequencyDesc,
    StringOrderType::FrequencyAsc,
    StringOrderType::AlphabetDesc,
    StringOrderType::AlphabetAsc,
];

/// The label order Spark's StringIndexer gives, recomputed from counts: frequency orders break
/// ties by ascending code-point order; alphabet orders are plain code-point orders.
fn reference_labels(values: &[String], order: StringOrderType) -> Vec<String> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for v in values {
        *counts.entry(v).or_default() += 1;
    }
    let mut labels: Vec<(&str, usize)> = counts.into_iter().collect(); // ascending by label
    match order {
        StringOrderType::FrequencyDesc => labels.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0))),
        StringOrderType::FrequencyAsc => labels.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(b.0))),
        StringOrderType::AlphabetDesc => labels.reverse(),
        StringOrderType::AlphabetAsc => {}
    }
    labels.into_iter().map(|(s, _)| s.to_string()).collect()
}

/// Labels from a small alphabet with multi-byte characters, the empty string and case
/// differences, so ties in frequency and code-point ordering both occur.
fn label() -> impl Strategy<Value = String> {
    prop_oneof![
        "[abAB]{0,2}",
        Just("é".to_string()),
        Just("日本".to_string()),
        Just("z z".to_string()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn string_indexer_orders_labels_and_index_to_string_round_trips(
        values in prop::collection::vec(label(), 1..120),
        order in 0usize..4,
    ) {
        let order = ORDERS[order];
        let data = strings("s", &values);
        let model = StringIndexer::new("s", "code")
            .with_string_order_type(order)
            .fit(&data)
            .unwrap();
        let labels = model.labels().to_vec();
        prop_assert_eq!(&labels, &reference_labels(&values, order));
        let indexed = model.transform(&data).unwrap();
        let codes = indexed.f64_column("code").unwrap();
        prop_assert_eq!(codes.null_count(), 0);
        for (row, v) in values.iter().enumerate() {
            let c = codes.value(row);
            prop_assert!(c >= 0.0 && c.fract() == 0.0 && (c as usize) < labels.len());
            prop_assert_eq!(&labels[c as usize], v, "row {}", row);
        }
        // Back to strings: from the column's metadata, and from explicit labels.
        for back in [
            IndexToString::new("code", "back"),
            IndexToString::new("code", "back").with_labels(labels.clone()),
        ] {
            let out = back.transform(&indexed).unwrap();
            let got: Vec<Option<&str>> = out.string_column("back").unwrap().iter().collect();
            let want: Vec<Option<&str>> = values.iter().map(|s| Some(s.as_str())).collect();
            prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn string_indexer_skip_drops_exactly_the_unseen_labels(
        fit_values in prop::collection::vec(label(), 1..60),
        new_values in prop::collection::vec(label(), 1..60),
    ) {
        let model = StringIndexer::new("s", "code")
            .with_handle_invalid(HandleInvalid::Skip)
            .fit(&strings("s", &fit_values))
            .unwrap();
        let out = model.transform(&strings("s", &new_values)).unwrap();
        let kept: Vec<&String> = new_values.iter().filter(|v| fit_values.contains(v)).collect();
        prop_assert_eq!(out.num_rows(), kept.len());
        let back = IndexToString::new("code", "back").transform(&out).unwrap();
        let got: Vec<&str> = back.string_column("back").unwrap().iter().map(|s| s.unwrap()).collect();
        let in_col: Vec<&str> = back.string_column("s").unwrap().iter().map(|s| s.unwrap()).collect();
        let want: Vec<&str> = kept.iter().map(|s| s.as_str()).collect();
        prop_assert_eq!(&got, &want);
        prop_assert_eq!(&in_col, &want);
    }

    #[test]
    fn one_hot_encoder_width_and_rows_match_the_reference(
        n_cats in 1usize..9,
        raw_codes in prop::collection::vec(0usize..1000, 1..80),
        nominal in any::<bool>(),
        drop_last in any::<bool>(),
        keep in any::<bool>(),
        invalid in prop::collection::vec(
            prop_oneof![Just(-1.0), Just(1.5), Just(f64::NAN), Just(100.0), Just(-0.5)],
            0..6,
        ),
        invalid_at in prop::collection::vec(0usize..1000, 6),
        null_at in prop::option::of(0usize..1000),
    ) {
        // Codes in 0..n_cats; with nominal metadata the column may not use every category.
        let mut codes: Vec<Option<f64>> =
            raw_codes.iter().map(|&c| Some((c % n_cats) as f64)).collect();
        // Invalid values (codes outside the categories, fractions, NaN, nulls) only where the
        // encoder can learn or knows the categories without them: NaN and nulls are skipped
        // when learning, anything goes with metadata.
        let mut n_invalid = 0;
        if keep {
            for (v, at) in invalid.iter().zip(&invalid_at) {
                if nominal || v.is_nan() {
                    let at = at % (codes.len() + 1);
                    codes.insert(at, Some(*v));
                    n_invalid += 1;
                }
            }
            if let Some(at) = null_at {
                codes.insert(at % (codes.len() + 1), None);
                n_invalid += 1;
            }
        }
        let mut field = Field::new("c", DataType::Float64, true);
        if nominal {
            field = with_attribute(
                field,
                &Attribute::Nominal { name: Some("c".into()), num_values: n_cats, values: None },
            );
        }
        let data = Dataset::from_fields(
            vec![field],
            vec![Arc::new(Float64Array::from(codes.clone())) as ArrayRef],
        )
        .unwrap();
        let valid = |c: &Option<f64>, size: usize| {
            matches!(c, Some(v) if *v >= 0.0 && v.fract() == 0.0 && (*v as usize) < size)
        };
        let learned = codes
            .iter()
            .filter_map(|c| c.filter(|v| !v.is_nan()))
            .fold(-1.0f64, f64::max);
        let size = if nominal { n_cats } else { learned as usize + 1 };
        let est = OneHotEncoder::single("c", "v")
            .with_drop_last(drop_last)
            .with_handle_invalid(if keep { HandleInvalid::Keep } else { HandleInvalid::Error });
        let model = est.fit(&data).unwrap();
        prop_assert_eq!(model.category_sizes(), &[size][..]);
        let width = size + usize::from(keep) - usize::from(drop_last);
        let out = model.transform(&data).unwrap();
        prop_assert_eq!(out.vector_size("v").unwrap(), width);
        if nominal {
            // Known before fitting from the metadata.
            let schema = Estimator::transform_schema(&est, &data.schema()).unwrap();
            let f = schema.field_with_name("v").unwrap().clone();
            prop_assert_eq!(
                f.data_type(),
                &ml_core::dataset::vector_type(width)
            );
        }
        let m = out.features("v").unwrap();
        prop_assert_eq!(m.nrows(), codes.len());
        let mut invalid_rows = 0;
        for (row, c) in codes.iter().enumerate() {
            let slot = if valid(c, size) {
                c.unwrap() as usize
            } else {
                invalid_rows += 1;
                size
            };
            let want: Vec<f64> = (0..width).map(|j| f64::from(j == slot)).collect();
            prop_assert_eq!(m.row(row).to_vec(), want, "row {} code {:?}", row, c);
        }
        prop_assert_eq!(invalid_rows, n_invalid);
        // Without keep, an invalid code is an error, not a silent zero vector.
        if !keep && nominal {
            let bad = Dataset::from_fields(
                vec![with_attribute(
                    Field::new("c", DataType::Float64, true),
                    &Attribute::Nominal { name: None, num_values: n_cats, values: None },
                )],
                vec![Arc::new(Float64Array::from(vec![0.0, n_cats as f64])) as ArrayRef],
            )
            .unwrap();
            prop_assert!(model.transform(&bad).is_err());
        }
    }

    #[test]
    fn random_split_partitions_the_rows(
        n in 0usize..400,
        weights in prop::collection::vec(
            prop_oneof![Just(0.0), 0.01f64..5.0],
            1..5,
        ),
        seed in any::<u64>(),
        batch_rows in 1usize..50,
    ) {
        prop_assume!(weights.iter().sum::<f64>() > 0.0);
        let ids: Vec<u64> = (0..n as u64).collect();
        let data = Dataset::from_columns(vec![(
            "id",
            Arc::new(UInt64Array::from(ids)) as ArrayRef,
        )])
        .unwrap();
        let parts = data.random_split(&weights, seed).unwrap();
        prop_assert_eq!(parts.len(), weights.len());
        // Reference: the row's draw against the cumulative normalised weights.
        let total: f64 = weights.iter().sum();
        let mut seen = vec![0usize; n];
        for (k, part) in parts.iter().enumerate() {
            let col = part.column("id").unwrap();
            let col = col.as_any().downcast_ref::<UInt64Array>().unwrap();
            let got: Vec<u64> = col.values().to_vec();
            prop_assert!(got.windows(2).all(|w| w[0] < w[1]), "part {} keeps row order", k);
            if weights[k] == 0.0 {
                prop_assert!(got.is_empty(), "zero-weight part {} is empty", k);
            }
            for &row in &got {
                seen[row as usize] += 1;
                let u = unit_uniform(seed, row);
                let lo: f64 = weights[..k].iter().sum::<f64>() / total;
                let hi: f64 = weights[..=k].iter().sum::<f64>() / total;
                // The cumulative bounds may round differently from the library's; allow one ulp
                // of slack at the edges only.
                prop_assert!(
                    u >= lo - 1e-12 && (u < hi + 1e-12 || k == weights.len() - 1),
                    "row {} (draw {}) in part {} [{}, {})", row, u, k, lo, hi
                );
            }
        }
        prop_assert!(seen.iter().all(|&c| c == 1), "every row in exactly one part");
        // The streamed split of the same rows, read in batches of `batch_rows`, gives each part
        // the same rows.
        let batches: Vec<_> = (0..n)
            .step_by(batch_rows)
            .map(|s| data.batch().slice(s, batch_rows.min(n - s)))
            .collect();
        let source = MemorySource::new(data.batch().schema(), batches).unwrap();
        let streamed = stream::random_split(Arc::new(source), &weights, seed).unwrap();
        for (k, (part, table)) in streamed.iter().zip(&parts).enumerate() {
            let mut ids: Vec<u64> = vec![];
            for b in part.open().unwrap() {
                let b = b.unwrap();
                let col = b.column(0).as_any().downcast_ref::<UInt64Array>().unwrap();
                ids.extend(col.values().iter());
            }
            let col = table.column("id").unwrap();
            let want = col.as_any().downcast_ref::<UInt64Array>().unwrap().values().to_vec();
            prop_assert_eq!(ids, want, "streamed part {}", k);
        }
    }

    #[test]
    fn auc_matches_pair_counting_and_ignores_monotone_maps(
        rows in prop::collection::vec((-30i32..30, any::<bool>(), 1u32..4), 2..80),
        weighted in any::<bool>(),
    ) {
        let scores: Vec<f64> = rows.iter().map(|r| f64::from(r.0) / 4.0).collect();
        let labels: Vec<f64> = rows.iter().map(|r| f64::from(u8::from(r.1))).collect();
        let weights: Vec<f64> = rows.iter().map(|r| f64::from(r.2) * 0.5).collect();
        let w = weighted.then_some(weights.as_slice());
        let has_both = labels.contains(&0.0) && labels.contains(&1.0);
        let auc = roc_auc(&scores, &labels, w);
        if !has_both {
            prop_assert!(auc.is_err(), "one class only: no AUC");
            return Ok(());
        }
        let auc = auc.unwrap();
        // Brute force: weighted share of (positive, negative) pairs ordered correctly.
        let wt = |i: usize| if weighted { weights[i] } else { 1.0 };
        let (mut good, mut all) = (0.0, 0.0);
        for i in 0..rows.len() {
            for j in 0..rows.len() {
                if labels[i] == 1.0 && labels[j] == 0.0 {
                    let pair = wt(i) * wt(j);
                    all += pair;
                    good += pair * if scores[i] > scores[j] {
                        1.0
                    } else if scores[i] == scores[j] {
                        0.5
                    } else {
                        0.0
                    };
                }
            }
        }
        prop_assert!((auc - good / all).abs() < 1e-12, "auc {} vs pairs {}", auc, good / all);
        // Strictly increasing maps (injective on these scores, so ties stay ties) leave the
        // AUC bit for bit as it was; decreasing ones give 1 - AUC.
        let increasing: [fn(f64) -> f64; 4] = [
            |s| s.exp(),
            |s| s * s * s + 10.0,
            |s| s.atan(),
            |s| 1e-3 * s - 7.0,
        ];
        for f in increasing {
            let mapped: Vec<f64> = scores.iter().map(|&s| f(s)).collect();
            prop_assert_eq!(roc_auc(&mapped, &labels, w).unwrap().to_bits(), auc.to_bits());
        }
        let decreasing: Vec<f64> = scores.iter().map(|&s| (-s).exp()).collect();
        let flipped = roc_auc(&decreasing, &labels, w).unwrap();
        prop_assert!((flipped - (1.0 - auc)).abs() < 1e-12, "{} vs 1 - {}", flipped, auc);
    }
}

/// Found by the property above: one category with `drop_last` (the default) encodes as
/// vectors of width 0, one per row; the output column used to come out with no rows, and the
/// transform failed with Arrow's "all columns in a record batch must have the same length".
#[test]
fn one_hot_encoder_of_a_single_category_gives_one_empty_vector_per_row() {
    let data = Dataset::from_columns(vec![(
        "c",
        Arc::new(Float64Array::from(vec![0.0, 0.0, 0.0])) as ArrayRef,
    )])
    .unwrap();
    let model = OneHotEncoder::single("c", "v").fit(&data).unwrap();
    assert_eq!(model.category_sizes(), &[1]);
    let out = model.transform(&data).unwrap();
    assert_eq!(out.num_rows(), 3);
    assert_eq!(out.vector_size("v").unwrap(), 0);
    assert_eq!(out.features("v").unwrap().dim(), (3, 0));
}
