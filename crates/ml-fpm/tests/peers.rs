//! FP-growth against figures measured with pyfim (Borgelt's C fpgrowth) and mlxtend on the
//! baskets shipped in `examples/data/baskets/`.
//!
//! The expected figures were printed by `scripts/fpm_reference.py`, run with the peers venv
//! (`~/.cache/ml-peers/venv/bin/python scripts/fpm_reference.py`, pyfim 6.28, mlxtend 0.25.0):
//! pyfim `fpgrowth(target='s', supp=100*min_support, zmin=1, report='a')`, and mlxtend
//! `fpgrowth` + `association_rules(metric='confidence', min_threshold=0)` restricted to
//! single-item consequents (Spark's rules).
#![allow(clippy::excessive_precision)] // figures pasted exactly as mlxtend printed them

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, ListArray, ListBuilder, StringBuilder};
use arrow::datatypes::Int64Type;
use ml_core::{Dataset, Estimator};
use ml_fpm::{FPGrowth, FPGrowthModel};

fn data_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/data/baskets")
}

/// groceries_arules_9835.csv: one basket per line, items separated by commas (no quoting).
fn groceries() -> Dataset {
    let text = std::fs::read_to_string(data_dir().join("groceries_arules_9835.csv")).unwrap();
    let mut b = ListBuilder::new(StringBuilder::new());
    for line in text.lines() {
        for item in line.split(',') {
            b.values().append_value(item);
        }
        b.append(true);
    }
    Dataset::from_columns(vec![("items", Arc::new(b.finish()) as ArrayRef)]).unwrap()
}

/// Instacart order_products rows grouped by order_id (ascending), product ids as Int64.
fn instacart() -> Dataset {
    let path = data_dir().join("instacart/order_products__prior_head10000.csv");
    let text = std::fs::read_to_string(path).unwrap();
    let mut by_order: std::collections::BTreeMap<i64, Vec<i64>> = Default::default();
    for line in text.lines().skip(1) {
        let mut f = line.split(',');
        let o: i64 = f.next().unwrap().parse().unwrap();
        let p: i64 = f.next().unwrap().parse().unwrap();
        by_order.entry(o).or_default().push(p);
    }
    let arr = ListArray::from_iter_primitive::<Int64Type, _, _>(
        by_order
            .values()
            .map(|v| Some(v.iter().map(|&x| Some(x)).collect::<Vec<_>>())),
    );
    Dataset::from_columns(vec![("items", Arc::new(arr) as ArrayRef)]).unwrap()
}

fn item_strings(list: &ListArray, row: usize) -> Vec<String> {
    let v = list.value(row);
    let mut out: Vec<String> = match v.data_type() {
        arrow::datatypes::DataType::Utf8 => v
            .as_string::<i32>()
            .iter()
            .map(|s| s.unwrap().to_string())
            .collect(),
        _ => v
            .as_primitive::<Int64Type>()
            .values()
            .iter()
            .map(|x| x.to_string())
            .collect(),
    };
    out.sort();
    out
}

fn itemsets(model: &FPGrowthModel) -> HashMap<Vec<String>, i64> {
    let d = model.freq_itemsets().unwrap();
    let items = d.column("items").unwrap().as_list::<i32>().clone();
    let freq = d.i64_column("freq").unwrap();
    (0..d.num_rows())
        .map(|k| (item_strings(&items, k), freq.value(k)))
        .collect()
}

fn summary(sets: &HashMap<Vec<String>, i64>) -> (usize, Vec<usize>, i64, i64) {
    let mut by_size = vec![0usize; 1 + sets.keys().map(|s| s.len()).max().unwrap_or(0)];
    for s in sets.keys() {
        by_size[s.len()] += 1;
    }
    let sum: i64 = sets.values().sum();
    let sum_len: i64 = sets.iter().map(|(s, c)| s.len() as i64 * c).sum();
    (sets.len(), by_size[1..].to_vec(), sum, sum_len)
}

