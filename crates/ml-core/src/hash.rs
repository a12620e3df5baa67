//! The one fast hasher of the workspace: FxHash, from the `rustc-hash` crate (the hasher the
//! Rust compiler uses for its own tables).
//!
//! It is deterministic (no random seed, so a map built twice from the same keys hashes them
//! the same way) and much faster than the standard library's SipHash on the short integer and
//! string keys of category tables, item vocabularies and counters. It is not resistant to
//! hash flooding, which does not matter for tables built from the data at hand.
//!
//! No result of the library depends on the iteration order of these maps: every place that
//! iterates one sorts the entries or reduces them in an order-independent way first.
//!
//! ```
//! use ml_core::hash::FxHashMap;
//!
//! let mut counts: FxHashMap<&str, u64> = FxHashMap::default();
//! for word in ["a", "b", "a"] {
//!     *counts.entry(word).or_insert(0) += 1;
//! }
//! let mut sorted: Vec<_> = counts.into_iter().collect();
//! sorted.sort_unstable();
//! assert_eq!(sorted, vec![("a", 2), ("b", 1)]);
//! ```

pub use rustc_hash::{FxBuildHasher, FxHashMap, FxHashSet, FxHasher};

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::{BuildHasher, Hasher};

    #[test]
    fn hashing_is_deterministic_across_builders() {
        let a = FxBuildHasher.hash_one("category");
        let b = FxBuildHasher.hash_one("category");
        assert_eq!(a, b);
        let mut h = FxHasher::default();
        h.write_u64(7);
        let mut g = FxHasher::default();
        g.write_u64(7);
        assert_eq!(h.finish(), g.finish());
        assert_ne!(FxBuildHasher.hash_one(1u64), FxBuildHasher.hash_one(2u64));
    }

    #[test]
    fn set_and_map_work_as_std_collections() {
        let mut s: FxHashSet<i64> = FxHashSet::default();
        assert!(s.insert(3));
        assert!(!s.insert(3));
        let m: FxHashMap<i64, usize> = (0..100).map(|i| (i, i as usize * 2)).collect();
        assert_eq!(m.len(), 100);
        assert_eq!(m[&42], 84);
    }
}
