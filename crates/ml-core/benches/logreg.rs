//! LogisticRegression fit: 20 iterations of OWL-QN (elastic net) and L-BFGS (L2) on dense data.
//!
//! `cargo bench -p ml-core --bench logreg`. The side-by-side comparison with Spark and
//! scikit-learn on 50k x 2048 is `scripts/bench_logreg.sh` (figures in `benches/logreg.md`).

use std::hint::black_box;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array};
use criterion::{criterion_group, criterion_main, Criterion};
use ml_core::dataset::{unit_uniform, vector_column_from_vec};
use ml_core::linear::LogisticRegression;
use ml_core::{Dataset, Estimator};

/// Dense rows with a planted linear signal; labels drawn from the logistic model.
fn data(n: usize, p: usize) -> Dataset {
    let mut x = Vec::with_capacity(n * p);
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        let mut z = 0.0;
        for j in 0..p {
            let v = unit_uniform(1, (i * p + j) as u64) * 2.0 - 1.0;
            if j % 8 == 0 {
                z += v;
            }
            x.push(v);
        }
        let prob = 1.0 / (1.0 + (-z).exp());
        y.push(if unit_uniform(2, i as u64) < prob {
            1.0
        } else {
            0.0
        });
    }
    Dataset::from_columns(vec![
        ("features", vector_column_from_vec(x, n, p)),
        ("label", Arc::new(Float64Array::from(y)) as ArrayRef),
    ])
    .unwrap()
}

fn bench(c: &mut Criterion) {
    let ds = data(10_000, 512);
    let mut g = c.benchmark_group("logreg_10000x512_20iter");
    g.sample_size(10);
    for threads in [1, 2] {
        let enet = LogisticRegression::new()
            .with_max_iter(20)
            .with_reg_param(0.05)
            .with_elastic_net_param(0.3)
            .with_n_threads(threads);
        g.bench_function(format!("owlqn_enet_{threads}t"), |b| {
            b.iter(|| black_box(enet.fit(&ds).unwrap()))
        });
        let l2 = enet.clone().with_elastic_net_param(0.0);
        g.bench_function(format!("lbfgs_l2_{threads}t"), |b| {
            b.iter(|| black_box(l2.fit(&ds).unwrap()))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
