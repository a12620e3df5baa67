#!/usr/bin/env python3
"""Writes crates/ml-tree/tests/data/xgboost_losses.json: XGBoost 3.2 models of count:poisson,
reg:quantileerror (alphas 0.25, 0.75) and reg:gamma (5 rounds), their predictions, and the
predictions after XGBoost continues them 5 more rounds (`xgb_model=`); the test
`xgboost_models_of_the_losses_import_score_and_continue_as_in_xgboost` reads it.

    ~/.cache/ml-peers/venv/bin/python scripts/xgb_losses_fixture.py
"""
import json
import os

import numpy as np
import xgboost as xgb

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
rng = np.random.default_rng(1)
n = 400
X = rng.normal(size=(n, 3)); X[::7, 1] = np.nan
f = X[:, 0] - 0.5 * np.where(np.isnan(X[:, 1]), 0.0, X[:, 1]) ** 2 + 0.5 * X[:, 2]
cases = []
for obj, y, extra in [
    ("count:poisson", rng.poisson(np.exp(0.5 * f)).astype(float), {}),
    ("reg:quantileerror", f + rng.exponential(1.0, size=n), {"quantile_alpha": [0.25, 0.75]}),
    ("reg:gamma", rng.gamma(2.0, np.exp(0.5 * f) / 2.0), {}),
]:
    p = dict(objective=obj, tree_method="hist", max_depth=3, eta=0.3, seed=0, nthread=1, **extra)
    d = xgb.DMatrix(X.astype(np.float32), label=y)
    b5 = xgb.train(p, d, 5)
    model = json.loads(b5.save_raw("json").decode())
    b10 = xgb.train(p, d, 5, xgb_model=b5)
    dm = xgb.DMatrix(X.astype(np.float32))
    cases.append({"objective": obj, "params": extra, "model": model, "y": y.tolist(),
                  "predictions": b5.predict(dm).tolist(),
                  "continued_predictions": b10.predict(dm).tolist()})
doc = {"provenance": f"xgboost {xgb.__version__}: per objective, xgb.train(hist, max_depth 3, eta 0.3, seed 0, 5 rounds) on 400x3 normal data (numpy default_rng(1), every 7th row of column 1 NaN; labels from f = x0 - 0.5 x1^2 + 0.5 x2), then 5 more rounds with xgb_model=; predictions = Booster.predict on all rows of the 5- and 10-round models",
       "x": [[None if np.isnan(v) else float(v) for v in r] for r in X], "cases": cases}
json.dump(doc, open(os.path.join(ROOT, "crates/ml-tree/tests/data/xgboost_losses.json"), "w"), separators=(",", ":"))
