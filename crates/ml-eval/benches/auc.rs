//! ROC AUC on 10M scores (continuous, and rounded to 3 decimals for heavy ties).
//!
//! `cargo bench -p ml-eval --bench auc`; the scikit-learn side is `benches/sklearn_auc.py`
//! (same vectors, rebuilt from the same SplitMix64 draws). Figures: `benches/eval.md`.

use criterion::{criterion_group, criterion_main, Criterion};
use ml_core::dataset::unit_uniform;
use ml_eval::metrics::{pr_auc, roc_auc};
use std::hint::black_box;

const N: u64 = 10_000_000;

/// label_i = [v_i < 0.2 + 0.6 u_i], score_i = u_i, with u_i = unit_uniform(1, i) and
/// v_i = unit_uniform(2, i).
fn data(round: bool) -> (Vec<f64>, Vec<f64>) {
    let mut s = Vec::with_capacity(N as usize);
    let mut y = Vec::with_capacity(N as usize);
    for i in 0..N {
        let u = unit_uniform(1, i);
        let v = unit_uniform(2, i);
        y.push(if v < 0.2 + 0.6 * u { 1.0 } else { 0.0 });
        s.push(if round {
            (u * 1000.0).round() / 1000.0
        } else {
            u
        });
    }
    (s, y)
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("auc_10m");
    g.sample_size(10);
    for (name, round) in [("continuous", false), ("ties_3dp", true)] {
        let (s, y) = data(round);
        eprintln!(
            "{name}: roc_auc = {:.15}",
            roc_auc(&s, &y, None).expect("auc")
        );
        g.bench_function(format!("roc_auc_{name}"), |b| {
            b.iter(|| roc_auc(black_box(&s), black_box(&y), None).expect("auc"))
        });
    }
    let (s, y) = data(false);
    let w: Vec<f64> = (0..N).map(|i| 0.5 + unit_uniform(3, i)).collect();
    g.bench_function("roc_auc_continuous_weighted", |b| {
        b.iter(|| roc_auc(black_box(&s), black_box(&y), Some(&w)).expect("auc"))
    });
    g.bench_function("pr_auc_continuous", |b| {
        b.iter(|| pr_auc(black_box(&s), black_box(&y), None).expect("auc"))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
