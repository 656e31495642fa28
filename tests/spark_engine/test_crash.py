"""Exactly once across kill -9: a Spark engine process is killed at several points of a
streaming run while a producer keeps writing; after a restart every Delta sink holds every
record exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from kappa.delta.read import read_delta
from kappa.testing.kafka import produce
from tests.helpers.pipelines import CRASH_PIPELINE as PIPELINE

pytestmark = [pytest.mark.spark, pytest.mark.kafka, pytest.mark.slow]

DRIVER = Path(__file__).with_name("crash_driver.py")



def _ids(path: Path) -> list[int]:
    return sorted(read_delta(str(path)).column("id").to_pylist())


def _run(args: list[str], env: dict, timeout: float) -> tuple[subprocess.CompletedProcess, bool]:
    """Run the driver in its own process group; kill -9 the whole group (the JVM too) when it
    ends or after ``timeout``. Returns the result and whether the timeout expired."""
    proc = subprocess.Popen([sys.executable, str(DRIVER), *args], env=env, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        out, err, timed_out = "", "", True
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the JVM too
    except ProcessLookupError:
        pass
    proc.wait()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err), timed_out


def test_kill_9_during_streaming_run_keeps_every_sink_exactly_once(tmp_path, kafka_bootstrap, make_topic):
    topic = make_topic(partitions=2)
    yaml_path = tmp_path / "pipeline.yaml"
    yaml_path.write_text(textwrap.dedent(PIPELINE).format(root=tmp_path, bootstrap=kafka_bootstrap, topic=topic))
    total = 600
    produce(kafka_bootstrap, topic, [{"id": i} for i in range(100)])
    stop = threading.Event()

    def producer() -> None:
        i = 100
        while i < total and not stop.is_set():
            produce(kafka_bootstrap, topic, [{"id": j} for j in range(i, min(i + 20, total))])
            i += 20
            time.sleep(0.3)

    thread = threading.Thread(target=producer, daemon=True)
    thread.start()
    base = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    # 1: killed between the two bronze sinks of a batch; 2: after every sink, before Spark's commit
    for failpoint in ("after_sink@3", "before_commit@4"):
        result, timed_out = _run([str(yaml_path), "stream"], {**base, "KAPPA_FAILPOINTS": failpoint}, timeout=240)
        assert not timed_out and result.returncode == -signal.SIGKILL, result.stderr[-3000:]
    thread.join()
    result, timed_out = _run([str(yaml_path), "drain"], base, timeout=300)
    assert not timed_out and result.returncode == 0, result.stderr[-3000:]
    drained = json.loads(result.stdout.strip().splitlines()[-1])
    assert drained["brz"] > 0  # the restart had work left over: the kills happened mid-stream
    expected = list(range(total))
    assert _ids(tmp_path / "brz") == expected
    assert _ids(tmp_path / "brz_copy") == expected
    assert _ids(tmp_path / "slv") == expected
