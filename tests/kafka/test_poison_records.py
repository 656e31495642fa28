"""Poison records: every Kafka record that cannot become a row is a dead letter, the node goes on.

One test, parametrised over both engines (Polars replay, Spark python profile), runs a pipeline
twice over a real topic: records that are uncastable under an inferred and a declared schema,
a tombstone, non-UTF-8 bytes, JSON that is not an object, a garbage key, an oversized value and
a value nested 5,000 levels deep. Both runs succeed, good records after the poison ones reach
bronze, and the dead-letter tables hold exactly the bad records with their reasons.
"""

from __future__ import annotations

import json
import textwrap

import pyarrow as pa
import pytest
from confluent_kafka import Producer

from kappa.delta.read import read_delta
from kappa.kafka.decode import decode_json_values

PIPELINE = """
name: poison
checkpoint_root: {root}/checkpoints
nodes:
- name: inferred
  source:
    bootstrap_servers: {bootstrap}
    topic: {topic}
    max_record_bytes: 40000
  transformer:
  - expr: SELECT value.id AS id, value.amount AS amount, key, `offset` FROM {{df}}
  sinks:
  - format: DELTA
    path: {root}/inferred
- name: declared
  source:
    bootstrap_servers: {bootstrap}
    topic: {topic}
    max_record_bytes: 40000
    schema: "id BIGINT, amount DOUBLE"
  transformer:
  - expr: SELECT value.id AS id, value.amount AS amount, key, `offset` FROM {{df}}
  sinks:
  - format: DELTA
    path: {root}/declared
"""

DEEP = b'{"a":' * 5000 + b"1" + b"}" * 5000
BIG = b'{"id": 99, "pad": "' + b"x" * 50000 + b'"}'
ROUND1 = [  # (key, value); the offset is the index
    (None, b'{"id": 1, "amount": 1.5}'),
    (b"k1", b'{"id": 2, "amount": "abc"}'),
    (b"k2", None),
    (None, b"\xff\xfe{}"),
    (None, b"[1, 2]"),
    (None, b"42"),
    (b"\x00\xff\xfe", b'{"id": 3, "amount": 3}'),
    (b"\x80\x81", b"not json"),
    (None, DEEP),
    (None, BIG),
    (None, b'{"id": 4, "amount": 4}'),
]
ROUND2 = [
    (None, b'{"id": 5, "amount": "x"}'),
    (None, DEEP),
    (None, b'{"id": 6, "amount": 6.5}'),
]
COMMON_DEAD = {
    2: "null value (tombstone)",
    3: "value is not UTF-8: invalid start byte at byte 0",
    4: "JSON value is an array, not an object",
    5: "JSON value is a number, not an object",
    7: "invalid JSON: Expecting value at line 1 column 1",
    8: "JSON nested deeper than 64 levels",
    9: f"record is {len(BIG)} bytes (key + value), above max_record_bytes 40000",
    12: "JSON nested deeper than 64 levels",
}
DEAD = {
    "inferred": {**COMMON_DEAD, 1: "field 'amount': \"abc\" is not a double", 11: "field 'amount': \"x\" is not a double"},
    "declared": {**COMMON_DEAD, 1: "field 'amount': \"abc\" is not a double", 11: "field 'amount': \"x\" is not a double"},
}
ROWS = [
    {"id": 1, "amount": 1.5, "key": None, "offset": 0},
    {"id": 3, "amount": 3.0, "key": b"\x00\xff\xfe", "offset": 6},
    {"id": 4, "amount": 4.0, "key": None, "offset": 10},
    {"id": 6, "amount": 6.5, "key": None, "offset": 13},
]


