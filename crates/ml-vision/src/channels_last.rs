//! Runs the convolutions of a tract model in channels-last (NHWC) layout, with this crate's
//! kernels ([`crate::kernels`]).
//!
//! tract 0.23 runs an ONNX CNN in the file's channels-first (NCHW) layout: a 1x1 convolution
//! becomes a matrix product whose activations tract re-packs before every product, and its
//! depthwise convolutions are vectorised only on some shapes (see `benches/vision.md`).
//! Channels-last is the layout in which mobile CNNs are fast on a CPU (XNNPACK, onnxruntime's
//! NCHWc): a 1x1 convolution reads its activations as they lie, and a depthwise convolution
//! vectorises over channels whatever its stride or plane size.
//!
//! [`to_channels_last`] rebuilds a typed [`TypedModel`] node by node, before declutter (which
//! turns 1x1 convolutions into matrix products and drops the batch axis):
//!
//! - every float `Conv` with constant weights (1x1, depthwise, or a general `group == 1`
//!   convolution such as a stem) becomes a [`ChannelsLastConv`] producing `[1, H, W, C]`,
//!   fusing a following clip (`Max` then `Min` by constants: ReLU6) and, for a 1x1 convolution
//!   without a clip, a following residual `Add`;
//! - element-wise operations whose non-scalar inputs are all channels-last stay channels-last
//!   (the permutation is the same on every input, so broadcasting means the same);
//! - any other operation gets its inputs back in channels-first order (an `AxisOp::Move`
//!   inserted where needed) and is copied as it is: pooling, reshapes, the classifier.
//!
//! The model's inputs and outputs keep their shapes, so callers see no difference. The result
//! is still a tract model: tract optimizes it and runs the plan, this crate only supplies the
//! convolution operator. (The test
//! `a_converted_convolution_keeps_the_callers_layout_and_tracts_values` shows the rewrite on a
//! one-convolution model.)

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::binary::TypedBinOp;
use tract_onnx::tract_core::ops::cnn::{Conv, KernelFormat};
use tract_onnx::tract_core::ops::element_wise::ElementWiseOp;
use tract_onnx::tract_core::ops::konst::Const;
use tract_onnx::tract_core::ops::nn::DataFormat;
use tract_onnx::tract_core::ops::source::TypedSource;

use crate::kernels::{
    general_conv, ConvGeometry, DepthwiseWeights, Epilogue, InputLayout, PointwiseWeights,
};
use crate::tract_graph::{f32_const, following_clip};

/// Which kernel a [`ChannelsLastConv`] runs.
#[derive(Debug, Clone, PartialEq)]
enum Kernel {
    /// 1x1, stride 1, no padding: a product over the channels of every pixel.
    Pointwise(PointwiseWeights),
    /// One filter per channel.
    Depthwise(DepthwiseWeights),
    /// Any `group == 1` convolution: patches (`im2col`) then the pointwise product.
    General {
        weights: PointwiseWeights,
        geo: ConvGeometry,
        cin: usize,
        layout: InputLayout,
    },
}

/// A convolution on one channels-last image (`[1, H, W, C]` in, `[1, OH, OW, COUT]` out; a
/// general convolution may read a channels-first `[1, C, H, W]` input) with its bias, an
/// optional clip and, for 1x1 convolutions, an optional residual second input. See the
/// [module docs](self).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ChannelsLastConv {
    kernel: Arc<Kernel>,
    input_shape: TVec<usize>,
    output_shape: TVec<usize>,
    epilogue: Epilogue,
    residual: bool,
}

impl Eq for ChannelsLastConv {}

impl ChannelsLastConv {
    /// The weights and epilogue of a 1x1 convolution, and whether it adds a residual input.
    pub(crate) fn as_pointwise(&self) -> Option<(&PointwiseWeights, Epilogue, bool)> {
        match &*self.kernel {
            Kernel::Pointwise(w) => Some((w, self.epilogue, self.residual)),
            _ => None,
        }
    }

    /// The weights and epilogue of a depthwise convolution.
    pub(crate) fn as_depthwise(&self) -> Option<(&DepthwiseWeights, Epilogue)> {
        match &*self.kernel {
            Kernel::Depthwise(w) => Some((w, self.epilogue)),
            _ => None,
        }
    }

    /// The output shape, `[1, OH, OW, COUT]`.
    pub(crate) fn output_shape(&self) -> &[usize] {
        &self.output_shape
    }

