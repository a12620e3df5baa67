//! The tract operator [`FastDepthwise`]: depthwise convolutions that stay channels-first in a
//! tract plan, and the rewrite [`use_fast_depthwise`] that puts it in. (The channels-last
//! depthwise *kernel* run by [`ChannelsLastConv`](crate::channels_last::ChannelsLastConv) is
//! [`crate::kernels::depthwise_nhwc`].) This operator carries its own arithmetic (phase planes,
//! interleaved channels), portable and SIMD paths side by side.
//!
//! It is faster than tract's own depthwise convolution on the shapes mobile CNNs
//! (EfficientNet-lite, MobileNet) use.
//!
//! tract 0.23 runs a depthwise convolution (one filter per channel) in NCHW with a vectorised
//! kernel only on the padding-free zone of stride-1 layers; strided layers and small planes
//! (7x7) fall back to scalar loops, and its channel-last variant has no x86 kernel at all. On
//! EfficientNet-lite0 that made depthwise layers 60% of the inference time for 5% of the
//! multiply-adds (per-operator profile in `benches/vision.md`).
//!
//! [`FastDepthwise`] is a tract [`TypedOp`]: [`use_fast_depthwise`] rewrites a decluttered model,
//! replacing every float depthwise `Conv` (constant kernel and bias, explicit or no padding, no
//! dilation) by it, fusing a following `Clip` (`Max` then `Min` with constants, ReLU6) into it.
//! The plan still runs in tract; only this operator's arithmetic is ours.
//!
//! Large planes run one channel at a time: the zero-padded input plane is split into
//! `stride_h * stride_w` phase planes (`phase[a][b][y][x] = padded[y * stride_h + a][x *
//! stride_w + b]`), so that every tap reads a contiguous run of one phase plane. Outputs are
//! computed as one long run over the rows of the phase-plane width (the few columns past the
//! output width are computed and dropped), in blocks of 32 or 64 values held in registers
//! across all taps: `bias + sum_t w[t] * x[t]`,
//! taps in row-major kernel order, one multiply and one add each (no FMA), the same arithmetic
//! on every CPU. Small planes (7x7) run 16 channels at a time on a channel-interleaved,
//! zero-padded copy of the input, one vector of channels per tap, with the same arithmetic in
//! the same order. AVX2 or AVX-512 is used when the CPU has it (runtime detection); results do
//! not depend on it nor on the thread count, and equal tract's own depthwise convolution bit for
//! bit on EfficientNet-lite0.

use std::sync::Arc;

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ndarray::{ArrayD, IxDyn};
use tract_onnx::tract_core::ops::cnn::{Conv, KernelFormat, PaddingSpec};
use tract_onnx::tract_core::ops::nn::DataFormat;
use tract_onnx::tract_core::{rule_if, rule_if_some};

use crate::tract_graph::{f32_const, following_clip};

/// Geometry of one depthwise layer (single image, channels first).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Geometry {
    /// Shape of the input tensor (`[C, H, W]` or `[1, C, H, W]`).
    input_shape: TVec<usize>,
    /// Shape of the output tensor.
    output_shape: TVec<usize>,
    c: usize,
    h: usize,
    w: usize,
    kh: usize,
    kw: usize,
    sh: usize,
    sw: usize,
    pad_top: usize,
    pad_left: usize,
    oh: usize,
    ow: usize,
    /// Phase-plane height and width (`ceil(padded / stride)`).
    hq: usize,
    wq: usize,
    /// Padded input height and width.
    hp: usize,
    wp: usize,
}

impl Geometry {
    /// Number of output values computed per channel (rows of width `wq`, the last one `ow`).
    fn run_len(&self) -> usize {
        (self.oh - 1) * self.wq + self.ow
    }
}

