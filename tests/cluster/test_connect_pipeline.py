"""The stock-prices example through Spark Connect (``spark.remote: sc://...``), run by
``kappa run`` in a subprocess against a Connect server from the pyspark wheel: its Delta
tables and counts must equal the Polars replay's."""

from __future__ import annotations

import pytest

from kappa.config.loader import load_pipeline_file
from kappa.runner import execute_pipeline

from tests.helpers.cli import kappa_cli, kappa_run
from tests.helpers.examples import (
    EXAMPLE,
    assert_same_tables,
    example_with_spark,
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


@pytest.mark.slow  # a multi-process drill (~1 min): make test-slow; keeps make test near 10 min
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


def kappa_stream_until_idle(pipeline, vars_: dict[str, str], timeout_s: float = 240):
    """``python -m kappa.cli stream start PIPELINE --until-idle --profile python`` in a subprocess."""
    return kappa_cli(["stream", "start"], pipeline, vars_, ["--until-idle", "--refresh", "0.5"], timeout_s=timeout_s)


@pytest.mark.slow
def test_example_stream_start_through_spark_connect_equals_polars_replay(spark_connect, gen, kafka_bootstrap, make_topic, tmp_path):
    """``kappa stream start --until-idle`` over Connect: the same tables as the Polars replay, and
    the summary's counts (read from the checkpoints' batch records) equal to the replay's rows."""
    topic = make_topic(partitions=2)
    gen.produce_kafka(kafka_bootstrap, topic, N, SEED)

    p_root, s_root = tmp_path / "polars", tmp_path / "spark"
    polars = execute_pipeline(load_pipeline_file(EXAMPLE / "pipeline.yaml", variables=variables(kafka_bootstrap, topic, p_root)), engine="polars")

    pipeline = example_with_spark(tmp_path / "pipeline.yaml", {"remote": spark_connect.remote})
    done = kappa_stream_until_idle(pipeline, variables(kafka_bootstrap, topic, s_root))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "stopped: all input consumed" in done.stdout, done.stdout
    assert "NOT supported in Spark Connect" not in done.stderr, done.stderr

    counts = assert_same_tables(p_root, s_root)
    assert counts["brz_stock_prices"] == N
    summary = done.stdout.split("stopped: all input consumed", 1)[1]
    spark_counts, polars_counts = node_counts(summary), summary_counts(polars)
    # the gold node re-reads silver on every run: compare what a streaming node adds up
    for node in ("brz_stock_prices", "slv_stock_prices"):
        assert spark_counts[node][1:] == polars_counts[node][1:], (node, spark_counts[node], polars_counts[node])
    assert int(spark_counts["gld_stock_performances"][0]) >= 1


@pytest.mark.slow
def test_failing_batch_through_spark_connect_reports_kappas_error(spark_connect, gen, kafka_bootstrap, make_topic, tmp_path):
    """A ``fail`` expectation raised in the server's worker: the client reports kappa's own
    message (read from the batch's record in the checkpoint), and nothing of silver is written."""
    topic = make_topic(partitions=1)
    gen.produce_kafka(kafka_bootstrap, topic, 50, SEED)
    text = (EXAMPLE / "pipeline.yaml").read_text()
    old = "    action: quarantine\n  sinks:"
    assert old in text
    text = text.replace(old, "    action: quarantine\n  - name: no_volume\n    expr: volume < 0\n    action: fail\n  sinks:")
    src = tmp_path / "failing.yaml"
    src.write_text(text)
    pipeline = tmp_path / "pipeline.yaml"
    pipeline.write_text(f"{src.read_text()}\nspark: {{\"remote\": \"{spark_connect.remote}\"}}\n")
    root = tmp_path / "spark"
    done = kappa_run(pipeline, variables(kafka_bootstrap, topic, root))
    assert done.returncode == 1, done.stdout + done.stderr
    out = done.stdout + done.stderr
    assert "error: node 'slv_stock_prices' failed: expectation 'no_volume' failed on 50 row(s); no sink was written" in out, out
    assert not (root / "slv_stock_prices").exists()
    assert (root / "brz_stock_prices").exists()
