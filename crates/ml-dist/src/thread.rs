//! [`ThreadCollective`]: ranks as threads of one process, connected in a ring by channels. Meant
//! for tests: it runs the same ring algorithms as [`TcpRing`](crate::TcpRing) without sockets.

use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::Mutex;
use std::time::Duration;

use crate::error::{DistError, Peer, Result};
use crate::frame::{Frame, Op};
use crate::ring::{Expect, Link, Ring};
use crate::DEFAULT_TIMEOUT;

/// One rank of a group of threads in one process (create the group with
/// [`ThreadCollective::group`] and move one member into each thread).
///
/// Each call waits at most the group's timeout for the previous rank; when a member is dropped
/// (its thread ends) the others' pending and later calls fail with [`DistError::PeerClosed`] or
/// [`DistError::Timeout`] instead of hanging.
pub struct ThreadCollective {
    ring: Mutex<Ring<ChannelLink>>,
    rank: usize,
    world_size: usize,
}

impl std::fmt::Debug for ThreadCollective {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThreadCollective")
            .field("rank", &self.rank)
            .field("world_size", &self.world_size)
            .finish()
    }
}

/// The channels of one rank: to the next rank, from the previous one.
struct ChannelLink {
    rank: usize,
    world_size: usize,
    to_next: Sender<Frame>,
    from_prev: Receiver<Frame>,
    timeout: Duration,
}

impl Link for ChannelLink {
    fn rank(&self) -> usize {
        self.rank
    }

    fn world_size(&self) -> usize {
        self.world_size
    }

    fn send(&mut self, op: Op, frame: Frame) -> Result<()> {
        self.to_next.send(frame).map_err(|_| DistError::PeerClosed {
            rank: self.rank,
            peer: Peer::local((self.rank + 1) % self.world_size),
            op: op.name(),
        })
    }

    fn recv(&mut self, expect: Expect) -> Result<Frame> {
        let peer = Peer::local((self.rank + self.world_size - 1) % self.world_size);
        let frame = match self.from_prev.recv_timeout(self.timeout) {
            Ok(frame) => frame,
            Err(RecvTimeoutError::Timeout) => {
                return Err(DistError::Timeout {
                    rank: self.rank,
                    peer,
                    op: expect.op.name(),
                    waited: self.timeout,
                })
            }
            Err(RecvTimeoutError::Disconnected) => {
                return Err(DistError::PeerClosed {
                    rank: self.rank,
                    peer,
                    op: expect.op.name(),
                })
            }
        };
        expect.check(self.rank, &peer, &frame.header)?;
        Ok(frame)
    }

    fn flush(&mut self, _op: Op) -> Result<()> {
        Ok(())
    }
}

impl ThreadCollective {
    /// A group of `world_size` ranks (member `r` has rank `r`) with the default timeout
    /// ([`DEFAULT_TIMEOUT`]).
    pub fn group(world_size: usize) -> Result<Vec<ThreadCollective>> {
        Self::group_with_timeout(world_size, DEFAULT_TIMEOUT)
    }

    /// A group of `world_size` ranks whose calls wait at most `timeout` for the previous rank.
    pub fn group_with_timeout(
        world_size: usize,
        timeout: Duration,
    ) -> Result<Vec<ThreadCollective>> {
        if world_size == 0 {
            return Err(DistError::param("world_size", "must be at least 1"));
        }
        if timeout.is_zero() {
            return Err(DistError::param("timeout", "must be positive"));
        }
        // Channel r carries frames from rank r to rank r + 1.
        let (senders, mut receivers): (Vec<_>, Vec<_>) =
            (0..world_size).map(|_| channel::<Frame>()).unzip();
        receivers.rotate_right(1);
        Ok(senders
            .into_iter()
            .zip(receivers)
            .enumerate()
            .map(|(rank, (to_next, from_prev))| ThreadCollective {
                ring: Mutex::new(Ring::new(ChannelLink {
                    rank,
                    world_size,
                    to_next,
                    from_prev,
                    timeout,
                })),
                rank,
                world_size,
            })
            .collect())
    }
}

crate::ring::ring_collective!(ThreadCollective, ChannelLink);
