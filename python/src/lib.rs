//! # ml-spark
//!
//! The native half of the `ml_spark` Python package: what each Spark task runs, in Rust.
//!
//! - [`train_gbt`]: one rank of a data-parallel boosted-trees fit. The task's Arrow batches come
//!   in through the Arrow C stream interface (no copy: the arrays' buffers are the ones
//!   pyarrow holds), the ranks meet in an `ml_dist::TcpRing` (job id and attempt in the
//!   handshake, a timeout on every read and write), and `GradientBoostedTrees::fit_source_with`
//!   trains on all of them: the model is the same bytes as `train_gbdt --model-out` on the same
//!   rows, at any number of workers.
//! - [`Model`]: a fitted model that scores Arrow batches (`transform` on the executors).
//! - [`pfp_conditional`] and [`pfp_mine`]: the two task-side steps of Spark's parallel
//!   FP-growth (see `ml_fpm::pfp`).
//!
//! The Python side (`ml_spark/*.py`) does the Spark plumbing: partitions, barrier tasks, peer
//! discovery, retries. Nothing here imports Spark.

mod convert;
mod gbt;
mod pfp;

use pyo3::prelude::*;

/// The module `ml_spark._native`.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<gbt::Listener>()?;
    m.add_class::<gbt::Model>()?;
    m.add_function(wrap_pyfunction!(gbt::train_gbt, m)?)?;
    m.add_function(wrap_pyfunction!(gbt::gbt_param_specs, m)?)?;
    m.add_function(wrap_pyfunction!(gbt::check_gbt_params, m)?)?;
    m.add_function(wrap_pyfunction!(pfp::pfp_conditional, m)?)?;
    m.add_function(wrap_pyfunction!(pfp::pfp_mine, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
