//! Hostile inputs to the readers and learners: duplicate column names, Parquet column chunks
//! and page headers that claim more than the file holds, category codes and class labels far
//! beyond the data's size, and CSV fields and records beyond the stated limits. Each is a typed error naming the file, line, column or row, raised before the
//! allocation the value asks for.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use ml_core::dataset::vector_column_from_vec;
use ml_core::feature::OneHotEncoder;
use ml_core::io::{
    csv_batches, infer_csv_schema, parquet_batches, read_csv, read_parquet, write_parquet,
    CsvReadOptions, DEFAULT_MAX_FIELD_BYTES,
};
use ml_core::linear::LogisticRegression;
use ml_core::testing::fuzz::fuzz_dir;
use ml_core::{Dataset, Estimator, MlError};

/// Writes a Parquet file whose schema names column `x` twice.
fn parquet_with_duplicate_names(path: &std::path::Path) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("x", DataType::Int64, false),
        Field::new("y", DataType::Float64, false),
        Field::new("x", DataType::Float64, false),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int64Array::from(vec![1, 2])) as ArrayRef,
            Arc::new(Float64Array::from(vec![0.5, 1.5])),
            Arc::new(Float64Array::from(vec![9.0, 8.0])),
        ],
    )
    .unwrap();
    let file = std::fs::File::create(path).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(file, schema, None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

#[test]
fn parquet_with_a_column_name_twice_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dup.parquet");
    parquet_with_duplicate_names(&file);
    let parts = dir.path().join("table");
    std::fs::create_dir(&parts).unwrap();
    parquet_with_duplicate_names(&parts.join("part-00000.parquet"));
    for (path, named) in [(&file, "dup.parquet"), (&parts, "part-00000.parquet")] {
        match read_parquet(path).unwrap_err() {
            MlError::Parquet { path, message } => {
                assert!(path.ends_with(named), "{}", path.display());
                assert!(
                    message.contains("duplicate column names: 'x' (columns 0 and 2)"),
                    "{message}"
                );
            }
            other => panic!("{other:?}"),
        }
    }
}

/// The error of `read_parquet` and of `parquet_batches` (collected) on `path`, which must be
/// the same [`MlError::Parquet`]: its file and message.
fn parquet_errors(path: &std::path::Path) -> (std::path::PathBuf, String) {
    let whole = read_parquet(path).unwrap_err();
    let streamed = parquet_batches(path, 3)
        .and_then(|b| b.collect::<ml_core::Result<Vec<_>>>())
        .unwrap_err();
    assert_eq!(whole.to_string(), streamed.to_string());
    match whole {
        MlError::Parquet { path, message } => (path, message),
        other => panic!("{other:?}"),
    }
}

/// The part file fuzzing found (`fuzz/regressions/parquet_dir/page_header_loop`, a mutated
/// `scalars.parquet` beside an intact one): a page header of column `x` holds a list whose
/// skipping made the parquet crate read the file byte by byte past its end for ~44 s under
/// ASan (~4 s a read in a debug build). It is refused before the crate decodes a page, with
/// the file, row group, column and byte named.
#[test]
fn a_page_header_claiming_more_than_the_chunk_holds_names_file_row_group_and_column() {
    let input = std::fs::read(fuzz_dir().join("regressions/parquet_dir/page_header_loop")).unwrap();
    let body = &input[1..];
    let cut = body.windows(8).position(|w| w == b"PAR1PAR1").unwrap() + 4;
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("table");
    std::fs::create_dir(&table).unwrap();
    let bad = table.join("part-00000.parquet");
    std::fs::write(&bad, &body[..cut]).unwrap();
    std::fs::write(table.join("part-00001.parquet"), &body[cut..]).unwrap();
    for path in [&table, &bad] {
        let start = std::time::Instant::now();
        let (file, message) = parquet_errors(path);
        assert_eq!(file, bad);
        // An unknown field of sets nested six deep runs on past the chunk, into bytes where
        // the crate met a list of 10,256,347 UUIDs.
        assert!(
            message.starts_with(
                "row group 0, column 'x': the page header at byte 106: it runs past the end of \
                 the column chunk, which ends "
            ),
            "{message}"
        );
        assert!(
            message.contains("the file is corrupt or truncated"),
            "{message}"
        );
        // Milliseconds now; the loop took seconds even in a debug build.
        assert!(start.elapsed().as_secs_f64() < 2.0, "{:?}", start.elapsed());
    }
}

