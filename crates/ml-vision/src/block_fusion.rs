//! Fuses the layers of an inverted-residual block (1x1 expansion, depthwise, 1x1 projection,
//! as [`ChannelsLastConv`] operators) into one tract operator, [`FusedBlock`], that runs them
//! row by row ([`InvertedResidual`]): the expanded tensor and the depthwise output never go to
//! memory whole.
//!
//! [`fuse_inverted_residuals`] runs on the model [`crate::channels_last`] rebuilt, before
//! declutter. A chain qualifies when a 1x1 [`ChannelsLastConv`] (the projection, with or
//! without a residual input) reads a depthwise one whose only consumer it is, and the
//! depthwise plane is large (at least [`MIN_FUSED_PLANE`] values: the first blocks of a mobile
//! CNN, whose tensors do not fit in L2 or only just); a 1x1 convolution without residual whose only
//! consumer is the depthwise one becomes the block's expansion. Smaller blocks keep one
//! operator per layer: their tensors stay in L2 anyway, and their rows are short (see
//! [`MIN_FUSED_PLANE`]).
//!
//! The block computes the same sums in the same order as its layers, so the fused model gives
//! the same values, bit for bit (test `fusing_blocks_keeps_the_models_values_bit_for_bit`).

use std::sync::Arc;

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;

use crate::channels_last::ChannelsLastConv;
use crate::kernels::InvertedResidual;

/// The smallest depthwise input (`h * w * channels` values) whose block is fused: on
/// EfficientNet-lite0 the six blocks on 112x112, 56x56 and 28x28 planes (188,160 values and
/// more). The 14x14 blocks (94,080 and 131,712 values) ran slower fused: their rows are short,
/// so the depthwise border columns and the projection's small pixel blocks cost more than
/// the L2 traffic saved (`benches/vision.md`).
pub(crate) const MIN_FUSED_PLANE: usize = 160 * 1024;

/// An inverted-residual block on one channels-last image: `[1, H, W, CIN]` in (and a residual
/// of the output's shape), `[1, OH, OW, COUT]` out. See the [module docs](self).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FusedBlock {
    kernel: Arc<InvertedResidual>,
    input_shape: TVec<usize>,
    output_shape: TVec<usize>,
    residual: bool,
}

impl Eq for FusedBlock {}

impl Op for FusedBlock {
    fn name(&self) -> StaticName {
        "FusedBlock".into()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        Ok(vec![format!(
            "{} {:?} -> {:?} residual {}",
            self.kernel.describe(),
            self.input_shape,
            self.output_shape,
            self.residual
        )])
    }

    op_as_typed_op!();
}

impl EvalOp for FusedBlock {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        ensure!(inputs.len() == 1 + self.residual as usize);
        ensure!(
            inputs[0].shape() == &*self.input_shape,
            "FusedBlock expects input shape {:?}, got {:?}",
            self.input_shape,
            inputs[0].shape()
        );
        let view = inputs[0].try_as_plain_ram()?;
        let x = view.as_slice::<f32>()?;
        let res_view = match inputs.get(1) {
            Some(r) => {
                ensure!(r.shape() == &*self.output_shape, "residual shape");
                Some(r.try_as_plain_ram()?)
            }
            None => None,
        };
        let res = res_view.as_ref().map(|v| v.as_slice::<f32>()).transpose()?;
        // SAFETY: every value of the output is written by the kernel below before it is read.
        let mut out = unsafe { Tensor::uninitialized::<f32>(&self.output_shape)? };
        {
            let mut out_view = out.try_as_plain_ram_mut()?;
            self.kernel.run(x, res, out_view.as_slice_mut::<f32>()?);
        }
        Ok(tvec!(out.into_tvalue()))
    }
}

impl TypedOp for FusedBlock {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        ensure!(inputs.iter().all(|f| f.datum_type == f32::datum_type()));
        Ok(tvec!(f32::fact(&*self.output_shape)))
    }

    as_op!();
}

/// The [`ChannelsLastConv`] of node `id`, if it is one.
fn conv(model: &TypedModel, id: usize) -> Option<&ChannelsLastConv> {
    model.node(id).op_as::<ChannelsLastConv>()
}

/// Whether `node`'s only output has exactly one consumer and is not a model output.
fn single_use(model: &TypedModel, id: usize) -> bool {
    let node = model.node(id);
    node.outputs.len() == 1
        && node.outputs[0].successors.len() == 1
        && !model.outputs.contains(&OutletId::new(id, 0))
}

/// A block found in the graph: the operator to wire and its inputs.
struct Found {
    op: FusedBlock,
    input: OutletId,
    residual: Option<OutletId>,
}

