"""Delta ``mode: upsert`` on Polars: MERGE on the keys per batch, idempotent per batch id."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pyarrow as pa

from kappa.delta.read import read_delta
from kappa.engines.polars.connectors.upsert import upsert_delta

T = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)


def rows(path):
    return sorted(pl.from_arrow(read_delta(str(path))).to_dicts(), key=str)


def test_upsert_updates_matched_inserts_others_and_skips_a_replayed_batch(tmp_path):
    path = str(tmp_path / "t")
    first = pa.table({"k": ["a", "b", None], "n": [1, 2, 3]})
    assert upsert_delta(path, first, ("k",), "app", 0)
    assert upsert_delta(path, pa.table({"k": ["b", "c", None], "n": [20, 30, 40]}), ("k",), "app", 1)
    assert rows(path) == sorted([{"k": "a", "n": 1}, {"k": "b", "n": 20}, {"k": "c", "n": 30}, {"k": None, "n": 40}], key=str)
    assert not upsert_delta(path, pa.table({"k": ["a"], "n": [99]}), ("k",), "app", 1)  # replay: skipped
    assert {"k": "a", "n": 1} in rows(path) and len(rows(path)) == 4
    assert upsert_delta(path, pa.table({"k": pa.array([], pa.string()), "n": pa.array([], pa.int64())}), ("k",), "app", 2)
    from deltalake import DeltaTable

    assert DeltaTable(path).transaction_version("app") == 2  # an empty batch is recorded too


def test_upsert_on_a_window_struct_key(tmp_path):
    path = str(tmp_path / "t")
    w = pa.struct([("start", pa.timestamp("us", "UTC")), ("end", pa.timestamp("us", "UTC"))])
    win = lambda h: {"start": T + dt.timedelta(hours=h), "end": T + dt.timedelta(hours=h + 1)}  # noqa: E731
    upsert_delta(path, pa.table({"window": pa.array([win(0), win(1)], w), "n": [1, 1]}), ("window",), "app", 0)
    upsert_delta(path, pa.table({"window": pa.array([win(1), win(2)], w), "n": [5, 1]}), ("window",), "app", 1)
    got = sorted((r["window"]["start"].hour, r["n"]) for r in pl.from_arrow(read_delta(path)).to_dicts())
    assert got == [(0, 1), (1, 5), (2, 1)]


def test_upsert_key_ranges_keep_matches_exact(tmp_path):
    """Dates, quotes and a null key among the keys: the literal ranges never lose a match."""
    path = str(tmp_path / "t")
    d = lambda i: dt.date(2024, 1, i)  # noqa: E731
    upsert_delta(path, pa.table({"s": ["o'k", "b", None], "day": [d(1), d(2), d(3)], "n": [1, 2, 3]}), ("s", "day"), "app", 0)
    upsert_delta(path, pa.table({"s": ["o'k", None, "c"], "day": [d(1), d(3), d(9)], "n": [10, 30, 90]}), ("s", "day"), "app", 1)
    assert sorted((r["s"] or "", r["day"].day, r["n"]) for r in pl.from_arrow(read_delta(path)).to_dicts()) == [
        ("", 3, 30), ("b", 2, 2), ("c", 9, 90), ("o'k", 1, 10)]
