"""Frequent itemsets on Spark as Spark MLlib's parallel FP-growth (PFP) computes them, with
the per-group FP trees built and mined in Rust (``ml_fpm::pfp``).

1. Count the baskets and every item (Spark SQL); the items in at least
   ``ceil(minSupport * baskets)`` baskets are frequent and ranked by descending count.
2. Each basket becomes one conditional transaction per item group it touches (group =
   rank mod ``numPartitions``): its ranks up to its last item of that group (Rust, per partition).
3. The transactions are shuffled by group; each task builds one FP tree per group and mines the
   itemsets whose last item is in the group, with integer counts (Rust).

The union is every frequent itemset with its exact count: the same as ``mine_itemsets`` (and
Spark's ``FPGrowth``) at the same minimum support, whatever ``numPartitions`` is.
"""

import math

from pyspark.ml import Estimator, Model
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, IntegerType, LongType, StructField, StructType

from ml_spark._common import MlSparkError, tagged, worker_error


class _FPGrowthParams(Params):
    itemsCol = Param(Params._dummy(), "itemsCol", "basket column: an array of items (strings or integers)",
                     typeConverter=TypeConverters.toString)
    minSupport = Param(Params._dummy(), "minSupport",
                       "minimum support of a frequent itemset, a fraction of the baskets in (0, 1]",
                       typeConverter=TypeConverters.toFloat)
    numPartitions = Param(Params._dummy(), "numPartitions",
                          "number of item groups and mining tasks (unset: the input's partitions)",
                          typeConverter=TypeConverters.toInt)
    maxLen = Param(Params._dummy(), "maxLen", "longest itemset mined (unset: no limit)",
                   typeConverter=TypeConverters.toInt)
    maxItemsets = Param(Params._dummy(), "maxItemsets",
                        "most itemsets one group may produce (more is an error)",
                        typeConverter=TypeConverters.toInt)


class FPGrowth(Estimator, _FPGrowthParams):
    """Parallel FP-growth (Spark's PFP) with the FP trees in Rust.

    ``FPGrowth(itemsCol="items", minSupport=0.3, numPartitions=None)``; ``fit(df)`` returns an
    :class:`FPGrowthModel` whose ``freqItemsets`` is a DataFrame ``(items, freq)``. A basket that
    holds an item twice is an error, as in Spark; null baskets are skipped.
    """

    def __init__(self, **kwargs):
        super().__init__()
        self._setDefault(itemsCol="items", minSupport=0.3, numPartitions=None, maxLen=None,
                         maxItemsets=10_000_000)
        self.setParams(**kwargs)

    def setParams(self, **kwargs):
        for k in kwargs:
            if not self.hasParam(k):
                raise ValueError(f"unknown parameter '{k}'")
        self._set(**kwargs)
        return self

    def _fit(self, dataset):
        import pyarrow as pa
        from pyspark.sql.pandas.types import to_arrow_type

        items_col = self.getOrDefault(self.itemsCol)
        min_support = self.getOrDefault(self.minSupport)
        if not 0.0 < min_support <= 1.0:
            raise ValueError(f"minSupport must be in (0, 1], got {min_support}")
        field = dataset.schema[items_col]
        if not isinstance(field.dataType, ArrayType):
            raise ValueError(
                f"column '{items_col}' must be an array of items, got {field.dataType.simpleString()}"
            )
        elem = field.dataType.elementType
        groups = self.getOrDefault(self.numPartitions) or dataset.rdd.getNumPartitions()
        max_len = self.getOrDefault(self.maxLen)
        max_itemsets = self.getOrDefault(self.maxItemsets)
        spark = dataset.sparkSession

        baskets = dataset.select(F.col(items_col).alias("items")).where(F.col("items").isNotNull())
        baskets = baskets.persist()
        try:
            n = baskets.count()
            min_count = max(1, math.ceil(min_support * n))
            counts = (
                baskets.select(F.explode("items").alias("item"))
                .where(F.col("item").isNotNull())
                .groupBy("item")
                .count()
                .where(F.col("count") >= min_count)
                .collect()
            )
            counts.sort(key=lambda r: (-r["count"], r["item"]))
            freq_items = pa.array([r["item"] for r in counts], type=to_arrow_type(elem))
            shared = spark.sparkContext.broadcast(freq_items)

            def conditional(batches):
                from ml_spark import _native

                for b in batches:
                    try:
                        yield _native.pfp_conditional(b, "items", shared.value, groups)
                    except ValueError as e:
                        raise ValueError(tagged(e)) from None

            def mine(batches):
                import pyarrow as pa

                from ml_spark import _native

                first = next(batches, None)
                if first is None:
                    return

                def chain():
                    yield first
                    yield from batches

                reader = pa.RecordBatchReader.from_batches(first.schema, chain())
                try:
                    out = _native.pfp_mine(reader, shared.value, groups, min_count, max_len,
                                           max_itemsets)
                except Exception as e:  # noqa: BLE001
                    raise RuntimeError(tagged(e)) from None
                yield from pa.Table.from_batches([out]).to_batches(max_chunksize=65536)

            cond_schema = StructType(
                [StructField("group", IntegerType(), False),
                 StructField("ranks", ArrayType(IntegerType()), False)]
            )
            out_schema = StructType(
                [StructField("items", ArrayType(elem), False), StructField("freq", LongType(), False)]
            )
            itemsets = (
                baskets.mapInArrow(conditional, cond_schema)
                .repartition(groups, "group")
                .mapInArrow(mine, out_schema)
                .persist()
            )
            try:
                num = itemsets.count()
            except Exception as e:  # noqa: BLE001
                kind, msg = worker_error(e)
                raise MlSparkError(f"FP-growth failed: {msg}", worker_error=msg, kind=kind) from e
        finally:
            baskets.unpersist()
        model = FPGrowthModel(itemsets, n, min_count, num, len(counts))
        self._copyValues(model)
        return model


class FPGrowthModel(Model, _FPGrowthParams):
    """The frequent itemsets of a :class:`FPGrowth` fit."""

    def __init__(self, itemsets, num_transactions, min_count, num_itemsets, num_items):
        super().__init__()
        self._itemsets = itemsets
        self.num_transactions = num_transactions
        self.min_count = min_count
        self.num_itemsets = num_itemsets
        self.num_items = num_items

    @property
    def freqItemsets(self):
        """DataFrame ``(items, freq)``: every frequent itemset and its number of baskets."""
        return self._itemsets

    def _transform(self, dataset):
        raise NotImplementedError(
            "FPGrowthModel.transform (recommendations) is not implemented on Spark; use "
            "freqItemsets, or ml-fpm's FPGrowthModel in Rust"
        )
