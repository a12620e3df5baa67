//! Column projection of the CSV and Parquet readers and `read_table`.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, StringArray};
use ml_core::io::{
    csv_batches, parquet_batches_with, read_csv, read_parquet, read_parquet_with, read_table,
    write_parquet, CsvReadOptions, ParquetReadOptions, ReadOptions,
};
use ml_core::{Dataset, MlError};

fn sample(offset: i64, rows: i64) -> Dataset {
    Dataset::from_columns(vec![
        (
            "id",
            Arc::new(Int64Array::from_iter_values(offset..offset + rows)) as ArrayRef,
        ),
        (
            "x",
            Arc::new(Float64Array::from_iter_values(
                (0..rows).map(|i| i as f64 * 0.5),
            )) as ArrayRef,
        ),
        (
            "name",
            Arc::new(StringArray::from_iter_values(
                (0..rows).map(|i| format!("n{i}")),
            )) as ArrayRef,
        ),
    ])
    .unwrap()
}

#[test]
fn parquet_projection_equals_selecting_after_a_full_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.parquet");
    // Large enough to take the column-parallel path of read_parquet.
    let ds = sample(0, 60_000);
    write_parquet(&ds, &path).unwrap();
    for cols in [vec!["name", "id"], vec!["x"], vec!["x", "name", "id"]] {
        let got = read_parquet_with(&path, &ParquetReadOptions::new().columns(&cols)).unwrap();
        let want = read_parquet(&path).unwrap().select(&cols).unwrap();
        assert_eq!(got.batch(), want.batch(), "{cols:?}");
    }
    let small = dir.path().join("s.parquet");
    write_parquet(&sample(0, 10), &small).unwrap();
    let got =
        read_parquet_with(&small, &ParquetReadOptions::new().columns(&["name", "id"])).unwrap();
    assert_eq!(
        got.batch(),
        sample(0, 10).select(&["name", "id"]).unwrap().batch()
    );
}

#[test]
fn parquet_projection_of_a_partitioned_directory_and_streaming() {
    let dir = tempfile::tempdir().unwrap();
    for (k, off) in [(1, 0), (2, 100)] {
        let part = dir.path().join(format!("day={k}"));
        std::fs::create_dir_all(&part).unwrap();
        write_parquet(&sample(off, 5), part.join("part-0.parquet")).unwrap();
    }
    let full = read_parquet(dir.path()).unwrap();
    let opts = ParquetReadOptions::new().columns(&["day", "id"]);
    let got = read_parquet_with(dir.path(), &opts).unwrap();
    assert_eq!(got.batch(), full.select(&["day", "id"]).unwrap().batch());
    // Only a partition column: the rows are still all there.
    let days = read_parquet_with(dir.path(), &ParquetReadOptions::new().columns(&["day"])).unwrap();
    assert_eq!(days.num_rows(), 10);
    assert_eq!(
        days.i64_column("day").unwrap().values().as_ref(),
        &[1, 1, 1, 1, 1, 2, 2, 2, 2, 2]
    );
    // Streaming with a projection gives the same rows in batches of the size asked for.
    let batches: Vec<_> = parquet_batches_with(dir.path(), &opts.clone().batch_size(2))
        .unwrap()
        .map(|b| b.unwrap())
        .collect();
    assert_eq!(
        batches.iter().map(|b| b.num_rows()).collect::<Vec<_>>(),
        vec![2, 2, 1, 2, 2, 1]
    );
    let joined =
        Dataset::concat(&batches.into_iter().map(Dataset::new).collect::<Vec<_>>()).unwrap();
    assert_eq!(joined.batch(), got.batch());
}

