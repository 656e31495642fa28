"""Idempotency of CDC MERGE sinks on Spark across a crash: a Spark process is killed (SIGKILL,
failpoint ``before_commit``) after a micro-batch's MERGEs but before Spark's checkpoint commit;
the restart replays that batch, which writes nothing twice, and the tables end up exactly the
oracle's (and the Polars engine's)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from deltalake import DeltaTable

from kappa.delta.txn import CDC_TAGS
from kappa.plan import build_plan
from kappa.runner import execute_pipeline
from kappa.testing.kafka import produce

from tests.helpers.cli import REPO, run_group

from .cdc_spark_util import ALL_SINKS, EVENTS, assert_tables, feed_records, merge_pipeline

pytestmark = [pytest.mark.spark, pytest.mark.kafka, pytest.mark.slow]

DRIVER = Path(__file__).resolve().parents[1] / "spark_engine" / "crash_driver.py"
MAX_OFFSETS = 4  # 15 events: batches 0..3


def _drain_killed_at(yaml_path: Path, failpoint: str, timeout: float = 240) -> subprocess.CompletedProcess:
    """Run the crash driver (one availableNow run) in its own process group with ``failpoint``
    armed; kill the whole group (the JVM too) once it ends."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "KAPPA_FAILPOINTS": failpoint}
    return run_group([sys.executable, str(DRIVER), str(yaml_path), "drain"], env, timeout)


def _batch_commits(path: Path) -> list[int]:
    """The kappa batch versions recorded by the commits of a Delta table, in commit order."""
    history = DeltaTable(str(path)).history()
    return sorted(int(h[CDC_TAGS.version]) for h in history if CDC_TAGS.version in h)


def test_crash_before_spark_commit_then_restart_is_exact(spark, tmp_path, kafka_bootstrap, make_topic):
    topic = make_topic(1)
    produce(kafka_bootstrap, topic, feed_records(EVENTS))
    root = tmp_path / "spark"

    def make(r: Path):
        return merge_pipeline(r, ALL_SINKS, bootstrap=kafka_bootstrap, topic=topic, max_offsets=MAX_OFFSETS)

    pipeline = make(root)
    result = _drain_killed_at(root / "pipeline.yaml", "before_commit@2")
    assert result.returncode == -signal.SIGKILL, result.stderr[-3000:]

    # batch 1 is merged into every target and state table, but Spark has not committed it
    ck = root / "checkpoints" / pipeline.name / "changes" / "spark"
    assert sorted(p.name for p in (ck / "commits").iterdir() if p.name.isdigit()) == ["0"]
    assert (ck / "offsets" / "1").exists()
    apps = {s.path: s.app_id for n in build_plan(pipeline).for_engine("spark").nodes for s in n.sinks}
    for sink in ALL_SINKS:
        target = root / sink.name
        app = apps[str(target)]
        assert DeltaTable(str(target)).transaction_version(app) == 1, sink.name
        assert DeltaTable(f"{target}__kappa_cdc_state").transaction_version(app) == 1, sink.name

    summary = execute_pipeline(make(root), engine="spark")  # the restart replays batch 1
    assert summary.ok and summary.node("changes").batches == 3
    polars_root = tmp_path / "polars"
    assert execute_pipeline(make(polars_root), engine="polars").ok
    assert_tables(EVENTS, {"spark": root, "polars": polars_root}, ALL_SINKS)
    for sink in ALL_SINKS:  # no batch was applied twice
        commits = _batch_commits(root / sink.name)
        assert commits == sorted(set(commits)) and set(commits) == {0, 1, 2, 3}, (sink.name, commits)
