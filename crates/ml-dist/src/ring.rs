//! The ring algorithms, written once over a [`Link`] (send to the next rank, receive from the
//! previous one) and shared by the in-process and the TCP transports.
//!
//! - all-reduce: reduce-scatter then all-gather over `world` chunks of the buffer (the
//!   bandwidth-optimal ring of Patarasuk and Yuan, as in Horovod/NCCL/rabit): each rank sends
//!   and receives `2 (world-1)/world` times the buffer size, whatever the world size;
//! - all-gather: `world-1` steps, each forwarding the block received in the previous step;
//! - broadcast: the payload travels from the root around the ring, `world-1` hops one after the
//!   other (latency grows with the world size; fine for the small models and cut points it
//!   carries).
//!
//! Every frame carries the operation, the call number and a check value; a frame that does not
//! match what this rank expects is a [`DistError::Mismatch`]. After any failure the ring is
//! marked broken and every later call fails with [`DistError::Broken`]: the ranks are out of
//! step and only a new ring (a new attempt) can continue.

use std::ops::Range;

use crate::error::{DistError, Peer, Result};
use crate::frame::{encode, Element, Frame, Header, Op};

/// What a rank expects the next frame from the previous rank to be.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Expect {
    /// The operation.
    pub op: Op,
    /// The call number.
    pub seq: u64,
    /// The check value.
    pub aux: u64,
    /// The payload length, when known in advance.
    pub len: Option<u64>,
}

impl Expect {
    /// Checks a received header against the expectation, naming the sender in the error.
    pub(crate) fn check(&self, rank: usize, peer: &Peer, header: &Header) -> Result<()> {
        let mismatch = |message: String| DistError::Mismatch {
            rank,
            peer: peer.clone(),
            message,
        };
        if header.op != self.op as u8 || header.seq != self.seq {
            return Err(mismatch(format!(
                "it sent {} (call #{}) while this rank is in {} (call #{}); every rank must make \
                 the same collective calls in the same order",
                Op::name_of_code(header.op),
                header.seq,
                self.op.name(),
                self.seq
            )));
        }
        if header.aux != self.aux {
            let what = match self.op {
                Op::AllGather => "block index",
                Op::Broadcast => "root",
                _ => "buffer length",
            };
            return Err(mismatch(format!(
                "{} call #{}: its {what} is {} while this rank's is {}",
                self.op.name(),
                self.seq,
                header.aux,
                self.aux
            )));
        }
        if let Some(len) = self.len {
            if header.len != len {
                return Err(mismatch(format!(
                    "{} call #{}: it sent {} bytes where {len} were expected",
                    self.op.name(),
                    self.seq,
                    header.len
                )));
            }
        }
        Ok(())
    }
}

/// A rank's connections in a ring: frames go to the next rank and come from the previous one.
pub(crate) trait Link: Send {
    /// This rank.
    fn rank(&self) -> usize;
    /// Number of ranks.
    fn world_size(&self) -> usize;
    /// Queues a frame for the next rank without waiting for the next rank to read it (so that
    /// every rank can send before it receives without deadlock).
    fn send(&mut self, op: Op, frame: Frame) -> Result<()>;
    /// Receives the next frame from the previous rank, waiting at most the link's timeout; the
    /// header is checked with [`Expect::check`] before the payload is read.
    fn recv(&mut self, expect: Expect) -> Result<Frame>;
    /// Waits until every queued frame has been handed to the transport.
    fn flush(&mut self, op: Op) -> Result<()>;
}

/// The ring state of one rank: its link, the call counter and whether an earlier call failed.
pub(crate) struct Ring<L: Link> {
    link: L,
    seq: u64,
    broken: Option<String>,
}

/// The index range of chunk `i` of `n` over `len` elements (chunks differ by at most one).
fn chunk(len: usize, n: usize, i: usize) -> Range<usize> {
    let at = |k: usize| ((k as u128 * len as u128) / n as u128) as usize;
    at(i)..at(i + 1)
}

impl<L: Link> Ring<L> {
    /// A ring over `link`, before its first call.
    pub(crate) fn new(link: L) -> Self {
        Ring {
            link,
            seq: 0,
            broken: None,
        }
    }

