//! Feature stages with Spark MLlib's parameters and defaults.
