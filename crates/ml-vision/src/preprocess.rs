//! Image preprocessing for CNNs: a resize that reproduces Pillow's `Image.resize(..., BILINEAR)`
//! bit for bit, a centre crop, and per-channel normalization into an NCHW `f32` tensor.
//!
//! Pillow's bilinear filter is a triangle filter whose support grows with the downscaling factor
//! (so it antialiases), evaluated separably (horizontal pass, then vertical) in 22-bit fixed point
//! with rounding to 8 bits after each pass. [`resize_bilinear_pil`] follows Pillow's
//! `Resample.c` exactly (`precompute_coeffs`, `normalize_coeffs_8bpc`, `clip8`), so an image
//! decoded to the same pixels gives the same resized pixels as the Python reference pipeline
//! (`torchvision`/PIL-style: shorter side to 256, centre crop 224).
//!
//! ```
//! use ml_vision::preprocess::{Preprocessing, RgbPixels};
//! let img = RgbPixels::new(320, 240, vec![128u8; 320 * 240 * 3]).unwrap();
//! let p = Preprocessing::efficientnet_lite();
//! let x = p.to_tensor(&img);
//! assert_eq!(x.len(), 3 * 224 * 224);
//! assert!((x[0] - 1.0 / 128.0).abs() < 1e-7);
//! ```

use serde::{Deserialize, Serialize};

use crate::error::{Result, VisionError};

mod horizontal;

/// The bytes of a `width x height` image of `channels` 8-bit channels; an error (naming the
/// sizes) when the product overflows `usize`, as sizes read from a file or a table may.
pub(crate) fn image_bytes(width: usize, height: usize, channels: usize) -> Result<usize> {
    width
        .checked_mul(height)
        .and_then(|p| p.checked_mul(channels))
        .ok_or_else(|| {
            VisionError::param(
                "image",
                format!("{width}x{height} with {channels} channels is too large to address"),
            )
        })
}

/// Checks that `len` bytes hold a `width x height` image of 3 channels in `order` ("RGB",
/// "BGR") with non-zero sides; the error names the sizes and the byte counts.
fn check_three_channels(width: usize, height: usize, len: usize, order: &str) -> Result<()> {
    let needed = image_bytes(width, height, 3)?;
    if len != needed || width == 0 || height == 0 {
        return Err(VisionError::param(
            "image",
            format!(
                "{width}x{height} {order} needs {needed} bytes (and non-zero sides), got {len}"
            ),
        ));
    }
    Ok(())
}

/// An 8-bit RGB image, rows top to bottom, pixels interleaved `RGBRGB...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RgbPixels {
    width: usize,
    height: usize,
    data: Vec<u8>,
}

impl RgbPixels {
    /// Wraps interleaved RGB bytes; `data.len()` must be `width * height * 3`.
    pub fn new(width: usize, height: usize, data: Vec<u8>) -> Result<Self> {
        check_three_channels(width, height, data.len(), "RGB")?;
        Ok(RgbPixels {
            width,
            height,
            data,
        })
    }

    /// Converts from another channel layout: 1 = gray, 3 = BGR, 4 = BGRA (Spark's image
    /// `data` order, OpenCV-compatible); alpha is dropped.
    pub fn from_bgr_channels(
        width: usize,
        height: usize,
        channels: usize,
        data: &[u8],
    ) -> Result<Self> {
        let needed = image_bytes(width, height, channels)?;
        if data.len() != needed {
            return Err(VisionError::param(
                "image",
                format!(
                    "{width}x{height} with {channels} channels needs {needed} bytes, got {}",
                    data.len()
                ),
            ));
        }
        let rgb: Vec<u8> = match channels {
            1 => data.iter().flat_map(|&g| [g, g, g]).collect(),
            3 => data
                .chunks_exact(3)
                .flat_map(|p| [p[2], p[1], p[0]])
                .collect(),
            4 => data
                .chunks_exact(4)
                .flat_map(|p| [p[2], p[1], p[0]])
                .collect(),
            n => {
                return Err(VisionError::param(
                    "image",
                    format!("{n} channels are not supported (1, 3 or 4)"),
                ))
            }
        };
        RgbPixels::new(width, height, rgb)
    }

