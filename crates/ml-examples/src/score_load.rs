//! `score_load`: the HTTP service under load, from a second process. Starts `score_service`
//! on 127.0.0.1 (a free port), sends a bounded number of `POST /score` requests over
//! keep-alive connections at each concurrency level, stops the service with SIGTERM and checks
//! that it exits cleanly, then reports throughput and latency percentiles.
//!
//! ```text
//! cargo build --release --example score_service --example score_load
//! target/release/examples/score_load --model loan_model.json --data loan_rows.csv \
//!     --requests 20000 --connections 1,8,64
//! ```
//!
//! Each request body is one row of `--data` as a JSON object (or `--rows-per-request` rows as
//! an array). The closing JSON line holds one entry per level: `connections`, `requests`,
//! `errors` (any answer but 200), `rps`, `p50_ms`, `p99_ms`, `max_ms`.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hyper::body::Bytes;
use ml_core::row::{Row, RowValue};
use serde_json::{json, Map, Value};

use crate::common::{self, Result};
use crate::score_bench::percentiles;
use crate::score_service::{AsyncClient, Client};
use crate::Summary;

/// The flags of `examples/score_load.rs`.
#[derive(Debug, Clone, clap::Parser)]
#[command(about = "Load test of score_service from a second process")]
pub struct Args {
    /// The saved pipeline model the service loads.
    #[arg(long)]
    pub model: PathBuf,
    /// Rows to send (CSV or Parquet with the pipeline's input columns).
    #[arg(long)]
    pub data: PathBuf,
    /// Requests per concurrency level.
    #[arg(long, default_value_t = 20_000)]
    pub requests: usize,
    /// Concurrency levels: connections sending at once, comma-separated.
    #[arg(long, default_value = "1,8,64", value_delimiter = ',')]
    pub connections: Vec<usize>,
    /// Rows per request (1: a JSON object; more: an array).
    #[arg(long, default_value_t = 1)]
    pub rows_per_request: usize,
    /// The service binary; defaults to `score_service` beside this one.
    #[arg(long)]
    pub service_bin: Option<PathBuf>,
    /// Runtime threads of the service (0: one per core).
    #[arg(long, default_value_t = 0)]
    pub service_threads: usize,
}

