//! # ml-dist
//!
//! Collective operations for data-parallel training: every rank (worker) holds a part of the
//! rows, and the ranks combine what they computed — histograms, maxima, cut-point samples,
//! models — through a [`Collective`]:
//!
//! - exact integer all-reduce ([`Collective::all_reduce_sum_i64`], `_i128`): integer sums do not
//!   depend on the order of the terms, so the result is the same bits at any world size and
//!   however the rows are split (ml-tree sums fixed-point histograms this way, which makes the
//!   model independent of the number of workers);
//! - max all-reduce for `f64` (IEEE total order) and `i64`;
//! - all-gather of byte buffers, returned in rank order; broadcast of bytes from a root.
//!
//! Three implementations:
//!
//! - [`LocalCollective`]: one rank, every operation the identity (single-node training);
//! - [`ThreadCollective`]: ranks as threads of one process, for tests;
//! - [`TcpRing`]: ranks in separate processes or machines, in a ring over TCP, with a handshake
//!   that refuses stray connections and a timeout on every read and write.
//!
//! `ThreadCollective` and `TcpRing` run the same ring algorithms: all-reduce as a reduce-scatter
//! followed by an all-gather (each rank sends and receives about twice the buffer, whatever the
//! world size); all-gather forwarding blocks around the ring; broadcast relaying the root's bytes
//! around the ring.
//!
//! Every rank must make the same calls in the same order with buffers of the same length; a rank
//! that does not makes the others fail with [`DistError::Mismatch`] (or a timeout). After any
//! failure a collective is broken and refuses further calls ([`DistError::Broken`]).
//!
//! ```
//! use ml_dist::{Collective, ThreadCollective};
//!
//! // Four workers, each holding a quarter of the rows' integer values.
//! let rows: Vec<i64> = (1..=100).collect();
//! let group = ThreadCollective::group(4)?;
//! let sums = std::thread::scope(|s| {
//!     let handles: Vec<_> = group
//!         .iter()
//!         .map(|rank| {
//!             let rows = &rows;
//!             s.spawn(move || {
//!                 let mine = rows.iter().skip(rank.rank()).step_by(rank.world_size());
//!                 let mut histogram = [0i64; 2]; // [sum of odd values, sum of even values]
//!                 for &v in mine {
//!                     histogram[(v % 2 == 0) as usize] += v;
//!                 }
//!                 rank.all_reduce_sum_i64(&mut histogram)?;
//!                 Ok::<_, ml_dist::DistError>(histogram)
//!             })
//!         })
//!         .collect();
//!     handles.into_iter().map(|h| h.join().unwrap()).collect::<Result<Vec<_>, _>>()
//! })?;
//! // Every rank holds the total: 2500 for the odd values, 2550 for the even ones.
//! assert!(sums.iter().all(|h| *h == [2500, 2550]));
//! # Ok::<(), ml_dist::DistError>(())
//! ```
#![deny(missing_docs)]

use std::time::Duration;

mod error;
mod establish;
mod frame;
mod handshake;
mod local;
mod ring;
mod tcp;
mod thread;

pub use error::{DistError, Peer, Result};
pub use local::LocalCollective;
pub use tcp::{TcpRing, TcpRingConfig, DEFAULT_CONNECT_TIMEOUT};
pub use thread::ThreadCollective;

/// How long a rank waits for a peer in one read or write, unless configured otherwise (30 s).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The operations data-parallel training needs, run by every rank of a group together.
///
/// Each call is collective: every rank of the group must make it, in the same order, with
/// buffers of the same length (the data may differ). The methods take `&self` so that a
/// collective can be shared by reference; calls from several threads of one rank are serialized
/// and must still follow the same order on every rank.
///
/// Errors name this rank and the peer at fault; after one, the collective refuses further calls.
pub trait Collective: Send + Sync {
    /// This rank, in `0..world_size()`.
    fn rank(&self) -> usize;

    /// Number of ranks in the group.
    fn world_size(&self) -> usize;

    /// Replaces `values` on every rank by the element-wise sum over all ranks.
    ///
    /// Exact: when the true sum of an element fits in `i64` the result is that sum, bit for bit
    /// the same at any world size and in any order of the ranks. (Sums that overflow wrap
    /// around modulo 2^64, again identically everywhere; size fixed-point scales so that they do
    /// not, or use [`Collective::all_reduce_sum_i128`].)
    fn all_reduce_sum_i64(&self, values: &mut [i64]) -> Result<()>;

    /// Replaces `values` on every rank by the element-wise sum over all ranks, in `i128` (same
    /// exactness as [`Collective::all_reduce_sum_i64`], modulo 2^128).
    fn all_reduce_sum_i128(&self, values: &mut [i128]) -> Result<()>;

    /// Replaces `values` on every rank by the element-wise maximum over all ranks, in IEEE 754
    /// total order (`f64::total_cmp`): `+0.0` beats `-0.0`, a positive NaN beats every number.
    fn all_reduce_max_f64(&self, values: &mut [f64]) -> Result<()>;

    /// Replaces `values` on every rank by the element-wise maximum over all ranks.
    fn all_reduce_max_i64(&self, values: &mut [i64]) -> Result<()>;

    /// Every rank's `data`, in rank order (entry `r` is rank `r`'s); lengths may differ between
    /// ranks.
    fn all_gather(&self, data: &[u8]) -> Result<Vec<Vec<u8>>>;

    /// The `data` of rank `root`, on every rank (the other ranks' `data` is ignored; pass an
    /// empty slice).
    fn broadcast(&self, root: usize, data: &[u8]) -> Result<Vec<u8>>;

    /// Returns once every rank has called it (an all-gather of nothing).
    fn barrier(&self) -> Result<()> {
        self.all_gather(&[]).map(|_| ())
    }
}
