"""Helpers shared by the estimators: errors, feature columns, worker error messages, the
models cached in a worker. Spark tasks import this module: it loads nothing heavy (pyspark.ml,
pandas) at import time."""

import hashlib
import re

# Marks the messages of errors raised in our tasks, so that the driver finds them in Spark's
# wrapped exception text (a Py4JJavaError or PythonException carrying the worker traceback).
_MARK = "[ml_spark]"
_ERROR_LINE = re.compile(r"\[ml_spark\]\[(?P<kind>\w+)\] (?P<msg>.*)")


class MlSparkError(RuntimeError):
    """A distributed fit failed; the message carries the worker's error.

    ``worker_error`` is the error message of the first failed worker (or Spark's message when
    no worker reported one), ``kind`` its Python class name (``ValueError`` for bad parameters
    or data, ``RuntimeError`` for a lost or failing peer), ``attempts`` how many times the fit
    was tried.
    """

    def __init__(self, message, worker_error=None, kind=None, attempts=1):
        super().__init__(message)
        self.worker_error = worker_error
        self.kind = kind
        self.attempts = attempts


def tagged(exc, rank=None, world=None):
    """The message a task raises for ``exc``: marked so that the driver can extract it."""
    where = "" if rank is None else f"worker {rank} of {world}: "
    msg = str(exc).replace("\n", " ")
    return f"{_MARK}[{type(exc).__name__}] {where}{msg}"


def worker_error(exc):
    """``(kind, message)`` of the first tagged worker error inside a Spark exception, or
    ``(None, first line of Spark's message)``."""
    text = str(exc)
    m = _ERROR_LINE.search(text)
    if m:
        return m.group("kind"), m.group("msg").strip()
    first = next((line for line in text.splitlines() if line.strip()), repr(exc))
    return None, first.strip()


def _is_numeric(dt):
    from pyspark.sql.types import BooleanType, NumericType

    return isinstance(dt, (NumericType, BooleanType))


def feature_columns(schema, label, exclude=(), split_col=None, weight=None):
    """The feature columns ``train_gbdt`` picks: every numeric (or boolean) column of
    ``schema`` but the label, the split column, the weight and ``exclude``, in schema order.
    A non-numeric column that is not left out is an error (nothing is dropped silently)."""
    names = [f.name for f in schema.fields]
    except_ = [c for c in [label, split_col, weight, *exclude] if c]
    for c in except_:
        if c not in names:
            raise ValueError(
                f"column '{c}' not found; available columns: {', '.join(names)}"
            )
    features = []
    for f in schema.fields:
        if f.name in except_:
            continue
        if not _is_numeric(f.dataType):
            raise ValueError(
                f"column '{f.name}' has type {f.dataType.simpleString()}; expected a numeric "
                "type (leave the column out with exclude)"
            )
        features.append(f.name)
    if not features:
        raise ValueError("no feature columns: every column is the label, excluded or not numeric")
    return features


_MODELS = {}


def native_model(data):
    """The native model of the bytes ``data``, one per worker process, cached by content."""
    from ml_spark import _native

    key = hashlib.sha1(data).hexdigest()
    m = _MODELS.get(key)
    if m is None:
        if len(_MODELS) > 8:
            _MODELS.clear()
        m = _native.Model.from_bytes(data)
        _MODELS[key] = m
    return m
