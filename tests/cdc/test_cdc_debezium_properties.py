"""Property tests over Debezium feeds: decoded batch by batch, merged, equal to the oracle.

What found the defects of the JSON-typed feeds, generated on purpose: Debezium envelopes with
and without the JSON converter's schema wrapper, deletes whose before-image is null but for the
key (Postgres's default replica identity) or complete, a tombstone after most deletes (so a
batch may hold tombstones only, or deletes only), value columns null throughout a batch, and
no declared schema anywhere: every type comes from the JSON values. Sequences go backwards and
repeat (the Kafka offset breaks ties, as in replication configs).

A column that never had a value has no type and is not in the target (kappa.cdc.nulls): the
comparison reads it as null. On a failure hypothesis prints the example and its seed blob.
"""

from __future__ import annotations

import json
import tempfile

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cdc_oracle as oracle
from cdc_util import read_rows, sort_rows
from kappa.cdc.debezium import decode_debezium
from kappa.cdc.defaults import merge_options
from kappa.cdc.merge import apply_changes

SEQ = ["_seq_lsn", "_seq_ts_ms", "_seq_offset"]
COLUMNS = ["id", "a", "b"]
KAFKA = pa.schema([("key", pa.binary()), ("value", pa.binary()), ("topic", pa.string()),
                   ("partition", pa.int32()), ("offset", pa.int64()),
                   ("timestamp", pa.timestamp("us", tz="UTC")), ("timestampType", pa.int32())])
ROW_SCHEMA = {"type": "struct", "optional": True, "fields": [
    {"type": "int32", "optional": False, "field": "id"},
    {"type": "int64", "optional": True, "field": "a"},
    {"type": "string", "optional": True, "field": "b"}]}
SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True)


def _wrap(doc: dict, schema: dict, with_schema: bool) -> bytes:
    return json.dumps({"schema": schema, "payload": doc} if with_schema else doc).encode()


def _envelope(op: str, before, after, lsn: int, with_schema: bool) -> bytes:
    payload = {"before": before, "after": after, "op": op, "ts_ms": lsn,
               "source": {"connector": "postgresql", "db": "shop", "schema": "public",
                          "table": "items", "lsn": lsn}}
    schema = {"type": "struct", "optional": False, "fields": [
        dict(ROW_SCHEMA, field="before"), dict(ROW_SCHEMA, field="after"),
        {"type": "struct", "fields": [], "optional": False, "field": "source"},
        {"type": "string", "optional": False, "field": "op"},
        {"type": "int64", "optional": True, "field": "ts_ms"}]}
    return _wrap(payload, schema, with_schema)


def _key(i: int, with_schema: bool) -> bytes:
    schema = {"type": "struct", "optional": False, "fields": [{"type": "int32", "optional": False, "field": "id"}]}
    return _wrap({"id": i}, schema, with_schema)


@st.composite
def changes(draw, max_events: int = 14, min_events: int = 0):
    """A random table history: ``(op, row, lsn, tombstone)`` items, ``op`` in c/u/r/d."""
    sparse = st.none() | st.none() | st.integers(0, 2)  # nulls are common: whole batches of them
    items = []
    lsn = 10
    for _ in range(draw(st.integers(min_events, max_events))):
        i, op = draw(st.integers(0, 3)), draw(st.sampled_from(["c", "u", "u", "r", "d"]))
        lsn = max(0, lsn + draw(st.integers(-2, 3)))
        row = {"id": i, "a": draw(sparse), "b": draw(st.none() | st.none() | st.sampled_from(["x", "y"]))}
        items.append((op, row, lsn, op == "d" and draw(st.integers(0, 3)) > 0))  # most deletes: + tombstone
    return items


def render(items: list, *, with_schema: bool, full_before: bool, first_offset: int = 0):
    """(records, events): the items as Kafka records of one partition from ``first_offset`` on,
    and as the oracle's events (the sequence is ``(lsn, ts_ms = lsn, Kafka offset)``)."""
    records: list[tuple[bytes, bytes | None]] = []
    events: list[dict] = []
    for op, row, lsn, tombstone in items:
        seq = {"_seq_lsn": lsn, "_seq_ts_ms": lsn, "_seq_offset": first_offset + len(records)}
        key = _key(row["id"], with_schema)
        if op == "d":
            before = row if full_before else {"id": row["id"], "a": None, "b": None}
            records.append((key, _envelope("d", before, None, lsn, with_schema)))
            events.append({"id": row["id"], "op": "delete", "a": None, "b": None, **seq})
            if tombstone:
                records.append((key, None))
        else:
            records.append((key, _envelope(op, None, row, lsn, with_schema)))
            events.append({**row, "op": "upsert", **seq})
    return records, events


@st.composite
def feeds(draw, max_events: int = 14):
    """(records, events, cuts): Kafka records of one partition, the oracle's events, batch cuts."""
    records, events = render(draw(changes(max_events)), with_schema=draw(st.booleans()),
                             full_before=draw(st.booleans()))
    cuts = draw(st.lists(st.integers(1, max(len(records), 1)), max_size=6))
    return records, events, cuts


def _batches(records: list, cuts: list[int]) -> list[pa.Table]:
    bounds = [0, *sorted(set(c for c in cuts if 0 < c < len(records))), len(records)]
    out = []
    for lo, hi in zip(bounds, bounds[1:]):
        rows = [{"key": k, "value": v, "topic": "pg.public.items", "partition": 0, "offset": lo + j,
                 "timestamp": None, "timestampType": 0} for j, (k, v) in enumerate(records[lo:hi])]
        out.append(pa.Table.from_pylist(rows, schema=KAFKA))
    return out


def _replicate(uri: str, records: list, cuts: list[int], scd: int) -> None:
    spec = merge_options(["id"], SEQ, ["_op", *SEQ], {"scd_type": scd})
    for version, kafka in enumerate(_batches(records, cuts), start=1):
        decoded = decode_debezium(kafka)
        assert decoded.dead == 0
        apply_changes(uri, decoded.changes, spec, app_id="dbz", version=version)


def _table(uri: str, extra: list[str]) -> list[dict]:
    """The target's rows with a never-typed (absent) column read as null."""
    return sort_rows([{c: r.get(c) for c in COLUMNS + extra} for r in read_rows(uri)])


@settings(max_examples=120, **SETTINGS)
@given(feed=feeds())
def test_debezium_scd1_any_batching_matches_oracle(feed):
    records, events, cuts = feed
    with tempfile.TemporaryDirectory() as d:
        _replicate(f"{d}/t", records, cuts, 1)
        expected = oracle.scd1(events, keys=["id"], seq=SEQ, columns=COLUMNS, ignore_null=False)
        assert _table(f"{d}/t", []) == sort_rows(expected)


@settings(max_examples=120, **SETTINGS)
@given(feed=feeds())
def test_debezium_scd2_any_batching_matches_oracle(feed):
    records, events, cuts = feed
    with tempfile.TemporaryDirectory() as d:
        _replicate(f"{d}/t", records, cuts, 2)
        expected = oracle.scd2(events, keys=["id"], seq=SEQ, columns=COLUMNS, tracked=["a", "b"],
                               ignore_null=False)
        assert _table(f"{d}/t", ["__START_AT", "__END_AT"]) == sort_rows(expected)
