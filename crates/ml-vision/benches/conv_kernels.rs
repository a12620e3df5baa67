//! The channels-last convolution kernels on EfficientNet-lite0's layer shapes: the stem
//! (im2col + product), 1x1 convolutions, depthwise convolutions.
//!
//! `cargo bench -p ml-vision --bench conv_kernels` (figures in benches/vision.md).

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ml_vision::bench::{
    im2col, ConvGeometry, DepthwiseWeights, Epilogue, InputLayout, PointwiseWeights,
};

fn data(n: usize, seed: f32) -> Vec<f32> {
    (0..n).map(|i| ((i as f32) * seed).sin()).collect()
}

fn geometry(h: usize, k: usize, s: usize, pad: (usize, usize)) -> ConvGeometry {
    let o = (h + pad.0 + pad.1 - k) / s + 1;
    ConvGeometry {
        h,
        w: h,
        kh: k,
        kw: k,
        sh: s,
        sw: s,
        pad_top: pad.0,
        pad_left: pad.0,
        oh: o,
        ow: o,
    }
}

fn bench_kernels(c: &mut Criterion) {
    let mut g = c.benchmark_group("conv_kernels");
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    let relu6 = Epilogue {
        clip: Some((0.0, 6.0)),
    };

    // Stem: 3x3 stride 2, 3 -> 32 channels, 224x224 channels-first input.
    let geo = geometry(224, 3, 2, (0, 1));
    let x = data(3 * 224 * 224, 0.37);
    let mut patches = vec![0f32; geo.oh * geo.ow * 27];
    g.bench_function("stem_im2col", |b| {
        b.iter(|| {
            im2col(
                black_box(&x),
                3,
                InputLayout::ChannelsFirst,
                &geo,
                &mut patches,
            )
        })
    });
    let w = PointwiseWeights::pack(&data(32 * 27, 0.11), &data(32, 0.5), 32, 27);
    let mut out = vec![0f32; geo.oh * geo.ow * 32];
    g.throughput(Throughput::Elements((geo.oh * geo.ow * 32 * 27) as u64));
    g.bench_function("stem_product_k27", |b| {
        b.iter(|| w.run(black_box(&patches), None, relu6, &mut out))
    });

    // 1x1 convolutions: (pixels, k, cout).
    for (pixels, k, cout) in [
        (12544, 16, 96),
        (196, 112, 672),
        (196, 672, 112),
        (49, 1152, 320),
    ] {
        let x = data(pixels * k, 0.21);
        let w = PointwiseWeights::pack(&data(cout * k, 0.13), &data(cout, 0.3), cout, k);
        let mut out = vec![0f32; pixels * cout];
        g.throughput(Throughput::Elements((pixels * k * cout) as u64));
        g.bench_function(format!("pointwise_{pixels}x{k}_to_{cout}"), |b| {
            b.iter(|| w.run(black_box(&x), None, relu6, &mut out))
        });
    }

    // Depthwise: (side, channels, kernel, stride, pads).
    for (h, ch, k, s, pad) in [
        (112, 96, 3, 2, (0, 1)),
        (56, 144, 3, 1, (1, 1)),
        (14, 672, 5, 1, (2, 2)),
        (7, 1152, 5, 1, (2, 2)),
    ] {
        let geo = geometry(h, k, s, pad);
        let x = data(h * h * ch, 0.17);
        let w = DepthwiseWeights::pack(&data(ch * k * k, 0.19), &data(ch, 0.4), ch, geo);
        let mut out = vec![0f32; geo.oh * geo.ow * ch];
        g.throughput(Throughput::Elements((geo.oh * geo.ow * ch * k * k) as u64));
        g.bench_function(format!("depthwise_{h}x{h}x{ch}_k{k}_s{s}"), |b| {
            b.iter(|| w.run(black_box(&x), relu6, &mut out))
        });
    }
    g.finish();
}

criterion_group!(benches, bench_kernels);
criterion_main!(benches);
