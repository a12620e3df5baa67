//! Split search: XGBoost's gain with L1/L2 regularization, the best split of a node from its
//! histogram (numeric thresholds with a learned direction for missing values; categorical
//! slots one-vs-rest or on subsets ordered by gradient ratio), and the table of bins a split
//! sends left.

use crate::binning::{BinMapper, BinMatrix, FeatureCuts, HIST_SLOTS};
use crate::constraints::Bounds;
use crate::hist::GradPair;
use crate::params::TreeParams;

impl TreeParams {
    #[inline]
    fn threshold_l1(&self, g: f64) -> f64 {
        if g > self.alpha {
            g - self.alpha
        } else if g < -self.alpha {
            g + self.alpha
        } else {
            0.0
        }
    }

    /// XGBoost's gain of a node: `T(G)^2 / (H + lambda)`; with `max_delta_step`, the gain
    /// at the clipped weight `w`: `-(2 G w + (H + lambda) w^2) + alpha |w|`.
    #[inline]
    pub fn score(&self, s: GradPair) -> f64 {
        if self.max_delta_step != 0.0 {
            if s[1] < self.min_child_weight || s[1] <= 0.0 {
                return 0.0;
            }
            let w = self.weight(s);
            return -(2.0 * s[0] * w + (s[1] + self.lambda) * w * w) + self.alpha * w.abs();
        }
        let t = self.threshold_l1(s[0]);
        t * t / (s[1] + self.lambda)
    }

    /// The node weight `-T(G) / (H + lambda)`, clipped to `max_delta_step` when set (and 0
    /// for a node lighter than `min_child_weight` then, as XGBoost's `CalcWeight`).
    #[inline]
    fn weight(&self, s: GradPair) -> f64 {
        let w = -self.threshold_l1(s[0]) / (s[1] + self.lambda);
        if self.max_delta_step == 0.0 {
            return w;
        }
        if s[1] < self.min_child_weight || s[1] <= 0.0 {
            return 0.0;
        }
        if w.abs() > self.max_delta_step {
            self.max_delta_step.copysign(w)
        } else {
            w
        }
    }

    /// The node weight ([`TreeParams::weight`]), times eta, rounded to f32 as XGBoost stores
    /// it.
    pub fn leaf_value(&self, s: GradPair) -> f64 {
        ((self.weight(s) * self.eta) as f32) as f64
    }

    /// Loss reduction of splitting `parent` into `left` and `right`, if both children are
    /// heavy enough.
    #[inline]
    pub fn split_gain(&self, left: GradPair, right: GradPair, parent_score: f64) -> Option<f64> {
        if left[1] < self.min_child_weight
            || right[1] < self.min_child_weight
            || left[1] <= 0.0
            || right[1] <= 0.0
        {
            return None;
        }
        Some(self.score(left) + self.score(right) - parent_score)
    }

    /// XGBoost's `CalcWeight`: [`TreeParams::weight`], and 0 for a node lighter than
    /// `min_child_weight`.
    #[inline]
    fn weight_checked(&self, s: GradPair) -> f64 {
        if s[1] < self.min_child_weight || s[1] <= 0.0 {
            0.0
        } else {
            self.weight(s)
        }
    }

    /// The weight of a node whose parent has bounds `b` (monotone constraints).
    #[inline]
    pub(crate) fn bounded_weight(&self, s: GradPair, b: &Bounds) -> f64 {
        b.clamp(self.weight_checked(s))
    }

    /// XGBoost's gain at a given weight, `-(2 G w + (H + lambda) w^2)` (0 without hessian).
    #[inline]
    fn gain_given_weight(&self, s: GradPair, w: f64) -> f64 {
        if s[1] <= 0.0 {
            0.0
        } else {
            -(2.0 * s[0] * w + (s[1] + self.lambda) * w * w)
        }
    }

    /// The gain of a node whose parent has bounds `b`, at its bounded weight.
    #[inline]
    pub(crate) fn bounded_gain(&self, s: GradPair, b: &Bounds) -> f64 {
        self.gain_given_weight(s, self.bounded_weight(s, b))
    }

    /// A leaf's value under bounds `b`: the bounded weight times eta, rounded to f32.
    pub(crate) fn bounded_leaf_value(&self, s: GradPair, b: &Bounds) -> f64 {
        ((self.bounded_weight(s, b) * self.eta) as f32) as f64
    }