    fn describe(&self) -> String {
        let kind = match &*self.kernel {
            Kernel::Pointwise(_) => "1x1".to_string(),
            Kernel::Depthwise(d) => {
                format!("depthwise {}x{} stride {}", d.geo.kh, d.geo.kw, d.geo.sh)
            }
            Kernel::General { geo, layout, .. } => {
                format!("{}x{} stride {} from {layout:?}", geo.kh, geo.kw, geo.sh)
            }
        };
        format!(
            "{kind} {:?} -> {:?} clip {:?} residual {}",
            self.input_shape, self.output_shape, self.epilogue.clip, self.residual
        )
    }
}

impl Op for ChannelsLastConv {
    fn name(&self) -> StaticName {
        "ChannelsLastConv".into()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        Ok(vec![self.describe()])
    }

    op_as_typed_op!();
}

impl EvalOp for ChannelsLastConv {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        ensure!(inputs.len() == 1 + self.residual as usize);
        let input = &inputs[0];
        ensure!(
            input.shape() == &*self.input_shape,
            "ChannelsLastConv expects input shape {:?}, got {:?}",
            self.input_shape,
            input.shape()
        );
        let view = input.try_as_plain_ram()?;
        let x = view.as_slice::<f32>()?;
        // SAFETY: every value of the output is written by the kernel below before it is read.
        let mut out = unsafe { Tensor::uninitialized::<f32>(&self.output_shape)? };
        {
            let mut out_view = out.try_as_plain_ram_mut()?;
            let o = out_view.as_slice_mut::<f32>()?;
            match &*self.kernel {
                Kernel::Pointwise(w) => {
                    if self.residual {
                        let r = &inputs[1];
                        ensure!(r.shape() == &*self.output_shape, "residual shape");
                        let rv = r.try_as_plain_ram()?;
                        w.run(x, Some(rv.as_slice::<f32>()?), self.epilogue, o);
                    } else {
                        w.run(x, None, self.epilogue, o);
                    }
                }
                Kernel::Depthwise(w) => w.run(x, self.epilogue, o),
                Kernel::General {
                    weights,
                    geo,
                    cin,
                    layout,
                } => general_conv(x, *cin, *layout, geo, weights, self.epilogue, o),
            }
        }
        Ok(tvec!(out.into_tvalue()))
    }
}

impl TypedOp for ChannelsLastConv {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        ensure!(inputs.iter().all(|f| f.datum_type == f32::datum_type()));
        Ok(tvec!(f32::fact(&*self.output_shape)))
    }

    as_op!();
}

/// Where a tensor of the rebuilt model is, and in which layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// As in the source model.
    Original,
    /// A rank-4 `[N, C, H, W]` tensor of the source model stored as `[N, H, W, C]`.
    ChannelsLast,
}

/// The rebuilt model while it is being wired.
struct Rebuild<'a> {
    old: &'a TypedModel,
    new: TypedModel,
    map: HashMap<OutletId, (OutletId, Layout)>,
    /// Channels-first copies of channels-last outlets, made once each.
    to_first: HashMap<OutletId, OutletId>,
    to_last: HashMap<OutletId, OutletId>,
    /// Source nodes fused into an operator (skipped when their turn comes).
    fused: HashSet<usize>,
    converted: usize,
}

