//! The 32 1x1 convolutions of EfficientNet-lite0 (batch 1, 224x224) through the AVX-512
//! pointwise kernel, in network order, timed per layer: with the tiles the kernel chooses, or
//! with every candidate tile (`sweep`), to pick the tiles. Needs a CPU with AVX-512F.
//!
//! ```text
//! cargo run --release -p ml-vision --example pointwise_layers [sweep] [REPS]
//! ```

use std::time::Instant;

use ml_vision::bench::{max_rows, Epilogue, PointwiseWeights, Tile};

/// (pixels, k, cout, residual) of the 1x1 convolutions, network order.
const LAYERS: [(usize, usize, usize, bool); 32] = [
    (12544, 32, 16, false),
    (12544, 16, 96, false),
    (3136, 96, 24, false),
    (3136, 24, 144, false),
    (3136, 144, 24, true),
    (3136, 24, 144, false),
    (784, 144, 40, false),
    (784, 40, 240, false),
    (784, 240, 40, true),
    (784, 40, 240, false),
    (196, 240, 80, false),
    (196, 80, 480, false),
    (196, 480, 80, true),
    (196, 80, 480, false),
    (196, 480, 80, true),
    (196, 80, 480, false),
    (196, 480, 112, false),
    (196, 112, 672, false),
    (196, 672, 112, true),
    (196, 112, 672, false),
    (196, 672, 112, true),
    (196, 112, 672, false),
    (49, 672, 192, false),
    (49, 192, 1152, false),
    (49, 1152, 192, true),
    (49, 192, 1152, false),
    (49, 1152, 192, true),
    (49, 192, 1152, false),
    (49, 1152, 192, true),
    (49, 192, 1152, false),
    (49, 1152, 320, false),
    (49, 320, 1280, false),
];

struct Layer {
    pixels: usize,
    k: usize,
    cout: usize,
    x: Vec<f32>,
    res: Option<Vec<f32>>,
    out: Vec<f32>,
    w: PointwiseWeights,
}

fn data(n: usize, seed: f32) -> Vec<f32> {
    (0..n).map(|i| ((i as f32) * seed).sin()).collect()
}

/// One pass over the layers; `tile(i)` gives layer `i`'s tile (None: the kernel's choice).
/// Adds each layer's seconds to `t`.
fn pass(layers: &mut [Layer], tile: &dyn Fn(usize) -> Option<Tile>, t: &mut [f64]) {
    let ep = Epilogue {
        clip: Some((0.0, 6.0)),
    };
    for (i, l) in layers.iter_mut().enumerate() {
        let s = Instant::now();
        match tile(i) {
            Some(tl) => {
                assert!(l
                    .w
                    .run_avx512_tile(&l.x, l.res.as_deref(), ep, &mut l.out, tl));
            }
            None => l.w.run(&l.x, l.res.as_deref(), ep, &mut l.out),
        }
        t[i] += s.elapsed().as_secs_f64();
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let sweep = args.iter().any(|a| a == "sweep");
    let reps: usize = args
        .iter()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(50);
    if !std::arch::is_x86_feature_detected!("avx512f") {
        eprintln!("no AVX-512F on this CPU");
        return;
    }
    let mut layers: Vec<Layer> = LAYERS
        .iter()
        .map(|&(pixels, k, cout, r)| Layer {
            pixels,
            k,
            cout,
            x: data(pixels * k, 0.37),
            res: r.then(|| data(pixels * cout, 0.23)),
            out: vec![0f32; pixels * cout],
            w: PointwiseWeights::pack(&data(cout * k, 0.11), &data(cout, 0.7), cout, k),
        })
        .collect();
    let n = layers.len();
    let time = |layers: &mut [Layer], tile: &dyn Fn(usize) -> Option<Tile>| {
        let mut t = vec![0f64; n];
        let mut scratch = vec![0f64; n];
        for _ in 0..3 {
            pass(layers, tile, &mut scratch);
        }
        // Median of `reps` passes per layer.
        let mut all = vec![Vec::with_capacity(reps); n];
        for _ in 0..reps {
            scratch.iter_mut().for_each(|v| *v = 0.0);
            pass(layers, tile, &mut scratch);
            for (a, s) in all.iter_mut().zip(&scratch) {
                a.push(*s);
            }
        }
        for (ti, a) in t.iter_mut().zip(all.iter_mut()) {
            a.sort_by(f64::total_cmp);
            *ti = a[a.len() / 2];
        }
        t
    };
    let chosen = time(&mut layers, &|_| None);
    let total: f64 = chosen.iter().sum();
    let macs: usize = layers.iter().map(|l| l.pixels * l.k * l.cout).sum();
    println!(
        "kernel's tiles: {:.3} ms for {:.1} M multiply-adds ({:.1} G/s)",
        total * 1e3,
        macs as f64 / 1e6,
        macs as f64 / total / 1e9
    );
    for (l, t) in layers.iter().zip(&chosen) {
        let m = (l.pixels * l.k * l.cout) as f64;
        println!(
            "  {:5} x {:4} -> {:4}{}  {:7.1} us  {:5.1} G/s  {:?}",
            l.pixels,
            l.k,
            l.cout,
            if l.res.is_some() { " +res" } else { "     " },
            t * 1e6,
            m / t / 1e9,
            Tile::for_shape(l.pixels, l.k, l.cout)
        );
    }
    if !sweep {
        return;
    }
    let mut cands = Vec::new();
    for panels in 1..=4 {
        for rows in [max_rows(panels), max_rows(panels) - 2, 8, 6] {
            if rows > max_rows(panels) {
                continue;
            }
            for kc in [0, 128, 256] {
                for panels_outer in [false, true] {
                    let t = Tile {
                        rows,
                        panels,
                        kc,
                        panels_outer,
                    };
                    if !cands.contains(&t) {
                        cands.push(t);
                    }
                }
            }
        }
    }
    let mut best: Vec<(f64, Tile)> = vec![(f64::INFINITY, cands[0]); n];
    for c in &cands {
        let t = time(&mut layers, &|_| Some(*c));
        for (b, ti) in best.iter_mut().zip(&t) {
            if *ti < b.0 {
                *b = (*ti, *c);
            }
        }
    }
    let total_best: f64 = best.iter().map(|b| b.0).sum();
    println!("best tile per layer: {:.3} ms", total_best * 1e3);
    for (l, (t, c)) in layers.iter().zip(&best) {
        let m = (l.pixels * l.k * l.cout) as f64;
        println!(
            "  {:5} x {:4} -> {:4}  {:7.1} us  {:5.1} G/s  {:?}",
            l.pixels,
            l.k,
            l.cout,
            t * 1e6,
            m / t / 1e9,
            c
        );
    }
}
