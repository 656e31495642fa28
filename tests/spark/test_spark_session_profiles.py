"""The shared SparkSession's settings and connector-profile detection on a real local Spark."""

from __future__ import annotations

import pytest

from kappa.engines.spark import profiles
from kappa.engines.spark.datasources.readers import build_kafka_read
from kappa.errors import ConfigError

pytestmark = pytest.mark.spark


def test_session_settings(spark):
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"
    assert spark.conf.get("spark.sql.execution.arrow.pyspark.enabled") == "true"
    assert spark.conf.get("spark.sql.shuffle.partitions") == "4"
    java_opts = spark.sparkContext.getConf().get("spark.driver.extraJavaOptions")
    assert "-XX:TieredStopAtLevel=1" in java_opts


def test_get_or_create_reuses_the_active_session(spark):
    from kappa.engines.spark.session import get_or_create_session

    assert get_or_create_session(master="local[2]") is spark


def test_detection_answers_python_without_jars(spark):
    assert profiles.has_connectors(spark) == {"kafka": False, "delta": False}
    assert profiles.detect_profile(spark) == "python"
    # The Spark Connect probe (analysis errors) agrees with the classpath probe.
    assert profiles._probe_by_query(spark, "kafka") is False
    assert profiles._probe_by_query(spark, "delta") is False
    assert profiles._class_loadable(spark, "org.apache.spark.sql.SparkSession") is True


def test_profile_override_by_env_and_argument(spark, monkeypatch):
    monkeypatch.delenv("KAPPA_SPARK_PROFILE", raising=False)
    assert profiles.resolve_profile(spark) == "python"
    assert profiles.resolve_profile(spark, "jvm") == "jvm"
    monkeypatch.setenv("KAPPA_SPARK_PROFILE", "jvm")
    assert profiles.resolve_profile(spark) == "jvm"
    assert profiles.resolve_profile(spark, "python") == "python"
    monkeypatch.setenv("KAPPA_SPARK_PROFILE", "scala")
    with pytest.raises(ConfigError, match="KAPPA_SPARK_PROFILE"):
        profiles.resolve_profile(spark)
    with pytest.raises(ConfigError, match="unknown Spark connector profile"):
        profiles.resolve_profile(spark, "rust")


def test_jvm_kafka_reader_is_built_but_cannot_load_without_jars(spark):
    options = {"kafka.bootstrap.servers": "127.0.0.1:1", "subscribe": "t"}
    reader = build_kafka_read(spark, "jvm", options)
    with pytest.raises(Exception, match="KAFKA_DATA_SOURCE_NOT_ENABLED|kafka"):
        reader.load()
