//! Opening a TCP ring: every rank connects to the next rank and accepts the previous one, both
//! at once (two threads), each side within `connect_timeout`.
//!
//! The connecting side retries until the next rank listens, sends its [`Hello`] and waits for the
//! reply. The accepting side refuses connections that are not the previous rank of this job and
//! attempt (garbage, another job, another attempt: listed in [`DistError::NoPeer`] if the right
//! peer never comes) and fails at once on a hello from this job and attempt that disagrees on the
//! world size or the ranks. When one side fails the other stops too.

use std::io::{self, Read};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::error::{DistError, Peer, Result};
use crate::handshake::{read_reply, write_reply, Hello, ReadFailure, Verdict};
use crate::tcp::TcpRingConfig;

/// How long the acceptor sleeps between polls of its non-blocking listener.
const ACCEPT_POLL: Duration = Duration::from_millis(5);

/// The longest pause between two connection attempts to the next rank.
const MAX_RETRY_PAUSE: Duration = Duration::from_millis(500);

/// How often a handshake read wakes up to check for cancellation.
const READ_SLICE: Duration = Duration::from_millis(50);

/// The longest wait for a hello on an accepted connection: a real peer sends it right after
/// connecting, so a connection that stays silent longer is a stray.
const HELLO_WAIT: Duration = Duration::from_secs(5);

/// A reader over a stream with a short read timeout that keeps waiting until `deadline` unless
/// cancelled, so that a handshake read can be abandoned when the other side of the opening
/// fails.
struct Patient<'a> {
    stream: &'a mut TcpStream,
    deadline: Instant,
    cancel: &'a AtomicBool,
}

impl io::Read for Patient<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.stream.read(buf) {
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) =>
                {
                    if self.cancel.load(Ordering::SeqCst) {
                        return Err(io::Error::other("cancelled"));
                    }
                    if Instant::now() >= self.deadline {
                        return Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "no handshake message in time",
                        ));
                    }
                }
                other => return other,
            }
        }
    }
}

/// Why one side of the opening stopped.
enum Stop {
    /// The other side failed first.
    Cancelled,
    /// This side failed.
    Failed(DistError),
}

impl From<DistError> for Stop {
    fn from(e: DistError) -> Self {
        Stop::Failed(e)
    }
}

/// The two connections of an opened ring.
pub(crate) struct Opened {
    /// The connection to the next rank (this rank writes to it).
    pub next: TcpStream,
    /// The connection from the previous rank (this rank reads from it).
    pub prev: TcpStream,
}

/// Opens this rank's two ring connections (world size at least 2).
pub(crate) fn open_ring(listener: &TcpListener, config: &TcpRingConfig) -> Result<Opened> {
    let deadline = Instant::now() + config.connect_timeout;
    let cancel = AtomicBool::new(false);
    let (next, prev) = thread::scope(|s| {
        let acceptor = s.spawn(|| {
            let out = accept_prev(listener, config, deadline, &cancel);
            if out.is_err() {
                cancel.store(true, Ordering::SeqCst);
            }
            out
        });
        let next = connect_next(config, deadline, &cancel);
        if next.is_err() {
            cancel.store(true, Ordering::SeqCst);
        }
        let prev = acceptor.join().unwrap_or_else(|_| {
            Err(Stop::Failed(DistError::Broken {
                rank: config.rank,
                cause: "the thread accepting the previous rank panicked".into(),
            }))
        });
        (next, prev)
    });
    match (next, prev) {
        (Ok(next), Ok(prev)) => Ok(Opened { next, prev }),
        (Err(Stop::Failed(e)), _) | (_, Err(Stop::Failed(e))) => Err(e),
        // Each side cancels only after the other failed, so one of them holds the error.
        _ => Err(DistError::Broken {
            rank: config.rank,
            cause: "ring opening cancelled".into(),
        }),
    }
}

/// Most refused connections listed in [`DistError::NoPeer`].
const MAX_NOTED: usize = 16;

/// Notes a refused connection, keeping the list short.
fn note(refused: &mut Vec<String>, line: String) {
    if refused.len() < MAX_NOTED {
        refused.push(line);
    } else if refused.len() == MAX_NOTED {
        refused.push("(more not listed)".into());
    }
}

fn remaining(deadline: Instant) -> Option<Duration> {
    deadline
        .checked_duration_since(Instant::now())
        .filter(|d| !d.is_zero())
}

fn hello_of(config: &TcpRingConfig, rank: usize) -> Hello {
    Hello {
        job_id: config.job_id.clone(),
        attempt: config.attempt,
        rank: rank as u64,
        world_size: config.addresses.len() as u64,
    }
}