    /// The loss reduction of a split of a node with bounds `b` and gain `root_gain` on a
    /// feature with monotone constraint `c`: `None` when a child is too light or the
    /// children's bounded weights go the wrong way (XGBoost's `CalcSplitGain`).
    #[inline]
    fn bounded_split_gain(
        &self,
        left: GradPair,
        right: GradPair,
        b: &Bounds,
        c: i8,
        root_gain: f64,
    ) -> Option<f64> {
        if left[1] < self.min_child_weight
            || right[1] < self.min_child_weight
            || left[1] <= 0.0
            || right[1] <= 0.0
        {
            return None;
        }
        let (wl, wr) = (self.bounded_weight(left, b), self.bounded_weight(right, b));
        if (c > 0 && wl > wr) || (c < 0 && wl < wr) {
            return None;
        }
        Some(self.gain_given_weight(left, wl) + self.gain_given_weight(right, wr) - root_gain)
    }

    /// True when a split with this gain is taken.
    #[inline]
    pub fn accept(&self, gain: f64) -> bool {
        gain > self.gamma && gain > 1e-6
    }

    /// `out[b]`: the gain of the split with left sums `(lg[b], lh[b]) + extra` (as
    /// [`TreeParams::split_gain`] computes it, with the same operations in the same order),
    /// or `-inf` where a child is too light. Written without branches so it vectorizes.
    pub(crate) fn gains(
        &self,
        lg: &[f64],
        lh: &[f64],
        extra: GradPair,
        parent: GradPair,
        parent_score: f64,
        out: &mut [f64],
    ) {
        if self.max_delta_step != 0.0 {
            // Gains at clipped weights: the plain loop.
            for ((o, &g), &h) in out.iter_mut().zip(lg).zip(lh) {
                let l = [g + extra[0], h + extra[1]];
                let r = [parent[0] - l[0], parent[1] - l[1]];
                *o = self
                    .split_gain(l, r, parent_score)
                    .unwrap_or(f64::NEG_INFINITY);
            }
            return;
        }
        let (a, lambda, mcw) = (self.alpha, self.lambda, self.min_child_weight);
        // T(g) of `threshold_l1` as two selects (alpha >= 0, so at most one is non-zero).
        let t = |g: f64| {
            let up = if g > a { g - a } else { 0.0 };
            let down = if g < -a { g + a } else { 0.0 };
            up + down
        };
        for ((o, &g), &h) in out.iter_mut().zip(lg).zip(lh) {
            let (g, h) = (g + extra[0], h + extra[1]);
            let (rg, rh) = (parent[0] - g, parent[1] - h);
            let (tl, tr) = (t(g), t(rg));
            let gain = tl * tl / (h + lambda) + tr * tr / (rh + lambda) - parent_score;
            let ok = (h >= mcw) & (rh >= mcw) & (h > 0.0) & (rh > 0.0);
            *o = if ok { gain } else { f64::NEG_INFINITY };
        }
    }
}

/// Which bins go left.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SplitKind {
    /// Value bins `0..=bin` go left.
    Numeric(u8),
    /// These value bins go left.
    Categories(Vec<u8>),
}

/// The best split found for a node.
#[derive(Debug, Clone)]
pub(crate) struct Candidate {
    pub feature: usize,
    pub gain: f64,
    pub kind: SplitKind,
    pub default_left: bool,
    pub left_sum: GradPair,
    pub right_sum: GradPair,
}

/// `a + b`, component-wise.
#[inline]
pub(crate) fn add(a: GradPair, b: GradPair) -> GradPair {
    [a[0] + b[0], a[1] + b[1]]
}
/// `a - b`, component-wise.
#[inline]
pub(crate) fn sub(a: GradPair, b: GradPair) -> GradPair {
    [a[0] - b[0], a[1] - b[1]]
}

/// What constrains the split of one node (see [`crate::constraints`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct NodeRule<'a> {
    /// Per-feature monotone constraints; empty: XGBoost's unconstrained evaluation.
    pub monotone: &'a [i8],
    /// Bounds on the node's children's weights.
    pub bounds: Bounds,
    /// The node's own gain (at its weight bounded by its parent's bounds), used when
    /// `monotone` is not empty.
    pub root_gain: f64,
    /// The features the node may split on; `None`: all.
    pub allowed: Option<&'a [bool]>,
}

#[cfg(test)]
impl NodeRule<'_> {
    /// No constraints.
    pub const NONE: NodeRule<'static> = NodeRule {
        monotone: &[],
        bounds: Bounds::NONE,
        root_gain: 0.0,
        allowed: None,
    };
}

/// Keeps the better of `best` and a new split (strictly greater gain wins, so the first found
/// wins ties: features in order, then bins in order, missing-right before missing-left).
struct Best<'a> {
    p: &'a TreeParams,
    parent: GradPair,
    parent_score: f64,
    best: Option<Candidate>,
    /// Monotone constraints (bounded evaluation), if any.
    rule: Option<NodeRule<'a>>,
}

