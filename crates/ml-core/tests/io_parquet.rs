//! Parquet reading and writing: round trips, Spark-written directories, bad files.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanArray, Float64Array, Int64Array, StringArray};
use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;
use ml_core::attributes::{
    attribute_of, vector_attributes, with_attribute, with_vector_attributes, Attribute,
};
use ml_core::dataset::vector_column_from_vec;
use ml_core::io::{parquet_batches, read_parquet, write_parquet};
use ml_core::{Dataset, MlError};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn pq_err(err: MlError) -> (PathBuf, String) {
    match err {
        MlError::Parquet { path, message } => (path, message),
        other => panic!("expected MlError::Parquet, got {other:?}"),
    }
}

fn sample(offset: i64, rows: usize) -> Dataset {
    let ids: Vec<i64> = (0..rows as i64).map(|i| i + offset).collect();
    let x: Vec<Option<f64>> = ids
        .iter()
        .map(|&i| {
            if i % 7 == 3 {
                None
            } else {
                Some(i as f64 * 0.25)
            }
        })
        .collect();
    let s: Vec<Option<String>> = ids
        .iter()
        .map(|&i| {
            if i % 5 == 1 {
                None
            } else {
                Some(format!("s{}", i % 11))
            }
        })
        .collect();
    let b: Vec<bool> = ids.iter().map(|&i| i % 2 == 0).collect();
    Dataset::from_columns(vec![
        ("id", Arc::new(Int64Array::from(ids)) as ArrayRef),
        ("x", Arc::new(Float64Array::from(x)) as ArrayRef),
        ("s", Arc::new(StringArray::from(s)) as ArrayRef),
        ("b", Arc::new(BooleanArray::from(b)) as ArrayRef),
    ])
    .unwrap()
}

#[test]
fn round_trip_keeps_values_types_and_field_metadata() {
    let base = sample(0, 100);
    // An ML-attributed nominal column and a vector column with per-slot attributes.
    let label = with_attribute(
        arrow::datatypes::Field::new("label", DataType::Float64, false),
        &Attribute::nominal("label", vec!["no".into(), "yes".into()]),
    );
    let labels: ArrayRef = Arc::new(Float64Array::from_iter_values(
        (0..100).map(|i| (i % 2) as f64),
    ));
    let features = vector_column_from_vec((0..300).map(|v| v as f64 / 3.0).collect(), 100, 3);
    let slots = vec![
        Attribute::numeric("a"),
        Attribute::nominal("c", vec!["x".into(), "y".into(), "z".into()]),
        Attribute::numeric("b"),
    ];
    let features_field = with_vector_attributes(
        arrow::datatypes::Field::new("features", features.data_type().clone(), false),
        &slots,
    );
    let ds = base
        .with_field(label, labels)
        .unwrap()
        .with_field(features_field, features)
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested").join("t.parquet");
    write_parquet(&ds, &path).unwrap();
    let back = read_parquet(&path).unwrap();
    assert_eq!(back.schema(), ds.schema());
    assert_eq!(back.batch(), ds.batch());
    assert_eq!(
        attribute_of(&back.field("label").unwrap()),
        Some(Attribute::nominal("label", vec!["no".into(), "yes".into()]))
    );
    assert_eq!(
        vector_attributes(&back.field("features").unwrap()),
        Some(slots)
    );
    assert_eq!(back.features("features").unwrap()[[2, 1]], 7.0 / 3.0);
    // Only the target file is in the directory: the temporary file was renamed.
    let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("t.parquet")]);
}

#[test]
fn large_file_uses_the_parallel_column_path_and_round_trips() {
    // 120k rows: above the threshold where columns are decoded in parallel, and several row
    // groups (1M-row groups are not reached, so also try streaming in small batches).
    let ds = sample(0, 120_000);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.parquet");
    write_parquet(&ds, &path).unwrap();
    let back = read_parquet(&path).unwrap();
    assert_eq!(back.batch(), ds.batch());
    let batches: Vec<RecordBatch> = parquet_batches(&path, 50_000)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(batches.iter().all(|b| b.num_rows() <= 50_000));
    let joined = arrow::compute::concat_batches(&ds.schema(), &batches).unwrap();
    assert_eq!(&joined, ds.batch());
}

#[test]
fn reads_a_spark_written_partitioned_directory() {
    // tests/data/spark_parts was written by PySpark 4.3.0 (see spark_parts_gen.py) with
    // partitionBy("year", "region"); it holds _SUCCESS, .crc files, an escaped value
    // (us%3Awest) and a null partition (__HIVE_DEFAULT_PARTITION__). Spark read it back as
    //   id=1 a 0.5 2020 eu; id=2 b None 2020 eu; id=3 None 2.25 2021 eu;
    //   id=4 d -1.0 2021 us:west; id=5 e 3.0 2021 None.
    // Sorted path order: year=2020/region=eu (1, 2), year=2021/region=__HIVE... (5),
    // year=2021/region=eu (3), year=2021/region=us%3Awest (4).
    let ds = read_parquet(data("spark_parts")).unwrap();
    assert_eq!(
        ds.column_names(),
        vec!["id", "name", "score", "year", "region"]
    );
    assert_eq!(ds.schema().field(3).data_type(), &DataType::Int64);
    assert_eq!(ds.schema().field(4).data_type(), &DataType::Utf8);
    assert_eq!(ds.i64_column("id").unwrap().values(), &[1, 2, 5, 3, 4]);
    assert_eq!(
        ds.string_column("name").unwrap(),
        &StringArray::from(vec![Some("a"), Some("b"), Some("e"), None, Some("d")])
    );
    assert_eq!(
        ds.f64_column("score").unwrap(),
        &Float64Array::from(vec![Some(0.5), None, Some(3.0), Some(2.25), Some(-1.0)])
    );
    assert_eq!(
        ds.i64_column("year").unwrap().values(),
        &[2020, 2020, 2021, 2021, 2021]
    );
    assert_eq!(
        ds.string_column("region").unwrap(),
        &StringArray::from(vec![
            Some("eu"),
            Some("eu"),
            None,
            Some("eu"),
            Some("us:west")
        ])
    );
    // Streaming gives the same rows.
    let batches: Vec<RecordBatch> = parquet_batches(data("spark_parts"), 2)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let joined = arrow::compute::concat_batches(&ds.schema(), &batches).unwrap();
    assert_eq!(&joined, ds.batch());
}