    /// Width in pixels.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> usize {
        self.height
    }

    /// The interleaved RGB bytes.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// Consumes the image and returns its bytes.
    pub fn into_data(self) -> Vec<u8> {
        self.data
    }

    /// The `w x h` window whose top-left corner is `(left, top)`; the window must fit.
    pub fn crop(&self, left: usize, top: usize, w: usize, h: usize) -> RgbPixels {
        assert!(left + w <= self.width && top + h <= self.height);
        let mut data = Vec::with_capacity(w * h * 3);
        for y in top..top + h {
            let start = (y * self.width + left) * 3;
            data.extend_from_slice(&self.data[start..start + w * 3]);
        }
        RgbPixels {
            width: w,
            height: h,
            data,
        }
    }
}

/// Interleaved 3-channel pixels borrowed from an [`RgbPixels`] or a table's BGR bytes: the
/// resize treats every channel alike, so it runs on either order.
#[derive(Debug, Clone, Copy)]
struct Pixels<'a> {
    width: usize,
    height: usize,
    data: &'a [u8],
}

impl RgbPixels {
    fn pixels(&self) -> Pixels<'_> {
        Pixels {
            width: self.width,
            height: self.height,
            data: &self.data,
        }
    }
}

const PRECISION_BITS: u32 = 32 - 8 - 2;

/// Fixed-point filter taps for some output indices of one axis, as Pillow's
/// `precompute_coeffs` computes them.
struct Taps {
    /// The first output index the taps are for.
    first: usize,
    /// (first input index, number of taps) per output index from `first`.
    bounds: Vec<(usize, usize)>,
    ksize: usize,
    /// `ksize` fixed-point weights per output index from `first`.
    k: Vec<i32>,
}

impl Taps {
    /// The first input index and the weights of output index `x`.
    fn of(&self, x: usize) -> (usize, &[i32]) {
        let i = x - self.first;
        let (xmin, n) = self.bounds[i];
        (xmin, &self.k[i * self.ksize..i * self.ksize + n])
    }
}

fn bilinear_filter(x: f64) -> f64 {
    let x = x.abs();
    if x < 1.0 {
        1.0 - x
    } else {
        0.0
    }
}

/// The taps of output indices `first..first + count` of a resize from `in_size` to
/// `out_size` (each output's taps depend on its own index only, so a range is bit-exact
/// with the same range of the whole axis). Memory is `count` times the filter width, whatever
/// `out_size` is.
fn precompute_taps(in_size: usize, out_size: usize, first: usize, count: usize) -> Taps {
    debug_assert!(first + count <= out_size);
    let scale = in_size as f64 / out_size as f64;
    let filterscale = scale.max(1.0);
    let support = 1.0 * filterscale;
    // The filter never reaches past the input: no more taps than input indices.
    let ksize = (support.ceil() as usize * 2 + 1).min(in_size + 1);
    let mut bounds = Vec::with_capacity(count);
    let mut k = vec![0i32; count * ksize];
    let mut w = vec![0f64; ksize];
    for (i, xx) in (first..first + count).enumerate() {
        let center = (xx as f64 + 0.5) * scale;
        let ss = 1.0 / filterscale;
        // C's (int) cast truncates toward zero, as `as i64` does.
        let xmin = ((center - support + 0.5) as i64).clamp(0, in_size as i64) as usize;
        let xmax = (((center + support + 0.5) as i64).min(in_size as i64) as usize)
            .saturating_sub(xmin)
            .min(ksize);
        let mut ww = 0.0;
        for (x, wx) in w.iter_mut().enumerate().take(xmax) {
            *wx = bilinear_filter((x as f64 + xmin as f64 - center + 0.5) * ss);
            ww += *wx;
        }
        for x in 0..xmax {
            let v = if ww != 0.0 { w[x] / ww } else { w[x] };
            let f = v * (1u32 << PRECISION_BITS) as f64;
            k[i * ksize + x] = if v < 0.0 {
                (-0.5 + f) as i32
            } else {
                (0.5 + f) as i32
            };
        }
        bounds.push((xmin, xmax));
    }
    Taps {
        first,
        bounds,
        ksize,
        k,
    }
}

