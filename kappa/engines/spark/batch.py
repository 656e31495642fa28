"""The ``foreachBatch`` function: one node's whole per-batch work on a micro-batch.

For each micro-batch of a node's query, in this order (the Polars engine's order):

1. the input: Kafka values decoded with :func:`kappa.kafka.decode.decode_json_values` (the
   very function the Polars engine uses, so rows and dead letters are identical), or, for a
   node that re-reads its source on every run, the whole source read as a batch;
2. the transformer steps (SQL on a temp view of the batch, ``{nodes.x}`` read as static
   tables; method steps through narwhals);
3. the expectations (:func:`kappa.quality.spark_eval.apply_expectations_spark`);
4. dead letters, then every sink (:mod:`kappa.engines.spark.sinks`), each write idempotent per
   ``(sink, batch_id)``, so a batch Spark replays after a crash writes nothing twice.

An error is recorded on the node's metrics and re-raised: the query stops with it and no
commit is written, so the batch is re-run on the next start.
"""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING, Any, Callable

from kappa.faults import failpoint

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession

    from kappa.engines.spark.metrics import NodeMetrics
    from kappa.plan import NodePlan, PipelinePlan


def _view_name(prefix: str, node: str) -> str:
    return f"__kappa_{prefix}_{re.sub(r'[^A-Za-z0-9_]', '_', node)}_{uuid.uuid4().hex[:8]}"


def decode_kafka(spark: "SparkSession", batch_df: "DataFrame", spec: Any, state_dir: str | None = None) -> tuple["DataFrame", "pa.Table | None"]:
    """Decode a Kafka micro-batch's ``value`` as the Polars engine does (the same function, the
    same ``state_dir``: the node's checkpoint folder); returns rows and dead letters."""
    if spec.value_format == "raw":
        return batch_df, None
    records = batch_df.toArrow()
    if spec.value_format == "json":
        from kappa.kafka.decode import decode_json_source

        records, dead = decode_json_source(records, spec, state_dir)
    else:
        from kappa.cdc.debezium import decode_debezium

        decoded = decode_debezium(records)
        records, dead = decoded.changes, decoded.dead_letters
    if dead is not None and dead.num_rows == 0:
        dead = None
    return arrow_frame(spark, records), dead


def arrow_frame(spark: "SparkSession", table: "pa.Table") -> "DataFrame":
    """A Spark DataFrame of an Arrow table (types as delta-spark would store them).

    A ``null``-typed column (all null in this batch, types taken from JSON values) stays a
    column of Spark's ``NullType``, as on Polars: a CDC MERGE must tell a null value from a
    missing column (:mod:`kappa.cdc.nulls`); Delta appends drop it as delta-spark does.
    """
    import pyarrow as pa

    from kappa.delta.arrow import normalize_arrow_table
    from kappa.engines.spark.sources import spark_schema_of_arrow

    names = table.column_names
    nulls = {f.name for f in table.schema if pa.types.is_null(f.type)}
    table = normalize_arrow_table(table)
    if table.num_rows == 0:
        frame = spark.createDataFrame([], spark_schema_of_arrow(table.schema))
    else:
        frame = spark.createDataFrame(table)
    if not nulls:
        return frame
    from pyspark.sql import functions as F

    return frame.select(*[F.lit(None).alias(n) if n in nulls else frame[n] for n in names])


def transform(spark: "SparkSession", node: "NodePlan", frame: "DataFrame", refs: dict[str, "DataFrame"], views: list[str]) -> "DataFrame":
    """Apply the node's steps in order: SQL through ``spark.sql`` over temp views, methods via
    narwhals. The temp views created are appended to ``views`` (the caller drops them once the
    batch is written: the result reads them lazily)."""
    from kappa.sql.refs import render
    from kappa.transform.methods import apply_method

    ref_views = {}
    for ref in node.sql_refs:
        ref_views[ref] = _view_name("node", ref)
        refs[ref].createOrReplaceTempView(ref_views[ref])
        views.append(ref_views[ref])
    for step in node.steps:
        if step.kind == "sql":
            name = _view_name("df", node.name)
            frame.createOrReplaceTempView(name)
            views.append(name)
            frame = spark.sql(render(step.sql, name, ref_views))
        else:
            frame = apply_method(frame, step.func_name, step.func_args, step.func_kwargs)
    return frame


