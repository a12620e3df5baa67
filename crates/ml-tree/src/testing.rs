//! Helpers shared by the unit tests: a small generator and default tree parameters.

use crate::hist::{GradPair, RowPair};
use crate::params::{GrowPolicy, TreeParams};
use crate::split::add;

/// A small deterministic generator (xorshift) for test data.
pub(crate) struct Rng(pub u64);

impl Rng {
    /// A uniform value in [0, 1).
    pub fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// XGBoost's defaults, depthwise, with the given depth.
pub(crate) fn params(max_depth: usize) -> TreeParams {
    TreeParams {
        max_depth,
        max_leaves: 0,
        grow_policy: GrowPolicy::Depthwise,
        min_child_weight: 1.0,
        lambda: 1.0,
        alpha: 0.0,
        gamma: 0.0,
        eta: 0.3,
        max_cat_to_onehot: 4,
        max_delta_step: 0.0,
    }
}

/// The (grad, hess) sums of some rows, in f64.
pub(crate) fn sum(rows: &[usize], gh: &[RowPair]) -> GradPair {
    rows.iter().fold([0.0, 0.0], |a, &r| {
        add(a, [gh[r][0] as f64, gh[r][1] as f64])
    })
}