#[inline]
fn clip8(v: i32) -> u8 {
    (v >> PRECISION_BITS).clamp(0, 255) as u8
}

/// Resizes with Pillow's BILINEAR filter (antialiased when downscaling), bit-exact with
/// Pillow's 8-bit code path. Each pass is skipped when its side does not change, as in Pillow.
pub fn resize_bilinear_pil(img: &RgbPixels, out_w: usize, out_h: usize) -> RgbPixels {
    resize_bilinear_pil_window(img, out_w, out_h, 0, 0, out_w, out_h)
}

/// The `win_w x win_h` window at `(left, top)` of [`resize_bilinear_pil`]`(img, out_w, out_h)`,
/// computing only the pixels the window needs (every output pixel depends on its own taps
/// only, so the window is bit-exact with cropping the full resize, as Pillow's `box` is).
pub fn resize_bilinear_pil_window(
    img: &RgbPixels,
    out_w: usize,
    out_h: usize,
    left: usize,
    top: usize,
    win_w: usize,
    win_h: usize,
) -> RgbPixels {
    resize_window(
        img.pixels(),
        [out_w, out_h],
        [left, top, win_w, win_h],
        horizontal::has_avx2(),
    )
}

/// [`resize_bilinear_pil_window`], its horizontal pass with AVX2 when `avx2` (which the CPU
/// must have) or in portable code; both give the same bytes.
fn resize_window(img: Pixels<'_>, out: [usize; 2], window: [usize; 4], avx2: bool) -> RgbPixels {
    let [out_w, out_h] = out;
    let [left, top, win_w, win_h] = window;
    assert!(out_w > 0 && out_h > 0 && win_w > 0 && win_h > 0);
    assert!(left + win_w <= out_w && top + win_h <= out_h);
    let (w, h) = (img.width, img.height);
    let half = 1i32 << (PRECISION_BITS - 1);
    let stride = win_w * 3;
    // Taps of the window's rows and columns only: a 1 x 4,000,000 image resized so that its
    // shorter side is 256 is 1.024e9 rows tall, of which the crop needs 224.
    let htaps = (out_w != w).then(|| precompute_taps(w, out_w, left, win_w));
    // The same taps laid out for the AVX2 pass (see `horizontal`), where the CPU has it.
    let paired = htaps
        .as_ref()
        .filter(|_| avx2)
        .map(horizontal::PairedTaps::new);
    // The horizontal pass of source row `y`, window columns only.
    let horizontal = |y: usize, orow: &mut [u8]| match &htaps {
        #[cfg(target_arch = "x86_64")]
        Some(taps) if paired.is_some() => {
            let p = paired.as_ref().expect("checked by the guard");
            // SAFETY: `paired` exists only where `has_avx2()` holds.
            unsafe { horizontal::horizontal_avx2(img.data, w, y, p, taps, orow) }
        }
        Some(taps) => {
            let row = &img.data[y * w * 3..(y + 1) * w * 3];
            for (x, o) in (left..left + win_w).zip(orow.chunks_exact_mut(3)) {
                let (xmin, k) = taps.of(x);
                let (mut s0, mut s1, mut s2) = (half, half, half);
                for (i, &kk) in k.iter().enumerate() {
                    let p = &row[(xmin + i) * 3..(xmin + i) * 3 + 3];
                    s0 += p[0] as i32 * kk;
                    s1 += p[1] as i32 * kk;
                    s2 += p[2] as i32 * kk;
                }
                o[0] = clip8(s0);
                o[1] = clip8(s1);
                o[2] = clip8(s2);
            }
        }
        None => orow.copy_from_slice(&img.data[(y * w + left) * 3..(y * w + left + win_w) * 3]),
    };
    let mut out = vec![0u8; win_w * win_h * 3];
    if out_h == h {
        for (y, orow) in (top..top + win_h).zip(out.chunks_exact_mut(stride)) {
            horizontal(y, orow);
        }
        return RgbPixels {
            width: win_w,
            height: win_h,
            data: out,
        };
    }
    // Vertical pass. The source rows an output row reads (`ymin..ymin + n`) move forward with
    // it, so the horizontal pass runs once per source row, as Pillow's does, into a ring of
    // as many rows as the widest filter: memory is the filter's height times the window's
    // width, not the source's height (a 1 x 4,000,000 image resized straight to 1024 x 1024
    // would otherwise hold 4,000,000 rows of 1024 pixels).
    let taps = precompute_taps(h, out_h, top, win_h);
    let cap = taps
        .bounds
        .iter()
        .map(|&(_, n)| n)
        .max()
        .unwrap_or(1)
        .max(1);
    let mut ring = vec![0u8; cap * stride];
    let mut next_row = 0;
    let mut acc = vec![0i32; stride];
    for (y, orow) in (top..top + win_h).zip(out.chunks_exact_mut(stride)) {
        let (ymin, k) = taps.of(y);
        next_row = next_row.max(ymin);
        while next_row < ymin + k.len() {
            let slot = next_row % cap;
            horizontal(next_row, &mut ring[slot * stride..(slot + 1) * stride]);
            next_row += 1;
        }
        let rows = k.iter().enumerate().map(|(i, &kk)| {
            let slot = (ymin + i) % cap;
            (&ring[slot * stride..(slot + 1) * stride], kk)
        });
        vertical(rows, &mut acc, orow);
    }
    RgbPixels {
        width: win_w,
        height: win_h,
        data: out,
    }
}

