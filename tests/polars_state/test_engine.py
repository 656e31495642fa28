"""A stateful node on the Polars engine: the state under the replay checkpoint, one version per
batch written before the batch's commit, the no-data batch in the offsets log, the summary, and
a crash at every step of a batch followed by a re-run giving the same output and state."""

from __future__ import annotations

import json

import pytest

from kappa.stateful.spec import AggregateSpec, DedupSpec, StatefulPlan, WindowSpec

from tests.polars_state.harness import BATCHES, WM, Harness

TUMBLE = WindowSpec("tumbling", "ts", "10 minutes", 600_000_000)
AGG = {"expr": "SELECT window(ts, '10 minutes') AS window, count(*) AS n, sum(v) AS sv FROM {df} GROUP BY window(ts, '10 minutes')"}


def window_harness(root, mode="append"):
    return Harness(root, [AGG], StatefulPlan(mode, WM, (AggregateSpec(1, ("window",), TUMBLE, "window", ()),)))


def table(h):
    df = h.out()
    return sorted((r["window"]["start"].isoformat(), r["n"], r["sv"]) for r in df.to_dicts())


def test_state_versions_offsets_and_summary(tmp_path):
    h = window_harness(tmp_path)
    summaries = [h.batch(rows) for rows in BATCHES]
    replay = tmp_path / "ck" / "st" / "n" / "replay"
    offsets = [json.loads((replay / "offsets" / f"{i}.json").read_text()) for i in range(8)]
    assert offsets[0] == {"kind": "delta", "start": 0, "end": 0}
    assert offsets[1] == {"kind": "delta", "start": 1, "end": 0}  # the no-data batch: an empty range
    assert offsets[2] == {"kind": "delta", "start": 1, "end": 1}
    assert sorted(p.name for p in (replay / "state").iterdir()) == ["6", "7"]  # newest and the one before
    meta = json.loads((replay / "state" / "7" / "meta.json").read_text())
    assert meta["operators"]["op0"]["rows"] == 1 and meta["watermark"] == meta["next_watermark"]
    assert [s.batches for s in summaries] == [2, 2, 2, 2]
    assert [s.late_rows for s in summaries] == [0, 3, 0, 0]
    assert summaries[-1].watermark == "2024-01-01T13:20:00Z"
    assert summaries[-1].state_rows == 1 and summaries[-1].state_bytes > 0
    assert table(h) == [("2024-01-01T12:00:00+00:00", 2, 3), ("2024-01-01T12:10:00+00:00", 2, 11),
                        ("2024-01-01T12:20:00+00:00", 1, 3), ("2024-01-01T12:30:00+00:00", 2, 22),
                        ("2024-01-01T12:40:00+00:00", 2, 20)]
    again = h.run()  # nothing new, watermark unchanged: no batch
    assert again.batches == 0 and again.skipped == "no new data"
    assert (again.state_rows, again.state_bytes, again.watermark) == (1, summaries[-1].state_bytes, "2024-01-01T13:20:00Z")


def test_file_source_no_data_batch(tmp_path):
    from tests.polars_state.harness import frame

    h = window_harness(tmp_path)
    h.text = h.text.replace(f"{{path: {tmp_path}/in, format: DELTA, as_stream: true}}", f"{{path: {tmp_path}/in, format: PARQUET, as_stream: true}}")
    (tmp_path / "in").mkdir()
    for i, rows in enumerate(BATCHES[:2]):
        frame(rows).write_parquet(tmp_path / "in" / f"b{i}.parquet")
        summary = h.run()
        assert summary.batches == 2
    offsets = json.loads((tmp_path / "ck" / "st" / "n" / "replay" / "offsets" / "3.json").read_text())
    assert offsets["files"] == [] and len(offsets["seen"]) == 2
    assert table(h)[:2] == [("2024-01-01T12:00:00+00:00", 2, 3), ("2024-01-01T12:10:00+00:00", 2, 11)]



def test_window_struct_type(tmp_path):
    import polars as pl

    h = window_harness(tmp_path)
    for rows in BATCHES[:2]:
        h.batch(rows)
    assert h.out().schema["window"] == pl.Struct({"start": pl.Datetime("us", "UTC"), "end": pl.Datetime("us", "UTC")})


def test_full_refresh_removes_the_state(tmp_path):
    from kappa.engines.polars.engine import PolarsEngine

    h = window_harness(tmp_path)
    h.batch(BATCHES[0])
    summary = PolarsEngine()._run(h.plan().for_engine("polars"), ("n",), None).node("n")
    assert summary.late_rows == 0 and summary.batches == 2  # all the data again, from an empty state


class Crash(BaseException):
    pass


POINTS = ["after_plan", "after_sink", "state_before_rename", "before_commit", "after_commit"]


@pytest.mark.parametrize("changelog", [False, True])  # True: every version a changelog, read back from disk
@pytest.mark.parametrize("mode", ["append", "update"])
@pytest.mark.parametrize("point", POINTS)
@pytest.mark.parametrize("nth", [1, 2])  # in the data batch, in the no-data batch
def test_crash_then_rerun_gives_the_same_output_and_state(tmp_path, monkeypatch, mode, point, nth, changelog):
    import kappa.engines.polars.engine as engine
    import kappa.engines.polars.stateful.store as store

    if changelog:
        monkeypatch.setattr(store, "MIN_CHANGELOG_ROWS", 0)
        monkeypatch.setattr(store, "CHANGE_SHARE", 100.0)
        monkeypatch.setattr(store, "SNAPSHOT_EVERY", 4)

    ref = window_harness(tmp_path / "ref", mode)
    for rows in BATCHES:
        ref.batch(rows)
    h = window_harness(tmp_path / "crash", mode)
    h.batch(BATCHES[0])
    h.append(BATCHES[1])
    hits = {"n": 0}

    def crash(name):
        if name == point:
            hits["n"] += 1
            if hits["n"] == nth:
                raise Crash(name)

    monkeypatch.setattr(engine, "failpoint", crash)
    monkeypatch.setattr(store, "failpoint", crash)
    with pytest.raises(Crash):
        h.run()
    monkeypatch.setattr(engine, "failpoint", lambda name: None)
    monkeypatch.setattr(store, "failpoint", lambda name: None)
    store._MEMORY.clear()  # as a new process would: the state from disk
    for rows in BATCHES[2:]:
        h.run()
        h.batch(rows)
    assert sorted(map(str, h.out().to_dicts())) == sorted(map(str, ref.out().to_dicts()))
    store._MEMORY.clear()
    states = [store.StateStore(x.root / "ck" / "st" / "n" / "replay").load(7).frames["op0"] for x in (h, ref)]
    assert states[0].sort(states[0].columns).equals(states[1].sort(states[1].columns)) and states[0].height == 1
    kinds = {p.name for p in (h.root / "ck" / "st" / "n" / "replay" / "state" / "7").iterdir()}
    assert kinds == ({"meta.json", "op0.changes.parquet", "op0.deleted.parquet"} if changelog else {"meta.json", "op0.parquet"})


def test_dedup_node_writes_first_rows_only(tmp_path):
    h = Harness(tmp_path, [{"func_name": "unique", "func_kwargs": {"subset": ["k"]}}],
                StatefulPlan("append", WM, (DedupSpec(1, ("k",)),)))
    for rows in BATCHES:
        h.batch(rows)
    assert sorted(h.out()["k"].to_list()) == ["a", "b", "e", "g"]
