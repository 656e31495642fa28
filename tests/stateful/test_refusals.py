"""Every stateful refusal, with its exact message, at build_plan and at `kappa validate` (file:line)."""

from __future__ import annotations

from types import SimpleNamespace as S

import pytest

from kappa.errors import ConfigError
from kappa.stateful.analyze import StatefulConfigError, stateful_plan

from tests.stateful.helpers import load, node_yaml

WM = S(func_name="with_watermark", func_args=[], func_kwargs={"column": "ts", "delay": "10 minutes"})
WINDOW = S(sql="SELECT window(ts, '1 hour'), count(*) AS n FROM {df} GROUP BY window(ts, '1 hour')")
BY_KEY = S(sql="SELECT k, count(*) AS n FROM {df} GROUP BY k")
APPEND = ("Append output mode not supported when there are streaming aggregations on streaming DataFrames/DataSets "
          "without watermark (append emits a group once, when the watermark passes it: group by a window over the "
          "watermark column, or use output_mode update)")


def m(name, *args, **kwargs):
    return S(func_name=name, func_args=list(args), func_kwargs=kwargs)


def q(text):
    return S(sql=text)


@pytest.mark.parametrize("steps, kwargs, message", [
    ([m("unique", keep="first")], {},
     "node 'n' step 0: unique keep='first' has no streaming equivalent in Spark (a streaming dedup keeps the first row "
     "of each key over the whole stream): use keep: any"),
    ([q("SELECT * FROM {df}"), m("drop_duplicates", keep="last")], {},
     "node 'n' step 1: drop_duplicates: got an unexpected keyword argument 'keep'"),
    ([m("unique", "id", "none")], {},
     "node 'n' step 0: unique keep='none' has no streaming equivalent in Spark (a streaming dedup keeps the first row "
     "of each key over the whole stream): use keep: any"),
    ([m("drop_duplicates_within_watermark", subset=["id"])], {},
     "node 'n' step 0: drop_duplicates_within_watermark needs a with_watermark step before it"),
    ([m("drop_duplicates_within_watermark"), WM], {},
     "node 'n' step 0: drop_duplicates_within_watermark needs a with_watermark step before it"),
    ([WM, WM], {}, "node 'n' step 1: a node takes one with_watermark step (also step 0)"),
    ([m("with_watermark", column="ts")], {},
     "node 'n' step 0: with_watermark: `delay`: expected an interval string such as '10 minutes', got None"),
    ([m("with_watermark", column="ts", delay="soon")], {},
     "node 'n' step 0: with_watermark: `delay`: invalid interval 'soon': expected '<number> <unit>' pairs, e.g. '1 hour 30 minutes'"),
    ([m("with_watermark", column="ts", delay="-1 minute")], {},
     "node 'n' step 0: with_watermark: delay threshold (-1 minute) should not be negative."),
    ([m("with_watermark", delay="1 minute")], {},
     "node 'n' step 0: with_watermark: `column` must name the event-time column, got None"),
    ([m("with_watermark", "ts", "1 minute", "x")], {}, "node 'n' step 0: with_watermark: too many positional arguments"),
    ([q("SELECT k, count(DISTINCT v) AS d FROM {df} GROUP BY k")], {},
     "node 'n' step 0: Distinct aggregations are not supported on streaming DataFrames/Datasets"),
    ([q("SELECT k, sum(DISTINCT v) AS d FROM {df} GROUP BY k")], {},
     "node 'n' step 0: Distinct aggregations are not supported on streaming DataFrames/Datasets"),
    ([q("SELECT k, first(v) AS f FROM {df} GROUP BY k")], {},
     "node 'n' step 0: aggregate FIRST(v) is not supported in a streaming aggregate (supported: count, sum, min, max, avg, min_by, max_by)"),
    ([BY_KEY, BY_KEY], {}, "node 'n' step 1: a streaming node takes one aggregate step (also step 0)"),
    ([q("SELECT * FROM (SELECT k, count(*) AS n FROM {df} GROUP BY k)")], {},
     "node 'n' step 0: a streaming aggregate must be the outermost SELECT of its step (put the aggregate in a step of its own)"),
    ([q("WITH a AS (SELECT k, count(*) AS n FROM {df} GROUP BY k) SELECT * FROM a")], {},
     "node 'n' step 0: a streaming aggregate must be the outermost SELECT of its step (put the aggregate in a step of its own)"),
    ([q("SELECT count(*) AS n FROM {df} GROUP BY k")], {},
     "node 'n' step 0: GROUP BY k is not in the select list: a streaming aggregate outputs each of its grouping keys"),
    ([q("SELECT count(*) AS n FROM {df} GROUP BY window(ts, '1 hour')")], {},
     "node 'n' step 0: GROUP BY window(ts, '1 hour'): select the window (or window.start / window.end): a streaming "
     "aggregate outputs each of its grouping keys"),
    ([q("SELECT window(ts, '1 hour'), session_window(ts, '1 minute'), count(*) AS n FROM {df} "
        "GROUP BY window(ts, '1 hour'), session_window(ts, '1 minute')")], {},
     "node 'n' step 0: Multiple time/session window expressions would result in a cartesian product of rows, therefore "
     "they are currently not supported."),
    ([q("SELECT window(ts, '1 month') AS w, count(*) AS n FROM {df} GROUP BY 1")], {},
     "node 'n' step 0: Intervals greater than a month is not supported (1 month)."),
    ([q("SELECT window(ts, '0 seconds') AS w, count(*) AS n FROM {df} GROUP BY 1")], {},
     "node 'n' step 0: The window duration (0 seconds) must be greater than 0."),
    ([q("SELECT window(ts, '1 hour', '2 hours') AS w, count(*) AS n FROM {df} GROUP BY 1")], {},
     "node 'n' step 0: The slide duration (2 hours) must be less than or equal to the windowDuration (1 hour)."),
    ([q("SELECT window(ts, '1 hour', '-1 minute') AS w, count(*) AS n FROM {df} GROUP BY 1")], {},
     "node 'n' step 0: The slide duration (-1 minute) must be greater than 0."),
    ([q("SELECT window(ts, '1 hour', '10 minutes', '10 minutes') AS w, count(*) AS n FROM {df} GROUP BY 1")], {},
     "node 'n' step 0: The absolute value of start time (10 minutes) must be less than the slideDuration (10 minutes)."),
    ([q("SELECT session_window(ts, '0 minutes') AS w, count(*) AS n FROM {df} GROUP BY 1")], {},
     "node 'n' step 0: The session window gap (0 minutes) must be greater than 0."),
    ([q("SELECT window(ts, size) AS w, count(*) AS n FROM {df} GROUP BY 1")], {},
     "node 'n' step 0: the size of a time window must be an interval literal such as '10 minutes', got size"),
    ([q("SELECT * FROM {df}")], {"output_mode": "complete"},
     "node 'n': Complete output mode not supported when there are no streaming aggregations on streaming DataFrames/Datasets"),
    ([m("unique")], {"output_mode": "complete"},
     "node 'n': Complete output mode not supported when there are no streaming aggregations on streaming DataFrames/Datasets"),
    ([WM, q("SELECT session_window(ts, '5 minutes') AS s, count(*) AS n FROM {df} GROUP BY 1")], {"output_mode": "update"},
     "node 'n' step 1: Invalid streaming output mode: update. This output mode is not supported for session window "
     "streaming aggregations (Spark's rule: use append with a watermark on the session's time column, or complete)"),
    ([BY_KEY], {"output_mode": "append"}, f"node 'n' step 0: {APPEND}"),
    ([WM, BY_KEY], {"output_mode": "append"}, f"node 'n' step 1: {APPEND}"),
    ([WINDOW, WM], {"output_mode": "append"}, f"node 'n' step 0: {APPEND}"),
    ([WM], {"source_kind": "kafka_inferred"},
     "node 'n' step 0: stateful steps on a Kafka source need the value's declared `schema` (the decoded columns must be "
     "known before the stream starts; an inferred schema can change from batch to batch): declare `schema:` on the "
     "source, or read the bronze table (source node_name: ..., as_stream: true)"),
    ([q("SELECT * FROM {df}"), m("unique", subset=["id"])], {"source_kind": "kafka_debezium"},
     "node 'n' step 1: stateful steps on a Debezium source are not supported (a change feed is replayed into a table by "
     "a CDC merge sink): read the mirror table instead (source node_name: ..., as_stream: true)"),
])
def test_refusal_messages(steps, kwargs, message):
    with pytest.raises(StatefulConfigError) as err:
        stateful_plan("n", steps, streaming=True, **kwargs)
    assert [i.message for i in err.value.issues] == [message]
    assert err.value.node == "n" and isinstance(err.value, ConfigError)


