"""Kafka sources and sinks of the Spark engine.

A source takes Spark's Kafka source options (``format("kafka")`` on ``jvm``, ``kappa_kafka`` on
``python``, which also keeps its initial offset in the query's checkpoint and, for a JSON value
with a declared schema, decodes in the reader); the values are decoded on the executors
(:func:`kappa.engines.spark.decode.decode_kafka_frame`), undecodable records becoming dead
letters. A sink produces at least once, as in the Polars engine: ``python`` from the executors
with confluent-kafka (:func:`~kappa.engines.spark.datasources.kafka_sink.write_kafka_frame`),
``jvm`` with ``format("kafka")`` (:func:`kafka_sink_frame`, :func:`jvm_kafka_writer_options`).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Mapping

from kappa.engines.spark.connectors.base import SinkWriter, SourceReader
from kappa.engines.spark.sources import ReadDescription, _decode_option, _initial_option, _values, schema_ddl

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession

    from kappa.engines.spark.decode import Decoded
    from kappa.plan_kinds import KafkaSinkPlan, KafkaSourcePlan


def kafka_options(spec: Any, redact: bool = False, batch: bool = False) -> dict[str, str]:
    """Spark Kafka source options of a :class:`~kappa.plan.KafkaSourcePlan`."""
    from kappa.kafka.client import SPARK_ONLY_OPTIONS

    out: dict[str, str] = {"kafka.bootstrap.servers": spec.bootstrap_servers, "subscribe": ",".join(spec.topics)}
    start = spec.starting_offsets
    out["startingOffsets"] = start if isinstance(start, str) else json.dumps(start, separators=(",", ":"), sort_keys=True)
    if spec.max_offsets_per_trigger and not batch:
        out["maxOffsetsPerTrigger"] = str(spec.max_offsets_per_trigger)
    if spec.include_headers:
        out["includeHeaders"] = "true"
    if not spec.fail_on_data_loss:
        out["failOnDataLoss"] = "false"
    if batch:
        out["endingOffsets"] = "latest"
    extra = {}
    for key, value in spec.options.items():
        name = key if key.startswith("kafka.") or key.lower() in SPARK_ONLY_OPTIONS else f"kafka.{key}"
        extra[name] = value
    out.update(_values(extra, redact))
    return out


class KafkaReader(SourceReader):
    def describe(self, source: "KafkaSourcePlan", profile: str, redact: bool) -> ReadDescription:
        from kappa.engines.spark.datasources.readers import FORMATS

        return ReadDescription(FORMATS[("kafka", profile)], kafka_options(source, redact, not source.streaming), None, schema_ddl(source.schema))

    def describe_extra(self, source: "KafkaSourcePlan") -> dict[str, Any]:
        return {"value_format": source.value_format}

    def build_stream(self, spark: "SparkSession", source: "KafkaSourcePlan", profile: str, checkpoint_location: str | None) -> "DataFrame":
        from kappa.engines.spark.datasources.readers import FORMATS

        options = {**kafka_options(source), **_initial_option(profile, checkpoint_location), **_decode_option(source, profile)}
        return spark.readStream.format(FORMATS[("kafka", profile)]).options(**options).load()

    def read_static(self, spark: "SparkSession", source: "KafkaSourcePlan", profile: str, memory: Mapping[str, Any], decode: bool) -> "DataFrame":
        from kappa.engines.spark.datasources.readers import FORMATS

        options = {**kafka_options(source, batch=True), **(_decode_option(source, profile) if decode else {})}
        return spark.read.format(FORMATS[("kafka", profile)]).options(**options).load()

    def decode(self, spark: "SparkSession", frame: "DataFrame", source: "KafkaSourcePlan", state_dir: str) -> "Decoded | None":
        if source.value_format == "raw":
            return None
        from kappa.engines.spark.decode import decode_kafka_frame

        return decode_kafka_frame(spark, frame, source, state_dir)

    lag_profiles = ("python", "jvm")

    def lag(self, source: "KafkaSourcePlan", committed: Any) -> dict[str, Any]:
        from kappa.engines.spark.lag import kafka_lag, kafka_offsets
        from kappa.kafka.client import kafka_conf
        from kappa.kafka.data_loss import find_gaps
        from kappa.kafka.offsets import list_partitions, log_bounds

        conf = kafka_conf(source)
        bounds = log_bounds(conf, list_partitions(conf, source.topics))
        ends = {tp: end for tp, (_low, end) in bounds.items()}
        done = kafka_offsets(committed) if committed is not None else {}
        starts = {tp: low for tp, (low, _end) in bounds.items() if tp not in done}
        loss = tuple(g.describe() for g in find_gaps(done, bounds))
        return {"end_offsets": ends, "lag": kafka_lag(done, ends, starts), "data_loss": loss}

    def state(self, source: "KafkaSourcePlan") -> Any:
        from kappa.kafka.client import kafka_conf
        from kappa.kafka.offsets import end_offsets, list_partitions

        conf = kafka_conf(source)
        ends = end_offsets(conf, list_partitions(conf, source.topics))
        return sorted([t, p, o] for (t, p), o in ends.items())


def kafka_sink_frame(df: "DataFrame", spec: Any) -> "DataFrame":
    """The ``key``/``value`` DataFrame Spark's Kafka sink writes (jvm profile)."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import BinaryType, StringType

    if spec.value is None:
        value = F.to_json(F.struct(*[F.col(c) for c in df.columns]))
    else:
        dtype = df.schema[spec.value].dataType
        value = F.col(spec.value) if isinstance(dtype, (StringType, BinaryType)) else F.to_json(F.col(spec.value))
    cols = [value.alias("value")]
    if spec.key is not None:
        cols.insert(0, F.col(spec.key).cast("string").alias("key"))
    return df.select(*cols)


def jvm_kafka_writer_options(spec: Any) -> dict[str, str]:
    """Options of Spark's Kafka sink for a Kafka sink plan (secrets resolved)."""
    opts = {"kafka.bootstrap.servers": spec.bootstrap_servers, "topic": spec.topic}
    extra = {(k if k.startswith("kafka.") else f"kafka.{k}"): v for k, v in spec.options.items()}
    opts.update(_values(extra, False))
    return opts


class KafkaWriter(SinkWriter):
    def describe(self, sink: "KafkaSinkPlan", profile: str) -> dict[str, Any]:
        out: dict[str, Any] = {"topic": sink.topic, "bootstrap_servers": sink.bootstrap_servers}
        out["writer"] = "format(kafka)" if profile == "jvm" else "kappa_kafka_sink (confluent-kafka producers on the executors)"
        if sink.key:
            out["key"] = sink.key
        if sink.value:
            out["value"] = sink.value
        if sink.options:
            out["options"] = _values(sink.options, True)
        return out

    def write(self, sink: "KafkaSinkPlan", df: "DataFrame", batch_id: int, profile: str) -> int:
        if profile == "jvm":
            from kappa.engines.spark.datasources.sink_support import observed, observed_rows

            frame, obs = observed(kafka_sink_frame(df, sink))
            frame.write.format("kafka").options(**jvm_kafka_writer_options(sink)).save()
            return observed_rows(obs)
        from kappa.engines.spark.datasources.kafka_sink import write_kafka_frame

        return write_kafka_frame(df, sink)
