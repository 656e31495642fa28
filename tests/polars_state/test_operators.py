"""Each stateful operator on Polars against the outcomes real Spark 4.2 gave on the same input
(the probe described in :mod:`kappa.engines.polars.stateful`): rows per batch, late rows,
watermarks, state rows. Batches 1, 3, 5, 7 are Spark's no-data batches. Times are minutes
after 12:00; windows (start, end)."""

from __future__ import annotations

import pytest

from kappa.plan import StepPlan
from kappa.stateful.spec import AggregateSpec, DedupSpec, StatefulPlan, WindowSpec

from tests.polars_state.harness import WM, simulate

TUMBLE = WindowSpec("tumbling", "ts", "10 minutes", 600_000_000)
SLIDE = WindowSpec("sliding", "ts", "10 minutes", 600_000_000, 300_000_000)
AGG_SQL = "SELECT window, count(*) AS n, sum(v) AS sv FROM {df} GROUP BY %s"


def rows(result, i):
    return {tuple(r.values()) for r in result[i][1]}


def dedup(subset, within=False, mode="append"):
    step = StepPlan(1, "method", func_name="unique", func_kwargs={"subset": list(subset)})
    return simulate(StatefulPlan(mode, WM, (DedupSpec(1, tuple(subset), within),)), [step])


def window_agg(window, call, mode):
    spec = AggregateSpec(1, ("window",), window, "window", ())
    return simulate(StatefulPlan(mode, WM, (spec,)), [StepPlan(1, "sql", sql=AGG_SQL % call)])


def test_watermark_and_no_data_batches():
    result = dedup(["k"])
    assert [r[0] for r in result] == list(range(8))  # each data batch is followed by a no-data batch
    assert [r[3] for r in result] == [None, 10, 10, 30, 30, 35, 35, 80]  # eviction watermark per batch


def test_dedup_without_time_drops_late_rows_and_never_evicts():
    result = dedup(["k"])
    assert rows(result, 0) == {("a", 0, 1), ("b", 5, 2)}
    assert rows(result, 2) == {("e", 40, 9)}  # c@10 is late (<= wm 10), like h, s, d; a is a duplicate
    assert [r[2] for r in result] == [0, 0, 4, 0, 1, 0, 0, 0]
    assert [r[4] for r in result] == [2, 2, 3, 3, 3, 3, 4, 4]


def test_dedup_with_time_evicts_by_watermark():
    result = dedup(["k", "ts"])
    assert rows(result, 0) == {("a", 0, 1), ("a", 20, 3), ("b", 5, 2)}
    assert rows(result, 2) == {("a", 15, 7), ("e", 40, 9)}
    assert rows(result, 4) == {("a", 45, 11), ("b", 31, 12)}
    assert [r[4] for r in result] == [3, 1, 3, 1, 3, 2, 3, 1]


def test_dedup_within_watermark_expires_at_time_plus_delay():
    result = dedup(["k"], within=True)
    assert rows(result, 2) == {("a", 15, 7), ("e", 40, 9)}  # a@0 expired at 12:10 <= wm 12:10
    assert rows(result, 4) == {("a", 45, 11), ("b", 31, 12)}
    assert [r[2] for r in result] == [0, 0, 4, 0, 1, 0, 0, 0]
    assert [r[4] for r in result] == [2, 1, 3, 1, 3, 3, 4, 1]


def test_tumbling_append_emits_each_window_once_after_the_watermark():
    result = window_agg(TUMBLE, "window(ts, '10 minutes')", "append")
    emitted = {i: rows(result, i) for i in range(8) if result[i][1]}
    assert emitted == {1: {((0, 10), 2, 3)}, 3: {((10, 20), 2, 11), ((20, 30), 1, 3)},
                       7: {((30, 40), 2, 22), ((40, 50), 2, 20)}}
    assert [r[2] for r in result] == [0, 0, 3, 0, 0, 0, 0, 0]  # Spark: 1 (partially aggregated)
    assert [r[4] for r in result] == [2, 1, 3, 1, 2, 2, 3, 1]