def test_output_mode_on_a_batch_node():
    with pytest.raises(StatefulConfigError) as err:
        stateful_plan("n", [BY_KEY], streaming=False, output_mode="update")
    assert str(err.value) == "<config>: node 'n': output_mode applies to streaming nodes (this node reads its source whole on each run)"


def test_batch_nodes_take_every_form():
    for steps in ([m("unique", keep="last")], [m("drop_duplicates_within_watermark")], [q("SELECT count(DISTINCT v) AS d FROM {df}")]):
        assert stateful_plan("n", steps, streaming=False, source_kind="kafka") is None


def test_kafka_with_known_columns_may_hold_state():
    """A Kafka source with a declared JSON schema (or raw values) feeds stateful steps."""
    from kappa.stateful.analyze import stateful_source_kind
    from kappa.stateful.spec import DedupSpec

    plan = stateful_plan("n", [m("unique", subset=["id"])], streaming=True, source_kind="kafka")
    assert plan is not None and plan.operators == (DedupSpec(step=0, subset=("id",)),)

    class Src:
        kind = "kafka"

        def __init__(self, value_format, schema):
            self.value_format, self.schema = value_format, schema

    assert [stateful_source_kind(Src(f, s)) for f, s in [("json", "id BIGINT"), ("raw", None), ("json", None), ("debezium", None)]] == [
        "kafka", "kafka", "kafka_inferred", "kafka_debezium"]