class NodeBatchFunction:
    """The callable handed to ``foreachBatch`` for one node.

    ``read_input(spark, batch_df) -> (frame, dead_letters)`` turns the micro-batch into the
    node's input (decoding Kafka, or reading a whole source for run-per-trigger nodes).
    ``memory`` receives the node's last output (as Arrow) when ``keep_output`` is set, for
    downstream nodes that read a node without sinks.
    """

    def __init__(
        self,
        plan: "PipelinePlan",
        node: "NodePlan",
        profile: str,
        metrics: "NodeMetrics",
        read_input: Callable[["SparkSession", "DataFrame"], tuple["DataFrame", Any]],
        memory: dict[str, Any],
        keep_output: bool = False,
    ):
        self.plan, self.node, self.profile, self.metrics = plan, node, profile, metrics
        self.read_input = read_input
        self.memory = memory
        self.keep_output = keep_output

    def __call__(self, batch_df: "DataFrame", batch_id: int) -> None:
        batch_id = int(batch_id)
        try:
            self.run(batch_df, batch_id)
        except BaseException as exc:
            self.metrics.record_error(batch_id, exc)
            raise

    def _refs(self, spark: "SparkSession") -> dict[str, "DataFrame"]:
        from kappa.engines.spark.sources import read_static

        return {ref: read_static(spark, src, self.profile, self.memory) for ref, src in self.node.ref_sources.items()}

    def run(self, batch_df: "DataFrame", batch_id: int) -> None:
        """Read, transform, check and write one micro-batch."""
        from kappa.checkpoint.ownership import dead_letter_app_id, dead_letter_path
        from kappa.delta.arrow import DeltaWriteError
        from kappa.delta.writer import delta_failures, sink_write_error
        from kappa.errors import KappaError
        from kappa.engines.spark.sinks import write_dead_letters, write_sink
        from kappa.quality.result import QualityCounts
        from kappa.quality.spark_eval import apply_expectations_spark

        spark = batch_df.sparkSession
        views: list[str] = []
        cached = None
        try:
            frame, dead = self.read_input(spark, batch_df)
            frame = transform(spark, self.node, frame, self._refs(spark), views)
            arrow_out = arrow_q = None
            if not self.node.expectations and self.profile == "python":
                # one collection of the batch serves the counts and every sink
                output, quarantine = frame, None
                arrow_out = frame.toArrow()
                counts = QualityCounts(arrow_out.num_rows, arrow_out.num_rows, 0, 0, {})
            else:
                cached = frame.persist()
                output, quarantine, counts = apply_expectations_spark(cached, list(self.node.expectations), self.node.name)
                if self.profile == "python":
                    arrow_out = output.toArrow()
                    arrow_q = quarantine.toArrow() if quarantine is not None else None
            dead_rows = 0
            if dead is not None:
                path = dead_letter_path(self.node, self.plan.root)
                app_id = dead_letter_app_id("spark", self.plan.pipeline, self.node.name)
                try:
                    dead_rows = write_dead_letters(path, dead, app_id, batch_id)
                except (DeltaWriteError, *delta_failures()) as exc:
                    if isinstance(exc, KappaError) and not isinstance(exc, DeltaWriteError):
                        raise
                    raise sink_write_error("dead letters", path, exc) from exc
            sink_rows: dict[str, int] = {}
            for sink in self.node.sinks:
                df = quarantine if sink.quarantine else output
                if df is None:
                    continue
                key = f"sink{sink.index}" + (" (quarantine)" if sink.quarantine else "")
                table = arrow_q if sink.quarantine else arrow_out
                try:
                    sink_rows[key] = sink_rows.get(key, 0) + write_sink(sink, df, batch_id, self.profile, table)
                except (DeltaWriteError, *delta_failures()) as exc:
                    if sink.kind != "delta" or self.profile != "python" or (isinstance(exc, KappaError) and not isinstance(exc, DeltaWriteError)):
                        raise
                    where = f"sink {sink.index}" + (" (quarantine)" if sink.quarantine else "")
                    raise sink_write_error(where, sink.path, exc) from exc
                failpoint("after_sink")
            if self.keep_output and output is not None:
                self.memory[self.node.name] = arrow_out if arrow_out is not None else output.toArrow()
            failpoint("before_commit")
            self.metrics.record_batch(batch_id, counts, dead_rows, sink_rows)
        finally:
            if cached is not None:
                cached.unpersist()
            for view in views:
                spark.catalog.dropTempView(view)
