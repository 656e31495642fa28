"""Delta ``mode: upsert`` on Polars: MERGE on the keys per batch, idempotent per batch id."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pyarrow as pa

from kappa.delta.read import read_delta
from kappa.delta.upsert import upsert_delta

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


def _random_batch(rng, n, day0):
    import numpy as np

    days = rng.integers(day0, day0 + 30, n)
    sym = rng.integers(0, 5, n).astype(object)
    sym[rng.random(n) < 0.05] = None
    ts = [None if rng.random() < 0.05 else T + dt.timedelta(milliseconds=int(d) * 1000 + int(d) % 7) for d in days]
    frame = pl.DataFrame({"s": [None if x is None else f"s{x}" for x in sym], "day": [dt.date(2024, 1, 1) + dt.timedelta(days=int(d)) for d in days],
                          "ts": ts, "n": np.arange(n)}, schema={"s": pl.String, "day": pl.Date, "ts": pl.Datetime("us", "UTC"), "n": pl.Int64})
    return frame.unique(subset=["s", "day", "ts"], keep="first", maintain_order=True).to_arrow()


def test_upsert_rewriting_files_equals_delta_rs_merge(tmp_path, monkeypatch):
    """Random batches (null keys, dates, timestamps, strings) into two tables: the file-rewriting
    fast path and deltalake's MERGE give the same rows after every batch; the fast path keeps
    files bounded and rewrites only the files holding the batch's keys."""
    import numpy as np
    from deltalake import DeltaTable

    from kappa.delta import upsert_files

    monkeypatch.setattr(upsert_files, "TARGET_BYTES", 2000)
    monkeypatch.setattr(upsert_files, "MIN_ROWS", 40)
    fast, slow = str(tmp_path / "fast"), str(tmp_path / "slow")
    rng = np.random.default_rng(5)
    keys = ("s", "day", "ts")
    for b in range(12):
        data = _random_batch(rng, 400 if b == 0 else 60, 0 if b == 0 else 20 + b)
        assert upsert_delta(fast, data, keys, "app", b)
        with monkeypatch.context() as m:
            m.setattr(upsert_files, "applies", lambda *a: False)
            upsert_delta(slow, data, keys, "app", b)
        assert rows(fast) == rows(slow), b
    history = [h["operation"] for h in DeltaTable(fast).history()]
    assert "MERGE" not in history and history.count("WRITE") == 11
    adds = pl.from_arrow(pa.table(DeltaTable(fast).get_add_actions(flatten=True)))
    assert adds["num_records"].max() <= 100 and adds["num_records"].min() >= 20 and adds.height >= 5


def test_upsert_falls_back_to_merge_for_another_schema(tmp_path):
    """A batch whose schema differs from the table's (a wider integer) takes deltalake's MERGE."""
    from deltalake import DeltaTable

    path = str(tmp_path / "t")
    upsert_delta(path, pa.table({"k": pa.array([1, 2], pa.int64()), "n": pa.array([1, 2], pa.int32())}), ("k",), "app", 0)
    upsert_delta(path, pa.table({"k": pa.array([2, 3], pa.int64()), "n": pa.array([20, 30], pa.int64())}), ("k",), "app", 1)
    assert rows(path) == [{"k": 1, "n": 1}, {"k": 2, "n": 20}, {"k": 3, "n": 30}]
    assert DeltaTable(path).history(1)[0]["operation"] == "MERGE"
