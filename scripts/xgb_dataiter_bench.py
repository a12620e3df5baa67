#!/usr/bin/env python3
"""XGBoost trained from a Parquet file larger than memory, its own way: a QuantileDMatrix built
by a DataIter over the file's row batches (pyarrow), then `hist` training with the parameters of
`train_gbdt` (100 rounds, eta 0.1, depth 6, 256 bins). The side-by-side peer of our streamed
`train_gbdt` (issue 14). Rows with `is_test = 1` are held out and scored; the last line is JSON
like train_gbdt's: {"rows_train", "rows_test", "features", "train_s", "predict_s", "auc",
"dmatrix_s"}. `train_s` is xgb.train alone (the QuantileDMatrix is built before, in `dmatrix_s`,
which covers reading the file and sketching). Peak RSS: run under /usr/bin/time -v.

Usage: xgb_dataiter_bench.py FEATURES.parquet [--threads 2] [--batch-rows 65536]
(python from the peers venv: ~/.cache/ml-peers/venv/bin/python)
"""
import argparse
import json
import time

import numpy as np
import pyarrow.parquet as pq
import xgboost as xgb
from sklearn.metrics import roc_auc_score


class Batches(xgb.DataIter):
    """The training (or test) rows of the file, one Parquet batch at a time."""

    def __init__(self, path, features, test, batch_rows):
        self.path, self.features, self.test, self.batch_rows = path, features, test, batch_rows
        self._it = None
        self.rows = 0
        super().__init__()

    def reset(self):
        self._it = None

    def next(self, input_data):
        if self._it is None:
            self.rows = 0
            f = pq.ParquetFile(self.path)
            self._it = f.iter_batches(batch_size=self.batch_rows,
                                      columns=self.features + ["label", "is_test"])
        try:
            b = next(self._it)
        except StopIteration:
            return False
        keep = (b.column("is_test").to_numpy(zero_copy_only=False) == 1) == self.test
        x = np.column_stack([b.column(c).to_numpy(zero_copy_only=False).astype(np.float32)
                             for c in self.features])[keep]
        y = b.column("label").to_numpy(zero_copy_only=False).astype(np.float32)[keep]
        self.rows += len(y)
        input_data(data=x, label=y)
        return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("path")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-rows", type=int, default=65536)
    a = ap.parse_args()
    names = pq.ParquetFile(a.path).schema_arrow.names
    features = [c for c in names if c not in ("label", "is_test")]
    t0 = time.perf_counter()
    train_it = Batches(a.path, features, False, a.batch_rows)
    dtrain = xgb.QuantileDMatrix(train_it, max_bin=256, nthread=a.threads)
    dmatrix_s = time.perf_counter() - t0
    params = {"objective": "binary:logistic", "tree_method": "hist", "max_depth": 6, "eta": 0.1,
              "max_bin": 256, "nthread": a.threads, "eval_metric": "auc"}
    t1 = time.perf_counter()
    booster = xgb.train(params, dtrain, num_boost_round=100)
    train_s = time.perf_counter() - t1
    # Scored batch by batch too.
    test_it = Batches(a.path, features, True, a.batch_rows)
    preds, labels = [], []
    t2 = time.perf_counter()
    f = pq.ParquetFile(a.path)
    for b in f.iter_batches(batch_size=a.batch_rows, columns=features + ["label", "is_test"]):
        keep = b.column("is_test").to_numpy(zero_copy_only=False) == 1
        x = np.column_stack([b.column(c).to_numpy(zero_copy_only=False).astype(np.float32)
                             for c in features])[keep]
        preds.append(booster.inplace_predict(x))
        labels.append(b.column("label").to_numpy(zero_copy_only=False)[keep])
    predict_s = time.perf_counter() - t2
    del test_it
    p, y = np.concatenate(preds), np.concatenate(labels)
    print(json.dumps({"rows_train": train_it.rows, "rows_test": int(len(y)),
                      "features": len(features), "dmatrix_s": round(dmatrix_s, 3),
                      "train_s": round(train_s, 3), "predict_s": round(predict_s, 3),
                      "auc": round(float(roc_auc_score(y, p)), 4)}))


if __name__ == "__main__":
    main()