/// Opens a TCP connection to `addr`, trying every address it resolves to.
fn dial(addr: &str, within: Duration) -> io::Result<TcpStream> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, "address resolves to nothing");
    let addrs: Vec<SocketAddr> = addr.to_socket_addrs()?.collect();
    for sa in addrs {
        match TcpStream::connect_timeout(&sa, within.min(Duration::from_secs(2))) {
            Ok(s) => return Ok(s),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Connects to the next rank and has its hello accepted.
fn connect_next(
    config: &TcpRingConfig,
    deadline: Instant,
    cancel: &AtomicBool,
) -> Result<TcpStream, Stop> {
    let world = config.addresses.len();
    let rank = config.rank;
    let next = (rank + 1) % world;
    let addr = &config.addresses[next];
    let peer = Peer::at(next, addr.clone());
    let hello = hello_of(config, rank).encode();
    let started = Instant::now();
    let mut pause = Duration::from_millis(10);
    let mut last_error = io::Error::new(io::ErrorKind::TimedOut, "no attempt finished");
    loop {
        if cancel.load(Ordering::SeqCst) {
            return Err(Stop::Cancelled);
        }
        let Some(left) = remaining(deadline) else {
            return Err(Stop::Failed(DistError::Connect {
                rank,
                peer,
                waited: started.elapsed(),
                source: last_error,
            }));
        };
        let attempt = dial(addr, left).and_then(|mut stream| {
            stream.set_nodelay(true)?;
            stream.set_write_timeout(Some(left))?;
            stream.set_read_timeout(Some(READ_SLICE))?;
            io::Write::write_all(&mut stream, &hello)?;
            Ok(stream)
        });
        let mut stream = match attempt {
            Ok(stream) => stream,
            Err(e) => {
                // Not listening yet (or not resolvable yet): try again shortly.
                last_error = e;
                thread::sleep(pause.min(remaining(deadline).unwrap_or_default()));
                pause = (pause * 2).min(MAX_RETRY_PAUSE);
                continue;
            }
        };
        let mut patient = Patient {
            stream: &mut stream,
            deadline,
            cancel,
        };
        match read_reply(&mut patient) {
            Ok(None) => return Ok(stream),
            Ok(Some(reason)) => {
                return Err(Stop::Failed(DistError::HandshakeRefused {
                    rank,
                    peer,
                    reason,
                }))
            }
            Err(ReadFailure::Garbage(message)) => {
                return Err(Stop::Failed(DistError::HandshakeMismatch {
                    rank,
                    peer,
                    message: format!("its reply is not an ml-dist handshake: {message}"),
                }))
            }
            Err(ReadFailure::Io(_)) if cancel.load(Ordering::SeqCst) => {
                return Err(Stop::Cancelled)
            }
            Err(ReadFailure::Io(e)) => {
                // Closed before answering (a listener going away, a backlog reset): try again
                // until the deadline.
                last_error = e;
                thread::sleep(pause.min(remaining(deadline).unwrap_or_default()));
                pause = (pause * 2).min(MAX_RETRY_PAUSE);
            }
        }
    }
}

/// Tells a connection why it is refused and closes it. What it sent beyond the handshake is
/// read first (briefly, a few kilobytes at most): closing a socket with unread input resets the
/// connection, which could destroy the reply before the other side reads it.
fn refuse(mut stream: TcpStream, reason: &str) {
    let _ = write_reply(&mut stream, Some(reason));
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(20)));
    let mut sink = [0u8; 4096];
    let _ = stream.read(&mut sink);
}

