//! `score_service`: a fitted pipeline model served over HTTP (axum on tokio).
//!
//! ```text
//! cargo run --release --example loan_risk -- --model-out loan_model.json
//! cargo run --release --example score_service -- --model loan_model.json --addr 127.0.0.1:8080
//! curl -s localhost:8080/score -d '{"loan_amnt": 5000, "term": 36, "grade": "B", ...}'
//! ```
//!
//! - `POST /score`: one JSON object of column values (answered by one object) or an array of
//!   them (answered by an array). Each answer holds the output columns (`--outputs`, default
//!   `probability,prediction`) and, with `--reasons N`, the N feature slots whose TreeSHAP
//!   contributions moved the margin most. A row a stage drops (`handle_invalid = "skip"`)
//!   answers `{"skipped": true}`.
//! - `GET /health`: status, model file and version, the input columns a row must give.
//!
//! Rows are scored by the pipeline compiled once per model version ([`ml_core::row`]), with the
//! same values as `transform`. Malformed JSON or a body that is not an object or an array is a
//! 400; a missing field, a value of the wrong type or an invalid value (under the stage's
//! `handle_invalid = "error"`) is a 422 whose JSON names the field (and the row of an array);
//! a body over `--max-body-bytes` is a 413. Every error body is
//! `{"error": "...", "field": ..., "row": ...}`.
//!
//! The model file is watched (every `--watch-ms`): a new version, written atomically (to a
//! temporary name, then renamed, as [`ml_core::persist::save`] does), is loaded and compiled
//! off the request path and swapped in; requests in flight finish with the version they
//! started with. A file that fails to load leaves the running version in service (`/health`
//! says why). SIGTERM or Ctrl-C stops accepting connections and lets requests in flight finish.
//!
//! The first line written is `listening on http://ADDR` (with the port chosen when `--addr`
//! asks for port 0); the last is the closing JSON line with the request counts.

mod client;
mod http;
mod model;

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

pub use client::{AsyncClient, Client, Reply};
pub use model::{FileStamp, LoadedModel, ModelSlot};

use crate::common::Result;
use crate::Summary;
use http::AppState;

/// The flags of `examples/score_service.rs`.
#[derive(Debug, Clone, clap::Parser)]
#[command(about = "Serve a saved pipeline model over HTTP: POST /score, GET /health")]
pub struct Args {
    /// The saved pipeline model (`loan_risk --model-out PATH`).
    #[arg(long)]
    pub model: PathBuf,
    /// Address to listen on; port 0 picks a free port (printed on the first line).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// Output columns returned per row, comma-separated.
    #[arg(long, default_value = "probability,prediction", value_delimiter = ',')]
    pub outputs: Vec<String>,
    /// TreeSHAP reasons per row (the slots moving the margin most); 0 for none.
    #[arg(long, default_value_t = 0)]
    pub reasons: usize,
    /// Largest request body in bytes; larger bodies get 413.
    #[arg(long, default_value_t = 1 << 20)]
    pub max_body_bytes: usize,
    /// How often the model file is checked for a new version, in milliseconds.
    #[arg(long, default_value_t = 250)]
    pub watch_ms: u64,
    /// Runtime worker threads (0: one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
}

/// A running service (for tests and tools that embed it): its address and a way to stop it.
#[derive(Debug)]
pub struct Service {
    /// The address it listens on.
    pub addr: SocketAddr,
    state: Arc<AppState>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Result<()>>>,
}

impl Service {
    /// Loads the model and starts serving on a thread of its own; returns once listening.
    pub fn start(args: &Args) -> Result<Service> {
        let runtime = runtime(args.threads)?;
        let state = Arc::new(state(args)?);
        let listener = runtime.block_on(tokio::net::TcpListener::bind(args.addr))?;
        let addr = listener.local_addr()?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let (st, max_body, watch) = (state.clone(), args.max_body_bytes, args.watch_ms);
        let thread = std::thread::spawn(move || -> Result<()> {
            runtime.block_on(serve(listener, st, max_body, watch, async {
                let _ = rx.await;
            }))
        });
        Ok(Service {
            addr,
            state,
            stop: Some(tx),
            thread: Some(thread),
        })
    }

    /// Requests answered by `/score` so far.
    pub fn requests(&self) -> u64 {
        self.state.requests.load(Ordering::Relaxed)
    }

    /// The model version in service.
    pub fn model_version(&self) -> u64 {
        self.state.model.current().version
    }

    /// Stops accepting connections, lets requests in flight finish, and waits.
    pub fn stop(mut self) -> Result<()> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<()> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        match self.thread.take() {
            Some(t) => t.join().map_err(|_| "the service thread panicked")?,
            None => Ok(()),
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

fn runtime(threads: usize) -> Result<tokio::runtime::Runtime> {
    if threads > ml_core::threads::MAX_THREADS {
        return Err(ml_core::MlError::param(
            "--threads",
            format!(
                "must be in [0, {}] (0 = one per core), got {threads}",
                ml_core::threads::MAX_THREADS
            ),
        )
        .into());
    }
    let mut b = tokio::runtime::Builder::new_multi_thread();
    if threads > 0 {
        b.worker_threads(threads);
    }
    Ok(b.enable_all().build()?)
}

fn state(args: &Args) -> Result<AppState> {
    Ok(AppState {
        model: ModelSlot::open(&args.model, &args.outputs, args.reasons)?,
        requests: Default::default(),
        rows: Default::default(),
        rejected: Default::default(),
    })
}

/// Serves until `shutdown` completes, watching the model file meanwhile.
async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    max_body: usize,
    watch_ms: u64,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let watcher = {
        let state = state.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(watch_ms.max(10)));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let st = state.clone();
                // Loading and compiling a model is blocking work.
                let _ = tokio::task::spawn_blocking(move || st.model.reload_if_changed()).await;
            }
        })
    };
    let app = http::router(state, max_body);
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    watcher.abort();
    Ok(served?)
}

/// Resolves on SIGTERM or Ctrl-C.
async fn termination() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = ctrl_c => {}
                }
            }
            Err(_) => ctrl_c.await,
        }
    }
    #[cfg(not(unix))]
    ctrl_c.await;
}

/// Runs the service until SIGTERM or Ctrl-C; returns the request counts.
pub fn run(args: &Args, out: &mut dyn Write) -> Result<Summary> {
    let runtime = runtime(args.threads)?;
    let state = Arc::new(state(args)?);
    let listener = runtime.block_on(tokio::net::TcpListener::bind(args.addr))?;
    let addr = listener.local_addr()?;
    {
        let m = state.model.current();
        let inputs: Vec<&str> = m.scorer.inputs().iter().map(|i| i.name.as_str()).collect();
        writeln!(out, "listening on http://{addr}")?;
        writeln!(
            out,
            "model {} (version {}), inputs: {}",
            args.model.display(),
            m.version,
            inputs.join(", ")
        )?;
        out.flush()?;
    }
    runtime.block_on(serve(
        listener,
        state.clone(),
        args.max_body_bytes,
        args.watch_ms,
        termination(),
    ))?;
    writeln!(out, "stopped")?;
    Ok(Summary::for_example(
        "score_service",
        json!({
            "addr": addr.to_string(),
            "requests": state.requests.load(Ordering::Relaxed),
            "rows": state.rows.load(Ordering::Relaxed),
            "rejected": state.rejected.load(Ordering::Relaxed),
            "model_version": state.model.current().version,
        }),
    ))
}
