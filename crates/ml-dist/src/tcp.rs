//! [`TcpRing`]: ranks in separate processes or machines, connected in a ring over TCP.
//!
//! Rank `r` listens on `addresses[r]` and connects to rank `r + 1` (the last rank to rank 0);
//! data flows one way around the ring. Each connection opens with a handshake (job id, attempt,
//! rank, world size) that refuses stray and mismatched connections (see [`TcpRingConfig`]).
//! Frames are length-prefixed (header layout in the crate's `frame` module). Every read and
//! write has a timeout, so when a rank dies the others fail within the timeout instead of
//! hanging: a closed connection fails at once ([`DistError::PeerClosed`]), a silent one after
//! the timeout ([`DistError::Timeout`]).
//!
//! Writes to the next rank go through a writer thread, so that every rank can send a chunk and
//! receive one in the same ring step without the two directions blocking each other. Small
//! frames (at most [`DIRECT_FRAME_BYTES`] of payload: counts, maxima, flags) are written by the
//! calling thread itself when the writer is idle, in one write: they fit in the socket's buffers
//! so the write cannot wait on the next rank, and the call saves two thread wake-ups.
//!
//! A process that writes to a socket whose peer has gone must ignore `SIGPIPE` (Rust binaries
//! and the Python interpreter both do), or the write kills it instead of returning an error.

use std::io::{self, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::sync::Mutex;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crate::error::{DistError, Peer, Result};
use crate::establish::open_ring;
use crate::frame::{Frame, Header, Op, HEADER_BYTES};
use crate::handshake::MAX_JOB_ID_BYTES;
use crate::ring::{Expect, Link, Ring};
use crate::DEFAULT_TIMEOUT;

/// How long ranks wait for each other while the ring opens, unless configured otherwise.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(60);

/// Where the ranks are and how long to wait: the settings of one rank of a [`TcpRing`].
///
/// Every rank must be given the same `job_id`, `attempt` and `addresses` (in the same order);
/// only `rank` differs. A connection whose handshake names another job id or attempt is refused
/// and the rank keeps waiting for the right one (a stray from an earlier attempt, a port
/// scanner); one that names this job and attempt but another world size or rank fails the
/// opening with [`DistError::HandshakeMismatch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpRingConfig {
    /// Identifies the job; connections from other jobs are refused. At most 1024 bytes.
    pub job_id: String,
    /// The attempt of the job (a retried job uses a new number, so that leftovers of the old
    /// attempt are refused).
    pub attempt: u64,
    /// This rank, in `0..addresses.len()`.
    pub rank: usize,
    /// One `host:port` per rank, in rank order: rank `r` listens on `addresses[r]`. The world
    /// size is the length of this list.
    pub addresses: Vec<String>,
    /// Longest wait for any single read or write once the ring is open (default
    /// [`DEFAULT_TIMEOUT`], 30 s). It must exceed the longest time one rank can spend computing
    /// while another already waits in a collective call.
    pub timeout: Duration,
    /// Longest wait for the ring to open: for the next rank to listen and accept, and for the
    /// previous rank to connect (default [`DEFAULT_CONNECT_TIMEOUT`], 60 s).
    pub connect_timeout: Duration,
}

impl TcpRingConfig {
    /// The settings of rank `rank` of job `job_id`, attempt `attempt`, with the default timeouts.
    pub fn new(
        job_id: impl Into<String>,
        attempt: u64,
        rank: usize,
        addresses: Vec<String>,
    ) -> Self {
        TcpRingConfig {
            job_id: job_id.into(),
            attempt,
            rank,
            addresses,
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        }
    }

    /// The same settings with another read/write `timeout`.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The same settings with another `connect_timeout`.
    pub fn with_connect_timeout(mut self, connect_timeout: Duration) -> Self {
        self.connect_timeout = connect_timeout;
        self
    }

    /// Number of ranks (the length of `addresses`).
    pub fn world_size(&self) -> usize {
        self.addresses.len()
    }