def test_kafka_batch_read_may_dedup():
    assert stateful_plan("n", [m("unique", keep="last")], streaming=False, source_kind="kafka") is None


LINES = [
    (node_yaml("""
        - expr: SELECT * FROM {df}
        - func_name: unique
          func_kwargs: {subset: [id], keep: last}
    """), "p.yaml:10: nodes[1].transformer.nodes[1]: node 'agg' step 1: unique keep='last' has no streaming equivalent"),
    (node_yaml("- expr: SELECT * FROM {df}", extra="  output_mode: complete\n"),
     "p.yaml:8: nodes[1].output_mode: node 'agg': Complete output mode not supported"),
    (node_yaml("- expr: SELECT k, count(*) AS n FROM {df} GROUP BY k", extra="  output_mode: APPEND\n"),
     "p.yaml:8: nodes[1].output_mode: node 'agg' step 0: Append output mode not supported"),
    (node_yaml("- expr: SELECT * FROM {df}", source="{node_name: brz}", extra="  output_mode: update\n"),
     "p.yaml:8: nodes[1].output_mode: node 'agg': output_mode applies to streaming nodes"),
    (node_yaml("- func_name: unique", source="{topic: t, bootstrap_servers: 'b:9092'}"),
     "p.yaml:9: nodes[1].transformer.nodes[0]: node 'agg' step 0: stateful steps on a Kafka source need the value's declared `schema`"),
    (node_yaml("- expr: SELECT k, count(DISTINCT v) AS n FROM {df} GROUP BY k"),
     "p.yaml:9: nodes[1].transformer.nodes[0]: node 'agg' step 0: Distinct aggregations are not supported on streaming DataFrames/Datasets"),
    (node_yaml("- func_name: unique", sinks="[{format: DELTA, path: ./out, mode: upsert}]"),
     "p.yaml:10: nodes[1].sinks[0].mode: node 'agg': mode `upsert` needs `keys`: only a streaming aggregate node defaults them"),
    (node_yaml("- expr: SELECT count(*) AS n FROM {df}", sinks="[{format: DELTA, path: ./out, mode: upsert}]"),
     "p.yaml:10: nodes[1].sinks[0].mode: node 'agg': mode `upsert` needs `keys`"),
]


@pytest.mark.parametrize("text, start", LINES)
def test_validate_locates_the_error(text, start):
    with pytest.raises(ConfigError) as err:
        load(text)
    assert str(err.value).startswith(start), str(err.value)


def test_kappa_validate_exit_2(tmp_path, capsys):
    from kappa.cli import main

    path = tmp_path / "p.yaml"
    path.write_text(LINES[1][0])
    with pytest.raises(SystemExit) as exit:
        main(["validate", str(path)])
    assert exit.value.code == 2
    assert f"{path}:8: nodes[1].output_mode: node 'agg': Complete output mode not supported" in capsys.readouterr().err
