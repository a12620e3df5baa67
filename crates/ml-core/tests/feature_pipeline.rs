//! A full feature pipeline (Imputer -> StringIndexer(keep) -> OneHotEncoder -> VectorAssembler
//! -> StandardScaler) fitted, saved, loaded, and applied to data with unseen categories.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, StringArray};
use ml_core::attributes::{categorical_slots, slot_names};
use ml_core::feature::{
    HandleInvalid, Imputer, ImputerModel, ImputerStrategy, OneHotEncoder, StandardScaler,
    StandardScalerModel, StringIndexer, StringIndexerModel, VectorAssembler,
};
use ml_core::{persist, Dataset, Estimator, ParamValue, Params, Pipeline, PipelineModel};
use ml_core::{MlError, Transformer};

const CITIES: [&str; 4] = ["Oslo", "Rome", "Lima", "Pune"];
const TERMS: [&str; 2] = [" 36 months", " 60 months"];

/// Deterministic loans-like data; `shift` changes the rows (and brings unseen categories).
fn data(n: usize, shift: usize) -> Dataset {
    let amount: Vec<Option<f64>> = (0..n)
        .map(|i| {
            let k = i + shift;
            match k % 11 {
                0 => None,
                5 => Some(f64::NAN),
                _ => Some(1000.0 + ((k * 7919) % 5000) as f64),
            }
        })
        .collect();
    let years: Vec<Option<i64>> = (0..n)
        .map(|i| {
            let k = i + shift;
            (k % 9 != 4).then_some((k % 12) as i64)
        })
        .collect();
    let city: Vec<Option<&str>> = (0..n)
        .map(|i| {
            let k = i + shift;
            match k % 13 {
                0 => None,
                12 if shift > 0 => Some("Nuuk"), // unseen in training
                _ => Some(CITIES[(k * 3) % 4]),
            }
        })
        .collect();
    let term: Vec<&str> = (0..n).map(|i| TERMS[(i + shift) % 3 / 2]).collect();
    Dataset::from_columns(vec![
        ("amount", Arc::new(Float64Array::from(amount)) as ArrayRef),
        ("years", Arc::new(Int64Array::from(years)) as ArrayRef),
        ("city", Arc::new(StringArray::from(city)) as ArrayRef),
        ("term", Arc::new(StringArray::from(term)) as ArrayRef),
    ])
    .unwrap()
}

fn pipeline() -> Pipeline {
    Pipeline::new()
        .estimator(
            "impute",
            Imputer::new(&["amount", "years"], &["amount_imp", "years_imp"])
                .with_strategy(ImputerStrategy::Median),
        )
        .estimator(
            "index",
            StringIndexer::multi(&["city", "term"], &["city_idx", "term_idx"])
                .with_handle_invalid(HandleInvalid::Keep),
        )
        .estimator(
            "onehot",
            OneHotEncoder::new(&["city_idx", "term_idx"], &["city_vec", "term_vec"]),
        )
        .transformer(
            "assemble",
            VectorAssembler::new(&["amount_imp", "years_imp", "city_vec", "term_vec"], "raw"),
        )
        .estimator(
            "scale",
            StandardScaler::new("raw", "features").with_mean(true),
        )
}

#[test]
fn fitted_pipeline_saved_and_loaded_gives_identical_output() {
    let train = data(500, 0);
    let test = data(200, 7);
    let model = pipeline().fit(&train).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("features.json");
    persist::save(&model, &path).unwrap();
    let loaded: PipelineModel = persist::load_as(&path).unwrap();

    for d in [&train, &test] {
        let a = model.transform(d).unwrap();
        let b = loaded.transform(d).unwrap();
        assert_eq!(a.batch(), b.batch(), "identical output after save/load");
        assert_eq!(a.schema(), b.schema(), "identical metadata after save/load");
    }

    // Width: 2 numerics + 4 cities (+ __unknown, dropped by drop_last) + 2 terms (same).
    let out = loaded.transform(&test).unwrap();
    assert_eq!(out.vector_size("features").unwrap(), 2 + 4 + 2);
    let field = out.field("features").unwrap();
    let names = slot_names(&field, 8);
    assert_eq!(&names[..2], &["amount_imp", "years_imp"]);
    assert!(names[2].starts_with("city_vec_"), "{names:?}");
    assert!(
        categorical_slots(&field).is_empty(),
        "scaled slots are numeric"
    );

    // The fitted stages are reachable by name with their concrete types.
    let si = loaded.stage_as::<StringIndexerModel>("index").unwrap();
    let mut cities = si.labels().to_vec();
    cities.sort();
    assert_eq!(cities, vec!["Lima", "Oslo", "Pune", "Rome"]);
    let imp = loaded.stage_as::<ImputerModel>("impute").unwrap();
    let scaler = loaded.stage_as::<StandardScalerModel>("scale").unwrap();

    // Independent check of slot 0 on the test rows: impute with the median of the training
    // column, then standardize with the training mean and unbiased std of the imputed column.
    let train_amount: Vec<Option<f64>> = train.f64_column("amount").unwrap().iter().collect();
    let mut present: Vec<f64> = train_amount
        .iter()
        .flatten()
        .copied()
        .filter(|v| !v.is_nan())
        .collect();
    present.sort_by(f64::total_cmp);
    let median = present[present.len().div_ceil(2) - 1];
    assert_eq!(imp.surrogates()[0], median);
    let imputed: Vec<f64> = train_amount
        .iter()
        .map(|v| v.filter(|x| !x.is_nan()).unwrap_or(median))
        .collect();
    let mean = imputed.iter().sum::<f64>() / imputed.len() as f64;
    let std = (imputed.iter().map(|v| (v - mean).powi(2)).sum::<f64>()
        / (imputed.len() - 1) as f64)
        .sqrt();
    assert!((scaler.mean()[0] - mean).abs() < 1e-9);
    assert!((scaler.std()[0] - std).abs() < 1e-9);
    let features = out.features("features").unwrap();
    let test_amount = test.f64_column("amount").unwrap();
    for row in 0..test.num_rows() {
        let raw = test_amount
            .iter()
            .nth(row)
            .unwrap()
            .filter(|x| !x.is_nan())
            .unwrap_or(median);
        assert!((features[[row, 0]] - (raw - mean) / std).abs() < 1e-9);
    }
}

