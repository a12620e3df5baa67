//! A mobile inverted-residual block (MobileNetV2's and EfficientNet's "MBConv") run as one
//! kernel, row by row: an optional 1x1 expansion, a depthwise convolution and a 1x1 projection
//! (with an optional residual), each with its epilogue.
//!
//! Run layer by layer, such a block writes the expanded tensor (up to 112 x 112 x 96 floats,
//! 4.8 MB, in EfficientNet-lite0) and the depthwise output to memory and reads them back: on
//! the large early planes they do not fit in L2 and make a round trip to L3. Here the
//! expansion fills a ring of `kh` expanded rows (the rows the depthwise filter reaches, at most
//! `kh x w x c` floats: 97-161 KB on those layers, L2), each depthwise output row goes to a
//! one-row buffer (L1) and the projection reads it from there and writes the block's output
//! row. Every expanded row is computed once (no recomputed halo).
//!
//! The sums are the layer kernels' own ([`PointwiseWeights::run`] on a row of pixels,
//! [`DepthwiseWeights::run_row`]), in the same order, so the block gives the same values, bit
//! for bit, as its three layers run one after the other.

use std::cell::RefCell;

use super::{DepthwiseWeights, Epilogue, PointwiseWeights};

/// The layers of an inverted-residual block, ready to run as one kernel (see the
/// [module docs](self)).
#[derive(Debug, Clone, PartialEq)]
pub struct InvertedResidual {
    expand: Option<(PointwiseWeights, Epilogue)>,
    depthwise: (DepthwiseWeights, Epilogue),
    project: (PointwiseWeights, Epilogue),
}

