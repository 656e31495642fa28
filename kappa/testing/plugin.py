"""pytest plugin registered through the ``pytest11`` entry point.

Fixtures: ``kafka_bootstrap`` (session: a Kafka broker, testcontainers where Docker answers,
the embedded Tansu broker otherwise), ``kafka_topic`` (a fresh one-partition topic) and
``make_topic(partitions=1)``. Registers the ``kafka``, ``spark`` and ``slow`` markers.
Nothing heavy is imported at import time: pytest loads this plugin in every run.
"""

from __future__ import annotations

import pytest

_MARKERS = (
    "kafka: needs a Kafka-compatible broker (embedded Tansu or testcontainers)",
    "spark: needs a local Spark session",
    "slow: long-running crash or property tests",
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