/// One output row of the vertical pass: `half` plus each source row (the ring's, after the
/// horizontal pass) times its weight, summed per byte column in `acc`, then rounded and
/// clipped into `out`. With AVX2 where the CPU has it (the same integer sums, 8 lanes wide).
fn vertical<'a>(rows: impl Iterator<Item = (&'a [u8], i32)>, acc: &mut [i32], out: &mut [u8]) {
    #[inline(always)]
    fn body<'a>(rows: impl Iterator<Item = (&'a [u8], i32)>, acc: &mut [i32], out: &mut [u8]) {
        acc.fill(1 << (PRECISION_BITS - 1));
        for (row, kk) in rows {
            for (a, &p) in acc.iter_mut().zip(row) {
                *a += p as i32 * kk;
            }
        }
        for (o, &a) in out.iter_mut().zip(acc.iter()) {
            *o = clip8(a);
        }
    }
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn body_avx2<'a>(
        rows: impl Iterator<Item = (&'a [u8], i32)>,
        acc: &mut [i32],
        out: &mut [u8],
    ) {
        body(rows, acc, out)
    }
    #[cfg(target_arch = "x86_64")]
    if horizontal::has_avx2() {
        // SAFETY: the CPU has AVX2.
        return unsafe { body_avx2(rows, acc, out) };
    }
    body(rows, acc, out)
}

/// How an image becomes a model input: resize, centre crop, normalize, NCHW.
///
/// `resize_shorter > 0`: the shorter side is resized to it (the other side keeps the aspect
/// ratio, rounded half to even as Python's `round`), then the centre `input_size` square is
/// cropped (offsets `(w - input_size) / 2`, `(h - input_size) / 2`, floored). With
/// `resize_shorter == 0` the image is resized straight to `input_size x input_size`.
/// Each channel value becomes `(v - mean[c]) / std[c]` in `f32`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Preprocessing {
    /// Side of the square model input (224 for EfficientNet-lite0).
    pub input_size: usize,
    /// Shorter side after the first resize (256), or 0 for a direct resize to `input_size`.
    pub resize_shorter: usize,
    /// Per-channel (R, G, B) value subtracted.
    pub mean: [f32; 3],
    /// Per-channel (R, G, B) divisor.
    pub std: [f32; 3],
}

impl Preprocessing {
    /// EfficientNet-lite's preprocessing: shorter side 256, crop 224, `(x - 127) / 128`.
    pub fn efficientnet_lite() -> Self {
        Preprocessing {
            input_size: 224,
            resize_shorter: 256,
            mean: [127.0; 3],
            std: [128.0; 3],
        }
    }

