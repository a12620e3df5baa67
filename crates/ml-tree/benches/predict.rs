//! Batch prediction of a model with categorical splits, as the ad-click model has them: 10
//! rounds of depth-10 trees on 200,000 rows of 12 numeric features and 2 categorical ones (28
//! and 38 categories, as `site_category` and `app_category` indexed), margins of 100,000 rows
//! on 2 threads. The same trees are scored twice: as trained (the branch-free tabled walk), and
//! with every category set widened past the tabled walk's limit, which sends them to the
//! general walk; no row has a code past the real categories, so both give the same margins
//! (checked before timing).
//!
//! ```bash
//! cargo bench -p ml-tree --bench predict
//! ```

use std::hint::black_box;

use arrow::array::{ArrayRef, Float64Array};
use arrow::datatypes::{DataType, Field};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ml_core::attributes::{with_vector_attributes, Attribute};
use ml_core::dataset::{unit_uniform, vector_column_from_vec, vector_type};
use ml_core::{Dataset, Estimator};
use ml_tree::{GradientBoostedTrees, GradientBoostedTreesModel};
use ndarray::Array2;
use std::sync::Arc;

const NUMERIC: usize = 12;
const CATEGORIES: [usize; 2] = [28, 38];

/// `n` rows: integer-valued numeric features of a few hundred values, two category codes, and
/// a label depending on both.
fn rows(n: usize, seed: u64) -> (Vec<f64>, Vec<f64>) {
    let d = NUMERIC + CATEGORIES.len();
    let (mut x, mut y) = (Vec::with_capacity(n * d), Vec::with_capacity(n));
    for i in 0..n as u64 {
        let u = |k: u64| unit_uniform(seed + k, i);
        let mut z = 0.0;
        for k in 0..NUMERIC as u64 {
            let v = (u(k) * u(k) * 300.0).floor();
            z += (v / 300.0 - 0.3) * if k % 2 == 0 { 1.0 } else { -0.7 };
            x.push(v);
        }
        for (j, &card) in CATEGORIES.iter().enumerate() {
            let c = (u(50 + j as u64).powi(2) * card as f64).floor();
            z += ((c as usize * 7 + j) % 5) as f64 * 0.4 - 0.8;
            x.push(c);
        }
        y.push((u(99) < 1.0 / (1.0 + (-z).exp())) as u8 as f64);
    }
    (x, y)
}

fn dataset(n: usize) -> Dataset {
    let d = NUMERIC + CATEGORIES.len();
    let (x, y) = rows(n, 1);
    let mut attrs: Vec<Attribute> = (0..NUMERIC)
        .map(|k| Attribute::numeric(format!("n{k}")))
        .collect();
    for (j, &card) in CATEGORIES.iter().enumerate() {
        attrs.push(Attribute::Nominal {
            name: Some(format!("c{j}")),
            num_values: card,
            values: None,
        });
    }
    let field = with_vector_attributes(Field::new("features", vector_type(d), false), &attrs);
    Dataset::from_fields(
        vec![field, Field::new("label", DataType::Float64, false)],
        vec![
            vector_column_from_vec(x, n, d),
            Arc::new(Float64Array::from(y)) as ArrayRef,
        ],
    )
    .expect("a valid dataset")
}

/// The model with each category set widened to `width` categories (same members).
fn widened(m: &GradientBoostedTreesModel, width: usize) -> GradientBoostedTreesModel {
    let mut w = m.clone();
    for t in &mut w.trees {
        for set in &mut t.categories {
            set.num_categories = width as u32;
            set.bits.resize(width.div_ceil(64), 0);
        }
    }
    w
}

fn bench(c: &mut Criterion) {
    let mut gbt = GradientBoostedTrees::new();
    gbt.num_round = 10;
    gbt.max_depth = 10;
    let model = gbt.fit(&dataset(200_000)).expect("training");
    let splits = model
        .trees
        .iter()
        .flat_map(|t| &t.nodes)
        .filter(|n| n.category_split.is_some())
        .count();
    assert!(splits > 0, "the model has categorical splits");
    let general = widened(&model, 4096);
    let n = 100_000;
    let d = NUMERIC + CATEGORIES.len();
    let x = Array2::from_shape_vec((n, d), rows(n, 7).0).expect("rows");
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .expect("a pool");
    let (a, b) = pool.install(|| {
        (
            model.predict_margins(x.view()).expect("margins"),
            general.predict_margins(x.view()).expect("margins"),
        )
    });
    assert!(a == b, "both walks give the same margins");
    let mut g = c.benchmark_group("predict_categorical");
    g.sample_size(20);
    g.throughput(Throughput::Elements(n as u64));
    for (name, m) in [("tabled_walk", &model), ("general_walk", &general)] {
        g.bench_function(name, |bch| {
            bch.iter(|| pool.install(|| black_box(m.predict_margins(x.view()).expect("margins"))))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
