//! Benchmark placeholder: replaced by the issue that implements this kernel.
fn main() {}
