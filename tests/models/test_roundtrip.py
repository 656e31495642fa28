"""YAML -> models -> YAML round trips, on a rich config that uses every source and sink kind,
expectations, triggers, variables, Spark settings and kept secret references."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from kappa import api as models  # the spec models plus YAML loading and execute()
from kappa.api import load_pipeline_file, load_pipeline_text

RICH = Path(__file__).parents[1] / "config" / "valid" / "rich.yaml"
SECRETS = {"KAPPA_TEST_SASL_PASSWORD": "sasl-pw-4f1c", "KAPPA_TEST_S3_SECRET": "s3-secret-9b2e"}


@pytest.fixture
def secrets_env(monkeypatch):
    for k, v in SECRETS.items():
        monkeypatch.setenv(k, v)


@pytest.fixture
def rich(secrets_env) -> models.Pipeline:
    return load_pipeline_file(RICH)


def test_rich_config_uses_every_kind(rich):
    kinds = {type(n.source).__name__ for n in rich.nodes if n.source is not None}
    assert kinds == {"KafkaDataSource", "FileDataSource", "DeltaDataSource", "PipelineNodeDataSource"}
    sinks = {(type(s).__name__, getattr(s, "mode", None), s.is_quarantine) for n in rich.nodes for s in n.sinks}
    assert sinks == {
        ("DeltaDataSink", "append", False),
        ("FileDataSink", "overwrite", False),
        ("DeltaDataSink", None, False),
        ("FileDataSink", None, True),
        ("KafkaDataSink", None, False),
        ("FileDataSink", None, False),
    }
    assert {e.action for n in rich.nodes for e in n.expectations} == {"quarantine", "drop", "warn"}
    assert [n.trigger.kind if n.trigger else None for n in rich.nodes] == ["available_now", None, None, None, "once"]
    assert (rich.trigger.kind, rich.trigger.interval) == ("processing_time", "10 seconds")


def test_rich_config_values(rich):
    n = rich.nodes_dict
    kafka = n["orders_raw"].source
    assert kafka.bootstrap_servers == "localhost:9092"
    assert kafka.topics == ["orders"]
    assert kafka.max_offsets_per_trigger == 500  # `${vars.batch}` keeps the variable's type
    assert kafka.streaming is True
    assert kafka.dead_letter_path == "./lake/dead_letters/orders"
    assert n["customers"].source.format == "CSV"
    assert n["customers"].source.schema_ == {"customer_id": "BIGINT", "name": "STRING", "country": "STRING"}
    assert n["fx_rates"].source.version == 12 and n["fx_rates"].source.streaming is False
    assert [type(s).__name__ for s in n["fx_rates"].steps] == ["DataFrameExpr"]
    merge = n["orders_clean"].sinks[0].merge
    assert (merge.keys, merge.sequence_columns, merge.stored_as_scd_type) == (["order_id"], ["ts"], 1)
    assert n["orders_history"].sinks[0].merge.stored_as_scd_type == 2
    assert (rich.dataframe_backend, rich.root_path, rich.checkpoint_root) == ("SPARK", "./lake", "./lake/checkpoints")
    assert rich.spark.conf["spark.sql.shuffle.partitions"] == "4"


def test_rich_round_trip_equal_models_and_stable_text(rich):
    text = rich.model_dump_yaml()
    again = load_pipeline_text(text, path="dumped.yaml")
    assert again == rich
    assert again.model_dump_yaml() == text


def test_rich_dump_is_plain_yaml_with_block_sql(rich):
    text = rich.model_dump_yaml()
    data = yaml.safe_load(text)
    assert data["nodes"][3]["transformer"]["nodes"][0]["expr"].startswith("SELECT o.order_id")
    assert "    - expr: |\n        SELECT o.order_id" in text


def test_rich_round_trip_through_python_dict(rich):
    data = rich.model_dump(mode="json", by_alias=True, exclude_unset=True)
    assert models.Pipeline.model_validate(data) == rich
    full = rich.model_dump(mode="json", by_alias=True)
    assert models.Pipeline.model_validate(full).model_dump(mode="json", by_alias=True) == full


def test_secrets_never_in_the_model_or_dump(rich):
    text = rich.model_dump_yaml()
    for dumped in (text, rich.model_dump_json(), repr(rich), str(rich)):
        for secret in SECRETS.values():
            assert secret not in dumped
    assert rich.nodes_dict["orders_raw"].source.options["sasl.password"] == "${env.KAPPA_TEST_SASL_PASSWORD}"
    assert rich.nodes_dict["orders_clean"].sinks[2].options["sasl.password"] == "${env.KAPPA_TEST_SASL_PASSWORD}"
    assert rich.nodes_dict["orders_raw"].sinks[0].storage_options == {"AWS_SECRET_ACCESS_KEY": "${env.KAPPA_TEST_S3_SECRET}"}
    assert rich.spark.conf["spark.hadoop.fs.s3a.secret.key"] == "${env.KAPPA_TEST_S3_SECRET}"
    assert rich.variables["kafka_password"] == "${env.KAPPA_TEST_SASL_PASSWORD}"


def test_python_built_models_round_trip(secrets_env):
    """Every kind built in Python -> YAML -> the same models."""
    pl = models.Pipeline(
        name="py-built",
        nodes=[
            models.PipelineNode(
                name="k",
                source=models.KafkaDataSource(bootstrap_servers="b:9092", topics=["t1", "t2"], starting_offsets={"t1": {"0": 5}}),
                sinks=[models.DeltaDataSink(path="./t/k", partition_by=["p"])],
            ),
            models.PipelineNode(
                name="d",
                source=models.DeltaDataSource(path="./t/k", as_stream=True, starting_version=0),
                transformer=models.Transformer(nodes=[models.DataFrameMethod(func_name="select", func_args=["a", "b"])]),
                expectations=[models.Expectation(name="a_set", expr="a IS NOT NULL", action="fail")],
                sinks=[models.KafkaDataSink(bootstrap_servers="b:9092", topic="out", value="b")],
                trigger=models.Trigger(kind="processing_time", interval="5 seconds"),
            ),
            models.PipelineNode(
                name="f",
                source=models.PipelineNodeDataSource(node_name="d"),
                transformer=models.Transformer(nodes=[models.DataFrameExpr(expr="SELECT *\nFROM {df}\nJOIN {nodes.k} USING (a)")]),
                sinks=[
                    models.DeltaDataSink(path="./t/f", merge=models.CdcMerge(keys=["a"], sequence_by="ts")),
                    models.FileDataSink(path="./out/f/", format="jsonl", mode="append"),
                ],
            ),
        ],
        spark=models.SparkSettings(remote="sc://localhost:15002"),
    )
    assert load_pipeline_text(pl.model_dump_yaml()) == pl
    assert pl.nodes_dict["k"].source.starting_offsets == {"t1": {"0": 5}}


def test_literal_reference_text_survives_a_round_trip():
    """``$${vars.x}`` loads as the text ``${vars.x}``; the dump escapes it again."""
    text = "name: p\nnodes:\n- name: a\n  source: {path: './in/$${vars.day}/', format: JSONL}\n"
    pl = load_pipeline_text(text)
    assert pl.nodes[0].source.path == "./in/${vars.day}/"
    dumped = pl.model_dump_yaml()
    assert "$${vars.day}" in dumped
    assert load_pipeline_text(dumped) == pl


EXAMPLES = sorted((Path(__file__).parents[2] / "examples").glob("*/*.yaml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_shipped_examples_round_trip(path):
    pl = load_pipeline_file(path)
    text = pl.model_dump_yaml()
    again = load_pipeline_text(text)
    assert again == pl
    assert again.model_dump_yaml() == text
