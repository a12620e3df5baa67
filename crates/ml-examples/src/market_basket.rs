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

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::common::{self, chart, title, CommonArgs, Report, Result, Sql, Timings};
use crate::Summary;
use arrow::array::{Array, ArrayRef, AsArray, Int64Array, ListBuilder, StringBuilder};
use arrow::datatypes::DataType;
use ml_core::{Dataset, Estimator, Transformer};
use ml_fpm::FPGrowth;
use serde_json::json;

/// The flags of `examples/market_basket.rs`.
#[derive(Debug, clap::Parser)]
#[command(about = "Market baskets: SQL, FP-growth, association rules, recommendations")]
pub struct Args {
    /// --data, --report-dir, --quick.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Minimum support of a frequent itemset (fraction of baskets).
    #[arg(long, default_value_t = 0.001)]
    pub min_support: f64,
    /// Minimum confidence of an association rule.
    #[arg(long, default_value_t = 0.0)]
    pub min_confidence: f64,
    /// A basket to complete, items separated by '|' (default: the antecedent of the most
    /// confident rule).
    #[arg(long)]
    pub basket: Option<String>,
    /// Longest itemset mined (mlxtend's max_len; default: no limit).
    #[arg(long)]
    pub max_len: Option<usize>,
    /// Most itemsets mined before the run stops with an error naming this limit.
    #[arg(long, default_value_t = ml_fpm::DEFAULT_MAX_ITEMSETS)]
    pub max_itemsets: usize,
}

/// The order tables of the Instacart layout found in a directory.
struct Tables {
    orders: Option<PathBuf>,
    products: PathBuf,
    departments: Option<PathBuf>,
    order_products: Vec<PathBuf>,
}

/// Runs the use case: progress and tables go to `out`, the report to `--report-dir`; returns the
/// key figures (the closing JSON line).
pub fn run(args: &Args, out: &mut dyn Write) -> Result<Summary> {
    let mut timings = Timings::new();
    let path = args.common.data_path("baskets/instacart");
    let sql = Sql::new()?;
    let mut report = Report::new("Market basket analysis");
    let (basket_data, source) = if path.is_file() {
        let b = timings.phase("read_baskets", || read_basket_lines(&path))?;
        let data = timings.phase("basket_table", || baskets_dataset(&b))?;
        (data, "groceries")
    } else {
        let tables = find_tables(&path)?;
        let data = timings.phase("sql_and_baskets", || {
            explore_instacart(out, &sql, &tables, &mut report)
        })?;
        (data, "instacart")
    };
    let (n_baskets, n_items, avg) = timings.phase("basket_stats", || basket_stats(&basket_data))?;
    writeln!(
        out,
        "\n{n_baskets} baskets, {n_items} distinct items, {avg:.2} items per basket"
    )?;
    report.paragraph(&format!(
        "Input: {} ({source}). {n_baskets} baskets, {n_items} distinct items, {avg:.2} items per basket.",
        path.display(),
    ));
    let m = mine(out, args, &sql, &basket_data, &mut timings, &mut report)?;

    let report_dir = args.common.report_dir("market_basket");
    let index = timings.phase("report", || report.write(&report_dir))?;
    writeln!(out, "\nreport: {}", index.display())?;
    Ok(Summary::for_example(
        "market_basket",
        json!({
            "source": source,
            "transactions": n_baskets,
            "items": n_items,
            "min_support": args.min_support,
            "min_count": m.min_count,
            "freq_itemsets": m.freq_itemsets,
            "itemsets_by_len": m.by_len,
            "rules": m.rules,
            "basket": m.basket,
            "suggestions": m.suggestions,
            "report": index.display().to_string(),
            "seconds": timings.to_json(),
            "peak_rss_mb": timings.peak_rss_json(),
        }),
    ))
}

/// What FP-growth found.
struct Mined {
    min_count: u64,
    freq_itemsets: usize,
    by_len: Vec<u64>,
    rules: usize,
    basket: Vec<String>,
    suggestions: Vec<String>,
}

