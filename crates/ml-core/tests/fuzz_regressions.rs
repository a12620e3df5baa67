//! Replays, on stable, what the fuzz targets in `fuzz/` run (`ml_core::testing::fuzz`) on
//! their seed corpora (`fuzz/seeds/<target>`) and on every input that once made a target
//! fail (`fuzz/regressions/<target>`, one file per fixed crash).

use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, StringArray};
use ml_core::feature::{
    Bucketizer, HandleInvalid, Imputer, ImputerStrategy, IndexToString, OneHotEncoder,
    StandardScaler, StringIndexer, VectorAssembler,
};
use ml_core::linear::{Family, LogisticRegression};
use ml_core::testing::fuzz::{
    csv_bytes, fuzz_dir, model_bytes, parquet_bytes, parquet_dir_bytes, replay,
};
use ml_core::{persist, Dataset, Estimator, Pipeline, Transformer};

#[test]
fn csv_read_inputs_replay_without_a_panic() {
    assert!(replay("csv_read", csv_bytes) >= 8);
}

#[test]
fn model_load_inputs_replay_without_a_panic() {
    assert!(replay("model_load", model_bytes) >= 8);
}

#[test]
fn parquet_read_inputs_replay_without_a_panic() {
    assert!(replay("parquet_read", parquet_bytes) >= 4);
}

#[test]
fn parquet_dir_inputs_replay_without_a_panic() {
    assert!(replay("parquet_dir", parquet_dir_bytes) >= 4);
}

/// Writes the part-file directory seeds from the Parquet seeds (run `write_parquet_seeds`
/// first): a flag byte (see `parquet_dir_bytes`) and one to three whole files concatenated,
/// which the target splits at `PAR1PAR1`. Refreshed with `--ignored`.
#[test]
#[ignore]
fn write_parquet_dir_seeds() {
    let src = fuzz_dir().join("seeds/parquet_read");
    let file = |name: &str| std::fs::read(src.join(name)).unwrap();
    let dir = fuzz_dir().join("seeds/parquet_dir");
    std::fs::create_dir_all(&dir).unwrap();
    let seeds: [(&str, u8, Vec<Vec<u8>>); 5] = [
        ("one_part_success", 0x01, vec![file("scalars.parquet")]),
        (
            "two_parts_crc",
            0x13,
            vec![file("scalars.parquet"), file("scalars.parquet")],
        ),
        (
            "three_parts_hive",
            0x25,
            vec![
                file("scalars.parquet"),
                file("empty.parquet"),
                file("scalars.parquet"),
            ],
        ),
        (
            "schemas_differ",
            0x19,
            vec![file("scalars.parquet"), file("vectors.parquet")],
        ),
        (
            "spark_parts",
            0x17,
            vec![file("spark_part.parquet"), file("spark_part.parquet")],
        ),
    ];
    for (name, flags, parts) in seeds {
        let mut bytes = vec![flags];
        for p in parts {
            bytes.extend_from_slice(&p);
        }
        std::fs::write(dir.join(name), &bytes).unwrap();
        parquet_dir_bytes(&bytes);
    }
}

/// Writes the Parquet seeds: small files of every column type the readers decode (with
/// nulls, a vector column with ML attributes, a Spark part file). Refreshed with `--ignored`.
#[test]
#[ignore]
fn write_parquet_seeds() {
    use arrow::array::{BooleanArray, Int64Array};
    let dir = fuzz_dir().join("seeds/parquet_read");
    std::fs::create_dir_all(&dir).unwrap();
    let scalars = Dataset::from_columns(vec![
        (
            "id",
            Arc::new(Int64Array::from(vec![Some(1), None, Some(-3), Some(4)])) as ArrayRef,
        ),
        (
            "x",
            Arc::new(Float64Array::from(vec![
                Some(0.5),
                Some(f64::NAN),
                None,
                Some(1e300),
            ])),
        ),
        (
            "name",
            Arc::new(StringArray::from(vec![
                Some("a"),
                None,
                Some(""),
                Some("Doe, Jane"),
            ])),
        ),
        (
            "ok",
            Arc::new(BooleanArray::from(vec![
                Some(true),
                Some(false),
                None,
                Some(true),
            ])),
        ),
    ])
    .unwrap();
    ml_core::io::write_parquet(&scalars, dir.join("scalars.parquet")).unwrap();
    let model = fitted();
    let out = model.transform(&scalars_for_pipeline()).unwrap();
    let features = out.select(&["features", "label"]).unwrap().clone();
    ml_core::io::write_parquet(&features, dir.join("vectors.parquet")).unwrap();
    let empty = scalars.slice(0, 0);
    ml_core::io::write_parquet(&empty, dir.join("empty.parquet")).unwrap();
    let spark = Path::new(env!("CARGO_MANIFEST_DIR")).join(
        "tests/data/spark_parts/year=2021/region=eu/part-00000-865c49f0-d9f7-44e3-a25e-595c6c550ef4.c000.snappy.parquet",
    );
    std::fs::copy(spark, dir.join("spark_part.parquet")).unwrap();
    for f in std::fs::read_dir(&dir).unwrap() {
        parquet_bytes(&std::fs::read(f.unwrap().path()).unwrap());
    }
}

