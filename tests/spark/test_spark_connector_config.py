"""Pure parts of the Spark connector layer: settings, connector tables, option parsing.

No SparkSession or broker here; these run in the fast suite.
"""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from kappa.engines.spark import profiles
from kappa.engines.spark.datasources.kafka_options import (
    KafkaOptions,
    from_json_offsets,
    rate_limit,
    split_ranges,
    to_json_offsets,
)
from kappa.engines.spark.datasources.options import SourceOptions
from kappa.engines.spark.datasources.readers import (
    delta_read_spec,
    jvm_kafka_reader_options,
    kafka_read_spec,
)
from kappa.engines.spark.delta_writer import (
    jvm_delta_write_options,
    normalize_arrow_table,
)
from kappa.engines.spark.session import build_conf, parse_conf_string
from kappa.errors import ConfigError


def test_build_conf_local_defaults_and_precedence():
    conf = build_conf(
        "local[2]",
        {"spark.sql.shuffle.partitions": "8", "a.b": "arg"},
        jars=["/x/k.jar"],
        packages=["g:a:1"],
        env={"KAPPA_SPARK_CONF": "a.b=env, c.d=x=y"},
    )
    assert conf["spark.sql.session.timeZone"] == "UTC"
    assert conf["spark.sql.execution.arrow.pyspark.enabled"] == "true"
    assert conf["spark.sql.shuffle.partitions"] == "8"
    assert conf["a.b"] == "arg"
    assert conf["c.d"] == "x=y"
    assert conf["spark.driver.extraJavaOptions"] == "-XX:TieredStopAtLevel=1"
    assert conf["spark.jars"] == "/x/k.jar"
    assert conf["spark.jars.packages"] == "g:a:1"


def test_build_conf_cluster_master_has_no_local_tuning():
    conf = build_conf("yarn", None, env={})
    assert "spark.sql.shuffle.partitions" not in conf
    assert "spark.driver.extraJavaOptions" not in conf
    assert conf["spark.sql.session.timeZone"] == "UTC"


def test_parse_conf_string_rejects_items_without_equals():
    assert parse_conf_string(" , a=1,b = 2 ") == {"a": "1", "b": "2"}
    with pytest.raises(ConfigError, match="key=value"):
        parse_conf_string("a=1,oops")


def test_connector_packages_newest_pair_and_unknown_version():
    assert profiles.connector_packages("4.2.0") == [
        "org.apache.spark:spark-sql-kafka-0-10_2.13:4.2.0",
        "io.delta:delta-spark_4.2_2.13:4.4.1",
    ]
    assert profiles.connector_packages("3.5.3", ("delta",)) == ["io.delta:delta-spark_2.12:3.3.2"]
    with pytest.raises(ConfigError, match="supported Spark versions: 4.2, 4.1, 4.0, 3.5"):
        profiles.connector_packages("2.4.8")


def test_connector_file_matches_builtin_copy():
    data = json.loads(profiles.CONNECTORS_FILE.read_text())
    assert data["spark"] == profiles._BUILTIN_CONNECTORS["spark"]
    assert data["delta_session_conf"] == profiles._BUILTIN_CONNECTORS["delta_session_conf"]
    assert profiles.delta_session_conf()["spark.sql.extensions"] == profiles.DELTA_EXTENSION_CLASS


def test_local_jars_lists_jar_files_sorted(tmp_path, monkeypatch):
    (tmp_path / "b.jar").write_bytes(b"")
    (tmp_path / "a.jar").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("x")
    assert profiles.local_jars(tmp_path) == [str(tmp_path / "a.jar"), str(tmp_path / "b.jar")]
    monkeypatch.setenv("KAPPA_SPARK_JARS_DIR", str(tmp_path))
    assert len(profiles.local_jars()) == 2
    monkeypatch.delenv("KAPPA_SPARK_JARS_DIR")
    assert profiles.local_jars() == []
    with pytest.raises(ConfigError, match="does not exist"):
        profiles.local_jars(tmp_path / "missing")


def test_kafka_options_validation():
    base = {"kafka.bootstrap.servers": "h:1"}
    with pytest.raises(ConfigError, match="exactly one of"):
        KafkaOptions.parse(base)
    with pytest.raises(ConfigError, match="exactly one of"):
        KafkaOptions.parse({**base, "subscribe": "a", "subscribePattern": "a.*"})
    with pytest.raises(ConfigError, match="kafka.bootstrap.servers"):
        KafkaOptions.parse({"subscribe": "a"})
    with pytest.raises(ConfigError, match="startingOffsets"):
        KafkaOptions.parse({**base, "subscribe": "a", "kafka.auto.offset.reset": "earliest"})
    with pytest.raises(ConfigError, match="startingOffsetsByTimestamp"):
        KafkaOptions.parse({**base, "subscribe": "a", "startingOffsetsByTimestamp": "{}"})
    with pytest.raises(ConfigError, match="positive"):
        KafkaOptions.parse({**base, "subscribe": "a", "maxOffsetsPerTrigger": "0"})
    opts = KafkaOptions.parse(
        {
            **base,
            "SUBSCRIBE": "a, b",
            "includeHeaders": "true",
            "failOnDataLoss": "false",
            "kafka.security.protocol": "SASL_SSL",
            "kafka.sasl.jaas.config": 'x required username="u" password="p";',
        }
    )
    assert opts.subscribe == ("a", "b")
    assert opts.include_headers and not opts.fail_on_data_loss
    conf = opts.client_conf()
    assert conf["bootstrap.servers"] == "h:1"
    assert conf["security.protocol"] == "SASL_SSL"
    assert conf["sasl.username"] == "u" and conf["sasl.password"] == "p"
    assert "subscribe" not in conf and "includeheaders" not in conf
    assigned = KafkaOptions.parse({**base, "assign": '{"t":[1,0],"u":[2]}'})
    assert assigned.topic_partitions({}) == [("t", 0), ("t", 1), ("u", 2)]


