//! One-row scoring of a loan-like pipeline (Imputer(median) -> StringIndexer(keep) ->
//! OneHotEncoder(keep) -> VectorAssembler -> StandardScaler -> boosted trees, 13 numeric and 5
//! string columns with 7, 5, 14, 50 and 3 categories, 10 rounds of depth-7 trees, as the tuned
//! loan_risk model) through the compiled row scorer, beside `transform` of a one-row dataset,
//! and the TreeSHAP reasons of one row.
//!
//! ```bash
//! cargo bench -p ml-tree --bench row_scoring
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
use ml_core::params::{ParamValue, Params};
use ml_core::row::{Row, RowScorer};
use ml_core::{Dataset, Estimator, Pipeline, PipelineModel, Transformer};
use ml_tree::GradientBoostedTrees;

const ROWS: usize = 20_000;
const NUMERIC: usize = 13;
const STRINGS: [(&str, usize); 5] = [
    ("grade", 7),
    ("home_ownership", 5),
    ("purpose", 14),
    ("addr_state", 50),
    ("verification_status", 3),
];

fn generate() -> Dataset {
    let mut cols: Vec<(String, ArrayRef)> = Vec::new();
    for k in 0..NUMERIC {
        let seed = 10 + k as u64;
        let v: Float64Array = (0..ROWS as u64)
            .map(|i| {
                let u = unit_uniform(seed, i);
                (u >= 0.03).then(|| 100.0 * unit_uniform(seed + 50, i) * (k + 1) as f64)
            })
            .collect();
        cols.push((format!("n{k}"), Arc::new(v)));
    }
    for (k, (name, card)) in STRINGS.iter().enumerate() {
        let seed = 200 + k as u64;
        let v: StringArray = (0..ROWS as u64)
            .map(|i| {
                let u = unit_uniform(seed, i);
                Some(format!("{name}_{}", ((u * u) * *card as f64) as usize))
            })
            .collect();
        cols.push((name.to_string(), Arc::new(v)));
    }
    let label: Float64Array = (0..ROWS as u64)
        .map(|i| {
            let a = unit_uniform(10, i) + unit_uniform(203, i) * 0.5;
            Some(f64::from(a + 0.3 * unit_uniform(999, i) > 0.9))
        })
        .collect();
    cols.push(("bad_loan".into(), Arc::new(label)));
    Dataset::from_columns(cols.iter().map(|(n, c)| (n.as_str(), c.clone())).collect()).unwrap()
}

fn fit(data: &Dataset) -> PipelineModel {
    let nums: Vec<String> = (0..NUMERIC).map(|k| format!("n{k}")).collect();
    let imp: Vec<String> = nums.iter().map(|c| format!("{c}_imp")).collect();
    let cats: Vec<&str> = STRINGS.iter().map(|s| s.0).collect();
    let idx: Vec<String> = cats.iter().map(|c| format!("{c}_idx")).collect();
    let ohe: Vec<String> = cats.iter().map(|c| format!("{c}_ohe")).collect();
    fn r(v: &[String]) -> Vec<&str> {
        v.iter().map(String::as_str).collect()
    }
    let assembled: Vec<&str> = r(&ohe).into_iter().chain(r(&imp)).collect();
    let mut gbt = GradientBoostedTrees::new();
    gbt.label_col = "bad_loan".into();
    gbt.num_round = 10;
    gbt.max_depth = 7;
    Pipeline::new()
        .estimator(
            "impute",
            Imputer::new(&r(&nums), &r(&imp)).with_strategy(ImputerStrategy::Median),
        )
        .estimator(
            "index",
            StringIndexer::multi(&cats, &r(&idx)).with_handle_invalid(HandleInvalid::Keep),
        )
        .estimator(
            "onehot",
            OneHotEncoder::new(&r(&idx), &r(&ohe)).with_handle_invalid(HandleInvalid::Keep),
        )
        .transformer("assemble", VectorAssembler::new(&assembled, "raw"))
        .estimator(
            "scale",
            StandardScaler::new("raw", "features")
                .with_mean(true)
                .with_std(true),
        )
        .estimator("trees", gbt)
        .fit(data)
        .unwrap()
}

fn bench(c: &mut Criterion) {
    let data = generate();
    let model = fit(&data);
    let inputs = data.drop_columns(&["bad_loan"]).unwrap();
    let rows: Vec<Row> = (0..256)
        .map(|i| Row::from_dataset(&inputs, i).unwrap())
        .collect();
    let scorer = RowScorer::compile(&model, &["probability", "prediction"]).unwrap();
    let mut g = c.benchmark_group("one_row");
    let mut i = 0;
    g.bench_function("row_scorer", |b| {
        b.iter(|| {
            i = (i + 1) % rows.len();
            black_box(scorer.score(&rows[i]).unwrap())
        })
    });
    let ones: Vec<Dataset> = (0..256).map(|i| inputs.slice(i, 1)).collect();
    g.bench_function("transform_one_row_dataset", |b| {
        b.iter(|| {
            i = (i + 1) % ones.len();
            black_box(model.transform(&ones[i]).unwrap())
        })
    });
    let mut explained = model.clone();
    explained
        .set_param(
            "trees.contrib_prediction_col",
            ParamValue::Str("contributions".into()),
        )
        .unwrap();
    let shap = RowScorer::compile(&explained, &["probability", "contributions"]).unwrap();
    g.bench_function("row_scorer_with_treeshap", |b| {
        b.iter(|| {
            i = (i + 1) % rows.len();
            black_box(shap.score(&rows[i]).unwrap())
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
