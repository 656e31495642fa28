"""The state oracle (tests/helpers/state_oracle.py) against hand-worked examples and against
plain local Spark, with no kappa in between: each run of the stream writes one Parquet file
and runs a PySpark query (``withWatermark`` + the operator, ``trigger(availableNow=True)``,
``foreachBatch`` collecting every micro-batch). The micro-batch ids, their watermarks and the
rows each emitted must equal the oracle's, no-data batches included: the rules the property
tests hold both engines to are Spark's own, not the engines' reading of them."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck
from hypothesis import strategies as st

from tests.helpers.properties import check, depths
from tests.helpers.state_oracle import US, Query, recompute, simulate, to_datetime
from tests.helpers.state_streams import BASE, show, streams
from tests.helpers.tables import row_key

MIN = 60 * US


def ev(i: int, key: str, sec: int, v: int = 1) -> dict:
    return {"id": i, "key": key, "ts": BASE + sec * US, "v": v}


def win(start_s: int, end_s: int) -> dict:
    return {"start": to_datetime(BASE + start_s * US), "end": to_datetime(BASE + end_s * US)}


# ------------------------------------------------------------------ hand-worked examples
def test_tumbling_append_emits_each_window_once_when_the_watermark_passes_its_end():
    q = Query("window", "append", delay_us=MIN, size_us=MIN)
    r = simulate(q, [[ev(1, "a", 10), ev(2, "a", 50)], [ev(3, "a", 130)], [ev(4, "a", 20), ev(5, "a", 200)]])
    # batch 0: wm 0 (the epoch); after it wm = 50 s - 60 s: a no-data batch 1 (nothing to emit)
    # batch 2: the row at 130 s; after it wm = 70 s: a no-data batch 3 (wm 70 s) emits [0, 60)
    # batch 4: late wm 70 s drops ts 20 s (window end 60 s <= 70 s); wm after = 140 s: a no-data
    #          batch 5 emits nothing ([120, 180) and [180, 240) are still open)
    assert [(b.batch_id, b.data) for b in r.batches] == [(0, True), (1, False), (2, True), (3, False), (4, True), (5, False)]
    assert (r.batches[3].wm_late, r.batches[3].wm_evict, r.batches[4].wm_late) == (BASE - 10 * US, BASE + 70 * US, BASE + 70 * US)
    assert [len(b.rows) for b in r.batches] == [0, 0, 0, 1, 0, 0]
    assert r.batches[3].rows == [{"window": win(0, 60), "key": "a", "n": 2, "total": 2, "lo": 1, "hi": 1, "first_v": 1, "last_v": 1}]
    assert r.batches[4].late_rows == 1
    assert r.watermark == BASE + 140 * US
    assert r.state_rows == 2  # [120, 180) and [180, 240) stay open


def test_update_mode_emits_touched_groups_then_evicts_silently():
    q = Query("window", "update", delay_us=0, size_us=MIN)
    r = simulate(q, [[ev(1, "a", 10, 5)], [ev(2, "a", 70, 1)], [ev(3, "a", 30, 7)]])
    assert [[row["n"] for row in b.rows] for b in r.batches] == [[1], [], [1], [], []]
    assert r.batches[4].late_rows == 1  # ts 30 s is in [0, 60), whose end <= wm 70 s
    assert [row["total"] for row in r.table()] == [5, 1]


def test_dedup_keys_without_event_time_are_never_evicted_but_late_rows_still_drop():
    q = Query("dedup", delay_us=0, subset=("id",))
    first, late_copy = ev(1, "a", 100), ev(1, "a", 100)
    r = simulate(q, [[first, ev(2, "b", 200)], [late_copy, ev(3, "c", 150)]])
    assert [len(b.rows) for b in r.batches] == [2, 0, 0]
    assert r.batches[2].late_rows == 2 and r.state_rows == 2


def test_dedup_within_watermark_forgets_a_key_delay_after_its_event_time():
    q = Query("dedup_within", delay_us=MIN, subset=("id",))
    r = simulate(q, [[ev(1, "a", 100)], [ev(2, "a", 300)], [ev(1, "a", 100)]])
    # after batch 1 wm = 240 s >= 100 + 60: key 1 evicted by the no-data batch; the copy is late anyway
    assert r.state_rows == 1 and r.late_rows == 1


def test_sessions_merge_when_they_touch_across_batches():
    q = Query("session", "append", delay_us=0, size_us=MIN)
    r = simulate(q, [[ev(1, "a", 100), ev(2, "a", 160)], [ev(3, "a", 90), ev(4, "b", 500)]])
    # batch 0: [100, 160) and [160, 220) touch: one session [100, 220); wm after = 160 s
    # batch 2: a@90 opens [90, 150), which ends <= 160 s: late, dropped; after it wm = 500 s
    # no-data batch 3: [100, 220) ends <= 500 s: emitted; b's [500, 560) stays open
    assert r.late_rows == 1
    assert [(row["key"], row["n"], row["session_window"]) for row in r.table()] == [("a", 2, win(100, 220))]
    assert r.state_rows == 1

    rows = recompute([ev(1, "a", 1, 3), ev(2, "a", 2, -1), ev(3, "b", 1, 4)])
    assert sorted(rows, key=row_key) == sorted([
        {"key": "a", "n": 2, "total": 2, "lo": -1, "hi": 3, "first_v": 3, "last_v": -1, "mean": 1.0},
        {"key": "b", "n": 1, "total": 4, "lo": 4, "hi": 4, "first_v": 4, "last_v": 4, "mean": 4.0},
    ], key=row_key)


# ------------------------------------------------------------------ against plain Spark
def spark_query(spark, q: Query, src: str):
    """``q`` as a plain PySpark streaming DataFrame over the Parquet files under ``src``."""
    from pyspark.sql import functions as F

    df = spark.readStream.schema("id BIGINT, key STRING, ts TIMESTAMP, v BIGINT").parquet(src)
    if q.delay_us is not None:
        df = df.withWatermark("ts", f"{q.delay_us // 1_000_000} seconds")
    if q.op == "dedup":
        return df.dropDuplicates(list(q.subset)) if q.subset else df.dropDuplicates()
    if q.op == "dedup_within":
        return df.dropDuplicatesWithinWatermark(list(q.subset))
    aggs = [F.count("*").alias("n"), F.sum("v").alias("total"), F.min("v").alias("lo"), F.max("v").alias("hi"),
            F.min_by("v", "ts").alias("first_v"), F.max_by("v", "ts").alias("last_v")]
    if q.op == "session":
        return df.groupBy(F.session_window("ts", f"{q.size_us // US} seconds").alias("session_window"), "key").agg(*aggs)
    if q.op == "window":
        slide = f"{q.slide_us // US} seconds" if q.slide_us else None
        w = F.window("ts", f"{q.size_us // US} seconds", slide) if slide else F.window("ts", f"{q.size_us // US} seconds")
        return df.groupBy(w.alias("window"), "key").agg(*aggs)
    return df.groupBy("key").agg(*aggs, F.avg("v").alias("mean"))


def run_spark(spark, q: Query, cut: list[list[dict]], root) -> list[tuple[int, str | None, list[dict]]]:
    """(batch id, watermark, emitted rows) of every micro-batch of ``q`` over the runs ``cut``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    src, ck = root / "src", root / "ck"
    src.mkdir(parents=True)
    seen: list[tuple[int, list[dict]]] = []
    out = []
    for i, rows in enumerate(cut):
        table = pa.table({"id": [r["id"] for r in rows], "key": [r["key"] for r in rows],
                          "ts": pa.array([r["ts"] for r in rows], pa.int64()).cast(pa.timestamp("us", "UTC")),
                          "v": [r["v"] for r in rows]})
        pq.write_table(table, src / f"part-{i:04d}.parquet")
        query = (spark_query(spark, q, str(src)).writeStream.outputMode(q.mode)
                 .foreachBatch(lambda df, bid: seen.append((bid, df.toArrow().to_pylist())))
                 .option("checkpointLocation", str(ck)).trigger(availableNow=True).start())
        query.awaitTermination()
        marks = {p["batchId"]: p.get("eventTime", {}).get("watermark") for p in query.recentProgress}
        out += [(bid, marks.get(bid), rows) for bid, rows in seen]
        seen.clear()
    return out