    /// Checks the values (sizes > 0, crop no larger than the resize, std non-zero).
    pub fn validate(&self) -> Result<()> {
        if self.input_size == 0 {
            return Err(VisionError::param("input_size", "must be > 0"));
        }
        if self.resize_shorter != 0 && self.resize_shorter < self.input_size {
            return Err(VisionError::param(
                "resize_shorter",
                format!(
                    "{} is smaller than input_size {}; use 0 to resize straight to input_size",
                    self.resize_shorter, self.input_size
                ),
            ));
        }
        if self.std.iter().any(|s| *s == 0.0 || !s.is_finite()) {
            return Err(VisionError::param(
                "std",
                "every value must be finite and non-zero",
            ));
        }
        Ok(())
    }

    /// The size the image is resized to before the centre crop (`resize_shorter > 0`): the
    /// shorter side becomes `resize_shorter`, the other keeps the aspect ratio (rounded half
    /// to even), neither below `input_size`.
    pub fn resized_size(&self, img: &RgbPixels) -> (usize, usize) {
        self.resized_size_of(img.width, img.height)
    }

    fn resized_size_of(&self, width: usize, height: usize) -> (usize, usize) {
        let s = self.input_size;
        let (w, h) = (width as f64, height as f64);
        let scale = self.resize_shorter as f64 / w.min(h);
        let nw = ((w * scale).round_ties_even() as usize).max(s);
        let nh = ((h * scale).round_ties_even() as usize).max(s);
        (nw, nh)
    }

    /// The resized and cropped RGB image (`input_size` square), before normalization.
    pub fn resize_and_crop(&self, img: &RgbPixels) -> RgbPixels {
        self.crop_of(img.pixels())
    }

    /// [`resize_and_crop`](Self::resize_and_crop) of pixels in either channel order.
    fn crop_of(&self, img: Pixels<'_>) -> RgbPixels {
        let s = self.input_size;
        let avx2 = horizontal::has_avx2();
        if self.resize_shorter == 0 {
            return resize_window(img, [s, s], [0, 0, s, s], avx2);
        }
        let (nw, nh) = self.resized_size_of(img.width, img.height);
        // Only the centre crop is computed (bit-exact with resizing then cropping).
        resize_window(img, [nw, nh], [(nw - s) / 2, (nh - s) / 2, s, s], avx2)
    }

    /// Writes the normalized CHW tensor (`3 * input_size^2` values) into `out`.
    pub fn write_tensor(&self, img: &RgbPixels, out: &mut [f32]) {
        self.normalize_into(&self.crop_of(img.pixels()), [0, 1, 2], out);
    }

    /// [`write_tensor`](Self::write_tensor) of a `width x height` image given as interleaved
    /// BGR bytes (Spark's image `data` with 3 channels), without converting it to RGB first:
    /// the same tensor as `write_tensor` of [`RgbPixels::from_bgr_channels`]`(.., 3, bgr)`.
    ///
    /// Errors when `bgr` does not hold `width * height * 3` bytes or a side is zero.
    pub fn write_tensor_bgr(
        &self,
        width: usize,
        height: usize,
        bgr: &[u8],
        out: &mut [f32],
    ) -> Result<()> {
        check_three_channels(width, height, bgr.len(), "BGR")?;
        let img = Pixels {
            width,
            height,
            data: bgr,
        };
        self.normalize_into(&self.crop_of(img), [2, 1, 0], out);
        Ok(())
    }

    /// Writes `(v - mean[c]) / std[c]` of the crop's channel `order[c]` as plane `c` of `out`,
    /// through a table of the 256 values per channel (the same `f32` operations, once each).
    fn normalize_into(&self, crop: &RgbPixels, order: [usize; 3], out: &mut [f32]) {
        let plane = self.input_size * self.input_size;
        assert_eq!(out.len(), 3 * plane);
        assert_eq!(crop.data.len(), 3 * plane);
        let table: [[f32; 256]; 3] = std::array::from_fn(|c| {
            std::array::from_fn(|v| (v as f32 - self.mean[c]) / self.std[c])
        });
        let (r, rest) = out.split_at_mut(plane);
        let (g, b) = rest.split_at_mut(plane);
        for (i, px) in crop.data.chunks_exact(3).enumerate() {
            r[i] = table[0][px[order[0]] as usize];
            g[i] = table[1][px[order[1]] as usize];
            b[i] = table[2][px[order[2]] as usize];
        }
    }

