//! Shared by the use-case tests: run an example's `run` function on the shipped sample data,
//! parse its closing JSON line, and open its HTML report in headless Chromium when one is
//! installed.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ml_examples::Summary;

/// What one run of an example produced.
pub struct Run {
    /// The closing JSON line (key figures).
    pub summary: serde_json::Value,
    /// Everything written to the terminal before the closing line.
    pub stdout: String,
    /// The report directory (holds `index.html`); removed when the run is dropped.
    pub report_dir: PathBuf,
    _tmp: tempfile::TempDir,
}

/// Runs an example's `run` function with `args` plus `--report-dir <temp>`, as its `main` would
/// (flags parsed by clap), capturing what it writes to the terminal.
pub fn run_example<A: clap::Parser>(
    name: &str,
    run: fn(&A, &mut dyn Write) -> ml_examples::Result<Summary>,
    args: &[&str],
) -> Run {
    let tmp = tempfile::tempdir().expect("temp dir");
    let report_dir = tmp.path().join(name);
    let mut argv: Vec<String> = std::iter::once(name)
        .chain(args.iter().copied())
        .map(str::to_string)
        .collect();
    argv.extend(["--report-dir".to_string(), report_dir.display().to_string()]);
    let parsed = A::try_parse_from(argv).unwrap_or_else(|e| panic!("{name} {args:?}: {e}"));
    let t0 = Instant::now();
    let mut out = Vec::new();
    let result = run(&parsed, &mut out);
    let stdout = String::from_utf8_lossy(&out).into_owned();
    let summary = match result {
        Ok(s) => s,
        Err(e) => panic!(
            "{name} {args:?} failed: {}\n--- output\n{stdout}",
            ml_examples::error_line(e.as_ref())
        ),
    };
    eprintln!("{name} {args:?} ran in {:.1} s", t0.elapsed().as_secs_f64());
    // The closing line is one JSON object, as the example prints it.
    let summary: serde_json::Value = serde_json::from_str(summary.line())
        .unwrap_or_else(|e| panic!("{name}: closing line is not JSON ({e}): {summary}"));
    assert_eq!(summary["example"], name, "summary names the example");
    assert!(
        report_dir.join("index.html").is_file(),
        "{name} wrote no report"
    );
    Run {
        summary,
        stdout,
        report_dir,
        _tmp: tmp,
    }
}

/// A path inside the repository (the sample data lives under `examples/data/`).
pub fn repo_path(rel: &str) -> String {
    ml_examples::common::repo_path(rel).display().to_string()
}

/// A number from the summary, by JSON pointer (e.g. "/auc").
pub fn num(run: &Run, pointer: &str) -> f64 {
    run.summary
        .pointer(pointer)
        .and_then(serde_json::Value::as_f64)
        .unwrap_or_else(|| panic!("no number at {pointer} in {}", run.summary))
}

/// Checks the report's HTML: well formed enough, local images exist, and (when Chromium is
/// installed) it loads in headless Chromium and the rendered DOM holds the title and `needles`.
pub fn check_report(run: &Run, title: &str, needles: &[&str]) {
    let index = run.report_dir.join("index.html");
    let html = std::fs::read_to_string(&index).expect("report readable");
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
    assert!(html.contains(title), "report title '{title}' missing");
    for n in needles {
        assert!(html.contains(n), "report lacks '{n}'");
    }
    // Every relative image link points at a file that exists.
    for part in html.split("<img src=\"").skip(1) {
        let src = part.split('"').next().unwrap_or_default();
        if !src.contains("://") {
            assert!(
                run.report_dir.join(src).is_file(),
                "report links a missing image '{src}'"
            );
        }
    }
    chromium_loads(&index, title);
}

fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
}

/// Opens the page in headless Chromium (`--dump-dom`); skipped with a message when no browser is
/// installed.
pub fn chromium_loads(index: &Path, title: &str) {
    let Some(browser) = chromium() else {
        eprintln!("SKIPPED: no chromium installed; the report was not opened in a browser");
        return;
    };
    let profile = tempfile::tempdir().expect("temp profile dir");
    let url = format!(
        "file://{}",
        index
            .canonicalize()
            .expect("absolute report path")
            .display()
    );
    // Output goes to files, not pipes: a full pipe would block the browser while we wait.
    let dom_path = profile.path().join("dom.html");
    let log_path = profile.path().join("chromium.log");
    let file = |p: &Path| std::fs::File::create(p).expect("output file in the temp dir");
    let mut child = Command::new(&browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(&url)
        .stdin(Stdio::null())
        .stdout(file(&dom_path))
        .stderr(file(&log_path))
        .spawn()
        .expect("chromium starts");
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        match child.try_wait().expect("wait for chromium") {
            Some(status) => break status,
            None if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("chromium did not finish loading {url} within 120 s");
            }
            None => std::thread::sleep(Duration::from_millis(100)),
        }
    };
    let dom = std::fs::read_to_string(&dom_path).unwrap_or_default();
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    assert!(status.success(), "chromium failed on {url}:\n{log}");
    assert!(
        dom.contains("<h1>") && dom.contains(title) && dom.contains("</body>"),
        "chromium rendered no report for {url}:\n{dom}\n{log}"
    );
    assert!(
        dom.contains("<svg"),
        "no SVG chart in the rendered page {url}"
    );
    for bad in ["Uncaught", "CONSOLE(", "ERR_FILE_NOT_FOUND"] {
        assert!(
            !log.contains(bad),
            "chromium reported '{bad}' loading {url}:\n{log}"
        );
    }
}
