"""Fingerprint verdicts: pure functions over compiled-query descriptions."""

from __future__ import annotations

import copy
import json

import pytest

from kappa.checkpoint import verdicts as fp

BASE = {
    "node": "brz",
    "profile": "python",
    "source": {
        "kind": "kafka",
        "format": "kappa_kafka",
        "options": {
            "kafka.bootstrap.servers": "127.0.0.1:9092",
            "kafka.sasl.password": "***",
            "startingOffsets": "earliest",
            "subscribe": "ev",
        },
        "path": None,
        "schema": "id BIGINT",
        "streaming": True,
        "value_format": "json",
        "read": "stream",
    },
    "steps": [{"index": 0, "kind": "sql", "sql": "SELECT value.id AS id FROM {df}", "refs": []}],
    "expectations": [],
    "sinks": [
        {"index": 0, "kind": "delta", "mode": "append", "quarantine": False, "path": "/d/brz",
         "app_id": "kappa:demo:brz:sink0", "writer": "kappa_delta_sink (executors write Parquet, the driver commits them with the app transaction)", "schema_mode": "merge"}
    ],
    "trigger": {"kind": "available_now"},
    "checkpoint": "/ck/demo/brz/spark",
}


def changed(**paths):
    """A copy of BASE with ``a__b__c=value`` paths replaced."""
    desc = copy.deepcopy(BASE)
    for path, value in paths.items():
        keys = path.split("__")
        target = desc
        for k in keys[:-1]:
            target = target[int(k)] if isinstance(target, list) else target[k]
        target[keys[-1]] = value
    return desc


def test_new_and_unchanged():
    assert fp.compare(None, BASE, checkpoint_exists=False) == fp.Verdict("brz", "new")
    assert fp.compare(BASE, BASE, checkpoint_exists=False).status == "new"
    assert fp.compare(copy.deepcopy(BASE), BASE) == fp.Verdict("brz", "unchanged")
    # the checkpoint path is not part of the query
    assert fp.compare(changed(checkpoint="/elsewhere"), BASE).status == "unchanged"


def test_checkpoint_without_fingerprint_is_safe():
    v = fp.compare(None, BASE)
    assert v.status == "safe" and not v.blocks_start
    assert v.render() == "brz: safe change (checkpoint has no fingerprint yet; recorded on start)"


@pytest.mark.parametrize(
    "change, reason",
    [
        ({"source__options__subscribe": "ev2"}, "source topics changed from ev to ev2"),
        ({"source__options__startingOffsets": "latest"}, "starting point startingOffsets changed from earliest to latest"),
        ({"source__options__kafka.bootstrap.servers": "other:9092"},
         "source kafka.bootstrap.servers changed from 127.0.0.1:9092 to other:9092"),
        ({"source__kind": "delta"}, "source changed from kafka to delta"),
        ({"source__format": "json"}, "source format changed from kappa_kafka to json"),
        ({"source__read": "per_run"}, "source read changed from stream to per_run"),
    ],
)
def test_unsafe_source_changes(change, reason):
    v = fp.compare(BASE, changed(**change))
    assert v.status == "full_refresh" and v.blocks_start
    assert v.reasons == (reason,)
    assert v.render() == f"brz: needs full refresh ({reason})"


def test_delta_source_path_and_starting_version():
    old = changed(source={"kind": "delta", "format": "kappa_delta", "options": {}, "path": "/d/a", "upstream": "a", "read": "stream"})
    new = copy.deepcopy(old)
    new["source"]["path"] = "/d/b"
    new["source"]["upstream"] = "b"
    assert fp.compare(old, new).reasons == ("source path changed from /d/a to /d/b", "upstream node changed from a to b")
    new = copy.deepcopy(old)
    new["source"]["options"] = {"startingVersion": "3"}
    assert fp.compare(old, new).reasons == ("starting point startingVersion changed from None to 3",)


def test_safe_source_changes():
    v = fp.compare(BASE, changed(source__format="kafka"))  # jvm <-> python Kafka offsets are alike
    assert v == fp.Verdict("brz", "safe", ("source format kappa_kafka -> kafka (same offsets)",))
    v = fp.compare(BASE, changed(**{"source__options__maxOffsetsPerTrigger": "100", "source__schema": "id BIGINT, x STRING"}))
    assert v.reasons == ("source options changed: maxOffsetsPerTrigger", "source schema changed")
    # files arriving in a folder add reader options: not a change of what is read
    v = fp.compare(BASE, changed(**{"source__options__pathGlobFilter": "*.json"}))
    assert v.status == "safe"


def test_stateless_sql_change_is_safe():
    v = fp.compare(BASE, changed(steps__0__sql="SELECT value.id AS id, value.id * 2 AS twice FROM {df}"))
    assert v == fp.Verdict("brz", "safe", ("stateless steps changed",))
    v = fp.compare(BASE, changed(steps=BASE["steps"] + [{"index": 1, "kind": "method", "func_name": "drop", "func_args": ["x"], "func_kwargs": {}}]))
    assert v.status == "safe"


