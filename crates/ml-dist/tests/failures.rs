//! Failures end in typed errors within the timeout, never in a hang: refused handshakes, stray
//! connections, ranks that disagree, ranks that die or stall.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use common::{listeners, run, Kind};
use ml_dist::{Collective, DistError, TcpRing, TcpRingConfig, ThreadCollective};

const SHORT: Duration = Duration::from_secs(2);

/// Opens rank `rank` of a ring with the short timeouts, from a pre-bound listener.
fn open(
    listener: TcpListener,
    job: &str,
    attempt: u64,
    rank: usize,
    addresses: Vec<String>,
) -> Result<TcpRing, DistError> {
    let config = TcpRingConfig::new(job, attempt, rank, addresses)
        .with_timeout(SHORT)
        .with_connect_timeout(SHORT);
    TcpRing::connect_with_listener(listener, &config)
}

/// Opens two ranks whose settings are `configs` (job, attempt, addresses) concurrently and
/// returns each result with the time it took.
fn open_pair(
    listeners: Vec<TcpListener>,
    configs: [(&str, u64, Vec<String>); 2],
) -> Vec<(Result<TcpRing, DistError>, Duration)> {
    thread::scope(|s| {
        let handles: Vec<_> = listeners
            .into_iter()
            .zip(configs)
            .enumerate()
            .map(|(rank, (listener, (job, attempt, addresses)))| {
                s.spawn(move || {
                    let start = Instant::now();
                    let out = open(listener, job, attempt, rank, addresses);
                    (out, start.elapsed())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// The bound on how long an opening that must fail may take.
fn bounded(took: Duration) {
    assert!(took < SHORT + Duration::from_secs(3), "took {took:?}");
}

#[test]
fn another_job_id_is_refused() {
    let (ls, addrs) = listeners(2);
    let out = open_pair(ls, [("job-a", 0, addrs.clone()), ("job-b", 0, addrs)]);
    let mut refusals = 0;
    for (rank, (result, took)) in out.into_iter().enumerate() {
        bounded(took);
        match result.unwrap_err() {
            DistError::HandshakeRefused {
                rank: r,
                peer,
                reason,
            } => {
                assert_eq!((r, peer.rank), (rank, 1 - rank));
                assert!(reason.contains("job id"), "{reason}");
                refusals += 1;
            }
            // The other rank may have given up first, leaving nobody to answer.
            DistError::Connect { .. } | DistError::NoPeer { .. } => {}
            e => panic!("rank {rank}: unexpected error {e}"),
        }
    }
    assert!(refusals >= 1);
}

#[test]
fn another_attempt_is_refused() {
    let (ls, addrs) = listeners(2);
    let out = open_pair(ls, [("job", 1, addrs.clone()), ("job", 2, addrs)]);
    let mut refusals = 0;
    for (rank, (result, took)) in out.into_iter().enumerate() {
        bounded(took);
        match result.unwrap_err() {
            DistError::HandshakeRefused { reason, .. } => {
                assert!(reason.contains("attempt"), "{reason}");
                refusals += 1;
            }
            DistError::Connect { .. } | DistError::NoPeer { .. } => {}
            e => panic!("rank {rank}: unexpected error {e}"),
        }
    }
    assert!(refusals >= 1);
}

#[test]
fn another_world_size_fails_both_ranks_at_once() {
    // Rank 1 believes in a third rank (a listener that never answers).
    let (ls, addrs) = listeners(2);
    let (third, third_addr) = listeners(1);
    let mut three = addrs.clone();
    three.push(third_addr[0].clone());
    let out = open_pair(ls, [("job", 0, addrs), ("job", 0, three)]);
    drop(third);
    let (r0, took0) = &out[0];
    let (r1, took1) = &out[1];
    match r0.as_ref().unwrap_err() {
        DistError::HandshakeRefused { reason, .. } => {
            assert!(reason.contains("world size 2 where 3"), "{reason}")
        }
        e => panic!("rank 0: unexpected error {e}"),
    }
    match r1.as_ref().unwrap_err() {
        DistError::HandshakeMismatch {
            rank,
            peer,
            message,
        } => {
            assert_eq!((*rank, peer.rank), (1, 0));
            assert!(message.contains("world size 2 where 3"), "{message}");
        }
        e => panic!("rank 1: unexpected error {e}"),
    }
    // A mismatch is not worth waiting for: both fail well before the connect timeout.
    assert!(*took0 < SHORT && *took1 < SHORT, "{took0:?} {took1:?}");
}

#[test]
fn a_garbage_connection_is_refused_and_the_ring_still_opens() {
    let (ls, addrs) = listeners(2);
    // A stray speaks HTTP to rank 1 before the ranks start; another connects and stays silent.
    let mut stray = TcpStream::connect(&addrs[1]).unwrap();
    stray
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let _silent = TcpStream::connect(&addrs[1]).unwrap();
    let results = thread::scope(|s| {
        let handles: Vec<_> = ls
            .into_iter()
            .enumerate()
            .map(|(rank, l)| {
                let addrs = addrs.clone();
                s.spawn(move || {
                    let config = TcpRingConfig::new("job", 0, rank, addrs)
                        .with_timeout(SHORT)
                        .with_connect_timeout(Duration::from_secs(10));
                    let ring = TcpRing::connect_with_listener(l, &config)?;
                    let mut v = vec![rank as i64 + 1; 3];
                    ring.all_reduce_sum_i64(&mut v)?;
                    Ok::<_, DistError>(v)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .collect::<Vec<_>>()
    });
    for r in results {
        assert_eq!(r.unwrap(), vec![3, 3, 3]);
    }
    // The stray was told why it was refused.
    stray.set_read_timeout(Some(SHORT)).unwrap();
    let mut reply = Vec::new();
    let _ = stray.read_to_end(&mut reply);
    assert!(reply.starts_with(b"MLDIST"), "{reply:?}");
    assert!(
        String::from_utf8_lossy(&reply).contains("not an ml-dist handshake"),
        "{reply:?}"
    );
}

#[test]
fn only_garbage_arriving_ends_in_no_peer_listing_it() {
    // World of 2 where rank 0 never starts (its listener exists but nobody runs it), and a
    // stray sends garbage to rank 1.
    let (mut ls, addrs) = listeners(2);
    let l1 = ls.pop().unwrap();
    let _rank0_never_runs = ls.pop().unwrap();
    let mut stray = TcpStream::connect(&addrs[1]).unwrap();
    stray
        .write_all(&[0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0, 1])
        .unwrap();
    let start = Instant::now();
    let e = open(l1, "job", 0, 1, addrs).unwrap_err();
    bounded(start.elapsed());
    match e {
        DistError::NoPeer {
            rank,
            peer,
            refused,
            ..
        } => {
            assert_eq!((rank, peer.rank), (1, 0));
            assert!(
                refused
                    .iter()
                    .any(|r| r.contains("not an ml-dist handshake")),
                "{refused:?}"
            );
        }
        // Rank 0 accepts TCP (its listener is bound) but never answers the hello.
        DistError::Connect { rank, peer, .. } => assert_eq!((rank, peer.rank), (1, 0)),
        e => panic!("unexpected error {e}"),
    }
}

#[test]
fn ranks_that_call_different_operations_get_a_mismatch() {
    // A rank that sees the mismatch stops and drops its connections, so a neighbour that has not
    // read the offending frame yet may see the connection close instead.
    for kind in [Kind::Threads, Kind::Tcp] {
        let results = run(kind, 2, SHORT, |c| {
            let first = if c.rank() == 0 {
                c.all_gather(b"x").map(|_| ())
            } else {
                c.all_reduce_sum_i64(&mut [1, 2]).map(|_| ())
            };
            let e = first.unwrap_err();
            // The collective is unusable afterwards.
            let again = c.barrier().unwrap_err();
            assert!(
                matches!(again, DistError::Broken { .. }),
                "{kind:?}: {again}"
            );
            Ok(e)
        });
        let mut mismatches = 0;
        for (rank, e) in results.into_iter().enumerate() {
            match e.unwrap() {
                DistError::Mismatch { peer, message, .. } => {
                    assert_eq!(peer.rank, 1 - rank);
                    assert!(
                        message.contains("all_reduce_sum_i64") && message.contains("all_gather"),
                        "{message}"
                    );
                    mismatches += 1;
                }
                DistError::PeerClosed { .. } => {}
                e => panic!("{kind:?}: unexpected error {e}"),
            }
        }
        assert!(mismatches >= 1, "{kind:?}");
        let results = run(kind, 3, SHORT, |c| {
            let mut v = vec![0i64; 10 + c.rank()];
            Ok(c.all_reduce_sum_i64(&mut v).unwrap_err())
        });
        let mut mismatches = 0;
        for e in results {
            match e.unwrap() {
                DistError::Mismatch { message, .. } => {
                    assert!(message.contains("buffer length"), "{message}");
                    mismatches += 1;
                }
                DistError::PeerClosed { .. } => {}
                e => panic!("{kind:?}: unexpected error {e}"),
            }
        }
        assert!(mismatches >= 1, "{kind:?}");
    }
}

/// Runs `world` ranks that loop over collective calls; rank 1 leaves after 5 rounds (its
/// collective is dropped, as when a worker dies). Returns, for every other rank, the error and
/// how long after rank 1 left it came.
fn kill_rank_one(kind: Kind, world: usize, stall: Option<Duration>) -> Vec<(DistError, Duration)> {
    let left_at: Mutex<Option<Instant>> = Mutex::new(None);
    let results = run(kind, world, SHORT, |c| {
        let rank = c.rank();
        for round in 0..10_000 {
            if rank == 1 && round == 5 {
                *left_at.lock().unwrap() = Some(Instant::now());
                if let Some(stall) = stall {
                    // Alive, connections open, but not taking part any more.
                    thread::sleep(stall);
                }
                return Ok(None);
            }
            let mut v = vec![rank as i64; 1000];
            if let Err(e) = c
                .all_reduce_sum_i64(&mut v)
                .and_then(|_| c.all_gather(&[rank as u8; 100]).map(|_| ()))
            {
                return Ok(Some((e, Instant::now())));
            }
        }
        panic!("rank {rank} never noticed that rank 1 left");
    });
    let left = left_at.lock().unwrap().expect("rank 1 left");
    results
        .into_iter()
        .enumerate()
        .filter(|(rank, _)| *rank != 1)
        .map(|(rank, r)| {
            let (e, at) = r
                .unwrap()
                .unwrap_or_else(|| panic!("rank {rank} had no error"));
            (e, at.saturating_duration_since(left))
        })
        .collect()
}

#[test]
fn a_dead_worker_makes_the_others_fail_within_the_timeout() {
    for kind in [Kind::Threads, Kind::Tcp] {
        for world in [2, 3, 4] {
            let errors = kill_rank_one(kind, world, None);
            assert_eq!(errors.len(), world - 1);
            for (e, after) in errors {
                assert!(
                    after < SHORT + Duration::from_secs(2),
                    "{kind:?} world {world}: {e} came {after:?} after rank 1 left"
                );
                assert!(
                    matches!(e, DistError::PeerClosed { .. } | DistError::Timeout { .. }),
                    "{kind:?} world {world}: {e}"
                );
            }
        }
    }
}

#[test]
fn a_stalled_worker_makes_the_others_time_out() {
    for kind in [Kind::Threads, Kind::Tcp] {
        // Rank 1 keeps its connections open for twice the timeout without taking part.
        let errors = kill_rank_one(kind, 3, Some(SHORT * 2));
        let mut timeouts = 0;
        for (e, after) in errors {
            // Each rank fails within its timeout, before rank 1 would have closed anything.
            assert!(
                after < SHORT * 2,
                "{kind:?}: {e} came {after:?} after the stall began"
            );
            match e {
                DistError::Timeout { waited, .. } => {
                    assert!(waited >= SHORT);
                    timeouts += 1;
                }
                DistError::PeerClosed { .. } => {}
                e => panic!("{kind:?}: unexpected error {e}"),
            }
        }
        assert!(timeouts >= 1, "{kind:?}");
    }
}

#[test]
fn invalid_settings_are_parameter_errors() {
    assert!(matches!(
        ThreadCollective::group(0),
        Err(DistError::Param { ref param, .. }) if param == "world_size"
    ));
    assert!(matches!(
        ThreadCollective::group_with_timeout(2, Duration::ZERO),
        Err(DistError::Param { ref param, .. }) if param == "timeout"
    ));
    let addrs = vec!["127.0.0.1:1".to_string()];
    let bad = [
        (TcpRingConfig::new("j", 0, 0, vec![]), "addresses"),
        (TcpRingConfig::new("j", 0, 1, addrs.clone()), "rank"),
        (
            TcpRingConfig::new("x".repeat(2000), 0, 0, addrs.clone()),
            "job_id",
        ),
        (
            TcpRingConfig::new("j", 0, 0, addrs.clone()).with_timeout(Duration::ZERO),
            "timeout",
        ),
        (
            TcpRingConfig::new("j", 0, 0, addrs).with_connect_timeout(Duration::ZERO),
            "connect_timeout",
        ),
    ];
    for (config, name) in bad {
        match TcpRing::connect(&config).unwrap_err() {
            DistError::Param { param, .. } => assert_eq!(param, name),
            e => panic!("{name}: {e}"),
        }
    }
    // An address nobody can listen on.
    let config = TcpRingConfig::new("j", 0, 0, vec!["256.0.0.1:0".into()]);
    assert!(matches!(
        TcpRing::connect(&config),
        Err(DistError::Bind { rank: 0, .. })
    ));
    // The error converts into ml-core's error, keeping the message.
    let e: ml_core::MlError = DistError::param("rank", "out of range").into();
    assert_eq!(e.to_string(), "parameter 'rank': out of range");
}