def _canon(rows: list[dict]) -> list[dict]:
    return sorted(rows, key=row_key)


QUERIES = st.sampled_from([
    Query("dedup", delay_us=0),
    Query("dedup", delay_us=60 * US, subset=("id",)),
    Query("dedup", delay_us=60 * US, subset=("id", "ts")),
    Query("dedup_within", delay_us=60 * US, subset=("id",)),
    Query("window", "append", delay_us=60 * US, size_us=MIN),
    Query("window", "update", delay_us=120 * US, size_us=2 * MIN, slide_us=MIN),
    Query("window", "append", delay_us=0, size_us=3 * MIN, slide_us=MIN),
    Query("window", "complete", delay_us=60 * US, size_us=MIN),
    Query("aggregate", "update"),
    Query("session", "append", delay_us=60 * US, size_us=MIN),
    Query("session", "append", delay_us=0, size_us=3 * MIN),
])


@pytest.mark.spark
@depths(2, 40)
def test_oracle_is_spark(spark, tmp_path_factory, examples):
    def prop(q, cut):
        root = tmp_path_factory.mktemp("oracle")
        got = run_spark(spark, q, cut, root)
        want = simulate(q, cut)
        print(f"query {q}\nbatches {show(cut)}")  # shown by hypothesis on failure
        assert [b for b, _, _ in got] == [b.batch_id for b in want.batches]
        assert [_canon(rows) for _, _, rows in got] == [_canon(b.rows) for b in want.batches]
        marks = [to_datetime(b.wm_evict).strftime("%Y-%m-%dT%H:%M:%S.000Z") for b in want.batches]
        if q.delay_us is not None:
            assert [m for _, m, _ in got] == marks

    check(prop, examples, dict(deadline=None, derandomize=False, suppress_health_check=list(HealthCheck)),
          q=QUERIES, cut=streams(max_events=14, max_batches=3))


@pytest.mark.spark
def test_touching_sessions_and_late_rows_on_spark(spark, tmp_path):
    q = Query("session", "append", delay_us=0, size_us=MIN)
    cut = [[ev(1, "a", 100), ev(2, "a", 160)], [ev(3, "a", 90), ev(4, "b", 500), ev(5, "a", 220)]]
    got = run_spark(spark, q, cut, tmp_path)
    assert [(b, _canon(rows)) for b, _, rows in got] == [(b.batch_id, _canon(b.rows)) for b in simulate(q, cut).batches]
