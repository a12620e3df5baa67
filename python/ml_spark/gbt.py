"""Boosted trees on Spark: :class:`GBTClassifier`, :class:`GBTRegressor` and their models.

``fit`` selects the feature, label and weight columns, repartitions the rows into
``num_workers`` partitions and runs ``mapInArrow(train, schema, barrier=True)``: one barrier task
per worker. Each task hands its partition's Arrow batches to Rust through the Arrow C stream
interface (no copy), opens a listener on a free port, learns the other workers' ``host:port``
from ``BarrierTaskContext.allGather`` (ordered by partition id = rank), and trains with the
others over a TCP ring (job id and attempt in the handshake, a timeout on every read and write).
Rank 0 returns the model's file bytes to the driver; when only one worker's partition holds
rows, that worker trains alone (no ring calls; the same model bytes) and returns them.

When a task fails (a lost executor, a peer that stopped answering, bad data), Spark fails the
barrier stage and every task of it; ``fit`` then raises :class:`MlSparkError` with the worker's
message, after retrying the whole fit ``maxAttempts`` times in all (Spark does not retry a
barrier result stage). Errors in the parameters or the data (``ValueError`` on a worker) are not
retried.
"""

import json
import logging
import os
import re
import threading
import time
import uuid

from pyspark.ml import Estimator, Model
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.sql.types import (
    ArrayType,
    BinaryType,
    DoubleType,
    IntegerType,
    LongType,
    StructField,
    StructType,
)

from ml_spark import _native
from ml_spark._common import MlSparkError, feature_columns, native_model, tagged, worker_error

log = logging.getLogger("ml_spark")

# Spark-side parameters (camelCase, as pyspark.ml names them).
_SPARK_PARAMS = {
    "labelCol": ("label column (numeric; 0/1 for binary:logistic)", "label", TypeConverters.toString),
    "weightCol": ("optional sample weight column", None, None),
    "featuresCols": (
        "feature columns (numeric, nulls = missing); unset: every numeric column but the "
        "label, the weight and excludeCols, in schema order (as train_gbdt picks them)",
        None,
        None,
    ),
    "excludeCols": ("columns that are not features when featuresCols is unset", [], TypeConverters.toListString),
    "categoricalCols": (
        "feature columns holding integer category codes (split on category subsets)",
        [],
        TypeConverters.toListString,
    ),
    "predictionCol": ("output prediction column", "prediction", TypeConverters.toString),
    "probabilityCol": ("output probability column (classifiers)", "probability", TypeConverters.toString),
    "rawPredictionCol": ("output margin column (classifiers)", "rawPrediction", TypeConverters.toString),
    "num_workers": ("number of training workers (barrier tasks)", 1, TypeConverters.toInt),
    "n_threads": (
        "threads per worker; unset: spark.task.cpus. A worker whose partition is empty lends "
        "its threads to the workers with rows, in proportion to their rows", None, None,
    ),
    "force_repartition": (
        "repartition even when the data already has num_workers partitions", False,
        TypeConverters.toBoolean,
    ),
    "maxAttempts": ("times a fit is tried before it fails (a barrier stage is not retried by Spark)", 2, TypeConverters.toInt),
    "timeout": ("seconds a worker waits for a peer in one read or write", 30.0, TypeConverters.toFloat),
    "connectTimeout": ("seconds the workers wait for each other while the ring opens", 60.0, TypeConverters.toFloat),
    "bindHost": ("address the workers listen on", "0.0.0.0", TypeConverters.toString),
}

# The trees' parameters, our names (ml-tree's GradientBoostedTrees), from the native module.
_TREE_SPECS = [
    (name, doc, json.loads(default))
    for name, doc, default in _native.gbt_param_specs()
    if name != "n_threads"
]
_TREE_NAMES = [s[0] for s in _TREE_SPECS]


class _GBTParams(Params):
    """The parameters of the estimators and models (set as attributes below)."""

    def _tree_params(self):
        """The tree parameters set explicitly, as a dict (unset ones keep the library's
        defaults)."""
        out = {}
        for name in _TREE_NAMES:
            p = getattr(self, name)
            if self.isSet(p):
                out[name] = self.getOrDefault(p)
        return out


for _name, (_doc, _default, _conv) in _SPARK_PARAMS.items():
    setattr(_GBTParams, _name, Param(Params._dummy(), _name, _doc, typeConverter=_conv))
