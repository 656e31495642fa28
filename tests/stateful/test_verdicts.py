"""Fingerprints and verdicts of stateful nodes; explain shows the state (both engines' parts)."""

from __future__ import annotations

import pytest

from kappa.checkpoint import verdicts as fp
from kappa.checkpoint.describe import describe_node
from kappa.checkpoint.state import render_state
from kappa.plan import build_plan

from tests.stateful.helpers import load, node_yaml

WM = "- func_name: with_watermark\n  func_kwargs: {column: ts, delay: 10 minutes}\n"
AGG = "- expr: SELECT k, window(ts, '1 hour') AS window, count(*) AS n, sum(v) AS s FROM {df} GROUP BY window(ts, '1 hour'), k\n"


def desc(steps: str, extra: str = "", source: str = "{node_name: brz, as_stream: true}", sinks: str | None = None) -> dict:
    kwargs = {"sinks": sinks} if sinks else {}
    return describe_node(build_plan(load(node_yaml(steps, extra=extra, source=source, **kwargs))).node("agg"))


def verdict(old: dict, new: dict) -> fp.Verdict:
    return fp.compare(old, new)


BASE = desc(WM + AGG)


def test_state_entry_of_a_stateful_node():
    state = BASE["state"]
    assert list(BASE).index("state") == list(BASE).index("steps") + 1
    assert state == {
        "output_mode": "append",
        "watermark": {"step": 0, "column": "ts", "delay": "10 minutes", "delay_us": 600_000_000},
        "operators": [{"kind": "aggregate", "step": 1, "keys": ["window", "k"],
                       "window": {"kind": "tumbling", "column": "ts", "size": "1 hour", "size_us": 3_600_000_000},
                       "window_output": "window",
                       "aggregates": [{"func": "count", "args": [], "output": "n"}, {"func": "sum", "args": ["v"], "output": "s"}]}],
    }


def test_stateless_and_batch_nodes_have_no_state_entry_and_same_digest():
    stateless = desc("- expr: SELECT * FROM {df}")
    assert "state" not in stateless
    batch = desc(AGG, source="{node_name: brz}")
    assert batch["state"] == "materialized view (full recompute)"
    without = {k: v for k, v in batch.items() if k != "state"}
    assert fp.digest(batch) == fp.digest(without)
    assert verdict(without, batch).status == fp.UNCHANGED


@pytest.mark.parametrize("steps, extra, reason", [
    (WM + AGG.replace("GROUP BY window(ts, '1 hour'), k", "GROUP BY window(ts, '1 hour'), k, v").replace("SELECT k,", "SELECT k, v,"), "",
     "step 1: aggregate keys ['window', 'k'] -> ['window', 'k', 'v']"),
    (WM + AGG.replace("sum(v) AS s", "max(v) AS s"), "", "step 1: aggregate aggregates [count(*), sum(v)] -> [count(*), max(v)]"),
    (WM + AGG.replace("'1 hour'", "'2 hours'"), "",
     "step 1: aggregate window {'kind': 'tumbling', 'column': 'ts', 'size': '1 hour', 'size_us': 3600000000} -> "
     "{'kind': 'tumbling', 'column': 'ts', 'size': '2 hours', 'size_us': 7200000000}"),
    (WM.replace("10 minutes", "1 hour") + AGG, "", "watermark changed from ts delay 10 minutes to ts delay 1 hour"),
    (WM + AGG, "  output_mode: update\n", "output mode changed from append to update"),
    (WM + "- func_name: unique\n" + AGG.replace("- expr", "- expr"), "", "stateful operators changed: 1 -> 2 (aggregate -> dedup, aggregate)"),
    ("- expr: SELECT * FROM {df}\n", "", "stateful operators removed (the checkpoint's state was built without them)"),
])
def test_state_changes_need_a_full_refresh(steps, extra, reason):
    v = verdict(BASE, desc(steps, extra))
    assert v.status == fp.FULL_REFRESH and reason in v.reasons, v.reasons


@pytest.mark.parametrize("steps", [
    WM + AGG + "- expr: SELECT window.start AS start, k, n, s FROM {df}\n",
    WM + AGG + "- func_name: drop\n  func_args: [s]\n",
    WM + "- expr: SELECT * FROM {df} WHERE v > 0\n" + AGG,
    WM + AGG.replace("count(*) AS n", "count(*) AS events"),
    WM + AGG.replace("sum(v) AS s", "sum(v) AS s, 'x' AS tag"),
])
def test_stateless_changes_around_the_state_are_safe(steps):
    v = verdict(BASE, desc(steps))
    assert v.status == fp.SAFE and v.reasons == ("stateless steps changed",), v.reasons


def test_a_stateless_node_gaining_a_dedup_needs_a_refresh():
    v = verdict(desc("- expr: SELECT * FROM {df}"), desc("- func_name: unique\n  func_kwargs: {subset: [id]}"))
    assert v.status == fp.FULL_REFRESH
    assert "stateful operators added (the checkpoint's state was built without them)" in v.reasons


def test_dedup_subset_change():
    a = desc("- func_name: unique\n  func_kwargs: {subset: [id]}")
    b = desc("- func_name: unique\n  func_kwargs: {subset: [id, ts]}")
    assert verdict(a, b).reasons == ("step 0: dedup subset ['id'] -> ['id', 'ts'], within watermark False -> False",)


def test_watermark_only_changes_are_safe():
    a, b = desc(WM), desc(WM.replace("10 minutes", "5 minutes"))
    v = verdict(a, b)
    assert v.status == fp.SAFE
    assert "watermark changed from ts delay 10 minutes to ts delay 5 minutes (no stateful operator uses it)" in v.reasons


def test_upsert_keys_are_described_and_judged():
    a = desc(WM + AGG, sinks="[{format: DELTA, path: ./out, mode: upsert}]")
    assert a["sinks"][0]["keys"] == ["window", "k"] and a["sinks"][0]["mode"] == "upsert"
    b = desc(WM + AGG, sinks="[{format: DELTA, path: ./out, mode: upsert, keys: [k]}]")
    v = verdict(a, b)
    assert v.status == fp.FULL_REFRESH
    assert v.reasons == ("sink 0 upsert keys changed from ['window', 'k'] to ['k'] (its rows were matched on the old ones)",)


def test_explain_renders_the_state():
    steps = WM + "- func_name: drop_duplicates_within_watermark\n  func_kwargs: {subset: [id]}\n" + AGG.replace(
        "'1 hour')", "'1 hour', '15 minutes')")
    assert render_state(desc(steps)["state"]) == [
        "  state: output mode append, watermark ts delay 10 minutes (step 0)",
        "    step 1: dedup within watermark on id",
        "    step 2: aggregate by window, k",
        "      window: sliding over ts, size 1 hour, slide 15 minutes",
        "      aggregates: count(*) AS n, sum(v) AS s",
    ]
    assert render_state(desc("- func_name: unique")["state"])[1] == "    step 0: dedup (over the whole stream) on all columns"
    assert render_state(desc(AGG, source="{node_name: brz}")["state"]) == ["  state: materialized view (full recompute)"]
    assert render_state(None) == []


def test_explain_text_shows_the_state():
    from kappa.cli.spark_cmds import render_description

    d = dict(desc(AGG, source="{node_name: brz}"), profile="python")
    d["sinks"] = [dict(s, writer="delta-rs") for s in d["sinks"]]
    text = render_description(d)
    assert "    0. sql: SELECT k, window(ts, '1 hour')" in text
    assert "  state: materialized view (full recompute)\n  expectations: none" in text
