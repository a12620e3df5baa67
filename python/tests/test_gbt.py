"""GBTClassifier on Spark local[2] against train_gbdt: model bytes, predictions, failures."""

import csv
import subprocess
import time

import pytest

from conftest import make_features

PARAMS = ["--num-round", "20", "--max-depth", "4", "--eta", "0.3", "--max-bin", "64"]
SPARK_PARAMS = dict(num_round=20, max_depth=4, eta=0.3, max_bin=64)


@pytest.fixture(scope="module")
def features(tmp_path_factory):
    d = tmp_path_factory.mktemp("gbt")
    return make_features(str(d / "features.parquet"))


def train_gbdt(tools, data, out_dir, *extra):
    model = out_dir / "ref.json"
    preds = out_dir / "ref_predictions.csv"
    subprocess.run(
        [tools["train_gbdt"], "--train", data, "--test", data, "--split-col", "is_test",
         "--label", "label", "--exclude", "name", "--threads", "1", *PARAMS,
         "--model-out", str(model), "--predictions-out", str(preds), *extra],
        check=True, capture_output=True,
    )
    with open(preds) as f:
        values = [float(r["prediction"]) for r in csv.DictReader(f)]
    return model.read_bytes(), values


@pytest.fixture(scope="module")
def reference(tools, features, tmp_path_factory):
    return train_gbdt(tools, features, tmp_path_factory.mktemp("ref"))


def split(spark, path):
    from pyspark.sql import functions as F

    df = spark.read.parquet(path).withColumn("row_id", F.monotonically_increasing_id())
    is_test = F.coalesce(F.col("is_test").cast("double") == 1.0, F.lit(False))
    return df.where(~is_test), df.where(is_test)


def classifier(workers, **kw):
    from ml_spark import GBTClassifier

    params = dict(labelCol="label", excludeCols=["name", "is_test", "row_id"],
                  num_workers=workers, timeout=20.0, connectTimeout=30.0, **SPARK_PARAMS)
    params.update(kw)
    return GBTClassifier(**params)


@pytest.mark.parametrize("workers", [1, 2])
def test_workers_give_the_model_bytes_of_train_gbdt(spark, features, reference, workers, tmp_path):
    from pyspark.sql import functions as F

    train, _ = split(spark, features)
    if workers > 1:
        # Another row order and another split of the rows between the workers.
        train = train.orderBy(F.rand(11))
    model = classifier(workers, force_repartition=True).fit(train)
    assert model.fit_info["workers"] == workers
    assert model.fit_info["rows"] == train.count()
    path = tmp_path / "model.json"
    model.save(path)
    assert path.read_bytes() == reference[0]


def test_an_empty_partition_lends_its_threads_and_keeps_the_model(spark, features, reference,
                                                                   tmp_path):
    from pyspark.sql import functions as F

    train, _ = split(spark, features)
    # Two partitions, every row in one of them (as Spark reads a one-row-group Parquet file):
    # the worker with rows trains on both workers' threads, the model is the same.
    skewed = train.repartition(2, F.lit(0))
    assert sorted(len(p) for p in skewed.rdd.glom().collect())[0] == 0
    model = classifier(2).fit(skewed)
    assert model.fit_info["workers"] == 2
    assert model.fit_info["rows"] == train.count()
    path = tmp_path / "model.json"
    model.save(path)
    assert path.read_bytes() == reference[0]


def test_transform_scores_equal_train_gbdt_predictions(spark, features, reference, tmp_path):
    from ml_spark import GBTClassificationModel

    train, test = split(spark, features)
    ref_path = tmp_path / "ref.json"
    ref_path.write_bytes(reference[0])
    model = GBTClassificationModel.load(ref_path)
    assert model.model_bytes == reference[0]
    rows = model.transform(test).orderBy("row_id").select("probability", "prediction").collect()
    assert [r["probability"] for r in rows] == reference[1]
    assert [r["prediction"] for r in rows] == [1.0 if p > 0.5 else 0.0 for p in reference[1]]


def test_categorical_columns_match_train_gbdt(spark, tools, features, tmp_path):
    ref, _ = train_gbdt(tools, features, tmp_path, "--categorical", "code")
    train, _ = split(spark, features)
    model = classifier(2, categoricalCols=["code"]).fit(train)
    assert model.model_bytes == ref


def test_killed_worker_fails_the_fit_without_hanging(spark, features):
    from ml_spark import MlSparkError

    train, _ = split(spark, features)
    est = classifier(2, maxAttempts=2)
    est._exit_hook = {"rank": 1, "round": 3, "attempts": [1, 2]}
    t0 = time.perf_counter()
    with pytest.raises(MlSparkError) as err:
        est.fit(train)
    assert time.perf_counter() - t0 < 240
    assert err.value.attempts == 2
    assert "attempt 2 of 2" in str(err.value)


def test_a_fit_is_retried_after_a_lost_worker(spark, features, reference):
    train, _ = split(spark, features)
    est = classifier(2, maxAttempts=2)
    est._exit_hook = {"rank": 0, "round": 2, "attempts": [1]}
    model = est.fit(train)
    assert model.fit_info["attempts"] == 2
    assert model.model_bytes == reference[0]


def test_bad_data_on_one_worker_raises_its_error_at_once(spark, features):
    from pyspark.sql import functions as F

    from ml_spark import MlSparkError

    train, _ = split(spark, features)
    bad = train.withColumn("label", F.when(F.col("row_id") == 17, F.lit(2.0)).otherwise(F.col("label")))
    with pytest.raises(MlSparkError) as err:
        classifier(2).fit(bad)
    assert err.value.kind == "ValueError"
    assert err.value.attempts == 1
    assert "not 0 or 1" in str(err.value)


def test_parameters_are_checked_on_the_driver(spark, features):
    from ml_spark import GBTClassifier

    train, _ = split(spark, features)
    with pytest.raises(ValueError, match="eta"):
        classifier(1, eta=-1.0).fit(train)
    with pytest.raises(ValueError, match="unknown parameter"):
        GBTClassifier(maxIterations=3)
    with pytest.raises(ValueError, match="name"):
        GBTClassifier(labelCol="label", excludeCols=["is_test", "row_id"]).fit(train)


def test_regressor_on_two_workers_equals_one(spark, features):
    from ml_spark import GBTRegressor

    train, test = split(spark, features)
    est = GBTRegressor(labelCol="x0", excludeCols=["name", "is_test", "row_id", "label"],
                       num_round=10, max_depth=3)
    one = est.copy({est.num_workers: 1}).fit(train)
    two = est.copy({est.num_workers: 2, est.force_repartition: True}).fit(train)
    assert one.model_bytes == two.model_bytes
    out = two.transform(test).select("prediction").collect()
    assert len(out) == test.count()
