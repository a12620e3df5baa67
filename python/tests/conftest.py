"""Fixtures: a Spark local[2] session, the repository's command-line tools, test data.

The PySpark tests need Java and pyspark; without them they are skipped with a message. The
reference tools (``train_gbdt``, ``mine_itemsets``) are examples of the root package: set
``ML_TRAIN_GBDT`` / ``ML_MINE_ITEMSETS`` to their paths, or they are built with
``cargo build --example train_gbdt --example mine_itemsets`` (honouring ``CARGO_TARGET_DIR``).
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _missing_spark():
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        return "Java is not installed (the PySpark tests need a JRE; .ci/run installs one)"
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed (pip install pyspark pyarrow pandas)"
    return None


@pytest.fixture(scope="session")
def spark():
    why = _missing_spark()
    if why:
        pytest.skip(f"PySpark tests skipped: {why}")
    from pyspark.sql import SparkSession

    # Spark starts its Python workers with `python3` from PATH unless told otherwise; that is
    # not this interpreter when pytest runs from a virtualenv that is not activated (as in
    # .ci/run), and the workers could then not import ml_spark.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    session = (
        SparkSession.builder.master("local[2]")
        .appName("ml_spark tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.driver.memory", "2g")
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", "1000")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def _target_dir():
    if os.environ.get("CARGO_TARGET_DIR"):
        return Path(os.environ["CARGO_TARGET_DIR"])
    meta = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--no-deps"],
        cwd=REPO, check=True, capture_output=True, text=True,
    )
    return Path(json.loads(meta.stdout)["target_directory"])


@pytest.fixture(scope="session")
def tools():
    """Paths of ``train_gbdt`` and ``mine_itemsets`` (dev profile)."""
    paths = {
        "train_gbdt": os.environ.get("ML_TRAIN_GBDT"),
        "mine_itemsets": os.environ.get("ML_MINE_ITEMSETS"),
    }
    if not all(paths.values()):
        if shutil.which("cargo") is None:
            pytest.skip("cargo is not installed and ML_TRAIN_GBDT / ML_MINE_ITEMSETS are unset")
        subprocess.run(
            ["cargo", "build", "--example", "train_gbdt", "--example", "mine_itemsets"],
            cwd=REPO, check=True,
        )
        examples = _target_dir() / "debug" / "examples"
        for k in paths:
            paths[k] = paths[k] or str(examples / k)
    return paths


def make_features(path, rows=6000, seed=7):
    """A features table like the peers harness's: ``label`` (0/1), ``is_test`` (about 20%),
    float features with missing values, an integer code column, a boolean."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    x0 = rng.normal(size=rows)
    x1 = rng.uniform(0, 10, size=rows)
    x2 = rng.exponential(2.0, size=rows)
    code = rng.integers(0, 12, size=rows)
    flag = rng.random(rows) < 0.3
    noise = rng.normal(size=rows)
    logit = 0.8 * x0 - 0.3 * x1 + 0.5 * np.log1p(x2) + (code % 3 == 0) * 0.7 + flag * 0.4 + 0.5 * noise
    label = (logit + rng.logistic(size=rows) > -1.0).astype(np.float64)
    x1[rng.random(rows) < 0.05] = np.nan
    x2_masked = pa.array(x2, mask=rng.random(rows) < 0.03)
    is_test = (rng.random(rows) < 0.2).astype(np.int64)
    table = pa.table(
        {
            "label": label,
            "is_test": is_test,
            "x0": x0,
            "x1": x1,
            "x2": x2_masked,
            "code": code.astype(np.int64),
            "flag": flag,
            "noise": noise.astype(np.float32),
            "name": [f"row{i}" for i in range(rows)],
        }
    )
    pq.write_table(table, path)
    return path


def make_baskets(path, baskets=3000, items=60, seed=3):
    """Baskets as a Parquet list column ``items`` (integers), Zipf-like popularity and a few
    planted groups."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    pop = 1.0 / np.arange(1, items + 1) ** 0.8
    pop /= pop.sum()
    groups = [rng.choice(items, size=int(rng.integers(2, 5)), replace=False) for _ in range(6)]
    out = []
    for _ in range(baskets):
        k = int(rng.integers(1, 9))
        b = set(int(i) for i in rng.choice(items, size=k, p=pop))
        if rng.random() < 0.3:
            g = groups[int(rng.integers(len(groups)))]
            b.update(int(i) for i in g if rng.random() < 0.9)
        out.append(sorted(b, key=lambda i: (i * 7919) % items))  # not sorted by item
    pq.write_table(pa.table({"items": pa.array(out, type=pa.list_(pa.int64()))}), path)
    return path
