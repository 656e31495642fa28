"""The StatefulPlan a streaming node's steps give, and Spark's output-mode defaults."""

from __future__ import annotations

from types import SimpleNamespace as S

import pytest

from kappa.plan import build_plan
from kappa.stateful.analyze import analyze, stateful_plan
from kappa.stateful.spec import AggregateCall, AggregateSpec, DedupSpec, WatermarkSpec, WindowSpec

from tests.stateful.helpers import load, node_yaml

H = 3_600_000_000
WM = S(func_name="with_watermark", func_args=[], func_kwargs={"column": "ts", "delay": "10 minutes"})


def sql(text: str) -> S:
    return S(sql=text)


def method(name: str, *args, **kwargs) -> S:
    return S(func_name=name, func_args=list(args), func_kwargs=kwargs)


def agg(steps) -> AggregateSpec:
    plan = stateful_plan("n", steps, streaming=True)
    return plan.aggregate


def test_build_plan_fills_the_state_of_streaming_nodes_only():
    text = node_yaml("""
        - func_name: with_watermark
          func_kwargs: {column: ts, delay: 10 minutes}
        - expr: SELECT k, window(ts, '1 hour') AS window, count(*) AS n FROM {df} GROUP BY window(ts, '1 hour'), k
    """)
    plan = build_plan(load(text))
    state = plan.node("agg").state
    assert state.output_mode == "append"
    assert state.watermark == WatermarkSpec(step=0, column="ts", delay="10 minutes", delay_us=600_000_000)
    assert state.operators == (AggregateSpec(
        step=1, keys=("window", "k"), window=WindowSpec(kind="tumbling", column="ts", size="1 hour", size_us=H),
        window_output="window", calls=(AggregateCall("count", (), "COUNT(*)", "n"),)),)
    assert plan.node("brz").state is None
    batch = build_plan(load(text.replace("as_stream: true", "as_stream: false")))
    assert batch.node("agg").state is None


def test_watermark_positional_and_alone():
    plan = stateful_plan("n", [method("with_watermark", "created_at", "1 hour")], streaming=True)
    assert plan.watermark == WatermarkSpec(0, "created_at", "1 hour", H) and plan.operators == ()
    assert plan.output_mode == "append"


@pytest.mark.parametrize("step, spec", [
    (method("unique"), DedupSpec(0, None)),
    (method("unique", subset=["id"], keep="any"), DedupSpec(0, ("id",))),
    (method("unique", "id"), DedupSpec(0, ("id",))),
    (method("drop_duplicates", subset=["id", "ts"]), DedupSpec(0, ("id", "ts"))),
])
def test_streaming_dedup(step, spec):
    assert stateful_plan("n", [step], streaming=True).operators == (spec,)
    assert stateful_plan("n", [step], streaming=False) is None


def test_dedup_within_watermark():
    plan = stateful_plan("n", [WM, method("drop_duplicates_within_watermark", subset=["id"])], streaming=True)
    assert plan.operators == (DedupSpec(1, ("id",), within_watermark=True),)
    assert stateful_plan("n", [WM, method("drop_duplicates_within_watermark")], streaming=True).operators[0].subset is None


def test_plan_step_indices_are_the_plan_steps():
    steps = [S(index=0, kind="sql", sql="SELECT * FROM {df}"), S(index=1, kind="method", sql=None, func_name="unique",
                                                                func_args=(), func_kwargs={})]
    assert stateful_plan("n", steps, streaming=True).operators == (DedupSpec(1, None),)


