//! CSV reading and writing against hand-written expected values.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BooleanArray, Float64Array, Int32Array, Int64Array, StringArray,
};
use arrow::datatypes::{DataType, Field, Schema};
use ml_core::io::{csv_batches, infer_csv_schema, read_csv, write_csv, CsvReadOptions};
use ml_core::{Dataset, MlError};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn types(ds: &Dataset) -> Vec<(String, DataType)> {
    ds.schema()
        .fields()
        .iter()
        .map(|f| (f.name().clone(), f.data_type().clone()))
        .collect()
}

fn strings(ds: &Dataset, col: &str) -> Vec<Option<String>> {
    ds.string_column(col)
        .unwrap()
        .iter()
        .map(|v| v.map(str::to_string))
        .collect()
}

/// Returns (path, line, message) of a CSV error, failing the test for any other error.
fn csv_err(err: MlError) -> (PathBuf, usize, String) {
    match err {
        MlError::Csv {
            path,
            line,
            message,
        } => (path, line, message),
        other => panic!("expected MlError::Csv, got {other:?}"),
    }
}

#[test]
fn infers_types_with_quotes_nulls_and_embedded_newlines() {
    // tests/data/quoted_nulls.csv (hand-written):
    // id,name,score,active,joined,note
    // 1,"Smith, John",3.5,true,2020-01-15,"said ""hi"""
    // 2,Ann,NA,FALSE,2021-03-01,
    // 3,"multi\nline",4,True,null,plain
    // ,Zoe,-0.25,,2019-12-31,"a,b"
    let ds = read_csv(data("quoted_nulls.csv"), &CsvReadOptions::default()).unwrap();
    assert_eq!(
        types(&ds),
        vec![
            ("id".into(), DataType::Int64),
            ("name".into(), DataType::Utf8),
            ("score".into(), DataType::Float64),
            ("active".into(), DataType::Boolean),
            ("joined".into(), DataType::Utf8),
            ("note".into(), DataType::Utf8),
        ]
    );
    assert_eq!(ds.num_rows(), 4);
    assert_eq!(
        ds.i64_column("id").unwrap(),
        &Int64Array::from(vec![Some(1), Some(2), Some(3), None])
    );
    assert_eq!(
        strings(&ds, "name"),
        vec![
            Some("Smith, John".into()),
            Some("Ann".into()),
            Some("multi\nline".into()),
            Some("Zoe".into())
        ]
    );
    assert_eq!(
        ds.f64_column("score").unwrap(),
        &Float64Array::from(vec![Some(3.5), None, Some(4.0), Some(-0.25)])
    );
    assert_eq!(
        ds.bool_column("active").unwrap(),
        &BooleanArray::from(vec![Some(true), Some(false), Some(true), None])
    );
    assert_eq!(
        strings(&ds, "joined"),
        vec![
            Some("2020-01-15".into()),
            Some("2021-03-01".into()),
            None,
            Some("2019-12-31".into())
        ]
    );
    assert_eq!(
        strings(&ds, "note"),
        vec![
            Some("said \"hi\"".into()),
            None,
            Some("plain".into()),
            Some("a,b".into())
        ]
    );
    // The schema alone agrees with the data read.
    let schema = infer_csv_schema(data("quoted_nulls.csv"), &CsvReadOptions::default()).unwrap();
    assert_eq!(schema, ds.schema());
}

#[test]
fn no_header_uses_spark_column_names_and_custom_delimiter() {
    // tests/data/no_header.csv: "1;x;true\n2;y;false\n3;;true\n"
    let opts = CsvReadOptions::default().has_header(false).delimiter(b';');
    let ds = read_csv(data("no_header.csv"), &opts).unwrap();
    assert_eq!(
        types(&ds),
        vec![
            ("_c0".into(), DataType::Int64),
            ("_c1".into(), DataType::Utf8),
            ("_c2".into(), DataType::Boolean),
        ]
    );
    assert_eq!(ds.i64_column("_c0").unwrap().values(), &[1, 2, 3]);
    assert_eq!(
        strings(&ds, "_c1"),
        vec![Some("x".into()), Some("y".into()), None]
    );
    assert_eq!(
        ds.bool_column("_c2").unwrap(),
        &BooleanArray::from(vec![true, false, true])
    );
}

