//! The histogram kernel: (grad, hess) sums per bin over a node's rows.
//!
//! `cargo bench -p ml-tree --bench hist`
//!
//! Pairs of 30 bits (unbounded objectives) are summed pair by pair; pairs of 17 bits (the
//! logistic objective's, `_17bit` cases) two to a 64-bit slot (see `ml_tree::hist`).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ml_tree::bench::{build_histogram, new_histogram, BinMatrix, QPair};

/// A small deterministic generator (xorshift) for the bench data.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// `n` rows of `d` features of 255 value bins, and the rows' pairs in fixed point (30 bits).
fn data(n: usize, d: usize) -> (BinMatrix, Vec<QPair>) {
    let mut rng = XorShift(0x1234_5678_9abc_def0);
    let data: Vec<u8> = (0..n * d).map(|_| (rng.next() % 255) as u8).collect();
    let gh = (0..n)
        .map(|_| [(rng.next() % (1 << 30)) as i32 - (1 << 29), 1 << 28])
        .collect();
    (BinMatrix::new(n, d, data, vec![255; d]), gh)
}

/// Click-log-like columns: 12 with 3-10 bins (packed into joint slot groups), the rest 255.
fn mixed_bins(n: usize, d: usize) -> BinMatrix {
    let missing: Vec<u8> = (0..d)
        .map(|f| if f < 12 { 2 + (f % 8) as u8 } else { 255 })
        .collect();
    let mut rng = XorShift(0x0fed_cba9_8765_4321);
    let bins: Vec<u8> = (0..n * d)
        .map(|i| (rng.next() % (missing[i % d] as u64 + 1)) as u8)
        .collect();
    BinMatrix::new(n, d, bins, missing)
}

fn bench(c: &mut Criterion) {
    let (n, d) = (500_000, 24);
    let (bins, gh) = data(n, d);
    let mixed = mixed_bins(n, d);
    let groups = mixed.joint().map_or(d, |j| j.n_groups());
    let features: Vec<usize> = (0..d).collect();
    // A node holding every third row (index list, gathered gradients).
    let rows: Vec<u32> = (0..n as u32).step_by(3).collect();
    // The same pairs at the logistic objective's 17 bits.
    let narrow: Vec<QPair> = gh.iter().map(|p| [p[0] >> 13, p[1] >> 13]).collect();
    let mut g = c.benchmark_group("histogram");
    g.sample_size(20);
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let mut case = |name: String,
                        m: &BinMatrix,
                        node: Option<&[u32]>,
                        pairs: &[QPair],
                        elements: usize| {
            g.throughput(Throughput::Elements(elements as u64));
            g.bench_function(name, |b| {
                b.iter(|| {
                    let mut h = new_histogram(m);
                    pool.install(|| build_histogram(m, &features, node, pairs, &mut h));
                    h
                })
            });
        };
        case(
            format!("all_rows_{n}x{d}_{threads}t"),
            &bins,
            None,
            &gh,
            n * d,
        );
        case(
            format!("row_subset_{}x{d}_{threads}t", rows.len()),
            &bins,
            Some(&rows),
            &gh,
            rows.len() * d,
        );
        // Throughput counted per feature, as above: the kernel does `groups` updates a row.
        for (pairs, bits) in [(&gh, ""), (&narrow, "_17bit")] {
            case(
                format!("mixed_bins_{n}x{d}_{groups}_groups{bits}_{threads}t"),
                &mixed,
                None,
                pairs,
                n * d,
            );
            case(
                format!("mixed_bins_subset_{}x{d}{bits}_{threads}t", rows.len()),
                &mixed,
                Some(&rows),
                pairs,
                rows.len() * d,
            );
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
