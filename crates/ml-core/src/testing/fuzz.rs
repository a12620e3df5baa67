//! What the fuzz targets in `fuzz/` run, and the regression tests replay on stable: each
//! function feeds arbitrary bytes to a reader and returns normally whatever they hold. An
//! error is a fine answer; a panic, an abort, a hang or an unbounded allocation is a bug.
//! Where two ways of reading must agree, a disagreement panics too.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::io::{
    csv_batches, infer_csv_schema, parquet_batches, read_csv, read_parquet, CsvReadOptions,
};
use crate::persist;

/// A file in the temporary directory holding `bytes`, removed when dropped.
struct TempInput(PathBuf);

impl TempInput {
    fn new(ext: &str, bytes: &[u8]) -> TempInput {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "ml-fuzz-{}-{}.{ext}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&path, bytes).expect("writing the fuzz input");
        TempInput(path)
    }
}

impl Drop for TempInput {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// CSV reading: the first byte picks options (no header, inference from 2 rows, small size
/// limits, `;` as delimiter, batches of 3 rows), the rest is the file. Reading it whole and
/// in batches must give the same rows, or both fail.
pub fn csv_bytes(data: &[u8]) {
    let Some((&flags, body)) = data.split_first() else {
        return;
    };
    let input = TempInput::new("csv", body);
    let mut opts = CsvReadOptions::default().batch_size(3);
    if flags & 1 != 0 {
        opts = opts.has_header(false);
    }
    if flags & 2 != 0 {
        opts = opts.infer_rows(Some(2));
    }
    if flags & 4 != 0 {
        opts = opts.max_field_bytes(64).max_record_bytes(256);
    }
    if flags & 8 != 0 {
        opts = opts.delimiter(b';');
    }
    let _ = infer_csv_schema(&input.0, &opts);
    let whole = read_csv(&input.0, &opts);
    let streamed = csv_batches(&input.0, &opts).and_then(|batches| {
        let schema = batches.schema();
        let parts: Vec<_> = batches.collect::<crate::Result<_>>()?;
        crate::io::concat_batches(&schema, parts)
    });
    match (whole, streamed) {
        (Ok(w), Ok(s)) => assert_eq!(w.batch(), &s, "read_csv and csv_batches disagree"),
        (Err(_), Err(_)) => {}
        (w, s) => panic!(
            "read_csv and csv_batches disagree: {:?} vs {:?}",
            w.map(|d| d.num_rows()),
            s.map(|b| b.num_rows())
        ),
    }
}

/// Model loading: the bytes as a model file ([`persist::load`]) and, when they are UTF-8, as
/// a document ([`persist::from_json`]). A model that loads saves to a document that loads
/// back to the same document.
pub fn model_bytes(data: &[u8]) {
    let input = TempInput::new("json", data);
    let from_file = persist::load(&input.0);
    let Ok(text) = std::str::from_utf8(data) else {
        assert!(from_file.is_err(), "a file that is not UTF-8 loaded");
        return;
    };
    let from_text = persist::from_json(text, Path::new("fuzz.json"));
    assert_eq!(
        from_file.is_ok(),
        from_text.is_ok(),
        "load and from_json disagree"
    );
    if let Ok(model) = from_text {
        let saved = persist::to_json(model.as_ref()).expect("a loaded model saves");
        let again = persist::from_json(&saved, Path::new("resaved.json"))
            .unwrap_or_else(|e| panic!("a saved model does not load back: {e}"));
        assert_eq!(
            persist::to_json(again.as_ref()).expect("saves again"),
            saved,
            "a model changes across a save and a load"
        );
    }
}

/// Parquet reading: the bytes as a Parquet file, read whole ([`read_parquet`]) and in batches
/// of 3 rows ([`parquet_batches`]), which must give the same rows or both fail.
pub fn parquet_bytes(data: &[u8]) {
    let input = TempInput::new("parquet", data);
    let whole = read_parquet(&input.0);
    let streamed = parquet_batches(&input.0, 3).and_then(|batches| {
        let schema = batches.schema();
        let parts: Vec<_> = batches.collect::<crate::Result<_>>()?;
        crate::io::concat_batches(&schema, parts)
    });
    match (whole, streamed) {
        (Ok(w), Ok(s)) => assert_eq!(w.batch(), &s, "read_parquet and parquet_batches disagree"),
        (Err(_), Err(_)) => {}
        (w, s) => panic!(
            "read_parquet and parquet_batches disagree: {:?} vs {:?}",
            w.map(|d| d.num_rows()),
            s.map(|b| b.num_rows())
        ),
    }
}