def test_tumbling_update_emits_touched_groups():
    result = window_agg(TUMBLE, "window(ts, '10 minutes')", "update")
    assert rows(result, 0) == {((0, 10), 2, 3), ((20, 30), 1, 3)}
    assert rows(result, 2) == {((10, 20), 2, 11), ((40, 50), 1, 9)}
    assert rows(result, 4) == {((30, 40), 2, 22), ((40, 50), 2, 20)}
    assert rows(result, 6) == {((90, 100), 1, 13)}
    assert all(not result[i][1] for i in (1, 3, 5, 7))
    assert [r[4] for r in result] == [2, 1, 3, 1, 2, 2, 3, 1]


def test_sliding_update_late_for_some_windows_only():
    result = window_agg(SLIDE, "window(ts, '10 minutes', '5 minutes')", "update")
    assert rows(result, 2) == {((5, 15), 4, 17), ((10, 20), 2, 11), ((15, 25), 2, 10), ((35, 45), 1, 9), ((40, 50), 1, 9)}
    assert result[2][2] == 1  # only d@2 is late for all its windows (Spark counts 2 partial rows)
    assert [r[4] for r in result] == [5, 3, 6, 2, 5, 4, 6, 2]


def test_sliding_append():
    result = window_agg(SLIDE, "window(ts, '10 minutes', '5 minutes')", "append")
    assert rows(result, 1) == {((-5, 5), 1, 1), ((0, 10), 2, 3)}
    assert rows(result, 3) == {((5, 15), 4, 17), ((10, 20), 2, 11), ((15, 25), 2, 10), ((20, 30), 1, 3)}
    assert rows(result, 5) == {((25, 35), 2, 22)}
    assert [r[4] for r in result] == [5, 3, 6, 2, 5, 4, 6, 2]


def test_non_windowed_update_keeps_every_key():
    spec = AggregateSpec(1, ("k",), None, None, ())
    result = simulate(StatefulPlan("update", WM, (spec,)), [StepPlan(1, "sql", sql="SELECT k, count(*) AS n FROM {df} GROUP BY k")])
    assert rows(result, 2) == {("a", 3), ("c", 1), ("d", 1), ("e", 1), ("h", 1), ("s", 1)}
    assert rows(result, 4) == {("a", 4), ("b", 2), ("f", 1)}
    assert [r[2] for r in result] == [0] * 8
    assert [r[4] for r in result] == [2, 2, 7, 7, 8, 8, 9, 9]


@pytest.mark.parametrize("mode", ["update", "complete"])
def test_decimal_types_and_expressions_over_aggregates(mode):
    sql = ("SELECT k, CAST(AVG(CAST(v AS DECIMAL(18,6))) AS DECIMAL(18,4)) AS a, AVG(CAST(v AS DECIMAL(18,6))) AS a2, "
           "SUM(CAST(v AS DECIMAL(18,6))) AS s, min_by(v, ts) AS first_v, max_by(v, ts) AS last_v, max(ts) AS mx "
           "FROM {df} WHERE v > 1 GROUP BY k HAVING count(*) > 1")
    spec = AggregateSpec(1, ("k",), None, None, ())
    result = simulate(StatefulPlan(mode, WM, (spec,)), [StepPlan(1, "sql", sql=sql)])
    from decimal import Decimal

    i = 2 if mode == "update" else 1  # the second data batch (complete mode runs no no-data batch)
    a = [r for r in result[i][1] if r["k"] == "a"][0]
    assert a["a"] == Decimal("5.0000") and a["a2"] == Decimal("5.0000000000") and a["s"] == Decimal("10.000000")
    assert (a["first_v"], a["last_v"], a["mx"]) == (7, 3, 20)  # a@15 v=7, a@20 v=3; a@0 (v=1) fails the WHERE
    assert {r["k"] for r in result[i][1]} == {"a"}  # HAVING count(*) > 1


def test_decimal_avg_rounds_once_like_spark():
    from decimal import Decimal

    from kappa.engines.polars.stateful.aggregate import spark_decimal_avg

    assert spark_decimal_avg(Decimal("1.000000"), 3, 18, 6, 22, 10) == Decimal("0.3333333333")
    xs = ["-665216.467484", "431919.863566", "-840878.821424", "180348.385316", "-196436.830191", "-872942.892963"]
    # Spark 4.2's avg of these as DECIMAL(30,6) is DECIMAL(34,10) -327201.1271966667 (one HALF_UP rounding)
    assert spark_decimal_avg(sum(map(Decimal, xs)), 6, 30, 6, 34, 10) == Decimal("-327201.1271966667")