    /// Checks the settings: at least one address, a rank among them, a job id of at most 1024
    /// bytes, positive timeouts.
    pub fn validate(&self) -> Result<()> {
        if self.addresses.is_empty() {
            return Err(DistError::param(
                "addresses",
                "needs one host:port per rank, got none",
            ));
        }
        if self.rank >= self.addresses.len() {
            return Err(DistError::param(
                "rank",
                format!(
                    "rank {} is not among the {} addresses",
                    self.rank,
                    self.addresses.len()
                ),
            ));
        }
        if self.job_id.len() > MAX_JOB_ID_BYTES {
            return Err(DistError::param(
                "job_id",
                format!(
                    "{} bytes long; at most {MAX_JOB_ID_BYTES}",
                    self.job_id.len()
                ),
            ));
        }
        if self.timeout.is_zero() {
            return Err(DistError::param("timeout", "must be positive"));
        }
        if self.connect_timeout.is_zero() {
            return Err(DistError::param("connect_timeout", "must be positive"));
        }
        Ok(())
    }
}

/// One rank of a ring of processes connected over TCP.
///
/// Open it with [`TcpRing::connect`] (binds `addresses[rank]` itself) or
/// [`TcpRing::connect_with_listener`] (a listener bound beforehand, e.g. on port 0 before the
/// addresses are exchanged, as Spark's `BarrierTaskContext.allGather` allows). Dropping it
/// closes its connections, which makes the neighbours' pending calls fail.
pub struct TcpRing {
    ring: Mutex<Ring<TcpLink>>,
    rank: usize,
    world_size: usize,
}

impl std::fmt::Debug for TcpRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpRing")
            .field("rank", &self.rank)
            .field("world_size", &self.world_size)
            .finish()
    }
}

impl TcpRing {
    /// Listens on `config.addresses[config.rank]`, connects to the next rank and waits for the
    /// previous one (all within `config.connect_timeout`).
    pub fn connect(config: &TcpRingConfig) -> Result<TcpRing> {
        config.validate()?;
        let addr = &config.addresses[config.rank];
        let listener = TcpListener::bind(addr.as_str()).map_err(|source| DistError::Bind {
            rank: config.rank,
            addr: addr.clone(),
            source,
        })?;
        Self::connect_with_listener(listener, config)
    }

    /// Opens the ring with `listener` already bound to this rank's address (the address other
    /// ranks find as `config.addresses[config.rank]`). The listener is closed once the previous
    /// rank is connected.
    pub fn connect_with_listener(listener: TcpListener, config: &TcpRingConfig) -> Result<TcpRing> {
        config.validate()?;
        let rank = config.rank;
        let world_size = config.world_size();
        let conn = if world_size == 1 {
            None
        } else {
            let opened = open_ring(&listener, config)?;
            drop(listener);
            let next = Peer::at(
                (rank + 1) % world_size,
                config.addresses[(rank + 1) % world_size].clone(),
            );
            let prev_rank = (rank + world_size - 1) % world_size;
            let prev = Peer::at(prev_rank, config.addresses[prev_rank].clone());
            Some(Connections::start(
                rank,
                opened.next,
                opened.prev,
                next,
                prev,
                config.timeout,
            )?)
        };
        Ok(TcpRing {
            ring: Mutex::new(Ring::new(TcpLink {
                rank,
                world_size,
                conn,
            })),
            rank,
            world_size,
        })
    }
}

crate::ring::ring_collective!(TcpRing, TcpLink);

/// Frames with at most this many payload bytes are written by the calling thread when no
/// earlier frame is queued (see the module docs): well under the smallest TCP send buffer
/// Linux gives a socket, so such a write does not wait for the next rank to read.
pub(crate) const DIRECT_FRAME_BYTES: usize = 2048;

