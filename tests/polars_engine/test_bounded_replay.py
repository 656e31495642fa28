"""A replay is bounded (issue 7, item 1.10): under a steady producer, ``kappa replay`` reads each
Kafka source up to the end offsets seen at the node's first planning step of the run, then runs
the downstream node and returns -- in several batches when ``max_offsets_per_trigger`` cuts
them. Also ``starting_offsets: latest`` (item 1.7, replay half): decided once, kept across runs."""

from __future__ import annotations

import itertools
import json
import threading
import time
from pathlib import Path

import pytest

from kappa.config.loader import load_pipeline_file
from kappa.delta.read import read_delta
from kappa.engines.polars.state import ReplayCheckpoint
from kappa.kafka.offsets import end_offsets
from kappa.plan import build_plan
from kappa.runner import execute_pipeline
from kappa.testing.kafka import conf_for, consume_all, produce
from kappa.testing.steady import SteadyProducer

from tests.helpers.records import price_records as records

pytestmark = pytest.mark.kafka


def _run_bounded(path, timeout_s: float = 90.0, **kwargs):
    """execute_pipeline in a thread; None when it did not return within ``timeout_s``."""
    out: dict = {}

    def target() -> None:
        try:
            out["summary"] = execute_pipeline(load_pipeline_file(path), engine="polars", **kwargs)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test
            out["error"] = exc

    runner = threading.Thread(target=target, daemon=True)
    runner.start()
    runner.join(timeout_s)
    if runner.is_alive():
        return None, runner
    if "error" in out:
        raise out["error"]
    return out["summary"], runner


def _offsets_log(path, node: str) -> list[dict]:
    plan = build_plan(load_pipeline_file(path))
    ck = ReplayCheckpoint(next(n for n in plan.nodes if n.name == node).checkpoint)
    return [ck._read("offsets", i) for i in ck._ids("offsets")]


def _below(bootstrap: str, topic: str, start: dict, end: dict) -> list[int]:
    """Ids of the records at offsets ``start <= offset < end`` (per partition)."""
    table = consume_all(bootstrap, topic).to_pylist()
    return sorted(
        json.loads(r["value"])["id"]
        for r in table
        if start.get(str(r["partition"]), 0) <= r["offset"] < end[str(r["partition"])]
    )


BATCH = 20  # records per batch (max_offsets_per_trigger): several batches, not hundreds


def test_replay_stops_at_the_end_seen_when_the_node_started(replay_pipeline):
    path, topic, root = replay_pipeline
    path.write_text(path.read_text().replace("    value_format: json\n", f"    value_format: json\n    max_offsets_per_trigger: {BATCH}\n", 1))
    bootstrap = load_pipeline_file(path).variables["bootstrap"]
    produce(bootstrap, topic, records(0, 60))
    conf = conf_for(bootstrap)
    with SteadyProducer(bootstrap, topic, first=1000, per_tick=1):  # ~100 records/s
        time.sleep(0.3)
        before = end_offsets(conf, [(topic, 0), (topic, 1)])
        summary, _runner = _run_bounded(path)
        after = end_offsets(conf, [(topic, 0), (topic, 1)])
    assert summary is not None, "the replay did not stop under a steady producer"

    log = _offsets_log(path, "brz")
    bound = log[-1]["end"][topic]
    # the bound was taken at brz's first planning step: after `before`, and the producer went on
    assert all(bound[str(p)] >= before[(topic, p)] for p in (0, 1))
    assert sum(after.values()) > sum(bound.values())
    # batches of at most BATCH records, each continuing where the previous ended, up to the bound
    assert len(log) == summary.node("brz").batches > 1
    for prev, cur in itertools.pairwise(log):
        assert cur["start"] == prev["end"]
    assert all(sum(b["end"][topic][p] - b["start"][topic][p] for p in ("0", "1")) <= BATCH for b in log)

    expected_ids = _below(bootstrap, topic, {}, bound)
    brz = read_delta(str(root / "brz"))
    assert sorted(brz["id"].to_pylist()) == expected_ids
    assert len(expected_ids) == sum(bound.values())
    # the downstream node ran, over exactly what bronze holds
    assert summary.node("slv").batches == 1
    assert summary.node("slv").input_rows == len(expected_ids)
    slv = read_delta(str(root / "slv"))
    q = read_delta(str(root / "slv_quarantine"))
    assert slv.num_rows + q.num_rows + summary.node("slv").dropped_rows == len(expected_ids)


LATEST = "    value_format: json\n    starting_offsets: latest\n"


def test_latest_is_decided_once_and_kept_across_runs(replay_pipeline):
    path, topic, root = replay_pipeline
    path.write_text(path.read_text().replace("    value_format: json\n", LATEST, 1))
    bootstrap = load_pipeline_file(path).variables["bootstrap"]
    produce(bootstrap, topic, records(0, 10))
    ends = end_offsets(conf_for(bootstrap), [(topic, 0), (topic, 1)])

    s1 = execute_pipeline(load_pipeline_file(path), engine="polars", select=["brz"])
    assert s1.node("brz").skipped == "no new data"
    ck = build_plan(load_pipeline_file(path)).nodes[0].checkpoint
    kept = json.loads(Path(f"{ck}/replay/initial_offsets.json").read_text())
    assert kept == {topic: {str(p): ends[(topic, p)] for p in (0, 1)}}

    # records produced between the runs are read: the start is the one decided in the first run
    produce(bootstrap, topic, records(10, 25))
    s2 = execute_pipeline(load_pipeline_file(path), engine="polars", select=["brz"])
    assert s2.node("brz").output_rows == 15
    assert sorted(read_delta(str(root / "brz"))["id"].to_pylist()) == list(range(10, 25))
    assert _offsets_log(path, "brz")[0]["start"] == kept


def test_latest_under_a_live_producer(replay_pipeline):
    path, topic, root = replay_pipeline
    text = path.read_text().replace("    value_format: json\n", LATEST + "    max_offsets_per_trigger: 10\n", 1)
    path.write_text(text)
    bootstrap = load_pipeline_file(path).variables["bootstrap"]
    produce(bootstrap, topic, records(0, 10))
    ck = build_plan(load_pipeline_file(path)).nodes[0].checkpoint
    with SteadyProducer(bootstrap, topic, first=1000, per_tick=2, tick_s=0.02) as producer:
        time.sleep(0.3)
        first, _ = _run_bounded(path, select=["brz"])  # "latest": starts at the end it sees
        assert first is not None and first.node("brz").batches == 0
        kept = json.loads(Path(f"{ck}/replay/initial_offsets.json").read_text())[topic]
        time.sleep(0.3)
        second, _ = _run_bounded(path, select=["brz"])
        assert second is not None and second.node("brz").batches > 1
        log = _offsets_log(path, "brz")
        assert log[0]["start"][topic] == kept
        assert sorted(read_delta(str(root / "brz"))["id"].to_pylist()) == _below(bootstrap, topic, kept, log[-1]["end"][topic])
    produced = producer.produced

    # the producer stopped: the next run reads exactly the rest, every record after the kept start
    execute_pipeline(load_pipeline_file(path), engine="polars", select=["brz"])
    log = _offsets_log(path, "brz")
    for prev, cur in itertools.pairwise(log):
        assert cur["start"] == prev["end"]
    ids = sorted(read_delta(str(root / "brz"))["id"].to_pylist())
    assert ids == _below(bootstrap, topic, kept, log[-1]["end"][topic])
    assert ids == list(range(1000 + produced - len(ids), 1000 + produced))
    assert sum(kept.values()) == 10 + produced - len(ids)
