#!/usr/bin/env python3
"""Reference figures for ml_core::linear::LogisticRegression from Spark MLlib and scikit-learn.

Writes a small fixture (dense features from the peers generator `lr_peers.make_data`, plus a
3-class label and an instance-weight column) and prints, as one JSON document, what Spark's
LogisticRegression and scikit-learn's saga solver give on it: objective history, coefficients
and intercepts (original feature scale), for each case listed in CASES.

Run with the peers venv (pyspark 4.3.0, scikit-learn):

    ~/.cache/ml-peers/venv/bin/python scripts/logreg_reference.py \
        --write crates/ml-core/tests/data/logreg_fixture.parquet > /tmp/logreg_reference.json

scikit-learn is run on features standardized with the *sample* standard deviation (ddof=1),
which is what Spark's Summarizer uses, so both solve the same problem:
    (1/n) sum_i logloss_i + reg * ((1 - a)/2 ||b||^2 + a ||b||_1),  b on the standardized scale,
with C = 1 / (reg * n) and l1_ratio = a.
"""
import argparse
import json
import os
import sys
import warnings

import numpy as np

sys.path.insert(0, "/work/shared/peers")
from lr_peers import make_data  # noqa: E402

CASES = [
    # name, label column, family, reg, elastic net, max_iter, tol, weighted
    ("enet20", "label", "binomial", 0.05, 0.3, 20, 1e-6, False),
    ("enet_conv", "label", "binomial", 0.05, 0.3, 500, 1e-12, False),
    ("l2_20", "label", "binomial", 0.01, 0.0, 20, 1e-6, False),
    ("l2_conv", "label", "binomial", 0.01, 0.0, 500, 1e-12, False),
    ("l2_weighted_conv", "label", "binomial", 0.01, 0.0, 500, 1e-12, True),
    ("multi20", "label3", "multinomial", 0.02, 0.5, 20, 1e-6, False),
    ("multi_conv", "label3", "multinomial", 0.02, 0.5, 500, 1e-12, False),
]


def build(rows, dim, seed):
    X, y, _ = make_data(rows, dim, seed)
    rng = np.random.default_rng(seed + 1)
    W = rng.normal(size=(dim, 3)) / np.sqrt(dim)
    logits = X @ W * 2.0
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    u = rng.random(rows)
    y3 = (u[:, None] > np.cumsum(p, axis=1)).sum(axis=1).astype(np.float64)
    w = 0.5 + rng.random(rows)
    return X, y, y3, w


def spark_objective_parts(X, y, w, coef_std, b_std, reg, a, mean, std):
    """Spark's objective for a binomial solution given on the standardized+centered scale."""
    Z = (X - mean) / std
    m = Z @ coef_std + b_std
    loss = np.where(y > 0, np.logaddexp(0, -m), np.logaddexp(0, m))
    return float((w * loss).sum() / w.sum()
                 + reg * ((1 - a) / 2 * (coef_std ** 2).sum() + a * np.abs(coef_std).sum()))


def run_sklearn(X, y, reg, a, multinomial):
    from sklearn.linear_model import LogisticRegression
    mean = X.mean(axis=0)
    std = X.std(axis=0, ddof=1)
    Z = (X - mean) / std
    n = len(y)
    C = 1.0 / (reg * n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kw = dict(solver="saga", l1_ratio=a, C=C, max_iter=20000, tol=1e-10)
        try:
            m = LogisticRegression(penalty="elasticnet", **kw)
        except TypeError:
            m = LogisticRegression(**kw)
        m.fit(Z, y)
    coef_std = m.coef_
    b_std = m.intercept_
    if multinomial:
        M = Z @ coef_std.T + b_std
        M = M - M.max(axis=1, keepdims=True)
        lse = np.log(np.exp(M).sum(axis=1))
        loss = lse - M[np.arange(n), y.astype(int)]
        obj = loss.mean() + reg * ((1 - a) / 2 * (coef_std ** 2).sum() + a * np.abs(coef_std).sum())
    else:
        obj = spark_objective_parts(X, y, np.ones(n), coef_std[0], b_std[0], reg, a, mean, std)
    coef = coef_std / std
    intercept = b_std - coef_std @ (mean / std)
    if multinomial:
        # sklearn's multinomial intercepts/coefs are already centered across classes by the
        # symmetric penalty; center the intercepts as Spark does.
        intercept = intercept - intercept.mean()
    return dict(objective=float(obj), coefficients=coef.tolist(), intercepts=intercept.tolist(),
                n_iter=int(np.max(m.n_iter_)))


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=1000)
    ap.add_argument("--dim", type=int, default=30)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--write", required=True, help="Parquet fixture to write")
    ap.add_argument("--no-sklearn", action="store_true")
    args = ap.parse_args()

    import pyarrow as pa
    import pyarrow.parquet as pq

    X, y, y3, w = build(args.rows, args.dim, args.seed)
    os.makedirs(os.path.dirname(os.path.abspath(args.write)), exist_ok=True)
    tbl = pa.table({
        "label": y, "label3": y3, "weight": w,
        "features": pa.FixedSizeListArray.from_arrays(pa.array(X.ravel()), X.shape[1]),
    })
    pq.write_table(tbl, args.write, compression="zstd")

    from common import spark_session
    from pyspark.ml.classification import LogisticRegression as SLR
    from pyspark.ml.functions import array_to_vector
    from pyspark.sql import functions as F

    spark = spark_session(2, "logreg_reference")
    df = (spark.read.parquet(os.path.abspath(args.write))
          .select("label", "label3", "weight", array_to_vector("features").alias("features"))
          .cache())
    df.count()
    out = {"rows": args.rows, "dim": args.dim, "seed": args.seed, "spark": spark.version, "cases": {}}
    for name, label, family, reg, a, max_iter, tol, weighted in CASES:
        kw = dict(labelCol=label, family=family, regParam=reg, elasticNetParam=a,
                  maxIter=max_iter, tol=tol, standardization=True)
        if weighted:
            kw["weightCol"] = "weight"
        model = SLR(**kw).fit(df)
        hist = list(model.summary.objectiveHistory)
        case = {"label": label, "family": family, "reg": reg, "elastic_net": a, "max_iter": max_iter,
                "tol": tol, "weighted": weighted,
                "spark": {"objective_history": hist, "total_iterations": model.summary.totalIterations,
                          "coefficients": model.coefficientMatrix.toArray().tolist(),
                          "intercepts": model.interceptVector.toArray().tolist()}}
        if not weighted and not args.no_sklearn and max_iter > 100:
            yy = y if label == "label" else y3
            case["sklearn"] = run_sklearn(X, yy, reg, a, family == "multinomial")
        out["cases"][name] = case
        print(f"{name}: spark objective {hist[-1]:.12g} after {len(hist) - 1} iterations"
              + (f", sklearn {case['sklearn']['objective']:.12g}" if "sklearn" in case else ""),
              file=sys.stderr, flush=True)
    spark.stop()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
