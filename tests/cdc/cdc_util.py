"""Helpers for the CDC tests: event tables, applying batches, reading tables back."""

from __future__ import annotations

import pyarrow as pa
import polars as pl

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
