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

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

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

/// Whether some [`KeepPolling`] guard's pollers run (at most one at a time in the process).
static POLLING: AtomicBool = AtomicBool::new(false);

/// While alive, the other threads of the current pool poll for work instead of going to sleep
/// between parallel steps (made by [`keep_polling`]).
///
/// A loop of many short parallel steps separated by short serial ones (growing a tree level by
/// level, on small nodes) otherwise pays, at every step, for the idle threads to be woken: on a
/// virtual machine that is tens of microseconds, as long as the step itself. OpenMP runtimes,
/// which XGBoost uses, spin the same way between parallel regions. The pollers run the pool's
/// pending jobs as soon as they appear ([`rayon::yield_now`]) and spin otherwise, so they use
/// their cores fully while the guard lives: keep it only around such a loop. Results do not
/// change (no stage depends on which thread runs a job).
///
/// Dropping the guard (also on an early return or a panic) ends the polling; a poller that
/// finds no work for a few milliseconds returns before that, so a poller never holds anything
/// up for longer (see [`keep_polling`]).
#[derive(Debug)]
#[must_use = "the polling stops when the guard is dropped"]
pub struct KeepPolling {
    /// Set when the guard is dropped; the pollers return when they see it.
    done: Option<Arc<AtomicBool>>,
}

/// Makes the current pool's other threads poll for work until the returned guard is dropped
/// (see [`KeepPolling`]).
///
/// Does nothing (the guard is inert) outside a rayon pool, in a pool of one thread, or while
/// another guard is alive anywhere in the process: pollers of two guards could each wait,
/// spinning, for the other's work to finish. Otherwise it returns once the pool's other threads
/// poll, or after 2 ms: a thread still busy with other work by then does not poll under this
/// guard. A thread that was inside a job of other work (waiting in it for a nested step) polls
/// on top of that job, which then goes on only when the guard is dropped or the poller has
/// found no work for a few milliseconds: keep a guard to one stretch of short steps (the
/// boosting rounds take one per round), not around long work.
///
/// ```
/// use rayon::prelude::*;
/// use ml_core::threads;
///
/// let total = threads::install(2, || {
///     let _polling = threads::keep_polling();
///     (0..100u64)
///         .map(|step| (0..1000u64).into_par_iter().map(|i| i * step).sum::<u64>())
///         .sum::<u64>()
/// });
/// assert_eq!(total.unwrap(), 4950 * 499_500);
/// ```
pub fn keep_polling() -> KeepPolling {
    let Some(me) = rayon::current_thread_index() else {
        return KeepPolling { done: None };
    };
    let others = rayon::current_num_threads().saturating_sub(1);
    if others == 0
        || POLLING
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
    {
        return KeepPolling { done: None };
    }
    let done = Arc::new(AtomicBool::new(false));
    let gate = Arc::new(AtomicUsize::new(0));
    let (seen, joined) = (done.clone(), gate.clone());
    // Every thread of the pool gets one call; the guard's own thread returns at once.
    rayon::spawn_broadcast(move |ctx| {
        if ctx.index() == me || joined.fetch_add(1, Ordering::AcqRel) & GATE_CLOSED != 0 {
            return;
        }
        let mut idle = 0u32;
        while !seen.load(Ordering::Acquire) {
            if rayon::yield_now() == Some(rayon::Yield::Executed) {
                idle = 0;
            } else if idle < IDLE_SPINS {
                idle += 1;
                std::hint::spin_loop();
            } else {
                // A long serial stretch, or a wait that this poller holds up (it started on
                // top of a job of other work that someone waits for): back to rayon's own
                // sleep and wake-up, which cannot hold anything up.
                return;
            }
        }
    });
    // A thread busy elsewhere runs its call when it next looks for work, which may be in the
    // middle of a job of the caller's own parallel steps (waiting inside it for a nested
    // step): a poller started there would keep that job from finishing until the guard is
    // dropped, and the caller waits for the job before dropping it. So the caller waits for
    // the pollers here, before it starts any parallel step, and then closes the gate: a call
    // that runs later returns at once.
    let deadline = Instant::now() + POLLERS_START_WITHIN;
    while gate.load(Ordering::Acquire) < others && Instant::now() < deadline {
        std::hint::spin_loop();
    }
    gate.fetch_or(GATE_CLOSED, Ordering::AcqRel);
    KeepPolling { done: Some(done) }
}