    /// This rank.
    pub(crate) fn rank(&self) -> usize {
        self.link.rank()
    }

    /// Number of ranks.
    pub(crate) fn world_size(&self) -> usize {
        self.link.world_size()
    }

    /// Runs one collective call: refuses it if the ring is broken, numbers it, and marks the ring
    /// broken if it fails.
    fn call<R>(&mut self, body: impl FnOnce(&mut L, u64) -> Result<R>) -> Result<R> {
        if let Some(cause) = &self.broken {
            return Err(DistError::Broken {
                rank: self.link.rank(),
                cause: cause.clone(),
            });
        }
        let seq = self.seq;
        self.seq += 1;
        let out = body(&mut self.link, seq);
        if let Err(e) = &out {
            self.broken = Some(e.to_string());
        }
        out
    }

    /// In-place all-reduce of `values` with `combine` (associative and commutative).
    pub(crate) fn all_reduce<T: Element>(
        &mut self,
        op: Op,
        values: &mut [T],
        combine: fn(&mut T, T),
    ) -> Result<()> {
        let (rank, n) = (self.rank(), self.world_size());
        let len = values.len();
        self.call(|link, seq| {
            if n == 1 {
                return Ok(());
            }
            let expect = |i: usize| Expect {
                op,
                seq,
                aux: len as u64,
                len: Some((chunk(len, n, i).len() * T::BYTES) as u64),
            };
            let send = |link: &mut L, values: &[T], i: usize| {
                let payload = encode(&values[chunk(len, n, i)]);
                let header = Header {
                    op: op as u8,
                    seq,
                    aux: len as u64,
                    len: payload.len() as u64,
                };
                link.send(op, Frame { header, payload })
            };
            // Reduce-scatter: after step s, chunk (rank - s - 1) holds s + 2 ranks' terms; after
            // world - 1 steps this rank holds the complete chunk (rank + 1) mod world.
            for s in 0..n - 1 {
                send(link, values, (rank + n - s) % n)?;
                let i = (rank + 2 * n - s - 1) % n;
                let frame = link.recv(expect(i))?;
                for (v, b) in values[chunk(len, n, i)]
                    .iter_mut()
                    .zip(frame.payload.chunks_exact(T::BYTES))
                {
                    combine(v, T::get(b));
                }
            }
            // All-gather: pass complete chunks around the ring.
            for s in 0..n - 1 {
                send(link, values, (rank + 1 + n - s) % n)?;
                let i = (rank + n - s) % n;
                let frame = link.recv(expect(i))?;
                for (v, b) in values[chunk(len, n, i)]
                    .iter_mut()
                    .zip(frame.payload.chunks_exact(T::BYTES))
                {
                    *v = T::get(b);
                }
            }
            link.flush(op)
        })
    }

    /// Every rank's `data`, in rank order.
    pub(crate) fn all_gather(&mut self, data: &[u8]) -> Result<Vec<Vec<u8>>> {
        let (rank, n) = (self.rank(), self.world_size());
        let op = Op::AllGather;
        self.call(|link, seq| {
            let mut blocks: Vec<Vec<u8>> = vec![Vec::new(); n];
            blocks[rank] = data.to_vec();
            for s in 0..n.saturating_sub(1) {
                let out = (rank + n - s) % n;
                let payload = blocks[out].clone();
                let header = Header {
                    op: op as u8,
                    seq,
                    aux: out as u64,
                    len: payload.len() as u64,
                };
                link.send(op, Frame { header, payload })?;
                let i = (rank + 2 * n - s - 1) % n;
                let frame = link.recv(Expect {
                    op,
                    seq,
                    aux: i as u64,
                    len: None,
                })?;
                blocks[i] = frame.payload;
            }
            if n > 1 {
                link.flush(op)?;
            }
            Ok(blocks)
        })
    }

