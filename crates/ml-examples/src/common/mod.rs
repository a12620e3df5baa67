//! Code shared by the examples: command-line flags, SQL through DataFusion, HTML reports with
//! SVG charts, progress bars and phase timings.

pub mod chart;
pub mod data;
pub mod report;
pub mod sql;

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub use report::Report;
pub use sql::Sql;

/// The error type of the examples: anything that can be displayed.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;
/// Result alias of the examples.
pub type Result<T> = std::result::Result<T, BoxError>;

/// Flags every example takes.
#[derive(Debug, Clone, clap::Args)]
pub struct CommonArgs {
    /// Directory (or file) with the input data; defaults to the sample shipped under
    /// `examples/data/`.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Where to write `index.html` and its files; defaults to `reports/<example>/`.
    #[arg(long, value_name = "DIR")]
    pub report_dir: Option<PathBuf>,
    /// Fewer rounds and folds: a fast run for tests and debug builds.
    #[arg(long)]
    pub quick: bool,
}

impl CommonArgs {
    /// The data directory or file: `--data`, or `examples/data/<default>` in this repository.
    pub fn data_path(&self, default: &str) -> PathBuf {
        self.data
            .clone()
            .unwrap_or_else(|| repo_path("examples/data").join(default))
    }

    /// The report directory: `--report-dir`, or `reports/<example>` under the current directory.
    pub fn report_dir(&self, example: &str) -> PathBuf {
        self.report_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("reports").join(example))
    }

    /// True when the default sample data is used (no `--data`).
    pub fn is_sample(&self) -> bool {
        self.data.is_none()
    }
}

/// A path inside this repository (relative to the root `Cargo.toml`, two levels above this
/// crate's).
pub fn repo_path(rel: &str) -> PathBuf {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    crate_dir
        .parent()
        .and_then(Path::parent)
        .unwrap_or(crate_dir)
        .join(rel)
}

/// Wall-clock seconds and peak RSS per named phase, in the order they ran.
#[derive(Debug, Default)]
pub struct Timings {
    /// Each phase's name, wall time and the peak RSS at its end.
    phases: Vec<(String, Duration, Option<u64>)>,
    start: Option<Instant>,
}

/// The process's peak resident set size so far, in bytes (`VmHWM` in `/proc/self/status`);
/// `None` where the system does not report it (not Linux).
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

impl Timings {
    /// Starts the clock for the whole run.
    pub fn new() -> Self {
        Timings {
            phases: Vec::new(),
            start: Some(Instant::now()),
        }
    }

    /// Runs `f` and records its wall time under `name`, and the process's peak RSS at its end
    /// (both logged to stderr).
    pub fn phase<T>(&mut self, name: &str, f: impl FnOnce() -> T) -> T {
        let t0 = Instant::now();
        let out = f();
        let dt = t0.elapsed();
        let peak = peak_rss_bytes();
        match peak {
            Some(b) => eprintln!(
                "[{name}: {:.3} s, peak RSS so far {:.0} MB]",
                dt.as_secs_f64(),
                b as f64 / 1e6
            ),
            None => eprintln!("[{name}: {:.3} s]", dt.as_secs_f64()),
        }
        self.phases.push((name.to_string(), dt, peak));
        out
    }

    /// The process's peak RSS in MB (10^6 bytes) at the end of each phase, as a JSON object
    /// `{name: MB}`, plus `total` (the peak at the time of the call); empty where the system does
    /// not report it. The peak only grows, so the phase where it jumps is the one that used
    /// the memory.
    pub fn peak_rss_json(&self) -> serde_json::Value {
        let mb = |b: u64| serde_json::json!(round(b as f64 / 1e6, 1));
        let mut m = serde_json::Map::new();
        for (name, _, peak) in &self.phases {
            if let Some(b) = peak {
                m.insert(name.clone(), mb(*b));
            }
        }
        if let Some(b) = peak_rss_bytes() {
            m.insert("total".into(), mb(b));
        }
        serde_json::Value::Object(m)
    }

    /// Seconds since `new`.
    pub fn total(&self) -> f64 {
        self.start.map(|s| s.elapsed().as_secs_f64()).unwrap_or(0.0)
    }

    /// The phases as a JSON object `{name: seconds}` (rounded to ms), plus `total`.
    pub fn to_json(&self) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        for (name, d, _) in &self.phases {
            m.insert(name.clone(), serde_json::json!(round(d.as_secs_f64(), 3)));
        }
        m.insert("total".into(), serde_json::json!(round(self.total(), 3)));
        serde_json::Value::Object(m)
    }

    /// The phases as rows `(name, seconds)`.
    pub fn rows(&self) -> Vec<(String, f64)> {
        self.phases
            .iter()
            .map(|(n, d, _)| (n.clone(), d.as_secs_f64()))
            .collect()
    }
}

/// Rounds to `digits` decimals (for printing figures).
pub fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

/// A progress bar on stderr, hidden when stderr is not a terminal (tests, pipes, CI).
pub fn progress(len: u64, message: &str) -> ProgressBar {
    let pb = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    if !std::io::stderr().is_terminal() {
        pb.set_draw_target(ProgressDrawTarget::hidden());
    }
    if let Ok(style) =
        ProgressStyle::with_template("{msg:>28} [{bar:30}] {pos}/{len} ({elapsed_precise})")
    {
        pb.set_style(style.progress_chars("=> "));
    }
    pb.set_message(message.to_string());
    pb
}

/// A spinner for a step of unknown length, hidden when stderr is not a terminal.
pub fn spinner(message: &str) -> ProgressBar {
    let pb = ProgressBar::new_spinner();
    if std::io::stderr().is_terminal() {
        pb.enable_steady_tick(Duration::from_millis(120));
    } else {
        pb.set_draw_target(ProgressDrawTarget::hidden());
    }
    pb.set_message(message.to_string());
    pb
}

/// Writes a section title to `out` (the terminal, in the examples).
pub fn title(out: &mut dyn Write, text: &str) -> Result<()> {
    writeln!(out, "\n== {text} ==")?;
    Ok(())
}

/// Lists the files of a directory whose names end with `suffix`, sorted by name.
pub fn files_with_suffix(dir: &Path, suffix: &str) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot list '{}': {e}", dir.display()))?;
    for entry in entries {
        let path = entry
            .map_err(|e| format!("cannot list '{}': {e}", dir.display()))?
            .path();
        if path.is_file()
            && path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with(suffix))
        {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

/// Checks a tool's `--threads`: 1 up to [`ml_core::threads::MAX_THREADS`] (the library's 0,
/// "the current pool", means nothing on a command line, so it is refused rather than read as
/// 1 or as every core).
pub fn check_threads(threads: usize) -> ml_core::Result<usize> {
    if (1..=ml_core::threads::MAX_THREADS).contains(&threads) {
        Ok(threads)
    } else {
        Err(ml_core::MlError::param(
            "--threads",
            format!(
                "must be in [1, {}], got {threads}",
                ml_core::threads::MAX_THREADS
            ),
        ))
    }
}
