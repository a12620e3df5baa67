"""FPGrowth (Spark's PFP, FP trees in Rust) against mine_itemsets."""

import csv
import json
import subprocess

import pytest

from conftest import make_baskets


@pytest.fixture(scope="module")
def baskets(tmp_path_factory):
    return make_baskets(str(tmp_path_factory.mktemp("fpm") / "baskets.parquet"))


def mine_itemsets(tools, path, min_support, out):
    subprocess.run(
        [tools["mine_itemsets"], "--baskets", path, "--min-support", str(min_support),
         "--threads", "1", "--itemsets-out", str(out)],
        check=True, capture_output=True,
    )
    with open(out) as f:
        return sorted((tuple(sorted(json.loads(r["items"]))), int(r["freq"])) for r in csv.DictReader(f))


@pytest.mark.parametrize("min_support,groups", [(0.02, 3), (0.005, 1), (0.005, 7)])
def test_pfp_itemsets_equal_mine_itemsets(spark, tools, baskets, tmp_path, min_support, groups):
    from ml_spark import FPGrowth

    expected = mine_itemsets(tools, baskets, min_support, tmp_path / "itemsets.csv")
    assert len(expected) > 50
    df = spark.read.parquet(baskets).repartition(3)
    model = FPGrowth(itemsCol="items", minSupport=min_support, numPartitions=groups).fit(df)
    got = sorted(
        (tuple(sorted(r["items"])), r["freq"]) for r in model.freqItemsets.collect()
    )
    assert got == expected
    assert model.num_itemsets == len(expected)


def test_string_items_and_duplicates(spark):
    from ml_spark import FPGrowth, MlSparkError

    df = spark.createDataFrame(
        [(["a", "b", "c"],), (["a", "b"],), (["a"],), (None,), (["c", "b"],)], "items array<string>"
    )
    model = FPGrowth(minSupport=0.5, numPartitions=2).fit(df)
    got = sorted((tuple(sorted(r["items"])), r["freq"]) for r in model.freqItemsets.collect())
    assert got == [(("a",), 3), (("a", "b"), 2), (("b",), 3), (("b", "c"), 2), (("c",), 2)]
    dup = spark.createDataFrame([(["a", "a"],), (["a"],)], "items array<string>")
    with pytest.raises(MlSparkError, match="unique"):
        FPGrowth(minSupport=0.5).fit(dup)
