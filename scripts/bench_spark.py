#!/usr/bin/env python3
"""Side by side on Spark local[2] with 2 workers: ml_spark's GBTClassifier against xgboost.spark's
SparkXGBClassifier, the same parameters (100 rounds, depth 6, eta 0.1, max_bin 256, hist), on
the peers harness's clicks features (label, is_test, 23 float features).

    python scripts/bench_spark.py [--data ~/.cache/ml-peers/data/medium/clicks_features.parquet]
        [--runs 3] [--out benches/spark_runs.jsonl]

Three variants: ``ours`` (defaults), ``ours_rep`` (``force_repartition=True``: a round-robin
shuffle into 2 balanced partitions, as xgboost.spark repartitions) and ``xgb``. Each fit runs in
a fresh process (its own Spark session), the variants rotating; the
orchestrator prints a Markdown table of medians. Per run: ``fit_s`` (wall time of ``fit``
on the training rows, Spark's scheduling and the repartition included), exact AUC on the test
rows, ``workers_peak_mb`` (peak of the summed RSS of the Python worker processes, where both
tools train: sampled every 0.1 s from /proc) and ``tree_peak_mb`` (peak summed RSS of the
whole process tree: driver, JVM, workers). ``--one ours|xgb`` runs one fit and prints its JSON.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PARAMS = dict(num_round=100, max_depth=6, eta=0.1, max_bin=256)


def _procs():
    """{pid: (ppid, comm, rss bytes)} of every process."""
    page = os.sysconf("SC_PAGE_SIZE")
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                s = f.read()
            with open(f"/proc/{d}/statm") as f:
                rss = int(f.read().split()[1]) * page
        except (OSError, ValueError, IndexError):
            continue
        comm = s[s.index("(") + 1:s.rindex(")")]
        ppid = int(s[s.rindex(")") + 2:].split()[1])
        out[int(d)] = (ppid, comm, rss)
    return out


class Sampler:
    """Peak RSS of this process tree and of its Python worker processes (descendants of the
    JVM whose command is python)."""

    def __init__(self, interval=0.1):
        self.tree = 0
        self.workers = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, args=(interval,), daemon=True)
        self._t.start()

    def _sample(self):
        me = os.getpid()
        procs = _procs()
        kids = {}
        for p, (pp, _, _) in procs.items():
            kids.setdefault(pp, []).append(p)
        tree, workers, stack = 0, 0, [(me, False)]
        while stack:
            p, under_jvm = stack.pop()
            if p not in procs:
                continue
            _, comm, rss = procs[p]
            tree += rss
            if under_jvm and comm.startswith("python"):
                workers += rss
            for k in kids.get(p, []):
                stack.append((k, under_jvm or comm == "java"))
        self.tree = max(self.tree, tree)
        self.workers = max(self.workers, workers)

    def _run(self, interval):
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(interval)

    def stop(self):
        self._stop.set()
        self._t.join()
        return round(self.tree / 2**20, 1), round(self.workers / 2**20, 1)


def exact_auc(scores, labels):
    import pandas as pd

    s, y = pd.Series(scores), pd.Series(labels)
    pos = int((y == 1).sum())
    neg = len(y) - pos
    ranks = s.rank(method="average")
    return float((ranks[y == 1].sum() - pos * (pos + 1) / 2) / (pos * neg))


def one(tool, data):
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    sampler = Sampler()
    spark = (SparkSession.builder.master("local[2]").appName(f"bench_spark_{tool}")
             .config("spark.driver.memory", "10g").config("spark.ui.enabled", "false")
             .config("spark.ui.showConsoleProgress", "false")
             .config("spark.sql.shuffle.partitions", "4").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    df = spark.read.parquet(data)
    features = [c for c in df.columns if c not in ("label", "is_test")]
    is_test = F.col("is_test") == 1
    train = df.where(~is_test).cache()
    test = df.where(is_test).cache()
    rows_train, rows_test = train.count(), test.count()
    if tool in ("ours", "ours_rep"):
        from ml_spark import GBTClassifier

        # ours: the default (partitions merged without a shuffle when there are more than
        # workers; Spark's parquet read here gives 2 partitions, one of them empty);
        # ours_rep: force_repartition=True, a round-robin shuffle as xgboost.spark does.
        est = GBTClassifier(labelCol="label", featuresCols=features, num_workers=2,
                            force_repartition=(tool == "ours_rep"), **PARAMS)
        score_col = "probability"
    else:
        from xgboost.spark import SparkXGBClassifier

        est = SparkXGBClassifier(features_col=features, label_col="label", num_workers=2,
                                 n_estimators=PARAMS["num_round"], max_depth=PARAMS["max_depth"],
                                 learning_rate=PARAMS["eta"], max_bin=PARAMS["max_bin"],
                                 tree_method="hist")
        score_col = "probability"
    t0 = time.perf_counter()
    model = est.fit(train)
    fit_s = time.perf_counter() - t0
    tree_mb, workers_mb = sampler.stop()
    out = model.transform(test)
    if tool == "xgb":
        from pyspark.ml.functions import vector_to_array

        out = out.withColumn("probability", vector_to_array("probability")[1])
    pdf = out.select(score_col, "label").toPandas()
    auc = exact_auc(pdf[score_col], pdf["label"])
    spark.stop()
    rec = {"tool": tool, "rows_train": rows_train, "rows_test": rows_test,
           "fit_s": round(fit_s, 3), "auc": round(auc, 5), "workers_peak_mb": workers_mb,
           "tree_peak_mb": tree_mb}
    if tool != "xgb":
        rec["phases"] = {k: [round(v, 3) for v in model.fit_info[k]]
                         for k in ("read_s", "gather_s", "train_s")}
    return rec


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", default=os.path.expanduser(
        "~/.cache/ml-peers/data/medium/clicks_features.parquet"))
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--one", choices=["ours", "ours_rep", "xgb"])
    p.add_argument("--out", default=None)
    args = p.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.data)), flush=True)
        return
    tools = ["ours", "xgb", "ours_rep"]
    results = {t: [] for t in tools}
    for i in range(args.runs):
        order = tools[i % 3:] + tools[:i % 3]
        for tool in order:
            r = subprocess.run([sys.executable, __file__, "--one", tool, "--data", args.data],
                               check=True, capture_output=True, text=True)
            rec = json.loads(r.stdout.strip().splitlines()[-1])
            rec["run"] = i
            rec["loadavg"] = os.getloadavg()[0]
            print(json.dumps(rec), flush=True)
            results[tool].append(rec)
            if args.out:
                with open(args.out, "a") as f:
                    f.write(json.dumps(rec) + "\n")
    med = {t: {k: statistics.median(r[k] for r in rs)
               for k in ("fit_s", "auc", "workers_peak_mb", "tree_peak_mb")}
           for t, rs in results.items()}
    print("| tool | fit s (median) | AUC | workers peak RSS MB | tree peak RSS MB |")
    print("|---|---:|---:|---:|---:|")
    for t, name in (("ours", "ml_spark GBTClassifier"),
                    ("ours_rep", "ml_spark GBTClassifier, force_repartition"),
                    ("xgb", "xgboost.spark SparkXGBClassifier")):
        m = med[t]
        print(f"| {name} | {m['fit_s']:.2f} | {m['auc']:.4f} | {m['workers_peak_mb']:.0f} | {m['tree_peak_mb']:.0f} |")
    for t in ("ours", "ours_rep"):
        print(f"{t}: speed-up {med['xgb']['fit_s'] / med[t]['fit_s']:.2f}x, "
              f"AUC difference {med[t]['auc'] - med['xgb']['auc']:+.4f}")


if __name__ == "__main__":
    main()