/// FP-growth, the itemset and rule tables (queried in SQL), and suggestions for a basket.
fn mine(
    out: &mut dyn Write,
    args: &Args,
    sql: &Sql,
    baskets: &Dataset,
    timings: &mut Timings,
    report: &mut Report,
) -> Result<Mined> {
    let mut fp = FPGrowth::new()
        .with_min_support(args.min_support)
        .with_min_confidence(args.min_confidence)
        .with_max_itemsets(args.max_itemsets);
    fp.max_len = args.max_len;
    let bar = common::spinner("FP-growth");
    let model = timings.phase("fpgrowth", || fp.fit(baskets))?;
    bar.finish_and_clear();
    let n = model.num_transactions();
    let min_count = (args.min_support * n as f64 - 1e-9).ceil() as u64;
    title(out, "FP-growth")?;
    writeln!(
        out,
        "min support {} ({} of {} baskets): {} frequent itemsets",
        args.min_support,
        min_count,
        n,
        model.num_itemsets()
    )?;
    let itemsets = with_text(&model.freq_itemsets()?, "items")?;
    sql.register("itemsets", &itemsets)?;
    let by_len_table = sql.show(
        out,
        "Frequent itemsets by size",
        "SELECT size, count(*) AS itemsets FROM itemsets GROUP BY size ORDER BY size",
        20,
    )?;
    let sizes = common::sql::f64_values(&by_len_table, "size")?;
    let counts = common::sql::f64_values(&by_len_table, "itemsets")?;
    let max_len = sizes.iter().fold(0.0f64, |a, b| a.max(*b)) as usize;
    let mut by_len = vec![0u64; max_len + 1];
    for (s, c) in sizes.iter().zip(&counts) {
        by_len[*s as usize] = *c as u64;
    }
    let top = sql.show(
        out,
        "Most frequent itemsets with more than 2 items",
        "SELECT items_text AS itemset, freq FROM itemsets WHERE size > 2 \
         ORDER BY freq DESC, items_text LIMIT 10",
        10,
    )?;
    let rules = timings.phase("association_rules", || model.association_rules())?;
    let rules = with_text(&with_text(&rules, "antecedent")?, "consequent")?;
    sql.register("rules", &rules)?;
    writeln!(
        out,
        "{} association rules (min confidence {})",
        rules.num_rows(),
        args.min_confidence
    )?;
    let by_conf = sql.show(
        out,
        "Rules by confidence",
        "SELECT antecedent_text AS antecedent, consequent_text AS consequent, \
         round(confidence, 4) AS confidence, round(lift, 2) AS lift, round(support, 5) AS support \
         FROM rules ORDER BY confidence DESC, lift DESC, antecedent_text, consequent_text LIMIT 20",
        20,
    )?;

    let basket: Vec<String> = match &args.basket {
        Some(b) => b
            .split('|')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        None => by_conf
            .num_rows()
            .gt(&0)
            .then(|| common::data::strings(&by_conf, "antecedent"))
            .transpose()?
            .and_then(|v| v.into_iter().next().flatten())
            .map(|s| s.split(" | ").map(str::to_string).collect())
            .unwrap_or_default(),
    };
    let suggestions = if basket.is_empty() {
        Vec::new()
    } else {
        let one = baskets_dataset(std::slice::from_ref(&basket))?;
        let scored = model.transform(&one)?;
        let pred = with_text(&scored, "prediction")?;
        common::data::strings(&pred, "prediction_text")?
            .into_iter()
            .next()
            .flatten()
            .map(|s| {
                s.split(" | ")
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    writeln!(out, "\nFrequently bought with [{}]:", basket.join(", "))?;
    for s in suggestions.iter().take(10) {
        writeln!(out, "  {s}")?;
    }
    if suggestions.len() > 10 {
        writeln!(out, "  ... {} suggestions in all", suggestions.len())?;
    }

    report.heading("FP-growth");
    report.paragraph(&format!(
        "min support {} ({} of {} baskets), min confidence {}: {} frequent itemsets, {} association rules.",
        args.min_support,
        min_count,
        n,
        args.min_confidence,
        model.num_itemsets(),
        rules.num_rows()
    ));
    report.table("Frequent itemsets by size", &by_len_table, 20)?;
    report.svg(&chart::bar_chart(
        "Frequent itemsets by size",
        "itemsets",
        &sizes.iter().map(|s| format!("{s}")).collect::<Vec<_>>(),
        &counts,
    )?);
    report.table("Most frequent itemsets with more than 2 items", &top, 10)?;
    report.table("Association rules by confidence (with lift)", &by_conf, 20)?;
    report.heading("Frequently bought with");
    report.paragraph(&format!("Basket: {}", basket.join(", ")));
    let rows: Vec<Vec<String>> = suggestions
        .iter()
        .take(20)
        .enumerate()
        .map(|(i, s)| vec![(i + 1).to_string(), s.clone()])
        .collect();
    report.string_table(
        "Suggestions (rules in order of confidence)",
        &["rank", "item"],
        &rows,
    );
    Ok(Mined {
        min_count,
        freq_itemsets: model.num_itemsets(),
        by_len,
        rules: rules.num_rows(),
        basket,
        suggestions,
    })
}

/// Adds `<col>_text` (the list's items joined with " | ") and, for `items`, `size`.
fn with_text(data: &Dataset, col: &str) -> Result<Dataset> {
    let list = data.column(col)?;
    let list = list
        .as_list_opt::<i32>()
        .ok_or_else(|| format!("column '{col}' is not a list"))?;
    let fmt = arrow::util::display::ArrayFormatter::try_new(
        list.values().as_ref(),
        &arrow::util::display::FormatOptions::default(),
    )?;
    let offsets = list.value_offsets();
    let mut text = StringBuilder::new();
    let mut size = Vec::with_capacity(list.len());
    for i in 0..list.len() {
        let (a, b) = (offsets[i] as usize, offsets[i + 1] as usize);
        let parts: Vec<String> = (a..b).map(|j| fmt.value(j).to_string()).collect();
        size.push(parts.len() as i64);
        text.append_value(parts.join(" | "));
    }
    let mut out = data.with_column(&format!("{col}_text"), Arc::new(text.finish()) as ArrayRef)?;
    if col == "items" {
        out = out.with_column("size", Arc::new(Int64Array::from(size)) as ArrayRef)?;
    }
    Ok(out)
}

/// Locates the Instacart tables (CSV or Parquet) in a directory.
fn find_tables(dir: &Path) -> Result<Tables> {
    let find = |stem: &str| -> Option<PathBuf> {
        ["parquet", "csv"]
            .iter()
            .map(|ext| dir.join(format!("{stem}.{ext}")))
            .find(|p| p.exists())
    };
    let mut orders = find("orders");
    if orders.is_none() {
        orders = common::files_with_suffix(dir, ".csv")?
            .into_iter()
            .find(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("orders"))
            });
    }
    let products = find("products")
        .ok_or_else(|| format!("no products.csv or products.parquet in '{}'", dir.display()))?;
    let mut order_products: Vec<PathBuf> = Vec::new();
    for ext in [".parquet", ".csv"] {
        if order_products.is_empty() {
            order_products = common::files_with_suffix(dir, ext)?
                .into_iter()
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("order_products"))
                })
                .collect();
        }
    }
    if order_products.is_empty() {
        return Err(format!("no order_products*.csv|parquet in '{}'", dir.display()).into());
    }
    Ok(Tables {
        orders,
        products,
        departments: find("departments"),
        order_products,
    })
}

