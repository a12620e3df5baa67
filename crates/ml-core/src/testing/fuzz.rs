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

/// A fresh directory in the temporary directory, removed with its contents when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "ml-fuzz-dir-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).expect("creating the fuzz directory");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Where [`parquet_dir_bytes`] splits its input into part files: between the closing magic
/// of one Parquet file and the opening magic of the next, so that concatenated files (the
/// seeds) come apart into whole files.
const PART_BOUNDARY: &[u8] = b"PAR1PAR1";

/// The parts of `body`: split after the first `PAR1` of each [`PART_BOUNDARY`], at most
/// `max` parts (the last keeps the rest).
fn split_parts(body: &[u8], max: usize) -> Vec<&[u8]> {
    let mut parts = Vec::new();
    let mut rest = body;
    while parts.len() + 1 < max {
        let Some(i) = rest
            .windows(PART_BOUNDARY.len())
            .position(|w| w == PART_BOUNDARY)
        else {
            break;
        };
        parts.push(&rest[..i + 4]);
        rest = &rest[i + 4..];
    }
    parts.push(rest);
    parts
}

/// Parquet reading of a Spark-style directory of part files: the first byte picks what goes
/// beside the parts (bit 0: a `_SUCCESS` marker, bit 1: `.crc` files, bit 2: hive-style
/// `part=<i>` folders, bit 3: a stray `_committed` file with the bytes, bits 4-5: how many
/// parts at most, 1 to 3); the rest is split into part files at each `PAR1PAR1` (the end of
/// one file, the start of the next). The directory is read whole ([`read_parquet`]) and in
/// batches of 3 rows ([`parquet_batches`]), which must give the same rows or both fail.
pub fn parquet_dir_bytes(data: &[u8]) {
    let Some((&flags, body)) = data.split_first() else {
        return;
    };
    let max_parts = 1 + ((flags >> 4) & 3) as usize % 3;
    let dir = TempDir::new();
    for (i, part) in split_parts(body, max_parts).into_iter().enumerate() {
        let folder = if flags & 4 != 0 {
            dir.0.join(format!("part={i}"))
        } else {
            dir.0.clone()
        };
        std::fs::create_dir_all(&folder).expect("creating a partition folder");
        let name = format!("part-{i:05}-fuzz.c000.snappy.parquet");
        std::fs::write(folder.join(&name), part).expect("writing a part file");
        if flags & 2 != 0 {
            std::fs::write(folder.join(format!(".{name}.crc")), b"crc\0\x01")
                .expect("writing a crc file");
        }
    }
    if flags & 1 != 0 {
        std::fs::write(dir.0.join("_SUCCESS"), b"").expect("writing _SUCCESS");
    }
    if flags & 8 != 0 {
        std::fs::write(dir.0.join("_committed_0"), body).expect("writing _committed");
    }
    let whole = read_parquet(&dir.0);
    let streamed = parquet_batches(&dir.0, 3).and_then(|batches| {
        let schema = batches.schema();
        let parts: Vec<_> = batches.collect::<crate::Result<_>>()?;
        crate::io::concat_batches(&schema, parts)
    });
    match (whole, streamed) {
        (Ok(w), Ok(s)) => assert_eq!(
            w.batch(),
            &s,
            "read_parquet and parquet_batches disagree on a directory"
        ),
        (Err(_), Err(_)) => {}
        (w, s) => panic!(
            "read_parquet and parquet_batches disagree on a directory: {:?} vs {:?}",
            w.map(|d| d.num_rows()),
            s.map(|b| b.num_rows())
        ),
    }
}

/// The repository's `fuzz/` directory (seed corpora, regressions), found from this crate's
/// source directory.
pub fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

/// Runs `run` on every file of a fuzz target's seed corpus (`fuzz/seeds/<target>`) and of its
/// regressions (`fuzz/regressions/<target>`), in file-name order, printing each path first (so
/// that a failing input is named); returns how many files ran. The crates' `fuzz_regressions`
/// tests replay their targets with it on stable.
pub fn replay(target: &str, run: fn(&[u8])) -> usize {
    let fuzz = fuzz_dir();
    let mut n = 0;
    for kind in ["seeds", "regressions"] {
        let Ok(entries) = std::fs::read_dir(fuzz.join(kind).join(target)) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries
            .map(|e| e.expect("listing a fuzz corpus").path())
            .collect();
        files.sort();
        for f in files {
            let bytes = std::fs::read(&f).expect("reading a fuzz input");
            eprintln!("{}", f.display());
            run(&bytes);
            n += 1;
        }
    }
    n
}
