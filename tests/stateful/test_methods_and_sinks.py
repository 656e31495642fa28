"""The two stateful method steps on one frame (Polars; Spark marked ``spark``) and the upsert sink plan."""

from __future__ import annotations

from datetime import datetime, timezone

import polars as pl
import pytest

from kappa.errors import ConfigError
from kappa.plan import DeltaSinkPlan, build_plan
from kappa.transform.methods import MethodArgumentError, allowed_methods, apply_method

from tests.stateful.helpers import load, node_yaml

T = [datetime(2026, 1, 1, h, tzinfo=timezone.utc) for h in (0, 1, 1)]
ROWS = {"id": [1, 2, 2], "ts": T, "v": [10, 20, 20]}


def _sorted(df) -> list[dict]:
    if isinstance(df, pl.LazyFrame):
        df = df.collect()
    if not isinstance(df, pl.DataFrame):  # Spark
        return sorted((r.asDict() for r in df.collect()), key=lambda r: r["id"])
    return df.sort("id").to_dicts()


@pytest.fixture(params=["lazy", "eager"])
def frame(request):
    df = pl.DataFrame(ROWS)
    return df.lazy() if request.param == "lazy" else df


def test_allowlisted():
    assert {"with_watermark", "drop_duplicates_within_watermark"} <= set(allowed_methods())


def test_with_watermark_is_identity_on_polars(frame):
    out = apply_method(frame, "with_watermark", (), {"column": "ts", "delay": "10 minutes"})
    assert type(out) is type(frame) and _sorted(out) == _sorted(frame)
    assert _sorted(apply_method(frame, "with_watermark", ["ts", "interval 1 hour"])) == _sorted(frame)


def test_drop_duplicates_within_watermark_on_polars(frame):
    out = apply_method(frame, "drop_duplicates_within_watermark", (), {"subset": ["id"]})
    assert [r["id"] for r in _sorted(out)] == [1, 2]
    assert len(_sorted(apply_method(frame, "drop_duplicates_within_watermark"))) == 2


@pytest.mark.parametrize("name, args, kwargs, message", [
    ("with_watermark", (), {"column": "nope", "delay": "1 minute"}, "with_watermark: unknown column(s) ['nope']; available: ['id', 'ts', 'v']"),
    ("with_watermark", (), {"column": "ts", "delay": "soon"},
     "with_watermark: delay: invalid interval 'soon': expected '<number> <unit>' pairs, e.g. '1 hour 30 minutes'"),
    ("with_watermark", (), {"column": "ts", "delay": "-1 second"}, "with_watermark: delay threshold (-1 second) should not be negative."),
    ("with_watermark", (), {"column": 3, "delay": "1 second"}, "with_watermark: column must name the event-time column, got 3"),
    ("with_watermark", (), {"column": "ts"}, "with_watermark: missing a required argument: 'delay'"),
    ("drop_duplicates_within_watermark", (), {"subset": ["nope"]},
     "drop_duplicates_within_watermark: unknown column(s) ['nope']; available: ['id', 'ts', 'v']"),
    ("drop_duplicates_within_watermark", (), {"keep": "first"},
     "drop_duplicates_within_watermark: got an unexpected keyword argument 'keep'"),
])
def test_argument_errors(frame, name, args, kwargs, message):
    with pytest.raises(MethodArgumentError) as err:
        apply_method(frame, name, args, kwargs)
    assert str(err.value) == message


@pytest.mark.spark
def test_spark_frames_get_sparks_methods(spark):
    df = spark.createDataFrame(pl.DataFrame(ROWS).to_pandas())
    out = apply_method(df, "with_watermark", (), {"column": "ts", "delay": "10 minutes"})
    assert type(out).__name__ == "DataFrame" and len(_sorted(out)) == 3
    dedup = apply_method(out, "drop_duplicates_within_watermark", (), {"subset": ["id"]})
    assert [r["id"] for r in _sorted(dedup)] == [1, 2]
    assert len(_sorted(apply_method(df, "drop_duplicates_within_watermark"))) == 2


# ---------------------------------------------------------------- upsert sink
AGG = ("- func_name: with_watermark\n  func_kwargs: {column: ts, delay: 10 minutes}\n"
       "- expr: SELECT k, window(ts, '1 hour') AS window, count(*) AS n FROM {df} GROUP BY window(ts, '1 hour'), k\n")


def sink_of(text: str) -> DeltaSinkPlan:
    return build_plan(load(text)).node("agg").sinks[0]


def test_upsert_defaults_to_the_grouping_keys():
    sink = sink_of(node_yaml(AGG, sinks="[{format: DELTA, path: ./out, mode: upsert}]"))
    assert type(sink) is DeltaSinkPlan and sink.mode == "upsert" and sink.keys == ("window", "k")
    assert sink.app_id == "kappa:st:agg:sink0"
    assert build_plan(load(node_yaml(AGG, sinks="[{format: DELTA, path: ./out, mode: upsert}]"))).for_engine(
        "polars").node("agg").sinks[0].keys == ("window", "k")


def test_upsert_keys_given():
    assert sink_of(node_yaml(AGG, sinks="[{format: DELTA, path: ./out, mode: upsert, keys: [k]}]")).keys == ("k",)
    batch = node_yaml("- expr: SELECT * FROM {df}", source="{node_name: brz}", sinks="[{format: DELTA, path: ./out, mode: UPSERT, keys: [id]}]")
    assert sink_of(batch).keys == ("id",)


def test_other_modes_have_no_keys():
    assert sink_of(node_yaml(AGG, extra="  output_mode: update\n")).keys == ()


@pytest.mark.parametrize("sinks, message", [
    ("[{format: DELTA, path: ./out, mode: append, keys: [k]}]", "`keys` apply to mode `upsert`, not `append`"),
    ("[{format: DELTA, path: ./out, keys: [k]}]", "`keys` apply to mode `upsert`, not `the default`"),
    ("[{format: DELTA, path: ./out, mode: upsert, keys: []}]", "`keys` must name one or more distinct columns"),
    ("[{format: DELTA, path: ./out, mode: upsert, keys: [k, k]}]", "`keys` must name one or more distinct columns"),
])
def test_upsert_model_errors(sinks, message):
    with pytest.raises(ConfigError) as err:
        load(node_yaml(AGG, sinks=sinks))
    assert message in str(err.value) and "nodes[1].sinks[0]" in str(err.value)


def test_upsert_on_a_batch_node_needs_keys():
    with pytest.raises(ConfigError) as err:
        load(node_yaml(AGG.split("\n", 2)[2], source="{node_name: brz}", sinks="[{format: DELTA, path: ./out, mode: upsert}]"))
    assert "nodes[1].sinks[0].mode: node 'agg': mode `upsert` needs `keys`" in str(err.value)


@pytest.mark.spark
def test_spark_streams_get_the_stateful_operators(spark):
    stream = spark.readStream.format("rate").load().withColumnRenamed("timestamp", "ts")
    out = apply_method(stream, "with_watermark", (), {"column": "ts", "delay": "10 minutes"})
    out = apply_method(out, "drop_duplicates_within_watermark", (), {"subset": ["value"]})
    assert out.isStreaming
    plan = out._jdf.queryExecution().logical().toString()
    assert "EventTimeWatermark" in plan and "ts#" in plan.split("EventTimeWatermark")[1].split("\n")[0]
    assert "DeduplicateWithinWatermark [value#" in plan
