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

# The estimators are loaded on first use (PEP 562): importing them pulls in pyspark.ml (with
# pandas and scipy, ~0.5 s of CPU), which the Spark tasks, importing this package for its
# native module, do not need.
_EXPORTS = {
    "FPGrowth": "ml_spark.fpm",
    "FPGrowthModel": "ml_spark.fpm",
    "GBTClassificationModel": "ml_spark.gbt",
    "GBTClassifier": "ml_spark.gbt",
    "GBTRegressionModel": "ml_spark.gbt",
    "GBTRegressor": "ml_spark.gbt",
    "MlSparkError": "ml_spark._common",
    "feature_columns": "ml_spark._common",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'ml_spark' has no attribute '{name}'")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