fn set(items: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = items.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

#[test]
fn groceries_itemsets_equal_pyfim_at_any_thread_count() {
    let data = groceries();
    for threads in [1, 2] {
        let model = FPGrowth::new()
            .with_min_support(0.01)
            .with_n_threads(threads)
            .fit(&data)
            .unwrap();
        let sets = itemsets(&model);
        // pyfim: itemsets 333 by_size [(1, 88), (2, 213), (3, 32)], sum_freq 82103,
        // sum_len_freq 128241.
        assert_eq!(summary(&sets), (333, vec![88, 213, 32], 82103, 128241));
        for (s, c) in [
            (set(&["other vegetables", "whole milk"]), 736),
            (set(&["rolls/buns", "whole milk"]), 557),
            (set(&["whole milk", "yogurt"]), 551),
            (set(&["root vegetables", "whole milk"]), 481),
            (set(&["other vegetables", "root vegetables"]), 466),
            (set(&["soda", "whole milk"]), 394),
            (set(&["bottled water", "whole milk"]), 338),
        ] {
            assert_eq!(sets[&s], c, "{s:?}");
        }
    }
}

#[test]
fn instacart_itemsets_equal_pyfim() {
    let model = FPGrowth::new()
        .with_min_support(0.01)
        .fit(&instacart())
        .unwrap();
    assert_eq!(model.num_transactions(), 977);
    let sets = itemsets(&model);
    // pyfim: itemsets 142 by_size [(1, 125), (2, 17)], sum_freq 2852, sum_len_freq 3089.
    assert_eq!(summary(&sets), (142, vec![125, 17], 2852, 3089));
    for (s, c) in [
        (set(&["21903", "24852"]), 24),
        (set(&["13176", "47209"]), 23),
        (set(&["13176", "21137"]), 19),
        (set(&["21137", "47209"]), 16),
        (set(&["24852", "47766"]), 16),
        (set(&["13176", "27966"]), 15),
    ] {
        assert_eq!(sets[&s], c, "{s:?}");
    }
}

#[test]
fn groceries_rules_equal_mlxtend() {
    let model = FPGrowth::new()
        .with_min_support(0.01)
        .with_min_confidence(0.0)
        .fit(&groceries())
        .unwrap();
    let r = model.association_rules().unwrap();
    let ant = r.column("antecedent").unwrap().as_list::<i32>().clone();
    let cons = r.column("consequent").unwrap().as_list::<i32>().clone();
    let conf = r.f64_column("confidence").unwrap();
    let lift = r.f64_column("lift").unwrap();
    let sup = r.f64_column("support").unwrap();
    // mlxtend: single-consequent rules=522 sum_conf=112.414346577667 sum_lift=862.246575806742
    assert_eq!(r.num_rows(), 522);
    let sum_conf: f64 = conf.values().iter().sum();
    let sum_lift: f64 = lift.values().iter().sum();
    assert!((sum_conf - 112.414346577667).abs() < 1e-9, "{sum_conf}");
    assert!((sum_lift - 862.246575806742).abs() < 1e-9, "{sum_lift}");
    let rules: HashMap<(Vec<String>, String), (f64, f64, f64)> = (0..r.num_rows())
        .map(|k| {
            (
                (item_strings(&ant, k), item_strings(&cons, k)[0].clone()),
                (conf.value(k), lift.value(k), sup.value(k)),
            )
        })
        .collect();
    // mlxtend's top rules by lift: antecedent, consequent, confidence, lift, support.
    for (a, c, cf, lf, sp) in [
        (
            &["whole milk", "yogurt"][..],
            "curd",
            0.179673321234120,
            3.372303653315970,
            0.010066090493137,
        ),
        (
            &["citrus fruit", "other vegetables"],
            "root vegetables",
            0.359154929577465,
            3.295045459323103,
            0.010371123538383,
        ),
        (
            &["other vegetables", "yogurt"],
            "whipped/sour cream",
            0.234192037470726,
            3.267061969538426,
            0.010167768174886,
        ),
        (
            &["beef"],
            "root vegetables",
            0.331395348837209,
            3.040366843110031,
            0.017386883579054,
        ),
        (
            &["root vegetables"],
            "beef",
            0.159514925373134,
            3.040366843110031,
            0.017386883579054,
        ),
        (
            &["root vegetables", "tropical fruit"],
            "other vegetables",
            0.584541062801932,
            3.020999134344196,
            0.012302999491612,
        ),
    ] {
        let got = rules[&(set(a), c.to_string())];
        assert!((got.0 - cf).abs() < 1e-12, "{a:?} -> {c}: {got:?}");
        assert!((got.1 - lf).abs() < 1e-12, "{a:?} -> {c}: {got:?}");
        assert!((got.2 - sp).abs() < 1e-12, "{a:?} -> {c}: {got:?}");
    }
}
