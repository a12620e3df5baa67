//! What the fuzz targets in `fuzz/` run ([`fuzz`]). Not part of the public API: the module is
//! hidden from the docs and may change.

pub mod fuzz;