/// A part file that lost part of its data but kept its footer: the metadata places column
/// chunks past the data the file holds, which is refused before any page is read.
#[test]
fn a_column_chunk_beyond_the_data_of_the_file_names_file_row_group_and_column() {
    let ds = Dataset::from_columns(vec![
        (
            "id",
            Arc::new(Int64Array::from_iter_values(0..1000)) as ArrayRef,
        ),
        (
            "x",
            Arc::new(Float64Array::from_iter_values(
                (0..1000).map(|i| i as f64 * 0.5),
            )),
        ),
    ])
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cut.parquet");
    write_parquet(&ds, &path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let n = bytes.len();
    let meta_len = u32::from_le_bytes(bytes[n - 8..n - 4].try_into().unwrap()) as usize;
    let data_end = n - 8 - meta_len;
    // Keep the magic, the first 100 bytes of data and the whole footer.
    let mut cut = bytes[..104].to_vec();
    cut.extend_from_slice(&bytes[data_end..]);
    std::fs::write(&path, &cut).unwrap();
    let (file, message) = parquet_errors(&path);
    assert_eq!(file, path);
    assert!(message.starts_with("row group 0, column '"), "{message}");
    assert!(
        message.contains("but the file's data lies in bytes 4..104"),
        "{message}"
    );
}

#[test]
fn csv_header_names_that_collide_after_spark_renaming_are_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.csv");
    // Spark renames the repeated `a` to a0 and a1; a1 is already a column.
    std::fs::write(&path, "a,a,a1\n1,2,3\n").unwrap();
    match read_csv(&path, &CsvReadOptions::default()).unwrap_err() {
        MlError::Csv { line, message, .. } => {
            assert_eq!(line, 1);
            assert!(message.contains("'a1' (columns 1 and 2)"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

fn labelled(labels: Vec<f64>) -> Dataset {
    let n = labels.len();
    let x: Vec<f64> = (0..n).map(|i| (i % 3) as f64).collect();
    Dataset::from_columns(vec![
        ("features", vector_column_from_vec(x, n, 1)),
        ("label", Arc::new(Float64Array::from(labels)) as ArrayRef),
    ])
    .unwrap()
}

#[test]
fn a_class_label_far_beyond_the_data_is_refused_before_the_class_tables() {
    for (labels, bad_row, value) in [
        (vec![0.0, 1.0, 1e9, 0.0], 2, "1000000000"),
        (vec![0.0, 1.0, 0.0, 10_001.0], 3, "10001"),
        (vec![1e300, 0.0], 0, "1000000000000"),
    ] {
        match LogisticRegression::new()
            .fit(&labelled(labels))
            .unwrap_err()
        {
            MlError::InvalidValue {
                column,
                row,
                message,
            } => {
                assert_eq!((column.as_str(), row), ("label", bad_row));
                assert!(
                    message.contains(value) && message.contains("too large"),
                    "{message}"
                );
            }
            other => panic!("{other:?}"),
        }
    }
    // Labels up to 10,000 are classes (most of them empty), whatever the number of rows.
    let model = LogisticRegression::new()
        .with_max_iter(1)
        .fit(&labelled(vec![0.0, 1.0, 3.0, 1.0]))
        .unwrap();
    assert_eq!(model.num_classes, 4);
}

#[test]
fn a_category_code_far_beyond_the_data_is_refused_before_the_vector_width() {
    let codes = Dataset::from_columns(vec![(
        "c",
        Arc::new(Float64Array::from(vec![0.0, 2.0, 1e9])) as ArrayRef,
    )])
    .unwrap();
    match OneHotEncoder::new(&["c"], &["v"]).fit(&codes).unwrap_err() {
        MlError::InvalidValue {
            column,
            row,
            message,
        } => {
            assert_eq!((column.as_str(), row), ("c", 2));
            assert!(
                message.contains("too large") && message.contains("1000000"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
}

fn csv_error(e: MlError) -> (usize, String) {
    match e {
        MlError::Csv {
            line,
            message,
            path,
        } => {
            assert!(path.ends_with("big.csv"), "{}", path.display());
            (line, message)
        }
        other => panic!("expected a CSV error, got {other:?}"),
    }
}

#[test]
fn a_field_longer_than_max_field_bytes_names_the_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.csv");
    std::fs::write(&path, "id,text\n1,short\n2,a much longer text\n").unwrap();
    let opts = CsvReadOptions::default().max_field_bytes(10);
    for e in [
        read_csv(&path, &opts).unwrap_err(),
        infer_csv_schema(&path, &opts).unwrap_err(),
    ] {
        let (line, m) = csv_error(e);
        assert_eq!(line, 3);
        assert!(
            m.contains("column 2 holds a field of 18 bytes, longer than max_field_bytes = 10"),
            "{m}"
        );
    }
    assert!(read_csv(&path, &CsvReadOptions::default().max_field_bytes(18)).is_ok());
    // The default: 1 MiB passes, one byte more does not (a quoted field, spanning lines).
    let field = "x".repeat(DEFAULT_MAX_FIELD_BYTES - 2);
    std::fs::write(&path, format!("id,text\n1,\"{field}\n\n\"\n")).unwrap();
    let ds = read_csv(&path, &CsvReadOptions::default()).unwrap();
    assert_eq!(
        ds.string_column("text").unwrap().value(0).len(),
        DEFAULT_MAX_FIELD_BYTES
    );
    std::fs::write(&path, format!("id,text\n1,\"{field}\n\nx\"\n")).unwrap();
    let (line, m) = csv_error(read_csv(&path, &CsvReadOptions::default()).unwrap_err());
    assert_eq!(line, 2);
    assert!(m.contains("max_field_bytes = 1048576"), "{m}");
}

#[test]
fn a_record_longer_than_max_record_bytes_is_refused_while_it_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.csv");
    let opts = CsvReadOptions::default().max_record_bytes(1000);
    // No line break in 2 MB: refused by the guard, long before the end of the line.
    std::fs::write(&path, "a,b\n".to_string() + &"1,".repeat(1_000_000)).unwrap();
    let (line, m) = csv_error(read_csv(&path, &opts).unwrap_err());
    assert_eq!(line, 2);
    assert!(m.contains("longer than max_record_bytes = 1000"), "{m}");
    // An unclosed quote: every following line belongs to one record.
    let body: String = (0..100_000).map(|i| format!("{i},text\n")).collect();
    std::fs::write(&path, format!("a,b\n1,ok\n2,\"open\n{body}")).unwrap();
    let e = csv_batches(&path, &opts.clone().infer_rows(Some(1)))
        .unwrap()
        .find_map(|b| b.err())
        .expect("an error");
    let (line, m) = csv_error(e);
    assert_eq!(line, 3);
    assert!(m.contains("max_record_bytes"), "{m}");
    // A record just over the limit but within one read buffer: refused when complete.
    std::fs::write(&path, format!("a,b\n1,{}\n2,y\n", "z".repeat(1200))).unwrap();
    let (line, m) = csv_error(read_csv(&path, &opts.clone().max_field_bytes(5000)).unwrap_err());
    assert_eq!(line, 2);
    assert!(m.contains("the record is 1203 bytes"), "{m}");
    // Zero is not a limit.
    let e = read_csv(&path, &CsvReadOptions::default().max_record_bytes(0)).unwrap_err();
    assert!(matches!(&e, MlError::InvalidParam { param, .. } if param == "max_record_bytes"));
}
