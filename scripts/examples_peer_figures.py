#!/usr/bin/env python3
"""Independent figures for the example integration tests (crates/ml-examples/tests/*.rs).

Run with the peers venv: ~/.cache/ml-peers/venv/bin/python scripts/examples_peer_figures.py
Prints one JSON line per figure. Uses the sample data shipped under examples/data/.

* baskets: pyfim fpgrowth(target='s', supp=0.1 (percent), zmin=1) on the same baskets the
  market_basket example builds: instacart = distinct product names per order over all
  order_products*.csv joined with products.csv; groceries = distinct items per line.
* loans / clicks: the example's split reproduced exactly (ml_core::dataset::unit_uniform,
  SplitMix64 keyed by (seed, row), as Dataset::random_split), the same features, XGBoost and
  scikit-learn HistGradientBoosting AUC on the test part.
"""
import glob
import json
import os
import sys

import numpy as np
import pandas as pd

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
DATA = os.path.join(ROOT, "examples", "data")
M64 = (1 << 64) - 1


def unit_uniform(seed, counter):
    z = (seed * 0x9E3779B97F4A7C15 + counter + 0x9E3779B97F4A7C15) & M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    z ^= z >> 31
    return (z >> 11) / float(1 << 53)


def split_mask(n, weights, seed):
    """Index of the part each row falls into, as Dataset::random_split."""
    bounds = np.cumsum(np.asarray(weights, float) / sum(weights))
    u = np.array([unit_uniform(seed, i) for i in range(n)])
    part = np.searchsorted(bounds, u, side="right")
    return np.minimum(part, len(weights) - 1)


def emit(**kw):
    print(json.dumps(kw), flush=True)


def baskets():
    import fim
    d = os.path.join(DATA, "baskets", "instacart")
    op = pd.concat([pd.read_csv(p, usecols=["order_id", "product_id"])
                    for p in sorted(glob.glob(os.path.join(d, "order_products*.csv")))])
    products = pd.read_csv(os.path.join(d, "products.csv"))
    lines = op.merge(products[["product_id", "product_name"]], on="product_id")
    tr = [sorted(set(g)) for _, g in lines.groupby("order_id")["product_name"]]
    groceries = []
    with open(os.path.join(DATA, "baskets", "groceries_arules_9835.csv")) as f:
        for line in f:
            items = sorted({s.strip() for s in line.split(",") if s.strip()})
            if items:
                groceries.append(items)
    for name, t in [("instacart", tr), ("groceries", groceries)]:
        out = fim.fpgrowth(t, target="s", supp=0.1, zmin=1, report="a")
        sizes = np.bincount([len(s) for s, _ in out]).tolist()
        rules = sum(len(s) for s, _ in out if len(s) >= 2)
        emit(figure="pyfim", data=name, transactions=len(t), freq_itemsets=len(out),
             itemsets_by_len=sizes, rules_minconf0=rules, fim=fim.version if hasattr(fim, "version") else "")


def auc_peers(X, y, part, name, cat_cols=(), **xgb_params):
    import xgboost as xgb
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    tr, te = part == 0, part == 1
    clf = xgb.XGBClassifier(tree_method="hist", nthread=2, **xgb_params)
    clf.fit(X[tr], y[tr])
    a_x = roc_auc_score(y[te], clf.predict_proba(X[te])[:, 1])
    hgb = HistGradientBoostingClassifier(max_depth=xgb_params.get("max_depth"),
                                         learning_rate=xgb_params.get("learning_rate", 0.3),
                                         max_iter=xgb_params.get("n_estimators", 10),
                                         early_stopping=False, random_state=0)
    hgb.fit(X[tr], y[tr])
    a_h = roc_auc_score(y[te], hgb.predict_proba(X[te])[:, 1])
    emit(figure="auc", data=name, train=int(tr.sum()), test=int(te.sum()), xgboost=round(a_x, 4),
         sklearn_hgb=round(a_h, 4), params=xgb_params, xgboost_version=xgb.__version__)


