//! ml-tree (work in progress).
#![deny(missing_docs)]
