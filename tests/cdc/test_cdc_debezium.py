"""Debezium decoding: realistic Postgres and MySQL envelopes, with and without schema."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import polars as pl
import pyarrow as pa
import pytest

from tests.helpers.cdc_events import read_rows
from kappa.kafka.debezium import decode_debezium, dead_letter_schema
from kappa.cdc.defaults import merge_options_for
from kappa.cdc.merge import apply_changes
from kappa.errors import KappaError
from kappa.models.cdc import CdcMerge

KAFKA = pa.schema([("key", pa.binary()), ("value", pa.binary()), ("topic", pa.string()),
                   ("partition", pa.int32()), ("offset", pa.int64()),
                   ("timestamp", pa.timestamp("us", tz="UTC")), ("timestampType", pa.int32())])
TS = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)

ITEM_SCHEMA = {"type": "struct", "optional": True, "name": "pg.public.items.Value", "fields": [
    {"type": "int32", "optional": False, "field": "id"},
    {"type": "string", "optional": True, "field": "name"},
    {"type": "int64", "optional": True, "field": "qty"}]}
KEY_SCHEMA = {"type": "struct", "optional": False, "name": "pg.public.items.Key",
              "fields": [{"type": "int32", "optional": False, "field": "id"}]}


def pg_source(lsn: int, snapshot: str = "false") -> dict:
    return {"version": "2.7.3.Final", "connector": "postgresql", "name": "pg",
            "ts_ms": 1763899200000, "snapshot": snapshot, "db": "shop",
            "sequence": f'[null,"{lsn}"]', "schema": "public", "table": "items",
            "txId": 771, "lsn": lsn, "xmin": None}


def mysql_source(file: str, pos: int, row: int = 0) -> dict:
    return {"version": "2.7.3.Final", "connector": "mysql", "name": "my", "ts_ms": 1763899200000,
            "snapshot": "false", "db": "inventory", "sequence": None, "table": "items",
            "server_id": 223344, "gtid": None, "file": file, "pos": pos, "row": row,
            "thread": 7, "query": None}


def envelope(op: str, before, after, source: dict, ts_ms: int, *, with_schema: bool) -> dict:
    payload = {"before": before, "after": after, "source": source, "op": op, "ts_ms": ts_ms,
               "transaction": None}
    if not with_schema:
        return payload
    schema = {"type": "struct", "optional": False, "name": "pg.public.items.Envelope",
              "fields": [dict(ITEM_SCHEMA, field="before"), dict(ITEM_SCHEMA, field="after"),
                         {"type": "struct", "fields": [], "optional": False, "field": "source"},
                         {"type": "string", "optional": False, "field": "op"},
                         {"type": "int64", "optional": True, "field": "ts_ms"}]}
    return {"schema": schema, "payload": payload}


def key_json(i: int, *, with_schema: bool) -> bytes:
    doc = {"id": i}
    if with_schema:
        doc = {"schema": KEY_SCHEMA, "payload": doc}
    return json.dumps(doc).encode()


def records(messages: list[tuple[bytes | None, bytes | None]], topic: str = "pg.public.items",
            first_offset: int = 100) -> pa.Table:
    rows = [{"key": k, "value": v, "topic": topic, "partition": 2, "offset": first_offset + i,
             "timestamp": TS, "timestampType": 0} for i, (k, v) in enumerate(messages)]
    return pa.Table.from_pylist(rows, schema=KAFKA)


def pg_stream(with_schema: bool) -> pa.Table:
    def msg(i, op, before, after, lsn, ts):
        env = envelope(op, before, after, pg_source(lsn, "true" if op == "r" else "false"), ts,
                       with_schema=with_schema)
        return key_json(i, with_schema=with_schema), json.dumps(env).encode()

    return records([
        msg(1, "r", None, {"id": 1, "name": "bolt", "qty": 5}, 1000, 1763899200100),
        msg(2, "c", None, {"id": 2, "name": "nut", "qty": 7}, 1200, 1763899200200),
        msg(1, "u", {"id": 1, "name": "bolt", "qty": 5}, {"id": 1, "name": "bolt", "qty": 4},
            1300, 1763899200300),
        msg(2, "d", {"id": 2, "name": None, "qty": None}, None, 1400, 1763899200400),
        (key_json(2, with_schema=with_schema), None),  # tombstone after the delete
    ])


@pytest.mark.parametrize("with_schema", [False, True])
def test_postgres_envelopes_decode_to_changes(with_schema):
    batch = decode_debezium(pg_stream(with_schema))
    assert (batch.decoded, batch.tombstones, batch.dead) == (4, 1, 0)
    assert batch.key_columns == ["id"]
    assert batch.sequence_columns == ["_seq_lsn", "_seq_ts_ms", "_seq_offset"]
    assert batch.changes.to_pylist() == [
        {"id": 1, "name": "bolt", "qty": 5, "_op": "upsert", "_seq_lsn": 1000,
         "_seq_ts_ms": 1763899200100, "_seq_offset": 100},
        {"id": 2, "name": "nut", "qty": 7, "_op": "upsert", "_seq_lsn": 1200,
         "_seq_ts_ms": 1763899200200, "_seq_offset": 101},
        {"id": 1, "name": "bolt", "qty": 4, "_op": "upsert", "_seq_lsn": 1300,
         "_seq_ts_ms": 1763899200300, "_seq_offset": 102},
        {"id": 2, "name": None, "qty": None, "_op": "delete", "_seq_lsn": 1400,
         "_seq_ts_ms": 1763899200400, "_seq_offset": 103},
    ]
    assert batch.dead_letters.schema == dead_letter_schema()


def test_mysql_envelopes_use_binlog_position():
    def msg(i, op, before, after, file, pos, ts):
        env = envelope(op, before, after, mysql_source(file, pos), ts, with_schema=False)
        return key_json(i, with_schema=False), json.dumps(env).encode()

    batch = decode_debezium(records([
        msg(7, "c", None, {"id": 7, "name": "x", "qty": 1}, "mysql-bin.000003", 154, 10),
        msg(7, "u", {"id": 7, "name": "x", "qty": 1}, {"id": 7, "name": "y", "qty": 1},
            "mysql-bin.000004", 4, 20),
        msg(7, "d", {"id": 7, "name": "y", "qty": 1}, None, "mysql-bin.000004", 380, 30),
    ], topic="my.inventory.items"))
    assert batch.sequence_columns == ["_seq_file", "_seq_pos", "_seq_ts_ms", "_seq_offset"]
    assert [(r["_op"], r["name"], r["_seq_file"], r["_seq_pos"]) for r in batch.changes.to_pylist()] == [
        ("upsert", "x", "mysql-bin.000003", 154),
        ("upsert", "y", "mysql-bin.000004", 4),
        ("delete", "y", "mysql-bin.000004", 380),
    ]


def test_delete_with_null_before_takes_its_key_from_the_message_key():
    env = envelope("d", None, None, pg_source(50), 5, with_schema=False)
    ok = envelope("c", None, {"id": 3, "name": "n", "qty": 0}, pg_source(40), 4, with_schema=False)
    batch = decode_debezium(records([(key_json(3, with_schema=True), json.dumps(ok).encode()),
                                     (key_json(3, with_schema=True), json.dumps(env).encode())]))
    assert [(r["id"], r["_op"]) for r in batch.changes.to_pylist()] == [(3, "upsert"), (3, "delete")]


def test_bad_records_go_to_dead_letters_with_location_and_reason():
    good = envelope("c", None, {"id": 1, "name": "a", "qty": 1}, pg_source(10), 1, with_schema=False)
    batch = decode_debezium(records([
        (key_json(1, with_schema=False), json.dumps(good).encode()),
        (key_json(2, with_schema=False), b"{not json"),
        (key_json(3, with_schema=False), b"\xff\xfe\x00garbage"),
        (key_json(4, with_schema=False), json.dumps({"op": "x", "after": {}}).encode()),
        (None, json.dumps(good).encode()),
        (key_json(5, with_schema=False), json.dumps({"op": "c", "after": None}).encode()),
        (key_json(6, with_schema=False), None),
    ]))
    assert (batch.decoded, batch.tombstones, batch.dead) == (1, 1, 5)
    assert batch.changes.column("id").to_pylist() == [1]
    letters = batch.dead_letters.to_pylist()
    assert [r["offset"] for r in letters] == [101, 102, 103, 104, 105]
    assert all(r["topic"] == "pg.public.items" and r["partition"] == 2 for r in letters)
    errors = [r["error"] for r in letters]
    assert errors[0].startswith("pg.public.items[2]@101: value is not valid JSON")
    assert "value is not valid JSON" in errors[1]
    assert "unsupported or missing Debezium op 'x'" in errors[2]
    assert "record has no key" in errors[3]
    assert "op 'c' without an 'after' object" in errors[4]
    assert letters[1]["value"] == b"\xff\xfe\x00garbage"


def test_explicit_key_columns_do_not_need_a_message_key():
    good = envelope("u", None, {"id": 9, "name": "z", "qty": 2}, pg_source(10), 1, with_schema=False)
    nokey = envelope("u", None, {"id": None, "name": "z", "qty": 2}, pg_source(11), 2,
                     with_schema=False)
    batch = decode_debezium(records([(None, json.dumps(good).encode()),
                                     (None, json.dumps(nokey).encode())]), key_columns=["id"])
    assert batch.changes.column("id").to_pylist() == [9]
    assert batch.dead == 1 and "null key column" in batch.dead_letters.column("error")[0].as_py()


def test_decoded_changes_merge_into_a_delta_table(tmp_path):
    batch = decode_debezium(pg_stream(with_schema=True))
    spec = CdcMerge(keys=batch.key_columns, sequence_by=batch.sequence_columns,
                    apply_as_deletes="_op = 'delete'", column_list=["name", "qty"])
    uri = str(tmp_path / "items")
    changes = batch.changes
    # deliver the batch in reverse order, in two parts: the sequence puts it right
    rev = changes.take(list(range(changes.num_rows - 1, -1, -1)))
    apply_changes(uri, rev.slice(0, 2), spec, app_id="dbz", version=1)
    apply_changes(uri, rev.slice(2), spec, app_id="dbz", version=2)
    assert read_rows(uri) == [{"id": 1, "name": "bolt", "qty": 4}]
    assert pl.scan_delta(uri).collect().height == 1


def test_composite_keys_and_truncate_events():
    def msg(key, op, before, after, lsn):
        env = envelope(op, before, after, pg_source(lsn), lsn, with_schema=False)
        return (json.dumps(key).encode() if key is not None else None), json.dumps(env).encode()

    batch = decode_debezium(records([
        msg({"tenant": "a", "id": 1}, "c", None, {"tenant": "a", "id": 1, "name": "x", "qty": 1}, 10),
        msg({"tenant": "b", "id": 1}, "d", {"tenant": "b", "id": 1, "name": None, "qty": None},
            None, 11),
        msg(None, "t", None, None, 12),
    ]))
    assert batch.key_columns == ["tenant", "id"]
    assert [(r["tenant"], r["id"], r["_op"], r["_seq_lsn"]) for r in batch.changes.to_pylist()] == [
        ("a", 1, "upsert", 10), ("b", 1, "delete", 11), (None, None, "truncate", 12)]
    assert batch.dead == 0


def test_truncate_events_into_an_scd2_target_are_a_clear_error(tmp_path):
    def msg(i, op, row, lsn):
        env = envelope(op, None if op == "c" else row, row if op == "c" else None, pg_source(lsn),
                       lsn, with_schema=False)
        return (key_json(i, with_schema=False) if i is not None else None), json.dumps(env).encode()

    batch = decode_debezium(records([msg(1, "c", {"id": 1, "name": "x", "qty": 1}, 10),
                                     msg(None, "t", None, 11)]))
    uri = str(tmp_path / "items")
    spec = merge_options_for(batch, {"scd_type": 2})
    with pytest.raises(KappaError, match=(
            r"1 truncate event\(s\) \(_op = 'truncate'\) in the CDC changes for .*items: "
            r"truncate events are not supported with stored_as_scd_type 2")):
        apply_changes(uri, batch.changes, spec, app_id="dbz", version=1)
    assert read_rows(uri) == []
    # the same events into an SCD1 target: the truncate applies
    apply_changes(str(tmp_path / "one"), batch.changes, merge_options_for(batch, {}),
                  app_id="dbz", version=1)
    assert read_rows(str(tmp_path / "one")) == []


def test_only_tombstones_and_empty_input():
    batch = decode_debezium(records([(key_json(1, with_schema=False), None)]))
    assert (batch.decoded, batch.tombstones, batch.dead) == (0, 1, 0)
    assert batch.changes.num_rows == 0
    assert decode_debezium(records([])).decoded == 0
