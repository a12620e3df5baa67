//! Property tests (issue 19, item 7): FP-growth on small random baskets equals a brute force
//! written here, which counts every subset of the items present in every basket. Checked: the
//! frequent itemsets and their counts (`min_count = ceil(min_support * n)`, Spark's rule), with
//! and without `max_len`; the association rules (every `A => y` with `A ∪ {y}` frequent and
//! confidence at least `min_confidence`, with confidence, lift and support recomputed); the
//! recommendations of `transform` (consequents of the rules whose antecedent the basket
//! holds, minus its own items); integer and string items alike.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, ListArray, StringArray};
use arrow::datatypes::{DataType, Field, Int64Type};
use ml_core::{Dataset, Estimator, Transformer};
use ml_fpm::FPGrowth;
use proptest::prelude::*;

type Itemset = BTreeSet<String>;

/// A basket column of integer items or of their names (`"i3"`).
fn dataset(baskets: &[Vec<u8>], strings: bool) -> Dataset {
    let list: ListArray = if strings {
        let offsets: Vec<i32> = std::iter::once(0)
            .chain(baskets.iter().scan(0i32, |o, b| {
                *o += b.len() as i32;
                Some(*o)
            }))
            .collect();
        let values: Vec<String> = baskets.iter().flatten().map(|x| format!("i{x}")).collect();
        ListArray::new(
            Arc::new(Field::new("item", DataType::Utf8, true)),
            arrow::buffer::OffsetBuffer::new(offsets.into()),
            Arc::new(StringArray::from(values)),
            None,
        )
    } else {
        ListArray::from_iter_primitive::<Int64Type, _, _>(
            baskets
                .iter()
                .map(|b| Some(b.iter().map(|&x| Some(i64::from(x))).collect::<Vec<_>>())),
        )
    };
    Dataset::from_columns(vec![("items", Arc::new(list) as ArrayRef)]).unwrap()
}

/// The items of row `r` of a list column, as names (`"i3"` for an integer 3 or a string "i3").
fn row_items(list: &ListArray, r: usize) -> Vec<String> {
    let v = list.value(r);
    match v.data_type() {
        DataType::Int64 => v
            .as_primitive::<Int64Type>()
            .values()
            .iter()
            .map(|x| format!("i{x}"))
            .collect(),
        DataType::Utf8 => v
            .as_string::<i32>()
            .iter()
            .map(|s| s.unwrap().to_string())
            .collect(),
        other => panic!("unexpected item type {other}"),
    }
}

fn set_of(items: Vec<String>) -> Itemset {
    let n = items.len();
    let s: Itemset = items.into_iter().collect();
    assert_eq!(s.len(), n, "an item repeated in an output list");
    s
}

/// Brute force: every non-empty subset of the items present, counted over the (deduplicated)
/// baskets; those in at least `min_count` baskets and of at most `max_len` items.
fn brute_itemsets(
    baskets: &[Itemset],
    min_count: usize,
    max_len: usize,
) -> BTreeMap<Itemset, usize> {
    let items: Vec<&String> = baskets
        .iter()
        .flatten()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut out = BTreeMap::new();
    for mask in 1u32..(1 << items.len()) {
        if mask.count_ones() as usize > max_len {
            continue;
        }
        let set: Itemset = (0..items.len())
            .filter(|i| mask & (1 << i) != 0)
            .map(|i| items[i].clone())
            .collect();
        let count = baskets.iter().filter(|b| set.is_subset(b)).count();
        if count >= min_count {
            out.insert(set, count);
        }
    }
    out
}

