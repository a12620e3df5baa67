//! Per-operator time profile of an ONNX image model under tract, as `OnnxModel::load` builds it
//! (tract's plan with this crate's depthwise convolution) or with tract's own operators only.
//!
//! ```text
//! cargo run --release -p ml-vision --example profile_model -- MODEL.onnx [BATCH] [RUNS]
//! ```
//!
//! Environment: `BACKEND=channels-last` (the default, as `OnnxModel::load`: convolutions in
//! this crate's channels-last operator), `BACKEND=fast-depthwise` (tract's layout, this crate's
//! depthwise operator only) or `BACKEND=tract` (tract's own operators; `TRACT_ONLY=1` is the
//! same); `FUSE=0` keeps one operator per convolution (no `FusedBlock`); `GRAPH=1` prints the plan's nodes; `DUMP=1` also lists the 100
//! 40 slowest nodes; `COMPARE=tensor.f32` (raw little-endian `1x3x224x224` f32) prints the max
//! abs difference of every output against tract's own optimized plan. `BATCH` > 1 loads the
//! model with that batch size (ignoring the value_info shapes of the file).

use std::collections::BTreeMap;
use std::time::Instant;

use tract_onnx::prelude::*;
use tract_onnx::tract_core;

fn main() -> TractResult<()> {
    let args: Vec<String> = std::env::args().collect();
    let Some(path) = args.get(1) else {
        eprintln!("usage: profile_model MODEL.onnx [BATCH] [RUNS]");
        std::process::exit(2);
    };
    let n: usize = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(1);
    let runs: usize = args.get(3).map(|s| s.parse()).transpose()?.unwrap_or(20);
    let backend = std::env::var("BACKEND").unwrap_or_else(|_| {
        if std::env::var("TRACT_ONLY").is_ok() {
            "tract".into()
        } else {
            "channels-last".into()
        }
    });
    let t = Instant::now();
    let model = onnx()
        .with_ignore_value_info(n > 1)
        .with_ignore_output_shapes(n > 1)
        .model_for_path(path)?
        .with_input_fact(0, f32::fact([n, 3, 224, 224]).into())?
        .into_typed()?;
    if std::env::var("GRAPH").is_ok_and(|g| g == "typed") {
        for node in &model.nodes {
            println!("{node} {:?} {}", node.inputs, node.op().info()?.join(" | "));
        }
    }
    let mut model = if backend == "channels-last" {
        let converted = if std::env::var("FUSE").is_ok_and(|f| f == "0") {
            ml_vision::bench::to_channels_last_unfused(&model)?
        } else {
            ml_vision::bench::to_channels_last(&model)?
        };
        converted.unwrap_or(model)
    } else {
        model
    }
    .into_decluttered()?;
    if std::env::var("GRAPH").is_ok_and(|g| g == "decluttered") {
        for node in &model.nodes {
            println!("{node} {:?} {}", node.inputs, node.op().info()?.join(" | "));
        }
    }
    match backend.as_str() {
        "tract" => {}
        "fast-depthwise" => {
            let replaced = ml_vision::bench::use_fast_depthwise(&mut model)?;
            eprintln!("{replaced} depthwise layers run by FastDepthwise");
        }
        "channels-last" => {
            let n = ml_vision::bench::count_channels_last(&model);
            let fused = ml_vision::bench::count_fused_blocks(&model);
            eprintln!("{n} convolutions run by ChannelsLastConv, {fused} blocks by FusedBlock");
            ml_vision::bench::use_fast_depthwise(&mut model)?;
        }
        other => {
            return Err(TractError::msg(format!(
                "BACKEND must be tract, fast-depthwise or channels-last, not {other}"
            )))
        }
    }
    model.optimize()?;
    eprintln!("load + optimize {:.3} s", t.elapsed().as_secs_f64());
    let plan = model.into_runnable()?;
    if std::env::var("GRAPH").is_ok() {
        for node in &plan.model().nodes {
            println!("{node} {}", node.op().info()?.join(" | "));
        }
    }
    if let Ok(reference) = std::env::var("COMPARE") {
        let bytes = std::fs::read(reference)?;
        let x: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let t = Tensor::from_shape(&[1, 3, 224, 224], &x)?;
        let base = onnx()
            .model_for_path(path)?
            .with_input_fact(0, f32::fact([1, 3, 224, 224]).into())?
            .into_optimized()?
            .into_runnable()?;
        let ours = plan.run(tvec!(t.clone().into()))?;
        let theirs = base.run(tvec!(t.into()))?;
        for (i, (a, b)) in ours.iter().zip(&theirs).enumerate() {
            let (a, b) = (
                a.to_plain_array_view::<f32>()?,
                b.to_plain_array_view::<f32>()?,
            );
            let d = a
                .iter()
                .zip(b.iter())
                .map(|(x, y)| (x - y).abs())
                .fold(0f32, f32::max);
            println!("output {i}: max abs diff vs tract's own plan {d:e}");
        }
    }
    let input = Tensor::from_shape(&[n, 3, 224, 224], &vec![0.1f32; n * 3 * 224 * 224])?;
    let mut state = plan.spawn()?;
    for _ in 0..3 {
        state.run(tvec!(input.clone().into()))?;
    }
    let mut by_node = vec![0f64; plan.model().nodes.len()];
    let t = Instant::now();
    for _ in 0..runs {
        state.run_plan_with_eval(tvec!(input.clone().into()), |ctx, st, node, inputs| {
            let t = Instant::now();
            let r = tract_core::plan::eval(ctx, st, node, inputs);
            by_node[node.id] += t.elapsed().as_secs_f64();
            r
        })?;
    }
    let total = t.elapsed().as_secs_f64() / runs as f64;
    let mut by_op: BTreeMap<String, (f64, usize)> = BTreeMap::new();
    for (id, node) in plan.model().nodes.iter().enumerate() {
        let e = by_op.entry(node.op().name().to_string()).or_default();
        e.0 += by_node[id] / runs as f64;
        e.1 += 1;
    }
    let mut ops: Vec<_> = by_op.into_iter().collect();
    ops.sort_by(|a, b| b.1 .0.total_cmp(&a.1 .0));
    println!(
        "batch {n}: {:.2} ms per run, {:.2} ms per image",
        total * 1e3,
        total * 1e3 / n as f64
    );
    for (op, (t, count)) in &ops {
        println!(
            "{op:30} {count:4} nodes {:8.3} ms {:5.1}%",
            t * 1e3,
            100.0 * t / total
        );
    }
    if std::env::var("DUMP").is_ok() {
        let mut nodes: Vec<(usize, f64)> = by_node.iter().copied().enumerate().collect();
        nodes.sort_by(|a, b| b.1.total_cmp(&a.1));
        for (id, t) in nodes.iter().take(100) {
            let node = &plan.model().nodes[*id];
            println!(
                "{:7.3} ms  {} {}",
                t * 1e3 / runs as f64,
                node,
                node.op().info()?.join(" | ")
            );
        }
    }
    Ok(())
}
