//! Patterns in a typed tract graph that the two rewrites ([`crate::channels_last`] and
//! [`crate::depthwise_op`]) look for: float constants (a convolution's weights and bias) and a
//! clip (`Max` then `Min` by constants, ReLU6) following a node.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::binary::TypedBinOp;
use tract_onnx::tract_core::ops::cast::Cast;

/// The single constant value of an outlet, if it is a one-element f32 constant.
fn scalar_const(model: &TypedModel, outlet: OutletId) -> TractResult<Option<f32>> {
    let fact = model.outlet_fact(outlet)?;
    let Some(k) = fact.konst.as_ref() else {
        return Ok(None);
    };
    if k.len() != 1 || k.datum_type() != f32::datum_type() {
        return Ok(None);
    }
    Ok(Some(k.try_as_plain_ram()?.as_slice::<f32>()?[0]))
}

/// The sole consumer of `node`'s output if it is a `TypedBinOp` named `name` with a scalar
/// constant on its other input: `(consumer id, constant)`.
fn clip_step(
    model: &TypedModel,
    node: &TypedNode,
    name: &str,
) -> TractResult<Option<(usize, f32)>> {
    if node.outputs.len() != 1 || node.outputs[0].successors.len() != 1 {
        return Ok(None);
    }
    if model.outputs.contains(&OutletId::new(node.id, 0)) {
        return Ok(None);
    }
    let succ = model.node(node.outputs[0].successors[0].node);
    let Some(bin) = succ.op_as::<TypedBinOp>() else {
        return Ok(None);
    };
    if bin.0.name() != name || succ.inputs.len() != 2 {
        return Ok(None);
    }
    let other = if succ.inputs[0].node == node.id { 1 } else { 0 };
    Ok(scalar_const(model, succ.inputs[other])?.map(|v| (succ.id, v)))
}

/// The value of `outlet` as f32 if it is a float constant, or a `Cast` of one (how tract-onnx
/// wires a convolution's bias before declutter).
pub(crate) fn f32_const(model: &TypedModel, outlet: OutletId) -> TractResult<Option<Vec<f32>>> {
    let fact = model.outlet_fact(outlet)?;
    let node = model.node(outlet.node);
    let k = match fact.konst.as_ref() {
        Some(k) => k.clone(),
        None if node.op_is::<Cast>() && node.inputs.len() == 1 => {
            match model.outlet_fact(node.inputs[0])?.konst.as_ref() {
                Some(k) => k.clone(),
                None => return Ok(None),
            }
        }
        None => return Ok(None),
    };
    if !k.datum_type().is_float() {
        return Ok(None);
    }
    let k = k.cast_to::<f32>()?;
    Ok(Some(k.try_as_plain_ram()?.as_slice::<f32>()?.to_vec()))
}

/// A clip (`Max` with a constant, then `Min` with a constant) consuming a node's output.
pub(crate) struct FollowingClip {
    /// The `Max` node.
    pub max_node: usize,
    /// The `Min` node (the clip's output).
    pub min_node: usize,
    /// `(low, high)`, `low <= high`.
    pub bounds: (f32, f32),
}

/// The clip that is the sole consumer chain of `node`, if any.
pub(crate) fn following_clip(
    model: &TypedModel,
    node: &TypedNode,
) -> TractResult<Option<FollowingClip>> {
    if let Some((max_node, lo)) = clip_step(model, node, "Max")? {
        if let Some((min_node, hi)) = clip_step(model, model.node(max_node), "Min")? {
            if lo <= hi {
                return Ok(Some(FollowingClip {
                    max_node,
                    min_node,
                    bounds: (lo, hi),
                }));
            }
        }
    }
    Ok(None)
}
