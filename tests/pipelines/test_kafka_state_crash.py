"""kill -9 inside a stateful Kafka node's batch, restart: exact sink and dead-letter tables.

A streaming dedup on ``id`` (with a watermark) reads a JSON topic with a declared schema; each
round produces 8 events (some ids again) and one undecodable record, then runs the pipeline in a
real process (``kappa replay`` on Polars; ``tests/spark_engine/crash_driver.py ... drain`` on
Spark) that SIGKILLs itself at a failpoint: after the sink wrote (the dead letters not yet), or
just before the batch's commit (sink and dead letters written). The rerun re-runs the batch
from the committed state: every id once in the sink, every bad record once in the dead letters.
On Spark the rerun reads the batch's offset range again for its dead letters
(kappa.engines.spark.stateful_kafka); their app transaction makes the rewrite a no-op.
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pyarrow as pa
import pytest

from kappa.kafka.writer import produce_table
from kappa.testing.kafka import produce

from tests.helpers.cli import crash_run
from tests.helpers.tables import delta_rows

pytestmark = [pytest.mark.slow, pytest.mark.kafka]

PIPELINE = """
name: kafka-state-crash
checkpoint_root: {root}/ck
nodes:
- name: dd
  source:
    bootstrap_servers: {bootstrap}
    topic: {topic}
    schema: "id BIGINT, t BIGINT"
  transformer:
  - expr: SELECT value.id AS id, CAST(value.t AS TIMESTAMP) AS ts FROM {{df}}
  - {{func_name: with_watermark, func_kwargs: {{column: ts, delay: 10 minutes}}}}
  - {{func_name: unique, func_kwargs: {{subset: [id]}}}}
  sinks:
  - {{format: DELTA, path: {root}/dd}}
"""
POINTS = ["after_sink@1", "before_commit@1", None]


def run(engine: str, path: Path, failpoint: str | None) -> subprocess.CompletedProcess:
    return crash_run(engine, path, failpoint)


def test_kill_9_in_a_stateful_kafka_batch_then_restart(engine, tmp_path, kafka_bootstrap, make_topic):
    topic = make_topic(partitions=2)
    path = tmp_path / "pipeline.yaml"
    path.write_text(PIPELINE.format(root=tmp_path, bootstrap=kafka_bootstrap, topic=topic))
    for r, point in enumerate(POINTS):
        events = [{"id": 10 * r + i % 6, "t": 600 * r + i} for i in range(8)]  # ids 0-5 of the round, two twice
        produce(kafka_bootstrap, topic, events, key=lambda e: str(e["id"]))
        produce_table({"bootstrap.servers": kafka_bootstrap}, topic, pa.table({"key": [f"bad{r}".encode()], "value": [b"{"]}))
        if point:
            crashed = run(engine.name, path, point)
            assert crashed.returncode == -signal.SIGKILL, f"{point} did not fire:\n{crashed.stderr[-3000:]}"
        done = run(engine.name, path, None)
        assert done.returncode == 0, done.stderr[-3000:]
        _, rows = delta_rows(tmp_path / "dd")
        assert sorted(row["id"] for row in rows) == [10 * k + i for k in range(r + 1) for i in range(6)]
        _, dead = delta_rows(tmp_path / "ck/kafka-state-crash/dd/dead_letters")
        assert sorted(row["key"] for row in dead) == [f"bad{k}".encode() for k in range(r + 1)]