impl Rebuild<'_> {
    /// The new outlet for `old` in whatever layout it has (constants are added on demand).
    fn get(&mut self, old: OutletId) -> TractResult<(OutletId, Layout)> {
        if let Some(v) = self.map.get(&old) {
            return Ok(*v);
        }
        let node = self.old.node(old.node);
        if let Some(k) = self.old.outlet_fact(old)?.konst.clone() {
            if node.op_is::<Const>() {
                let o = self.new.add_const(&node.name, k)?;
                self.map.insert(old, (o, Layout::Original));
                return Ok((o, Layout::Original));
            }
        }
        bail!("outlet {old:?} ({}) used before it was built", node.name)
    }

    /// The new outlet for `old` in the source model's layout.
    fn original(&mut self, old: OutletId) -> TractResult<OutletId> {
        self.in_layout(old, Layout::Original)
    }

    /// The new outlet for `old` (a rank-4 NCHW tensor) in channels-last layout.
    fn channels_last(&mut self, old: OutletId) -> TractResult<OutletId> {
        self.in_layout(old, Layout::ChannelsLast)
    }

    /// The new outlet for `old` in `want`, with a transpose (made once per outlet) if needed.
    fn in_layout(&mut self, old: OutletId, want: Layout) -> TractResult<OutletId> {
        let (o, layout) = self.get(old)?;
        if layout == want {
            return Ok(o);
        }
        let (cache, op, suffix) = match want {
            Layout::Original => (&mut self.to_first, AxisOp::Move(3, 1), "nchw"),
            Layout::ChannelsLast => (&mut self.to_last, AxisOp::Move(1, 3), "nhwc"),
        };
        if let Some(t) = cache.get(&o) {
            return Ok(*t);
        }
        let name = format!("{}.{suffix}", self.old.node(old.node).name);
        let t = self.new.wire_node(name, op, &[o])?[0];
        cache.insert(o, t);
        Ok(t)
    }

    /// Copies `node` as it is, its inputs in the source layout.
    fn copy(&mut self, node: &TypedNode) -> TractResult<()> {
        let inputs = node
            .inputs
            .iter()
            .map(|i| self.original(*i))
            .collect::<TractResult<TVec<_>>>()?;
        let outs = self.new.wire_node(&node.name, node.op.clone(), &inputs)?;
        for (i, o) in outs.into_iter().enumerate() {
            self.map
                .insert(OutletId::new(node.id, i), (o, Layout::Original));
        }
        Ok(())
    }

    /// Wires an element-wise `node` in channels-last layout if every input is channels-last or
    /// a constant of one element; returns false (nothing wired) otherwise.
    fn elementwise(&mut self, node: &TypedNode) -> TractResult<bool> {
        let mut any_last = false;
        for i in &node.inputs {
            let (_, layout) = self.get(*i)?;
            let fact = self.old.outlet_fact(*i)?;
            let scalar_const = fact.konst.as_ref().is_some_and(|k| k.len() == 1);
            match layout {
                Layout::ChannelsLast => any_last = true,
                Layout::Original if scalar_const => {}
                Layout::Original => return Ok(false),
            }
        }
        if !any_last || node.outputs.len() != 1 {
            return Ok(false);
        }
        let inputs = node
            .inputs
            .iter()
            .map(|i| self.get(*i).map(|(o, _)| o))
            .collect::<TractResult<TVec<_>>>()?;
        let outs = self.new.wire_node(&node.name, node.op.clone(), &inputs)?;
        self.map
            .insert(OutletId::new(node.id, 0), (outs[0], Layout::ChannelsLast));
        Ok(true)
    }

    /// Replaces a convolution by a [`ChannelsLastConv`] when it qualifies; returns false
    /// (nothing wired) otherwise.
    fn conv(&mut self, node: &TypedNode, op: &Conv) -> TractResult<bool> {
        let Some(plan) = plan_conv(self.old, node, op)? else {
            return Ok(false);
        };
        // Fusions: a clip after it, or (1x1 without clip) a residual Add.
        let mut last = node.id;
        let mut epilogue = Epilogue { clip: None };
        if let Some(c) = following_clip(self.old, node)? {
            epilogue.clip = Some(c.bounds);
            self.fused.insert(c.max_node);
            self.fused.insert(c.min_node);
            last = c.min_node;
        }
        let mut residual = None;
        if epilogue.clip.is_none() && matches!(plan.kernel, Kernel::Pointwise(_)) {
            if let Some((add_id, other)) = residual_add(self.old, node)? {
                if let Some(&(o, Layout::ChannelsLast)) = self.map.get(&other) {
                    let other_fact = self.old.outlet_fact(other)?;
                    let mine = self.old.outlet_fact(OutletId::new(node.id, 0))?;
                    if other_fact.shape == mine.shape {
                        residual = Some(o);
                        self.fused.insert(add_id);
                        last = add_id;
                    }
                }
            }
        }
        let x = match plan.kernel {
            Kernel::General {
                layout: InputLayout::ChannelsFirst,
                ..
            } => self.original(node.inputs[0])?,
            _ => self.channels_last(node.inputs[0])?,
        };
        let input_shape: TVec<usize> = self
            .new
            .outlet_fact(x)?
            .shape
            .as_concrete()
            .context("concrete input")?
            .into();
        let op = ChannelsLastConv {
            kernel: Arc::new(plan.kernel),
            input_shape,
            output_shape: plan.output_shape,
            epilogue,
            residual: residual.is_some(),
        };
        let mut inputs = tvec!(x);
        inputs.extend(residual);
        let y = self
            .new
            .wire_node(format!("{}.nhwc_conv", node.name), op, &inputs)?[0];
        self.map
            .insert(OutletId::new(last, 0), (y, Layout::ChannelsLast));
        self.converted += 1;
        Ok(true)
    }
}

