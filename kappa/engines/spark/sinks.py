"""Sinks of the Spark engine, written from ``foreachBatch``: executors write, the driver commits.

Every write is idempotent per ``(sink, batch id)`` as in the Polars engine, and its row count
comes from an observed metric of the write itself (no count job, no collection).

- Delta append/overwrite: ``python`` profile :func:`~kappa.engines.spark.datasources.delta_sink.write_delta_frame`
  (executors write Parquet, the driver commits every task's files in one Delta transaction
  carrying the app transaction ``(app_id, batch_id)``); ``jvm`` profile
  :func:`~kappa.engines.spark.delta_writer.jvm_delta_write` (``txnAppId``/``txnVersion``).
- Delta CDC merge: :func:`kappa.cdc.merge.apply_changes` (deltalake, both profiles: it keeps
  its own state table and app transaction, so the result is the Polars engine's exactly). This
  is the one driver-side write: the batch of changes is collected as Arrow for the MERGE. On
  the jvm profile, ``spark.kappa.cdc.jvmMerge=true`` opts into the distributed delta-spark MERGE
  instead (:mod:`kappa.engines.spark.jvm_merge_sink`; unverified against delta-spark here).
- Files: :func:`~kappa.engines.spark.datasources.file_sink.write_files_frame`, one executor task
  per batch running the Polars engine's writer (``part-<batch_id>.<ext>``), so files are identical.
- Kafka: ``python`` produces from the executors with confluent-kafka
  (:func:`~kappa.engines.spark.datasources.kafka_sink.write_kafka_frame`); ``jvm`` uses
  ``format("kafka")``. At least once, as in the Polars engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kappa.errors import KappaError

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame

    from kappa.plan import SinkPlan


def delta_schema_mode(schema_mode: str, mode: str) -> str | None:
    """deltalake ``schema_mode`` of a sink (the Polars engine's mapping)."""
    if schema_mode == "strict":
        return None
    if schema_mode == "overwrite" and mode == "overwrite":
        return "overwrite"
    return "merge"


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
    from kappa.engines.spark.sources import _values

    opts = {"kafka.bootstrap.servers": spec.bootstrap_servers, "topic": spec.topic}
    extra = {(k if k.startswith("kafka.") else f"kafka.{k}"): v for k, v in spec.options.items()}
    opts.update(_values(extra, False))
    return opts


def write_sink(sink: "SinkPlan", df: "DataFrame", batch_id: int, profile: str) -> int:
    """Write one micro-batch to one sink; returns the rows written (0 when skipped as a replay)."""
    from kappa.plan_kinds import resolve_secrets

    if sink.kind == "delta":
        if sink.mode == "merge":
            from kappa.engines.spark import jvm_merge_sink

            so = resolve_secrets(sink.storage_options) or None
            if jvm_merge_sink.enabled(df.sparkSession, profile):  # opt-in distributed MERGE (its module doc)
                return jvm_merge_sink.jvm_merge_write(df, sink.path, sink.merge, sink.app_id, batch_id, so)
            from kappa.cdc.merge import apply_changes

            table = df.toArrow()  # the documented driver-side write (see the module doc)
            stats = apply_changes(sink.path, table, sink.merge, app_id=sink.app_id, version=batch_id, storage_options=so)
            return 0 if getattr(stats, "skipped_duplicate_batch", False) else table.num_rows
        if profile == "jvm":
            from kappa.engines.spark.delta_writer import jvm_delta_write

            from kappa.engines.spark.datasources.sink_support import observed, observed_rows

            frame, obs = observed(df)
            jvm_delta_write(frame, batch_id, sink.path, sink.mode, sink.app_id, list(sink.partition_by) or None, sink.schema_mode != "strict")
            return observed_rows(obs)
        from kappa.engines.spark.datasources.delta_sink import write_delta_frame

        return write_delta_frame(
            df,
            table_uri=sink.path,
            mode=sink.mode,
            app_id=sink.app_id,
            batch_id=batch_id,
            partition_by=list(sink.partition_by) or None,
            storage_options=dict(sink.storage_options) or None,
            schema_mode=delta_schema_mode(sink.schema_mode, sink.mode),
        )
    if sink.kind == "file":
        from kappa.engines.spark.datasources.file_sink import write_files_frame

        return write_files_frame(df, sink.path, sink.format, sink.mode, batch_id)
    if sink.kind == "kafka":
        if profile == "jvm":
            from kappa.engines.spark.datasources.sink_support import observed, observed_rows

            frame, obs = observed(kafka_sink_frame(df, sink))
            frame.write.format("kafka").options(**jvm_kafka_writer_options(sink)).save()
            return observed_rows(obs)
        from kappa.engines.spark.datasources.kafka_sink import write_kafka_frame

        return write_kafka_frame(df, sink)
    raise KappaError(f"unknown sink kind {sink.kind}")


def write_dead_letters(path: str, dead: "DataFrame", app_id: str, batch_id: int, profile: str = "python") -> int:
    """Undecodable records, appended idempotently to a Delta table (both profiles: kappa's
    executor-side Delta writer, so the table is the Polars engine's exactly)."""
    from kappa.engines.spark.datasources.delta_sink import write_delta_frame

    return write_delta_frame(dead, table_uri=path, mode="append", app_id=app_id, batch_id=batch_id, create_empty=False)