for _name, _doc, _default in _TREE_SPECS:
    setattr(_GBTParams, _name, Param(Params._dummy(), _name, _doc))


def _task_cpus(spark):
    try:
        return int(spark.sparkContext.getConf().get("spark.task.cpus", "1"))
    except Exception:  # noqa: BLE001 - a remote session without a SparkContext
        return 1


# Errors that only echo another worker's failure.
_SECONDARY = re.compile(
    r"another worker|closed the connection|collective unusable|timed out after|no connection from"
)


def _train_task(cfg):
    """The function each barrier task runs (captures only plain values)."""

    def run(batches):
        import pyarrow as pa
        from pyspark import BarrierTaskContext

        from ml_spark import _native as native

        t0 = time.perf_counter()
        ctx = BarrierTaskContext.get()
        rank = ctx.partitionId()
        infos = ctx.getTaskInfos()
        world = len(infos)
        host = infos[rank].address.rsplit(":", 1)[0]
        failure = None
        try:
            listener = native.Listener(cfg["bind_host"])
        except Exception as e:  # still meet the others in allGather, then fail
            listener = None
            failure = e
        # Spark's allGather checks for the others once a second, so it costs at least a
        # second: it runs in a thread while this task reads its partition.
        gathered = {}

        def gather():
            try:
                gathered["addresses"] = ctx.allGather(
                    f"{host}:{listener.port if listener else 0}"
                )
            except BaseException as e:  # noqa: BLE001 - re-raised in the task below
                gathered["error"] = e

        meeting = threading.Thread(target=gather, name="ml_spark-allGather", daemon=True)
        meeting.start()
        # The partition's batches, as pyarrow holds them (Rust imports them without copying).
        held = list(batches)
        t_read = time.perf_counter()
        meeting.join()
        if "error" in gathered:
            raise gathered["error"]
        addresses = gathered["addresses"]
        if listener is None:
            raise RuntimeError(tagged(failure, rank, world)) from failure
        t_gather = time.perf_counter()
        schema = held[0].schema if held else cfg["schema"]
        reader = pa.RecordBatchReader.from_batches(schema, iter(held))
        del held
        exit_at = None
        hook = cfg.get("exit_hook")
        if hook and hook["rank"] == rank and cfg["attempt"] in hook.get("attempts", [1]):
            exit_at = hook["round"]
        try:
            rows, model = native.train_gbt(
                reader,
                cfg["params"],
                cfg["label"],
                cfg["features"],
                cfg["categorical"],
                cfg["weight"],
                cfg["n_threads"],
                rank,
                list(addresses),
                listener,
                cfg["job_id"],
                cfg["attempt"],
                timeout_s=cfg["timeout"],
                connect_timeout_s=cfg["connect_timeout"],
                exit_at_round=exit_at,
            )
        except ValueError as e:
            raise ValueError(tagged(e, rank, world)) from None
        except Exception as e:  # noqa: BLE001 - every failure goes to the driver, tagged
            if _SECONDARY.search(str(e)):
                # Spark reports the first task that fails: give the worker that failed first
                # (whose error this one only echoes) the time to be that task.
                time.sleep(cfg["echo_delay"])
            raise RuntimeError(tagged(e, rank, world)) from None
        t_end = time.perf_counter()
        yield pa.RecordBatch.from_pydict(
            {"rank": [rank], "rows": [rows], "model": [model],
             "read_s": [t_read - t0], "gather_s": [t_gather - t_read],
             "train_s": [t_end - t_gather]},
            schema=pa.schema(
                [("rank", pa.int32()), ("rows", pa.int64()), ("model", pa.binary()),
                 ("read_s", pa.float64()), ("gather_s", pa.float64()),
                 ("train_s", pa.float64())]
            ),
        )

    return run


_TRAIN_SCHEMA = StructType(
    [
        StructField("rank", IntegerType()),
        StructField("rows", LongType()),
        StructField("model", BinaryType()),
        StructField("read_s", DoubleType()),
        StructField("gather_s", DoubleType()),
        StructField("train_s", DoubleType()),
    ]
)