def test_complete_mode_drops_no_late_row_and_keeps_every_window():
    result = window_agg(TUMBLE, "window(ts, '10 minutes')", "complete")
    assert [r[0] for r in result] == [0, 1, 2, 3]  # no no-data batch in complete mode
    assert rows(result, 1) == {((0, 10), 5, 22), ((10, 20), 2, 11), ((20, 30), 1, 3), ((40, 50), 1, 9)}
    assert [r[2] for r in result] == [0, 0, 0, 0]
    assert [r[4] for r in result] == [2, 4, 5, 6]


def test_session_windows_append_merge_across_batches():
    spec = AggregateSpec(1, ("k", "session_window"), WindowSpec("session", "ts", gap="5 minutes", gap_us=300_000_000), "session_window", ())
    sql = ("SELECT k, session_window(ts, '5 minutes') AS session_window, count(*) AS n, sum(v) AS sv "
           "FROM {df} GROUP BY k, session_window(ts, '5 minutes')")
    result = simulate(StatefulPlan("append", WM, (spec,)), [StepPlan(1, "sql", sql=sql)])
    emitted = {i: rows(result, i) for i in range(8) if result[i][1]}
    assert emitted == {1: {("a", (0, 5), 1, 1), ("b", (5, 10), 1, 2)},
                       3: {("a", (15, 25), 2, 10), ("c", (10, 15), 1, 4), ("s", (7, 12), 1, 6)},  # a@20 + a@15 merged
                       5: {("f", (30, 35), 1, 10)},
                       7: {("a", (45, 50), 1, 11), ("b", (31, 36), 1, 12), ("e", (40, 45), 1, 9)}}
    assert [r[2] for r in result] == [0, 0, 2, 0, 0, 0, 0, 0]  # h@5 and d@2: their sessions end <= 12:10
    assert [r[4] for r in result] == [3, 1, 4, 1, 4, 3, 4, 1]


def test_group_by_an_expression_and_its_alias():
    spec = AggregateSpec(1, ("kk",), None, None, ())
    for group in ("upper(k)", "kk"):
        sql = f"SELECT upper(k) AS kk, count(*) AS n, count(*) + 1 AS n1 FROM {{df}} GROUP BY {group}"
        result = simulate(StatefulPlan("update", WM, (spec,)), [StepPlan(1, "sql", sql=sql)])
        assert rows(result, 0) == {("A", 2, 3), ("B", 1, 2)}


def test_watermark_is_whole_milliseconds_like_spark():
    import datetime as dt

    import polars as pl

    from kappa.engines.polars.stateful.run import run_stateful, to_ms
    from kappa.engines.polars.stateful.store import StateSnapshot

    from tests.polars_state.harness import SCHEMA, T0, us

    assert (to_ms(1999), to_ms(-1999)) == (1, -1)
    from types import SimpleNamespace

    node = SimpleNamespace(name="n", sql_refs=(), state=StatefulPlan("append", WM, (DedupSpec(1, ("k",)),)),
                           steps=(StepPlan(0, "method", func_name="with_watermark"),
                                  StepPlan(1, "method", func_name="unique", func_kwargs={"subset": ["k"]})))
    ts = T0 + dt.timedelta(minutes=20, microseconds=999)
    res = run_stateful(node, pl.LazyFrame({"k": ["a"], "ts": [ts], "v": [1]}, schema=SCHEMA), {}, StateSnapshot())
    assert res.snapshot.next_watermark == us(10)  # 12:20:00.000999 - 10 minutes, truncated to the ms


def test_decimal_avg_column_equals_the_exact_rounding():
    import random
    from decimal import Decimal

    import polars as pl

    from kappa.engines.polars.stateful.aggregate import decimal_avg_column, spark_decimal_avg

    rng = random.Random(3)
    sums = [Decimal(rng.randint(-10**17, 10**17)).scaleb(-6) for _ in range(500)] + [None, Decimal("0.000005"), Decimal("-0.000005")]
    counts = [rng.randint(1, 50) for _ in range(500)] + [0, 1, 1]
    for t in (pl.Decimal(22, 10), pl.Decimal(38, 4)):
        got = decimal_avg_column("a", pl.Series(sums, dtype=pl.Decimal(38, 6)), pl.Series(counts), t).to_list()
        assert got == [spark_decimal_avg(s, n, 18, 6, t.precision, t.scale) for s, n in zip(sums, counts)]