#[test]
fn ragged_row_is_an_error_naming_file_and_line() {
    // tests/data/ragged.csv: header a,b,c; line 3 is "4,5".
    let path = data("ragged.csv");
    for opts in [
        CsvReadOptions::default(),
        // The bad row lies outside the inference sample: the reader itself must catch it.
        CsvReadOptions::default().infer_rows(Some(1)),
    ] {
        let (p, line, message) = csv_err(read_csv(&path, &opts).unwrap_err());
        assert_eq!(p, path);
        assert_eq!(line, 3, "{message}");
        assert!(
            message.contains("2 fields") && message.contains('3'),
            "{message}"
        );
    }
    let err = infer_csv_schema(&path, &CsvReadOptions::default()).unwrap_err();
    assert!(err.to_string().contains("ragged.csv") && err.to_string().contains("line 3"));
}

#[test]
fn empty_file_is_an_error_naming_the_file() {
    let path = data("empty.csv");
    let (p, line, message) = csv_err(read_csv(&path, &CsvReadOptions::default()).unwrap_err());
    assert_eq!((p.as_path(), line), (path.as_path(), 1));
    assert!(
        message.contains("empty") && message.contains("header"),
        "{message}"
    );
    // Without a header there is nothing to infer a schema from either.
    let opts = CsvReadOptions::default().has_header(false);
    let (p, _, message) = csv_err(read_csv(&path, &opts).unwrap_err());
    assert_eq!(p, path);
    assert!(message.contains("empty"), "{message}");
    // With an explicit schema and no header, an empty file is an empty dataset.
    let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, true)]));
    let ds = read_csv(&path, &opts.schema(schema.clone())).unwrap();
    assert_eq!(ds.num_rows(), 0);
    assert_eq!(ds.schema(), schema);
}

#[test]
fn header_only_gives_an_empty_dataset_of_strings() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.csv");
    std::fs::write(&path, "a,b\n").unwrap();
    let ds = read_csv(&path, &CsvReadOptions::default()).unwrap();
    assert_eq!(ds.num_rows(), 0);
    assert_eq!(
        types(&ds),
        vec![("a".into(), DataType::Utf8), ("b".into(), DataType::Utf8)]
    );
}

#[test]
fn value_beyond_the_inference_sample_is_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("late.csv");
    let mut text = String::from("x,y\n");
    for i in 1..5000 {
        writeln!(text, "{i},{}", i * 2).unwrap();
    }
    text.push_str("5000,abc\n");
    std::fs::write(&path, &text).unwrap();
    // Header on line 1, data row i on line i + 1: "abc" is on line 5001, column y.
    let (p, line, message) = csv_err(read_csv(&path, &CsvReadOptions::default()).unwrap_err());
    assert_eq!(p, path);
    assert_eq!(line, 5001);
    assert!(
        message.contains("'y'") && message.contains("abc"),
        "{message}"
    );
    assert!(message.contains("infer_rows(None)"), "{message}");
    // The whole-file inference reads y as strings.
    let ds = read_csv(&path, &CsvReadOptions::default().infer_rows(None)).unwrap();
    assert_eq!(ds.num_rows(), 5000);
    assert_eq!(ds.schema().field(1).data_type(), &DataType::Utf8);
    assert_eq!(ds.string_column("y").unwrap().value(4999), "abc");
    assert_eq!(ds.i64_column("x").unwrap().value(4999), 5000);
}

#[test]
fn integers_widen_to_float_and_mixed_columns_become_strings() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.csv");
    std::fs::write(
        &path,
        "i,f,b,s,n\n1,1,true,1,\n2,2.5,false,true,NA\n-3,1e3,TRUE,x,null\n",
    )
    .unwrap();
    let ds = read_csv(&path, &CsvReadOptions::default()).unwrap();
    assert_eq!(
        types(&ds),
        vec![
            ("i".into(), DataType::Int64),
            ("f".into(), DataType::Float64),
            ("b".into(), DataType::Boolean),
            ("s".into(), DataType::Utf8),
            // All nulls: a string column, as Spark infers it.
            ("n".into(), DataType::Utf8),
        ]
    );
    assert_eq!(ds.f64_column("f").unwrap().values(), &[1.0, 2.5, 1000.0]);
    assert_eq!(ds.i64_column("i").unwrap().values(), &[1, 2, -3]);
    assert_eq!(
        strings(&ds, "s"),
        vec![Some("1".into()), Some("true".into()), Some("x".into())]
    );
    assert_eq!(ds.column("n").unwrap().null_count(), 3);
}

