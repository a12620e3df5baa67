#!/usr/bin/env python3
"""Checks ml-tree's TreeSHAP contributions against XGBoost's `pred_contribs` on the same model.

    ~/.cache/ml-peers/venv/bin/python scripts/xgb_shap_check.py [--data F.parquet] [--rounds 50]
        [--max-depth 6] [--eta 0.1] [--threads 2] [--tol 1e-5]

Runs `cargo run --release --example train_gbdt` on a `*_features.parquet` file (columns `label`,
`is_test`, then float features; default: the peers' medium loans_features.parquet, or a small
synthetic file with missing values when that is absent) with `--model-out m.xgb.json
--contribs-out c.csv`, loads m.xgb.json with xgboost, computes
`predict(DMatrix(test rows), pred_contribs=True)` and compares every value (one column per
feature, then the bias) with ml-tree's; fails when the largest difference is above --tol.
It also prints both sides' times for the contributions alone (ours as train_gbdt reports it on
stderr, XGBoost's around `predict` with nthread=--threads), side by side.
Exits 0 with a "SKIP" message when xgboost (or pandas/pyarrow) is not installed.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

try:
    import numpy as np
    import pandas as pd
    import xgboost as xgb
except ImportError as e:  # pragma: no cover
    print(f"SKIP: xgboost/pandas not available ({e}); run with ~/.cache/ml-peers/venv/bin/python")
    sys.exit(0)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def synthetic(path):
    rng = np.random.default_rng(1)
    n = 5000
    X = rng.normal(size=(n, 6))
    X[rng.random(n) < 0.1, 2] = np.nan
    X[rng.random(n) < 0.05, 4] = np.nan
    z = (X[:, 0] - 0.5 * X[:, 1] ** 2 + np.where(np.isnan(X[:, 2]), 1.0, X[:, 2])
         + X[:, 3] * np.nan_to_num(X[:, 4]))
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(float)
    df = pd.DataFrame({"label": y, "is_test": (rng.random(n) < 0.2).astype(float)})
    for j in range(X.shape[1]):
        df[f"x{j}"] = X[:, j]
    df.to_parquet(path)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    default = os.path.expanduser("~/.cache/ml-peers/data/medium/loans_features.parquet")
    ap.add_argument("--data", default=default)
    ap.add_argument("--rounds", type=int, default=50)
    ap.add_argument("--max-depth", type=int, default=6)
    ap.add_argument("--eta", type=float, default=0.1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tol", type=float, default=1e-5)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="xgb_shap_check.")
    data = args.data
    if not os.path.exists(data):
        data = os.path.join(tmp, "synthetic_features.parquet")
        synthetic(data)
        print(f"{args.data} not found; using synthetic data {data}")
    model = os.path.join(tmp, "m.xgb.json")
    contribs = os.path.join(tmp, "c.csv")
    # GBDT_BIN: an already built binary of examples/train_gbdt.rs (default: cargo run).
    prefix = ([os.environ["GBDT_BIN"]] if os.environ.get("GBDT_BIN")
              else ["cargo", "run", "--quiet", "--release", "--example", "train_gbdt", "--"])
    cmd = prefix + [
        "--train", data, "--test", data, "--split-col", "is_test", "--label", "label",
        "--num-round", str(args.rounds), "--max-depth", str(args.max_depth),
        "--eta", str(args.eta), "--threads", str(args.threads),
        "--model-out", model, "--contribs-out", contribs]
    print("running:", " ".join(cmd))
    run = subprocess.run(cmd, cwd=ROOT, check=True, stderr=subprocess.PIPE, text=True)
    sys.stderr.write(run.stderr)
    m = re.search(r"contributions: (\d+) rows in ([0-9.eE+-]+) s", run.stderr)
    ours_s = float(m.group(2)) if m else float("nan")

    df = pd.read_parquet(data)
    feats = [c for c in df.columns if c not in ("label", "is_test")]
    te = df["is_test"].values == 1
    X = np.ascontiguousarray(df.loc[te, feats].values, dtype=np.float32)
    booster = xgb.Booster(model_file=model)
    booster.set_param({"nthread": args.threads})
    dm = xgb.DMatrix(X, nthread=args.threads)
    booster.predict(dm, pred_contribs=True, iteration_range=(0, 1))  # warm-up
    t0 = time.perf_counter()
    theirs = booster.predict(dm, pred_contribs=True)
    theirs_s = time.perf_counter() - t0

    ours_df = pd.read_csv(contribs)
    want_cols = feats + ["bias"]
    assert list(ours_df.columns) == want_cols, (list(ours_df.columns), want_cols)
    ours = ours_df.values
    assert ours.shape == theirs.shape, (ours.shape, theirs.shape)
    diff = float(np.max(np.abs(ours - theirs)))
    margin = booster.predict(dm, output_margin=True)
    sum_gap = float(np.max(np.abs(ours.sum(axis=1) - margin)))
    print(f"xgboost {xgb.__version__}: {ours.shape[0]} test rows x {ours.shape[1]} columns, "
          f"max |ml-tree - xgboost| = {diff:.3g}; max |sum(ml-tree) - xgboost margin| = "
          f"{sum_gap:.3g}")
    print(f"contributions time, {args.threads} threads: ml-tree {ours_s:.3f} s, "
          f"xgboost pred_contribs {theirs_s:.3f} s (ratio {theirs_s / ours_s:.2f}x)")
    if diff > args.tol or sum_gap > args.tol:
        print(f"FAIL: difference above {args.tol}")
        sys.exit(1)
    print("OK")


if __name__ == "__main__":
    main()
