"""``kappa explain`` output and the readers/writers each connector profile builds (no query runs)."""

from __future__ import annotations

import json
import textwrap

import pytest

from kappa.cli import main
from kappa.engines.spark.connectors.delta import delta_options
from kappa.engines.spark.connectors.kafka import kafka_options

PIPELINE = """
name: explained
checkpoint_root: {root}/ck
nodes:
- name: brz
  source:
    bootstrap_servers: broker:9092
    topic: prices
    schema: "id BIGINT, price DOUBLE"
    max_offsets_per_trigger: 500
    options:
      security.protocol: SASL_SSL
      sasl.password: ${{env.KAFKA_PW}}
  transformer:
  - expr: SELECT value.id AS id, value.price AS price FROM {{df}}
  - func_name: drop_nulls
    func_kwargs: {{subset: [id]}}
  expectations:
  - name: positive
    expr: price > 0
    action: quarantine
  sinks:
  - format: DELTA
    path: {root}/brz
    storage_options:
      AWS_SECRET_ACCESS_KEY: ${{env.KAFKA_PW}}
      AWS_REGION: eu-west-1
  - format: DELTA
    path: {root}/brz_q
    is_quarantine: true
  trigger:
    processing_time: 10 seconds
- name: slv
  source:
    node_name: brz
    as_stream: true
  sinks:
  - topic: out
    bootstrap_servers: broker:9092
"""

EXPECTED = """\
node brz  (connector profile: {profile})
  source: kafka -> format {kafka_fmt}  [stream]
    option kafka.bootstrap.servers = broker:9092
    option kafka.sasl.password = ***
    option kafka.security.protocol = SASL_SSL
    option maxOffsetsPerTrigger = 500
    option startingOffsets = earliest
    option subscribe = prices
    value format: json
    schema: id BIGINT, price DOUBLE
  steps:
    0. sql: SELECT value.id AS id, value.price AS price FROM {{df}}
    1. method: drop_nulls(subset=["id"])
  expectations:
    - positive: price > 0  -> quarantine
  sinks:
    0. delta append: {root}/brz
       writer: {delta_writer}
       app_id: kappa:spark:explained:brz:sink0
       schema_mode: merge
       storage_options: {{"AWS_REGION": "eu-west-1", "AWS_SECRET_ACCESS_KEY": "***"}}
    1. delta append (quarantine): {root}/brz_q
       writer: {delta_writer}
       app_id: kappa:spark:explained:brz:sink1
       schema_mode: merge
  trigger: processing_time every 10 seconds
  checkpoint: {root}/ck/explained/brz/spark

node slv  (connector profile: {profile})
  source: delta -> format {delta_fmt}  [stream]
    upstream node: brz
    path: {root}/brz
{storage}    schema: (from the source)
  steps: none
  expectations: none
  sinks:
    0. kafka append: topic out @ broker:9092
       writer: {kafka_writer}
  trigger: available_now
  checkpoint: {root}/ck/explained/slv/spark
"""


@pytest.fixture
def pipeline_file(tmp_path, monkeypatch):
    monkeypatch.setenv("KAFKA_PW", "hunter2")
    path = tmp_path / "p.yaml"
    path.write_text(textwrap.dedent(PIPELINE).format(root=tmp_path))
    return path


@pytest.mark.parametrize("profile", ["python", "jvm"])
def test_explain_text_is_exact_and_redacted(pipeline_file, tmp_path, capsys, profile):
    main(["explain", str(pipeline_file), "--profile", profile])
    out = capsys.readouterr().out
    if profile == "python":
        names = dict(kafka_fmt="kappa_kafka", delta_fmt="kappa_delta", delta_writer="kappa_delta_sink (executors write Parquet, the driver commits them with the app transaction)", kafka_writer="kappa_kafka_sink (confluent-kafka producers on the executors)")
    else:
        names = dict(kafka_fmt="kafka", delta_fmt="delta", delta_writer="delta-spark (txnAppId/txnVersion)", kafka_writer="format(kafka)")
    storage = "    option storage.AWS_REGION = eu-west-1\n    option storage.AWS_SECRET_ACCESS_KEY = ***\n" if profile == "python" else ""
    assert out == EXPECTED.format(root=tmp_path, profile=profile, storage=storage, **names)
    assert "hunter2" not in out


def test_explain_json_and_select(pipeline_file, tmp_path, capsys):
    main(["explain", str(pipeline_file), "--profile", "python", "--json", "--select", "slv"])
    descs = json.loads(capsys.readouterr().out)
    assert [d["node"] for d in descs] == ["slv"]
    assert descs[0]["source"] == {
        "kind": "delta", "format": "kappa_delta", "options": {"storage.AWS_REGION": "eu-west-1", "storage.AWS_SECRET_ACCESS_KEY": "***"}, "path": str(tmp_path / "brz"), "schema": None,
        "streaming": True, "upstream": "brz", "read": "stream",
    }
    assert descs[0]["checkpoint"] == f"{tmp_path}/ck/explained/slv/spark"


def test_reader_options_resolve_secrets_only_when_reading(pipeline_file):
    from kappa.config.loader import load_pipeline_file
    from kappa.plan import build_plan

    plan = build_plan(load_pipeline_file(pipeline_file))
    spec = plan.node("brz").source
    assert kafka_options(spec) == {
        "kafka.bootstrap.servers": "broker:9092", "subscribe": "prices", "startingOffsets": "earliest",
        "maxOffsetsPerTrigger": "500", "kafka.security.protocol": "SASL_SSL", "kafka.sasl.password": "hunter2",
    }
    batch = kafka_options(spec, batch=True)
    assert batch["endingOffsets"] == "latest" and "maxOffsetsPerTrigger" not in batch
    from kappa.models import DeltaDataSource

    d = DeltaDataSource(path="s3://b/t", as_stream=True, starting_version=3, skip_change_commits=True, storage_options={"AWS_REGION": "x"})
    assert delta_options(d, "python") == {"startingVersion": "3", "skipChangeCommits": "true", "storage.AWS_REGION": "x"}
    assert delta_options(d, "jvm") == {"startingVersion": "3", "skipChangeCommits": "true"}
    assert delta_options(DeltaDataSource(path="t", version=2), "jvm", batch=True) == {"versionAsOf": "2"}


@pytest.mark.spark
def test_jvm_kafka_sink_frame_and_options(spark):
    from kappa.engines.spark.connectors.kafka import jvm_kafka_writer_options, kafka_sink_frame
    from kappa.models import KafkaDataSink

    df = spark.createDataFrame([(1, "a", 2.5)], "id BIGINT, sym STRING, px DOUBLE")
    whole = kafka_sink_frame(df, KafkaDataSink(bootstrap_servers="b:1", topic="t"))
    assert whole.columns == ["value"] and whole.collect()[0]["value"] == '{"id":1,"sym":"a","px":2.5}'
    keyed = kafka_sink_frame(df, KafkaDataSink(bootstrap_servers="b:1", topic="t", key="id", value="sym"))
    assert [tuple(r) for r in keyed.collect()] == [("1", "a")]
    opts = jvm_kafka_writer_options(KafkaDataSink(bootstrap_servers="b:1", topic="t", options={"acks": "all"}))
    assert opts == {"kafka.bootstrap.servers": "b:1", "topic": "t", "kafka.acks": "all"}