#[test]
fn unsigned_64_bit_columns_hold_ids_past_the_signed_range() {
    // Avazu-like ids: up to u64::MAX, which i64 cannot hold and f64 would round.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("u.csv");
    std::fs::write(
        &path,
        "id,x\n18446744073709551615,1\n9223372036854775808,2\n,3\n+42,4\n",
    )
    .unwrap();
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::UInt64, true),
        Field::new("x", DataType::Int64, true),
    ]));
    for batch in [1, 3, 8192] {
        let opts = CsvReadOptions::default()
            .schema(schema.clone())
            .batch_size(batch);
        let ds = read_csv(&path, &opts).unwrap();
        assert_eq!(ds.schema(), schema);
        let ids = ds.column("id").unwrap();
        let ids = ids
            .as_any()
            .downcast_ref::<arrow::array::UInt64Array>()
            .unwrap();
        assert_eq!(
            ids.iter().collect::<Vec<_>>(),
            vec![
                Some(u64::MAX),
                Some(9_223_372_036_854_775_808),
                None,
                Some(42)
            ]
        );
    }
    // Negative, past u64::MAX, or not a number: an error naming the line and column.
    for bad in ["-1", "18446744073709551616", "1.5"] {
        std::fs::write(&path, format!("id,x\n7,1\n{bad},2\n")).unwrap();
        let (_, line, message) = csv_err(
            read_csv(&path, &CsvReadOptions::default().schema(schema.clone())).unwrap_err(),
        );
        assert_eq!(line, 3, "{bad}");
        assert!(
            message.contains("'id'") && message.contains("UInt64") && message.contains(bad),
            "{message}"
        );
    }
}

#[test]
fn explicit_schema_is_used_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("e.csv");
    std::fs::write(&path, "a,b,c\n1,2,x\n3,4.5,y\n").unwrap();
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int32, true),
        Field::new("value", DataType::Float64, true),
        Field::new("label", DataType::Utf8, true),
    ]));
    let ds = read_csv(&path, &CsvReadOptions::default().schema(schema.clone())).unwrap();
    assert_eq!(ds.schema(), schema);
    assert_eq!(
        ds.column("id")
            .unwrap()
            .as_any()
            .downcast_ref::<Int32Array>()
            .unwrap(),
        &Int32Array::from(vec![1, 3])
    );
    assert_eq!(ds.f64_column("value").unwrap().values(), &[2.0, 4.5]);

    // A value that does not parse under the explicit schema.
    std::fs::write(&path, "a,b,c\n1,2,x\n3,oops,y\n").unwrap();
    let (_, line, message) =
        csv_err(read_csv(&path, &CsvReadOptions::default().schema(schema.clone())).unwrap_err());
    assert_eq!(line, 3);
    assert!(
        message.contains("'value'") && message.contains("oops"),
        "{message}"
    );
    assert!(message.contains("explicit schema"), "{message}");

    // Out of range for Int32.
    std::fs::write(&path, "a,b,c\n3000000000,2,x\n").unwrap();
    let (_, line, message) =
        csv_err(read_csv(&path, &CsvReadOptions::default().schema(schema.clone())).unwrap_err());
    assert_eq!(line, 2);
    assert!(
        message.contains("'id'") && message.contains("Int32"),
        "{message}"
    );

    // The header and the schema disagree on the number of columns.
    std::fs::write(&path, "a,b\n1,2\n").unwrap();
    let (_, line, message) =
        csv_err(read_csv(&path, &CsvReadOptions::default().schema(schema)).unwrap_err());
    assert_eq!(line, 1);
    assert!(
        message.contains("2 columns") && message.contains("3 fields"),
        "{message}"
    );
}