#[test]
fn pipeline_params_are_stage_qualified_and_checked_before_fitting() {
    let mut p = pipeline();
    p.set_param(
        "index.stringOrderType",
        ParamValue::Str("alphabetAsc".into()),
    )
    .unwrap();
    let model = p.fit(&data(100, 0)).unwrap();
    let si = model.stage_as::<StringIndexerModel>("index").unwrap();
    assert_eq!(si.labels(), &["Lima", "Oslo", "Pune", "Rome"]);
    assert!(p
        .set_param("onehot.handle_invalid", ParamValue::Str("skip".into()))
        .is_err());
    // A typo in the last stage fails before the first stage is fitted.
    let bad = pipeline().transformer("oops", VectorAssembler::new(&["nope"], "x"));
    let e = bad.fit(&data(50, 0)).unwrap_err();
    assert!(
        matches!(e, MlError::ColumnNotFound { ref column, .. } if column == "nope"),
        "{e:?}"
    );
    // Unseen categories pass with keep; the encoder maps them to all zeros (drop_last).
    let model = pipeline().fit(&data(100, 0)).unwrap();
    let out = model.transform(&data(100, 7)).unwrap();
    let city = out.string_column("city").unwrap();
    let idx = out.f64_column("city_idx").unwrap();
    let row = (0..100).find(|&r| city.value(r) == "Nuuk").unwrap();
    assert_eq!(idx.value(row), 4.0);
    let v = out.features("city_vec").unwrap();
    assert!(v.row(row).iter().all(|&x| x == 0.0));
}

/// Issue 14: the pipeline fitted over a stream of batches (from memory or from a Parquet file,
/// any batch size) is the in-memory fit, byte for byte, and a model applied to a stream and
/// written to Parquet gives the in-memory transform.
#[test]
fn pipeline_fitted_from_a_stream_of_batches_equals_the_in_memory_fit() {
    use ml_core::stream::{write_parquet_source, BatchSource, MemorySource, ParquetSource};
    // 120,000 rows: the median's sketch merges its buffer twice and is approximate here.
    let train = data(120_000, 0);
    let whole = pipeline().fit(&train).unwrap();
    let whole_json = persist::to_json(&whole).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pq = dir.path().join("train.parquet");
    ml_core::io::write_parquet(&train, &pq).unwrap();
    for rows in [65_536, 1_000, 7_777] {
        let mem = MemorySource::from_dataset(&train, rows).unwrap();
        let streamed = pipeline().fit_source(&mem).unwrap();
        assert_eq!(
            persist::to_json(&streamed).unwrap(),
            whole_json,
            "batches of {rows}"
        );
        let file = ParquetSource::new(&pq)
            .with_options(ml_core::io::ParquetReadOptions::new().batch_size(rows));
        let from_file = pipeline().fit_source(&file).unwrap();
        assert_eq!(
            persist::to_json(&from_file).unwrap(),
            whole_json,
            "Parquet, batches of {rows}"
        );
        // With the stages applied one batch ahead, on a thread of their own: the same model.
        let shared = pipeline().fit_shared_source(Arc::new(file)).unwrap();
        assert_eq!(
            persist::to_json(&shared).unwrap(),
            whole_json,
            "Parquet read ahead, batches of {rows}"
        );
    }
    // Transform as a stream, written with bounded memory: the same rows as transform().
    let test = data(20_000, 7);
    let out = dir.path().join("scored.parquet");
    let source = Arc::new(MemorySource::from_dataset(&test, 4096).unwrap());
    let written = write_parquet_source(&whole.transform_source(source), &out).unwrap();
    assert_eq!(written, 20_000);
    let back = ml_core::io::read_parquet(&out).unwrap();
    assert_eq!(back.batch(), whole.transform(&test).unwrap().batch());
    // The stages before the last one applied one batch ahead: the same batches.
    let source = Arc::new(MemorySource::from_dataset(&test, 4096).unwrap());
    let ahead = whole.transform_source_ahead(source);
    let batches: Vec<_> = ahead.open().unwrap().map(|b| b.unwrap()).collect();
    assert_eq!(batches.len(), 5);
    let same = arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap();
    assert_eq!(same, *whole.transform(&test).unwrap().batch());
}