#[test]
fn directory_of_part_files_with_year_folders_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("table");
    // Written out of order on purpose: reading follows sorted paths.
    write_parquet(&sample(200, 30), root.join("year=2021/part-00001.parquet")).unwrap();
    write_parquet(&sample(100, 20), root.join("year=2021/part-00000.parquet")).unwrap();
    write_parquet(&sample(0, 10), root.join("year=2020/part-00000.parquet")).unwrap();
    std::fs::write(root.join("_SUCCESS"), b"").unwrap();
    std::fs::write(root.join("year=2020/.part-00000.parquet.crc"), b"junk").unwrap();
    std::fs::create_dir_all(root.join("_temporary/0")).unwrap();
    std::fs::write(root.join("_temporary/0/part-9.parquet"), b"junk").unwrap();

    let ds = read_parquet(&root).unwrap();
    let expected_ids: Vec<i64> = (0..10).chain(100..120).chain(200..230).collect();
    assert_eq!(
        ds.i64_column("id").unwrap().values(),
        expected_ids.as_slice()
    );
    let years: Vec<i64> = std::iter::repeat_n(2020, 10)
        .chain(std::iter::repeat_n(2021, 50))
        .collect();
    assert_eq!(ds.i64_column("year").unwrap().values(), years.as_slice());
    let parts = [sample(0, 10), sample(100, 20), sample(200, 30)];
    let expected = Dataset::concat(&parts).unwrap();
    for name in ["id", "x", "s", "b"] {
        assert_eq!(
            ds.column(name).unwrap(),
            expected.column(name).unwrap(),
            "{name}"
        );
    }

    // Non-integer partition values make a string column.
    let root2 = dir.path().join("by_city");
    write_parquet(&sample(0, 3), root2.join("city=Paris/p.parquet")).unwrap();
    write_parquet(&sample(3, 2), root2.join("city=10/p.parquet")).unwrap();
    let ds2 = read_parquet(&root2).unwrap();
    assert_eq!(
        ds2.string_column("city").unwrap(),
        &StringArray::from(vec!["10", "10", "Paris", "Paris", "Paris"])
    );
}

#[test]
fn truncated_and_non_parquet_files_are_typed_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.parquet");
    write_parquet(&sample(0, 1000), &good).unwrap();
    let bytes = std::fs::read(&good).unwrap();

    let truncated = dir.path().join("truncated.parquet");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let (path, message) = pq_err(read_parquet(&truncated).unwrap_err());
    assert_eq!(path, truncated);
    assert!(!message.is_empty());
    assert!(read_parquet(&truncated)
        .unwrap_err()
        .to_string()
        .contains("truncated.parquet"));

    let text = dir.path().join("text.parquet");
    std::fs::write(&text, "a,b\n1,2\n").unwrap();
    let (path, _) = pq_err(read_parquet(&text).unwrap_err());
    assert_eq!(path, text);
    let (path, _) = pq_err(parquet_batches(&text, 10).unwrap_err());
    assert_eq!(path, text);

    // A bad part file inside a directory is named, not the directory.
    let table = dir.path().join("table");
    write_parquet(&sample(0, 5), table.join("part-0.parquet")).unwrap();
    std::fs::write(table.join("part-1.parquet"), &bytes[..bytes.len() - 10]).unwrap();
    let (path, _) = pq_err(read_parquet(&table).unwrap_err());
    assert_eq!(path, table.join("part-1.parquet"));
    let streamed: Result<Vec<RecordBatch>, _> = parquet_batches(&table, 10).unwrap().collect();
    let (path, _) = pq_err(streamed.unwrap_err());
    assert_eq!(path, table.join("part-1.parquet"));
}

#[test]
fn directory_problems_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    // Empty directory (only Spark's marker files).
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    std::fs::write(empty.join("_SUCCESS"), b"").unwrap();
    let (path, message) = pq_err(read_parquet(&empty).unwrap_err());
    assert_eq!(path, empty);
    assert!(message.contains("no Parquet data files"), "{message}");

    // Part files with different schemas.
    let mixed = dir.path().join("mixed");
    write_parquet(&sample(0, 5), mixed.join("part-0.parquet")).unwrap();
    write_parquet(
        &sample(0, 5).drop_columns(&["s"]).unwrap(),
        mixed.join("part-1.parquet"),
    )
    .unwrap();
    let (path, message) = pq_err(read_parquet(&mixed).unwrap_err());
    assert_eq!(path, mixed.join("part-1.parquet"));
    assert!(message.contains("differs"), "{message}");

    // Missing path.
    let missing = dir.path().join("nope.parquet");
    assert!(matches!(read_parquet(&missing), Err(MlError::Io { path, .. }) if path == missing));
}

#[test]
fn zero_row_file_round_trips() {
    let ds = sample(0, 0);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.parquet");
    write_parquet(&ds, &path).unwrap();
    let back = read_parquet(&path).unwrap();
    assert_eq!(back.num_rows(), 0);
    assert_eq!(back.schema(), ds.schema());
    assert!(back.column("x").unwrap().is_empty());
}
