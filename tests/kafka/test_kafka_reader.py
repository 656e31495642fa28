"""Bounded range reads: exact rows across partitions, Spark's columns, headers, no hangs."""

from __future__ import annotations

import pyarrow as pa
import pytest

from kappa.kafka.offsets import end_offsets, list_partitions
from kappa.kafka.reader import (
    KAFKA_SCHEMA,
    KafkaReadError,
    iter_range_batches,
    kafka_schema,
    read_range,
)

pytestmark = pytest.mark.kafka


def test_schema_matches_spark_kafka_source():
    assert [(f.name, str(f.type)) for f in KAFKA_SCHEMA] == [
        ("key", "binary"),
        ("value", "binary"),
        ("topic", "string"),
        ("partition", "int32"),
        ("offset", "int64"),
        ("timestamp", "timestamp[us, tz=UTC]"),
        ("timestampType", "int32"),
    ]
    with_headers = kafka_schema(True)
    assert with_headers.names[:7] == KAFKA_SCHEMA.names
    assert str(with_headers.field("headers").type) == (
        "list<item: struct<key: string, value: binary>>"
    )


def test_read_range_exact_rows_across_partitions(conf, make_topic, produce_batched):
    topic = make_topic(3)
    produce_batched(topic, 3000, 3)  # partition p holds i = 3*offset + p
    ranges = {(topic, 0): (10, 20), (topic, 1): (0, 1), (topic, 2): (995, 1000)}
    table = read_range(conf, ranges)
    assert table.schema == KAFKA_SCHEMA
    got = list(zip(table["partition"].to_pylist(), table["offset"].to_pylist()))
    assert got == [(0, o) for o in range(10, 20)] + [(1, 0)] + [(2, o) for o in range(995, 1000)]
    assert table["value"].to_pylist() == [b'{"i":%d}' % (3 * o + p) for p, o in got]
    assert table["key"].to_pylist() == [b"k%d" % (3 * o + p) for p, o in got]
    assert set(table["topic"].to_pylist()) == {topic}
    assert set(table["timestampType"].to_pylist()) == {0}  # CreateTime
    assert table["timestamp"].null_count == 0


def test_read_everything_in_small_batches(conf, make_topic, produce_batched):
    topic = make_topic(2)
    produce_batched(topic, 5000, 2)
    ends = end_offsets(conf, list_partitions(conf, [topic]))
    ranges = {tp: (0, end) for tp, end in ends.items()}
    batches = list(iter_range_batches(conf, ranges, batch_size=700))
    assert all(b.num_rows <= 700 for b in batches)
    assert sum(b.num_rows for b in batches) == 5000
    for part in (0, 1):
        offsets = [
            o
            for b in batches
            for p, o in zip(b["partition"].to_pylist(), b["offset"].to_pylist())
            if p == part
        ]
        assert offsets == list(range(2500))  # in offset order within the partition
    table = read_range(conf, ranges, batch_size=700)
    assert table["partition"].to_pylist() == [0] * 2500 + [1] * 2500
    assert table["offset"].to_pylist() == list(range(2500)) * 2


def test_end_past_last_record_and_empty_ranges_do_not_hang(conf, make_topic, produce_batched):
    topic = make_topic(2)
    produce_batched(topic, 10, 1)  # partition 0: offsets 0..9, partition 1: empty
    table = read_range(conf, {(topic, 0): (5, 500), (topic, 1): (0, 50)})
    assert table["offset"].to_pylist() == [5, 6, 7, 8, 9]
    assert read_range(conf, {(topic, 0): (3, 3)}).num_rows == 0
    assert read_range(conf, {}).schema == KAFKA_SCHEMA
    assert read_range(conf, {(topic, 0): (10, 20)}).num_rows == 0  # start == log end


def test_start_past_log_end_is_an_error_naming_the_partition(conf, make_topic, produce_batched):
    topic = make_topic(1)
    produce_batched(topic, 10, 1)
    with pytest.raises(KafkaReadError, match=rf"{topic}\[0\]@50"):
        read_range(conf, {(topic, 0): (50, 60)})
    with pytest.raises(KafkaReadError, match=rf"{topic}\[0\]: start offset -1"):
        read_range(conf, {(topic, 0): (-1, 5)})


def test_headers_and_tombstones(conf, kafka_topic):
    from confluent_kafka import Producer

    producer = Producer(conf)
    producer.produce(kafka_topic, key=b"a", value=b"v0", headers=[("h1", b"x"), ("h2", None)])
    producer.produce(kafka_topic, key=b"b", value=None)
    producer.produce(kafka_topic, value=b"v2", headers=[("h1", b"y")])
    assert producer.flush(10) == 0
    table = read_range(conf, {(kafka_topic, 0): (0, 3)}, include_headers=True)
    assert table.schema == kafka_schema(True)
    assert table.select(["key", "value", "headers"]).to_pylist() == [
        {
            "key": b"a",
            "value": b"v0",
            "headers": [{"key": "h1", "value": b"x"}, {"key": "h2", "value": None}],
        },
        {"key": b"b", "value": None, "headers": None},
        {"key": None, "value": b"v2", "headers": [{"key": "h1", "value": b"y"}]},
    ]
    assert "headers" not in read_range(conf, {(kafka_topic, 0): (0, 3)}).column_names
    assert isinstance(table, pa.Table)
