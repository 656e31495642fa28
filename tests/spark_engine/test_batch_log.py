"""Per-batch records (kappa.engines.spark.batch_log), the Spark Connect counterpart of the
in-process NodeMetrics, and the refusal of in-memory nodes under Connect (no Spark needed)."""

from __future__ import annotations

import pytest

from kappa.engines.spark.batch_log import BatchLog, read_record, record_path, write_record
from kappa.engines.spark.metrics import NodeMetrics
from kappa.engines.spark.batch_log import ConnectRefused
from kappa.errors import ExpectationFailed, KappaError
from kappa.quality.result import QualityCounts


def _offsets(ck, *ids):
    (ck / "offsets").mkdir(parents=True, exist_ok=True)
    for i in ids:
        (ck / "offsets" / str(i)).write_text('v1\n{"batchWatermarkMs":0}\n{"0":1}\n')


def _commits(ck, *ids):
    (ck / "commits").mkdir(parents=True, exist_ok=True)
    for i in ids:
        (ck / "commits" / str(i)).write_text('v1\n{"nextBatchWatermarkMs":0}\n')


def test_records_of_batches_committed_during_the_run_add_up(tmp_path):
    ck = tmp_path / "spark"
    _offsets(ck, 0)
    _commits(ck, 0)
    write_record(str(ck), 0, QualityCounts(100, 100, 0, 0, {}), 0, {"sink0": 100})  # before this run
    metrics = NodeMetrics("n")
    log = BatchLog(str(ck), metrics)
    assert log.seen == 0

    _offsets(ck, 1, 2, 3)
    write_record(str(ck), 1, QualityCounts(10, 7, 1, 2, {"a": 1, "b": 2}), 3, {"sink0": 7, "sink1 (quarantine)": 2})
    write_record(str(ck), 2, QualityCounts(5, 5, 0, 0, {"a": 0, "b": 0}), 0, {"sink0": 5})
    write_record(str(ck), 3, QualityCounts(99, 99, 0, 0, {}), 0, {"sink0": 99})  # not committed yet
    _commits(ck, 1, 2)
    log.refresh()
    log.refresh()  # idempotent: each committed batch is added once
    snap = metrics.snapshot()
    assert (snap["batches"], snap["input_rows"], snap["output_rows"], snap["dropped_rows"], snap["quarantined_rows"], snap["dead_letter_rows"]) == (2, 15, 12, 1, 2, 3)
    assert snap["failures"] == {"a": 1, "b": 2}
    assert snap["sink_rows"] == {"sink0": 12, "sink1 (quarantine)": 2}
    assert snap["last_batch_id"] == 2
    assert log.load_error() is None  # batch 3 is pending but recorded no error

    _commits(ck, 3)
    log.refresh()
    assert metrics.snapshot()["input_rows"] == 114


def test_a_failed_batch_records_kappas_error_and_a_replay_overwrites_it(tmp_path):
    ck = tmp_path / "spark"
    _offsets(ck, 0)
    metrics = NodeMetrics("n")
    log = BatchLog(str(ck), metrics)
    write_record(str(ck), 0, error=ExpectationFailed("n", "e", 3))
    assert read_record(str(ck), 0)["exit_code"] == 1
    exc = log.load_error()
    assert isinstance(exc, KappaError)
    assert str(exc) == "node 'n': expectation 'e' failed on 3 row(s); no sink was written"
    assert metrics.exception is exc
    assert metrics.snapshot()["last_error"] == "batch 0: node 'n': expectation 'e' failed on 3 row(s); no sink was written"

    write_record(str(ck), 0, QualityCounts(3, 3, 0, 0, {}), 0, {"sink0": 3})  # the replay succeeds
    _commits(ck, 0)
    log.refresh()
    assert metrics.snapshot()["batches"] == 1
    assert sorted(p.name for p in record_path(str(ck), 0).parent.iterdir()) == ["0.json"]


def test_connect_refuses_a_node_kept_in_memory(tmp_path):
    from kappa.config.loader import load_pipeline_file
    from kappa.engines.spark.compiler import refuse_for_connect
    from kappa.plan import build_plan

    path = tmp_path / "p.yaml"
    path.write_text(f"""
name: mem
nodes:
- name: raw
  source:
    path: {tmp_path}/in
    format: JSON
- name: out
  source:
    node_name: raw
  sinks:
  - format: DELTA
    path: {tmp_path}/out
""")
    plan = build_plan(load_pipeline_file(path))
    with pytest.raises(ConnectRefused) as err:
        refuse_for_connect(plan.nodes)
    assert str(err.value).startswith("node 'raw' has no Delta or file sink: its output would be kept in memory")
    assert err.value.exit_code == 2
    with pytest.raises(ConnectRefused, match="node 'out' reads node 'raw' from memory"):
        refuse_for_connect([n for n in plan.nodes if n.name == "out"])