class _GBTEstimator(Estimator, _GBTParams):
    _default_objective = "binary:logistic"

    def __init__(self, **kwargs):
        super().__init__()
        defaults = {k: v[1] for k, v in _SPARK_PARAMS.items()}
        self._setDefault(**defaults)
        self._setDefault(**{name: default for name, _, default in _TREE_SPECS})
        self._setDefault(objective=self._default_objective)
        # Test hook: {"rank", "round", "attempts"}: that worker's process exits after the round.
        self._exit_hook = None
        self.setParams(**kwargs)

    def setParams(self, **kwargs):
        """Sets parameters by name (our tree names such as ``num_round``, ``eta``,
        ``max_depth``, ``max_bin``, and the Spark-side ones such as ``labelCol``)."""
        for k in kwargs:
            if not self.hasParam(k):
                known = ", ".join(sorted(p.name for p in self.params))
                raise ValueError(f"unknown parameter '{k}'; known: {known}")
        self._set(**kwargs)
        return self

    def _features(self, schema):
        cols = self.getOrDefault(self.featuresCols)
        if cols:
            return list(cols)
        weight = self.getOrDefault(self.weightCol)
        return feature_columns(
            schema, self.getOrDefault(self.labelCol), self.getOrDefault(self.excludeCols),
            weight=weight,
        )

    def _params_json(self):
        params = self._tree_params()
        params["objective"] = self.getOrDefault(self.objective)
        return json.dumps(params)

    def _fit(self, dataset):
        import pyarrow as pa
        from pyspark.sql.pandas.types import to_arrow_schema

        spark = dataset.sparkSession
        label = self.getOrDefault(self.labelCol)
        weight = self.getOrDefault(self.weightCol)
        features = self._features(dataset.schema)
        categorical = list(self.getOrDefault(self.categoricalCols))
        for c in categorical:
            if c not in features:
                raise ValueError(f"categorical column '{c}' is not a feature column")
        params = self._params_json()
        _native.check_gbt_params(params)
        n = self.getOrDefault(self.num_workers)
        if n < 1:
            raise ValueError(f"num_workers must be at least 1, got {n}")
        threads = self.getOrDefault(self.n_threads) or _task_cpus(spark)
        cols = features + [label] + ([weight] if weight else [])
        data = dataset.select(*cols)
        # The model does not depend on how the rows are split, so more partitions than workers
        # are merged without a shuffle; only fewer partitions than workers need one.
        parts = data.rdd.getNumPartitions()
        if self.getOrDefault(self.force_repartition) or parts < n:
            data = data.repartition(n)
        elif parts > n:
            data = data.coalesce(n)
        cfg = {
            "params": params,
            "label": label,
            "features": features,
            "categorical": categorical,
            "weight": weight,
            "n_threads": int(threads),
            "job_id": uuid.uuid4().hex,
            "timeout": float(self.getOrDefault(self.timeout)),
            "connect_timeout": float(self.getOrDefault(self.connectTimeout)),
            "bind_host": self.getOrDefault(self.bindHost),
            "schema": to_arrow_schema(data.schema),
            "exit_hook": self._exit_hook,
            "echo_delay": 3.0,
        }
        attempts = max(1, self.getOrDefault(self.maxAttempts))
        t0 = time.perf_counter()
        for attempt in range(1, attempts + 1):
            cfg["attempt"] = attempt
            try:
                rows = data.mapInArrow(_train_task(dict(cfg)), _TRAIN_SCHEMA, barrier=True).collect()
                break
            except Exception as e:  # noqa: BLE001 - Py4JJavaError, PythonException, ...
                kind, msg = worker_error(e)
                if kind == "ValueError" or attempt == attempts:
                    raise MlSparkError(
                        f"distributed fit failed (attempt {attempt} of {attempts}): {msg}",
                        worker_error=msg,
                        kind=kind,
                        attempts=attempt,
                    ) from e
                log.warning("ml_spark: fit attempt %d of %d failed, retrying: %s", attempt, attempts, msg)
        # Rank 0 returns the model, or the only worker holding rows, which trained alone.
        model_bytes = next(r["model"] for r in rows if r["model"] is not None)
        model = self._model_class(bytes(model_bytes))
        model._fit_info = {
            "rows": int(sum(r["rows"] for r in rows)),
            "workers": n,
            "attempts": attempt,
            "fit_s": time.perf_counter() - t0,
            # Per rank (in rank order): seconds reading the partition's batches (Spark's
            # stages before the fit's, the shuffle, the transfer to Python), waiting for the
            # other workers (allGather), and training (ring, binning, boosting, model bytes).
            **{k: [r[k] for r in sorted(rows, key=lambda r: r["rank"])]
               for k in ("read_s", "gather_s", "train_s")},
        }
        self._copyValues(model)
        return model

    def copy(self, extra=None):
        that = super().copy(extra)
        that._exit_hook = self._exit_hook
        return that


