//! Mines frequent itemsets and association rules from a file of baskets with FP-growth.
//!
//! ```text
//! cargo run --release --example mine_itemsets -- --baskets PATH --min-support S \
//!     [--min-confidence C] [--threads T] [--itemsets-out PATH.csv] [--rules-out PATH.csv]
//! ```
//!
//! PATH is a CSV or Parquet file (or a directory of Parquet part files) with one row per
//! (order_id, item), as Instacart's `order_products*.csv` and the peers harness's
//! `baskets/order_products.*` are (columns `order_id`, `product_id`), or a Parquet file with a
//! list column (`items`, or the first list column). `--min-confidence` defaults to 0 (every rule),
//! `--threads` to all cores. The summary shows the most frequent itemsets of more than two items
//! and the rules of highest confidence; the last line of output is one JSON object:
//! `{"transactions", "items", "itemsets", "rules", "load_s", "mine_s", "rules_s"}` ("items":
//! distinct items in the baskets)
//! (`mine_s` covers checking, recoding, tree building and mining; `rules_s` the rule derivation).
//!
//! Try it on the shipped sample:
//! `cargo run --release --example mine_itemsets -- --baskets
//! examples/data/baskets/instacart/order_products__train_head.csv --min-support 0.002`
//!
//! The code is `ml_examples::mine_itemsets::run` in `crates/ml-examples/src/mine_itemsets.rs`;
//! the tests call it too.

use std::process::ExitCode;

use ml_examples::mine_itemsets::{run, Args};

fn main() -> ExitCode {
    let args = match ml_examples::parse_args::<Args>() {
        Ok(args) => args,
        Err(code) => return code,
    };
    ml_examples::finish(run(&args, &mut std::io::stdout()))
}