    /// The root's `data` on every rank (other ranks' `data` is ignored).
    pub(crate) fn broadcast(&mut self, root: usize, data: &[u8]) -> Result<Vec<u8>> {
        let (rank, n) = (self.rank(), self.world_size());
        if root >= n {
            return Err(DistError::param(
                "root",
                format!("root {root} is not a rank; the world has ranks 0..{n}"),
            ));
        }
        let op = Op::Broadcast;
        self.call(|link, seq| {
            if n == 1 {
                return Ok(data.to_vec());
            }
            let header = |len: usize| Header {
                op: op as u8,
                seq,
                aux: root as u64,
                len: len as u64,
            };
            let payload = if rank == root {
                data.to_vec()
            } else {
                link.recv(Expect {
                    op,
                    seq,
                    aux: root as u64,
                    len: None,
                })?
                .payload
            };
            if (rank + 1) % n != root {
                let frame = Frame {
                    header: header(payload.len()),
                    payload: payload.clone(),
                };
                link.send(op, frame)?;
                link.flush(op)?;
            }
            Ok(payload)
        })
    }
}

/// Implements [`Collective`](crate::Collective) for a rank type with fields
/// `ring: Mutex<Ring<$link>>`, `rank` and `world_size`: every operation locks the ring and runs
/// the same ring algorithm, so [`ThreadCollective`](crate::ThreadCollective) and
/// [`TcpRing`](crate::TcpRing) differ only in their links.
macro_rules! ring_collective {
    ($ty:ty, $link:ty) => {
        impl $ty {
            fn with_ring<R>(
                &self,
                body: impl FnOnce(&mut $crate::ring::Ring<$link>) -> $crate::error::Result<R>,
            ) -> $crate::error::Result<R> {
                let mut ring = self
                    .ring
                    .lock()
                    .map_err(|_| $crate::error::DistError::Broken {
                        rank: self.rank,
                        cause: "a thread panicked during a collective call on this rank".into(),
                    })?;
                body(&mut ring)
            }
        }

        impl $crate::Collective for $ty {
            fn rank(&self) -> usize {
                self.rank
            }

            fn world_size(&self) -> usize {
                self.world_size
            }

            fn all_reduce_sum_i64(&self, values: &mut [i64]) -> $crate::error::Result<()> {
                use $crate::frame::{sum_i64, Op};
                self.with_ring(|r| r.all_reduce(Op::SumI64, values, sum_i64))
            }

            fn all_reduce_sum_i128(&self, values: &mut [i128]) -> $crate::error::Result<()> {
                use $crate::frame::{sum_i128, Op};
                self.with_ring(|r| r.all_reduce(Op::SumI128, values, sum_i128))
            }

            fn all_reduce_max_f64(&self, values: &mut [f64]) -> $crate::error::Result<()> {
                use $crate::frame::{max_f64, Op};
                self.with_ring(|r| r.all_reduce(Op::MaxF64, values, max_f64))
            }

            fn all_reduce_max_i64(&self, values: &mut [i64]) -> $crate::error::Result<()> {
                use $crate::frame::{max_i64, Op};
                self.with_ring(|r| r.all_reduce(Op::MaxI64, values, max_i64))
            }

            fn all_gather(&self, data: &[u8]) -> $crate::error::Result<Vec<Vec<u8>>> {
                self.with_ring(|r| r.all_gather(data))
            }

            fn broadcast(&self, root: usize, data: &[u8]) -> $crate::error::Result<Vec<u8>> {
                self.with_ring(|r| r.broadcast(root, data))
            }
        }
    };
}
pub(crate) use ring_collective;

#[cfg(test)]
mod tests {
    use super::chunk;

    #[test]
    fn chunks_cover_the_buffer() {
        for len in [0usize, 1, 3, 10, 1001] {
            for n in 1..6 {
                let ranges: Vec<_> = (0..n).map(|i| chunk(len, n, i)).collect();
                assert_eq!(ranges[0].start, 0);
                assert_eq!(ranges[n - 1].end, len);
                for w in ranges.windows(2) {
                    assert_eq!(w[0].end, w[1].start);
                }
                let sizes: Vec<usize> = ranges.iter().map(|r| r.len()).collect();
                assert!(sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1);
            }
        }
    }
}