/// The block ending at the projection `id`, if there is one worth fusing.
fn block_at(model: &TypedModel, id: usize) -> TractResult<Option<Found>> {
    let node = model.node(id);
    let Some((project, project_ep, residual)) = conv(model, id).and_then(|c| c.as_pointwise())
    else {
        return Ok(None);
    };
    let dw_id = node.inputs[0].node;
    let Some(dw_conv) = conv(model, dw_id) else {
        return Ok(None);
    };
    let Some((dw, dw_ep)) = dw_conv.as_depthwise() else {
        return Ok(None);
    };
    if !single_use(model, dw_id) || dw.geo.h * dw.geo.w * dw.c < MIN_FUSED_PLANE {
        return Ok(None);
    }
    let dw_input = model.node(dw_id).inputs[0];
    let expand = conv(model, dw_input.node)
        .and_then(|c| c.as_pointwise())
        .filter(|(_, _, res)| !res && single_use(model, dw_input.node));
    let input = match expand {
        Some(_) => model.node(dw_input.node).inputs[0],
        None => dw_input,
    };
    let expand = expand.map(|(w, ep, _)| (w.clone(), ep));
    let Some(kernel) =
        InvertedResidual::new(expand, (dw.clone(), dw_ep), (project.clone(), project_ep))
    else {
        return Ok(None);
    };
    let Some(input_shape) = model.outlet_fact(input)?.shape.as_concrete() else {
        return Ok(None);
    };
    let g = dw.geo;
    if input_shape != [1, g.h, g.w, kernel.cin()] {
        return Ok(None);
    }
    let output_shape = conv(model, id).map(|c| c.output_shape().into());
    let Some(output_shape) = output_shape else {
        return Ok(None);
    };
    Ok(Some(Found {
        op: FusedBlock {
            kernel: Arc::new(kernel),
            input_shape: input_shape.into(),
            output_shape,
            residual,
        },
        input,
        residual: residual.then(|| node.inputs[1]),
    }))
}

/// Replaces every qualifying chain of [`ChannelsLastConv`] operators by a [`FusedBlock`] (see
/// the [module docs](self)); returns how many.
pub(crate) fn fuse_inverted_residuals(model: &mut TypedModel) -> TractResult<usize> {
    let mut fused = 0;
    for id in model.eval_order()? {
        let Some(found) = block_at(model, id)? else {
            continue;
        };
        let mut patch = TypedModelPatch::default();
        let mut inputs = tvec!(patch.tap_model(model, found.input)?);
        if let Some(r) = found.residual {
            inputs.push(patch.tap_model(model, r)?);
        }
        let name = format!("{}.fused_block", model.node(id).name);
        let y = patch.wire_node(name, found.op, &inputs)?[0];
        patch.shunt_outside(model, OutletId::new(id, 0), y)?;
        patch.apply(model)?;
        fused += 1;
    }
    if fused > 0 {
        model.compact()?;
    }
    Ok(fused)
}

/// The number of [`FusedBlock`] operators in `model`.
pub fn count_fused_blocks(model: &TypedModel) -> usize {
    model
        .nodes
        .iter()
        .filter(|n| n.op_is::<FusedBlock>())
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// The shipped EfficientNet-lite0, typed for one 224x224 image.
    fn efficientnet() -> TypedModel {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../examples/data/models/efficientnet-lite0-imagenet.onnx");
        tract_onnx::onnx()
            .model_for_path(path)
            .unwrap()
            .with_input_fact(0, f32::fact([1, 3, 224, 224]).into())
            .unwrap()
            .into_typed()
            .unwrap()
    }

    #[test]
    fn fusing_blocks_keeps_the_models_values_bit_for_bit() {
        let model = efficientnet();
        let layered = crate::channels_last::to_channels_last_unfused(&model)
            .unwrap()
            .unwrap();
        let fused = crate::channels_last::to_channels_last(&model)
            .unwrap()
            .unwrap();
        let n = count_fused_blocks(&fused);
        assert_eq!(
            n, 6,
            "the blocks on 112x112, 56x56 and 28x28 planes are fused"
        );
        assert_eq!(count_fused_blocks(&layered), 0);
        let input: Vec<f32> = (0..3 * 224 * 224)
            .map(|i| ((i as f32) * 0.001).sin() * 2.0)
            .collect();
        let run = |m: TypedModel| {
            let t = Tensor::from_shape(&[1, 3, 224, 224], &input).unwrap();
            let plan = m.into_optimized().unwrap().into_runnable().unwrap();
            let out = plan.run(tvec!(t.into())).unwrap();
            out.iter()
                .map(|o| {
                    o.to_plain_array_view::<f32>()
                        .unwrap()
                        .iter()
                        .copied()
                        .collect()
                })
                .collect::<Vec<Vec<f32>>>()
        };
        let (a, b) = (run(fused), run(layered));
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x.len(), y.len());
            assert!(
                x.iter().zip(y).all(|(p, q)| p.to_bits() == q.to_bits()),
                "the fused model's outputs differ from the layered model's"
            );
        }
    }
}