@pytest.mark.parametrize(
    "sql, ops",
    [
        ("SELECT id, count(*) AS n FROM {df} GROUP BY id", ("GROUP BY", "aggregate")),
        ("SELECT DISTINCT id FROM {df}", ("DISTINCT",)),
        ("SELECT id, row_number() OVER (PARTITION BY id ORDER BY ts) AS rn FROM {df}", ("window function",)),
        ("SELECT * FROM {df} LIMIT 10", ("LIMIT",)),
        ("SELECT max(x) AS m FROM {df}", ("aggregate",)),
    ],
)
def test_new_stateful_sql_step_needs_full_refresh(sql, ops):
    assert fp.sql_stateful_operators(sql) == ops
    new = changed(steps=BASE["steps"] + [{"index": 1, "kind": "sql", "sql": sql, "refs": []}])
    v = fp.compare(BASE, new)
    assert v == fp.Verdict("brz", "full_refresh", (f"step 1 adds or changes a stateful operator ({', '.join(ops)})",))


def test_stateless_sql_detection():
    assert fp.sql_stateful_operators("SELECT a, upper(b) AS b FROM {df} d JOIN {nodes.users} u ON u.id = d.uid WHERE a > 1") == ()
    assert fp.sql_stateful_operators("SELECT CAST(value.ts AS TIMESTAMP) AS ts FROM {df}") == ()


def test_stateful_method_and_removed_stateful_step():
    dedup = {"index": 1, "kind": "method", "func_name": "drop_duplicates", "func_args": [], "func_kwargs": {"subset": ["id"]}}
    with_dedup = changed(steps=BASE["steps"] + [dedup])
    assert fp.compare(BASE, with_dedup).reasons == ("step 1 adds or changes a stateful operator (drop_duplicates())",)
    assert fp.compare(with_dedup, BASE).reasons == ("stateful step 1 (drop_duplicates()) removed or changed",)
    # a stateless edit next to an unchanged stateful step is safe
    edited = copy.deepcopy(with_dedup)
    edited["steps"][0]["sql"] = "SELECT value.id AS id, 1 AS one FROM {df}"
    assert fp.compare(with_dedup, edited) == fp.Verdict("brz", "safe", ("stateless steps changed",))


def test_sink_changes():
    merge = changed(sinks__0__mode="merge", sinks__0__merge={"primary_keys": ["id"]})
    other_keys = changed(sinks__0__mode="merge", sinks__0__merge={"primary_keys": ["id", "x"]})
    assert fp.compare(merge, other_keys).reasons == ("sink 0 merge settings changed (its table state was built with the old ones)",)
    assert fp.compare(BASE, changed(sinks__0__path="/d/other")).reasons == ("sink 0 target changed (receives new data only)",)
    more = changed(sinks=BASE["sinks"] + [dict(BASE["sinks"][0], index=1, path="/d/copy")])
    assert fp.compare(BASE, more) == fp.Verdict("brz", "safe", ("sink 1 added (receives new data only)",))


def test_trigger_expectations_profile_are_safe():
    new = changed(trigger={"kind": "processing_time", "interval": "5 seconds"},
                  expectations=[{"name": "e", "expr": "id > 0", "action": "drop"}])
    assert fp.compare(BASE, new).reasons == ("expectations changed", "trigger changed")


def test_unsafe_and_safe_together_report_unsafe_only():
    new = changed(**{"source__options__subscribe": "x", "trigger": {"kind": "once"}})
    assert fp.compare(BASE, new) == fp.Verdict("brz", "full_refresh", ("source topics changed from ev to x",))


def test_orphan_verdict():
    v = fp.orphan_verdict("old_name")
    assert not v.blocks_start
    assert v.render() == (
        "old_name: orphaned checkpoint (checkpoint of node 'old_name', which no longer exists (renamed or removed?); "
        "not run, not blocking; delete it and its sinks with --full-refresh old_name)"
    )


def test_digest_is_stable_and_files_roundtrip(tmp_path):
    reordered = json.loads(json.dumps(BASE, sort_keys=True))
    assert fp.digest(reordered) == fp.digest(BASE)
    assert fp.digest(changed(steps__0__sql="SELECT 1 FROM {df}")) != fp.digest(BASE)
    node_ck = tmp_path / "ck" / "demo" / "brz"
    assert fp.read_fingerprint(str(node_ck)) is None
    path = fp.write_fingerprint(str(node_ck), BASE)
    assert path == node_ck / "spark_fingerprint.json"
    record = json.loads(path.read_text())
    assert record["version"] == 1 and record["digest"] == fp.digest(BASE)
    assert fp.read_fingerprint(str(node_ck)) == BASE
    path.write_text("{not json")
    assert fp.read_fingerprint(str(node_ck)) is None
    assert not fp.checkpoint_exists(str(node_ck), "spark")
    (node_ck / "spark" / "offsets").mkdir(parents=True)
    (node_ck / "spark" / "offsets" / ".0.crc").write_text("")
    assert not fp.checkpoint_exists(str(node_ck), "spark")
    (node_ck / "spark" / "offsets" / "0").write_text("v1\n{}\n{}\n")
    assert fp.checkpoint_exists(str(node_ck), "spark")
