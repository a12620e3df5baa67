//! Market basket analysis (Instacart): SQL over the order tables, baskets of product names,
//! FP-growth, association rules with lift, and "frequently bought with" for a basket.
//!
//! ```text
//! cargo run --release --example market_basket            # shipped Instacart sample
//! cargo run --release --example market_basket -- --data examples/data/baskets/groceries_arules_9835.csv
//! cargo run --release --example market_basket -- --data DIR   # DIR/{orders,products,order_products*}.csv|parquet
//! ```
//!
//! The seed is the Databricks "Market Basket Analysis" notebook: orders by day of week and by
//! hour, products per department, baskets = the set of product names of an order, FP-growth
//! with min support 0.001 and min confidence 0, the most frequent itemsets of more than two
//! items, rules by confidence with lift, and the model's suggestions for a basket.
//!
//! A data path that is a file is read as one basket per line, items separated by commas (the
//! arules `Groceries` layout); the SQL part then only profiles the baskets.
//!
//! The code is `ml_examples::market_basket::run` in `crates/ml-examples/src/market_basket.rs`;
//! the tests call it too.

use std::process::ExitCode;

use ml_examples::market_basket::{run, Args};

fn main() -> ExitCode {
    let args = match ml_examples::parse_args::<Args>() {
        Ok(args) => args,
        Err(code) => return code,
    };
    ml_examples::finish(run(&args, &mut std::io::stdout()))
}
