# Generated tests/data/spark_parts with PySpark 4.3.0 (peers venv), local[1]; output moved here.
# Spark read it back as the Rows printed at the end (ordered by id):
# id=1 a 0.5 2020 eu; id=2 b None 2020 eu; id=3 None 2.25 2021 eu; id=4 d -1.0 2021 us:west; id=5 e 3.0 2021 None
from pyspark.sql import SparkSession
spark = SparkSession.builder.master("local[1]").config("spark.ui.enabled","false").getOrCreate()
rows = [(1, "a", 0.5, 2020, "eu"), (2, "b", None, 2020, "eu"), (3, None, 2.25, 2021, "eu"),
        (4, "d", -1.0, 2021, "us:west"), (5, "e", 3.0, 2021, None)]
df = spark.createDataFrame(rows, "id long, name string, score double, year int, region string")
df.repartition(1).write.mode("overwrite").partitionBy("year", "region").parquet("/tmp/io_fixture/spark_parts")
print(spark.read.parquet("/tmp/io_fixture/spark_parts").orderBy("id").collect())