impl Best<'_> {
    /// The gain a new split must exceed to be kept.
    #[inline]
    fn bar(&self) -> f64 {
        let floor = self.p.gamma.max(1e-6);
        self.best.as_ref().map_or(floor, |b| b.gain.max(floor))
    }

    #[inline]
    fn offer(
        &mut self,
        feature: usize,
        left: GradPair,
        default_left: bool,
        kind: impl FnOnce() -> SplitKind,
    ) {
        let right = sub(self.parent, left);
        let gain = match &self.rule {
            None => self.p.split_gain(left, right, self.parent_score),
            Some(r) => self.p.bounded_split_gain(
                left,
                right,
                &r.bounds,
                r.monotone.get(feature).copied().unwrap_or(0),
                r.root_gain,
            ),
        };
        if let Some(g) = gain {
            if self.p.accept(g) && self.best.as_ref().is_none_or(|b| g > b.gain) {
                self.best = Some(Candidate {
                    feature,
                    gain: g,
                    kind: kind(),
                    default_left,
                    left_sum: left,
                    right_sum: right,
                });
            }
        }
    }
}

/// Searches every listed feature's histogram for the best split of a node with sums `parent`,
/// under the node's constraints `rule`.
pub(crate) fn find_best_split(
    hist: &[GradPair],
    mapper: &BinMapper,
    bins: &BinMatrix,
    features: &[usize],
    parent: GradPair,
    p: &TreeParams,
    rule: &NodeRule<'_>,
) -> Option<Candidate> {
    let bounded = !rule.monotone.is_empty();
    let mut best = Best {
        p,
        parent,
        parent_score: p.score(parent),
        best: None,
        rule: bounded.then_some(*rule),
    };
    // Per numeric feature: left sums and gains of each candidate (rewritten per feature).
    let (mut lg, mut lh) = ([0.0f64; HIST_SLOTS], [0.0f64; HIST_SLOTS]);
    let (mut gain_r, mut gain_l) = ([0.0f64; HIST_SLOTS], [0.0f64; HIST_SLOTS]);
    for &f in features {
        if rule
            .allowed
            .is_some_and(|a| !a.get(f).copied().unwrap_or(false))
        {
            continue;
        }
        let cuts = &mapper.features[f];
        let nb = cuts.n_bins();
        let Some(h) = hist.get(bins.slots(f)) else {
            continue;
        };
        if h.len() != nb + 1 {
            continue;
        }
        let miss = h[nb];
        let has_missing = miss[1] > 0.0;
        match cuts {
            FeatureCuts::Numeric { .. } => {
                let nc = nb.saturating_sub(1);
                if nc == 0 {
                    continue;
                }
                // Left sums of every candidate "bins 0..=b go left" (missing values right),
                // then the gains of all candidates in one branch-free pass, then a scan in
                // candidate order that hands `best` only the candidates that beat it.
                let mut acc = [0.0, 0.0];
                for (b, &slot) in h.iter().enumerate().take(nc) {
                    acc = add(acc, slot);
                    lg[b] = acc[0];
                    lh[b] = acc[1];
                }
                if bounded {
                    // Bounded weights: every candidate through `offer`, in the same order.
                    for b in 0..nc {
                        let acc = [lg[b], lh[b]];
                        let right = sub(parent, acc);
                        let dl = !has_missing && acc[1] >= right[1];
                        best.offer(f, acc, dl, || SplitKind::Numeric(b as u8));
                        if has_missing {
                            best.offer(f, add(acc, miss), true, || SplitKind::Numeric(b as u8));
                        }
                    }
                    continue;
                }
                p.gains(
                    &lg[..nc],
                    &lh[..nc],
                    [0.0, 0.0],
                    parent,
                    best.parent_score,
                    &mut gain_r,
                );
                if has_missing {
                    p.gains(
                        &lg[..nc],
                        &lh[..nc],
                        miss,
                        parent,
                        best.parent_score,
                        &mut gain_l,
                    );
                }
                for b in 0..nc {
                    let acc = [lg[b], lh[b]];
                    if gain_r[b] > best.bar() {
                        let right = sub(parent, acc);
                        // Without missing values in the node, unseen missing values follow
                        // the heavier child.
                        let dl = !has_missing && acc[1] >= right[1];
                        best.offer(f, acc, dl, || SplitKind::Numeric(b as u8));
                    }
                    if has_missing && gain_l[b] > best.bar() {
                        best.offer(f, add(acc, miss), true, || SplitKind::Numeric(b as u8));
                    }
                }
            }
            FeatureCuts::Categorical { .. } => {
                let present: Vec<u8> = (0..nb)
                    .filter(|&b| h[b][1] > 0.0)
                    .map(|b| b as u8)
                    .collect();
                if present.len() < 2 && !has_missing {
                    continue;
                }
                if nb <= p.max_cat_to_onehot {
                    for &c in &present {
                        let l = h[c as usize];
                        let right = sub(parent, l);
                        let dl = !has_missing && l[1] >= right[1];
                        best.offer(f, l, dl, || SplitKind::Categories(vec![c]));
                        if has_missing {
                            best.offer(f, add(l, miss), true, || SplitKind::Categories(vec![c]));
                        }
                    }
                } else {
                    // LightGBM's ordering: categories sorted by their gradient ratio, then
                    // every prefix of that order is a candidate left set.
                    let mut order = present;
                    let key = |b: u8| {
                        let s = h[b as usize];
                        s[0] / (s[1] + p.lambda)
                    };
                    order.sort_by(|&a, &b| key(a).total_cmp(&key(b)).then(a.cmp(&b)));
                    let mut acc = [0.0, 0.0];
                    for k in 0..order.len().saturating_sub(1) {
                        acc = add(acc, h[order[k] as usize]);
                        let right = sub(parent, acc);
                        let dl = !has_missing && acc[1] >= right[1];
                        best.offer(f, acc, dl, || SplitKind::Categories(order[..=k].to_vec()));
                        if has_missing {
                            best.offer(f, add(acc, miss), true, || {
                                SplitKind::Categories(order[..=k].to_vec())
                            });
                        }
                    }
                }
            }
        }
    }
    best.best
}

