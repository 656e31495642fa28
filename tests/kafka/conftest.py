"""Fixtures for the Kafka layer tests (the broker fixtures come from kappa.testing.plugin)."""

from __future__ import annotations

import pytest


@pytest.fixture
def conf(kafka_bootstrap) -> dict:
    """A plain client config for the session broker."""
    from kappa.kafka.client import client_config

    return client_config(kafka_bootstrap)


@pytest.fixture
def batched_producer(conf):
    """A producer that batches (linger.ms=50), the case Tansu's ListOffsets gets wrong."""
    from confluent_kafka import Producer

    producer = Producer({**conf, "linger.ms": 50, "enable.idempotence": True, "acks": "all"})
    yield producer
    producer.flush(30)


@pytest.fixture
def produce_batched(batched_producer):
    """``produce_batched(topic, n, partitions)``: records ``{"i": i}`` with key ``k<i>``,
    record i to partition ``i % partitions``, through the batching producer."""
    return lambda topic, n, partitions: _produce_batched(batched_producer, topic, n, partitions)


def _produce_batched(producer, topic: str, n: int, partitions: int) -> None:
    for i in range(n):
        while True:
            try:
                producer.produce(
                    topic, key=b"k%d" % i, value=b'{"i":%d}' % i, partition=i % partitions
                )
                break
            except BufferError:
                producer.poll(0.05)
    assert producer.flush(30) == 0
