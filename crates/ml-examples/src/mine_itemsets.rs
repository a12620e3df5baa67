//! Mines frequent itemsets and association rules from a file of baskets with FP-growth.
//!
//! ```text
//! cargo run --release --example mine_itemsets -- --baskets PATH --min-support S \
//!     [--min-confidence C] [--threads T] [--itemsets-out PATH.csv] [--rules-out PATH.csv]
//!     [--max-len N] [--max-itemsets N]
//! ```
//!
//! A run that would find more than `--max-itemsets` (10,000,000) itemsets stops with an error
//! naming the limit (raise it, raise the support, or cap `--max-len`). The output files are
//! written together ([`OutputFiles`]): a failure leaves both as they were.
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

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use arrow::array::{AsArray, ListArray};
use arrow::datatypes::{DataType, Int64Type};
use ml_core::io::{check_output_path, read_table, OutputFiles, ReadOptions};
use ml_core::{Dataset, MlError};
use ml_fpm::{group_baskets, FPGrowth};

use crate::common::Result;
use crate::Summary;

/// The flags of `examples/mine_itemsets.rs`.
#[derive(clap::Parser, Debug)]
#[command(about = "Frequent itemsets and association rules with FP-growth")]
pub struct Args {
    /// Baskets: CSV/Parquet with one row per (order_id, product_id), or Parquet with a list column.
    #[arg(long)]
    pub baskets: PathBuf,
    /// Minimum support, a fraction of the baskets in (0, 1].
    #[arg(long)]
    pub min_support: f64,
    /// Minimum confidence of the rules, in [0, 1].
    #[arg(long, default_value_t = 0.0)]
    pub min_confidence: f64,
    /// Threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Write the frequent itemsets (items, freq) to this CSV file.
    #[arg(long)]
    pub itemsets_out: Option<PathBuf>,
    /// Write the association rules to this CSV file.
    #[arg(long)]
    pub rules_out: Option<PathBuf>,
    /// Longest itemset mined (mlxtend's max_len; default: no limit).
    #[arg(long)]
    pub max_len: Option<usize>,
    /// Most itemsets mined before the run stops with an error naming this limit
    /// (FP-growth's max_itemsets).
    #[arg(long, default_value_t = ml_fpm::DEFAULT_MAX_ITEMSETS)]
    pub max_itemsets: usize,
}

/// The baskets: the `items` list column (or the one list column) when the file has one, else
/// the (order_id, product_id) rows grouped into baskets by [`group_baskets`].
fn baskets(data: &Dataset) -> ml_core::Result<Dataset> {
    let list_col = if data.has_column("items") {
        Some("items".to_string())
    } else {
        data.schema()
            .fields()
            .iter()
            .find(|f| matches!(f.data_type(), DataType::List(_) | DataType::LargeList(_)))
            .map(|f| f.name().clone())
    };
    if let Some(c) = list_col {
        return Dataset::from_columns(vec![("items", data.column(&c)?.clone())]);
    }
    let item_col = ["product_id", "item", "item_id"]
        .into_iter()
        .find(|c| data.has_column(c))
        .ok_or_else(|| MlError::data("expected a 'product_id' (or 'item') column"))?;
    group_baskets(data, "order_id", item_col)?.select(&["items"])
}

fn list_text(list: &ListArray, row: usize) -> String {
    let v = list.value(row);
    let parts: Vec<String> = match v.data_type() {
        DataType::Utf8 => v
            .as_string::<i32>()
            .iter()
            .flatten()
            .map(String::from)
            .collect(),
        _ => v
            .as_primitive::<Int64Type>()
            .values()
            .iter()
            .map(|x| x.to_string())
            .collect(),
    };
    format!("{{{}}}", parts.join(", "))
}

