#!/usr/bin/env python3
"""Writes crates/ml-tree/tests/data/xgboost_categorical.json: an XGBoost 3.2 model with
categorical (partition) splits, trained on a numeric matrix whose column 0 is marked categorical
(`feature_types=["c", "q", "q"]`), and XGBoost's predictions on rows that include NaN, codes the
training data never had (12, 40, 1000), negative codes, and every code seen in training. The test
`an_xgboost_categorical_model_scores_the_same_here` reads it.

    ~/.cache/ml-peers/venv/bin/python scripts/xgb_categorical_fixture.py
"""
import json
import os

import numpy as np
import xgboost as xgb

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
rng = np.random.default_rng(3)
n = 1000
k = rng.integers(0, 12, n).astype(float)
k[rng.random(n) < 0.1] = np.nan
X = np.column_stack([k, rng.normal(size=n), rng.normal(size=n)])
X[::9, 2] = np.nan
effect = np.array([1.5, -1.0, 0.2, 2.0, -2.0, 0.0, 1.0, -0.5, 0.7, -1.7, 0.3, 1.1])
z = np.where(np.isnan(k), 0.4, effect[np.nan_to_num(k).astype(int)]) + X[:, 1]
y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(float)
p = dict(objective="binary:logistic", tree_method="hist", max_depth=4, eta=0.3, seed=0,
         nthread=1, max_cat_to_onehot=1)
d = xgb.DMatrix(X.astype(np.float32), label=y, feature_types=["c", "q", "q"],
                enable_categorical=True)
booster = xgb.train(p, d, 8)
model = json.loads(booster.save_raw("json").decode())
codes = [np.nan, 12.0, 40.0, 1000.0, -1.0, -0.5] + [float(c) for c in range(12)]
rows = np.array([[c, a, b] for c in codes for a, b in [(-1.0, 0.5), (0.3, np.nan), (1.2, -2.0)]])
dm = xgb.DMatrix(rows.astype(np.float32), feature_types=["c", "q", "q"], enable_categorical=True)
doc = {"provenance": f"xgboost {xgb.__version__}: xgb.train(binary:logistic, hist, max_depth 4, eta 0.3, max_cat_to_onehot 1, seed 0, 8 rounds) on 1000x3 data (numpy default_rng(3); column 0 category codes 0..11 with 10% NaN, marked 'c'); predictions = Booster.predict on the rows of x (a DMatrix with the same feature types)",
       "model": model,
       "x": [[None if np.isnan(v) else float(v) for v in r] for r in rows],
       "predictions": booster.predict(dm).tolist()}
json.dump(doc, open(os.path.join(ROOT, "crates/ml-tree/tests/data/xgboost_categorical.json"), "w"),
          separators=(",", ":"))
