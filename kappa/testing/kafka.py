"""Kafka helpers for tests: choose a broker (testcontainers or embedded Tansu), produce, consume.

Everything heavy (confluent-kafka, pyarrow, testcontainers) is imported inside functions.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

# Set KAPPA_TEST_BROKER=tansu to skip the Docker probe, =docker to require Docker.
BROKER_ENV = "KAPPA_TEST_BROKER"
_DOCKER_PROBE_TIMEOUT_S = 2.0


def docker_available(timeout: float = _DOCKER_PROBE_TIMEOUT_S) -> bool:
    """True when testcontainers is installed and a Docker engine answers a ping in time."""
    try:
        import docker  # installed with testcontainers

        _kafka_container_class()
    except ImportError:
        return False
    try:
        client = docker.from_env(timeout=timeout)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # noqa: BLE001 - any failure means no usable engine
        return False


def _kafka_container_class():
    """testcontainers' KafkaContainer (its ``community`` module from 4.13 on)."""
    try:
        from testcontainers.community.kafka import KafkaContainer
    except ImportError:
        from testcontainers.kafka import KafkaContainer
    return KafkaContainer


class KafkaForTests:
    """A running broker for a test session: ``bootstrap_servers`` and ``stop()``."""

    def __init__(self, bootstrap_servers: str, stop: Callable[[], None], kind: str):
        self.bootstrap_servers = bootstrap_servers
        self.kind = kind
        self._stop = stop

    def stop(self) -> None:
        """Stop the broker (idempotent)."""
        stop, self._stop = self._stop, (lambda: None)
        stop()


def start_test_broker() -> KafkaForTests:
    """Start a Kafka broker for tests: testcontainers' KafkaContainer where a Docker engine
    answers, the embedded Tansu broker otherwise (``KAPPA_TEST_BROKER`` forces one)."""
    choice = os.environ.get(BROKER_ENV, "auto").strip().lower()
    if choice in ("docker", "auto") and (choice == "docker" or docker_available()):
        container = _kafka_container_class()().start()
        return KafkaForTests(container.get_bootstrap_server(), container.stop, "docker")
    from kappa.broker import EmbeddedBroker

    broker = EmbeddedBroker().start()
    return KafkaForTests(broker.bootstrap_servers, broker.stop, "tansu")


def unique_topic(prefix: str = "kappa-test") -> str:
    """A topic name that no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def conf_for(bootstrap: str) -> dict:
    """A plain client config for ``bootstrap``."""
    from kappa.kafka.client import client_config

    return client_config(bootstrap)


def produce(
    bootstrap: str,
    topic: str,
    records: Iterable[Mapping[str, Any]],
    key: str | Callable | None = None,
) -> int:
    """Produce ``records`` as JSON values to ``topic``; returns the number delivered."""
    from kappa.kafka.writer import produce_json

    return produce_json(conf_for(bootstrap), topic, records, key=key)


def consume_all(bootstrap: str, topic: str, include_headers: bool = False) -> "pa.Table":
    """Every record of ``topic`` from earliest to the current end (Spark's Kafka columns)."""
    from kappa.kafka.offsets import earliest_offsets, end_offsets, list_partitions
    from kappa.kafka.reader import read_range

    conf = conf_for(bootstrap)
    tps = list_partitions(conf, [topic])
    starts = earliest_offsets(conf, tps)
    ends = end_offsets(conf, tps)
    return read_range(conf, {tp: (starts[tp], ends[tp]) for tp in tps}, include_headers)