class _GBTModel(Model, _GBTParams):
    """A fitted model: the file bytes of ``train_gbdt --model-out`` and Spark-side column
    names."""

    def __init__(self, model_bytes):
        super().__init__()
        self._setDefault(**{k: v[1] for k, v in _SPARK_PARAMS.items()})
        self._bytes = bytes(model_bytes)
        self._native = _native.Model.from_bytes(self._bytes)
        self._fit_info = {}

    @property
    def model_bytes(self):
        """The model file's bytes (what :meth:`save` writes)."""
        return self._bytes

    @property
    def feature_names(self):
        """The feature columns, in slot order."""
        return list(self._native.feature_names)

    @property
    def objective(self):
        return self._native.objective

    @property
    def num_class(self):
        return self._native.num_class

    @property
    def fit_info(self):
        """``{"rows", "workers", "attempts", "fit_s"}`` of the fit that made this model."""
        return dict(self._fit_info)

    def save(self, path):
        """Writes the model file (the same bytes as ``train_gbdt --model-out``) to a local
        ``path``, atomically."""
        path = os.fspath(path)
        tmp = f"{path}.tmp-{uuid.uuid4().hex[:8]}"
        with open(tmp, "wb") as f:
            f.write(self._bytes)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    @classmethod
    def load(cls, path):
        """Reads a model file written by :meth:`save` or ``train_gbdt --model-out``."""
        with open(os.fspath(path), "rb") as f:
            return cls(f.read())

    def _outputs(self):
        """(raw, prob, pred) output column names and Spark types."""
        obj, k = self._native.objective, self._native.num_class
        pred = self.getOrDefault(self.predictionCol)
        if obj == "binary:logistic":
            return [
                (self.getOrDefault(self.rawPredictionCol), DoubleType()),
                (self.getOrDefault(self.probabilityCol), DoubleType()),
                (pred, DoubleType()),
            ]
        if obj == "multi:softmax":
            return [
                (self.getOrDefault(self.rawPredictionCol), ArrayType(DoubleType())),
                (self.getOrDefault(self.probabilityCol), ArrayType(DoubleType())),
                (pred, DoubleType()),
            ]
        return [(None, None), (None, None), (pred, DoubleType() if k == 1 else ArrayType(DoubleType()))]

    def _transform(self, dataset):
        outs = self._outputs()
        fields = list(dataset.schema.fields) + [
            StructField(name, t, True) for name, t in outs if name is not None
        ]
        features = self.feature_names
        names = [name for name, _ in outs]
        data = self._bytes

        def score(batches):
            m = native_model(data)
            for b in batches:
                yield m.score(b, features, names[0], names[1], names[2])

        return dataset.mapInArrow(score, StructType(fields))


class GBTClassifier(_GBTEstimator):
    """Boosted-trees classifier (``binary:logistic`` or ``multi:softmax``) trained on
    ``num_workers`` Spark barrier tasks. Parameters: our tree names (``num_round``, ``eta``,
    ``max_depth``, ``max_bin``, ``min_child_weight``, ``lambda``, ``gamma``, ``subsample``,
    ``colsample_bytree``, ``grow_policy``, ``max_leaves``, ``seed``, ...; aliases such as
    ``n_estimators`` are not Params here) and Spark-side column parameters (``labelCol``,
    ``featuresCols``, ``excludeCols``, ``categoricalCols``, ``weightCol``, output columns),
    ``num_workers``, ``n_threads``, ``maxAttempts``, ``timeout``, ``connectTimeout``.

    The model (``transform``) appends ``rawPrediction`` (margin), ``probability``
    (P(class 1)) and ``prediction`` as doubles for binary; lists of doubles per class for
    multiclass.
    """

    _default_objective = "binary:logistic"

    @property
    def _model_class(self):
        return GBTClassificationModel


class GBTRegressor(_GBTEstimator):
    """Boosted-trees regressor (``reg:squarederror`` by default, or any regression objective
    of the library); parameters as :class:`GBTClassifier`. The model appends
    ``prediction``."""

    _default_objective = "reg:squarederror"

    @property
    def _model_class(self):
        return GBTRegressionModel


class GBTClassificationModel(_GBTModel):
    """A fitted :class:`GBTClassifier`."""


class GBTRegressionModel(_GBTModel):
    """A fitted :class:`GBTRegressor`."""
