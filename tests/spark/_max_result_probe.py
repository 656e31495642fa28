"""Run by test_executor_decode: a batch bigger than spark.driver.maxResultSize decodes on the
executors, while the driver path (toArrow) fails. Prints one JSON line."""

import json
import sys
import time
from types import SimpleNamespace

from pyspark.sql import functions as F

from kappa.engines.spark.decode import decode_kafka_frame
from kappa.engines.spark.session import get_or_create_session
from kappa.kafka.decode import decode_json_source



def main(state: str) -> None:
    spark = get_or_create_session(master="local[2]", app_name="kappa-max-result", conf={"spark.driver.maxResultSize": "1m"})
    n = 200_000
    frame = spark.range(0, n, 1, 4).select(
        F.lit(None).cast("binary").alias("key"),
        F.when(F.col("id") % 1000 == 7, F.lit("{bad")).otherwise(
            F.to_json(F.struct(F.col("id").alias("i"), F.repeat(F.lit("x"), 40).alias("s")))).cast("binary").alias("value"),
        F.lit("t").alias("topic"), F.spark_partition_id().alias("partition"), F.col("id").alias("offset"),
        F.lit("2026-01-01 00:00:00").cast("timestamp").alias("timestamp"), F.lit(0).alias("timestampType"))
    out = {}
    for name, spec in (("inferred", SimpleNamespace(value_format="json", schema=None, max_record_bytes=None)),
                       ("declared", SimpleNamespace(value_format="json", schema="i BIGINT, s STRING", max_record_bytes=None))):
        t = time.time()
        decoded = decode_kafka_frame(spark, frame, spec, state)
        out[name] = [decoded.rows.count(), decoded.dead.count(), round(time.time() - t, 1)]
        decoded.release()
    try:
        # the driver path batch.decode_kafka took before issue 9
        decode_json_source(frame.toArrow(), SimpleNamespace(value_format="json", schema="i BIGINT, s STRING", max_record_bytes=None))
        out["driver_path"] = "ok"
    except Exception as exc:  # noqa: BLE001
        out["driver_path"] = "maxResultSize" if "maxResultSize" in str(exc) else str(exc)[:300]
    print(json.dumps(out))
    spark.stop()


if __name__ == "__main__":  # not on import (pytest --doctest-modules imports every module)
    main(sys.argv[1])
