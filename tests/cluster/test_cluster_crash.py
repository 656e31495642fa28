"""Exactly once across kill -9 on a multi-process Spark standalone cluster.

``kappa run`` (availableNow, 100 offsets per trigger) runs in a subprocess whose pipeline
points at the cluster; a failpoint (``KAPPA_FAILPOINTS``, :mod:`kappa.faults`) kills the driver
with SIGKILL first between the two bronze sinks of a batch (``after_sink@3``), then, on the
restart, after every sink of a batch but before Spark's commit (``before_commit@4``); a last
restart without failpoints drains the topic. Every sink then holds every record exactly once,
with the same rows and Delta schemas as the Polars replay of the same pipeline.

The standalone master frees a killed driver's executors once its connection drops: before
each restart the test waits for the master to remove the killed application, and checks that
the restart got executors on both workers (each application asks for all the cluster's cores,
so a killed application still holding them would leave the restart waiting).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from kappa.config.loader import load_pipeline_file
from kappa.runner import execute_pipeline
from kappa.testing.kafka import produce
from tests.helpers.pipelines import CRASH_PIPELINE as PIPELINE

from tests.helpers.cli import REPO, cli_env
from tests.helpers.tables import delta_rows

pytestmark = [pytest.mark.spark, pytest.mark.kafka, pytest.mark.cluster, pytest.mark.slow]

TOTAL = 600
SINKS = ("brz", "brz_copy", "slv")



def write_pipeline(path: Path, root: Path, bootstrap: str, topic: str, spark: dict | None = None) -> Path:
    text = textwrap.dedent(PIPELINE).format(root=root, bootstrap=bootstrap, topic=topic)
    if spark is not None:
        text += f"spark: {json.dumps(spark)}\n"  # JSON is YAML
    path.write_text(text)
    return path


def run_driver(pipeline: Path, failpoints: str | None, timeout_s: float = 240) -> tuple[subprocess.CompletedProcess, float]:
    """``python -m kappa.cli run PIPELINE --profile python`` in its own process group, which is
    killed (the driver's JVM too) once the driver exits or after ``timeout_s``."""
    env = cli_env()
    env.pop("KAPPA_FAILPOINTS", None)
    if failpoints:
        env["KAPPA_FAILPOINTS"] = failpoints
    cmd = [sys.executable, "-m", "kappa.cli", "run", str(pipeline), "--profile", "python"]
    started = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, cwd=str(REPO), start_new_session=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        out, err = "", f"timed out after {timeout_s} s"
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err), time.monotonic() - started


def apps(cluster) -> set[str]:
    """The applications the workers launched executors for (``work-dir/app-*``)."""
    return {p.name for p in cluster.log_dir.glob("worker-*/app-*")}


def executor_workers(cluster, app: str) -> set[str]:
    return {p.parents[2].name for p in cluster.log_dir.glob(f"worker-*/{app}/*/stderr")}


def wait_removed(cluster, app: str, timeout_s: float = 60) -> float:
    """Wait until the master has removed ``app`` (its executors killed); returns the seconds waited."""
    started = time.monotonic()
    log = cluster.log_dir / "master.log"
    while f"Removing app {app}" not in log.read_text(errors="replace"):
        if time.monotonic() - started > timeout_s:
            raise AssertionError(f"the master did not remove {app} within {timeout_s} s\n{cluster.logs()}")
        time.sleep(0.2)
    return time.monotonic() - started


def test_kill_9_on_a_standalone_cluster_keeps_every_sink_exactly_once(spark_cluster, kafka_bootstrap, make_topic, tmp_path):
    topic = make_topic(partitions=2)
    produce(kafka_bootstrap, topic, [{"id": i} for i in range(TOTAL)])
    p_root, s_root = tmp_path / "polars", tmp_path / "spark"
    execute_pipeline(load_pipeline_file(write_pipeline(tmp_path / "polars.yaml", p_root, kafka_bootstrap, topic)), engine="polars")
    spark = {"master": spark_cluster.master_url, "conf": spark_cluster.driver_conf()}
    pipeline = write_pipeline(tmp_path / "spark.yaml", s_root, kafka_bootstrap, topic, spark)

    times = []
    for failpoint in ("after_sink@3", "before_commit@4", None):
        before = apps(spark_cluster)
        result, seconds = run_driver(pipeline, failpoint)
        times.append(round(seconds, 1))
        new = apps(spark_cluster) - before
        assert len(new) == 1, (failpoint, new, result.stderr[-3000:])
        app = new.pop()
        # the run had executors on both workers (a previous killed app did not keep the cores)
        assert executor_workers(spark_cluster, app) == {"worker-0", "worker-1"}, (app, spark_cluster.logs())
        if failpoint is None:
            assert result.returncode == 0, result.stdout + result.stderr[-5000:]
            assert "on spark" in result.stdout, result.stdout
            break
        assert result.returncode == -signal.SIGKILL, (failpoint, result.returncode, result.stderr[-5000:])
        times.append(round(wait_removed(spark_cluster, app), 1))
        written = len(delta_rows(s_root / "brz")[1])
        assert 0 < written < TOTAL, (failpoint, written)  # killed mid-run: work is left for the restart

    for sink in SINKS:
        p_schema, p_rows = delta_rows(p_root / sink)
        s_schema, s_rows = delta_rows(s_root / sink)
        assert s_schema == p_schema, f"{sink}: schemas differ\npolars: {p_schema}\nspark:  {s_schema}"
        assert sorted(r["id"] for r in s_rows) == list(range(TOTAL)), sink  # every record exactly once
        assert s_rows == p_rows, sink
    print(f"runs and waits for the master to free the killed apps (s): {times}")
