//! A large all-reduce (a million `i64` per rank) through the ring's reduce-scatter and
//! all-gather, against a serial sum.

mod common;

use std::time::Duration;

use common::{run, Kind, SplitMix};

/// One more than a million, so the ring chunks are not all the same size.
const LEN: usize = 1_000_003;

fn contribution(rank: usize) -> Vec<i64> {
    let mut rng = SplitMix(rank as u64 + 99);
    (0..LEN)
        .map(|_| (rng.next_u64() >> 2) as i64 - (1 << 61))
        .collect()
}

#[test]
fn a_million_i64_sum_exactly_on_a_tcp_ring_and_on_threads() {
    for (kind, n) in [
        (Kind::Tcp, 2),
        (Kind::Tcp, 3),
        (Kind::Tcp, 4),
        (Kind::Threads, 3),
    ] {
        let mut reference = contribution(0);
        for r in 1..n {
            for (acc, x) in reference.iter_mut().zip(contribution(r)) {
                *acc = acc.wrapping_add(x);
            }
        }
        let results = run(kind, n, Duration::from_secs(30), |c| {
            let mut v = contribution(c.rank());
            c.all_reduce_sum_i64(&mut v)?;
            // Compare on the rank's own thread, return only the verdict.
            Ok(v == reference)
        });
        for (rank, same) in results.into_iter().enumerate() {
            assert!(same.unwrap(), "{kind:?}, world {n}, rank {rank}");
        }
    }
}
