//! Every operation at world sizes 1 to 4, on threads and on a TCP ring, against a serial
//! reference computed here.

mod common;

use std::cmp::Ordering;
use std::time::Duration;

use common::{run, Kind, SplitMix};
use ml_dist::{Collective, DistError, LocalCollective};

const TIMEOUT: Duration = Duration::from_secs(20);
const KINDS: [Kind; 2] = [Kind::Threads, Kind::Tcp];

/// One row of a fake training set: its histogram bin, fixed-point gradient and hessian.
#[derive(Clone, Copy)]
struct Row {
    bin: usize,
    grad: i64,
    hess: i64,
}

fn rows(count: usize, bins: usize) -> Vec<Row> {
    let mut rng = SplitMix(42);
    (0..count)
        .map(|_| Row {
            bin: rng.below(bins as u64) as usize,
            grad: rng.below(1 << 41) as i64 - (1 << 40),
            hess: rng.below(1 << 40) as i64,
        })
        .collect()
}

/// (gradient, hessian) histogram of `rows`: `[g0, h0, g1, h1, ...]`.
fn histogram<'a>(rows: impl Iterator<Item = &'a Row>, bins: usize) -> Vec<i64> {
    let mut h = vec![0i64; 2 * bins];
    for r in rows {
        h[2 * r.bin] += r.grad;
        h[2 * r.bin + 1] += r.hess;
    }
    h
}

/// The rows rank `rank` of `n` holds under sharding scheme `scheme`.
fn shard(rows: &[Row], scheme: usize, rank: usize, n: usize) -> Vec<Row> {
    match scheme {
        // Contiguous blocks.
        0 => {
            let at = |k: usize| k * rows.len() / n;
            rows[at(rank)..at(rank + 1)].to_vec()
        }
        // Round-robin.
        1 => rows.iter().skip(rank).step_by(n).copied().collect(),
        // Everything on the last rank, the others empty.
        _ => {
            if rank == n - 1 {
                rows.to_vec()
            } else {
                Vec::new()
            }
        }
    }
}

#[test]
fn histogram_sums_equal_the_serial_sum_at_every_world_size() {
    let bins = 64;
    let all = rows(3000, bins);
    let reference = histogram(all.iter(), bins);
    for kind in KINDS {
        for n in 1..=4 {
            for scheme in 0..3 {
                let results = run(kind, n, TIMEOUT, |c| {
                    let mine = shard(&all, scheme, c.rank(), c.world_size());
                    let mut h = histogram(mine.iter(), bins);
                    c.all_reduce_sum_i64(&mut h)?;
                    Ok(h)
                });
                for (rank, h) in results.into_iter().enumerate() {
                    assert_eq!(
                        h.unwrap(),
                        reference,
                        "{kind:?}, world {n}, sharding {scheme}, rank {rank}"
                    );
                }
            }
        }
    }
}

/// Per-rank test data of every operation, derived from (rank, world size) so that the serial
/// reference can recompute it.
fn contributions_i128(rank: usize, len: usize) -> Vec<i128> {
    let mut rng = SplitMix(1000 + rank as u64);
    (0..len)
        .map(|_| (rng.next_u64() as i64 as i128) * (1 << 40))
        .collect()
}

fn contributions_f64(rank: usize, len: usize) -> Vec<f64> {
    let mut rng = SplitMix(2000 + rank as u64);
    (0..len)
        .map(|i| match i % 5 {
            // Signed zeros on alternating ranks: the maximum must be +0.0.
            0 => {
                if rank.is_multiple_of(2) {
                    -0.0
                } else {
                    0.0
                }
            }
            1 => -(rng.below(1000) as f64) / 7.0,
            2 => f64::NEG_INFINITY,
            _ => (rng.next_u64() as i64) as f64 / 3.0,
        })
        .collect()
}

fn contributions_i64(rank: usize, len: usize) -> Vec<i64> {
    let mut rng = SplitMix(3000 + rank as u64);
    (0..len).map(|_| rng.next_u64() as i64).collect()
}

fn gathered_bytes(rank: usize) -> Vec<u8> {
    (0..(rank * 37) % 11)
        .map(|i| (i * 31 + rank) as u8)
        .collect()
}

fn max_total(a: f64, b: f64) -> f64 {
    if b.total_cmp(&a) == Ordering::Greater {
        b
    } else {
        a
    }
}