/// The notebook's SQL, then baskets = distinct product names per order (ordered by order id),
/// as a basket table (see [`baskets_dataset`]).
fn explore_instacart(
    out: &mut dyn Write,
    sql: &Sql,
    t: &Tables,
    report: &mut Report,
) -> Result<Dataset> {
    title(out, "Exploration (SQL through DataFusion)")?;
    report.heading("Exploration (SQL through DataFusion)");
    let read = |p: &Path| {
        Ok::<_, crate::BoxError>(ml_core::io::read_table(
            p,
            &ml_core::io::ReadOptions::new(),
        )?)
    };
    sql.register("products", &read(&t.products)?)?;
    let parts = t
        .order_products
        .iter()
        .map(|p| {
            read(p).and_then(|d| {
                check_order_ids(&d, p)?;
                Ok(d.select(&["order_id", "product_id"])?)
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let order_products = Dataset::concat(&parts)?;
    writeln!(
        out,
        "order lines: {} from {}",
        order_products.num_rows(),
        t.order_products
            .iter()
            .map(|p| p
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned())
            .collect::<Vec<_>>()
            .join(", ")
    )?;
    sql.register("order_products", &order_products)?;
    if let Some(orders) = &t.orders {
        sql.register("orders", &read(orders)?)?;
        let by_day = sql.show(
            out,
            "Orders by day of week",
            "SELECT order_dow, CASE order_dow WHEN 0 THEN 'Sunday' WHEN 1 THEN 'Monday' \
             WHEN 2 THEN 'Tuesday' WHEN 3 THEN 'Wednesday' WHEN 4 THEN 'Thursday' \
             WHEN 5 THEN 'Friday' WHEN 6 THEN 'Saturday' END AS day, count(*) AS orders \
             FROM orders GROUP BY order_dow ORDER BY order_dow",
            7,
        )?;
        report.table("Orders by day of week", &by_day, 7)?;
        report.svg(&chart::bar_chart(
            "Orders by day of week",
            "orders",
            &common::sql::string_values(&by_day, "day")?,
            &common::sql::f64_values(&by_day, "orders")?,
        )?);
        let by_hour = sql.show(
            out,
            "Orders by hour of day",
            "SELECT order_hour_of_day AS hour, count(*) AS orders FROM orders \
             GROUP BY order_hour_of_day ORDER BY order_hour_of_day",
            24,
        )?;
        report.table("Orders by hour of day", &by_hour, 24)?;
        let hours = common::sql::f64_values(&by_hour, "hour")?;
        let counts = common::sql::f64_values(&by_hour, "orders")?;
        report.svg(&chart::line_chart(
            "Orders by hour of day",
            "hour of day",
            "orders",
            &[chart::Series {
                name: String::new(),
                points: hours.into_iter().zip(counts).collect(),
            }],
        )?);
    }
    let dept_query = if let Some(d) = &t.departments {
        sql.register("departments", &read(d)?)?;
        "SELECT d.department, count(*) AS products FROM products p \
         JOIN departments d ON p.department_id = d.department_id \
         GROUP BY d.department ORDER BY products DESC, d.department LIMIT 10"
    } else {
        "SELECT CAST(department_id AS VARCHAR) AS department, count(*) AS products FROM products \
         GROUP BY department_id ORDER BY products DESC, department_id LIMIT 10"
    };
    let by_dept = sql.show(out, "Products per department (top 10)", dept_query, 10)?;
    report.table("Products per department (top 10)", &by_dept, 10)?;
    report.svg(&chart::bar_chart(
        "Products per department (top 10)",
        "products",
        &common::sql::string_values(&by_dept, "department")?,
        &common::sql::f64_values(&by_dept, "products")?,
    )?);

    let lines = sql.query(
        "SELECT DISTINCT op.order_id, p.product_name FROM order_products op \
         JOIN products p ON op.product_id = p.product_id \
         ORDER BY op.order_id, p.product_name",
    )?;
    // The (order, name) rows, ordered by order, straight into the basket column (no string
    // per item: 35M order lines at Instacart's size).
    let ids = common::sql::f64_values(&lines, "order_id")?;
    let names = arrow::compute::cast(lines.column("product_name")?, &DataType::Utf8)?;
    drop(lines);
    let names = names.as_string::<i32>();
    let mut builder = ListBuilder::new(StringBuilder::new());
    let mut last: Option<f64> = None;
    for (id, name) in ids.iter().zip(names.iter()) {
        let Some(name) = name else { continue };
        if last != Some(*id) {
            if last.is_some() {
                builder.append(true);
            }
            last = Some(*id);
        }
        builder.values().append_value(name);
    }
    if last.is_some() {
        builder.append(true);
    }
    let items: ArrayRef = Arc::new(builder.finish());
    Ok(Dataset::from_columns(vec![("items", items)])?)
}

/// The number of baskets, of distinct items and the mean basket size of a basket table (an
/// `items` column of string lists).
fn basket_stats(data: &Dataset) -> Result<(usize, usize, f64)> {
    let col = data.column("items")?;
    let list = col
        .as_list_opt::<i32>()
        .ok_or("the basket table's items column is not a list")?;
    let values = arrow::compute::cast(list.values(), &DataType::Utf8)?;
    let values = values.as_string::<i32>();
    let n_items = values
        .iter()
        .flatten()
        .collect::<std::collections::HashSet<&str>>()
        .len();
    let n = list.len();
    Ok((n, n_items, values.len() as f64 / n.max(1) as f64))
}

/// Order ids must be whole numbers (or strings): a fractional id (1.2 and 1.7 would be two
/// orders, or one once rounded) or a missing one is an error naming the file and row, and so is
/// a file without rows.
fn check_order_ids(data: &Dataset, path: &Path) -> Result<()> {
    if data.num_rows() == 0 {
        return Err(format!("'{}' has no order lines (only a header)", path.display()).into());
    }
    let col = data.column("order_id")?;
    if !col.data_type().is_numeric() && !col.data_type().is_null() {
        return Ok(());
    }
    let ids =
        ml_core::dataset::column_to_f64(data, "order_id", ml_core::dataset::NullPolicy::Keep)?;
    for (row, id) in ids.iter().enumerate() {
        let problem = match id {
            None => "is missing".to_string(),
            Some(v) if !(v.is_finite() && v.fract() == 0.0) => {
                format!("{v} is not a whole number")
            }
            Some(_) => continue,
        };
        return Err(ml_core::MlError::value(
            "order_id",
            row,
            format!("the order id {problem} (in '{}')", path.display()),
        )
        .into());
    }
    Ok(())
}

/// One basket per line, items separated by commas; duplicates within a line are dropped.
fn read_basket_lines(path: &Path) -> Result<Vec<Vec<String>>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read baskets from '{}': {e}", path.display()))?;
    Ok(text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let set: BTreeSet<String> = l
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect();
            set.into_iter().collect()
        })
        .collect())
}

/// The baskets as a dataset with one `items` column (List<Utf8>), as FP-growth reads it.
fn baskets_dataset(baskets: &[Vec<String>]) -> Result<Dataset> {
    let mut builder = ListBuilder::new(StringBuilder::new());
    for b in baskets {
        for item in b {
            builder.values().append_value(item);
        }
        builder.append(true);
    }
    let items: ArrayRef = Arc::new(builder.finish());
    Ok(Dataset::from_columns(vec![("items", items)])?)
}
