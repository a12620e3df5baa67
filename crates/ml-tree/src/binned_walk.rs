//! A tree walked on binned rows: the leaf a training row reaches, read from its bins instead of
//! its `f64` values, so the boosting loop never needs the feature matrix.
//!
//! Each split becomes a table "does bin `b` go left" over the feature's bins. A numeric split
//! sends `v` left when `(v as f32) < threshold`; the threshold is one of the feature's cut
//! points, so that holds exactly when `bin(v) < bin(threshold)` (a bin counts the cut points
//! `<= v`). A categorical split sends the categories of its set left; codes that had no bin of
//! their own were binned as missing, and the set holds them exactly when missing values go
//! left. The missing bin follows `default_left`. So a row reaches the same leaf as
//! [`Tree::predict_row`] on its values.

use crate::binning::{BinMapper, FeatureCuts, HIST_SLOTS};
use crate::tree::Tree;

/// One node of a [`BinnedTree`].
enum Step {
    Leaf(f64),
    Split {
        feature: usize,
        /// Bit `b` set when bin `b` goes left.
        left: [u64; HIST_SLOTS / 64],
        children: [u32; 2],
    },
}

/// A tree ready to be walked on rows of bins.
pub(crate) struct BinnedTree {
    steps: Vec<Step>,
}

impl BinnedTree {
    /// The tree's splits as bin tables under `mapper` (the cut points it was grown on).
    pub fn new(tree: &Tree, mapper: &BinMapper) -> Self {
        let steps = tree
            .nodes
            .iter()
            .map(|n| {
                if n.is_leaf() {
                    return Step::Leaf(n.value);
                }
                let f = n.feature as usize;
                let cuts = &mapper.features[f];
                let missing = cuts.n_bins();
                let mut goes_left = [false; HIST_SLOTS];
                match cuts {
                    FeatureCuts::Numeric { .. } => {
                        let split_bin = cuts.bin(n.threshold as f64) as usize;
                        goes_left[..split_bin.min(missing)].fill(true);
                    }
                    FeatureCuts::Categorical { code_of_bin, .. } => {
                        let set = n.category_split.map(|i| &tree.categories[i as usize]);
                        for (b, &code) in code_of_bin.iter().enumerate() {
                            goes_left[b] = set
                                .is_some_and(|s| s.code_goes_left(code as usize, n.default_left));
                        }
                    }
                }
                goes_left[missing] = n.default_left;
                let mut left = [0u64; HIST_SLOTS / 64];
                for (b, _) in goes_left.iter().enumerate().filter(|(_, &l)| l) {
                    left[b / 64] |= 1 << (b % 64);
                }
                Step::Split {
                    feature: f,
                    left,
                    children: [n.right, n.left],
                }
            })
            .collect();
        BinnedTree { steps }
    }

    /// The index (node number) of the leaf that the row with bins `row` reaches.
    #[inline]
    pub fn leaf_index(&self, row: &[u8]) -> usize {
        let mut i = 0usize;
        loop {
            match &self.steps[i] {
                Step::Leaf(_) => return i,
                Step::Split {
                    feature,
                    left,
                    children,
                } => {
                    let b = row[*feature] as usize;
                    i = children[(left[b / 64] >> (b % 64) & 1) as usize] as usize;
                }
            }
        }
    }

    /// The value of the leaf that the row with bins `row` reaches.
    #[inline]
    pub fn predict(&self, row: &[u8]) -> f64 {
        match &self.steps[self.leaf_index(row)] {
            Step::Leaf(v) => *v,
            Step::Split { .. } => unreachable!("leaf_index stops at a leaf"),
        }
    }
}