#[test]
fn header_names_bom_crlf_and_custom_nulls() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.csv");
    // UTF-8 byte-order mark, CRLF line ends, a duplicated and an empty header name.
    std::fs::write(&path, "\u{feff}a,,a\r\n1,-,x\r\n2,5,?\r\n").unwrap();
    let opts = CsvReadOptions::default().null_values(vec!["-".into(), "?".into()]);
    let ds = read_csv(&path, &opts).unwrap();
    // Spark: duplicates get their index appended, empty names become _c<index>.
    assert_eq!(ds.column_names(), vec!["a0", "_c1", "a2"]);
    assert_eq!(
        ds.i64_column("_c1").unwrap(),
        &Int64Array::from(vec![None, Some(5)])
    );
    assert_eq!(strings(&ds, "a2"), vec![Some("x".into()), None]);
    assert_eq!(ds.i64_column("a0").unwrap().values(), &[1, 2]);
}

#[test]
fn batches_stream_and_match_the_whole_read() {
    let path = data("quoted_nulls.csv");
    let opts = CsvReadOptions::default().batch_size(3);
    let whole = read_csv(&path, &opts).unwrap();
    let batches: Vec<_> = csv_batches(&path, &opts)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        batches.iter().map(|b| b.num_rows()).collect::<Vec<_>>(),
        vec![3, 1]
    );
    let joined = arrow::compute::concat_batches(&whole.schema(), &batches).unwrap();
    assert_eq!(&joined, whole.batch());
    // A zero batch size is a parameter error, not a hang.
    assert!(matches!(
        csv_batches(&path, &CsvReadOptions::default().batch_size(0)),
        Err(MlError::InvalidParam { .. })
    ));
}

#[test]
fn missing_file_is_an_io_error_naming_it() {
    let err = read_csv(data("no_such_file.csv"), &CsvReadOptions::default()).unwrap_err();
    assert!(matches!(&err, MlError::Io { path, .. } if path.ends_with("no_such_file.csv")));
}

#[test]
fn write_csv_quotes_and_round_trips() {
    let ds = Dataset::from_columns(vec![
        (
            "id",
            Arc::new(Int64Array::from(vec![Some(1), None, Some(-3)])) as ArrayRef,
        ),
        (
            "text",
            Arc::new(StringArray::from(vec![
                Some("plain"),
                Some("comma, \"quote\"\nnewline"),
                None,
            ])) as ArrayRef,
        ),
        (
            "x",
            Arc::new(Float64Array::from(vec![Some(0.1), Some(1e-7), Some(2.0)])) as ArrayRef,
        ),
        (
            "flag",
            Arc::new(BooleanArray::from(vec![Some(true), None, Some(false)])) as ArrayRef,
        ),
    ])
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub").join("out.csv");
    write_csv(&ds, &path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    // Expected text written by hand from RFC 4180: quote fields with a delimiter, a quote or a
    // newline and double the quotes; nulls are empty.
    assert_eq!(
        text,
        "id,text,x,flag\n1,plain,0.1,true\n,\"comma, \"\"quote\"\"\nnewline\",1e-7,\n-3,,2.0,false\n"
    );
    // No temporary file is left behind.
    let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("out.csv")]);
    let back = read_csv(&path, &CsvReadOptions::default()).unwrap();
    assert_eq!(back.column_names(), ds.column_names());
    assert_eq!(back.batch().columns(), ds.batch().columns());
}

#[test]
fn chunked_parallel_read_joins_in_order_and_reports_the_first_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("many.csv");
    let build = |bad_value: bool, ragged: bool| {
        let mut text = String::from("a,b\n");
        for i in 1..=3000 {
            if bad_value && i == 1000 {
                text.push_str("1000,x\n");
            } else if ragged && i == 2500 {
                text.push_str("2500\n");
            } else {
                writeln!(text, "{i},{}", i as f64 * 0.5).unwrap();
            }
        }
        text
    };
    let small = CsvReadOptions::default()
        .infer_rows(Some(10))
        .batch_size(64);

    // Both a bad value (row 1000, line 1001) and a ragged row (line 2501): the first wins,
    // whatever chunk finishes first.
    std::fs::write(&path, build(true, true)).unwrap();
    for _ in 0..3 {
        let (_, line, message) = csv_err(read_csv(&path, &small).unwrap_err());
        assert_eq!(line, 1001, "{message}");
        assert!(
            message.contains("'b'") && message.contains("\"x\""),
            "{message}"
        );
    }
    std::fs::write(&path, build(false, true)).unwrap();
    let (_, line, _) = csv_err(read_csv(&path, &small).unwrap_err());
    assert_eq!(line, 2501);

    // Clean file: many small chunks give the same dataset as one big one, in file order.
    std::fs::write(&path, build(false, false)).unwrap();
    let chunked = read_csv(&path, &small).unwrap();
    let whole = read_csv(&path, &small.clone().batch_size(1 << 20)).unwrap();
    assert_eq!(chunked.batch(), whole.batch());
    let expected_a: Vec<i64> = (1..=3000).collect();
    let expected_b: Vec<f64> = (1..=3000).map(|i| i as f64 * 0.5).collect();
    assert_eq!(
        chunked.i64_column("a").unwrap().values(),
        expected_a.as_slice()
    );
    assert_eq!(
        chunked.f64_column("b").unwrap().values(),
        expected_b.as_slice()
    );
}

