"""decode_kafka_frame (executor-side decode) gives exactly what the driver path decode_kafka gives:
same rows in the same order, same Spark types, same dead letters, same saved kinds file."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import pyarrow as pa
import pytest

from kappa.engines.spark.datasources.kafka_source import KAFKA_DDL
from kappa.engines.spark.decode import decode_kafka_frame
from kappa.kafka.dead_letters import dead_letter_schema
from kappa.kafka.json_checks import INFERRED_FILE

pytestmark = pytest.mark.spark

TS = datetime(2026, 1, 1, tzinfo=timezone.utc)
DEAD_COLS = ["topic", "partition", "offset", "key", "value", "error"]


def _v(obj) -> bytes:
    return obj if isinstance(obj, bytes) or obj is None else json.dumps(obj).encode()


def kafka_frame(spark, partitions: list[list], topic: str = "t"):
    """A Kafka-shaped frame: Spark partition i holds Kafka partition i's records in offset order.
    Each record is a value (JSON-able or bytes/None) or a ``(key, value)`` pair."""
    sizes = {len(p) for p in partitions}
    assert len(sizes) == 1, "equal partition sizes keep parallelize's slices on Kafka partitions"
    rows = []
    for part, records in enumerate(partitions):
        for offset, rec in enumerate(records):
            key, value = rec if isinstance(rec, tuple) else (b"k%d" % offset, rec)
            rows.append((key, _v(value), topic, part, offset, TS, 0))
    rdd = spark.sparkContext.parallelize(rows, len(partitions))
    return spark.createDataFrame(rdd, KAFKA_DDL)


def decode_kafka(spark, batch_df, spec, state_dir=None):
    """The driver path this module replaces (batch.decode_kafka before issue 9), kept here as the
    reference: collect with toArrow, decode with the same functions, createDataFrame."""
    if spec.value_format == "json":
        from kappa.kafka.decode import decode_json_source

        records, dead = decode_json_source(batch_df.toArrow(), spec, state_dir)
    else:
        from kappa.kafka.debezium import decode_debezium

        decoded = decode_debezium(batch_df.toArrow())
        records, dead = decoded.changes, decoded.dead_letters
    return _arrow_frame(spark, records), (dead if dead.num_rows else None)


def _arrow_frame(spark, table):
    """batch.arrow_frame: null-typed columns stay NullType columns."""
    from pyspark.sql import functions as F

    from kappa.delta.arrow import normalize_arrow_table
    from kappa.engines.spark.arrow_schema import spark_schema_of_arrow

    names = table.column_names
    nulls = {f.name for f in table.schema if pa.types.is_null(f.type)}
    table = normalize_arrow_table(table)
    frame = spark.createDataFrame(table) if table.num_rows else spark.createDataFrame([], spark_schema_of_arrow(table.schema))
    return frame.select(*[F.lit(None).alias(n) if n in nulls else frame[n] for n in names]) if nulls else frame


def _dead_rows(table):
    if table is None:
        return []
    rows = table.select(DEAD_COLS).to_pylist()
    return sorted((tuple(r.values()) for r in rows), key=lambda r: (r[1], r[2]))


def compare(spark, tmp_path: Path, frame, spec, kinds: dict | None = None):
    """Run the executor decode and the driver path (each with its own state dir holding
    ``kinds``); assert they agree."""
    old_dir, new_dir = tmp_path / "old", tmp_path / "new"
    for d in (old_dir, new_dir):
        d.mkdir()
        if kinds is not None:
            (d / INFERRED_FILE).write_text(json.dumps({"value": kinds}))
    old_rows, old_dead = decode_kafka(spark, frame, spec, str(old_dir))
    expected = old_rows.collect()
    decoded = decode_kafka_frame(spark, frame, spec, str(new_dir))
    try:
        assert decoded.rows.schema == old_rows.schema
        assert decoded.rows.collect() == expected
        dead = decoded.dead.toArrow()
        assert decoded.dead.schema == spark.createDataFrame([], _dead_spark()).schema
        assert dead.schema.names == dead_letter_schema().names
        assert _dead_rows(dead) == _dead_rows(old_dead)
    finally:
        decoded.release()
    old_file, new_file = old_dir / INFERRED_FILE, new_dir / INFERRED_FILE
    assert old_file.exists() == new_file.exists()
    if old_file.exists():
        assert json.loads(new_file.read_text()) == json.loads(old_file.read_text())
    return expected, _dead_rows(old_dead), json.loads(old_file.read_text())["value"] if old_file.exists() else None


def _dead_spark():
    from kappa.engines.spark.arrow_schema import spark_schema_of_arrow

    return spark_schema_of_arrow(dead_letter_schema())


def json_spec(schema=None, **kw):
    return SimpleNamespace(value_format="json", schema=schema, max_record_bytes=kw.get("max_record_bytes"))


DEEP = b'{"a":' + b"[" * 70 + b"1" + b"]" * 70 + b"}"


@pytest.mark.parametrize("parts", [1, 3])
def test_declared_schema_bad_records(spark, tmp_path, parts):
    records = [
        {"id": 1, "name": "a", "amount": 1.5, "tags": ["x"], "addr": {"city": "P"}},
        b"{not json",
        [1, 2],
        {"id": "abc", "name": "b"},
        None,
        {"id": 2, "name": "x" * 300},
        DEEP,
        {"id": 3, "name": "c", "extra": True},
        {"id": 4},
    ]
    records += [{"id": 10 + i, "name": f"n{i}", "amount": i} for i in range(9 * parts - len(records))]
    split = [records[i::parts] for i in range(parts)]
    spec = json_spec("id BIGINT, name STRING, amount DOUBLE, tags ARRAY<STRING>, addr STRUCT<city: STRING>", max_record_bytes=200)
    rows, dead, _ = compare(spark, tmp_path, kafka_frame(spark, split), spec)
    reasons = sorted(d[5].split(":")[0] for d in dead)
    assert len(rows) == len(records) - 6
    assert reasons == ["JSON nested deeper than 64 levels", "JSON value is an array, not an object", "field 'id'",
                       "invalid JSON", "null value (tombstone)", "record is 323 bytes (key + value), above max_record_bytes 200"]


@pytest.mark.parametrize("parts", [1, 3])
def test_inferred_conflict_across_partitions(spark, tmp_path, parts):
    p0 = [{"id": 1, "v": 1}, {"id": 2, "v": 2}, {"id": 3}]
    p1 = [{"id": 4, "v": "x", "w": True}, {"id": 5, "w": False}, {"id": 6, "v": 7}]
    p2 = [{"id": 7, "v": 2.5}, b"[]", {"id": 9, "nested": {"a": 1, "b": [1, 2]}}]
    frame = kafka_frame(spark, [p0, p1, p2]) if parts == 3 else kafka_frame(spark, [p0 + p1 + p2])
    rows, dead, kinds = compare(spark, tmp_path, frame, json_spec())
    assert [d[5] for d in dead] == ["field 'v': \"x\" is not a bigint", "JSON value is an array, not an object"]
    assert kinds == {"id": "bigint", "v": "double", "w": "boolean", "nested": {"a": "bigint", "b": ["bigint"]}}
    assert [r.value.v for r in rows] == [1.0, 2.0, None, None, 7.0, 2.5, None]


def test_inferred_widening_and_first_partition_fixes(spark, tmp_path):
    p0 = [{"a": 1, "s": None}, {"a": 2, "s": None}]
    p1 = [{"a": 1.5, "s": None, "o": {"x": 1}}, {"a": 3, "s": None, "o": {"y": "z"}}]
    p2 = [{"a": "no", "s": None}, {"o": {"x": "bad"}, "a": 4}]
    rows, dead, kinds = compare(spark, tmp_path, kafka_frame(spark, [p0, p1, p2]), json_spec())
    assert kinds == {"a": "double", "s": "null", "o": {"x": "bigint", "y": "string"}}
    assert [d[5] for d in dead] == ["field 'a': \"no\" is not a double", "field 'o.x': \"bad\" is not a bigint"]
    assert len(rows) == 4


def test_inferred_nested_widening_across_partitions(spark, tmp_path):
    p0 = [{"o": {"x": 1, "l": [1, 2]}, "arr": [{"p": 1}]}, {"o": None}]
    p1 = [{"o": {"x": 2.5, "l": [0.5]}, "arr": [{"q": "s"}]}, {"o": {"y": True}, "arr": []}]
    p2 = [{"o": {"x": "s"}}, {"o": {"l": [True]}, "arr": [{"p": 2.5}]}]
    rows, dead, kinds = compare(spark, tmp_path, kafka_frame(spark, [p0, p1, p2]), json_spec())
    assert kinds == {"o": {"x": "double", "l": ["double"], "y": "boolean"}, "arr": [{"p": "bigint", "q": "string"}]}
    assert [d[5] for d in dead] == ["field 'o.x': \"s\" is not a double", "field 'o.l[]': true is not a double"]
    assert [r.value.asDict(recursive=True) for r in rows] == [
        {"arr": [{"p": 1, "q": None}], "o": {"l": [1.0, 2.0], "x": 1.0, "y": None}},
        {"arr": None, "o": None},
        {"arr": [{"p": None, "q": "s"}], "o": {"l": [0.5], "x": 2.5, "y": None}},
        {"arr": [], "o": {"l": None, "x": None, "y": True}}]


def test_inferred_kinds_from_previous_batch(spark, tmp_path):
    # v is a bigint from an earlier batch: a double is a dead letter, never a widening
    p0 = [{"v": 1.5, "n": 1}, {"v": 2}]
    p1 = [{"v": 3, "n": 2.5}, {"v": "s", "z": 1}]
    rows, dead, kinds = compare(spark, tmp_path, kafka_frame(spark, [p0, p1]), json_spec(), kinds={"v": "bigint"})
    assert [d[5] for d in dead] == ["field 'v': 1.5 is not a bigint", "field 'v': \"s\" is not a bigint"]
    assert kinds == {"v": "bigint", "n": "double"}


def test_inferred_all_null_and_empty(spark, tmp_path):
    p0 = [{"a": None, "l": []}, None]
    p1 = [{"a": None, "l": []}, {"b": {}}]
    _, _, kinds = compare(spark, tmp_path, kafka_frame(spark, [p0, p1]), json_spec())
    assert kinds == {"a": "null", "l": ["null"], "b": {}}
    empty = spark.createDataFrame([], KAFKA_DDL)
    (tmp_path / "e").mkdir()
    compare(spark, tmp_path / "e", empty, json_spec(), kinds={"v": "string"})


def test_raw_is_unchanged(spark):
    frame = kafka_frame(spark, [[{"a": 1}]])
    decoded = decode_kafka_frame(spark, frame, SimpleNamespace(value_format="raw"), None)
    assert decoded.rows is frame and decoded.dead is None


def _env(op, before=None, after=None, ts=1, lsn=None):
    env = {"op": op, "before": before, "after": after, "ts_ms": ts, "source": {"lsn": lsn if lsn is not None else ts}}
    return env


def _connect(env, types):
    fields = [{"field": k, "type": t} for k, t in types.items()]
    schema = {"type": "struct", "fields": [{"field": "before", "fields": fields}, {"field": "after", "fields": fields}]}
    return {"schema": schema, "payload": env}


@pytest.mark.parametrize("parts", [1, 3])
def test_debezium(spark, tmp_path, parts):
    k = lambda i: json.dumps({"id": i}).encode()  # noqa: E731
    p0 = [(k(1), _env("c", after={"id": 1, "name": "a", "score": 1, "note": None}, ts=1)),
          (k(2), _env("r", after={"id": 2, "name": "b", "score": 2, "note": None}, ts=2)),
          (k(9), None)]
    p1 = [(k(1), _env("u", before={"id": 1, "name": "a", "score": 1, "note": None},
                      after={"id": 1, "name": "A", "score": 2.5, "note": "hi"}, ts=3)),
          (k(3), b"{oops"),
          (None, _env("c", after={"id": 4, "name": "d", "score": 1, "note": None}, ts=4))]
    p2 = [(k(2), _env("d", before={"id": 2, "name": "b", "score": 2, "note": None}, ts=5)),
          (k(5), _env("c", after={"id": 5, "name": "e", "score": 3, "note": None, "gone": None}, ts=6)),
          (k(6), _env("x", after={"id": 6}))]
    frame = kafka_frame(spark, [p0, p1, p2]) if parts == 3 else kafka_frame(spark, [p0 + p1 + p2])
    rows, dead, _ = compare(spark, tmp_path, frame, SimpleNamespace(value_format="debezium"))
    assert [(r.id, r._op, r.score, r.note) for r in rows] == [
        (1, "upsert", 1.0, None), (2, "upsert", 2.0, None), (1, "upsert", 2.5, "hi"),
        (2, "delete", 2.0, None), (5, "upsert", 3.0, None)]
    assert len(dead) == 3


def test_debezium_type_conflict_across_partitions(spark, tmp_path):
    k = lambda i: json.dumps({"id": i}).encode()  # noqa: E731
    p0 = [(k(1), _env("c", after={"id": 1, "v": 1, "o": {"a": 1}, "n": None})),
          (k(2), _env("c", after={"id": 2, "v": 2, "o": {"a": 2}, "n": None}))]
    p1 = [(k(3), _env("c", after={"id": 3, "v": "x", "o": {"a": 2.5}, "n": None})),
          (k(4), _env("c", after={"id": 4, "v": True, "o": None, "n": None}))]
    compare(spark, tmp_path, kafka_frame(spark, [p0, p1]), SimpleNamespace(value_format="debezium"))


def test_debezium_null_column_typed_elsewhere(spark, tmp_path):
    k = lambda i: json.dumps({"id": i}).encode()  # noqa: E731
    types = {"id": "int64", "note": "string", "qty": "int32"}
    p0 = [(k(1), _connect(_env("c", after={"id": 1, "note": None, "qty": None}), types)),
          (k(2), _connect(_env("c", after={"id": 2, "note": None, "qty": None}), types))]
    p1 = [(k(3), _connect(_env("c", after={"id": 3, "note": None, "qty": 7}), types)),
          (k(4), _connect(_env("c", after={"id": 4, "note": None, "qty": None, "free": None}), types))]
    rows, _, _ = compare(spark, tmp_path, kafka_frame(spark, [p0, p1]), SimpleNamespace(value_format="debezium"))
    assert [(r.id, r.qty) for r in rows] == [(1, None), (2, None), (3, 7), (4, None)]


@pytest.mark.kafka
def test_broker_three_partitions_equals_polars_engine(spark, tmp_path, kafka_bootstrap, make_topic):
    """Through the embedded broker: kappa_kafka read + executor decode == the Polars engine's decode."""
    from kappa.kafka.decode import decode_json_source
    from kappa.kafka.offsets import end_offsets, list_partitions
    from kappa.kafka.reader import read_range
    from kappa.testing.kafka import conf_for, produce

    topic = make_topic(3)
    records = []
    for i in range(60):
        rec = {"i": i, "v": i if i % 7 else f"s{i}", "d": i / 2 if i % 5 == 0 else i}
        if i % 11 == 0:
            rec["o"] = {"x": i, "tags": [str(i)]}
        records.append(rec)
    produce(kafka_bootstrap, topic, records, key=lambda r: str(r["i"]))
    conf = conf_for(kafka_bootstrap)
    ends = end_offsets(conf, list_partitions(conf, [topic]))
    (tmp_path / "polars").mkdir()
    (tmp_path / "spark").mkdir()
    polars_rows, polars_dead = decode_json_source(read_range(conf, {tp: (0, e) for tp, e in ends.items()}), json_spec(), str(tmp_path / "polars"))
    frame = (spark.read.format("kappa_kafka").option("kafka.bootstrap.servers", kafka_bootstrap)
             .option("subscribe", topic).load())
    assert frame.rdd.getNumPartitions() == 3
    decoded = decode_kafka_frame(spark, frame, json_spec(), str(tmp_path / "spark"))
    try:
        cols = ["partition", "offset", "value"]
        got = decoded.rows.toArrow().select(cols).to_pylist()
        assert got == polars_rows.select(cols).to_pylist()
        assert len(got) + polars_dead.num_rows == 60 and polars_dead.num_rows > 0
        assert _dead_rows(decoded.dead.toArrow()) == _dead_rows(polars_dead)
    finally:
        decoded.release()
    spark_kinds = json.loads((tmp_path / "spark" / INFERRED_FILE).read_text())
    assert spark_kinds == json.loads((tmp_path / "polars" / INFERRED_FILE).read_text())


@pytest.mark.slow  # its own Spark session (~15 s); tests/spark_big covers the whole node in make test
def test_batch_above_max_result_size_decodes_on_executors(tmp_path):
    """A 10 MB batch with spark.driver.maxResultSize=1m: the executor decode works (only
    metadata rows reach the driver), the driver path fails. Own Spark process (static setting)."""
    import os
    import subprocess
    import sys

    probe = Path(__file__).with_name("_max_result_probe.py")
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parents[2]))
    proc = subprocess.run([sys.executable, str(probe), str(tmp_path)], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["inferred"][:2] == [199_800, 200] and out["declared"][:2] == [199_800, 200]
    assert out["driver_path"] == "maxResultSize"
    assert json.loads((tmp_path / INFERRED_FILE).read_text()) == {"value": {"i": "bigint", "s": "string"}}
