"""The stock-prices example through Spark Connect (``spark.remote: sc://...``), run by
``kappa run`` in a subprocess against a Connect server from the pyspark wheel: its Delta
tables and counts must equal the Polars replay's."""

from __future__ import annotations

import pytest

from kappa.config.loader import load_pipeline_file
from kappa.run import execute_pipeline

from .conftest import (
    EXAMPLE,
    assert_same_tables,
    example_with_spark,
    kappa_run,
    node_counts,
    summary_counts,
    variables,
)

pytestmark = [pytest.mark.spark, pytest.mark.kafka, pytest.mark.cluster]

N, SEED = 400, 7


def test_connect_server_answers(spark_connect):
    """The server runs SQL for a Connect client in another process (a ~6 s first query)."""
    import subprocess
    import sys

    code = (
        "from pyspark.sql import SparkSession\n"
        f"s = SparkSession.builder.remote({spark_connect.remote!r}).getOrCreate()\n"
        "print(s.range(10).selectExpr('sum(id) AS s').collect()[0].s)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "45"


CONNECT_REASON = (
    "kappa's foreachBatch callable is not serializable for Spark Connect and its counters live in the "
    "driver: under Connect the callable is cloudpickled to a server-side Python worker, and "
    "NodeBatchFunction holds NodeMetrics (a threading.Lock) and CompiledNode._read_input (bound to "
    "CompiledNode, which holds the Connect SparkSession): STREAMING_CONNECT_SERIALIZATION_ERROR "
    "'cannot pickle _thread.lock'. Once it pickles, the batch work runs on the server but "
    "record_batch updates the worker's copy of NodeMetrics, so the client's summary counts stay 0 "
    "(probed with the lock and session dropped from the pickle: all four tables right, summary "
    "'0 batches, no new data' on every node); counts must come back through Spark (observed "
    "metrics in the query's progress) instead"
)


@pytest.mark.xfail(strict=False, reason=CONNECT_REASON)
def test_example_through_spark_connect_equals_polars_replay(spark_connect, gen, kafka_bootstrap, make_topic, tmp_path):
    topic = make_topic(partitions=2)
    gen.produce_kafka(kafka_bootstrap, topic, N, SEED)

    p_root, s_root = tmp_path / "polars", tmp_path / "spark"
    polars = execute_pipeline(load_pipeline_file(EXAMPLE / "pipeline.yaml", variables=variables(kafka_bootstrap, topic, p_root)), engine="polars")

    pipeline = example_with_spark(tmp_path / "pipeline.yaml", {"remote": spark_connect.remote})
    done = kappa_run(pipeline, variables(kafka_bootstrap, topic, s_root))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "on spark" in done.stdout, done.stdout

    counts = assert_same_tables(p_root, s_root)
    assert counts["brz_stock_prices"] == N
    spark_counts, polars_counts = node_counts(done.stdout), summary_counts(polars)
    for node in polars_counts:
        assert spark_counts[node][1:] == polars_counts[node][1:], (node, spark_counts[node], polars_counts[node])