    /// The normalized CHW tensor (`3 * input_size^2` values).
    pub fn to_tensor(&self, img: &RgbPixels) -> Vec<f32> {
        let mut out = vec![0f32; 3 * self.input_size * self.input_size];
        self.write_tensor(img, &mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic test pattern (the same formula generates the Pillow reference below).
    fn pattern(w: usize, h: usize) -> RgbPixels {
        let mut data = Vec::with_capacity(w * h * 3);
        for y in 0..h {
            for x in 0..w {
                for c in 0..3 {
                    data.push(((x * 37 + y * 91 + c * 53 + x * y * 7) % 256) as u8);
                }
            }
        }
        RgbPixels::new(w, h, data).unwrap()
    }

    fn checksum(img: &RgbPixels) -> (u64, u64) {
        let sum: u64 = img.data.iter().map(|&v| v as u64).sum();
        let weighted: u64 = img
            .data
            .iter()
            .enumerate()
            .map(|(i, &v)| (i as u64 % 9973 + 1) * v as u64)
            .sum();
        (sum, weighted)
    }

    #[test]
    fn resize_matches_pillow_bit_for_bit() {
        // Reference from Pillow 13.0.0 (peers venv):
        //   im = Image.fromarray(pattern(w, h)) (same formula as above, uint8 HxWx3)
        //   a = np.asarray(im.resize((ow, oh), Image.BILINEAR)).astype(np.uint64).ravel()
        //   (a.sum(), ((np.arange(a.size) % 9973 + 1) * a).sum()), plus the first 6 values.
        // Cases: downscale both sides (non-integer factors), upscale, mixed, one side only.
        type Case = (usize, usize, usize, usize, (u64, u64), [u8; 6]);
        let cases: [Case; 4] = [
            (
                97,
                61,
                40,
                27,
                (413722, 670987919),
                [103, 132, 143, 122, 130, 146],
            ),
            (
                23,
                17,
                50,
                41,
                (783573, 2415471236),
                [0, 53, 106, 7, 60, 113],
            ),
            (
                64,
                30,
                21,
                45,
                (360894, 513796242),
                [48, 101, 154, 148, 170, 165],
            ),
            (
                80,
                50,
                80,
                19,
                (583284, 1333844397),
                [80, 133, 126, 125, 118, 171],
            ),
        ];
        for (w, h, ow, oh, sums, first) in cases {
            let out = resize_bilinear_pil(&pattern(w, h), ow, oh);
            assert_eq!((out.width, out.height), (ow, oh));
            assert_eq!(&out.data[..6], &first, "{w}x{h} -> {ow}x{oh}");
            assert_eq!(checksum(&out), sums, "{w}x{h} -> {ow}x{oh}");
            // Any window of the resize equals the same crop of the full resize.
            for (l, t, ww, wh) in [
                (0, 0, ow, oh),
                (1, 2, ow - 3, oh - 5),
                (ow / 2, oh / 3, 4, 3),
            ] {
                let win = resize_bilinear_pil_window(&pattern(w, h), ow, oh, l, t, ww, wh);
                assert_eq!(
                    win,
                    out.crop(l, t, ww, wh),
                    "{w}x{h} -> {ow}x{oh} window {l},{t}"
                );
            }
        }
    }

    #[test]
    fn avx2_horizontal_pass_equals_the_portable_one_where_the_cpu_has_it() {
        if !horizontal::has_avx2() {
            eprintln!("skipped: this CPU has no AVX2 (the portable pass ran in every other test)");
            return;
        }
        // Downscales by many factors (ksize 3 to 41: odd and even numbers of tap pairs),
        // upscales, windows at both edges, and images a few pixels wide, where the last
        // pixels of the last rows take the scalar path inside the AVX2 pass.
        let cases = [
            (768, 576, 341, 256),
            (97, 61, 40, 27),
            (23, 17, 50, 41),
            (64, 30, 21, 45),
            (400, 9, 19, 9),
            (5, 4, 2, 3),
            (3, 2, 1, 1),
            (1000, 3, 333, 2),
            (2, 7, 9, 7),
        ];
        for (w, h, ow, oh) in cases {
            let img = pattern(w, h);
            for window in [[0, 0, ow, oh], [ow / 3, oh / 4, ow - ow / 3, oh - oh / 4]] {
                let fast = resize_window(img.pixels(), [ow, oh], window, true);
                let portable = resize_window(img.pixels(), [ow, oh], window, false);
                assert_eq!(fast, portable, "{w}x{h} -> {ow}x{oh} window {window:?}");
            }
        }
    }

    #[test]
    fn shorter_side_resize_and_centre_crop_geometry() {
        let p = Preprocessing::efficientnet_lite();
        // 768x576 -> 341x256 (341.33 rounds down), crop at (58, 16).
        let img = pattern(768, 576);
        let crop = p.resize_and_crop(&img);
        let full = resize_bilinear_pil(&img, 341, 256);
        assert_eq!((crop.width, crop.height), (224, 224));
        assert_eq!(crop, full.crop(58, 16, 224, 224));
    }

    #[test]
    fn bgr_layouts_convert_to_rgb() {
        let bgr = RgbPixels::from_bgr_channels(1, 1, 3, &[1, 2, 3]).unwrap();
        assert_eq!(bgr.data(), &[3, 2, 1]);
        let bgra = RgbPixels::from_bgr_channels(1, 1, 4, &[1, 2, 3, 4]).unwrap();
        assert_eq!(bgra.data(), &[3, 2, 1]);
        let gray = RgbPixels::from_bgr_channels(1, 1, 1, &[9]).unwrap();
        assert_eq!(gray.data(), &[9, 9, 9]);
        assert!(RgbPixels::from_bgr_channels(2, 1, 3, &[1, 2, 3]).is_err());
    }

    #[test]
    fn bgr_tensors_equal_the_tensors_of_the_converted_images() {
        // The direct formula, value by value, as the reference for the table and the order.
        let direct = |p: &Preprocessing, img: &RgbPixels| -> Vec<f32> {
            let crop = p.resize_and_crop(img);
            let plane = p.input_size * p.input_size;
            let mut out = vec![0f32; 3 * plane];
            for (i, px) in crop.data.chunks_exact(3).enumerate() {
                for c in 0..3 {
                    out[c * plane + i] = (px[c] as f32 - p.mean[c]) / p.std[c];
                }
            }
            out
        };
        let mut odd = Preprocessing::efficientnet_lite();
        odd.mean = [123.675, 116.28, 103.53];
        odd.std = [58.395, 57.12, 57.375];
        let mut square = Preprocessing::efficientnet_lite();
        square.resize_shorter = 0;
        for p in [Preprocessing::efficientnet_lite(), odd, square] {
            for (w, h) in [(768, 576), (300, 224), (224, 500), (231, 229)] {
                let rgb = pattern(w, h);
                let bgr: Vec<u8> = rgb
                    .data
                    .chunks_exact(3)
                    .flat_map(|q| [q[2], q[1], q[0]])
                    .collect();
                let want = direct(&p, &rgb);
                let n = 3 * p.input_size * p.input_size;
                let (mut a, mut b) = (vec![0f32; n], vec![0f32; n]);
                p.write_tensor(&rgb, &mut a);
                p.write_tensor_bgr(w, h, &bgr, &mut b).unwrap();
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&a), bits(&want), "{w}x{h} {p:?}");
                assert_eq!(bits(&b), bits(&want), "{w}x{h} {p:?} from BGR");
            }
        }
        let mut out = vec![0f32; 3 * 224 * 224];
        let p = Preprocessing::efficientnet_lite();
        let err = p
            .write_tensor_bgr(300, 300, &[0; 10], &mut out)
            .unwrap_err();
        assert!(
            err.to_string().contains("300x300 BGR needs 270000 bytes"),
            "{err}"
        );
    }

    #[test]
    fn invalid_preprocessing_is_rejected() {
        let mut p = Preprocessing::efficientnet_lite();
        p.resize_shorter = 100;
        assert!(p
            .validate()
            .unwrap_err()
            .to_string()
            .contains("resize_shorter"));
        let mut p = Preprocessing::efficientnet_lite();
        p.std[1] = 0.0;
        assert!(p.validate().unwrap_err().to_string().contains("std"));
    }
}
