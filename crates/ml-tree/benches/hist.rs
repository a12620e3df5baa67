//! The histogram kernel: (grad, hess) sums per bin over a node's rows.
//!
//! `cargo bench -p ml-tree --bench hist`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ml_tree::binning::BinMatrix;
use ml_tree::hist::{build_histogram, new_histogram, RowPair};

fn data(n: usize, d: usize) -> (BinMatrix, Vec<RowPair>) {
    let mut s = 0x1234_5678_9abc_def0u64;
    let mut next = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    let data: Vec<u8> = (0..n * d).map(|_| (next() % 255) as u8).collect();
    let gh = (0..n)
        .map(|_| [(next() % 1000) as f32 / 1000.0 - 0.5, 0.25])
        .collect();
    (BinMatrix::new(n, d, data, vec![255; d]), gh)
}

fn bench(c: &mut Criterion) {
    let (n, d) = (500_000, 24);
    let (bins, gh) = data(n, d);
    let features: Vec<usize> = (0..d).collect();
    let mut g = c.benchmark_group("histogram");
    g.sample_size(20);
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        g.throughput(Throughput::Elements((n * d) as u64));
        g.bench_function(format!("all_rows_{n}x{d}_{threads}t"), |b| {
            b.iter(|| {
                let mut h = new_histogram(&bins);
                pool.install(|| build_histogram(&bins, &features, None, &gh, &mut h));
                h
            })
        });
        // A node holding every third row (index list, gathered gradients).
        let rows: Vec<u32> = (0..n as u32).step_by(3).collect();
        g.throughput(Throughput::Elements((rows.len() * d) as u64));
        g.bench_function(format!("row_subset_{}x{d}_{threads}t", rows.len()), |b| {
            b.iter(|| {
                let mut h = new_histogram(&bins);
                pool.install(|| build_histogram(&bins, &features, Some(&rows), &gh, &mut h));
                h
            })
        });
    }
    // Click-log-like columns: 12 with 3-10 bins (packed into joint slot groups), 12 with 255.
    let missing: Vec<u8> = (0..d)
        .map(|f| if f < 12 { 2 + (f % 8) as u8 } else { 255 })
        .collect();
    let mut s = 0x0fed_cba9_8765_4321u64;
    let small: Vec<u8> = (0..n * d)
        .map(|i| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s % (missing[i % d] as u64 + 1)) as u8
        })
        .collect();
    let mixed = BinMatrix::new(n, d, small, missing);
    let groups = mixed.joint().map_or(d, |j| j.n_groups());
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        // Throughput counted per feature, as above: the kernel does `groups` updates a row.
        g.throughput(Throughput::Elements((n * d) as u64));
        g.bench_function(
            format!("mixed_bins_{n}x{d}_{groups}_groups_{threads}t"),
            |b| {
                b.iter(|| {
                    let mut h = new_histogram(&mixed);
                    pool.install(|| build_histogram(&mixed, &features, None, &gh, &mut h));
                    h
                })
            },
        );
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
