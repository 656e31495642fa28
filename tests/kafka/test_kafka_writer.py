"""Producing: produce_table round trips, produce_json keys, topic creation, delivery errors."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from kappa.kafka.offsets import list_partitions
from kappa.kafka.reader import read_range
from kappa.kafka.writer import KafkaWriteError, create_topic, produce_json, produce_table
from kappa.testing.kafka import consume_all, produce, unique_topic

pytestmark = pytest.mark.kafka


def test_produce_table_round_trip_with_headers_and_partitions(conf, kafka_bootstrap, make_topic):
    topic = make_topic(2)
    table = pa.table(
        {
            "key": pa.array([b"a", None, b"c"], pa.binary()),
            "value": pa.array(["v0", "v1", None], pa.string()),
            "h": pa.array(
                [[{"key": "trace", "value": b"t0"}], None, [{"key": "x", "value": b"1"}]],
                pa.list_(pa.struct([("key", pa.string()), ("value", pa.binary())])),
            ),
            "p": pa.array([1, 0, 1], pa.int32()),
        }
    )
    assert produce_table(conf, topic, table, headers_column="h", partition_column="p") == 3
    got = consume_all(kafka_bootstrap, topic, include_headers=True)
    assert got.select(["partition", "offset", "key", "value", "headers"]).to_pylist() == [
        {"partition": 0, "offset": 0, "key": None, "value": b"v1", "headers": None},
        {
            "partition": 1,
            "offset": 0,
            "key": b"a",
            "value": b"v0",
            "headers": [{"key": "trace", "value": b"t0"}],
        },
        {
            "partition": 1,
            "offset": 1,
            "key": b"c",
            "value": None,
            "headers": [{"key": "x", "value": b"1"}],
        },
    ]


def test_struct_values_are_json_encoded_and_key_column_chosen(conf, kafka_bootstrap, kafka_topic):
    table = pa.table(
        {
            "id": ["x1", "x2"],
            "payload": pa.array(
                [{"n": 1, "tags": ["a"]}, {"n": 2, "tags": []}],
                pa.struct([("n", pa.int64()), ("tags", pa.list_(pa.string()))]),
            ),
        }
    )
    assert produce_table(conf, kafka_topic, table, key_column="id", value_column="payload") == 2
    got = consume_all(kafka_bootstrap, kafka_topic)
    assert got["key"].to_pylist() == [b"x1", b"x2"]
    assert [json.loads(v) for v in got["value"].to_pylist()] == [
        {"n": 1, "tags": ["a"]},
        {"n": 2, "tags": []},
    ]


def test_produce_many_rows_in_order(conf, kafka_bootstrap, kafka_topic):
    n = 20000
    table = pa.table({"value": pa.array([b"%d" % i for i in range(n)], pa.binary())})
    assert produce_table(conf, kafka_topic, table) == n  # no "key" column: keys are null
    got = read_range(conf, {(kafka_topic, 0): (0, n)})
    assert got["value"].to_pylist() == [b"%d" % i for i in range(n)]
    assert got["key"].null_count == n


def test_produce_json_keys_by_field_or_callable(kafka_bootstrap, kafka_topic):
    recs = [{"id": 7, "v": "a"}, {"id": None, "v": "b"}]
    assert produce(kafka_bootstrap, kafka_topic, recs, key="id") == 2
    conf = {"bootstrap.servers": kafka_bootstrap}
    assert produce_json(conf, kafka_topic, recs, key=lambda r: f"v-{r['v']}") == 2
    got = consume_all(kafka_bootstrap, kafka_topic)
    assert got["key"].to_pylist() == [b"7", None, b"v-a", b"v-b"]
    assert [json.loads(v) for v in got["value"].to_pylist()] == recs + recs


def test_create_topic_is_idempotent(conf):
    topic = unique_topic()
    create_topic(conf, topic, partitions=4)
    create_topic(conf, topic, partitions=4)
    assert list_partitions(conf, [topic]) == [(topic, p) for p in range(4)]


def test_errors_name_topic_and_partition(conf, kafka_topic):
    table = pa.table({"value": ["a"], "p": [5]})
    with pytest.raises(KafkaWriteError, match=rf"{kafka_topic}\[5\]"):
        produce_table(conf, kafka_topic, table, partition_column="p")
    with pytest.raises(KafkaWriteError, match="no value column 'body'"):
        produce_table(conf, kafka_topic, table, value_column="body")
    with pytest.raises(KafkaWriteError, match="no key column 'k'"):
        produce_table(conf, kafka_topic, table, key_column="k")
