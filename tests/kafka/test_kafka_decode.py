"""JSON decoding of Kafka values: declared and inferred schemas, dead letters with offsets."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from kappa.kafka.decode import DEAD_LETTER_SCHEMA, decode_json_values
from kappa.kafka.reader import KAFKA_SCHEMA, read_range
from kappa.testing.kafka import consume_all, produce

SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("name", pa.string()),
        ("day", pa.date32()),
        ("at", pa.timestamp("us", tz="UTC")),
        ("price", pa.decimal128(10, 2)),
        ("tags", pa.list_(pa.string())),
        ("loc", pa.struct([("x", pa.int32()), ("y", pa.float64())])),
    ]
)


def records(values: list, topic: str = "t", partition: int = 0) -> pa.Table:
    n = len(values)
    return pa.table(
        {
            "key": pa.array([b"k%d" % i for i in range(n)], pa.binary()),
            "value": pa.array(values, pa.binary()),
            "topic": [topic] * n,
            "partition": pa.array([partition] * n, pa.int32()),
            "offset": pa.array(range(100, 100 + n), pa.int64()),
            "timestamp": pa.array([0] * n, pa.timestamp("us", tz="UTC")),
            "timestampType": pa.array([0] * n, pa.int32()),
        },
        schema=KAFKA_SCHEMA,
    )


def test_declared_schema_missing_and_extra_fields():
    values = [
        b'{"id": 1, "name": "a", "unknown": [1, 2], "loc": {"x": 3, "z": 0}}',
        b'{"id": 2}',
        b' {"day": "2024-02-29", "at": "2024-02-29T10:11:12.5Z", "price": "12.34",'
        b' "tags": ["p", "q"], "loc": {"y": 1.5}} ',
        b"{}",
    ]
    decoded, dead = decode_json_values(records(values), SCHEMA)
    assert dead.num_rows == 0 and dead.schema == DEAD_LETTER_SCHEMA
    assert decoded.column_names == KAFKA_SCHEMA.names
    assert decoded.schema.field("value").type == pa.struct(list(SCHEMA))
    assert decoded["offset"].to_pylist() == [100, 101, 102, 103]
    rows = decoded["value"].to_pylist()
    nulls = {f.name: None for f in SCHEMA}
    assert rows[0] == {**nulls, "id": 1, "name": "a", "loc": {"x": 3, "y": None}}
    assert rows[1] == {**nulls, "id": 2}
    assert rows[2] == {
        **nulls,
        "day": dt.date(2024, 2, 29),
        "at": dt.datetime(2024, 2, 29, 10, 11, 12, 500000, tzinfo=dt.timezone.utc),
        "price": __import__("decimal").Decimal("12.34"),
        "tags": ["p", "q"],
        "loc": {"x": None, "y": 1.5},
    }
    assert rows[3] == nulls
    assert decoded["key"].to_pylist() == [b"k0", b"k1", b"k2", b"k3"]


def test_tombstones_are_dead_letters():
    decoded, dead = decode_json_values(records([None, b'{"id": 5}', None]), SCHEMA)
    assert decoded["offset"].to_pylist() == [101]
    assert decoded["value"].to_pylist()[0]["id"] == 5
    assert dead.select(["offset", "key", "value", "error"]).to_pylist() == [
        {"offset": 100, "key": b"k0", "value": None, "error": "null value (tombstone)"},
        {"offset": 102, "key": b"k2", "value": None, "error": "null value (tombstone)"},
    ]


def test_malformed_records_become_dead_letters_with_offsets():
    values = [
        b'{"id": 1}',  # 100 ok
        b"not json",  # 101
        b"[1, 2]",  # 102 not an object
        b"",  # 103 empty
        b'{"id": "abc"}',  # 104 wrong type
        b"\xff\xfe{}",  # 105 not UTF-8
        b'{"id": 1}, {"id": 2}',  # 106 two objects in one value
        b'{"id":\n 7}',  # 107 ok: newline is whitespace
        None,  # 108 tombstone: a dead letter
        b'{"id": 1.5}',  # 109 not a bigint
        b'{"id": 9',  # 110 truncated
    ]
    decoded, dead = decode_json_values(records(values, topic="orders", partition=2), SCHEMA)
    assert decoded["offset"].to_pylist() == [100, 107]
    assert [v and v["id"] for v in decoded["value"].to_pylist()] == [1, 7]
    assert dead.schema == DEAD_LETTER_SCHEMA
    assert dead["offset"].to_pylist() == [101, 102, 103, 104, 105, 106, 108, 109, 110]
    assert set(dead["topic"].to_pylist()) == {"orders"}
    assert set(dead["partition"].to_pylist()) == {2}
    assert dead["value"].to_pylist() == [values[i - 100] for i in dead["offset"].to_pylist()]
    assert dead["key"].to_pylist() == [b"k%d" % (i - 100) for i in dead["offset"].to_pylist()]
    errors = dict(zip(dead["offset"].to_pylist(), dead["error"].to_pylist()))
    assert errors[101].startswith("invalid JSON")
    assert errors[102] == "JSON value is an array, not an object"
    assert errors[104] == "field 'id': \"abc\" is not a bigint"
    assert errors[108] == "null value (tombstone)"
    assert errors[109] == "field 'id': 1.5 is not a bigint"
    assert errors[105].startswith("value is not UTF-8")
    assert errors[106].startswith("invalid JSON: Extra data")
    assert dead["failed_at"].null_count == 0


def test_inferred_schema_over_all_rows():
    values = [b'{"b": 1, "a": "x"}', None, b'{"c": {"z": true, "y": [1.5]}}', b'{"b": 2}', b"oops"]
    decoded, dead = decode_json_values(records(values), None)
    assert dead["offset"].to_pylist() == [101, 104]
    assert decoded.schema.field("value").type == pa.struct(
        [
            ("a", pa.string()),
            ("b", pa.int64()),
            ("c", pa.struct([("y", pa.list_(pa.float64())), ("z", pa.bool_())])),
        ]
    )
    assert decoded["value"].to_pylist() == [
        {"a": "x", "b": 1, "c": None},
        {"a": None, "b": None, "c": {"y": [1.5], "z": True}},
        {"a": None, "b": 2, "c": None},
    ]


def test_empty_input_and_only_tombstones():
    decoded, dead = decode_json_values(records([]), SCHEMA)
    assert decoded.num_rows == 0 and dead.num_rows == 0
    assert decoded.schema.field("value").type == pa.struct(list(SCHEMA))
    decoded, dead = decode_json_values(records([None, None]), None)
    assert decoded.num_rows == 0
    assert dead["error"].to_pylist() == ["null value (tombstone)"] * 2


@pytest.mark.kafka
def test_decode_records_read_from_the_broker(kafka_bootstrap, make_topic):
    from confluent_kafka import Producer

    topic = make_topic(1)
    assert produce(kafka_bootstrap, topic, [{"id": i, "name": f"n{i}"} for i in range(5)]) == 5
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    producer.produce(topic, value=b"{broken")
    producer.produce(topic, value=b'{"id": 6}')
    assert producer.flush(10) == 0
    table = consume_all(kafka_bootstrap, topic)
    decoded, dead = decode_json_values(table, pa.schema([("id", pa.int64())]))
    assert decoded["offset"].to_pylist() == [0, 1, 2, 3, 4, 6]
    assert [v["id"] for v in decoded["value"].to_pylist()] == [0, 1, 2, 3, 4, 6]
    assert dead.select(["topic", "partition", "offset", "value"]).to_pylist() == [
        {"topic": topic, "partition": 0, "offset": 5, "value": b"{broken"}
    ]
    assert read_range({"bootstrap.servers": kafka_bootstrap}, {(topic, 0): (5, 6)}).num_rows == 1
