"""Change events of the CDC tests: event tables, applying batches, reading tables back, and
the hypothesis generators of random change streams (:func:`streams`) and Debezium feeds
(:func:`changes` rendered by :func:`render`) that the Polars and the Spark property tests share.

Events are dicts with ``op`` ('upsert' | 'delete' | 'truncate'), keys, sequence and value
columns, in arrival order: the input of :mod:`tests.helpers.cdc_oracle`.
"""

from __future__ import annotations

import json

import polars as pl
import pyarrow as pa
from hypothesis import strategies as st

from kappa.cdc.merge import apply_changes

SCHEMA = pa.schema([("id", pa.int64()), ("seq", pa.int64()), ("op", pa.string()),
                    ("a", pa.int64()), ("b", pa.string())])
OPS = {"upsert": "u", "delete": "d", "truncate": "t"}


def to_table(events: list[dict], schema: pa.Schema = SCHEMA) -> pa.Table:
    """Events (dicts with an 'op' of upsert/delete/truncate) as an Arrow change table."""
    rows = [{**e, "op": OPS[e["op"]]} for e in events]
    return pa.Table.from_pylist(rows, schema=schema)


def apply_batches(uri: str, events: list[dict], cuts: list[int], spec, *, schema=SCHEMA,
                  app_id: str = "test", first_version: int = 1) -> list:
    """Cut ``events`` at ``cuts`` and apply the batches in order; returns their stats.

    ``schema`` may be ``(before, after, start)``: batches from event ``start`` on use ``after``
    (a cut must fall at ``start``), earlier ones ``before`` -- a source that gained a column.
    """
    bounds = [0, *sorted(set(c for c in cuts if 0 < c < len(events))), len(events)]
    stats = []
    for i, (lo, hi) in enumerate(zip(bounds, bounds[1:])):
        if isinstance(schema, tuple):
            before, after, start = schema
            assert lo >= start or hi <= start, "a batch straddles the schema change"
            batch_schema = after if lo >= start else before
        else:
            batch_schema = schema
        rows = [{k: v for k, v in e.items() if k in batch_schema.names} for e in events[lo:hi]]
        stats.append(apply_changes(uri, to_table(rows, batch_schema), spec,
                                   app_id=app_id, version=first_version + i))
    return stats


def read_rows(uri: str) -> list[dict]:
    """All rows of the Delta table at ``uri``, sorted, with struct values as tuples."""
    try:
        frame = pl.scan_delta(uri).collect()
    except Exception:  # noqa: BLE001 - no table yet: empty
        return []
    rows = [{k: (tuple(v.values()) if isinstance(v, dict) else v) for k, v in r.items()}
            for r in frame.to_dicts()]
    return sort_rows(rows)


def sort_rows(rows: list[dict]) -> list[dict]:
    """Rows in a canonical order (None sorts first)."""
    def key(r: dict):
        return tuple((v is not None, v) for _k, v in sorted(r.items()))
    return sorted(rows, key=key)


def scd2_expected(rows: list[dict], single_seq: bool) -> list[dict]:
    """Oracle SCD2 rows with one-column sequences unwrapped from their tuples."""
    if not single_seq:
        return sort_rows(rows)
    out = []
    for r in rows:
        end = r["__END_AT"]
        out.append({**r, "__START_AT": r["__START_AT"][0], "__END_AT": None if end is None else end[0]})
    return sort_rows(out)


# --- random plain change streams ------------------------------------------------------

@st.composite
def streams(draw, *, truncates: bool = False, two_seq: bool = False, max_events: int = 18):
    """(events, cuts): a random change stream and where to cut it into batches."""
    ops = ["upsert", "upsert", "upsert", "delete"] + (["truncate"] if truncates else [])
    n = draw(st.integers(0, max_events))
    events = []
    for _ in range(n):
        e = {"id": draw(st.integers(0, 4)), "op": draw(st.sampled_from(ops)),
             "a": draw(st.none() | st.integers(0, 2)),
             "b": draw(st.none() | st.sampled_from(["x", "y"]))}
        if two_seq:
            e["s1"] = draw(st.integers(0, 3))
            e["s2"] = draw(st.sampled_from(["a", "b", "c"]))
        else:
            e["seq"] = draw(st.integers(0, 6))
        events.append(e)
    for _ in range(draw(st.integers(0, 3)) if events else 0):  # exact duplicates, re-delivered
        src = draw(st.integers(0, len(events) - 1))
        events.insert(draw(st.integers(src, len(events))), dict(events[src]))
    cuts = draw(st.lists(st.integers(1, max(len(events), 1)), max_size=5))
    return events, cuts


# --- random Debezium feeds (one table ``id, a, b``; sequence lsn, ts_ms, Kafka offset) ---------

SEQ = ["_seq_lsn", "_seq_ts_ms", "_seq_offset"]
COLUMNS = ["id", "a", "b"]
ROW_SCHEMA = {"type": "struct", "optional": True, "fields": [
    {"type": "int32", "optional": False, "field": "id"},
    {"type": "int64", "optional": True, "field": "a"},
    {"type": "string", "optional": True, "field": "b"}]}


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
