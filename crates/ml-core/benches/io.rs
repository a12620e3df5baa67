//! CSV -> Dataset and Parquet -> Dataset on a deterministic generated table of 1,000,000 rows
//! and 10 mixed columns (int64 id, small int, 4 floats one with 5 % nulls, boolean, two string
//! categories, a date string), written into a temporary directory by the bench itself
//! (CSV about 90 MB, Snappy Parquet). Also writes, for reference, both formats once.
//!
//! ```bash
//! cargo bench -p ml-core --bench io
//! # optionally also time one read of an existing CSV file (e.g. the peers' clicks.csv):
//! ML_IO_BENCH_CSV=~/.cache/ml-peers/data/medium/clicks.csv cargo bench -p ml-core --bench io
//! ```

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{ArrayRef, BooleanArray, Float64Array, Int64Array, StringArray};
use criterion::{criterion_group, criterion_main, Criterion};
use ml_core::dataset::unit_uniform;
use ml_core::io::{read_csv, read_parquet, write_csv, write_parquet, CsvReadOptions};
use ml_core::Dataset;

const ROWS: usize = 1_000_000;
const CITIES: [&str; 8] = [
    "Paris", "Berlin", "Madrid", "Rome", "Lisbon", "Vienna", "Prague", "Oslo, NO",
];

fn generate(rows: usize) -> Dataset {
    let n = rows as u64;
    let id: Int64Array = (0..n).map(|i| (i * 7919 + 13) as i64).collect();
    let small: Int64Array = (0..n)
        .map(|i| (unit_uniform(1, i) * 100.0) as i64)
        .collect();
    let mut floats: Vec<(&str, ArrayRef)> = Vec::new();
    for (k, name) in ["f0", "f1", "f2"].iter().enumerate() {
        let seed = 10 + k as u64;
        let a: Float64Array = (0..n)
            .map(|i| (unit_uniform(seed, i) - 0.5) * 10f64.powi(k as i32 + 1))
            .collect();
        floats.push((name, Arc::new(a)));
    }
    let sparse: Float64Array = (0..n)
        .map(|i| {
            let u = unit_uniform(20, i);
            (u >= 0.05).then(|| (u * 1e4).round() / 100.0)
        })
        .collect();
    let flag: BooleanArray = (0..n).map(|i| Some(unit_uniform(30, i) < 0.3)).collect();
    let city: StringArray = (0..n)
        .map(|i| Some(CITIES[(unit_uniform(40, i) * 8.0) as usize]))
        .collect();
    let code: StringArray = (0..n)
        .map(|i| Some(format!("{:08x}", (unit_uniform(50, i) * 4e9) as u64)))
        .collect();
    let date: StringArray = (0..n)
        .map(|i| {
            Some(format!(
                "2020-{:02}-{:02}",
                1 + (unit_uniform(60, i) * 12.0) as u32,
                1 + (unit_uniform(61, i) * 28.0) as u32
            ))
        })
        .collect();
    let mut cols: Vec<(&str, ArrayRef)> = vec![("id", Arc::new(id)), ("small", Arc::new(small))];
    cols.extend(floats);
    cols.push(("sparse", Arc::new(sparse)));
    cols.push(("flag", Arc::new(flag)));
    cols.push(("city", Arc::new(city)));
    cols.push(("code", Arc::new(code)));
    cols.push(("date", Arc::new(date)));
    Dataset::from_columns(cols).expect("generated columns have equal lengths")
}

fn bench_io(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let csv = dir.path().join("bench.csv");
    let pq = dir.path().join("bench.parquet");
    let data = generate(ROWS);

    let t = Instant::now();
    write_csv(&data, &csv).expect("write csv");
    let csv_write = t.elapsed();
    let t = Instant::now();
    write_parquet(&data, &pq).expect("write parquet");
    let pq_write = t.elapsed();
    let size = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    eprintln!(
        "generated {ROWS} rows x {} columns: CSV {:.1} MB written in {:.2} s, Parquet {:.1} MB written in {:.2} s",
        data.num_columns(),
        size(&csv) as f64 / 1e6,
        csv_write.as_secs_f64(),
        size(&pq) as f64 / 1e6,
        pq_write.as_secs_f64()
    );
    // The CSV reads back to the generated values.
    let back = read_csv(&csv, &CsvReadOptions::default()).expect("read csv");
    assert_eq!(back.batch().columns(), data.batch().columns());

    let mut group = c.benchmark_group("io_1m_rows_10_cols");
    group.sample_size(10);
    group.bench_function("read_csv_infer_1000", |b| {
        b.iter(|| black_box(read_csv(&csv, &CsvReadOptions::default()).expect("read csv")))
    });
    let schema = back.schema();
    group.bench_function("read_csv_explicit_schema", |b| {
        let opts = CsvReadOptions::default().schema(schema.clone());
        b.iter(|| black_box(read_csv(&csv, &opts).expect("read csv")))
    });
    group.bench_function("read_parquet", |b| {
        b.iter(|| black_box(read_parquet(&pq).expect("read parquet")))
    });
    group.finish();

    if let Ok(path) = std::env::var("ML_IO_BENCH_CSV") {
        let t = Instant::now();
        let ds = read_csv(&path, &CsvReadOptions::default()).expect("read ML_IO_BENCH_CSV");
        eprintln!(
            "read_csv({path}): {} rows x {} columns in {:.3} s",
            ds.num_rows(),
            ds.num_columns(),
            t.elapsed().as_secs_f64()
        );
    }
}

criterion_group!(benches, bench_io);
criterion_main!(benches);
