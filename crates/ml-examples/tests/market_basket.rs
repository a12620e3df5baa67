//! Runs the market_basket use case on the shipped baskets and compares the itemset and rule
//! counts with pyfim's on the same baskets (`scripts/examples_peer_figures.py baskets` with the
//! peers venv: Python 3.11.7, pyfim `fim.fpgrowth(target="s", supp=0.1, zmin=1)`).

mod support;
use ml_examples::market_basket;
use support::{check_report, num, repo_path, run_example};

fn by_len(run: &support::Run) -> Vec<u64> {
    run.summary["itemsets_by_len"]
        .as_array()
        .expect("itemsets_by_len")
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect()
}

#[test]
fn market_basket_on_instacart_finds_pyfims_itemsets() {
    let run = run_example("market_basket", market_basket::run, &[]);
    // 11,143 orders (train head + prior head), min count ceil(0.001 * 11143) = 12.
    assert_eq!(num(&run, "/transactions"), 11143.0);
    assert_eq!(num(&run, "/min_count"), 12.0);
    // pyfim: 4,649 frequent itemsets, by size [0, 1899, 2294, 447, 9]; rules at min confidence
    // 0 = sum of sizes of itemsets with 2+ items = 5,965.
    assert_eq!(num(&run, "/freq_itemsets"), 4649.0);
    assert_eq!(by_len(&run), vec![0, 1899, 2294, 447, 9]);
    assert_eq!(num(&run, "/rules"), 5965.0);
    assert!(!run.summary["suggestions"].as_array().unwrap().is_empty());
    check_report(
        &run,
        "Market basket analysis",
        &[
            "Orders by day of week",
            "Sunday",
            "Products per department",
            "Association rules by confidence",
        ],
    );
}

#[test]
fn market_basket_on_groceries_finds_pyfims_itemsets() {
    let run = run_example(
        "market_basket",
        market_basket::run,
        &[
            "--data",
            &repo_path("examples/data/baskets/groceries_arules_9835.csv"),
        ],
    );
    assert_eq!(num(&run, "/transactions"), 9835.0);
    // pyfim: 13,492 itemsets, by size [0, 157, 2981, 6831, 3137, 376, 10]; 40,943 rules.
    assert_eq!(num(&run, "/freq_itemsets"), 13492.0);
    assert_eq!(by_len(&run), vec![0, 157, 2981, 6831, 3137, 376, 10]);
    assert_eq!(num(&run, "/rules"), 40943.0);
    check_report(&run, "Market basket analysis", &["Frequently bought with"]);
}
