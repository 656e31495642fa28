"""Sinks of the Spark engine, written from ``foreachBatch``; every write is idempotent per
``(sink, batch id)`` as in the Polars engine.

- Delta append/overwrite: ``python`` profile :class:`~kappa.engines.spark.delta_writer.DeltaBatchWriter`
  (deltalake, app transaction ``(app_id, batch_id)``); ``jvm`` profile
  :func:`~kappa.engines.spark.delta_writer.jvm_delta_write` (``txnAppId``/``txnVersion``).
- Delta CDC merge: :func:`kappa.cdc.merge.apply_changes` (deltalake, both profiles: it keeps
  its own state table and app transaction, so the result is the Polars engine's exactly).
- Files: the Polars engine's writer (``part-<batch_id>.<ext>``), so files are identical.
- Kafka: ``python`` produces from Arrow with confluent-kafka; ``jvm`` uses ``format("kafka")``.
  At least once, as in the Polars engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kappa.errors import KappaError

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa
    from pyspark.sql import DataFrame

    from kappa.plan import SinkPlan


def delta_schema_mode(schema_mode: str, mode: str) -> str | None:
    """deltalake ``schema_mode`` of a sink (the Polars engine's mapping)."""
    if schema_mode == "strict":
        return None
    if schema_mode == "overwrite" and mode == "overwrite":
        return "overwrite"
    return "merge"


def delta_writer(sink: "SinkPlan"):
    """The python profile's writer of a Delta append/overwrite sink."""
    from kappa.config.variables import resolve_secret_refs
    from kappa.engines.spark.delta_writer import DeltaBatchWriter

    spec = sink.spec
    return DeltaBatchWriter(
        table_uri=sink.path,
        mode=sink.mode,
        app_id=sink.app_id,
        partition_by=list(spec.partition_by) or None,
        storage_options=resolve_secret_refs(spec.storage_options) or None,
        schema_mode=delta_schema_mode(spec.schema_mode, sink.mode),
    )


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
    """Options of Spark's Kafka sink for a Kafka sink spec (secrets resolved)."""
    from kappa.engines.spark.sources import _values

    opts = {"kafka.bootstrap.servers": spec.bootstrap_servers, "topic": spec.topic}
    extra = {(k if k.startswith("kafka.") else f"kafka.{k}"): v for k, v in spec.options.items()}
    opts.update(_values(extra, False))
    return opts


def _produce_arrow(spec: Any, table: "pa.Table") -> int:
    from kappa.kafka.client import kafka_conf
    from kappa.kafka.writer import produce_rows

    return produce_rows(kafka_conf(spec), spec.topic, table, key_column=spec.key, value_column=spec.value)


def write_sink(sink: "SinkPlan", df: "DataFrame", batch_id: int, profile: str, table: "pa.Table | None" = None) -> int:
    """Write one micro-batch to one sink; returns the rows written (0 when skipped as a replay).

    ``table`` is the micro-batch already collected as Arrow (the python profile collects a
    node's output once for all its sinks); without it the sink collects ``df`` itself."""
    spec = sink.spec

    def arrow() -> "pa.Table":
        return table if table is not None else df.toArrow()

    if sink.kind == "delta":
        if sink.mode == "merge":
            from kappa.cdc.merge import apply_changes
            from kappa.config.variables import resolve_secret_refs

            table = arrow()  # apply_changes normalises it (keeping all-null columns)
            stats = apply_changes(sink.path, table, spec.merge, app_id=sink.app_id, version=batch_id, storage_options=resolve_secret_refs(spec.storage_options) or None)
            return 0 if getattr(stats, "skipped_duplicate_batch", False) else table.num_rows
        if profile == "jvm":
            from kappa.engines.spark.delta_writer import jvm_delta_write

            jvm_delta_write(df, batch_id, sink.path, sink.mode, sink.app_id, list(spec.partition_by) or None, spec.schema_mode != "strict")
            return df.count()
        table = arrow()
        return table.num_rows if delta_writer(sink).write_arrow(table, batch_id) else 0
    if sink.kind == "file":
        import polars as pl

        from kappa.files import write_files

        table = arrow()
        write_files(sink.path, pl.from_arrow(table), spec.format, sink.mode, batch_id)
        return table.num_rows
    if sink.kind == "kafka":
        if profile == "jvm":
            frame = kafka_sink_frame(df, spec)
            frame.write.format("kafka").options(**jvm_kafka_writer_options(spec)).save()
            return frame.count()
        return _produce_arrow(spec, arrow())
    raise KappaError(f"unknown sink kind {sink.kind}")


def write_dead_letters(path: str, table: "pa.Table", app_id: str, batch_id: int) -> int:
    """Undecodable records, appended idempotently to a Delta table (both profiles: deltalake)."""
    from kappa.engines.spark.delta_writer import DeltaBatchWriter

    return table.num_rows if DeltaBatchWriter(path, "append", app_id).write_arrow(table, batch_id) else 0
