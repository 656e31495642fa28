"""SIGTERM to a real ``kappa stream start`` process: the batch in progress completes and commits,
the checkpoint matches the Delta table exactly, and a restart continues with no loss and no
duplicates."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from deltalake import DeltaTable

from kappa.cli import main
from kappa.engines.spark.status import kafka_offsets, read_checkpoint
from kappa.testing.kafka import produce
from tests.helpers.pipelines import kafka_bronze

pytestmark = [pytest.mark.spark, pytest.mark.kafka, pytest.mark.slow]

# Five records per batch; the failpoint sleeps 750 ms in every batch before it commits, so a
# batch is in progress most of the time and SIGTERM lands inside one.
PIPELINE = kafka_bronze(
    "term", source=(("schema", '"id BIGINT"'), ("max_offsets_per_trigger", "5")), trigger="1 second",
    select="SELECT value.id AS id FROM {{df}}",
)


def delta_ids(path) -> list[int]:
    return sorted(DeltaTable(str(path)).to_pyarrow_table().column("id").to_pylist())


def _wait_for_batch_in_progress(ck: str, proc: subprocess.Popen) -> int:
    """Wait (bounded) until two batches committed and a third has its offsets logged."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"kappa stream start exited early with {proc.returncode}"
        state = read_checkpoint(ck)
        if state.last_batch_id is not None and state.last_batch_id >= 1 and state.pending_batch_id is not None:
            return state.pending_batch_id
        time.sleep(0.02)
    raise AssertionError("no batch in progress within 180 s")


def test_sigterm_finishes_the_batch_and_restart_continues_exactly(spark, tmp_path, write_pipeline, kafka_bootstrap, make_topic):
    topic = make_topic(partitions=1)
    produce(kafka_bootstrap, topic, [{"id": i} for i in range(40)])
    path = write_pipeline(PIPELINE, bootstrap=kafka_bootstrap, topic=topic)
    ck = str(tmp_path / "ck/term/brz/spark")
    log = open(tmp_path / "stream.log", "w")
    env = dict(os.environ, SPARK_LOCAL_IP="127.0.0.1", KAPPA_FAILPOINTS="before_commit~0.75")
    proc = subprocess.Popen(
        [sys.executable, "-m", "kappa.cli", "stream", "start", path, "--profile", "python", "--refresh", "0.5"],
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=str(tmp_path),
    )
    try:
        in_progress = _wait_for_batch_in_progress(ck, proc)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=180) == 0, (tmp_path / "stream.log").read_text()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
    out = (tmp_path / "stream.log").read_text()
    assert "stopped: SIGTERM" in out

    state = read_checkpoint(ck)
    # the batch in progress when SIGTERM came completed and committed
    assert state.last_batch_id is not None and state.last_batch_id >= in_progress
    committed = kafka_offsets(state.committed_offsets[0])[(topic, 0)]
    assert committed == 5 * (state.last_batch_id + 1)
    # the table holds exactly what the checkpoint says was consumed
    assert delta_ids(tmp_path / "brz") == list(range(committed))

    produce(kafka_bootstrap, topic, [{"id": i} for i in range(40, 45)])
    main(["stream", "start", path, "--until-idle", "--profile", "python", "--refresh", "0.5"])
    assert delta_ids(tmp_path / "brz") == list(range(45))
    final = read_checkpoint(ck)
    assert final.pending_batch_id is None
    assert kafka_offsets(final.committed_offsets[0]) == {(topic, 0): 45}
