//! The one thread-pool helper: what `n_threads` means for every stage of the workspace.
//!
//! Every stage with an `n_threads` parameter runs its parallel work through [`install`]:
//!
//! * `n_threads = 0`: the current rayon pool as it is (rayon's global pool, sized by
//!   `RAYON_NUM_THREADS` or the number of cores, or the pool of the caller when it already runs
//!   inside one, e.g. ml-eval's `CrossValidator` running fits in parallel).
//! * `n_threads = n >= 1`: the work runs on `n` threads. When the current pool already has
//!   exactly `n` threads it is used as it is (its threads are warm, and nothing new is started);
//!   otherwise the work runs in a pool of `n` threads that is built on first use and kept for
//!   the life of the process, so repeated fits and transforms do not pay for new threads (and
//!   their allocator arenas) each time.
//!
//! Either way `f` itself runs on one of the pool's threads, so the parallel steps inside it are
//! scheduled within that pool. Results never depend on the number of threads: every stage
//! reduces in a fixed order.
//!
//! ```
//! use rayon::prelude::*;
//! use ml_core::threads;
//!
//! let sum = |n| threads::install(n, || {
//!     assert_eq!(rayon::current_num_threads(), if n == 0 { threads::current_num_threads() } else { n });
//!     (0..1000u64).into_par_iter().sum::<u64>()
//! });
//! assert_eq!(sum(1).unwrap(), 499_500);
//! assert_eq!(sum(3).unwrap(), 499_500);
//! assert_eq!(sum(0).unwrap(), 499_500);
//! ```

use std::sync::{Arc, Mutex, OnceLock};

use crate::error::{MlError, Result};

/// The largest `n_threads` any stage accepts. Pools are kept for the life of the process, so
/// a mistyped count (100000 for 10) would otherwise start that many threads and keep them.
pub const MAX_THREADS: usize = 1024;

/// Checks a thread-count parameter: 0 (the current pool) up to [`MAX_THREADS`]; the error is
/// an [`MlError::InvalidParam`] naming `param` and the allowed range.
pub fn check_n_threads(param: &str, n_threads: usize) -> Result<()> {
    if n_threads > MAX_THREADS {
        return Err(MlError::param(
            param,
            format!("must be in [0, {MAX_THREADS}] (0 = the current pool), got {n_threads}"),
        ));
    }
    Ok(())
}

/// The kept pools: `(number of threads, pool)`.
type Pools = Vec<(usize, Arc<rayon::ThreadPool>)>;

/// Pools of a given size, built on first use and kept.
static POOLS: OnceLock<Mutex<Pools>> = OnceLock::new();

/// Number of threads of the current rayon pool (the caller's pool, or the global one).
pub fn current_num_threads() -> usize {
    rayon::current_num_threads()
}

/// The number of threads `n_threads` stands for: `n_threads` itself, or the size of the
/// current pool when it is 0.
pub fn effective_num_threads(n_threads: usize) -> usize {
    if n_threads == 0 {
        current_num_threads()
    } else {
        n_threads
    }
}

/// The kept pool of `n` threads, built when first asked for.
fn pool_of(n: usize) -> Result<Arc<rayon::ThreadPool>> {
    let mut pools = POOLS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if let Some((_, p)) = pools.iter().find(|(k, _)| *k == n) {
        return Ok(p.clone());
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .thread_name(move |i| format!("ml-pool{n}-{i}"))
        .build()
        .map_err(|e| {
            MlError::param(
                "n_threads",
                format!("cannot start a pool of {n} threads: {e}"),
            )
        })?;
    let pool = Arc::new(pool);
    pools.push((n, pool.clone()));
    Ok(pool)
}

/// Runs `f` on `n_threads` threads (0: the current pool); see the [module docs](self).
///
/// Errors only when `n_threads` exceeds [`MAX_THREADS`] or a pool of `n_threads` threads
/// cannot be started ([`MlError::InvalidParam`] naming `n_threads`).
pub fn install<R: Send>(n_threads: usize, f: impl FnOnce() -> R + Send) -> Result<R> {
    check_n_threads("n_threads", n_threads)?;
    if n_threads == 0 || n_threads == rayon::current_num_threads() {
        return Ok(rayon::scope(|_| f()));
    }
    Ok(pool_of(n_threads)?.install(f))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rayon::prelude::*;

    /// A parallel computation whose result would change with the reduction order if it were
    /// not fixed: the floating-point sum of many values of very different magnitudes, reduced
    /// in fixed chunks.
    fn chunked_sum() -> f64 {
        let v: Vec<f64> = (0..100_000)
            .map(|i: i32| ((i * 7919) % 1000) as f64 * 10f64.powi(i % 13 - 6))
            .collect();
        let parts: Vec<f64> = v.par_chunks(1024).map(|c| c.iter().sum::<f64>()).collect();
        parts.iter().sum()
    }

    #[test]
    fn same_result_at_one_two_and_three_threads() {
        let one = install(1, chunked_sum).unwrap();
        for n in [2, 3] {
            let (got, threads) =
                install(n, || (chunked_sum(), rayon::current_num_threads())).unwrap();
            assert_eq!(threads, n);
            assert_eq!(got.to_bits(), one.to_bits(), "{n} threads");
        }
        assert_eq!(install(0, chunked_sum).unwrap().to_bits(), one.to_bits());
    }

    #[test]
    fn zero_uses_the_current_pool_and_a_matching_size_reuses_it() {
        let outer = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .thread_name(|i| format!("outer-{i}"))
            .build()
            .unwrap();
        let name = || std::thread::current().name().unwrap_or("").to_string();
        let (zero, same, other) = outer.install(|| {
            let zero = install(0, || (rayon::current_num_threads(), name())).unwrap();
            let same = install(3, || (rayon::current_num_threads(), name())).unwrap();
            let other = install(2, || (rayon::current_num_threads(), name())).unwrap();
            (zero, same, other)
        });
        assert_eq!(zero.0, 3);
        assert!(zero.1.starts_with("outer-"), "{}", zero.1);
        assert_eq!(same.0, 3);
        assert!(same.1.starts_with("outer-"), "{}", same.1);
        assert_eq!(other.0, 2);
        assert!(other.1.starts_with("ml-pool2-"), "{}", other.1);
    }

    #[test]
    fn an_absurd_thread_count_is_refused_before_any_thread_starts() {
        let e = install(MAX_THREADS + 1, || ()).unwrap_err();
        assert!(matches!(e, MlError::InvalidParam { ref param, .. } if param == "n_threads"));
        assert_eq!(
            e.to_string(),
            "parameter 'n_threads': must be in [0, 1024] (0 = the current pool), got 1025"
        );
        assert!(check_n_threads("parallelism", 1_000_000)
            .unwrap_err()
            .to_string()
            .contains("'parallelism'"));
        assert!(check_n_threads("n_threads", MAX_THREADS).is_ok());
        assert!(check_n_threads("n_threads", 0).is_ok());
    }

    #[test]
    fn pools_are_kept_per_size() {
        let a = pool_of(4).unwrap();
        let b = pool_of(4).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(effective_num_threads(5), 5);
        assert_eq!(effective_num_threads(0), current_num_threads());
    }
}