/// Accepts the previous rank, refusing stray connections meanwhile.
fn accept_prev(
    listener: &TcpListener,
    config: &TcpRingConfig,
    deadline: Instant,
    cancel: &AtomicBool,
) -> Result<TcpStream, Stop> {
    let world = config.addresses.len();
    let rank = config.rank;
    let prev = (rank + world - 1) % world;
    let peer = Peer::at(prev, config.addresses[prev].clone());
    let mine = hello_of(config, rank);
    let io_error = |source: io::Error| DistError::Bind {
        rank,
        addr: config.addresses[rank].clone(),
        source,
    };
    listener.set_nonblocking(true).map_err(io_error)?;
    let started = Instant::now();
    let mut refused = Vec::new();
    loop {
        if cancel.load(Ordering::SeqCst) {
            return Err(Stop::Cancelled);
        }
        let Some(left) = remaining(deadline) else {
            return Err(Stop::Failed(DistError::NoPeer {
                rank,
                peer,
                waited: started.elapsed(),
                refused,
            }));
        };
        let (mut stream, from) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                thread::sleep(ACCEPT_POLL);
                continue;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                // Out of file descriptors, aborted connection, ...: note it and keep waiting.
                note(&mut refused, format!("accept failed: {e}"));
                thread::sleep(ACCEPT_POLL);
                continue;
            }
        };
        let wait = left.min(config.timeout).min(HELLO_WAIT);
        let ready = stream
            .set_nonblocking(false)
            .and_then(|_| stream.set_nodelay(true))
            .and_then(|_| stream.set_read_timeout(Some(READ_SLICE)))
            .and_then(|_| stream.set_write_timeout(Some(wait)));
        if let Err(e) = ready {
            note(&mut refused, format!("{from}: {e}"));
            continue;
        }
        let mut patient = Patient {
            stream: &mut stream,
            deadline: Instant::now() + wait,
            cancel,
        };
        let hello = match Hello::read(&mut patient) {
            Ok(hello) => hello,
            Err(ReadFailure::Garbage(message)) => {
                refuse(stream, &message);
                note(&mut refused, format!("{from}: {message}"));
                continue;
            }
            Err(ReadFailure::Io(_)) if cancel.load(Ordering::SeqCst) => {
                return Err(Stop::Cancelled)
            }
            Err(ReadFailure::Io(e)) => {
                note(&mut refused, format!("{from}: no handshake ({e})"));
                continue;
            }
        };
        match mine.judge(&hello, prev as u64) {
            Verdict::Accept => match write_reply(&mut stream, None) {
                Ok(()) => return Ok(stream),
                Err(e) => note(
                    &mut refused,
                    format!("{from}: accepting reply failed ({e})"),
                ),
            },
            Verdict::Stray(reason) => {
                refuse(stream, &reason);
                note(&mut refused, format!("{from}: {reason}"));
            }
            Verdict::Fatal(message) => {
                refuse(stream, &message);
                let sender = usize::try_from(hello.rank).unwrap_or(usize::MAX);
                return Err(Stop::Failed(DistError::HandshakeMismatch {
                    rank,
                    peer: Peer::at(sender, from.to_string()),
                    message,
                }));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handshake::read_reply;
    use std::io::Write;

    fn config_for_rank_1(listener: &TcpListener) -> TcpRingConfig {
        let me = listener.local_addr().unwrap().to_string();
        TcpRingConfig::new("job", 3, 1, vec!["127.0.0.1:9".into(), me])
            .with_timeout(Duration::from_secs(2))
    }

    /// Connects to `addr`, sends `bytes` and returns the reply (`None` when accepted).
    fn knock(addr: SocketAddr, bytes: &[u8]) -> Option<String> {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(bytes).unwrap();
        read_reply(&mut s).ok().flatten()
    }

    fn hello(job: &str, attempt: u64, rank: u64) -> Vec<u8> {
        Hello {
            job_id: job.into(),
            attempt,
            rank,
            world_size: 2,
        }
        .encode()
    }

    #[test]
    fn strays_are_refused_and_the_right_peer_accepted() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let config = config_for_rank_1(&listener);
        let cancel = AtomicBool::new(false);
        thread::scope(|s| {
            let client = s.spawn(move || {
                let garbage = knock(addr, b"SSH-2.0-OpenSSH_9.6\r\n").unwrap();
                let other_job = knock(addr, &hello("other", 3, 0)).unwrap();
                let old_attempt = knock(addr, &hello("job", 2, 0)).unwrap();
                let right = knock(addr, &hello("job", 3, 0));
                (garbage, other_job, old_attempt, right)
            });
            let deadline = Instant::now() + Duration::from_secs(10);
            let accepted = accept_prev(&listener, &config, deadline, &cancel);
            assert!(accepted.is_ok());
            let (garbage, other_job, old_attempt, right) = client.join().unwrap();
            assert!(garbage.contains("not an ml-dist handshake"), "{garbage}");
            assert!(other_job.contains("job id 'other'"), "{other_job}");
            assert!(old_attempt.contains("attempt 2"), "{old_attempt}");
            assert_eq!(right, None);
        });
    }

    #[test]
    fn without_the_right_peer_the_refused_strays_are_listed() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let config = config_for_rank_1(&listener);
        let cancel = AtomicBool::new(false);
        let start = Instant::now();
        let out = thread::scope(|s| {
            s.spawn(move || {
                knock(addr, &[0xff; 40]);
                knock(addr, &hello("other", 3, 0));
                // Connects and says nothing.
                let _silent = TcpStream::connect(addr).unwrap();
                thread::sleep(Duration::from_millis(1500));
            });
            accept_prev(&listener, &config, start + Duration::from_secs(1), &cancel)
        });
        match out {
            Err(Stop::Failed(DistError::NoPeer {
                rank,
                peer,
                refused,
                ..
            })) => {
                assert_eq!((rank, peer.rank), (1, 0));
                assert_eq!(refused.len(), 3, "{refused:?}");
                assert!(refused[0].contains("not an ml-dist handshake"));
                assert!(refused[1].contains("job id 'other'"));
                assert!(refused[2].contains("no handshake"));
            }
            _ => panic!("expected NoPeer"),
        }
        assert!(start.elapsed() < Duration::from_secs(3));
    }

    #[test]
    fn cancellation_stops_the_acceptor() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let config = config_for_rank_1(&listener);
        let cancel = AtomicBool::new(true);
        let far = Instant::now() + Duration::from_secs(60);
        assert!(matches!(
            accept_prev(&listener, &config, far, &cancel),
            Err(Stop::Cancelled)
        ));
    }
}
