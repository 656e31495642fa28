"""The pytest plugin: markers, broker fixtures, helpers."""

from __future__ import annotations

import subprocess
import sys

import pytest

from kappa.kafka.offsets import list_partitions
from kappa.testing.kafka import consume_all, produce

pytestmark = pytest.mark.kafka


def test_markers_are_registered(pytestconfig):
    markers = "\n".join(pytestconfig.getini("markers"))
    for name in ("kafka:", "spark:", "slow:"):
        assert name in markers


def test_fixtures_give_fresh_topics(kafka_bootstrap, kafka_topic, make_topic):
    conf = {"bootstrap.servers": kafka_bootstrap}
    assert list_partitions(conf, [kafka_topic]) == [(kafka_topic, 0)]
    other = make_topic(partitions=3)
    assert other != kafka_topic
    assert list_partitions(conf, [other]) == [(other, p) for p in range(3)]


def test_produce_and_consume_all(kafka_bootstrap, kafka_topic):
    assert produce(kafka_bootstrap, kafka_topic, [{"n": i} for i in range(3)], key="n") == 3
    table = consume_all(kafka_bootstrap, kafka_topic)
    assert table["offset"].to_pylist() == [0, 1, 2]
    assert table["key"].to_pylist() == [b"0", b"1", b"2"]
    assert table["value"].to_pylist() == [b'{"n":0}', b'{"n":1}', b'{"n":2}']


def test_plugin_imports_nothing_heavy():
    code = (
        "import sys, kappa.testing.plugin\n"
        "heavy = {'pyarrow', 'polars', 'pyspark', 'deltalake', 'confluent_kafka',"
        " 'testcontainers'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