def _produce(bootstrap: str, topic: str, records: list[tuple]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    for key, value in records:
        producer.produce(topic, key=key, value=value, partition=0)
    assert producer.flush(10) == 0


@pytest.mark.kafka
def test_poison_records_are_dead_letters_and_the_node_goes_on(engine, tmp_path, kafka_bootstrap, make_topic):
    from tests.helpers.pipelines import pipeline_for

    topic = make_topic(1)

    def run():
        summary = engine.run(pipeline_for(PIPELINE, tmp_path, bootstrap=kafka_bootstrap, topic=topic))
        assert [n.error for n in summary.nodes] == [None, None]
        return summary

    _produce(kafka_bootstrap, topic, ROUND1)
    first = run()
    assert [n.dead_letter_rows for n in first.nodes] == [8, 8]
    _produce(kafka_bootstrap, topic, ROUND2)
    second = run()
    assert [n.dead_letter_rows for n in second.nodes] == [2, 2]

    everything = ROUND1 + ROUND2
    for node in ("inferred", "declared"):
        rows = sorted(read_delta(str(tmp_path / node)).to_pylist(), key=lambda r: r["offset"])
        assert rows == ROWS, node
        dead = read_delta(str(tmp_path / "checkpoints" / "poison" / node / "dead_letters"))
        got = sorted(dead.drop_columns(["failed_at"]).to_pylist(), key=lambda r: r["offset"])
        assert [(r["offset"], r["error"]) for r in got] == sorted(DEAD[node].items()), node
        assert got == [
            {"topic": topic, "partition": 0, "offset": off, "key": everything[off][0], "value": everything[off][1], "error": reason}
            for off, reason in sorted(DEAD[node].items())
        ], node
    kinds = json.loads((tmp_path / "checkpoints" / "poison" / "inferred" / "inferred_value_schema.json").read_text())
    assert kinds == {"value": {"amount": "double", "id": "bigint"}}


def _records(values: list, keys: list | None = None) -> pa.Table:
    n = len(values)
    return pa.table(
        {
            "key": pa.array(keys or [None] * n, pa.binary()),
            "value": pa.array(values, pa.binary()),
            "topic": ["t"] * n,
            "partition": pa.array([0] * n, pa.int32()),
            "offset": pa.array(range(n), pa.int64()),
        }
    )


def test_inferred_kinds_first_value_wins_and_numbers_widen_within_a_batch():
    values = [
        b'{"a": 1, "s": {"x": 1}, "l": [1]}',
        b'{"a": 2.5, "s": {"y": true}, "l": [2, 3.5]}',
        b'{"a": "no", "s": {"x": 3}}',
        b'{"a": 4, "s": "flat"}',
        b'{"a": null, "s": {"x": 2}, "l": ["z"]}',
        b'{"a": null, "n": null}',
    ]
    decoded, dead = decode_json_values(_records(values), None)
    assert dict(zip(dead["offset"].to_pylist(), dead["error"].to_pylist())) == {
        2: "field 'a': \"no\" is not a double",
        3: "field 's': \"flat\" is not an object",
        4: "field 'l[]': \"z\" is not a double",
    }
    assert decoded.schema.field("value").type == pa.struct(
        [("a", pa.float64()), ("l", pa.list_(pa.float64())), ("n", pa.null()),
         ("s", pa.struct([("x", pa.int64()), ("y", pa.bool_())]))]
    )
    assert decoded["offset"].to_pylist() == [0, 1, 5]
    # known kinds fix the types across batches: a bigint does not widen later
    decoded, dead = decode_json_values(_records([b'{"a": 2.5}', b'{"a": 3}', b'{"b": "new"}']), None, known={"a": "bigint"})
    assert dead["error"].to_pylist() == ["field 'a': 2.5 is not a bigint"]
    assert decoded["value"].to_pylist() == [{"a": 3, "b": None}, {"a": None, "b": "new"}]


def test_fast_and_slow_paths_agree():
    """A good batch decodes the same alone (vectorised) as next to a bad record (per record)."""
    good = [textwrap.dedent(f'{{"id": {i}, "v": {i / 2}, "t": "2024-01-0{1 + i % 9}T00:00:00Z", "m": {{"k": [{i}]}}}}').encode() for i in range(50)]
    fast, _ = decode_json_values(_records(good), None)
    slow, dead = decode_json_values(_records(good + [b"{bad"]), None)
    assert dead["offset"].to_pylist() == [50]
    assert slow["value"].type == fast["value"].type
    assert slow["value"].type.field("t").type == pa.string()
    assert slow["value"].to_pylist() == fast["value"].to_pylist()


def test_vectorised_inference_agrees_with_the_kind_rule():
    """Random batches: where Arrow's inference accepts a batch, the per-record kind rule finds
    no conflict and the same types; where it does not, the rule's dead letters are reported."""
    import random

    from kappa.kafka.decode import _apply_kinds
    from kappa.kafka.json_checks import kind_to_arrow

    rng = random.Random(7)
    pool = [None, 0, 1, -5, 2.5, 1e20, "s", "2024-01-01", True, False, [], [1], [1.5, 2], ["a"], {}, {"x": 1}, {"x": "y"}, {"y": [True]}]
    for _ in range(300):
        objs = [{k: rng.choice(pool) for k in rng.sample("abc", rng.randint(0, 3))} for _ in range(rng.randint(1, 6))]
        decoded, dead = decode_json_values(_records([json.dumps(o).encode() for o in objs]), None)
        errors: dict[int, str] = {}
        kinds, keep = _apply_kinds(list(range(len(objs))), dict(enumerate(objs)), None, errors)
        assert dict(zip(dead["offset"].to_pylist(), dead["error"].to_pylist(), strict=True)) == errors, objs
        assert decoded["offset"].to_pylist() == keep, objs
        assert decoded["value"].type == kind_to_arrow(kinds), objs