/// The kernel and output shape a convolution node would get.
struct ConvPlan {
    kernel: Kernel,
    output_shape: TVec<usize>,
}

fn plan_conv(model: &TypedModel, node: &TypedNode, op: &Conv) -> TractResult<Option<ConvPlan>> {
    if op.q_params.is_some()
        || node.inputs.len() != 3
        || op.kernel_fmt != KernelFormat::OIHW
        || op.pool_spec.data_format != DataFormat::NCHW
        || op.pool_spec.kernel_shape.len() != 2
        || op.pool_spec.dilations().iter().any(|&d| d != 1)
    {
        return Ok(None);
    }
    let fact = model.outlet_fact(node.inputs[0])?;
    let Some(shape) = fact.shape.as_concrete() else {
        return Ok(None);
    };
    if fact.datum_type != f32::datum_type() || shape.len() != 4 || shape[0] != 1 {
        return Ok(None);
    }
    let (cin, h, w) = (shape[1], shape[2], shape[3]);
    let cout = op.output_channels();
    if cin != op.input_channels() {
        return Ok(None);
    }
    let (Some(weights), Some(bias)) = (
        f32_const(model, node.inputs[1])?,
        f32_const(model, node.inputs[2])?,
    ) else {
        return Ok(None);
    };
    let bias = match bias.len() {
        n if n == cout => bias,
        1 => vec![bias[0]; cout],
        _ => return Ok(None),
    };
    let (kh, kw) = (op.pool_spec.kernel_shape[0], op.pool_spec.kernel_shape[1]);
    let strides = op.pool_spec.strides();
    let padded = op.pool_spec.computed_padding(&[h, w]);
    let geo = ConvGeometry {
        h,
        w,
        kh,
        kw,
        sh: strides[0],
        sw: strides[1],
        pad_top: padded[0].pad_before,
        pad_left: padded[1].pad_before,
        oh: padded[0].convoluted,
        ow: padded[1].convoluted,
    };
    if geo.oh == 0 || geo.ow == 0 || geo.sh == 0 || geo.sw == 0 {
        return Ok(None);
    }
    let kernel = if op.group == 1 {
        if weights.len() != cout * cin * kh * kw {
            return Ok(None);
        }
        let pointwise = kh == 1
            && kw == 1
            && geo.sh == 1
            && geo.sw == 1
            && geo.pad_top == 0
            && geo.pad_left == 0
            && geo.oh == h
            && geo.ow == w;
        let packed = PointwiseWeights::pack(&weights, &bias, cout, cin * kh * kw);
        if pointwise {
            Kernel::Pointwise(packed)
        } else {
            Kernel::General {
                weights: packed,
                geo,
                cin,
                // Read the image where it is: a transpose of the input would cost more than
                // the strided gather.
                layout: InputLayout::ChannelsFirst,
            }
        }
    } else if op.group == cin && cout == cin {
        if weights.len() != cin * kh * kw {
            return Ok(None);
        }
        Kernel::Depthwise(DepthwiseWeights::pack(&weights, &bias, cin, geo))
    } else {
        return Ok(None);
    };
    Ok(Some(ConvPlan {
        kernel,
        output_shape: tvec!(1, geo.oh, geo.ow, cout),
    }))
}

/// If `node`'s only consumer is an `Add` of it and another tensor: `(add id, other outlet)`.
fn residual_add(model: &TypedModel, node: &TypedNode) -> TractResult<Option<(usize, OutletId)>> {
    let me = OutletId::new(node.id, 0);
    if node.outputs.len() != 1
        || node.outputs[0].successors.len() != 1
        || model.outputs.contains(&me)
    {
        return Ok(None);
    }
    let succ = model.node(node.outputs[0].successors[0].node);
    let Some(bin) = succ.op_as::<TypedBinOp>() else {
        return Ok(None);
    };
    if bin.0.name() != "Add" || succ.inputs.len() != 2 || succ.inputs[0] == succ.inputs[1] {
        return Ok(None);
    }
    let other = if succ.inputs[0] == me {
        succ.inputs[1]
    } else {
        succ.inputs[0]
    };
    Ok(Some((succ.id, other)))
}

/// Rebuilds a typed (not yet decluttered) model with its convolutions in channels-last layout (see the
/// [module docs](self)), the inverted-residual blocks of large planes fused into one operator
/// each ([`crate::block_fusion`]). Returns `None` when no convolution qualifies.
pub fn to_channels_last(model: &TypedModel) -> TractResult<Option<TypedModel>> {
    let Some(mut rebuilt) = to_channels_last_unfused(model)? else {
        return Ok(None);
    };
    crate::block_fusion::fuse_inverted_residuals(&mut rebuilt)?;
    Ok(Some(rebuilt))
}