/// The bins that go left under a split (value bins and the missing bin).
pub(crate) fn left_table(c: &Candidate, missing_bin: u8) -> [bool; HIST_SLOTS] {
    let mut t = [false; HIST_SLOTS];
    match &c.kind {
        SplitKind::Numeric(b) => {
            for x in t.iter_mut().take(*b as usize + 1) {
                *x = true;
            }
        }
        SplitKind::Categories(bins) => {
            for &b in bins {
                t[b as usize] = true;
            }
        }
    }
    t[missing_bin as usize] = c.default_left;
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixed::Quantizer;
    use crate::hist::{build_histogram, new_histogram, RowPair};
    use crate::testing::{params, Rng};
    use ml_dist::LocalCollective;
    use ndarray::Array2;

    #[test]
    fn sorted_ratio_categorical_split_is_the_best_subset_split() {
        // With lambda = 0 and no weight constraint the best binary partition of categories is
        // a prefix of the G/H order (Fisher 1958, Breiman et al. 1984): check against all
        // 2^(k-1) subsets.
        let k = 7usize;
        let mut rng = Rng(5);
        let n = 400;
        let x = Array2::from_shape_fn((n, 1), |_| (rng.next() * k as f64).floor());
        let effect: Vec<f64> = (0..k).map(|_| rng.next() - 0.5).collect();
        let gh: Vec<RowPair> = (0..n)
            .map(|i| {
                [
                    (effect[x[[i, 0]] as usize] + 0.3 * (rng.next() - 0.5)) as f32,
                    (0.1 + rng.next()) as f32,
                ]
            })
            .collect();
        let mapper = BinMapper::fit(x.view(), None, &[(0, k)], 256);
        let bins = mapper.transform(x.view());
        let mut p = params(1);
        p.lambda = 0.0;
        p.min_child_weight = 0.0;
        // In fixed point, as training sums them; the brute force sums the same values.
        let q = Quantizer::global(&gh, n as u64, &LocalCollective).unwrap();
        let mut gq = Vec::new();
        q.quantize_all(&gh, &mut gq);
        let exact: Vec<GradPair> = gq
            .iter()
            .map(|v| q.dequantize([v[0] as i64, v[1] as i64]))
            .collect();
        let sum =
            |rows: &[usize], _: &[RowPair]| rows.iter().fold([0.0, 0.0], |a, &r| add(a, exact[r]));
        let mut hist = new_histogram(&bins);
        build_histogram(&bins, &[0], None, &gq, &mut hist);
        let total = sum(&(0..n).collect::<Vec<_>>(), &gh);
        let c = find_best_split(
            &q.histogram_to_f64(&hist),
            &mapper,
            &bins,
            &[0],
            total,
            &p,
            &NodeRule::NONE,
        )
        .unwrap();
        let mut best = f64::MIN;
        for mask in 1u32..(1 << (k - 1)) {
            let l: Vec<usize> = (0..n)
                .filter(|&i| mask >> (x[[i, 0]] as u32) & 1 == 1)
                .collect();
            let r: Vec<usize> = (0..n)
                .filter(|&i| mask >> (x[[i, 0]] as u32) & 1 == 0)
                .collect();
            let g = p.score(sum(&l, &gh)) + p.score(sum(&r, &gh)) - p.score(total);
            best = best.max(g);
        }
        assert!(matches!(c.kind, SplitKind::Categories(_)));
        assert!(
            (c.gain - best).abs() < 1e-9 * best,
            "{} vs {}",
            c.gain,
            best
        );
    }
}