/// The bit of a guard's start count set once the guard's caller goes on: pollers that start
/// after it return at once (see [`keep_polling`]).
const GATE_CLOSED: usize = 1 << (usize::BITS - 1);

/// How long [`keep_polling`] waits for the pool's other threads to start polling; a thread
/// busy with other work for longer does not poll under that guard.
const POLLERS_START_WITHIN: Duration = Duration::from_millis(2);

/// Polls without work after which a poller returns (a few milliseconds of spinning): the rest
/// of the guard's steps wake that thread as rayon does without a guard.
const IDLE_SPINS: u32 = 20_000;

impl KeepPolling {
    /// Whether this guard made threads poll (false for an inert one, see [`keep_polling`]).
    pub fn is_active(&self) -> bool {
        self.done.is_some()
    }
}

impl Drop for KeepPolling {
    fn drop(&mut self) {
        if let Some(done) = self.done.take() {
            done.store(true, Ordering::Release);
            POLLING.store(false, Ordering::Release);
        }
    }
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
    fn polling_guards_keep_results_and_never_wait_on_each_other() {
        let expect = install(1, chunked_sum).unwrap();
        // Many short parallel steps under a guard: the same sums.
        let (active, sums) = install(2, || {
            let g = keep_polling();
            let second = keep_polling();
            assert!(!second.is_active(), "one guard at a time");
            let sums: Vec<f64> = (0..50).map(|_| chunked_sum()).collect();
            (g.is_active(), sums)
        })
        .unwrap();
        assert!(active, "the only guard of this test binary's threads tests");
        assert!(sums.iter().all(|v| v.to_bits() == expect.to_bits()));
        // Guards taken by concurrent tasks of one pool (as parallel fits would), nested in
        // parallel steps: they finish, with the same sums. (Whether a guard is active depends
        // on the other tests running beside this one, so only the results are checked.)
        let nested: Vec<f64> = install(3, || {
            (0..12)
                .into_par_iter()
                .map(|_| {
                    let _g = keep_polling();
                    let mut sum = 0.0;
                    for _ in 0..5 {
                        sum = chunked_sum();
                    }
                    sum
                })
                .collect()
        })
        .unwrap();
        assert!(nested.iter().all(|v| v.to_bits() == expect.to_bits()));
        // Inert outside a pool and in a pool of one thread.
        assert!(!keep_polling().is_active());
        assert!(!install(1, keep_polling).unwrap().is_active());
    }

    /// Parallel steps with nested parallel steps, started as soon as a guard is taken: a
    /// thread of the pool may take one of them before its poller (a broadcast job) starts. The
    /// poller must then not start on top of that step (the guard's holder would wait for the
    /// step, the step for the guard to be dropped). Runs on a thread of its own, so that a
    /// deadlock fails the test instead of hanging it.
    #[test]
    fn steps_started_at_once_under_a_guard_finish() {
        let (send, receive) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(6)
                .build()
                .unwrap();
            // Until 300 of the guards were active (other tests of this binary may hold the
            // process's guard for a while meanwhile).
            let mut active = 0;
            for _ in 0..100_000 {
                if active == 300 {
                    break;
                }
                let total: u64 = pool.install(|| {
                    let g = keep_polling();
                    active += g.is_active() as usize;
                    (0..48u64)
                        .into_par_iter()
                        .map(|i| (0..64u64).into_par_iter().map(|j| i * j).sum::<u64>())
                        .sum()
                });
                assert_eq!(total, 1128 * 2016);
            }
            send.send(active).unwrap();
        });
        let active = receive
            .recv_timeout(std::time::Duration::from_secs(120))
            .expect("the steps under polling guards finish (no deadlock)");
        assert_eq!(active, 300, "guards of the test were active");
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
