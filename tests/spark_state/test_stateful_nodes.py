"""Stateful nodes on Spark, one per operator family, over three runs (availableNow, one source
commit per run): the exact Delta tables, the late rows Spark counted, the watermark and state.

Source rows ``(k, minute, v)``: run 1 a@1 a@2 b@5, run 2 a@25 a@3, run 3 a@4 b@40 (a@4 is
late in run 3: the watermark is 25 - 10 = minute 15). Each run is a data batch, then the
no-data batch Spark runs because the watermark moved (Spark 4.2, availableNow included).
"""

from __future__ import annotations

import pytest

from kappa.stateful.spec import AggregateCall, AggregateSpec, DedupSpec, StatefulPlan, WatermarkSpec, WindowSpec
from tests.spark_state.helpers import MIN_US, at, commit, node_yaml, pipeline, rows

WM = "{{func_name: with_watermark, func_kwargs: {{column: ts, delay: 10 minutes}}}}"
WATERMARK = WatermarkSpec(step=0, column="ts", delay="10 minutes", delay_us=10 * MIN_US)
TUMBLE = WindowSpec(kind="tumbling", column="ts", size="10 minutes", size_us=10 * MIN_US)
SESSION = WindowSpec(kind="session", column="ts", gap="5 minutes", gap_us=5 * MIN_US)
WINDOW_AGG = ("expr: SELECT k, window(ts, '10 minutes') AS window, count(*) AS n, sum(v) AS s "
              "FROM {{df}} GROUP BY k, window(ts, '10 minutes')")
RUNS = [[("a", 1, 1), ("a", 2, 2), ("b", 5, 3)], [("a", 25, 1), ("a", 3, 5)], [("a", 4, 7), ("b", 40, 1)]]


COUNT_SUM = (AggregateCall("count", (), "COUNT(*)", "n"), AggregateCall("sum", ("v",), "SUM(v)", "s"))


def _agg(step, keys=("k", "window"), window=TUMBLE, output="window", calls=()):
    return AggregateSpec(step=step, keys=keys, window=window, window_output=output, calls=calls)


#: name -> (steps, sink mode, output_mode given in the YAML, the state build_plan must find)
NODES = {
    "dedup": (
        [WM, "{{func_name: drop_duplicates, func_kwargs: {{subset: [k, ts]}}}}"], "append", None,
        StatefulPlan("append", WATERMARK, (DedupSpec(step=1, subset=("k", "ts")),)),
    ),
    "dedup_ww": (
        [WM, "{{func_name: drop_duplicates_within_watermark, func_kwargs: {{subset: [k, v]}}}}"], "append", None,
        StatefulPlan("append", WATERMARK, (DedupSpec(step=1, subset=("k", "v"), within_watermark=True),)),
    ),
    "win_append": ([WM, WINDOW_AGG], "append", None, StatefulPlan("append", WATERMARK, (_agg(1, calls=COUNT_SUM),))),
    "win_upsert": ([WM, WINDOW_AGG], "upsert", "update", StatefulPlan("update", WATERMARK, (_agg(1, calls=COUNT_SUM),))),
    "session": (
        [WM, "expr: SELECT k, session_window(ts, '5 minutes') AS session, count(*) AS n FROM {{df}} "
             "GROUP BY k, session_window(ts, '5 minutes')"], "append", None,
        StatefulPlan("append", WATERMARK, (_agg(1, ("k", "session"), SESSION, "session", COUNT_SUM[:1]),)),
    ),
    "complete": (
        ["expr: SELECT k, count(*) AS n, sum(v) AS s FROM {{df}} GROUP BY k"], "overwrite", "complete",
        StatefulPlan("complete", None, (_agg(0, ("k",), None, None, COUNT_SUM),)),
    ),
}


#: the default suite's nodes (about 30 s); the other families run under ``slow``
FAST = ("dedup", "win_append", "win_upsert")
SLOW = ("dedup_ww", "session", "complete")


