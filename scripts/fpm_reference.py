#!/usr/bin/env python3
"""Reference figures for ml-fpm's tests, computed with pyfim and mlxtend (peers venv).

Run: ~/.cache/ml-peers/venv/bin/python scripts/fpm_reference.py
Prints the figures pasted into crates/ml-fpm/tests/peers.rs.
"""
import csv
import math
import os
from collections import Counter

import fim
import pandas as pd
from mlxtend.frequent_patterns import association_rules, fpgrowth
from mlxtend.preprocessing import TransactionEncoder

ROOT = os.path.join(os.path.dirname(__file__), "..", "examples", "data", "baskets")


def groceries():
    with open(os.path.join(ROOT, "groceries_arules_9835.csv")) as f:
        return [list(dict.fromkeys(r)) for r in csv.reader(f)]


def instacart():
    df = pd.read_csv(os.path.join(ROOT, "instacart", "order_products__prior_head10000.csv"))
    return [list(map(int, g["product_id"])) for _, g in df.groupby("order_id", sort=True)]


def summarize(name, tr, supp):
    n = len(tr)
    out = fim.fpgrowth(tr, target="s", supp=supp * 100.0, zmin=1, report="a")
    sizes = Counter(len(s) for s, _ in out)
    print(f"== {name}: transactions={n} min_support={supp} min_count={math.ceil(supp * n)}")
    print("itemsets", len(out), "by_size", sorted(sizes.items()))
    print("sum_freq", sum(c for _, c in out), "sum_len_freq", sum(len(s) * c for s, c in out))
    multi = sorted(((sorted(map(str, s)), c) for s, c in out if len(s) >= 2), key=lambda x: (-x[1], x[0]))
    for s, c in multi[:12]:
        print("  ", s, c)
    return out


def rules(name, tr, supp):
    te = TransactionEncoder()
    m = te.fit(tr).transform(tr)
    df = pd.DataFrame(m, columns=[str(c) for c in te.columns_])
    fi = fpgrowth(df, min_support=supp, use_colnames=True)
    r = association_rules(fi, metric="confidence", min_threshold=0.0)
    r = r[r["consequents"].apply(len) == 1]
    print(f"== mlxtend rules {name} @ {supp}: single-consequent rules={len(r)} "
          f"sum_conf={r['confidence'].sum():.12f} sum_lift={r['lift'].sum():.12f}")
    r = r.sort_values(["lift", "confidence"], ascending=False)
    for _, row in r.head(8).iterrows():
        print("  ", sorted(row["antecedents"]), list(row["consequents"]),
              f"{row['confidence']:.15f}", f"{row['lift']:.15f}", f"{row['support']:.15f}")


if __name__ == "__main__":
    g = groceries()
    summarize("groceries", g, 0.01)
    rules("groceries", g, 0.01)
    i = instacart()
    summarize("instacart_prior_head10000", i, 0.01)
