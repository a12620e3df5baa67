//! ml-eval (work in progress).
#![deny(missing_docs)]
