//! # ml-fpm
//!
//! Frequent pattern mining on Arrow datasets, with Spark MLlib's parameters and semantics:
//!
//! * [`FPGrowth`] / [`FPGrowthModel`]: frequent itemsets of baskets (a list column of strings or
//!   integers), association rules (confidence, lift, support) and basket recommendations.
//! * [`PrefixSpan`]: frequent sequential patterns of sequences of itemsets.
//! * [`group_baskets`]: baskets from a table of (basket, item) rows, as order lines are stored.
//! * [`pfp`]: the pieces of parallel FP-growth (Spark's PFP) that each task of a cluster runs:
//!   conditional transactions per item group, and one FP tree mined per group.
//!
//! FP-growth is built for speed: items are interned to dense ranks by descending frequency, the
//! transactions are radix-sorted and copied into lexicographic order, the global FP tree is a
//! header table of nodes referencing their paths in those sorted transactions (contiguous reads,
//! no parent pointers to chase), conditional trees reuse per-depth arenas (no allocation per
//! node), single-path trees are enumerated directly, and the header table is mined in parallel
//! with rayon and merged in a fixed order (identical output at any thread count). [`FPGrowth::stream_itemsets`] hands itemsets out in batches, so memory is bounded
//! by the tree.
//!
//! ```
//! use std::sync::Arc;
//! use arrow::array::{ArrayRef, ListBuilder, StringBuilder};
//! use ml_core::{Dataset, Estimator};
//! use ml_fpm::FPGrowth;
//!
//! let mut b = ListBuilder::new(StringBuilder::new());
//! for basket in [vec!["bread", "milk"], vec!["bread", "milk", "eggs"], vec!["eggs"]] {
//!     for item in basket {
//!         b.values().append_value(item);
//!     }
//!     b.append(true);
//! }
//! let data = Dataset::from_columns(vec![("items", Arc::new(b.finish()) as ArrayRef)]).unwrap();
//! let model = FPGrowth::new().with_min_support(0.6).fit(&data).unwrap();
//! // {bread}, {milk}, {eggs}, {bread, milk}
//! assert_eq!(model.freq_itemsets().unwrap().num_rows(), 4);
//! ```
#![deny(missing_docs)]

mod baskets;
mod encode;
mod fpgrowth;
mod order;
pub mod pfp;
mod prefixspan;
mod tree;

pub use baskets::group_baskets;
pub use encode::ItemVocab;
pub use fpgrowth::{FPGrowth, FPGrowthModel, FitTimings, DEFAULT_MAX_ITEMSETS};
pub use prefixspan::{PrefixSpan, DEFAULT_MAX_PATTERNS};
