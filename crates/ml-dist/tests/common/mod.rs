//! Helpers shared by the integration tests: groups of ranks as threads, over channels or over a
//! TCP ring on 127.0.0.1 (listeners bound on port 0 first, so no port is guessed).

#![allow(dead_code)]

use std::net::TcpListener;
use std::thread;
use std::time::Duration;

use ml_dist::{Collective, DistError, TcpRing, TcpRingConfig, ThreadCollective};

/// Which transport a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `ThreadCollective`.
    Threads,
    /// `TcpRing` on 127.0.0.1.
    Tcp,
}

/// `n` listeners on 127.0.0.1 port 0 and their addresses.
pub fn listeners(n: usize) -> (Vec<TcpListener>, Vec<String>) {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0"))
        .collect();
    let addresses = listeners
        .iter()
        .map(|l| l.local_addr().unwrap().to_string())
        .collect();
    (listeners, addresses)
}

/// Runs `body` on `n` ranks of `kind`, one thread per rank, and returns each rank's result in
/// rank order. The rank's collective is moved into `body` and dropped when it returns. TCP rings
/// open with `timeout` for reads and writes and twice that for the opening.
pub fn run<R, F>(kind: Kind, n: usize, timeout: Duration, body: F) -> Vec<Result<R, DistError>>
where
    R: Send,
    F: Fn(Box<dyn Collective>) -> Result<R, DistError> + Sync,
{
    match kind {
        Kind::Threads => {
            let group = ThreadCollective::group_with_timeout(n, timeout).unwrap();
            thread::scope(|s| {
                let handles: Vec<_> = group
                    .into_iter()
                    .map(|member| {
                        let body = &body;
                        s.spawn(move || body(Box::new(member)))
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            })
        }
        Kind::Tcp => {
            let (listeners, addresses) = listeners(n);
            thread::scope(|s| {
                let handles: Vec<_> = listeners
                    .into_iter()
                    .enumerate()
                    .map(|(rank, listener)| {
                        let config = TcpRingConfig::new("test-job", 0, rank, addresses.clone())
                            .with_timeout(timeout)
                            .with_connect_timeout(timeout * 2);
                        let body = &body;
                        s.spawn(move || {
                            let ring = TcpRing::connect_with_listener(listener, &config)?;
                            body(Box::new(ring))
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            })
        }
    }
}

/// A deterministic pseudo-random stream (SplitMix64), so tests need no extra dependency.
pub struct SplitMix(pub u64);

impl SplitMix {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}