@pytest.mark.parametrize("group, window", [
    ("window(ts, '1 hour')", WindowSpec("tumbling", "ts", size="1 hour", size_us=H)),
    ("window(ts, '1 hour', '15 minutes')", WindowSpec("sliding", "ts", size="1 hour", size_us=H, slide_us=H // 4, slide="15 minutes")),
    ("window(ts, '1 hour', '1 hour', '5 minutes')", WindowSpec("tumbling", "ts", size="1 hour", size_us=H, start_us=300_000_000)),
    ("window(ts, INTERVAL 1 HOUR)", WindowSpec("tumbling", "ts", size="1 HOUR", size_us=H)),
    ("window(ts, 'interval 2 days')", WindowSpec("tumbling", "ts", size="interval 2 days", size_us=48 * H)),
])
def test_window_forms(group, window):
    spec = agg([WM, sql(f"SELECT {group} AS w, count(*) AS n FROM {{df}} GROUP BY {group}")])
    assert spec.window == window and spec.keys == ("w",) and spec.window_output == "w"


def test_session_window_default_name():
    spec = agg([WM, sql("SELECT k, session_window(ts, '10 minutes'), max(v) AS m FROM {df} GROUP BY k, session_window(ts, '10 minutes')")])
    assert spec.window == WindowSpec("session", "ts", gap="10 minutes", gap_us=600_000_000)
    assert spec.keys == ("k", "session_window") and spec.window_output == "session_window"


@pytest.mark.parametrize("select, group, keys", [
    ("k, window(ts, '1 hour'), count(*) AS n", "k, window(ts, '1 hour')", ("k", "window")),
    ("window(ts, '1 hour') AS w, k AS key, count(*) AS n", "1, 2", ("w", "key")),
    ("window(ts, '1 hour') AS w, k AS key, count(*) AS n", "w, key", ("w", "key")),
    ("t.k, window(ts, '1 hour'), count(*) AS n", "t.k, window(ts, '1 hour')", ("k", "window")),
    ("data.sym, window(ts, '1 hour'), count(*) AS n", "data.sym, window(ts, '1 hour')", ("sym", "window")),
    ("CAST(ts AS DATE) AS day, count(*) AS n", "CAST(ts AS DATE)", ("day",)),
    ("CAST(ts AS DATE), count(*) AS n", "CAST(ts AS DATE)", ("CAST(ts AS DATE)",)),
])
def test_group_keys_are_output_names(select, group, keys):
    assert agg([WM, sql(f"SELECT {select} FROM {{df}} t GROUP BY {group}")]).keys == keys


def test_window_selected_as_its_fields():
    spec = agg([WM, sql("SELECT k, window.start AS hour, window.end, count(*) AS n FROM {df} GROUP BY k, window(ts, '1 hour')")])
    assert spec.keys == ("k", "hour", "end") and spec.window_output is None
    assert spec.window_fields == (("hour", "start"), ("end", "end"))


def test_aggregate_calls():
    spec = agg([sql("SELECT k, count(*) AS n, count(v), sum(v) AS s, min(v) AS lo, max(v) AS hi, avg(v) AS a, "
                    "min_by(p, ts) AS first_p, max_by(p, ts) AS last_p FROM {df} GROUP BY k")])
    assert [(c.func, c.args, c.output) for c in spec.calls] == [
        ("count", (), "n"), ("count", ("v",), None), ("sum", ("v",), "s"), ("min", ("v",), "lo"), ("max", ("v",), "hi"),
        ("avg", ("v",), "a"), ("min_by", ("p", "ts"), "first_p"), ("max_by", ("p", "ts"), "last_p")]


def test_global_aggregate_and_having():
    assert agg([sql("SELECT count(*) AS n FROM {df}")]).keys == ()
    spec = agg([sql("SELECT k, sum(v) AS s FROM {df} GROUP BY k HAVING max(v) > 1")])
    assert [c.func for c in spec.calls] == ["sum", "max"]


def test_not_stream_aggregates():
    steps = [sql("SELECT o.*, d.n FROM {df} o JOIN (SELECT k, count(*) AS n FROM {nodes.dim} GROUP BY k) d ON o.k = d.k"),
             sql("SELECT k, count(*) AS n FROM {nodes.dim} GROUP BY k"),
             sql("SELECT k, row_number() OVER (PARTITION BY k ORDER BY ts) AS rn FROM {df}")]
    assert stateful_plan("n", steps, streaming=True) is None


@pytest.mark.parametrize("steps, mode", [
    ([sql("SELECT k, count(*) AS n FROM {df} GROUP BY k")], "update"),
    ([WM, sql("SELECT k, count(*) AS n FROM {df} GROUP BY k")], "update"),
    ([WM, sql("SELECT window(ts, '1 hour'), count(*) AS n FROM {df} GROUP BY window(ts, '1 hour')")], "append"),
    ([WM, sql("SELECT window(other, '1 hour'), count(*) AS n FROM {df} GROUP BY window(other, '1 hour')")], "update"),
    ([WM, sql("SELECT ts, count(*) AS n FROM {df} GROUP BY ts")], "append"),
    ([sql("SELECT window(ts, '1 hour'), count(*) AS n FROM {df} GROUP BY window(ts, '1 hour')"), WM], "update"),
    ([method("unique")], "append"),
    ([WM, method("drop_duplicates_within_watermark")], "append"),
])
def test_default_output_mode(steps, mode):
    assert stateful_plan("n", steps, streaming=True).output_mode == mode


@pytest.mark.parametrize("mode", ["append", "update", "complete"])
def test_explicit_modes_allowed(mode):
    steps = [WM, sql("SELECT window(ts, '1 hour'), count(*) AS n FROM {df} GROUP BY window(ts, '1 hour')")]
    assert stateful_plan("n", steps, streaming=True, output_mode=mode).output_mode == mode


def test_stateless_streaming_node_has_no_state_in_any_allowed_mode():
    for mode in (None, "append", "update"):
        plan, problems = analyze("n", [sql("SELECT * FROM {df}")], streaming=True, output_mode=mode)
        assert plan is None and problems == []