/// Mines the baskets, writing the summary tables to `out`; returns `{"transactions", "items",
/// "itemsets", "rules", "load_s", "mine_s", "rules_s"}`.
pub fn run(args: &Args, out: &mut dyn Write) -> Result<Summary> {
    for p in args.itemsets_out.iter().chain(&args.rules_out) {
        check_output_path(p)?;
    }
    let t = Instant::now();
    let raw = read_table(&args.baskets, &ReadOptions::new())?;
    let data = baskets(&raw).map_err(|e| match e {
        MlError::InvalidData(m) => MlError::data(format!(
            "'{}': {m}; its columns: {}",
            args.baskets.display(),
            raw.column_names().join(", ")
        )),
        MlError::InvalidValue {
            column,
            row,
            message,
        } => MlError::value(
            column,
            row,
            format!("{message} (in '{}')", args.baskets.display()),
        ),
        other => other,
    })?;
    drop(raw);
    let load_s = t.elapsed().as_secs_f64();
    writeln!(
        out,
        "loaded {} baskets from {} in {load_s:.3} s",
        data.num_rows(),
        args.baskets.display()
    )?;

    let mut fp = FPGrowth::new()
        .with_min_support(args.min_support)
        .with_min_confidence(args.min_confidence)
        .with_max_itemsets(args.max_itemsets);
    fp.max_len = args.max_len;
    fp.n_threads = args.threads.map(crate::common::check_threads).transpose()?;
    let t = Instant::now();
    let (model, timings) = fp.fit_timed(&data)?;
    let mine_s = t.elapsed().as_secs_f64();
    writeln!(
        out,
        "{} frequent itemsets over {} frequent items in {mine_s:.3} s \
         (encode {:.3} s, tree {:.3} s, mine {:.3} s)",
        model.num_itemsets(),
        model.num_items(),
        timings.encode_s,
        timings.tree_s,
        timings.mine_s
    )?;

    let t = Instant::now();
    let rules = model.association_rules()?;
    let rules_s = t.elapsed().as_secs_f64();
    writeln!(out, "{} rules in {rules_s:.3} s", rules.num_rows())?;

    // The most frequent itemsets of more than two items.
    let sets = model.freq_itemsets()?;
    let items = sets.column("items")?.as_list::<i32>().clone();
    let freq = sets.i64_column("freq")?;
    let mut big: Vec<usize> = (0..sets.num_rows())
        .filter(|&k| items.value_length(k) > 2)
        .collect();
    big.sort_by_key(|&k| (-freq.value(k), k));
    writeln!(out, "most frequent itemsets of more than two items:")?;
    for &k in big.iter().take(10) {
        writeln!(out, "  {:>8}  {}", freq.value(k), list_text(&items, k))?;
    }
    // Rules by confidence.
    let ant = rules.column("antecedent")?.as_list::<i32>().clone();
    let cons = rules.column("consequent")?.as_list::<i32>().clone();
    let conf = rules.f64_column("confidence")?;
    let lift = rules.f64_column("lift")?;
    let mut order: Vec<usize> = (0..rules.num_rows()).collect();
    order.sort_by(|&a, &b| conf.value(b).total_cmp(&conf.value(a)).then(a.cmp(&b)));
    writeln!(out, "rules with the highest confidence:")?;
    for &k in order.iter().take(10) {
        writeln!(
            out,
            "  {} => {}  confidence {:.3}  lift {:.2}",
            list_text(&ant, k),
            list_text(&cons, k),
            conf.value(k),
            lift.value(k)
        )?;
    }

    let mut files = OutputFiles::new();
    if let Some(p) = &args.itemsets_out {
        files.csv(&sets, p)?;
    }
    if let Some(p) = &args.rules_out {
        files.csv(&rules, p)?;
    }
    files.commit()?;
    for p in args.itemsets_out.iter().chain(&args.rules_out) {
        writeln!(out, "wrote {}", p.display())?;
    }
    Ok(Summary::new(serde_json::json!({
        "transactions": model.num_transactions(),
        "items": model.num_distinct_items(),
        "itemsets": model.num_itemsets(),
        "rules": rules.num_rows(),
        "load_s": (load_s * 1e3).round() / 1e3,
        "mine_s": (mine_s * 1e3).round() / 1e3,
        "rules_s": (rules_s * 1e3).round() / 1e3,
    })))
}
