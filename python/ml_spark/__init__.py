"""ml_spark: train the ml library's boosted trees and FP-growth data-parallel on Spark.

* :class:`GBTClassifier` / :class:`GBTRegressor`: pyspark.ml-style estimators. ``fit`` runs one
  barrier task per worker (``mapInArrow(..., barrier=True)``); the workers meet in a TCP ring and
  train together in Rust. The model is the same bytes as ``train_gbdt --model-out`` on the same
  rows in one process, whatever the number of workers and however Spark partitions the rows.
* :class:`FPGrowth`: frequent itemsets as Spark's parallel FP-growth (PFP) computes them, one
  FP tree per item group mined in Rust; the same itemsets and counts as ``mine_itemsets``.

The executors need inbound TCP between them (each training task listens on a free port), as
xgboost.spark's do.
"""

from ml_spark._common import MlSparkError, feature_columns
from ml_spark.gbt import (
    GBTClassificationModel,
    GBTClassifier,
    GBTRegressionModel,
    GBTRegressor,
)
from ml_spark.fpm import FPGrowth, FPGrowthModel

__all__ = [
    "FPGrowth",
    "FPGrowthModel",
    "GBTClassificationModel",
    "GBTClassifier",
    "GBTRegressionModel",
    "GBTRegressor",
    "MlSparkError",
    "feature_columns",
]