def _three_runs(spark, root, names):
    """The pipeline of nodes ``names`` run three times, one source commit before each."""
    from kappa.engines.spark.engine import SparkEngine
    from kappa.plan import build_plan

    pl = pipeline(root, [node_yaml(name, *NODES[name][:3]) for name in names])
    plan = build_plan(pl)
    assert {name: plan.node(name).state for name in names} == {name: NODES[name][3] for name in names}
    summaries = []
    partitions = spark.conf.get("spark.sql.shuffle.partitions")
    spark.conf.set("spark.sql.shuffle.partitions", "1")  # one state store partition per operator
    try:
        for batch in RUNS:
            commit(root / "src", batch)
            summaries.append(SparkEngine(spark=spark, profile="python").run(pl, plan))
    finally:
        spark.conf.set("spark.sql.shuffle.partitions", partitions)
    return root, summaries


@pytest.fixture(scope="module")
def three_runs(spark, tmp_path_factory):
    return _three_runs(spark, tmp_path_factory.mktemp("state"), FAST)


@pytest.fixture(scope="module")
def slow_runs(spark, tmp_path_factory):
    return _three_runs(spark, tmp_path_factory.mktemp("state_slow"), SLOW)


def test_dedup_is_stateful_across_runs_and_drops_late_rows(three_runs):
    root, summaries = three_runs
    assert rows(root / "dedup", "k", "ts", "v") == [("a", 1, 1), ("a", 2, 2), ("a", 3, 5), ("a", 25, 1), ("b", 5, 3), ("b", 40, 1)]
    # run 3: a@4 is late (4 <= 15)
    assert [s.node("dedup").late_rows for s in summaries] == [0, 0, 1]
    last = summaries[-1].node("dedup")
    assert last.watermark == "2026-01-01T00:30:00.000Z"
    assert last.state_rows == 1 and last.state_bytes > 0  # (k, ts) keys <= 30 evicted: b@40 left


@pytest.mark.slow
def test_dedup_within_watermark_forgets_keys_after_their_expiry(slow_runs):
    root, summaries = slow_runs
    # a/v1@25 is a duplicate of a/v1@1 (expiry minute 11, still held while the watermark is < 11)
    assert rows(root / "dedup_ww", "k", "ts", "v") == [("a", 1, 1), ("a", 2, 2), ("a", 3, 5), ("b", 5, 3), ("b", 40, 1)]
    assert summaries[-1].node("dedup_ww").late_rows == 1


def test_window_append_emits_each_window_once_when_the_watermark_passes_it(three_runs):
    root, summaries = three_runs
    assert rows(root / "win_append", "k", "window", "n", "s") == [("a", (0, 10), 3, 8), ("a", (20, 30), 1, 1), ("b", (0, 10), 1, 3)]
    assert [s.node("win_append").late_rows for s in summaries] == [0, 0, 1]
    assert summaries[-1].node("win_append").state_rows == 1  # b [40, 50) still open: kept, not flushed


def test_update_mode_upsert_table_equals_the_batch_group_by(three_runs):
    root, summaries = three_runs
    # every non-late row: the batch GROUP BY over everything read so far
    assert rows(root / "win_upsert", "k", "window", "n", "s") == [
        ("a", (0, 10), 3, 8), ("a", (20, 30), 1, 1), ("b", (0, 10), 1, 3), ("b", (40, 50), 1, 1)]
    assert summaries[0].node("win_upsert").sink_rows == {"sink0": 2}


@pytest.mark.slow
def test_session_windows_merge_and_close_with_the_watermark(slow_runs):
    root, _ = slow_runs
    assert rows(root / "session", "k", "session", "n") == [("a", (1, 8), 3), ("a", (25, 30), 1), ("b", (5, 10), 1)]


@pytest.mark.slow
def test_complete_mode_rewrites_the_whole_result_and_drops_nothing(slow_runs):
    root, summaries = slow_runs
    assert rows(root / "complete", "k", "n", "s") == [("a", 5, 16), ("b", 2, 4)]
    last = summaries[-1].node("complete")
    assert last.late_rows == 0 and last.watermark is None and last.state_rows == 2
    # no watermark: no no-data batch, one batch per run
    assert [s.node("complete").batches for s in summaries] == [1, 1, 1]


def test_no_data_batches_write_nothing(three_runs):
    from deltalake import DeltaTable

    root, summaries = three_runs
    # data batch + the no-data batch of each run; the append table got a commit per run that emitted
    assert [s.node("win_append").batches for s in summaries] == [2, 2, 2]
    assert [s.node("win_append").output_rows for s in summaries] == [0, 2, 1]
    history = DeltaTable(str(root / "win_append")).history()
    assert len(history) == 3  # created empty by run 1, then one commit per emitting batch
    assert at(0).year == 2026
