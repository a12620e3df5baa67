"""Reference values for crates/ml-eval/tests/reference_values.rs.

Run with the peers venv (scikit-learn 1.9.1, pyspark 4.3.0):
    ~/.cache/ml-peers/venv/bin/python crates/ml-eval/tests/sklearn_reference.py
Prints every expected value with repr() (17 significant digits) as pasted into the tests.
PR AUC comes from Spark's own BinaryClassificationMetrics(numBins=0).areaUnderPR, and is
cross-checked with scikit-learn's precision_recall_curve plus Spark's first point (0, p0).
"""
import numpy as np
from sklearn.metrics import (roc_auc_score, log_loss, accuracy_score, f1_score, precision_score,
                             recall_score, mean_squared_error, root_mean_squared_error,
                             mean_absolute_error, r2_score, precision_recall_curve)

# Binary: ties everywhere (scores rounded to one decimal), weights.
Y = [0, 0, 1, 1, 0, 1, 0, 1, 1, 0, 1, 0, 0, 1, 1, 0, 1, 0, 0, 1]
S = [0.1, 0.4, 0.35, 0.8, 0.4, 0.4, 0.2, 0.9, 0.35, 0.8, 0.6, 0.6, 0.1, 0.7, 0.4, 0.3, 0.9, 0.5, 0.2, 0.1]
W = [1.0, 2.0, 0.5, 1.0, 3.0, 1.0, 1.0, 2.0, 0.25, 1.0, 1.5, 0.0, 2.0, 1.0, 0.5, 1.0, 1.0, 2.5, 1.0, 1.0]
P = [0.05, 0.45, 0.35, 0.8, 0.4, 0.42, 0.2, 0.93, 0.36, 0.71, 0.6, 0.61, 0.12, 0.7, 0.44, 0.3, 0.9, 0.5, 0.22, 0.15]


def spark_rule_pr(y, s, w=None):
    prec, rec, _ = precision_recall_curve(y, s, sample_weight=w)
    # sklearn: increasing thresholds, last point (recall 0, precision 1) appended; Spark: decreasing
    # thresholds, starting at (0, precision at the highest threshold).
    prec, rec = prec[:-1][::-1], rec[:-1][::-1]
    xs = np.concatenate([[0.0], rec]); ys = np.concatenate([[prec[0]], prec])
    return float(np.sum((xs[1:] - xs[:-1]) * (ys[1:] + ys[:-1]) / 2))


print("roc_auc ties", repr(roc_auc_score(Y, S)))
print("roc_auc ties weighted", repr(roc_auc_score(Y, S, sample_weight=W)))
print("pr_auc sklearn-curve spark-rule", repr(spark_rule_pr(Y, S)))
print("pr_auc sklearn-curve spark-rule weighted", repr(spark_rule_pr(Y, S, W)))
print("log_loss", repr(log_loss(Y, P)))
print("log_loss weighted", repr(log_loss(Y, P, sample_weight=W)))
try:
    roc_auc_score([1, 1, 1], [0.1, 0.2, 0.3])
except ValueError as e:
    print("one class:", e)

# Multiclass.
YM = [0, 1, 2, 2, 1, 0, 2, 1, 1, 0, 3, 2]
PM = [0, 2, 2, 2, 1, 0, 1, 1, 0, 0, 2, 2]
WM = [1.0, 2.0, 0.5, 1.0, 1.0, 3.0, 1.0, 0.5, 2.0, 1.0, 1.0, 0.25]
PROBA = np.array([
    [0.7, 0.1, 0.1, 0.1], [0.1, 0.3, 0.5, 0.1], [0.1, 0.1, 0.7, 0.1], [0.2, 0.2, 0.5, 0.1],
    [0.1, 0.6, 0.2, 0.1], [0.8, 0.1, 0.05, 0.05], [0.1, 0.5, 0.3, 0.1], [0.2, 0.5, 0.2, 0.1],
    [0.5, 0.3, 0.1, 0.1], [0.6, 0.2, 0.1, 0.1], [0.1, 0.1, 0.6, 0.2], [0.1, 0.2, 0.6, 0.1]])
for name, w in (("", None), (" weighted", WM)):
    print("accuracy" + name, repr(accuracy_score(YM, PM, sample_weight=w)))
    print("f1" + name, repr(f1_score(YM, PM, average="weighted", sample_weight=w)))
    print("precision" + name, repr(precision_score(YM, PM, average="weighted", sample_weight=w, zero_division=0)))
    print("recall" + name, repr(recall_score(YM, PM, average="weighted", sample_weight=w)))
    print("mc log_loss" + name, repr(log_loss(YM, PROBA, sample_weight=w, labels=[0, 1, 2, 3])))

# Regression.
YR = [3.0, -0.5, 2.0, 7.0, 4.2, 1.1, 0.0, 5.5]
PR = [2.5, 0.0, 2.0, 8.0, 3.9, 1.5, -0.3, 4.0]
WR = [1.0, 2.0, 0.5, 1.0, 1.5, 1.0, 3.0, 0.75]
for name, w in (("", None), (" weighted", WR)):
    print("mse" + name, repr(mean_squared_error(YR, PR, sample_weight=w)))
    print("rmse" + name, repr(root_mean_squared_error(YR, PR, sample_weight=w)))
    print("mae" + name, repr(mean_absolute_error(YR, PR, sample_weight=w)))
    print("r2" + name, repr(r2_score(YR, PR, sample_weight=w)))

# Spark's own PR (and ROC) areas, exact (numBins=0).
from pyspark.sql import SparkSession
from pyspark.mllib.evaluation import BinaryClassificationMetrics
spark = SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false").getOrCreate()
spark.sparkContext.setLogLevel("ERROR")
sc = spark.sparkContext
m = BinaryClassificationMetrics(sc.parallelize([(float(s), float(y)) for s, y in zip(S, Y)], 1))
print("spark areaUnderPR", repr(m.areaUnderPR), "areaUnderROC", repr(m.areaUnderROC))
m = BinaryClassificationMetrics(sc.parallelize([(float(s), float(y), float(w)) for s, y, w in zip(S, Y, W)], 1))
print("spark areaUnderPR weighted", repr(m.areaUnderPR), "areaUnderROC", repr(m.areaUnderROC))
m = BinaryClassificationMetrics(sc.parallelize([(0.1, 0.0), (0.4, 0.0), (0.35, 1.0), (0.8, 1.0)], 1))
print("spark areaUnderPR doc example", repr(m.areaUnderPR))
spark.stop()
