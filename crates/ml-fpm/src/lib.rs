//! ml-fpm (work in progress).
#![deny(missing_docs)]
