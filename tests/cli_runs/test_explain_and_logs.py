"""``kappa explain`` starts no JVM; Spark's log file and its log4j2 configuration; errors
condensed to their root cause; a streaming node's seconds are its own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from kappa.engines.spark.engine import root_cause
from kappa.engines.spark.metrics import NodeMetrics
from kappa.quality.result import QualityCounts

REPO = Path(__file__).resolve().parents[2]


def test_explain_auto_starts_no_jvm(pipeline_file):
    env = {k: v for k, v in os.environ.items() if k not in ("SPARK_REMOTE", "KAPPA_SPARK_PROFILE", "KAPPA_SPARK_JARS_DIR", "KAPPA_SPARK_CONF")}
    env.update(PYTHONPATH=str(REPO), JAVA_HOME="/nonexistent/kappa-no-java", PATH="/usr/bin:/bin")  # no java anywhere
    done = subprocess.run([sys.executable, "-m", "kappa.cli", "explain", str(pipeline_file), "--select", "silver"],
                          cwd=pipeline_file.parent, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ("note: connector profile auto: python (no Kafka and Delta connector jars configured: spark.jars, "
                           "spark.jars.packages, KAPPA_SPARK_JARS_DIR or Spark's jar folder; Spark not started)\n")
    assert done.stdout.splitlines()[0] == "node silver  (connector profile: python)"


def test_explain_auto_with_a_spark_connect_remote_assumes_python(pipeline_file, monkeypatch):
    from kappa.cli.options import load
    from kappa.runner.describe import explain_profile

    monkeypatch.setenv("SPARK_REMOTE", "sc://127.0.0.1:1")
    monkeypatch.delenv("KAPPA_SPARK_PROFILE", raising=False)
    assert explain_profile(load(str(pipeline_file)), "auto") == (
        "python", "connector profile auto: python assumed (a Spark Connect server's classpath is not probed; "
        "use --profile jvm if it has the Kafka and Delta connectors)")
    assert explain_profile(load(str(pipeline_file)), "jvm") == ("jvm", None)


def test_spark_log_file_and_log4j2(pipeline_file, tmp_path):
    from kappa.cli.options import load
    from kappa.runner.session import spark_log_file, write_log4j2

    path = spark_log_file(load(str(pipeline_file)), now=0)
    assert path == f"{tmp_path}/checkpoints/demo/.logs/spark-19700101T000000Z.log"
    props = Path(write_log4j2(path))
    assert props == Path(f"{tmp_path}/checkpoints/demo/.logs/spark-19700101T000000Z.log4j2.properties")
    text = props.read_text()
    assert f"appender.file.fileName = {path}\n" in text
    assert "rootLogger.appenderRef.file.ref = kappa\n" in text and "console" not in text.lower()


def test_root_cause_of_spark_errors():
    plan = ("[UNRESOLVED_COLUMN.WITH_SUGGESTION] A column `nope` cannot be resolved. SQLSTATE: 42703; line 1 pos 11;\n"
            "'Project [id#6L, 'nope]\n+- SubqueryAlias __kappa_df\n   +- Relation [id#6L,v#7L] json\n")
    assert root_cause(RuntimeError(plan)) == "[UNRESOLVED_COLUMN.WITH_SUGGESTION] A column `nope` cannot be resolved. SQLSTATE: 42703; line 1 pos 11;"
    java = ("An error occurred while calling o93.save.\n: org.apache.spark.SparkException: Job aborted.\n\tat org.apache...\n"
            "Caused by: java.io.IOException: No space left on device\n\tat java.io...\n")
    assert root_cause(RuntimeError(java)) == "java.io.IOException: No space left on device"
    wrapped = "org.apache.spark.api.python.PythonException: Traceback\nkappa.errors.ConfigError: sink: bad path /x\n"
    assert root_cause(RuntimeError(wrapped)) == "sink: bad path /x"


def test_a_streaming_nodes_seconds_are_its_batches():
    m = NodeMetrics("n")
    m.record_batch(0, QualityCounts(10, 8, 2, 0, {}), 0, {"sink0": 8}, removed=5)
    m.add_seconds(0.25)
    m.add_seconds(0.5)
    s = m.to_summary()
    assert (s.seconds, s.read_rows, s.removed_rows, s.input_rows, s.output_rows) == (0.75, 15, 5, 10, 8)


def test_removed_rows_not_counted_render_as_a_dash():
    from kappa.summary import NodeRunSummary, PipelineRunSummary
    from kappa.summary_json import summary_json

    m = NodeMetrics("gold")
    m.record_batch(0, QualityCounts(4, 4, 0, 0, {}), 0, {}, removed=3)
    m.record_batch(1, QualityCounts(2, 2, 0, 0, {}), 0, {}, removed=None)  # e.g. a pruned whole-table read
    ns = m.to_summary()
    assert (ns.removed_rows, ns.read_rows) == (None, 6)
    run = PipelineRunSummary("p", "spark", [ns, NodeRunSummary("b")])
    assert run.render().splitlines()[3].split()[:5] == ["gold", "2", "6", "-", "6"]
    assert [n.removed_rows for n in summary_json(run).nodes] == [None, 0]


def test_whole_table_reads_keep_their_pushdown():
    from dataclasses import dataclass

    from kappa.engines.spark.batch import _pruned_read
    from kappa.plan_kinds import DeltaSourcePlan, FileSourcePlan, KafkaSourcePlan

    @dataclass
    class Node:
        source: object
        streaming: bool

    kafka = KafkaSourcePlan(bootstrap_servers="b:9092", topics=("t",), streaming=True)
    assert [_pruned_read(Node(s, streaming)) for s, streaming in (
        (DeltaSourcePlan(path="/t"), False), (DeltaSourcePlan(path="/t", streaming=True), True),
        (FileSourcePlan(path="/f", format="PARQUET"), False), (FileSourcePlan(path="/f", format="JSON"), False),
        (kafka, True), (None, False))] == [True, False, True, False, False, False]
