#!/usr/bin/env python3
"""One peer tool on the logistic-regression benchmark data, in its own process; prints one JSON line.

    python scripts/logreg_peer_bench.py --tool spark   --data lr.parquet [--max-iter 20]
    python scripts/logreg_peer_bench.py --tool sklearn --data lr.parquet [--tol 1e-4]

Data: the Parquet written by /work/shared/peers/lr_peers.py --write (label, is_test, features).
Both fit rows with is_test == 0 with regParam/C and elasticNetParam/l1_ratio as lr_peers.py, and
report the training seconds and the objective in Spark's form (mean log-loss + reg * (a |b|_1 +
(1-a)/2 |b|^2) on coefficients of features standardized with the sample standard deviation), so
the Rust figure (`examples/train_logreg.rs`) can be compared at equal objective.
"""
import argparse
import json
import os
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, "/work/shared/peers")


def objective(Z, y, coef_std, b, reg, a):
    m = Z @ coef_std + b
    loss = np.where(y > 0, np.logaddexp(0, -m), np.logaddexp(0, m)).mean()
    return float(loss + reg * ((1 - a) / 2 * (coef_std ** 2).sum() + a * np.abs(coef_std).sum()))


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tool", choices=["spark", "sklearn"], required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reg", type=float, default=0.05)
    ap.add_argument("--alpha", type=float, default=0.3)
    ap.add_argument("--max-iter", type=int, default=20)
    ap.add_argument("--tol", type=float, default=1e-4, help="sklearn tol")
    args = ap.parse_args()
    rec = {"tool": args.tool, "reg": args.reg, "alpha": args.alpha, "threads": args.threads}
    if args.tool == "sklearn":
        os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
        import pandas as pd
        from sklearn.linear_model import LogisticRegression
        t0 = time.perf_counter()
        df = pd.read_parquet(args.data)
        keep = df["is_test"].values == 0
        X = np.stack(df["features"].values[keep])
        y = df["label"].values[keep].astype(np.float64)
        rec["load_s"] = round(time.perf_counter() - t0, 3)
        n = len(y)
        t0 = time.perf_counter()
        mean, std = X.mean(axis=0), X.std(axis=0, ddof=1)
        std[std == 0] = 1.0
        Z = (X - mean) / std
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m = LogisticRegression(penalty="elasticnet", solver="saga", l1_ratio=args.alpha,
                                   C=1.0 / (args.reg * n), max_iter=1000, tol=args.tol)
            m.fit(Z, y)
        rec["train_s"] = round(time.perf_counter() - t0, 3)
        rec.update(rows_train=n, features=X.shape[1], n_iter=int(np.max(m.n_iter_)), tol=args.tol,
                   objective=objective(Z, y, m.coef_[0], m.intercept_[0], args.reg, args.alpha),
                   nonzero=int(np.count_nonzero(m.coef_)))
    else:
        from common import spark_session
        from pyspark.ml.classification import LogisticRegression as SLR
        from pyspark.ml.functions import array_to_vector
        from pyspark.sql import functions as F
        t0 = time.perf_counter()
        spark = spark_session(args.threads, "lr_bench")
        sdf = (spark.read.parquet(os.path.abspath(args.data)).filter("is_test = 0")
               .select(F.col("label"), array_to_vector("features").alias("features")).cache())
        n = sdf.count()
        rec["load_s"] = round(time.perf_counter() - t0, 3)
        t0 = time.perf_counter()
        model = SLR(maxIter=args.max_iter, regParam=args.reg, elasticNetParam=args.alpha,
                    standardization=True).fit(sdf)
        rec["train_s"] = round(time.perf_counter() - t0, 3)
        hist = model.summary.objectiveHistory
        rec.update(rows_train=n, features=model.numFeatures, max_iter=args.max_iter,
                   iterations=len(hist) - 1, objective=float(hist[-1]),
                   nonzero=int(np.count_nonzero(model.coefficients.toArray())), spark=spark.version)
        spark.stop()
    print(json.dumps(rec), flush=True)


if __name__ == "__main__":
    main()
