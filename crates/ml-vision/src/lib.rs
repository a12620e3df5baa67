//! ml-vision (work in progress).
#![deny(missing_docs)]
