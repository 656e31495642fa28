"""kappa.testing.spark_cluster / spark_connect: clear errors when a cluster or a server cannot
start, and nothing left running after them."""

from __future__ import annotations

import pytest

from kappa.testing.spark_cluster import (
    SparkClusterError,
    driver_conf,
    repo_root,
    start_spark_cluster,
)
from kappa.testing.spark_connect import (
    SparkConnectError,
    connect_client_missing,
    start_spark_connect,
)


def test_a_spark_home_without_launchers_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("SPARK_HOME", str(tmp_path))
    with pytest.raises(SparkClusterError, match=r"bin/spark-class not found: this pyspark has no Spark launcher scripts"):
        start_spark_cluster(log_dir=tmp_path / "logs")
    with pytest.raises(SparkConnectError, match=r"bin/spark-submit not found"):
        start_spark_connect(log_dir=tmp_path / "logs")


def test_driver_conf_points_executors_at_this_checkout():
    import sys

    conf = driver_conf()
    assert conf["spark.pyspark.python"] == sys.executable
    assert conf["spark.executorEnv.PYTHONPATH"] == str(repo_root())
    assert (repo_root() / "kappa" / "testing" / "spark_cluster.py").exists()


def test_connect_client_dependencies_are_named():
    assert set(connect_client_missing()) <= {"grpcio", "grpcio-status", "googleapis-common-protos", "zstandard"}


@pytest.mark.spark
@pytest.mark.cluster
def test_a_cluster_not_ready_in_time_is_stopped_and_reported(tmp_path):
    import psutil

    with pytest.raises(SparkClusterError, match=r"Spark test cluster: 0 of 2 workers registered with spark://127\.0\.0\.1:\d+ within 1 s") as info:
        start_spark_cluster(timeout_s=1.0, log_dir=tmp_path)
    assert "--- master.log" in str(info.value) and "--- worker-1.log" in str(info.value)
    left = [p.pid for p in psutil.process_iter(["cmdline"]) if any(str(tmp_path) in a for a in (p.info["cmdline"] or []))]
    assert left == []