#[test]
fn a_missing_or_repeated_column_is_a_typed_error_naming_file_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.parquet");
    write_parquet(&sample(0, 3), &path).unwrap();
    let err =
        read_parquet_with(&path, &ParquetReadOptions::new().columns(&["id", "nope"])).unwrap_err();
    match &err {
        MlError::ColumnNotInFile {
            path: p,
            column,
            available,
        } => {
            assert_eq!(p, &path);
            assert_eq!(column, "nope");
            assert_eq!(available, "id, x, name");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.to_string().contains("t.parquet"));
    let err = parquet_batches_with(&path, &ParquetReadOptions::new().columns(&["zz"])).unwrap_err();
    assert!(matches!(err, MlError::ColumnNotInFile { ref column, .. } if column == "zz"));
    let err =
        read_parquet_with(&path, &ParquetReadOptions::new().columns(&["id", "id"])).unwrap_err();
    assert!(matches!(err, MlError::InvalidParam { ref param, .. } if param == "columns"));
    let err = read_parquet_with(&path, &ParquetReadOptions::new().columns(&[])).unwrap_err();
    assert!(matches!(err, MlError::InvalidParam { ref param, .. } if param == "columns"));

    let csv = dir.path().join("t.csv");
    std::fs::write(&csv, "a,b\n1,2\n").unwrap();
    let err = read_csv(&csv, &CsvReadOptions::default().columns(&["c"])).unwrap_err();
    assert!(
        matches!(err, MlError::ColumnNotInFile { ref path, ref column, .. } if column == "c" && path == &csv)
    );
}

#[test]
fn csv_projection_parses_only_the_projected_columns() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.csv");
    // Column b is inferred Int64 from the first row and then holds a word: reading it fails,
    // reading the others does not.
    std::fs::write(&path, "a,b,c\n1,2,x\n3,oops,y\n5,6,z\n").unwrap();
    let opts = CsvReadOptions::default().infer_rows(Some(1));
    assert!(read_csv(&path, &opts).is_err());
    let got = read_csv(&path, &opts.clone().columns(&["c", "a"])).unwrap();
    assert_eq!(got.column_names(), vec!["c", "a"]);
    assert_eq!(got.i64_column("a").unwrap().values().as_ref(), &[1, 3, 5]);
    assert_eq!(got.string_column("c").unwrap().value(2), "z");
    let batches = csv_batches(&path, &opts.clone().columns(&["a"]).batch_size(2)).unwrap();
    assert_eq!(batches.schema().fields().len(), 1);
    let rows: usize = batches.map(|b| b.unwrap().num_rows()).sum();
    assert_eq!(rows, 3);
    // read_table picks the CSV reader by extension and projects the same way.
    let t = read_table(&path, &ReadOptions::new().columns(&["c", "a"]).csv(opts)).unwrap();
    assert_eq!(t.batch(), got.batch());
}

#[test]
fn read_table_chooses_the_reader_by_path() {
    let dir = tempfile::tempdir().unwrap();
    let ds = sample(0, 4);
    let pq = dir.path().join("t.PARQUET");
    write_parquet(&ds, &pq).unwrap();
    assert_eq!(
        read_table(&pq, &ReadOptions::new()).unwrap().batch(),
        ds.batch()
    );
    let parts = dir.path().join("parts");
    std::fs::create_dir_all(&parts).unwrap();
    write_parquet(&ds, parts.join("part-00000.snappy.parquet")).unwrap();
    std::fs::write(parts.join("_SUCCESS"), "").unwrap();
    let got = read_table(&parts, &ReadOptions::new().columns(&["x"])).unwrap();
    assert_eq!(
        got.batch(),
        read_parquet(&parts)
            .unwrap()
            .select(&["x"])
            .unwrap()
            .batch()
    );
    assert_eq!(got.f64_column("x").unwrap(), ds.f64_column("x").unwrap());
    let err = read_table(dir.path().join("missing.csv"), &ReadOptions::new()).unwrap_err();
    assert!(matches!(err, MlError::Io { .. }));
    std::fs::write(dir.path().join("t.txt"), "a\n1\n").unwrap();
    let err = read_table(dir.path().join("t.txt"), &ReadOptions::new()).unwrap_err();
    assert!(matches!(err, MlError::InvalidParam { ref param, .. } if param == "path"));
}
