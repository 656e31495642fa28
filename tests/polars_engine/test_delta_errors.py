"""A failed Delta write names the node, the sink and the path, in one line, without a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow as pa
import pytest

from kappa.delta.arrow import DeltaWriteError
from kappa.delta.writer import DeltaWriter

PIPELINE = """
name: delta-errors
checkpoint_root: {root}/checkpoints
nodes:
- name: bronze
  source:
    path: {root}/input
    format: JSONL
    schema: "id BIGINT, name STRING"
  sinks:
  - format: DELTA
    path: {sink}
"""

ROOT = Path(__file__).resolve().parents[2]


def _replay(tmp_path: Path, sink: str) -> subprocess.CompletedProcess:
    (tmp_path / "input").mkdir(exist_ok=True)
    (tmp_path / "input" / "a.jsonl").write_text('{"id": 1, "name": "a"}\n{"id": 2, "name": "b"}\n')
    path = tmp_path / "pipeline.yaml"
    path.write_text(textwrap.dedent(PIPELINE.format(root=tmp_path, sink=sink)))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "kappa.cli", "replay", str(path)], capture_output=True, text=True, env=env, timeout=120)


@pytest.mark.parametrize(
    ("sink", "cause"),
    [
        ("{root}/file.txt", "the path is a file, not a folder"),
        ("{root}/file.txt/table", "{root}/file.txt is a file, not a folder"),
    ],
    ids=["path-is-a-file", "parent-is-a-file"],
)
def test_replay_names_node_sink_and_path(tmp_path, sink, cause):
    (tmp_path / "file.txt").write_text("not a table\n")
    sink = sink.format(root=tmp_path)
    done = _replay(tmp_path, sink)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last == f"error: node 'bronze' sink 0: cannot write Delta table {sink}: {cause.format(root=tmp_path)}"
    assert (tmp_path / "file.txt").read_text() == "not a table\n"


def test_writer_errors_are_one_line_naming_the_table(tmp_path):
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(DeltaWriteError) as err:
        DeltaWriter(str(tmp_path / "file.txt"), app_id="a").write_arrow(pa.table({"a": [1]}), 0)
    assert str(err.value) == f"cannot write Delta table {tmp_path / 'file.txt'}: the path is a file, not a folder"
    with pytest.raises(DeltaWriteError) as err:
        DeltaWriter(str(tmp_path / "file.txt"), app_id="a").committed_version()
    assert str(err.value) == f"cannot read Delta table {tmp_path / 'file.txt'}: the path is a file, not a folder"

    # a data error (a column whose type cannot change) names the table too, on one line
    table = str(tmp_path / "t")
    DeltaWriter(table, app_id="a").write_arrow(pa.table({"a": [1.5]}), 0)
    with pytest.raises(DeltaWriteError) as err:
        DeltaWriter(table, app_id="a").write_arrow(pa.table({"a": ["abc"]}), 1)
    text = str(err.value)
    assert text.startswith(f"cannot write Delta table {table}: ") and "\n" not in text
    assert "Cannot cast string 'abc'" in text


@pytest.mark.spark
def test_spark_python_profile_names_node_sink_and_path(spark, tmp_path):
    from kappa.errors import KappaError
    from tests.helpers.engines import run_spark
    from tests.helpers.pipelines import pipeline_for

    (tmp_path / "input").mkdir()
    (tmp_path / "input" / "a.jsonl").write_text('{"id": 1, "name": "a"}\n')
    (tmp_path / "file.txt").write_text("not a table\n")
    sink = tmp_path / "file.txt" / "table"
    with pytest.raises(KappaError) as err:
        run_spark(spark, pipeline_for(PIPELINE, tmp_path, sink=sink))
    assert str(err.value) == (
        f"node 'bronze' failed: sink 0: cannot write Delta table {sink}: {tmp_path / 'file.txt'} is a file, not a folder"
    )


DEAD_PIPELINE = """
name: delta-errors
checkpoint_root: {root}/checkpoints
nodes:
- name: bronze
  source:
    bootstrap_servers: {bootstrap}
    topic: {topic}
    schema: "id BIGINT"
    dead_letter_path: {root}/file.txt/dead
  sinks:
  - format: DELTA
    path: {root}/bronze
"""


@pytest.mark.kafka
def test_dead_letter_table_under_a_file(tmp_path, kafka_bootstrap, make_topic):
    from confluent_kafka import Producer

    topic = make_topic(1)
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    producer.produce(topic, value=b'{"id": 1}')
    producer.produce(topic, value=b"oops")
    assert producer.flush(10) == 0
    (tmp_path / "file.txt").write_text("x")
    path = tmp_path / "pipeline.yaml"
    path.write_text(textwrap.dedent(DEAD_PIPELINE.format(root=tmp_path, bootstrap=kafka_bootstrap, topic=topic)))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "kappa.cli", "replay", str(path)], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        f"error: node 'bronze' dead letters: cannot write Delta table {tmp_path}/file.txt/dead: "
        f"{tmp_path}/file.txt is a file, not a folder"
    )
    assert not (tmp_path / "bronze").exists()  # nothing written after the failed dead-letter write