/// A fitted pipeline of every ml-core stage kind.
fn fitted() -> ml_core::PipelineModel {
    pipeline().fit(&scalars_for_pipeline()).unwrap()
}

/// The rows [`fitted`] is fitted on.
fn scalars_for_pipeline() -> Dataset {
    Dataset::from_columns(vec![
        (
            "amount",
            Arc::new(Float64Array::from(vec![
                Some(1.0),
                None,
                Some(4.0),
                Some(9.0),
                Some(2.0),
                Some(7.0),
            ])) as ArrayRef,
        ),
        (
            "city",
            Arc::new(StringArray::from(vec![
                "Oslo", "Rome", "Oslo", "Lima", "Rome", "Oslo",
            ])),
        ),
        (
            "label",
            Arc::new(Float64Array::from(vec![0.0, 1.0, 2.0, 0.0, 1.0, 2.0])),
        ),
    ])
    .unwrap()
}

fn pipeline() -> Pipeline {
    Pipeline::new()
        .estimator(
            "impute",
            Imputer::single("amount", "amount_f").with_strategy(ImputerStrategy::Median),
        )
        .transformer(
            "bucket",
            Bucketizer::new(
                "amount_f",
                "amount_b",
                vec![f64::NEG_INFINITY, 3.0, f64::INFINITY],
            ),
        )
        .estimator(
            "index",
            StringIndexer::new("city", "city_idx").with_handle_invalid(HandleInvalid::Keep),
        )
        .transformer("back", IndexToString::new("city_idx", "city_again"))
        .estimator("onehot", OneHotEncoder::new(&["city_idx"], &["city_vec"]))
        .transformer(
            "assemble",
            VectorAssembler::new(&["amount_f", "amount_b", "city_vec"], "raw"),
        )
        .estimator("scale", StandardScaler::new("raw", "features"))
        .estimator(
            "lr",
            LogisticRegression::new()
                .with_family(Family::Multinomial)
                .with_max_iter(3),
        )
}

/// Writes the model seeds: the pipeline and each of its stages, in format version 2 and, so
/// that mutations reach the model itself rather than stop at the checksum, in version 1.
/// `cargo test -p ml-core --test fuzz_regressions -- --ignored` refreshes them.
#[test]
#[ignore]
fn write_model_seeds() {
    let dir = fuzz_dir().join("seeds/model_load");
    std::fs::create_dir_all(&dir).unwrap();
    let model = fitted();
    let mut docs = vec![("pipeline".to_string(), persist::to_json(&model).unwrap())];
    for (name, stage) in model.stages() {
        docs.push((name.clone(), persist::to_json(stage.as_ref()).unwrap()));
    }
    for (name, v2) in docs {
        let doc: serde_json::Value = serde_json::from_str(&v2).unwrap();
        let v1 = serde_json::json!({"format": "ml-model", "version": 1, "model": doc["model"]});
        std::fs::write(dir.join(format!("{name}.v2.json")), &v2).unwrap();
        std::fs::write(dir.join(format!("{name}.v1.json")), v1.to_string()).unwrap();
        model_bytes(v2.as_bytes());
    }
}

/// Found by `parquet_read`: a file whose embedded Arrow schema holds a field of type NONE made
/// arrow-ipc panic (`not implemented`) inside the metadata decoding; it is now an error naming
/// the file.
#[test]
fn an_arrow_schema_the_decoder_panics_on_is_a_parquet_error() {
    let path = fuzz_dir().join("regressions/parquet_read/arrow_schema_type_none");
    match ml_core::io::read_parquet(&path).unwrap_err() {
        ml_core::MlError::Parquet { path: p, message } => {
            assert_eq!(p, path);
            assert!(
                message
                    .contains("the file is corrupt (the Parquet decoder failed: not implemented"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
}