/// A depthwise convolution (`group == channels`, one `kh x kw` filter per channel) with an
/// optional fused clip, on a single channels-first image. See the [module docs](self).
#[derive(Debug, Clone)]
pub(crate) struct FastDepthwise {
    geo: Geometry,
    /// `C * kh * kw` filter taps, channel-major, row-major within a filter.
    weights: Arc<Vec<f32>>,
    /// One bias per channel.
    bias: Arc<Vec<f32>>,
    /// `(low, high)` applied to every output (ReLU6 is `(0, 6)`).
    clip: Option<(f32, f32)>,
    /// Run 16 channels at a time on a channel-interleaved copy of the input (small planes)
    /// instead of one channel at a time on phase planes (large planes).
    interleaved: bool,
}

/// Input planes up to this many pixels (the 7x7 layers of EfficientNet-lite0) run interleaved:
/// their rows are too short for the per-channel kernel. Measured per layer on EfficientNet-lite0
/// (1 thread): 7x7x1152 5x5 0.21 -> 0.15 ms interleaved, but 14x14x672 5x5 0.23 -> 0.29 ms.
const INTERLEAVE_MAX_PIXELS: usize = 64;

impl PartialEq for FastDepthwise {
    fn eq(&self, other: &Self) -> bool {
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        self.geo == other.geo
            && bits(&self.weights) == bits(&other.weights)
            && bits(&self.bias) == bits(&other.bias)
            && self.interleaved == other.interleaved
            && self.clip.map(|(a, b)| (a.to_bits(), b.to_bits()))
                == other.clip.map(|(a, b)| (a.to_bits(), b.to_bits()))
    }
}

impl Eq for FastDepthwise {}

/// Block of outputs kept in registers across the taps (32 = four AVX registers).
const BLOCK: usize = 32;
/// Wider block for AVX-512 (four 16-lane registers).
const BLOCK_512: usize = 64;
/// Block of the last outputs of a run (one AVX-512 or two AVX registers).
const TAIL: usize = 16;

/// `full[i] = bias + sum_t w_t * phases[off_t + i]`, in blocks of `B` outputs then blocks of
/// `TAIL` (`full.len()` is a multiple of `TAIL`).
#[inline(always)]
fn accumulate<const B: usize>(full: &mut [f32], phases: &[f32], taps: &[(usize, f32)], bias: f32) {
    let main = full.len() / B * B;
    accumulate_blocks::<B>(&mut full[..main], 0, phases, taps, bias);
    accumulate_blocks::<TAIL>(&mut full[main..], main, phases, taps, bias);
}

#[inline(always)]
fn accumulate_blocks<const B: usize>(
    full: &mut [f32],
    start: usize,
    phases: &[f32],
    taps: &[(usize, f32)],
    bias: f32,
) {
    for (blk, out) in full.chunks_exact_mut(B).enumerate() {
        let i0 = start + blk * B;
        let mut acc = [bias; B];
        for &(off, wt) in taps {
            let src: &[f32; B] = phases[off + i0..off + i0 + B]
                .try_into()
                .expect("block of B values");
            for j in 0..B {
                acc[j] += wt * src[j];
            }
        }
        out.copy_from_slice(&acc);
    }
}

