"""A micro-batch bigger than the driver may hold: the python profile never brings it there.

``kappa run`` runs in a child process whose Spark driver may return at most 16 MiB of results
(``spark.driver.maxResultSize=16m``) and has a 1 GiB heap. One Kafka micro-batch several times
that size goes Kafka -> bronze (decoded on the executors, an expectation, a Delta sink) ->
silver (a Delta source, a SQL step, a Delta sink). Before issue 9 a 41 MiB batch failed with
"Total size of serialized results ... is bigger than spark.driver.maxResultSize"; now the rows
are decoded, checked and written by executor tasks and the driver only commits.

The 48 MiB case runs in ``make test``; the 320 MiB case is ``slow`` (``make test-slow``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
from confluent_kafka import Producer

from kappa.delta.read import read_delta
from kappa.testing.kafka import conf_for

pytestmark = [pytest.mark.spark, pytest.mark.kafka]

PIPELINE = """
name: big
checkpoint_root: {root}/ck
nodes:
- name: bronze
  source:
    bootstrap_servers: {bootstrap}
    topic: {topic}
    schema: "id BIGINT, kind STRING, payload STRING"
  transformer:
  - expr: SELECT value.id AS id, value.kind AS kind, value.payload AS payload FROM {{df}}
  expectations:
  - name: has_kind
    expr: kind IS NOT NULL
    action: drop
  sinks:
  - format: DELTA
    path: {root}/bronze
- name: silver
  source:
    format: DELTA
    path: {root}/bronze
  transformer:
  - expr: SELECT id, kind, length(payload) AS payload_len FROM {{df}} WHERE kind = 'a'
  sinks:
  - format: DELTA
    path: {root}/silver
"""

PAYLOAD = 2000  # bytes of each record's payload


def _produce(bootstrap: str, topic: str, n: int) -> None:
    producer = Producer({**conf_for(bootstrap), "linger.ms": 20, "batch.num.messages": 2000, "queue.buffering.max.kbytes": 512 * 1024})
    pad = "x" * PAYLOAD
    for i in range(n):
        kind = None if i % 100 == 99 else ("a" if i % 2 == 0 else "b")
        value = ('{"id": %d, "kind": %s, "payload": "%s"}' % (i, "null" if kind is None else f'"{kind}"', pad)).encode()
        while True:
            try:
                producer.produce(topic, value=value, partition=0)
                break
            except BufferError:
                producer.poll(0.05)
    assert producer.flush(60) == 0


def _run_big(tmp_path, bootstrap: str, topic: str, n: int) -> None:
    (tmp_path / "big.yaml").write_text(textwrap.dedent(PIPELINE).format(root=tmp_path, bootstrap=bootstrap, topic=topic))
    _produce(bootstrap, topic, n)
    env = {
        **os.environ,
        "KAPPA_SPARK_CONF": "spark.driver.maxResultSize=16m,spark.sql.shuffle.partitions=2",
        "PYSPARK_SUBMIT_ARGS": "--driver-memory 1g pyspark-shell",
        "SPARK_LOCAL_IP": "127.0.0.1",
    }
    cmd = [sys.executable, "-m", "kappa.cli", "run", str(tmp_path / "big.yaml"), "--profile", "python"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    kept = [i for i in range(n) if i % 100 != 99]
    bronze = read_delta(str(tmp_path / "bronze"), columns=["id"]).column("id").to_pylist()
    assert sorted(bronze) == kept
    silver = read_delta(str(tmp_path / "silver"))
    assert sorted(silver.column("id").to_pylist()) == [i for i in kept if i % 2 == 0]
    assert set(silver.column("payload_len").to_pylist()) == {PAYLOAD}
    # the run's counts come from Spark's observed metrics
    assert f"{len(kept)}" in proc.stdout


def test_48_mib_batch_with_16m_driver_results(tmp_path, kafka_bootstrap, make_topic):
    _run_big(tmp_path, kafka_bootstrap, make_topic(partitions=1), 24_000)


@pytest.mark.slow
def test_320_mib_batch_with_16m_driver_results(tmp_path, kafka_bootstrap, make_topic):
    _run_big(tmp_path, kafka_bootstrap, make_topic(partitions=1), 160_000)
