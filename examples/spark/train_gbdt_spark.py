#!/usr/bin/env python3
"""Train the ml boosted trees on Spark, data-parallel, and score a test set.

    python examples/spark/train_gbdt_spark.py --data PARQUET --label COL [--split-col is_test]
        [--exclude COL,...] [--categorical COL,...] [--num-workers 2] [--num-round 100]
        [--max-depth 6] [--eta 0.3] [--max-bin 256] [--threads 1] [--seed 0]
        [--model-out PATH] [--master local[2]] [--conf key=value ...]

The flags and the feature columns are those of ``train_gbdt`` (every numeric column but the
label, the split column and ``--exclude``; rows whose split column is 1 are the test set), and
``--model-out`` writes the same file format, so the two files can be compared byte for byte: the
model does not depend on the number of workers or on how Spark partitions the rows.

Runs on the session ``--master`` names (default: ``local[N]`` with N = ``--num-workers``, unless
the script runs under spark-submit, whose master wins). The last line of output is one JSON
object: ``{"rows_train", "rows_test", "workers", "fit_s", "auc"}`` (``fit_s``: wall time of the
distributed fit, including Spark's scheduling and the repartition; ``auc``: exact AUC on the test
rows, rounded to 4 digits as train_gbdt rounds it).
"""

import argparse
import json
import sys
import time


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="Parquet file or directory")
    p.add_argument("--label", required=True)
    p.add_argument("--split-col", default=None, help="column marking test rows with 1")
    p.add_argument("--exclude", default="", help="columns to leave out, comma-separated")
    p.add_argument("--categorical", default="", help="integer category code columns, comma-separated")
    p.add_argument("--objective", default="binary:logistic")
    p.add_argument("--num-workers", type=int, default=2)
    p.add_argument("--num-round", type=int, default=100)
    p.add_argument("--max-depth", type=int, default=6)
    p.add_argument("--eta", type=float, default=0.3)
    p.add_argument("--max-bin", type=int, default=256)
    p.add_argument("--threads", type=int, default=None, help="threads per worker (default: spark.task.cpus)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-attempts", type=int, default=2)
    p.add_argument("--model-out", default=None)
    p.add_argument("--master", default=None)
    p.add_argument("--conf", action="append", default=[], help="extra Spark setting key=value")
    return p.parse_args(argv)


def exact_auc(scores, labels):
    """AUC with ties counted half (the Mann-Whitney statistic on average ranks)."""
    import pandas as pd

    s = pd.Series(scores)
    y = pd.Series(labels)
    pos = int((y == 1).sum())
    neg = len(y) - pos
    if pos == 0 or neg == 0:
        return None
    ranks = s.rank(method="average")
    return float((ranks[y == 1].sum() - pos * (pos + 1) / 2) / (pos * neg))


def main(argv=None):
    args = parse_args(argv)
    from pyspark import SparkConf
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    from ml_spark import GBTClassifier, GBTRegressor, feature_columns

    conf = SparkConf()
    if args.master:
        conf.setMaster(args.master)
    elif not conf.contains("spark.master"):
        conf.setMaster(f"local[{args.num_workers}]")
    conf.set("spark.ui.showConsoleProgress", "false")
    for kv in args.conf:
        k, _, v = kv.partition("=")
        conf.set(k, v)
    spark = SparkSession.builder.config(conf=conf).appName("train_gbdt_spark").getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")

    df = spark.read.parquet(args.data)
    exclude = [c for c in args.exclude.split(",") if c]
    categorical = [c for c in args.categorical.split(",") if c]
    features = feature_columns(df.schema, args.label, exclude, split_col=args.split_col)
    if args.split_col:
        is_test = F.coalesce(F.col(args.split_col).cast("double") == 1.0, F.lit(False))
        train, test = df.where(~is_test), df.where(is_test)
    else:
        train, test = df, df.limit(0)

    cls = GBTRegressor if args.objective.startswith("reg:") else GBTClassifier
    params = dict(
        labelCol=args.label, featuresCols=features, categoricalCols=categorical,
        objective=args.objective, num_workers=args.num_workers, num_round=args.num_round,
        max_depth=args.max_depth, eta=args.eta, max_bin=args.max_bin, seed=args.seed,
        maxAttempts=args.max_attempts,
    )
    if args.threads:
        params["n_threads"] = args.threads
    est = cls(**params)
    t0 = time.perf_counter()
    model = est.fit(train)
    fit_s = time.perf_counter() - t0
    if args.model_out:
        model.save(args.model_out)
    info = model.fit_info

    scored = model.transform(test.select(*features, args.label))
    score_col = "probability" if args.objective == "binary:logistic" else "prediction"
    pdf = scored.select(score_col, args.label).toPandas()
    auc = exact_auc(pdf[score_col], pdf[args.label]) if args.objective == "binary:logistic" else None
    summary = {
        "rows_train": info["rows"],
        "rows_test": len(pdf),
        "workers": info["workers"],
        "fit_s": round(fit_s, 3),
        "auc": None if auc is None else round(auc, 4),
    }
    spark.stop()
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main(sys.argv[1:])