def test_offset_json_round_trip():
    offsets = {("b", 1): 7, ("a", 0): 42, ("a", 10): 3}
    obj = to_json_offsets(offsets)
    assert json.dumps(obj) == '{"a": {"0": 42, "10": 3}, "b": {"1": 7}}'
    assert from_json_offsets(json.dumps(obj)) == offsets


def test_rate_limit_matches_sparks_proration():
    start = {("t", 0): 0, ("t", 1): 0, ("t", 2): 0}
    end = {("t", 0): 34, ("t", 1): 33, ("t", 2): 33}
    assert rate_limit(start, end, 30) == {("t", 0): 10, ("t", 1): 9, ("t", 2): 9}
    # A tiny backlog is never starved: prorate < 1 rounds up.
    assert rate_limit({("a", 0): 0, ("b", 0): 0}, {("a", 0): 1000, ("b", 0): 1}, 10) == {
        ("a", 0): 9,
        ("b", 0): 1,
    }
    assert rate_limit(start, start, 5) == start


def test_split_ranges_min_partitions():
    ranges = {("t", 0): (0, 100), ("t", 1): (5, 5)}
    assert split_ranges(ranges, None) == [("t", 0, 0, 100)]
    pieces = split_ranges(ranges, 4)
    assert pieces == [("t", 0, 0, 25), ("t", 0, 25, 50), ("t", 0, 50, 75), ("t", 0, 75, 100)]


def test_source_options_typed_access():
    opts = SourceOptions.of(
        {"MaxBytesPerTrigger": "10m", "flag": "TRUE", "storage.AWS_REGION": "x"}
    )
    assert opts.get_bytes("maxBytesPerTrigger") == 10 * 1024 * 1024
    assert opts.get_bool("Flag") is True
    assert opts.prefixed("storage.") == {"aws_region": "x"}
    with pytest.raises(ConfigError, match="integer"):
        SourceOptions.of({"n": "x"}).get_int("n")


def test_jvm_and_python_kafka_specs_share_options():
    options = {
        "kafka.bootstrap.servers": "broker:9092",
        "subscribe": "orders",
        "startingOffsets": {"orders": {"0": -2}},
        "maxOffsetsPerTrigger": 1000,
        "includeHeaders": True,
    }
    jvm = kafka_read_spec("jvm", options)
    python = kafka_read_spec("python", options)
    assert jvm.format == "kafka" and python.format == "kappa_kafka"
    assert jvm.options == python.options
    assert jvm_kafka_reader_options(options) == {
        "includeHeaders": "true",
        "kafka.bootstrap.servers": "broker:9092",
        "maxOffsetsPerTrigger": "1000",
        "startingOffsets": '{"orders":{"0":-2}}',
        "subscribe": "orders",
    }
    with pytest.raises(ConfigError, match="profile"):
        kafka_read_spec("scala", options)


def test_delta_specs_and_jvm_write_options():
    opts = {"startingVersion": 3, "skipChangeCommits": True, "storage.AWS_REGION": "eu"}
    jvm = delta_read_spec("jvm", "/t", opts)
    assert jvm.format == "delta" and jvm.path == "/t"
    assert jvm.options_dict() == {"skipChangeCommits": "true", "startingVersion": "3"}
    assert delta_read_spec("python", "/t", opts).options_dict()["storage.AWS_REGION"] == "eu"
    assert jvm_delta_write_options("q1", 7) == {
        "txnAppId": "q1",
        "txnVersion": "7",
        "mergeSchema": "true",
    }
    with pytest.raises(ConfigError):
        jvm_delta_write_options("", 1)


def test_normalize_arrow_table_follows_delta_spark():
    table = pa.table(
        {
            "n": pa.nulls(2),
            "ts": pa.array([1_000, 2_000], pa.timestamp("ns", tz="Europe/Paris")),
            "s": pa.array(["a", "b"], pa.large_string()),
            "u": pa.array([1, 2], pa.uint32()),
        },
        schema=pa.schema(
            [
                pa.field("n", pa.null()),
                pa.field("ts", pa.timestamp("ns", tz="Europe/Paris"), nullable=False),
                pa.field("s", pa.large_string()),
                pa.field("u", pa.uint32()),
            ]
        ),
    )
    out = normalize_arrow_table(table)
    assert out.schema == pa.schema(
        [
            pa.field("ts", pa.timestamp("us", tz="UTC")),
            pa.field("s", pa.string()),
            pa.field("u", pa.int64()),
        ]
    )
    assert out.column("ts").cast(pa.int64()).to_pylist() == [1, 2]