/// [`to_channels_last`] without fusing the inverted-residual blocks: one operator per
/// convolution.
pub fn to_channels_last_unfused(model: &TypedModel) -> TractResult<Option<TypedModel>> {
    let mut rb = Rebuild {
        old: model,
        new: TypedModel::default(),
        map: HashMap::new(),
        to_first: HashMap::new(),
        to_last: HashMap::new(),
        fused: HashSet::new(),
        converted: 0,
    };
    for id in model.eval_order()? {
        let node = model.node(id);
        if rb.fused.contains(&id) || node.op_is::<Const>() {
            continue;
        }
        if node.op_is::<TypedSource>() {
            let o = rb
                .new
                .add_source(&node.name, node.outputs[0].fact.clone())?;
            rb.map.insert(OutletId::new(id, 0), (o, Layout::Original));
            continue;
        }
        if let Some(conv) = node.op_as::<Conv>() {
            if rb.conv(node, conv)? {
                continue;
            }
        }
        if (node.op_is::<TypedBinOp>() || node.op_is::<ElementWiseOp>()) && rb.elementwise(node)? {
            continue;
        }
        rb.copy(node)?;
    }
    if rb.converted == 0 {
        return Ok(None);
    }
    let outputs = model
        .output_outlets()?
        .iter()
        .map(|o| rb.original(*o))
        .collect::<TractResult<Vec<_>>>()?;
    rb.new.select_output_outlets(&outputs)?;
    Ok(Some(rb.new))
}

/// The number of [`ChannelsLastConv`] operators in `model`.
pub fn count_channels_last(model: &TypedModel) -> usize {
    model
        .nodes
        .iter()
        .filter(|n| n.op_is::<ChannelsLastConv>())
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tract_onnx::tract_core::ops::cnn::{PaddingSpec, PoolSpec};

    #[test]
    fn a_converted_convolution_keeps_the_callers_layout_and_tracts_values() {
        // A 3x3 convolution, 3 -> 8 channels, on a 1x3x16x16 image.
        let mut model = TypedModel::default();
        let x = model.add_source("x", f32::fact([1, 3, 16, 16])).unwrap();
        let w: Vec<f32> = (0..216).map(|i| ((i as f32) * 0.13).sin()).collect();
        let bias: Vec<f32> = (0..8).map(|i| (i as f32) * 0.1 - 0.4).collect();
        let k = model
            .add_const("k", Tensor::from_shape(&[8, 3, 3, 3], &w).unwrap())
            .unwrap();
        let b = model
            .add_const("b", Tensor::from_shape(&[8], &bias).unwrap())
            .unwrap();
        let pool_spec = PoolSpec {
            data_format: DataFormat::NCHW,
            kernel_shape: tvec!(3, 3),
            padding: PaddingSpec::Explicit(tvec!(1, 1), tvec!(1, 1)),
            dilations: None,
            strides: None,
            input_channels: 3,
            output_channels: 8,
        };
        let conv = Conv {
            pool_spec,
            kernel_fmt: KernelFormat::OIHW,
            group: 1,
            q_params: None,
        };
        let y = model.wire_node("conv", conv, &[x, k, b]).unwrap();
        model.select_output_outlets(&y).unwrap();

        let fast = to_channels_last(&model)
            .unwrap()
            .expect("the convolution is converted");
        assert_eq!(count_channels_last(&fast), 1);
        let input: Vec<f32> = (0..3 * 16 * 16)
            .map(|i| ((i as f32) * 0.07).cos())
            .collect();
        let run = |m: TypedModel| {
            let t = Tensor::from_shape(&[1, 3, 16, 16], &input).unwrap();
            let out = m.into_runnable().unwrap().run(tvec!(t.into())).unwrap();
            out[0].to_plain_array_view::<f32>().unwrap().to_owned()
        };
        let ours = run(fast);
        // The independent reference: tract's own convolution on the original model.
        let theirs = run(model);
        assert_eq!(ours.shape(), &[1, 8, 16, 16], "the caller still sees NCHW");
        assert_eq!(ours.shape(), theirs.shape());
        for (i, (a, b)) in ours.iter().zip(theirs.iter()).enumerate() {
            assert!(
                (a - b).abs() <= 1e-5 * (1.0 + b.abs()),
                "value {i}: {a} vs {b}"
            );
        }
    }
}
