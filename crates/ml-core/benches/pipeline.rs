//! Full feature pipeline (Imputer -> StringIndexer(keep) -> OneHotEncoder -> VectorAssembler ->
//! StandardScaler) on a deterministic generated dataset: 200,000 rows, 5 numeric columns (5 %
//! null, 1 % NaN) and 4 string columns with 3, 8, 20 and 50 skewed categories (2 % null);
//! 86 output features.
//!
//! ```bash
//! cargo bench -p ml-core --bench pipeline
//! ```

use std::hint::black_box;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, StringArray};
use criterion::{criterion_group, criterion_main, Criterion};
use ml_core::dataset::unit_uniform;
use ml_core::feature::{
    HandleInvalid, Imputer, ImputerStrategy, OneHotEncoder, StandardScaler, StringIndexer,
    VectorAssembler,
};
use ml_core::{Dataset, Estimator, Pipeline, Transformer};

const ROWS: usize = 200_000;
const NUMERIC: [&str; 5] = ["n0", "n1", "n2", "n3", "n4"];
const STRINGS: [(&str, usize); 4] = [("s0", 3), ("s1", 8), ("s2", 20), ("s3", 50)];

fn generate(rows: usize) -> Dataset {
    let mut cols: Vec<(&str, ArrayRef)> = Vec::new();
    for (k, name) in NUMERIC.iter().enumerate() {
        let seed = 100 + k as u64;
        let v: Float64Array = (0..rows as u64)
            .map(|i| {
                let u = unit_uniform(seed, i);
                if u < 0.05 {
                    None
                } else if u < 0.06 {
                    Some(f64::NAN)
                } else {
                    Some(1000.0 * unit_uniform(seed + 50, i) * (k + 1) as f64)
                }
            })
            .collect();
        cols.push((name, Arc::new(v) as ArrayRef));
    }
    for (k, (name, cats)) in STRINGS.iter().enumerate() {
        let labels: Vec<String> = (0..*cats).map(|c| format!("{name}_cat_{c:03}")).collect();
        let seed = 200 + k as u64;
        let v: StringArray = (0..rows as u64)
            .map(|i| {
                let u = unit_uniform(seed, i);
                if u < 0.02 {
                    None
                } else {
                    let w = unit_uniform(seed + 50, i);
                    Some(labels[((w * w) * *cats as f64) as usize].as_str())
                }
            })
            .collect();
        cols.push((name, Arc::new(v) as ArrayRef));
    }
    Dataset::from_columns(cols).unwrap()
}

fn r(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn pipeline() -> Pipeline {
    let imp: Vec<String> = NUMERIC.iter().map(|c| format!("{c}_imp")).collect();
    let strs: Vec<&str> = STRINGS.iter().map(|(c, _)| *c).collect();
    let idx: Vec<String> = strs.iter().map(|c| format!("{c}_idx")).collect();
    let vecs: Vec<String> = strs.iter().map(|c| format!("{c}_vec")).collect();
    let assembled: Vec<&str> = r(&imp).into_iter().chain(r(&vecs)).collect();
    Pipeline::new()
        .estimator(
            "impute",
            Imputer::new(&NUMERIC, &r(&imp)).with_strategy(ImputerStrategy::Median),
        )
        .estimator(
            "index",
            StringIndexer::multi(&strs, &r(&idx)).with_handle_invalid(HandleInvalid::Keep),
        )
        .estimator("onehot", OneHotEncoder::new(&r(&idx), &r(&vecs)))
        .transformer("assemble", VectorAssembler::new(&assembled, "raw"))
        .estimator(
            "scale",
            StandardScaler::new("raw", "features").with_mean(true),
        )
}

fn bench_pipeline(c: &mut Criterion) {
    let data = generate(ROWS);
    let model = pipeline().fit(&data).unwrap();
    assert_eq!(
        model
            .transform(&data)
            .unwrap()
            .vector_size("features")
            .unwrap(),
        86
    );
    let mut g = c.benchmark_group("feature_pipeline_200k");
    g.sample_size(10);
    g.bench_function("fit", |b| {
        b.iter(|| black_box(pipeline().fit(&data).unwrap()))
    });
    g.bench_function("transform", |b| {
        b.iter(|| black_box(model.transform(&data).unwrap()))
    });
    g.bench_function("fit_transform", |b| {
        b.iter(|| {
            let m = pipeline().fit(&data).unwrap();
            black_box(m.transform(&data).unwrap())
        })
    });
    g.finish();
}

criterion_group!(benches, bench_pipeline);
criterion_main!(benches);
