"""One-row prediction latency of XGBoost's `inplace_predict`, beside `score_bench`.

Reads what `score_bench --export-xgboost DIR` writes (the loan pipeline's trees in XGBoost's
JSON format, the scaled feature vectors they read, our probabilities), checks that XGBoost
predicts the same probabilities, then times `inplace_predict` on one row at a time and prints
one JSON line: {"rows", "p50_us", "p99_us", "max_abs_diff"}.

    ~/.cache/ml-peers/venv/bin/python scripts/score_xgboost_inplace.py DIR [--rows 10000] [--threads 1]
"""
import argparse
import json
import time

import numpy as np
import xgboost as xgb


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--rows", type=int, default=10000)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    booster = xgb.Booster(model_file=f"{a.dir}/model.xgb.json")
    booster.set_param({"nthread": a.threads})
    x = np.loadtxt(f"{a.dir}/features.csv", delimiter=",", ndmin=2)
    ours = np.loadtxt(f"{a.dir}/probability.csv", ndmin=1)
    theirs = booster.inplace_predict(x)
    diff = float(np.max(np.abs(theirs - ours)))
    rows = [x[i : i + 1] for i in range(len(x))]
    for r in rows[:1000]:
        booster.inplace_predict(r)
    lat = []
    for i in range(a.rows):
        r = rows[i % len(rows)]
        t0 = time.perf_counter()
        booster.inplace_predict(r)
        lat.append((time.perf_counter() - t0) * 1e6)
    lat.sort()
    at = lambda q: lat[max(1, int(np.ceil(len(lat) * q))) - 1]
    print(json.dumps({"tool": "xgboost " + xgb.__version__, "rows": a.rows, "p50_us": round(at(0.5), 2),
                      "p99_us": round(at(0.99), 2), "max_abs_diff": diff}))


if __name__ == "__main__":
    main()
