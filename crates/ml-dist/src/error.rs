//! The error type of ml-dist: every failure names this rank, the peer involved and what happened.

use std::fmt;
use std::time::Duration;

use ml_core::MlError;

/// Result alias used throughout ml-dist.
pub type Result<T, E = DistError> = std::result::Result<T, E>;

/// A peer of a collective: its rank and, for network transports, its address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// The peer's rank in `0..world_size`.
    pub rank: usize,
    /// The peer's `host:port` (TCP ring), or `None` for in-process transports.
    pub addr: Option<String>,
}

impl Peer {
    /// A peer known by rank only (threads in one process).
    pub fn local(rank: usize) -> Self {
        Peer { rank, addr: None }
    }

    /// A peer reached over the network at `addr`.
    pub fn at(rank: usize, addr: impl Into<String>) -> Self {
        Peer {
            rank,
            addr: Some(addr.into()),
        }
    }
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.addr {
            Some(addr) => write!(f, "rank {} ({addr})", self.rank),
            None => write!(f, "rank {}", self.rank),
        }
    }
}

/// Everything that can go wrong in a collective.
///
/// `rank` is always the rank that reports the error; `peer` the rank it was talking to. Library
/// code that implements ml-core's traits returns [`MlError`]; a `DistError` converts into it
/// (`From<DistError> for MlError`): parameter errors become [`MlError::InvalidParam`], the others
/// [`MlError::InvalidData`] carrying this error's message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DistError {
    /// A parameter has a value outside its domain (world size 0, rank out of range, a root that
    /// is not a rank, a zero timeout, ...).
    #[error("parameter '{param}': {message}")]
    Param {
        /// Parameter name.
        param: String,
        /// What is wrong and what is accepted.
        message: String,
    },
    /// This rank could not listen on its own address.
    #[error("rank {rank}: cannot listen on '{addr}': {source}")]
    Bind {
        /// This rank.
        rank: usize,
        /// The address from the address list.
        addr: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// This rank could not open a connection to the next rank before `connect_timeout`.
    #[error("rank {rank}: cannot connect to {peer} within {waited:?}: {source}")]
    Connect {
        /// This rank.
        rank: usize,
        /// The next rank in the ring.
        peer: Peer,
        /// How long this rank kept trying.
        waited: Duration,
        /// The last connection error.
        #[source]
        source: std::io::Error,
    },
    /// The rank this rank connected to refused its handshake (another job id or attempt, or a
    /// disagreement on the world size or ranks).
    #[error("rank {rank}: {peer} refused the handshake: {reason}")]
    HandshakeRefused {
        /// This rank.
        rank: usize,
        /// The next rank in the ring.
        peer: Peer,
        /// The reason the peer gave.
        reason: String,
    },
    /// A handshake came from this job and attempt but disagrees on the world size or on who is
    /// whose neighbour, or a peer's handshake reply is malformed: the ranks were started with
    /// different address lists.
    #[error("rank {rank}: handshake with {peer}: {message}")]
    HandshakeMismatch {
        /// This rank.
        rank: usize,
        /// The peer whose handshake disagrees.
        peer: Peer,
        /// What disagrees.
        message: String,
    },
    /// No valid connection arrived from the previous rank before `connect_timeout`; stray
    /// connections refused meanwhile are listed.
    #[error("rank {rank}: no connection from {peer} within {waited:?}{}", refused_suffix(.refused))]
    NoPeer {
        /// This rank.
        rank: usize,
        /// The previous rank in the ring, which should have connected.
        peer: Peer,
        /// How long this rank waited.
        waited: Duration,
        /// One line per refused connection: its address and why it was refused.
        refused: Vec<String>,
    },
    /// A read from or a write to a peer did not complete within the timeout: the peer is gone,
    /// stuck, or slower than the timeout allows.
    #[error("rank {rank}: {op} timed out after {waited:?} waiting for {peer}")]
    Timeout {
        /// This rank.
        rank: usize,
        /// The peer that did not answer.
        peer: Peer,
        /// The collective operation under way.
        op: &'static str,
        /// The timeout that expired.
        waited: Duration,
    },
    /// A peer closed its connection (its process or thread ended) during an operation.
    #[error("rank {rank}: {peer} closed the connection during {op}")]
    PeerClosed {
        /// This rank.
        rank: usize,
        /// The peer that went away.
        peer: Peer,
        /// The collective operation under way.
        op: &'static str,
    },
    /// Reading from or writing to a peer failed at the OS level.
    #[error("rank {rank}: I/O error with {peer} during {op}: {source}")]
    Io {
        /// This rank.
        rank: usize,
        /// The peer of the failed read or write.
        peer: Peer,
        /// The collective operation under way.
        op: &'static str,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Ranks disagree on the operation: another operation, another call number, or buffers of
    /// another length. Every rank must issue the same collective calls in the same order.
    #[error("rank {rank}: mismatch with {peer}: {message}")]
    Mismatch {
        /// This rank.
        rank: usize,
        /// The peer whose message disagrees.
        peer: Peer,
        /// What disagrees.
        message: String,
    },
    /// An earlier operation failed, which leaves the ranks out of step: the collective cannot be
    /// used any more (start a new one, a new attempt).
    #[error("rank {rank}: collective unusable after an earlier failure: {cause}")]
    Broken {
        /// This rank.
        rank: usize,
        /// The earlier failure.
        cause: String,
    },
}

fn refused_suffix(refused: &[String]) -> String {
    if refused.is_empty() {
        String::new()
    } else {
        format!("; refused: {}", refused.join("; "))
    }
}

impl DistError {
    /// Shorthand for [`DistError::Param`].
    pub fn param(param: impl Into<String>, message: impl Into<String>) -> Self {
        DistError::Param {
            param: param.into(),
            message: message.into(),
        }
    }

    /// The rank that reported the error (`None` for parameter errors).
    pub fn rank(&self) -> Option<usize> {
        match self {
            DistError::Param { .. } => None,
            DistError::Bind { rank, .. }
            | DistError::Connect { rank, .. }
            | DistError::HandshakeRefused { rank, .. }
            | DistError::HandshakeMismatch { rank, .. }
            | DistError::NoPeer { rank, .. }
            | DistError::Timeout { rank, .. }
            | DistError::PeerClosed { rank, .. }
            | DistError::Io { rank, .. }
            | DistError::Mismatch { rank, .. }
            | DistError::Broken { rank, .. } => Some(*rank),
        }
    }
}

impl From<DistError> for MlError {
    fn from(e: DistError) -> Self {
        match e {
            DistError::Param { param, message } => MlError::InvalidParam { param, message },
            other => MlError::InvalidData(format!("collective: {other}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_rank_and_peer() {
        let e = DistError::Timeout {
            rank: 2,
            peer: Peer::at(1, "10.0.0.5:4000"),
            op: "all_gather",
            waited: Duration::from_secs(2),
        };
        assert_eq!(
            e.to_string(),
            "rank 2: all_gather timed out after 2s waiting for rank 1 (10.0.0.5:4000)"
        );
        assert_eq!(e.rank(), Some(2));
        let e = DistError::NoPeer {
            rank: 0,
            peer: Peer::at(3, "h:1"),
            waited: Duration::from_secs(1),
            refused: vec!["127.0.0.1:5 bad magic".into()],
        };
        assert_eq!(
            e.to_string(),
            "rank 0: no connection from rank 3 (h:1) within 1s; refused: 127.0.0.1:5 bad magic"
        );
    }

    #[test]
    fn converts_into_ml_error() {
        let ml: MlError = DistError::param("timeout", "must be positive").into();
        assert!(matches!(ml, MlError::InvalidParam { ref param, .. } if param == "timeout"));
        let ml: MlError = DistError::PeerClosed {
            rank: 1,
            peer: Peer::local(0),
            op: "broadcast",
        }
        .into();
        assert_eq!(
            ml.to_string(),
            "invalid data: collective: rank 1: rank 0 closed the connection during broadcast"
        );
    }
}
