//! The convolution kernels of [`ChannelsLastConv`](crate::channels_last::ChannelsLastConv):
//! arithmetic on channels-last (NHWC) images, in the style of XNNPACK's micro-kernels.
//!
//! One file per kernel family, each holding its portable path and its SIMD paths together:
//!
//! - [`pointwise`]: a 1x1 convolution is a matrix product
//!   `out[P, Cout] = x[P, K] * w[K, Cout] + bias`, with the activations used as they are
//!   (row-major pixels, channels contiguous: no packing) and the weights packed once into
//!   panels of 16 output channels. The AVX2 + FMA micro-kernel keeps a 6 pixel x 16 channel
//!   block of sums in twelve registers over the whole `K` loop, broadcasting one activation and
//!   multiplying it by two weight vectors. The AVX-512 path ([`pointwise::avx512`]) picks a tile
//!   per layer shape, up to 28 of the 32 registers holding sums (9 pixels x 48 channels, or
//!   14 x 32, 16 x 16, 7 x 64 when the channel count suits those better), splits the pixels
//!   into nearly equal blocks and, for large layers, `K` into slices of at most 128.
//! - [`depthwise_nhwc`]: one `kh x kw` filter per channel; channels are the vector lanes (16 at
//!   a time), 6 output pixels (7 in rows of 7) share each weight load. On large planes rows out
//!   of the image are skipped and border columns take a per-pixel path with their valid tap
//!   range; small padded planes are copied per channel block into a zero-padded plane. With
//!   AVX-512F, blocks of 32 channels in 16-lane vectors and a masked last block. (The
//!   channels-first depthwise *tract operator* is a different thing: [`crate::depthwise_op`].)
//! - [`im2col`]: a general convolution (the stem: 3x3, stride 2, 3 input channels) gathers each
//!   output pixel's patch (`im2col`, zero padding) and runs the pointwise kernel on the patches.
//!   With AVX-512F, a channels-first input is read where it lies instead: each tap's values of
//!   a block of output pixels are `stride` apart in one image row, so the micro-kernel
//!   broadcasts them straight from the image; only pixels along the padded border take patches.
//!
//! - [`inverted_residual`]: an expansion 1x1, a depthwise and a projection 1x1 convolution run
//!   as one kernel, row by row, so that the expanded tensor and the depthwise output stay in
//!   L2 and L1 instead of making a round trip to L3 (the large planes of a mobile CNN's first
//!   blocks).
//!
//! This file holds what the families share: the [`ConvGeometry`] of a layer, the [`Epilogue`]
//! applied to every output, and the CPU feature check.
//!
//! Every kernel fuses the bias, an optional clip (`min(max(v, lo), hi)`, ReLU6 is `(0, 6)`) and,
//! for the pointwise kernel, an optional residual added before the clip.
//!
//! Sums are accumulated in f32 with fused multiply-adds, in a fixed order (bias, then the taps
//! or input channels in order), so the result does not depend on the thread count; on a CPU
//! without AVX2 and FMA a portable path computes the same sums with separate multiplies and
//! adds (results may differ from the FMA path in the last bits).

pub(crate) mod depthwise_nhwc;
pub(crate) mod im2col;
pub(crate) mod inverted_residual;
pub(crate) mod pointwise;
#[cfg(test)]
mod reference;

pub use depthwise_nhwc::DepthwiseWeights;
pub(crate) use im2col::general_conv;
pub use im2col::{im2col, InputLayout};
pub use inverted_residual::InvertedResidual;
pub use pointwise::PointwiseWeights;

/// Whether the CPU runs the AVX2 + FMA kernels (checked once; see [`crate::isa`] for the cap).
fn has_avx2_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        use std::sync::OnceLock;
        static HAS: OnceLock<bool> = OnceLock::new();
        *HAS.get_or_init(|| crate::isa::avx2() && std::arch::is_x86_feature_detected!("fma"))
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// What happens to every output value after the sum: `+ residual`, then the clip.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Epilogue {
    /// `(low, high)`: `min(max(v, low), high)`. ReLU6 is `(0, 6)`.
    pub clip: Option<(f32, f32)>,
}

impl Epilogue {
    fn bounds(&self) -> (f32, f32) {
        self.clip.unwrap_or((f32::NEG_INFINITY, f32::INFINITY))
    }
}

/// Geometry of a 2-D convolution on one image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConvGeometry {
    /// Input height and width.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Kernel height.
    pub kh: usize,
    /// Kernel width.
    pub kw: usize,
    /// Vertical stride.
    pub sh: usize,
    /// Horizontal stride.
    pub sw: usize,
    /// Zero rows above the image.
    pub pad_top: usize,
    /// Zero columns left of the image.
    pub pad_left: usize,
    /// Output height.
    pub oh: usize,
    /// Output width.
    pub ow: usize,
}

impl ConvGeometry {
    /// The input row (or column) read by output `o` at tap `t`, if inside the image.
    #[inline]
    fn src(o: usize, t: usize, stride: usize, pad: usize, size: usize) -> Option<usize> {
        let i = (o * stride + t).checked_sub(pad)?;
        (i < size).then_some(i)
    }

    /// Output columns `[lo, hi)` whose every tap column is inside the image.
    fn interior_cols(&self) -> (usize, usize) {
        let lo = self.pad_left.div_ceil(self.sw).min(self.ow);
        // o * sw + kw - 1 - pad_left < w  <=>  o * sw < w + pad_left - kw + 1
        let limit = (self.w + self.pad_left + 1).saturating_sub(self.kw);
        let hi = limit.div_ceil(self.sw).min(self.ow).max(lo);
        (lo, hi)
    }
}