/// The outcome of writing one frame, reported by the writer thread.
type Written = std::result::Result<(), (&'static str, io::Error)>;

/// An open ring's connections and the writer thread.
struct Connections {
    rank: usize,
    next: Peer,
    prev: Peer,
    timeout: Duration,
    /// Reads frames from the previous rank.
    reader: BufReader<TcpStream>,
    /// Kept to shut the connections down when the ring is dropped.
    sockets: [TcpStream; 2],
    /// Frames for the writer thread (`None` once dropped).
    outbox: Option<Sender<(&'static str, Frame)>>,
    /// One outcome per frame sent, in order.
    written: Receiver<Written>,
    /// Frames sent whose outcome has not been collected.
    pending: usize,
    writer: Option<JoinHandle<()>>,
}

impl Connections {
    fn start(
        rank: usize,
        next_stream: TcpStream,
        prev_stream: TcpStream,
        next: Peer,
        prev: Peer,
        timeout: Duration,
    ) -> Result<Connections> {
        let setup = |stream: &TcpStream, peer: &Peer| {
            stream
                .set_read_timeout(Some(timeout))
                .and_then(|_| stream.set_write_timeout(Some(timeout)))
                .and_then(|_| stream.set_nodelay(true))
                .and_then(|_| stream.try_clone())
                .map_err(|source| DistError::Io {
                    rank,
                    peer: peer.clone(),
                    op: "opening the ring",
                    source,
                })
        };
        let next_writer = setup(&next_stream, &next)?;
        let prev_keep = setup(&prev_stream, &prev)?;
        let (outbox, inbox) = channel::<(&'static str, Frame)>();
        let (report, written) = channel::<Written>();
        let writer = thread::Builder::new()
            .name(format!("ml-dist rank {rank} writer"))
            .spawn(move || write_frames(next_writer, inbox, report))
            .map_err(|source| DistError::Io {
                rank,
                peer: next.clone(),
                op: "opening the ring",
                source,
            })?;
        Ok(Connections {
            rank,
            next,
            prev,
            timeout,
            reader: BufReader::with_capacity(1 << 16, prev_stream),
            sockets: [next_stream, prev_keep],
            outbox: Some(outbox),
            written,
            pending: 0,
            writer: Some(writer),
        })
    }

    /// The error for a failed read or write with `peer`.
    fn io_error(&self, peer: &Peer, op: &'static str, e: io::Error) -> DistError {
        let peer = peer.clone();
        let rank = self.rank;
        match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => DistError::Timeout {
                rank,
                peer,
                op,
                waited: self.timeout,
            },
            io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::NotConnected => DistError::PeerClosed { rank, peer, op },
            _ => DistError::Io {
                rank,
                peer,
                op,
                source: e,
            },
        }
    }

    /// Collects the outcomes of writes that have finished, failing on the first failed one.
    fn collect_written(&mut self) -> Result<()> {
        loop {
            match self.written.try_recv() {
                Ok(Ok(())) => self.pending -= 1,
                Ok(Err((op, e))) => {
                    self.pending -= 1;
                    return Err(self.io_error(&self.next.clone(), op, e));
                }
                Err(TryRecvError::Empty) | Err(TryRecvError::Disconnected) => return Ok(()),
            }
        }
    }
}

/// The writer thread: writes frames to the next rank in order and reports each outcome; stops at
/// the first failure or when the ring is dropped.
fn write_frames(
    stream: TcpStream,
    inbox: Receiver<(&'static str, Frame)>,
    report: Sender<Written>,
) {
    for (op, frame) in inbox {
        let outcome = write_frame(&stream, &frame).map_err(|e| (op, e));
        let failed = outcome.is_err();
        if report.send(outcome).is_err() || failed {
            return;
        }
    }
}

/// Writes `frame` (header, then payload); a small frame in one write, so that it leaves as one
/// segment (the sockets send without delay).
fn write_frame(mut stream: &TcpStream, frame: &Frame) -> io::Result<()> {
    let head = frame.header.encode();
    if frame.payload.len() <= DIRECT_FRAME_BYTES {
        let mut bytes = Vec::with_capacity(HEADER_BYTES + frame.payload.len());
        bytes.extend_from_slice(&head);
        bytes.extend_from_slice(&frame.payload);
        stream.write_all(&bytes)
    } else {
        stream
            .write_all(&head)
            .and_then(|_| stream.write_all(&frame.payload))
    }
}

impl Drop for Connections {
    fn drop(&mut self) {
        for s in &self.sockets {
            let _ = s.shutdown(Shutdown::Both);
        }
        self.outbox = None;
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

/// The [`Link`] of a TCP ring (no connections when the world has one rank).
struct TcpLink {
    rank: usize,
    world_size: usize,
    conn: Option<Connections>,
}

impl TcpLink {
    fn conn(&mut self) -> Result<&mut Connections> {
        let rank = self.rank;
        self.conn.as_mut().ok_or_else(|| DistError::Broken {
            rank,
            cause: "a ring of one rank has no connections".into(),
        })
    }
}

impl Link for TcpLink {
    fn rank(&self) -> usize {
        self.rank
    }

    fn world_size(&self) -> usize {
        self.world_size
    }

    fn send(&mut self, op: Op, frame: Frame) -> Result<()> {
        let c = self.conn()?;
        c.collect_written()?;
        if c.pending == 0 && frame.payload.len() <= DIRECT_FRAME_BYTES {
            // The writer is idle: write from this thread (the socket's write timeout applies).
            return write_frame(&c.sockets[0], &frame)
                .map_err(|e| c.io_error(&c.next.clone(), op.name(), e));
        }
        let sent = c
            .outbox
            .as_ref()
            .map(|outbox| outbox.send((op.name(), frame)).is_ok())
            .unwrap_or(false);
        if !sent {
            // The writer stopped after a failure: report that failure if it is still queued.
            c.collect_written()?;
            return Err(DistError::PeerClosed {
                rank: c.rank,
                peer: c.next.clone(),
                op: op.name(),
            });
        }
        c.pending += 1;
        Ok(())
    }

    fn recv(&mut self, expect: Expect) -> Result<Frame> {
        let c = self.conn()?;
        c.collect_written()?;
        let op = expect.op.name();
        let mut head = [0u8; HEADER_BYTES];
        if let Err(e) = c.reader.read_exact(&mut head) {
            return Err(c.io_error(&c.prev.clone(), op, e));
        }
        let header = Header::decode(&head);
        expect.check(c.rank, &c.prev, &header)?;
        let len = usize::try_from(header.len).map_err(|_| DistError::Mismatch {
            rank: c.rank,
            peer: c.prev.clone(),
            message: format!("{op}: a frame of {} bytes", header.len),
        })?;
        // Grow the buffer as bytes arrive rather than trusting the length up front.
        let mut payload = Vec::with_capacity(len.min(1 << 26));
        match (&mut c.reader).take(header.len).read_to_end(&mut payload) {
            Ok(n) if n == len => Ok(Frame { header, payload }),
            Ok(_) => Err(c.io_error(
                &c.prev.clone(),
                op,
                io::Error::from(io::ErrorKind::UnexpectedEof),
            )),
            Err(e) => Err(c.io_error(&c.prev.clone(), op, e)),
        }
    }

    fn flush(&mut self, op: Op) -> Result<()> {
        let c = self.conn()?;
        // The writer's own write timeout bounds each frame; the margin covers scheduling.
        let wait = c.timeout + Duration::from_secs(1);
        while c.pending > 0 {
            match c.written.recv_timeout(wait) {
                Ok(Ok(())) => c.pending -= 1,
                Ok(Err((op, e))) => {
                    c.pending -= 1;
                    return Err(c.io_error(&c.next.clone(), op, e));
                }
                Err(RecvTimeoutError::Timeout) => {
                    return Err(DistError::Timeout {
                        rank: c.rank,
                        peer: c.next.clone(),
                        op: op.name(),
                        waited: wait,
                    })
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(DistError::PeerClosed {
                        rank: c.rank,
                        peer: c.next.clone(),
                        op: op.name(),
                    })
                }
            }
        }
        Ok(())
    }
}