#[test]
fn every_operation_matches_the_serial_reference() {
    // Lengths around the world size exercise empty ring chunks.
    for kind in KINDS {
        for n in 1..=4 {
            for len in [0usize, 1, 3, 5, 257] {
                let sum128: Vec<i128> = (0..len)
                    .map(|i| (0..n).map(|r| contributions_i128(r, len)[i]).sum())
                    .collect();
                let maxf: Vec<u64> = (0..len)
                    .map(|i| {
                        (0..n)
                            .map(|r| contributions_f64(r, len)[i])
                            .fold(f64::NAN.copysign(-1.0), max_total)
                            .to_bits()
                    })
                    .collect();
                let maxi: Vec<i64> = (0..len)
                    .map(|i| (0..n).map(|r| contributions_i64(r, len)[i]).max().unwrap())
                    .collect();
                let gathered: Vec<Vec<u8>> = (0..n).map(gathered_bytes).collect();
                let results = run(kind, n, TIMEOUT, |c| {
                    let r = c.rank();
                    assert_eq!(c.world_size(), n);
                    let mut a = contributions_i128(r, len);
                    c.all_reduce_sum_i128(&mut a)?;
                    let mut f = contributions_f64(r, len);
                    c.all_reduce_max_f64(&mut f)?;
                    let mut m = contributions_i64(r, len);
                    c.all_reduce_max_i64(&mut m)?;
                    let g = c.all_gather(&gathered_bytes(r))?;
                    let mut broadcasts = Vec::new();
                    for root in 0..n {
                        // Non-root data must be ignored.
                        let data = format!("payload of root {root} seen by {r}").into_bytes();
                        let payload = if r == root { &data[..] } else { b"ignored" };
                        broadcasts.push(c.broadcast(root, payload)?);
                    }
                    c.barrier()?;
                    Ok((a, f, m, g, broadcasts))
                });
                for (rank, out) in results.into_iter().enumerate() {
                    let what = format!("{kind:?}, world {n}, len {len}, rank {rank}");
                    let (a, f, m, g, broadcasts) = out.unwrap();
                    assert_eq!(a, sum128, "{what}: sum i128");
                    let fbits: Vec<u64> = f.iter().map(|x| x.to_bits()).collect();
                    assert_eq!(fbits, maxf, "{what}: max f64");
                    assert_eq!(m, maxi, "{what}: max i64");
                    assert_eq!(g, gathered, "{what}: all_gather");
                    for (root, b) in broadcasts.iter().enumerate() {
                        let expected = format!("payload of root {root} seen by {root}");
                        assert_eq!(b, expected.as_bytes(), "{what}: broadcast from {root}");
                    }
                }
            }
        }
    }
}

#[test]
fn long_mixed_sequences_stay_in_step() {
    // The same random program on every rank: 60 calls of varied operations and lengths.
    for kind in KINDS {
        for n in [2usize, 3, 4] {
            let results = run(kind, n, TIMEOUT, |c| {
                let mut program = SplitMix(7);
                let mut checks = 0;
                for call in 0..60u64 {
                    // Mostly short buffers (frames the calling thread writes), a third long
                    // ones (frames through the writer thread), interleaved.
                    let len = if program.below(3) == 0 {
                        program.below(3000)
                    } else {
                        program.below(40)
                    } as usize;
                    match program.below(3) {
                        0 => {
                            let mut v: Vec<i64> =
                                (0..len).map(|i| (c.rank() * 1000 + i) as i64).collect();
                            c.all_reduce_sum_i64(&mut v)?;
                            let base = (0..n).map(|r| r * 1000).sum::<usize>() as i64;
                            for (i, x) in v.iter().enumerate() {
                                assert_eq!(*x, base + (n * i) as i64, "call {call}");
                            }
                        }
                        1 => {
                            let g = c.all_gather(&vec![c.rank() as u8; len])?;
                            for (r, b) in g.iter().enumerate() {
                                assert_eq!(b, &vec![r as u8; len], "call {call}");
                            }
                        }
                        _ => {
                            let root = (call as usize) % n;
                            let b = c.broadcast(root, &vec![c.rank() as u8; len])?;
                            assert_eq!(b, vec![root as u8; len], "call {call}");
                        }
                    }
                    checks += 1;
                }
                Ok(checks)
            });
            for out in results {
                assert_eq!(out.unwrap(), 60, "{kind:?}, world {n}");
            }
        }
    }
}

#[test]
fn local_collective_equals_a_world_of_one() {
    let all = rows(500, 8);
    let mut h = histogram(all.iter(), 8);
    let reference = h.clone();
    LocalCollective::new().all_reduce_sum_i64(&mut h).unwrap();
    assert_eq!(h, reference);
    let tcp = run(Kind::Tcp, 1, TIMEOUT, |c| {
        let mut h = histogram(all.iter(), 8);
        c.all_reduce_sum_i64(&mut h)?;
        Ok((h, c.all_gather(b"solo")?, c.broadcast(0, b"x")?))
    });
    let (h, g, b) = tcp.into_iter().next().unwrap().unwrap();
    assert_eq!(h, reference);
    assert_eq!(g, vec![b"solo".to_vec()]);
    assert_eq!(b, b"x");
}

#[test]
fn a_root_outside_the_world_is_a_parameter_error() {
    for kind in KINDS {
        let results = run(kind, 2, TIMEOUT, |c| {
            let e = c.broadcast(2, b"x").unwrap_err();
            assert!(
                matches!(e, DistError::Param { ref param, .. } if param == "root"),
                "{e}"
            );
            // The parameter error leaves the collective usable.
            c.broadcast(1, b"still working")
        });
        for out in results {
            assert_eq!(out.unwrap(), b"still working");
        }
    }
}