/// One concurrency level's figures.
#[derive(Debug, Clone)]
struct Level {
    connections: usize,
    requests: usize,
    errors: usize,
    seconds: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

/// Runs the load test; the closing JSON line holds the figures per level.
pub fn run(args: &Args, out: &mut dyn Write) -> Result<Summary> {
    let data = ml_core::io::read_table(&args.data, &ml_core::io::ReadOptions::new())?;
    let per = args.rows_per_request.max(1);
    let n_rows = data.num_rows().min(5000);
    if n_rows == 0 {
        return Err(format!("--data: '{}' has no rows", args.data.display()).into());
    }
    let objects: Vec<Value> = (0..n_rows)
        .map(|i| Row::from_dataset(&data, i).map(|r| row_json(&r)))
        .collect::<ml_core::Result<_>>()?;
    let bodies: Vec<Bytes> = (0..n_rows)
        .map(|i| {
            if per == 1 {
                objects[i].to_string()
            } else {
                Value::Array(
                    (0..per)
                        .map(|k| objects[(i + k) % n_rows].clone())
                        .collect(),
                )
                .to_string()
            }
        })
        .map(Bytes::from)
        .collect();

    let bin = match &args.service_bin {
        Some(b) => b.clone(),
        None => std::env::current_exe()?
            .with_file_name(format!("score_service{}", std::env::consts::EXE_SUFFIX)),
    };
    let mut child = Command::new(&bin)
        .arg("--model")
        .arg(&args.model)
        .args(["--addr", "127.0.0.1:0"])
        .args(["--threads", &args.service_threads.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("starting '{}': {e}", bin.display()))?;
    let mut lines = BufReader::new(child.stdout.take().ok_or("no stdout")?).lines();
    let first = lines.next().ok_or("the service ended before listening")??;
    let addr: SocketAddr = first
        .strip_prefix("listening on http://")
        .ok_or_else(|| format!("unexpected first line from the service: {first}"))?
        .parse()?;
    writeln!(
        out,
        "service pid {} on {addr}; {} requests per level, {per} row(s) each",
        child.id(),
        args.requests
    )?;

    // Warm-up.
    let mut c = Client::connect(addr)?;
    for b in bodies.iter().take(500) {
        let r = c.request("POST", "/score", b)?;
        if r.status != 200 {
            return Err(format!("warm-up request answered {}: {}", r.status, r.body).into());
        }
    }
    drop(c);

    let mut levels = Vec::new();
    for &conns in &args.connections {
        let level = load(addr, &bodies, conns.max(1), args.requests)?;
        writeln!(
            out,
            "{:>4} connections: {:>6} requests, {:>3} errors, {:>8.0} req/s, p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
            level.connections,
            level.requests,
            level.errors,
            level.requests as f64 / level.seconds,
            level.p50_ms,
            level.p99_ms,
            level.max_ms
        )?;
        levels.push(level);
    }

    // Graceful stop: SIGTERM, then the service's own closing line.
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()?;
    if !status.success() {
        let _ = child.kill();
        return Err("could not send SIGTERM to the service".into());
    }
    let mut last = String::new();
    for l in lines {
        last = l?;
    }
    let exit = wait_with_timeout(&mut child, Duration::from_secs(20))?;
    writeln!(out, "service stopped: {exit}; its last line: {last}")?;
    let served: Value = serde_json::from_str(&last).unwrap_or(Value::Null);
    Ok(Summary::new(json!({
        "levels": levels.iter().map(|l| json!({
            "connections": l.connections,
            "requests": l.requests,
            "errors": l.errors,
            "rps": common::round(l.requests as f64 / l.seconds, 0),
            "p50_ms": common::round(l.p50_ms, 3),
            "p99_ms": common::round(l.p99_ms, 3),
            "max_ms": common::round(l.max_ms, 3),
        })).collect::<Vec<_>>(),
        "rows_per_request": per,
        "service_exit": exit,
        "service_requests": served.get("requests").cloned().unwrap_or(Value::Null),
    })))
}

/// `total` requests over `conns` connections at once, each connection sending its share in
/// turn (a closed loop: the next request leaves when the answer is in) and timing each answer.
/// All connections are driven by one client thread (a current-thread tokio runtime), so the
/// client takes at most one of the cores the service runs on.
fn load(addr: SocketAddr, bodies: &[Bytes], conns: usize, total: usize) -> Result<Level> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let start = Instant::now();
    let results: Vec<std::io::Result<(Vec<f64>, usize)>> = runtime.block_on(async {
        let tasks: Vec<_> = (0..conns)
            .map(|t| {
                let mine: Vec<Bytes> = (t..total)
                    .step_by(conns)
                    .map(|i| bodies[i % bodies.len()].clone())
                    .collect();
                tokio::spawn(async move {
                    let mut client = AsyncClient::connect(addr).await?;
                    let mut lat = Vec::with_capacity(mine.len());
                    let mut errors = 0;
                    for body in mine {
                        let t0 = Instant::now();
                        let r = client.post("/score", body).await?;
                        lat.push(t0.elapsed().as_secs_f64() * 1e3);
                        errors += usize::from(r.status != 200);
                    }
                    Ok((lat, errors))
                })
            })
            .collect();
        let mut out = Vec::with_capacity(tasks.len());
        for t in tasks {
            out.push(t.await.unwrap_or_else(|e| Err(std::io::Error::other(e))));
        }
        out
    });
    let seconds = start.elapsed().as_secs_f64();
    let mut lat = Vec::with_capacity(total);
    let mut errors = 0;
    for r in results {
        let (l, e) = r?;
        lat.extend(l);
        errors += e;
    }
    let max_ms = lat.iter().copied().fold(0.0, f64::max);
    let (p50_ms, p99_ms, _) = percentiles(&mut lat);
    Ok(Level {
        connections: conns,
        requests: lat.len(),
        errors,
        seconds,
        p50_ms,
        p99_ms,
        max_ms,
    })
}

/// A row as the JSON object a client sends.
pub fn row_json(row: &Row) -> Value {
    let mut m = Map::new();
    for (name, v) in row.values() {
        let j = match v {
            RowValue::Null => Value::Null,
            RowValue::Number(x) => json!(x),
            RowValue::Text(s) => json!(s),
            RowValue::Vector(x) => json!(x),
        };
        m.insert(name.clone(), j);
    }
    Value::Object(m)
}

fn wait_with_timeout(child: &mut std::process::Child, limit: Duration) -> Result<String> {
    let start = Instant::now();
    loop {
        if let Some(s) = child.try_wait()? {
            return Ok(if s.success() {
                "ok".into()
            } else {
                format!("{s}")
            });
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return Ok("killed after 20 s (did not stop on SIGTERM)".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