/// `even[i] = src[2i]`, `odd[i] = src[2i + 1]` (a last unpaired value goes to `even`).
#[inline]
fn deinterleave2(src: &[f32], even: &mut [f32], odd: &mut [f32]) {
    let pairs = src.chunks_exact(2);
    let rest = pairs.remainder();
    let n = src.len() / 2;
    for ((p, e), o) in pairs.zip(&mut even[..n]).zip(&mut odd[..n]) {
        *e = p[0];
        *o = p[1];
    }
    if let [last] = rest {
        even[n] = *last;
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn accumulate_avx2(full: &mut [f32], phases: &[f32], taps: &[(usize, f32)], bias: f32) {
    accumulate::<BLOCK>(full, phases, taps, bias)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn accumulate_avx512(full: &mut [f32], phases: &[f32], taps: &[(usize, f32)], bias: f32) {
    accumulate::<BLOCK_512>(full, phases, taps, bias)
}

/// Channels per group of the interleaved path.
const LANES: usize = 16;
/// Output positions computed together (independent accumulators) on the interleaved path.
const POSITIONS: usize = 4;

/// The interleaved path's arithmetic: `buf` is the zero-padded input of `LANES` channels,
/// `[hp][wp][LANES]`; `wv` the taps, `[kh * kw][LANES]`; `out` gets `[oh * ow][LANES]`.
/// Per output: the bias, then one multiply and one add per tap in row-major kernel order.
#[inline(always)]
fn interleaved_body(g: &Geometry, buf: &[f32], wv: &[f32], bias: &[f32; LANES], out: &mut [f32]) {
    let vec = |v: &[f32], i: usize| -> [f32; LANES] { v[i..i + LANES].try_into().expect("LANES") };
    let step = g.sw * LANES;
    for oy in 0..g.oh {
        let mut ox = 0;
        // Four outputs at a time: four independent accumulators stay in registers.
        while ox + POSITIONS <= g.ow {
            let (mut a0, mut a1, mut a2, mut a3) = (*bias, *bias, *bias, *bias);
            for ky in 0..g.kh {
                let row = (oy * g.sh + ky) * g.wp + ox * g.sw;
                for kx in 0..g.kw {
                    let wt = vec(wv, (ky * g.kw + kx) * LANES);
                    let base = (row + kx) * LANES;
                    let x0 = vec(buf, base);
                    let x1 = vec(buf, base + step);
                    let x2 = vec(buf, base + 2 * step);
                    let x3 = vec(buf, base + 3 * step);
                    for l in 0..LANES {
                        a0[l] += wt[l] * x0[l];
                        a1[l] += wt[l] * x1[l];
                        a2[l] += wt[l] * x2[l];
                        a3[l] += wt[l] * x3[l];
                    }
                }
            }
            let o = (oy * g.ow + ox) * LANES;
            out[o..o + LANES].copy_from_slice(&a0);
            out[o + LANES..o + 2 * LANES].copy_from_slice(&a1);
            out[o + 2 * LANES..o + 3 * LANES].copy_from_slice(&a2);
            out[o + 3 * LANES..o + 4 * LANES].copy_from_slice(&a3);
            ox += POSITIONS;
        }
        while ox < g.ow {
            let mut a = *bias;
            for ky in 0..g.kh {
                let row = (oy * g.sh + ky) * g.wp + ox * g.sw;
                for kx in 0..g.kw {
                    let wt = vec(wv, (ky * g.kw + kx) * LANES);
                    let x = vec(buf, (row + kx) * LANES);
                    for l in 0..LANES {
                        a[l] += wt[l] * x[l];
                    }
                }
            }
            let o = (oy * g.ow + ox) * LANES;
            out[o..o + LANES].copy_from_slice(&a);
            ox += 1;
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn interleaved_avx2(g: &Geometry, buf: &[f32], wv: &[f32], bias: &[f32; LANES], out: &mut [f32]) {
    interleaved_body(g, buf, wv, bias, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn interleaved_avx512(g: &Geometry, buf: &[f32], wv: &[f32], bias: &[f32; LANES], out: &mut [f32]) {
    interleaved_body(g, buf, wv, bias, out)
}

/// Which accumulation kernel this CPU runs.
#[derive(Clone, Copy)]
enum Isa {
    Generic,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    #[cfg(target_arch = "x86_64")]
    Avx512,
}

/// The widest kernels the CPU runs, within the cap of `ML_VISION_MAX_ISA` (see `crate::isa`).
fn detect_isa() -> Isa {
    #[cfg(target_arch = "x86_64")]
    {
        if crate::isa::avx512f() {
            return Isa::Avx512;
        }
        if crate::isa::avx2() {
            return Isa::Avx2;
        }
    }
    Isa::Generic
}

impl FastDepthwise {
    /// The interleaved path: groups of [`LANES`] channels, each copied channel-last into a
    /// zero-padded buffer so that every tap of every output is one aligned vector of channels.
    fn compute_interleaved(&self, input: &[f32], out: &mut [f32]) {
        let g = &self.geo;
        let isa = detect_isa();
        let taps_per_channel = g.kh * g.kw;
        let mut buf = vec![0f32; g.hp * g.wp * LANES];
        let mut wv = vec![0f32; taps_per_channel * LANES];
        let mut res = vec![0f32; g.oh * g.ow * LANES];
        let plane = g.h * g.w;
        let oplane = g.oh * g.ow;
        for c0 in (0..g.c).step_by(LANES) {
            let lanes = LANES.min(g.c - c0);
            let mut bias = [0f32; LANES];
            for l in 0..LANES {
                let ch = c0 + l.min(lanes - 1);
                bias[l] = self.bias[ch];
                for t in 0..taps_per_channel {
                    wv[t * LANES + l] = self.weights[ch * taps_per_channel + t];
                }
                // Lanes past the last channel repeat it; their outputs are dropped.
                let x = &input[ch * plane..(ch + 1) * plane];
                for (r, row) in x.chunks_exact(g.w).enumerate() {
                    let base = ((r + g.pad_top) * g.wp + g.pad_left) * LANES + l;
                    for (c, v) in row.iter().enumerate() {
                        buf[base + c * LANES] = *v;
                    }
                }
            }
            match isa {
                // SAFETY: the CPU has the features these functions are compiled for
                // (checked at run time by `detect_isa`).
                #[cfg(target_arch = "x86_64")]
                Isa::Avx512 => unsafe { interleaved_avx512(g, &buf, &wv, &bias, &mut res) },
                #[cfg(target_arch = "x86_64")]
                Isa::Avx2 => unsafe { interleaved_avx2(g, &buf, &wv, &bias, &mut res) },
                Isa::Generic => interleaved_body(g, &buf, &wv, &bias, &mut res),
            }
            let (lo, hi) = self.clip.unwrap_or((f32::NEG_INFINITY, f32::INFINITY));
            let dst = &mut out[c0 * oplane..(c0 + lanes) * oplane];
            for (p, v) in res.chunks_exact(LANES).enumerate() {
                for (l, x) in v.iter().take(lanes).enumerate() {
                    dst[l * oplane + p] = x.max(lo).min(hi);
                }
            }
        }
    }

    /// Runs the convolution on one image (`C * H * W` values) into `out` (`C * OH * OW`).
    fn compute(&self, input: &[f32], out: &mut [f32]) {
        let g = &self.geo;
        let isa = detect_isa();
        let plane = g.hq * g.wq;
        let taps_per_channel = g.kh * g.kw;
        let len = g.run_len();
        // Outputs are computed in whole blocks: pad the run and the phase planes so that the
        // last block reads and writes inside the buffers (the extra values are dropped).
        let run = len.div_ceil(TAIL) * TAIL;
        let max_off = ((g.kh - 1) / g.sh * g.wq + (g.kw - 1) / g.sw) + (g.sh * g.sw - 1) * plane;
        let mut phases = vec![0f32; (g.sh * g.sw * plane).max(max_off + run)];
        let mut full = vec![0f32; run];
        let mut taps: Vec<(usize, f32)> = Vec::with_capacity(taps_per_channel);
        for ch in 0..g.c {
            let x = &input[ch * g.h * g.w..(ch + 1) * g.h * g.w];
            // Phase planes of the zero-padded input (borders stay zero from the allocation;
            // every interior value is rewritten for each channel).
            for (r, src) in x.chunks_exact(g.w).enumerate() {
                let pr = r + g.pad_top;
                let (a, y) = (pr % g.sh, pr / g.sh);
                if y >= g.hq {
                    continue;
                }
                let row = |b: usize| (a * g.sw + b) * plane + y * g.wq;
                if g.sw == 1 {
                    let start = row(0) + g.pad_left;
                    phases[start..start + g.w].copy_from_slice(src);
                } else if g.sw == 2 {
                    let (r0, r1) = (row(0), row(1));
                    let (lo, hi) = phases.split_at_mut(r1);
                    let (even, odd) = (&mut lo[r0..r0 + g.wq], &mut hi[..g.wq]);
                    if g.pad_left.is_multiple_of(2) {
                        let x0 = g.pad_left / 2;
                        deinterleave2(src, &mut even[x0..], &mut odd[x0..]);
                    } else {
                        let x0 = g.pad_left / 2;
                        odd[x0] = src[0];
                        deinterleave2(&src[1..], &mut even[x0 + 1..], &mut odd[x0 + 1..]);
                    }
                } else {
                    for (col, v) in src.iter().enumerate() {
                        let pc = col + g.pad_left;
                        let xq = pc / g.sw;
                        if xq < g.wq {
                            phases[row(pc % g.sw) + xq] = *v;
                        }
                    }
                }
            }
            taps.clear();
            let wts = &self.weights[ch * taps_per_channel..(ch + 1) * taps_per_channel];
            for ky in 0..g.kh {
                for kx in 0..g.kw {
                    let phase = (ky % g.sh) * g.sw + kx % g.sw;
                    let off = phase * plane + (ky / g.sh) * g.wq + kx / g.sw;
                    taps.push((off, wts[ky * g.kw + kx]));
                }
            }
            let bias = self.bias[ch];
            match isa {
                // SAFETY: the CPU has the features these functions are compiled for
                // (checked at run time by `detect_isa`).
                #[cfg(target_arch = "x86_64")]
                Isa::Avx512 => unsafe { accumulate_avx512(&mut full, &phases, &taps, bias) },
                #[cfg(target_arch = "x86_64")]
                Isa::Avx2 => unsafe { accumulate_avx2(&mut full, &phases, &taps, bias) },
                Isa::Generic => accumulate::<BLOCK>(&mut full, &phases, &taps, bias),
            }
            let o = &mut out[ch * g.oh * g.ow..(ch + 1) * g.oh * g.ow];
            for (oy, orow) in o.chunks_exact_mut(g.ow).enumerate() {
                let src = &full[oy * g.wq..oy * g.wq + g.ow];
                match self.clip {
                    Some((lo, hi)) => {
                        for (d, s) in orow.iter_mut().zip(src) {
                            *d = s.max(lo).min(hi);
                        }
                    }
                    None => orow.copy_from_slice(src),
                }
            }
        }
    }
}

impl Op for FastDepthwise {
    fn name(&self) -> StaticName {
        "FastDepthwise".into()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        let g = &self.geo;
        Ok(vec![format!(
            "{}x{}x{} kernel {}x{} stride {}x{} -> {}x{} clip {:?}",
            g.c, g.h, g.w, g.kh, g.kw, g.sh, g.sw, g.oh, g.ow, self.clip
        )])
    }

    op_as_typed_op!();
}

impl EvalOp for FastDepthwise {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = args_1!(inputs);
        ensure!(
            input.shape() == &*self.geo.input_shape,
            "FastDepthwise expects input shape {:?}, got {:?}",
            self.geo.input_shape,
            input.shape()
        );
        let view = input.try_as_plain_ram()?;
        let x = view.as_slice::<f32>()?;
        let mut out = vec![0f32; self.geo.output_shape.iter().product()];
        if self.interleaved {
            self.compute_interleaved(x, &mut out);
        } else {
            self.compute(x, &mut out);
        }
        let array = ArrayD::from_shape_vec(IxDyn(&self.geo.output_shape), out)?;
        Ok(tvec!(array.into_tensor().into_tvalue()))
    }
}

impl TypedOp for FastDepthwise {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        ensure!(inputs.len() == 1 && inputs[0].datum_type == f32::datum_type());
        Ok(tvec!(f32::fact(&*self.geo.output_shape)))
    }

    as_op!();
}

fn fast_depthwise_rule(
    _ctx: &(),
    model: &TypedModel,
    node: &TypedNode,
    name: &str,
    op: &Conv,
) -> TractResult<Option<TypedModelPatch>> {
    rule_if!(op.q_params.is_none());
    rule_if!(node.inputs.len() == 3);
    let c = op.input_channels();
    rule_if!(op.group > 1 && op.group == c && op.output_channels() == c);
    rule_if!(op.kernel_fmt == KernelFormat::OIHW);
    let c_axis = match op.pool_spec.data_format {
        DataFormat::NCHW => 1,
        DataFormat::CHW => 0,
        _ => return Ok(None),
    };
    rule_if!(op.pool_spec.kernel_shape.len() == 2);
    let fact = model.outlet_fact(node.inputs[0])?;
    rule_if!(fact.datum_type == f32::datum_type());
    rule_if_some!(shape = fact.shape.as_concrete());
    rule_if!(shape.len() == c_axis + 3 && (c_axis == 0 || shape[0] == 1) && shape[c_axis] == c);
    rule_if!(op
        .pool_spec
        .dilations
        .as_ref()
        .is_none_or(|d| d.iter().all(|&d| d == 1)));
    let (before, after): (TVec<usize>, TVec<usize>) = match &op.pool_spec.padding {
        PaddingSpec::Explicit(b, a) => (b.clone(), a.clone()),
        PaddingSpec::Valid => (tvec!(0, 0), tvec!(0, 0)),
        _ => return Ok(None),
    };
    rule_if!(before.len() == 2 && after.len() == 2);
    let strides = op.pool_spec.strides.clone().unwrap_or_else(|| tvec!(1, 1));
    rule_if!(strides.len() == 2 && strides.iter().all(|&s| s >= 1));
    let (kh, kw) = (op.pool_spec.kernel_shape[0], op.pool_spec.kernel_shape[1]);
    let (h, w) = (shape[c_axis + 1], shape[c_axis + 2]);
    let (hp, wp) = (h + before[0] + after[0], w + before[1] + after[1]);
    rule_if!(hp >= kh && wp >= kw);
    let (sh, sw) = (strides[0], strides[1]);
    let (oh, ow) = ((hp - kh) / sh + 1, (wp - kw) / sw + 1);
    rule_if_some!(weights = f32_const(model, node.inputs[1])?);
    rule_if!(weights.len() == c * kh * kw);
    rule_if_some!(bias = f32_const(model, node.inputs[2])?);
    let bias = match bias.len() {
        n if n == c => bias,
        1 => vec![bias[0]; c],
        _ => return Ok(None),
    };
    let mut output_shape: TVec<usize> = shape.into();
    output_shape[c_axis + 1] = oh;
    output_shape[c_axis + 2] = ow;
    // Fuse a following Clip (Max with a constant, then Min with a constant).
    let mut last = node.id;
    let mut clip = None;
    if let Some(c) = following_clip(model, node)? {
        clip = Some(c.bounds);
        last = c.min_node;
    }
    let geo = Geometry {
        input_shape: shape.into(),
        output_shape,
        c,
        h,
        w,
        kh,
        kw,
        sh,
        sw,
        pad_top: before[0],
        pad_left: before[1],
        oh,
        ow,
        hp,
        wp,
        hq: hp.div_ceil(sh),
        wq: wp.div_ceil(sw),
    };
    let interleaved = h * w <= INTERLEAVE_MAX_PIXELS;
    let fast = FastDepthwise {
        interleaved,
        geo,
        weights: Arc::new(weights),
        bias: Arc::new(bias),
        clip,
    };
    let mut patch = TypedModelPatch::default();
    let x = patch.tap_model(model, node.inputs[0])?;
    let y = patch.wire_node(format!("{name}.fast"), fast, &[x])?;
    patch.shunt_outside(model, OutletId::new(last, 0), y[0])?;
    Ok(Some(patch))
}

/// Replaces the depthwise convolutions of a decluttered model by [`FastDepthwise`] (fusing a
/// following clip) wherever the layer qualifies; other layers are left to tract.
/// Returns the number of layers replaced.
pub fn use_fast_depthwise(model: &mut TypedModel) -> TractResult<usize> {
    Rewriter::<()>::default()
        .with_rule_for("fast-depthwise", fast_depthwise_rule)
        .rewrite(&(), model)?;
    Ok(model
        .nodes
        .iter()
        .filter(|n| n.op_is::<FastDepthwise>())
        .count())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tract_onnx::tract_core::ops::binary::TypedBinOp;

    /// Direct definition: zero padding, stride, bias, optional clip.
    #[allow(clippy::too_many_arguments)]
    fn reference(
        x: &[f32],
        c: usize,
        h: usize,
        w: usize,
        k: &[f32],
        kh: usize,
        kw: usize,
        bias: &[f32],
        (sh, sw): (usize, usize),
        (pt, pl, pb, pr): (usize, usize, usize, usize),
        clip: Option<(f32, f32)>,
    ) -> (usize, usize, Vec<f32>) {
        let oh = (h + pt + pb - kh) / sh + 1;
        let ow = (w + pl + pr - kw) / sw + 1;
        let mut out = Vec::new();
        for ch in 0..c {
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut s = bias[ch] as f64;
                    for ky in 0..kh {
                        for kx in 0..kw {
                            let y = (oy * sh + ky) as isize - pt as isize;
                            let xx = (ox * sw + kx) as isize - pl as isize;
                            if y >= 0 && y < h as isize && xx >= 0 && xx < w as isize {
                                s += k[ch * kh * kw + ky * kw + kx] as f64
                                    * x[ch * h * w + y as usize * w + xx as usize] as f64;
                            }
                        }
                    }
                    let mut v = s as f32;
                    if let Some((lo, hi)) = clip {
                        v = v.max(lo).min(hi);
                    }
                    out.push(v);
                }
            }
        }
        (oh, ow, out)
    }

    fn conv_model(
        c: usize,
        h: usize,
        w: usize,
        k: usize,
        stride: usize,
        pads: (usize, usize, usize, usize),
        clip: bool,
    ) -> (TypedModel, Vec<f32>, Vec<f32>) {
        use tract_onnx::tract_core::ops::cnn::PoolSpec;
        use tract_onnx::tract_core::ops::math;
        let mut model = TypedModel::default();
        let x = model.add_source("x", f32::fact([1, c, h, w])).unwrap();
        let kernel: Vec<f32> = (0..c * k * k).map(|i| ((i as f32) * 0.37).sin()).collect();
        let bias: Vec<f32> = (0..c).map(|i| (i as f32) * 0.1 - 0.3).collect();
        let kt = model
            .add_const("k", Tensor::from_shape(&[c, 1, k, k], &kernel).unwrap())
            .unwrap();
        let bt = model
            .add_const("b", Tensor::from_shape(&[c], &bias).unwrap())
            .unwrap();
        let pool_spec = PoolSpec {
            data_format: DataFormat::NCHW,
            kernel_shape: tvec!(k, k),
            padding: PaddingSpec::Explicit(tvec!(pads.0, pads.1), tvec!(pads.2, pads.3)),
            dilations: None,
            strides: Some(tvec!(stride, stride)),
            input_channels: c,
            output_channels: c,
        };
        let conv = Conv {
            pool_spec,
            kernel_fmt: KernelFormat::OIHW,
            group: c,
            q_params: None,
        };
        let mut y = model.wire_node("dw", conv, &[x, kt, bt]).unwrap();
        if clip {
            let one = |v: f32| Tensor::from_shape(&[1, 1, 1, 1], &[v]).unwrap();
            let lo = model.add_const("lo", one(0.0)).unwrap();
            let hi = model.add_const("hi", one(1.5)).unwrap();
            y = model.wire_node("max", math::max(), &[y[0], lo]).unwrap();
            y = model.wire_node("min", math::min(), &[y[0], hi]).unwrap();
        }
        model.select_output_outlets(&y).unwrap();
        (model.into_decluttered().unwrap(), kernel, bias)
    }

    #[test]
    fn simd_kernels_give_the_portable_results_bit_for_bit() {
        let phases: Vec<f32> = (0..2000).map(|i| ((i as f32) * 0.731).sin()).collect();
        let taps: Vec<(usize, f32)> = (0..25).map(|t| (t * 13 % 97, (t as f32).cos())).collect();
        for len in [16, 48, 64, 80, 1024 + 48] {
            let mut portable = vec![0f32; len];
            accumulate::<BLOCK>(&mut portable, &phases, &taps, 0.25);
            let check = |name: &str, got: &[f32]| {
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(got), bits(&portable), "{name}, {len} outputs");
            };
            #[cfg(target_arch = "x86_64")]
            {
                if std::arch::is_x86_feature_detected!("avx2") {
                    let mut out = vec![0f32; len];
                    // SAFETY: the CPU has AVX2 (checked just above).
                    unsafe { accumulate_avx2(&mut out, &phases, &taps, 0.25) };
                    check("avx2", &out);
                }
                if std::arch::is_x86_feature_detected!("avx512f") {
                    let mut out = vec![0f32; len];
                    // SAFETY: the CPU has AVX-512F (checked just above).
                    unsafe { accumulate_avx512(&mut out, &phases, &taps, 0.25) };
                    check("avx512", &out);
                }
            }
            let direct: Vec<f32> = (0..len)
                .map(|i| taps.iter().fold(0.25, |s, &(o, w)| s + w * phases[o + i]))
                .collect();
            check("direct", &direct);
        }
    }

    #[test]
    fn matches_the_direct_definition_on_strides_paddings_and_clips() {
        // (channels, h, w, kernel, stride, pads top/left/bottom/right, clip)
        let cases = [
            (3, 9, 11, 3, 1, (1, 1, 1, 1), false),
            (4, 12, 12, 3, 2, (0, 0, 1, 1), true),
            (2, 14, 13, 5, 2, (1, 1, 2, 2), true),
            (5, 7, 7, 5, 1, (2, 2, 2, 2), true),
            (2, 6, 8, 3, 1, (0, 0, 0, 0), false),
            (3, 17, 15, 3, 3, (1, 0, 1, 2), false),
            (20, 7, 7, 5, 1, (2, 2, 2, 2), true),
            (18, 14, 14, 5, 2, (1, 1, 2, 2), true),
        ];
        for (c, h, w, k, s, pads, clip) in cases {
            let (mut model, kernel, bias) = conv_model(c, h, w, k, s, pads, clip);
            assert_eq!(use_fast_depthwise(&mut model).unwrap(), 1);
            assert!(!model.nodes.iter().any(|n| n.op_is::<Conv>()));
            if clip {
                let left = model.nodes.iter().any(|n| n.op_is::<TypedBinOp>());
                assert!(!left, "the clip is fused into the operator");
            }
            let x: Vec<f32> = (0..c * h * w).map(|i| ((i as f32) * 0.11).cos()).collect();
            let clip = clip.then_some((0.0, 1.5));
            let (oh, ow, want) = reference(&x, c, h, w, &kernel, k, k, &bias, (s, s), pads, clip);
            let id = model
                .nodes
                .iter()
                .position(|n| n.op_is::<FastDepthwise>())
                .unwrap();
            // Both paths: one channel at a time on phase planes, and interleaved channels.
            let mut results = Vec::new();
            for interleaved in [false, true] {
                let mut m = model.clone();
                m.node_mut(id)
                    .op_as_mut::<FastDepthwise>()
                    .unwrap()
                    .interleaved = interleaved;
                let plan = m.into_runnable().unwrap();
                let out = plan
                    .run(tvec!(Tensor::from_shape(&[1, c, h, w], &x).unwrap().into()))
                    .unwrap();
                let got = out[0].to_plain_array_view::<f32>().unwrap().to_owned();
                assert_eq!(got.shape(), &[1, c, oh, ow]);
                for (i, (a, b)) in got.iter().zip(&want).enumerate() {
                    assert!(
                        (a - b).abs() < 1e-5,
                        "case {c}x{h}x{w} k{k} s{s} {pads:?} interleaved {interleaved}: {i}: {a} vs {b}"
                    );
                }
                results.push(got.iter().map(|v| v.to_bits()).collect::<Vec<_>>());
            }
            assert_eq!(results[0], results[1], "the two paths agree bit for bit");
        }
    }
}
