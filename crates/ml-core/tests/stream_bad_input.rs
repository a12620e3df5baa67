//! Bad input in the middle of a stream (issue 14's check): a malformed row in batch 7 of 10 of
//! a CSV file, and a part file with another schema in a Spark part-file directory, written to
//! Parquet through `write_parquet_source`. Each gives a typed error that names the file (and
//! the line), and leaves no output file, complete or partial, behind.

use std::fs;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, StringArray};
use ml_core::io::{write_parquet, CsvReadOptions, ReadOptions};
use ml_core::stream::{
    table_source, write_parquet_source, write_parquet_source_unsynced, BatchSource, CsvSource,
};
use ml_core::{Dataset, MlError};

/// The names of the files in `dir`, sorted.
fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_malformed_row_in_batch_7_of_10_names_the_file_and_line_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("clicks.csv");
    // 1,000 rows in batches of 100; row 650 (0-based), in the 7th batch, has text in a numeric
    // column. The schema is inferred from the first 100 rows, so the column is Int64.
    let mut text = String::from("id,hour,site\n");
    for i in 0..1_000 {
        let hour = if i == 650 {
            "ten".to_string()
        } else {
            (i % 24).to_string()
        };
        text.push_str(&format!("{i},{hour},s{}\n", i % 7));
    }
    fs::write(&input, text).unwrap();
    let opts = CsvReadOptions::new().infer_rows(Some(100)).batch_size(100);
    let source = CsvSource::new(&input, &opts).unwrap();
    let out_dir = dir.path().join("out");
    fs::create_dir(&out_dir).unwrap();
    let out = out_dir.join("clicks.parquet");

    // The durable write and the scratch one (not synced) fail alike.
    type Write = fn(&dyn BatchSource, &std::path::Path) -> ml_core::Result<usize>;
    let writes: [Write; 2] = [
        |s, p| write_parquet_source(s, p),
        |s, p| write_parquet_source_unsynced(s, p),
    ];
    for write in writes {
        let err = write(&source, &out).unwrap_err();
        match &err {
            // The header is line 1, so row 650 is line 652.
            MlError::Csv { path, line, .. } => {
                assert_eq!(path, &input, "{err}");
                assert_eq!(*line, 652, "{err}");
            }
            other => panic!("expected a CSV error naming the file and line, got {other:?}"),
        }
        let message = err.to_string();
        assert!(message.contains("clicks.csv"), "{message}");
        assert!(message.contains("652"), "{message}");
        // Where the column's type came from: the first 100 rows the source inferred it from.
        assert!(
            message.contains("inferred from the first 100 rows"),
            "{message}"
        );
        assert!(
            files_in(&out_dir).is_empty(),
            "left behind: {:?}",
            files_in(&out_dir)
        );
    }
}

#[test]
fn a_part_file_with_another_schema_names_the_part_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let parts = dir.path().join("events");
    fs::create_dir(&parts).unwrap();
    for p in 0..10i64 {
        let ids: ArrayRef = Arc::new(Int64Array::from_iter_values(p * 100..(p + 1) * 100));
        // Part 7 has `value` as text instead of a number.
        let value: ArrayRef = if p == 7 {
            Arc::new(StringArray::from_iter_values(
                (0..100).map(|i| format!("v{i}")),
            ))
        } else {
            Arc::new(Float64Array::from_iter_values((0..100).map(|i| i as f64)))
        };
        let data = Dataset::from_columns(vec![("id", ids), ("value", value)]).unwrap();
        write_parquet(&data, parts.join(format!("part-{p:05}.parquet"))).unwrap();
    }
    let out_dir = dir.path().join("out");
    fs::create_dir(&out_dir).unwrap();
    let out = out_dir.join("events.parquet");

    // Refused when the directory is opened, or at the latest when part 7 is reached.
    let err = match table_source(&parts, &ReadOptions::default(), 64) {
        Err(e) => e,
        Ok(source) => write_parquet_source(source.as_ref() as &dyn BatchSource, &out).unwrap_err(),
    };
    let message = err.to_string();
    assert!(message.contains("part-00007.parquet"), "{message}");
    assert!(message.contains("value"), "{message}");
    assert!(
        files_in(&out_dir).is_empty(),
        "left behind: {:?}",
        files_in(&out_dir)
    );
}
