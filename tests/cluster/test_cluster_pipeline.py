"""The stock-prices example on a multi-process Spark standalone cluster (a master and two
workers, each executor its own JVM with its own Python workers), run by ``kappa run`` in a
subprocess: its Delta tables and counts equal the Polars replay's exactly."""

from __future__ import annotations

import time

import pytest

from kappa.config.loader import load_pipeline_file
from kappa.runner import execute_pipeline

from tests.helpers.cli import kappa_run
from tests.helpers.examples import (
    EXAMPLE,
    assert_same_tables,
    example_with_spark,
    node_counts,
    summary_counts,
    variables,
)

pytestmark = [pytest.mark.spark, pytest.mark.kafka, pytest.mark.cluster]

N, SEED = 600, 5


def executor_logs(cluster) -> list:
    """The stderr file of every executor the workers launched (``work-dir/app-*/N/stderr``)."""
    return sorted(cluster.log_dir.glob("worker-*/app-*/*/stderr"))


@pytest.mark.slow  # a multi-process drill (~1 min): make test-slow; keeps make test near 10 min
def test_example_on_a_standalone_cluster_equals_polars_replay(spark_cluster, gen, kafka_bootstrap, make_topic, tmp_path):
    topic = make_topic(partitions=2)
    gen.produce_kafka(kafka_bootstrap, topic, N, SEED)

    p_root, s_root = tmp_path / "polars", tmp_path / "spark"
    polars = execute_pipeline(load_pipeline_file(EXAMPLE / "pipeline.yaml", variables=variables(kafka_bootstrap, topic, p_root)), engine="polars")

    pipeline = example_with_spark(tmp_path / "pipeline.yaml", {"master": spark_cluster.master_url, "conf": spark_cluster.driver_conf()})
    started = time.monotonic()
    done = kappa_run(pipeline, variables(kafka_bootstrap, topic, s_root))
    seconds = time.monotonic() - started
    assert done.returncode == 0, done.stdout + done.stderr
    assert "on spark" in done.stdout, done.stdout

    counts = assert_same_tables(p_root, s_root)
    expected = gen.expected_counts(N, SEED)
    assert counts["brz_stock_prices"] == N
    assert counts["slv_stock_prices_quarantine"] == expected.quarantined
    assert counts["gld_stock_performances"] == expected.gold_rows
    spark_counts, polars_counts = node_counts(done.stdout), summary_counts(polars)
    for node in polars_counts:  # batches may differ; rows in, out, dropped, quarantined, dead may not
        assert spark_counts[node][1:] == polars_counts[node][1:], (node, spark_counts[node], polars_counts[node])

    # the tasks ran in executors the two workers launched, not in the driver's process
    stderrs = executor_logs(spark_cluster)
    assert {p.parts[-4] for p in stderrs} == {"worker-0", "worker-1"}, stderrs
    for path in stderrs:
        assert "ModuleNotFoundError" not in path.read_text(errors="replace"), path
    print(f"cluster started in {spark_cluster.started_in_s:.1f} s; kappa run took {seconds:.1f} s")