/// `(antecedent, consequent) -> (confidence, lift, support)` by the definitions.
fn brute_rules(
    freq: &BTreeMap<Itemset, usize>,
    n: usize,
    min_conf: f64,
) -> BTreeMap<(Itemset, String), (f64, f64, f64)> {
    let mut out = BTreeMap::new();
    for (set, &f) in freq {
        if set.len() < 2 {
            continue;
        }
        for y in set {
            let mut ant = set.clone();
            ant.remove(y);
            let fa = freq[&ant] as f64;
            let conf = f as f64 / fa;
            if conf >= min_conf {
                let fy = freq[&BTreeSet::from([y.clone()])] as f64;
                let lift = conf / (fy / n as f64);
                out.insert((ant, y.clone()), (conf, lift, f as f64 / n as f64));
            }
        }
    }
    out
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * (1.0 + b.abs())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn fpgrowth_equals_brute_force_on_small_random_baskets(
        raw in prop::collection::vec(prop::collection::vec(0u8..8, 0..7), 1..40),
        min_support in prop_oneof![Just(1.0), Just(0.5), 0.01f64..1.0],
        min_confidence in prop_oneof![Just(0.0), Just(1.0), 0.0f64..1.0],
        max_len in prop::option::of(1usize..4),
        strings in any::<bool>(),
    ) {
        let n = raw.len();
        let data = dataset(&raw, strings);
        let baskets: Vec<Itemset> = raw
            .iter()
            .map(|b| b.iter().map(|x| format!("i{x}")).collect())
            .collect();
        let has_repeats = raw.iter().zip(&baskets).any(|(r, s)| r.len() != s.len());
        let mut fp = FPGrowth::new()
            .with_min_support(min_support)
            .with_min_confidence(min_confidence)
            .with_dedup_items(true);
        if let Some(m) = max_len {
            fp = fp.with_max_len(m);
        }
        // Without dedup_items, a basket with a repeated item is refused (as in Spark).
        let strict = fp.clone().with_dedup_items(false).fit(&data);
        prop_assert_eq!(strict.is_err(), has_repeats);

        let model = fp.fit(&data).unwrap();
        let min_count = ((min_support * n as f64).ceil() as usize).max(1);
        let want = brute_itemsets(&baskets, min_count, max_len.unwrap_or(usize::MAX));
        let sets = model.freq_itemsets().unwrap();
        let items = sets.column("items").unwrap().as_list::<i32>().clone();
        let freq = sets.i64_column("freq").unwrap();
        let mut got = BTreeMap::new();
        for r in 0..sets.num_rows() {
            let set = set_of(row_items(&items, r));
            prop_assert!(got.insert(set, freq.value(r) as usize).is_none(), "an itemset twice");
        }
        prop_assert_eq!(&got, &want);
        prop_assert_eq!(model.num_itemsets(), want.len());

        // Rules need every subset's count; with max_len the brute force has them all (subsets
        // of an itemset of at most max_len items are shorter).
        let want_rules = brute_rules(&want, n, min_confidence);
        let rules = model.association_rules().unwrap();
        let ant = rules.column("antecedent").unwrap().as_list::<i32>().clone();
        let cons = rules.column("consequent").unwrap().as_list::<i32>().clone();
        let conf = rules.f64_column("confidence").unwrap();
        let lift = rules.f64_column("lift").unwrap();
        let sup = rules.f64_column("support").unwrap();
        let mut got_rules = BTreeMap::new();
        for r in 0..rules.num_rows() {
            let c = row_items(&cons, r);
            prop_assert_eq!(c.len(), 1);
            let key = (set_of(row_items(&ant, r)), c[0].clone());
            let v = (conf.value(r), lift.value(r), sup.value(r));
            prop_assert!(got_rules.insert(key, v).is_none(), "a rule twice");
        }
        prop_assert_eq!(
            got_rules.keys().collect::<Vec<_>>(),
            want_rules.keys().collect::<Vec<_>>()
        );
        for (k, g) in &got_rules {
            let w = want_rules[k];
            prop_assert!(
                close(g.0, w.0) && close(g.1, w.1) && close(g.2, w.2),
                "rule {:?}: {:?} vs {:?}", k, g, w
            );
        }

        // Recommendations: the consequents of the rules the basket satisfies, not in it.
        let out = model.transform(&data).unwrap();
        let pred = out.column("prediction").unwrap().as_list::<i32>().clone();
        prop_assert_eq!(pred.null_count(), 0);
        for (r, b) in baskets.iter().enumerate() {
            let want: Itemset = want_rules
                .keys()
                .filter(|(a, y)| a.is_subset(b) && !b.contains(y))
                .map(|(_, y)| y.clone())
                .collect();
            prop_assert_eq!(set_of(row_items(&pred, r)), want, "basket {}", r);
        }
    }
}
