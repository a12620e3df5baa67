#!/usr/bin/env python3
"""Checks that a model trained by ml-tree and exported to XGBoost's JSON format scores within
1e-5 of ml-tree's own predictions when XGBoost loads it.

    ~/.cache/ml-peers/venv/bin/python scripts/xgb_export_check.py [--data F.parquet] [--rounds 50]
    ~/.cache/ml-peers/venv/bin/python scripts/xgb_export_check.py --categorical [--tol 1e-6]

`--categorical`: synthetic data whose column `k` holds category codes 0..29 (NaN 10%; test
rows also carry codes 30..34, never seen in training), trained with `--categorical k` so the
trees split on category subsets; XGBoost scores the exported model on a plain matrix and on one
with the model's feature types (`enable_categorical`), and both are compared.

Runs `cargo run --release --example train_gbdt` on a `*_features.parquet` file (columns
`label`, `is_test`, then float features; default: the peers' medium loans_features.parquet, or a
small synthetic file with missing values when that is absent) with `--model-out m.xgb.json
--predictions-out p.csv`, loads m.xgb.json with xgboost, predicts the test rows and compares.
Exits 0 with a "SKIP" message when xgboost (or pandas/pyarrow) is not installed.
"""
import argparse
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import pandas as pd
    import xgboost as xgb
except ImportError as e:  # pragma: no cover
    print(f"SKIP: xgboost/pandas not available ({e}); run with ~/.cache/ml-peers/venv/bin/python")
    sys.exit(0)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def synthetic(path):
    rng = np.random.default_rng(0)
    n = 5000
    X = rng.normal(size=(n, 5))
    X[rng.random(n) < 0.1, 2] = np.nan
    z = X[:, 0] - 0.5 * X[:, 1] ** 2 + np.where(np.isnan(X[:, 2]), 1.0, X[:, 2])
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(float)
    df = pd.DataFrame({"label": y, "is_test": (rng.random(n) < 0.2).astype(float)})
    for j in range(5):
        df[f"x{j}"] = X[:, j]
    df.to_parquet(path)


def synthetic_categorical(path):
    rng = np.random.default_rng(1)
    n = 20000
    k = rng.integers(0, 30, n).astype(float)
    k[rng.random(n) < 0.1] = np.nan
    is_test = (rng.random(n) < 0.2).astype(float)
    unseen = (is_test == 1) & (rng.random(n) < 0.1)
    k[unseen] = rng.integers(30, 35, unseen.sum())
    effect = rng.normal(size=35) * 1.5
    X = rng.normal(size=(n, 3))
    X[rng.random(n) < 0.1, 1] = np.nan
    z = np.where(np.isnan(k), 0.5, effect[np.nan_to_num(k).astype(int)]) + X[:, 0]
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(float)
    df = pd.DataFrame({"label": y, "is_test": is_test, "k": k})
    for j in range(3):
        df[f"x{j}"] = X[:, j]
    df.to_parquet(path)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    default = os.path.expanduser("~/.cache/ml-peers/data/medium/loans_features.parquet")
    ap.add_argument("--data", default=default)
    ap.add_argument("--rounds", type=int, default=50)
    ap.add_argument("--tol", type=float, default=1e-5)
    ap.add_argument("--categorical", action="store_true")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="xgb_export_check.")
    data = args.data
    if args.categorical:
        data = os.path.join(tmp, "synthetic_categorical.parquet")
        synthetic_categorical(data)
        print(f"categorical check on synthetic data {data}")
    elif not os.path.exists(data):
        data = os.path.join(tmp, "synthetic_features.parquet")
        synthetic(data)
        print(f"{args.data} not found; using synthetic data {data}")
    model = os.path.join(tmp, "m.xgb.json")
    preds = os.path.join(tmp, "p.csv")
    # GBDT_BIN: an already built binary of examples/train_gbdt.rs (default: cargo run).
    prefix = ([os.environ["GBDT_BIN"]] if os.environ.get("GBDT_BIN")
              else ["cargo", "run", "--quiet", "--release", "--example", "train_gbdt", "--"])
    cmd = prefix + [
           "--train", data, "--test", data, "--split-col", "is_test", "--label", "label",
           "--num-round", str(args.rounds), "--eta", "0.1",
           "--model-out", model, "--predictions-out", preds]
    if args.categorical:
        cmd += ["--categorical", "k"]
    print("running:", " ".join(cmd))
    subprocess.run(cmd, cwd=ROOT, check=True)
    df = pd.read_parquet(data)
    feats = [c for c in df.columns if c not in ("label", "is_test")]
    te = df["is_test"].values == 1
    X = np.ascontiguousarray(df.loc[te, feats].values, dtype=np.float32)
    booster = xgb.Booster(model_file=model)
    ours = pd.read_csv(preds)["prediction"].values
    matrices = {"plain matrix": xgb.DMatrix(X)}
    if args.categorical:
        types = booster.feature_types
        print(f"model feature_types: {types}; categorical splits: {n_categorical_splits(model)}")
        matrices["feature types " + "".join(types)] = xgb.DMatrix(
            X, feature_types=types, enable_categorical=True)
    worst = 0.0
    for what, dm in matrices.items():
        theirs = booster.predict(dm)
        assert len(ours) == len(theirs), (len(ours), len(theirs))
        diff = float(np.max(np.abs(ours - theirs)))
        worst = max(worst, diff)
        print(f"xgboost {xgb.__version__} ({what}): {len(ours)} test rows, "
              f"max |ml-tree - xgboost| = {diff:.3g}")
    if worst > args.tol:
        print(f"FAIL: difference above {args.tol}")
        sys.exit(1)
    print("OK")


def n_categorical_splits(path):
    import json
    trees = json.load(open(path))["learner"]["gradient_booster"]["model"]["trees"]
    return sum(len(t["categories_nodes"]) for t in trees)


if __name__ == "__main__":
    main()
