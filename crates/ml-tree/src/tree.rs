//! The tree: a fitted regression tree as a node array, walked one row at a time.
//!
//! The fast batch predictor over all trees of a model is the crate's `forest` module.

use serde::{Deserialize, Serialize};

use crate::binning::category_code;

/// `Node::feature` of a leaf.
pub const LEAF: u32 = u32::MAX;

/// One node of a tree. Leaves have `feature == LEAF`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// Feature (slot) tested, or [`LEAF`].
    pub feature: u32,
    /// Numeric split: rows with `(x as f32) < threshold` go left.
    pub threshold: f32,
    /// Index of the left child (unused on a leaf).
    pub left: u32,
    /// Index of the right child (unused on a leaf).
    pub right: u32,
    /// Where missing values (NaN, or an unknown category code) go.
    pub default_left: bool,
    /// Categorical split: index into [`Tree::categories`]; categories in the set go left.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category_split: Option<u32>,
    /// Output of the node (learning rate applied); the prediction when it is a leaf.
    pub value: f64,
    /// Loss reduction of the split (0 on a leaf).
    pub gain: f64,
    /// Sum of hessians of the training rows reaching the node.
    pub cover: f64,
}

impl Node {
    /// A leaf with the given value and cover.
    pub fn leaf(value: f64, cover: f64) -> Node {
        Node {
            feature: LEAF,
            threshold: 0.0,
            left: 0,
            right: 0,
            default_left: false,
            category_split: None,
            value,
            gain: 0.0,
            cover,
        }
    }

    /// True on a leaf.
    #[inline]
    pub fn is_leaf(&self) -> bool {
        self.feature == LEAF
    }
}

/// The categories sent left by a categorical split.
///
/// A value is a category code when it is a whole number in `0..num_categories`; such a code
/// goes left when it is in the set. NaN goes the node's default direction, and so does any
/// other value (a code the training data never had, a negative or fractional value) unless
/// [`CategorySet::unknown_left`] says otherwise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategorySet {
    /// Number of categories of the feature; codes outside `0..num_categories` are unknown.
    pub num_categories: u32,
    /// Bit `c` set when category `c` goes left.
    pub bits: Vec<u64>,
    /// Where values that are neither NaN nor a code in `0..num_categories` go: `None` (the
    /// trees trained here) sends them the node's default direction, as missing values;
    /// `Some(left)` sends them left or right whatever the default. XGBoost sends every value
    /// outside its set one way and NaN possibly the other; an imported split keeps that here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unknown_left: Option<bool>,
}

impl CategorySet {
    /// An empty set for `num_categories` categories.
    pub fn new(num_categories: usize) -> Self {
        CategorySet {
            num_categories: num_categories as u32,
            bits: vec![0; num_categories.div_ceil(64)],
            unknown_left: None,
        }
    }

    /// Adds a category.
    pub fn insert(&mut self, c: usize) {
        self.bits[c / 64] |= 1 << (c % 64);
    }

    /// True when category `c` is in the set (false for any `c` past the bits).
    #[inline]
    pub fn contains(&self, c: usize) -> bool {
        self.bits
            .get(c / 64)
            .is_some_and(|w| w >> (c % 64) & 1 == 1)
    }

    /// True when feature value `v` goes left at a node with this set whose default direction
    /// (for NaN) is `default_left`.
    #[inline]
    pub fn goes_left(&self, v: f64, default_left: bool) -> bool {
        if v.is_nan() {
            return default_left;
        }
        match category_code(v, self.num_categories as usize) {
            Some(c) => self.contains(c),
            None => self.unknown_left.unwrap_or(default_left),
        }
    }

    /// True when category code `c` (a whole number, possibly past `num_categories`) goes left.
    #[inline]
    pub fn code_goes_left(&self, c: usize, default_left: bool) -> bool {
        if c < self.num_categories as usize {
            self.contains(c)
        } else {
            self.unknown_left.unwrap_or(default_left)
        }
    }

    /// The categories in the set, increasing.
    pub fn to_vec(&self) -> Vec<u32> {
        (0..self.num_categories as usize)
            .filter(|&c| self.contains(c))
            .map(|c| c as u32)
            .collect()
    }
}

/// A regression tree: node 0 is the root.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    /// The nodes; children come after their parent.
    pub nodes: Vec<Node>,
    /// Category sets of the categorical splits.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<CategorySet>,
}

impl Tree {
    /// Index of the leaf a row (its feature values in slot order) falls into.
    #[inline]
    pub fn leaf_index(&self, row: &[f64]) -> usize {
        let mut i = 0usize;
        loop {
            let n = &self.nodes[i];
            if n.is_leaf() {
                return i;
            }
            let v = row[n.feature as usize];
            let left = match n.category_split {
                None => {
                    let v = v as f32;
                    if v.is_nan() {
                        n.default_left
                    } else {
                        v < n.threshold
                    }
                }
                Some(s) => self.categories[s as usize].goes_left(v, n.default_left),
            };
            i = if left { n.left } else { n.right } as usize;
        }
    }

    /// The tree's output for a row.
    #[inline]
    pub fn predict_row(&self, row: &[f64]) -> f64 {
        self.nodes[self.leaf_index(row)].value
    }

    /// Number of leaves.
    pub fn num_leaves(&self) -> usize {
        self.nodes.iter().filter(|n| n.is_leaf()).count()
    }

    /// Depth of the deepest leaf (a single leaf has depth 0).
    pub fn depth(&self) -> usize {
        fn go(t: &Tree, i: usize) -> usize {
            let n = &t.nodes[i];
            if n.is_leaf() {
                0
            } else {
                1 + go(t, n.left as usize).max(go(t, n.right as usize))
            }
        }
        go(self, 0)
    }

    /// Largest feature index used, plus one (0 for a single leaf).
    pub fn num_features_used(&self) -> usize {
        self.nodes
            .iter()
            .filter(|n| !n.is_leaf())
            .map(|n| n.feature as usize + 1)
            .max()
            .unwrap_or(0)
    }
}