/// Two bad fields in one batch, the later column's earlier in the file: the error names the
/// first in file order (line 6, column `c`), however many threads parse the columns, for the
/// streaming reader and the whole-file reader alike.
#[test]
fn the_first_bad_field_in_file_order_is_reported_at_any_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("two_bad.csv");
    let mut text = String::from("a,b,c\n");
    for i in 0..20 {
        let a = if i == 8 {
            "x".to_string()
        } else {
            i.to_string()
        };
        let c = if i == 4 {
            "y".to_string()
        } else {
            (i * 2).to_string()
        };
        writeln!(text, "{a},{i},{c}").unwrap();
    }
    std::fs::write(&path, text).unwrap();
    let schema = Arc::new(Schema::new(vec![
        Field::new("a", DataType::Int64, true),
        Field::new("b", DataType::Int64, true),
        Field::new("c", DataType::Int64, true),
    ]));
    let opts = CsvReadOptions::default().schema(schema).batch_size(100);
    for threads in [1, 2, 3] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let (streamed, whole) = pool.install(|| {
            let first = csv_batches(&path, &opts).unwrap().next().unwrap();
            (first.unwrap_err(), read_csv(&path, &opts).unwrap_err())
        });
        for err in [streamed, whole] {
            match err {
                MlError::Csv { line, message, .. } => {
                    assert_eq!(line, 6, "{threads} threads: {message}");
                    assert!(message.contains("'c'"), "{message}");
                }
                other => panic!("{other:?}"),
            }
        }
    }
}

#[test]
fn text_that_is_not_utf8_is_named_by_line_and_column_and_other_text_reads_as_is() {
    let dir = tempfile::tempdir().unwrap();
    let schema = Arc::new(Schema::new(vec![
        Field::new("n", DataType::Int64, true),
        Field::new("s", DataType::Utf8, true),
    ]));
    let opts = CsvReadOptions::default().schema(schema).batch_size(4);
    // Valid text (ASCII, multi-byte, nulls) reads back unchanged.
    let good = dir.path().join("good.csv");
    std::fs::write(&good, "n,s\n1,caf\u{e9}\n2,\n3,\u{1F600}x\n4,NA\n5,plain\n").unwrap();
    let ds = read_csv(&good, &opts).unwrap();
    let expected = vec![
        Some("caf\u{e9}".to_string()),
        None,
        Some("\u{1F600}x".to_string()),
        None,
        Some("plain".to_string()),
    ];
    assert_eq!(strings(&ds, "s"), expected);
    // A lone byte 0xff on line 4; and, on lines 3 and 4 of another file, the two bytes of
    // 'é' split between two fields (each invalid, though the column's bytes end to end are
    // valid UTF-8): the first bad field is named.
    let cases: [(&str, &[u8], usize); 2] = [
        ("ff.csv", b"n,s\n1,a\n2,b\n3,\xffc\n4,d\n", 4),
        ("split.csv", b"n,s\n1,a\n2,x\xc3\n3,\xa9y\n4,d\n", 3),
    ];
    for (name, bytes, bad_line) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let streamed = csv_batches(&path, &opts)
            .unwrap()
            .find_map(|b| b.err())
            .unwrap();
        for err in [streamed, read_csv(&path, &opts).unwrap_err()] {
            match err {
                MlError::Csv { line, message, .. } => {
                    assert_eq!(line, bad_line, "{name}: {message}");
                    assert!(
                        message.contains("'s'") && message.contains("not valid UTF-8"),
                        "{message}"
                    );
                }
                other => panic!("{other:?}"),
            }
        }
    }
}
