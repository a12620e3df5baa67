//! Helpers shared by the unit tests (a small generator and default tree parameters), and
//! [`fuzz`], what the fuzz targets in `fuzz/` run. Not part of the public API: the module is
//! hidden from the docs and may change.

pub mod fuzz;

#[cfg(test)]
use crate::hist::{GradPair, RowPair};
#[cfg(test)]
use crate::params::{GrowPolicy, TreeParams};
#[cfg(test)]
use crate::split::add;

#[cfg(test)]
/// A small deterministic generator (xorshift) for test data.
pub(crate) struct Rng(pub u64);

#[cfg(test)]
impl Rng {
    /// A uniform value in [0, 1).
    pub fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
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

#[cfg(test)]
/// The (grad, hess) sums of some rows, in f64.
pub(crate) fn sum(rows: &[usize], gh: &[RowPair]) -> GradPair {
    rows.iter().fold([0.0, 0.0], |a, &r| {
        add(a, [gh[r][0] as f64, gh[r][1] as f64])
    })
}
