//! Criterion benchmark of FP-growth on synthetic Instacart-like baskets (Zipf item popularity,
//! planted co-occurring groups), single-threaded and with all cores.
use std::sync::Arc;

use arrow::array::{ArrayRef, ListArray};
use arrow::datatypes::Int64Type;
use criterion::{criterion_group, criterion_main, Criterion};
use ml_core::{Dataset, Estimator};
use ml_fpm::FPGrowth;

fn baskets(n: usize, seed: u64) -> Dataset {
    let mut state = seed | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let n_items = 5000.0f64;
    let rows = (0..n).map(|_| {
        let len = 1 + (next() * 15.0) as usize;
        let mut b: Vec<i64> = Vec::new();
        if next() < 0.3 {
            let g = (next() * 50.0) as i64;
            b.extend([10_000 + 3 * g, 10_001 + 3 * g, 10_002 + 3 * g]);
        }
        while b.len() < len {
            // Inverse-CDF sample of a Zipf-like (power 0.75) popularity.
            let x = (next() * n_items.powf(0.25)).powf(4.0) as i64;
            if !b.contains(&x) {
                b.push(x);
            }
        }
        Some(b.into_iter().map(Some).collect::<Vec<_>>())
    });
    let arr = ListArray::from_iter_primitive::<Int64Type, _, _>(rows);
    Dataset::from_columns(vec![("items", Arc::new(arr) as ArrayRef)]).unwrap()
}

fn bench(c: &mut Criterion) {
    let data = baskets(100_000, 42);
    let mut g = c.benchmark_group("fpgrowth_100k_baskets");
    g.sample_size(10);
    for threads in [1usize, 2] {
        let fp = FPGrowth::new()
            .with_min_support(0.001)
            .with_min_confidence(0.0)
            .with_n_threads(threads);
        g.bench_function(format!("fit_minsupp_0.001_threads_{threads}"), |b| {
            b.iter(|| fp.fit(&data).unwrap())
        });
    }
    let model = FPGrowth::new()
        .with_min_support(0.001)
        .with_min_confidence(0.0)
        .fit(&data)
        .unwrap();
    g.bench_function("association_rules_minconf_0", |b| {
        b.iter(|| {
            let m = model.clone();
            m.association_rules().unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