def loans():
    df = pd.read_csv(os.path.join(DATA, "loans", "loanstats3a_2007_2011_16cols.csv"))
    df = df[df.loan_status.isin(["Default", "Charged Off", "Fully Paid"])].reset_index(drop=True)
    y = (df.loan_status != "Fully Paid").astype(float).values
    df["term"] = df.term.str.extract(r"(\d+)")[0].astype(float)
    emp = df.emp_length.fillna("n/a")
    df["emp_length"] = np.where(emp.str.startswith("<"), 0.0,
                                pd.to_numeric(emp.str.extract(r"(\d+)")[0], errors="coerce"))
    df["revol_util"] = pd.to_numeric(df.revol_util.str.rstrip("%"), errors="coerce")
    part = split_mask(len(df), [0.8, 0.2], 42)
    nums = ["loan_amnt", "term", "emp_length", "annual_inc", "delinq_2yrs", "inq_last_6mths",
            "open_acc", "pub_rec", "revol_bal", "revol_util", "total_acc"]
    cats = ["home_ownership", "addr_state", "verification_status"]
    X = df[nums].copy()
    tr = part == 0
    for c in nums:  # Imputer(median) fitted on the training part
        X[c] = X[c].fillna(X.loc[tr, c].median())
    X = pd.concat([X] + [pd.get_dummies(df[c], prefix=c, dtype=float) for c in cats], axis=1)
    auc_peers(X.values.astype(float), y, part, "loans_16cols", n_estimators=5, max_depth=6,
              learning_rate=0.3)
    # Money stand-in of the example (no total_pymnt / funded_amnt / int_rate in this file): a bad
    # loan loses loan_amnt; a good one earns amortised interest at 12 % a year over its term.
    r = 0.12 / 12
    factor = r / (1 - (1 + r) ** (-df.term.fillna(36))) * df.term.fillna(36) - 1
    net = np.where(y > 0.5, -df.loan_amnt, df.loan_amnt * factor)
    emit(figure="net_test_total", data="loans_16cols", test=int((part == 1).sum()),
         net_test_total=round(float(net[part == 1].sum()), 2), bad=int(y.sum()))
    full = pd.read_csv(os.path.join(DATA, "loans", "lending_club_fullschema_sample1000.csv"),
                       low_memory=False)
    full = full[full.loan_status.isin(["Default", "Charged Off", "Fully Paid"])].reset_index(drop=True)
    part = split_mask(len(full), [0.8, 0.2], 42)
    net = (full.total_pymnt - full.funded_amnt).values
    emit(figure="net_test_total", data="loans_fullschema_sample1000", rows=len(full),
         test=int((part == 1).sum()), net_test_total=round(float(net[part == 1].sum()), 2))


def clicks():
    d = os.path.join(DATA, "clicks")
    df = pd.concat([pd.read_csv(p, dtype={"id": str}) for p in
                    sorted(glob.glob(os.path.join(d, "avazu_*.csv")))], ignore_index=True)
    df["hour_of_day"] = df.hour % 100
    y = df.click.values.astype(float)
    strings = [c for c in df.columns if df[c].dtype == object and c != "id"]
    low = [c for c in strings if df[c].nunique() <= 70]
    ints = [c for c in df.columns if df[c].dtype != object and c not in ("id", "click", "hour")]
    X = df[ints].astype(float).copy()
    for c in low:
        X[c] = pd.Categorical(df[c]).codes.astype(float)
    part = split_mask(len(df), [0.7, 0.3], 42)
    emit(figure="clicks_columns", indexed=low, numeric=ints)
    auc_peers(X.values, y, part, "clicks", n_estimators=10, max_depth=10, learning_rate=0.3)


if __name__ == "__main__":
    which = sys.argv[1:] or ["baskets", "loans", "clicks"]
    for w in which:
        globals()[w]()