thread_local! {
    /// The ring of expanded rows and the depthwise output row, kept per thread between calls
    /// (every value is written before it is read).
    static SCRATCH: RefCell<(Vec<f32>, Vec<f32>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

impl InvertedResidual {
    /// The block `expand` (if any) -> `depthwise` -> `project`, or `None` when the channel
    /// counts do not chain (the expansion must output the depthwise channels, and the
    /// projection read them) or the depthwise plane is empty.
    pub fn new(
        expand: Option<(PointwiseWeights, Epilogue)>,
        depthwise: (DepthwiseWeights, Epilogue),
        project: (PointwiseWeights, Epilogue),
    ) -> Option<Self> {
        let c = depthwise.0.c;
        let g = depthwise.0.geo;
        let chained = expand.as_ref().is_none_or(|(e, _)| e.cout == c) && project.0.k == c;
        let plane = g.h > 0 && g.w > 0 && g.kh > 0 && g.sh > 0 && g.oh > 0 && g.ow > 0;
        let chained = chained && plane;
        chained.then_some(InvertedResidual {
            expand,
            depthwise,
            project,
        })
    }

    /// Input channels of the block.
    pub fn cin(&self) -> usize {
        self.expand
            .as_ref()
            .map_or(self.depthwise.0.c, |(e, _)| e.k)
    }

    /// Output channels of the block.
    pub fn cout(&self) -> usize {
        self.project.0.cout
    }

    /// The block's layers in words, for a plan's listing.
    pub(crate) fn describe(&self) -> String {
        let (dw, dw_ep) = &self.depthwise;
        let (project, project_ep) = &self.project;
        let g = dw.geo;
        let expand = match &self.expand {
            Some((e, ep)) => format!("1x1 {} -> {} clip {:?}, ", e.k, e.cout, ep.clip),
            None => String::new(),
        };
        format!(
            "{expand}depthwise {}x{} stride {} on {}x{}x{} clip {:?}, 1x1 {} -> {} clip {:?}",
            g.kh, g.kw, g.sh, g.h, g.w, dw.c, dw_ep.clip, project.k, project.cout, project_ep.clip
        )
    }

    /// `out` (`[oh][ow][cout]`) from the image `x` (`[h][w][cin]`), with `residual` (the shape
    /// of `out`) added before the projection's clip.
    ///
    /// # Panics
    /// If a slice's length does not match the block's geometry (the tract operator checks the
    /// shapes before calling).
    pub fn run(&self, x: &[f32], residual: Option<&[f32]>, out: &mut [f32]) {
        let (dw, dw_ep) = &self.depthwise;
        let (project, project_ep) = &self.project;
        let g = dw.geo;
        let (c, cin, cout) = (dw.c, self.cin(), self.cout());
        assert_eq!(x.len(), g.h * g.w * cin, "the input is [h][w][cin]");
        assert_eq!(
            out.len(),
            g.oh * g.ow * cout,
            "the output is [oh][ow][cout]"
        );
        if let Some(r) = residual {
            assert_eq!(r.len(), out.len(), "the residual has the output's shape");
        }
        let row_in = g.w * c;
        SCRATCH.with_borrow_mut(|(ring, dw_row)| {
            if self.expand.is_some() {
                grow(ring, g.kh * row_in);
            }
            grow(dw_row, g.ow * c);
            let dw_row = &mut dw_row[..g.ow * c];
            // Input rows `next ..` are not expanded yet.
            let mut next = 0;
            for (oy, out_row) in out.chunks_exact_mut(g.ow * cout).enumerate() {
                let rows: &[f32] = match &self.expand {
                    Some((e, e_ep)) => {
                        // The rows this output row reads: `first ..= last` (clamped to the
                        // image); each goes to slot `iy % kh`, whose previous row is above
                        // `first` and no longer needed.
                        let top = oy * g.sh;
                        let first = top.saturating_sub(g.pad_top);
                        let last = (top + g.kh).saturating_sub(g.pad_top + 1).min(g.h - 1);
                        for iy in next.max(first)..=last {
                            let slot = iy % g.kh;
                            e.run(
                                &x[iy * g.w * cin..(iy + 1) * g.w * cin],
                                None,
                                *e_ep,
                                &mut ring[slot * row_in..(slot + 1) * row_in],
                            );
                        }
                        next = next.max(last + 1);
                        &ring[..]
                    }
                    None => x,
                };
                let expanded = self.expand.is_some();
                dw.run_row(
                    oy,
                    |iy| {
                        let at = if expanded { iy % g.kh } else { iy };
                        &rows[at * row_in..(at + 1) * row_in]
                    },
                    *dw_ep,
                    dw_row,
                );
                let res = residual.map(|r| &r[oy * g.ow * cout..(oy + 1) * g.ow * cout]);
                project.run(dw_row, res, *project_ep, out_row);
            }
        });
    }
}

/// Makes `v` at least `n` long.
fn grow(v: &mut Vec<f32>, n: usize) {
    if v.len() < n {
        v.resize(n, 0.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::reference::{close, data, geometry, reference_conv};
    use crate::kernels::ConvGeometry;

    /// A block: input plane, channels in / expanded (0: no expansion) / out, kernel, stride,
    /// pads (top, left, bottom, right), residual.
    type Case = (
        (usize, usize),
        (usize, usize, usize),
        usize,
        usize,
        (usize, usize, usize, usize),
        bool,
    );

    const CASES: [Case; 9] = [
        // EfficientNet-lite0's first blocks, scaled down in width where it does not matter.
        ((20, 17), (32, 0, 16), 3, 1, (1, 1, 1, 1), false),
        ((22, 23), (16, 96, 24), 3, 2, (0, 0, 1, 1), false),
        ((13, 14), (24, 144, 24), 3, 1, (1, 1, 1, 1), true),
        ((15, 16), (24, 144, 40), 5, 2, (1, 1, 2, 2), false),
        ((9, 9), (40, 240, 40), 5, 1, (2, 2, 2, 2), true),
        // Ragged channel counts (masked and portable remainders), a 1-row plane, stride 3.
        ((7, 11), (5, 37, 9), 3, 1, (1, 1, 1, 1), true),
        ((1, 12), (3, 20, 7), 3, 1, (1, 1, 1, 1), false),
        ((10, 10), (6, 19, 11), 3, 3, (1, 0, 1, 2), false),
        ((6, 8), (8, 0, 8), 5, 1, (2, 2, 2, 2), true),
    ];

    /// The block's layers, its input and residual, and their f64 reference output.
    struct Built {
        block: InvertedResidual,
        x: Vec<f32>,
        res: Option<Vec<f32>>,
        want: Vec<f32>,
        g: ConvGeometry,
    }

    fn build(&((h, w), (cin, cexp, cout), k, s, pads, residual): &Case) -> Built {
        let relu6 = Epilogue {
            clip: Some((0.0, 6.0)),
        };
        let g = geometry(h, w, k, s, pads);
        let c = if cexp == 0 { cin } else { cexp };
        let x = data(h * w * cin, 0.37);
        let (we, be) = (data(c * cin, 0.11), data(c, 0.7));
        let (wd, bd) = (data(c * k * k, 0.29), data(c, 0.5));
        let (wp, bp) = (data(cout * c, 0.13), data(cout, 0.3));
        let res = residual.then(|| data(g.oh * g.ow * cout, 0.23));
        // The reference: the three layers in f64 (rounded to f32 between layers).
        let pw = geometry(1, h * w, 1, 1, (0, 0, 0, 0));
        let expanded = if cexp == 0 {
            x.clone()
        } else {
            reference_conv(&x, cin, c, false, &we, &be, &pw, relu6.clip)
        };
        let dw = reference_conv(&expanded, c, c, true, &wd, &bd, &g, relu6.clip);
        let po = geometry(1, g.oh * g.ow, 1, 1, (0, 0, 0, 0));
        let mut want = reference_conv(&dw, c, cout, false, &wp, &bp, &po, None);
        if let Some(r) = &res {
            want.iter_mut().zip(r).for_each(|(v, r)| *v += r);
        }
        let expand = (cexp > 0).then(|| (PointwiseWeights::pack(&we, &be, c, cin), relu6));
        let block = InvertedResidual::new(
            expand,
            (DepthwiseWeights::pack(&wd, &bd, c, g), relu6),
            (
                PointwiseWeights::pack(&wp, &bp, cout, c),
                Epilogue { clip: None },
            ),
        )
        .expect("the channels chain");
        Built {
            block,
            x,
            res,
            want,
            g,
        }
    }

    #[test]
    fn the_fused_block_equals_the_reference_and_its_layers_bit_for_bit() {
        for case in &CASES {
            let Built {
                block,
                x,
                res,
                want,
                g,
            } = build(case);
            let cout = block.cout();
            let mut got = vec![f32::NAN; g.oh * g.ow * cout];
            block.run(&x, res.as_deref(), &mut got);
            close(&got, &want, &format!("fused block {case:?}"));
            // The layers one after the other, whole tensors, with this CPU's kernels.
            let expanded = match &block.expand {
                Some((e, ep)) => {
                    let mut t = vec![f32::NAN; g.h * g.w * e.cout];
                    e.run(&x, None, *ep, &mut t);
                    t
                }
                None => x.clone(),
            };
            let (dw, dw_ep) = &block.depthwise;
            let mut d = vec![f32::NAN; g.oh * g.ow * dw.c];
            dw.run(&expanded, *dw_ep, &mut d);
            let (p, p_ep) = &block.project;
            let mut layered = vec![f32::NAN; got.len()];
            p.run(&d, res.as_deref(), *p_ep, &mut layered);
            assert!(
                got.iter()
                    .zip(&layered)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "fused and layered differ on {case:?}"
            );
            // A second run on the same thread reuses the scratch rows.
            let mut again = vec![f32::NAN; got.len()];
            block.run(&x, res.as_deref(), &mut again);
            assert!(got
                .iter()
                .zip(&again)
                .all(|(a, b)| a.to_bits() == b.to_bits()));
        }
    }

    #[test]
    fn blocks_whose_channels_do_not_chain_are_refused() {
        let g = geometry(4, 4, 3, 1, (1, 1, 1, 1));
        let ep = Epilogue { clip: None };
        let dw = DepthwiseWeights::pack(&data(8 * 9, 0.1), &data(8, 0.2), 8, g);
        let project = PointwiseWeights::pack(&data(4 * 8, 0.3), &data(4, 0.4), 4, 8);
        let wrong_expand = PointwiseWeights::pack(&data(6 * 3, 0.5), &data(6, 0.6), 6, 3);
        assert!(InvertedResidual::new(None, (dw.clone(), ep), (project.clone(), ep)).is_some());
        assert!(
            InvertedResidual::new(Some((wrong_expand, ep)), (dw.clone(), ep), (project, ep))
                .is_none()
        );
        let wrong_project = PointwiseWeights::pack(&data(4 * 5, 0.3), &data(4, 0.4), 4, 5);
        assert!(InvertedResidual::new(None, (dw, ep), (wrong_project, ep)).is_none());
    }
}
