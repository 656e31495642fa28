"""The ``foreachBatch`` function: one node's micro-batch, planned on the driver, run on the executors.

For each micro-batch of a node's query, in this order (the Polars engine's order):

1. the input: Kafka values decoded on the executors by :func:`kappa.engines.spark.decode.decode_kafka_frame`
   (``mapInArrow`` over kappa's own decoder, the very function the Polars engine uses, so rows
   and dead letters are identical), or, for a node that re-reads its source on every run, the
   whole source read as a batch;
2. the transformer steps (SQL on a temp view of the batch, ``{nodes.x}`` read as static
   tables; method steps through narwhals), which only extend the batch's plan -- except for a
   stateful node, whose steps already ran in the streaming plan
   (:mod:`kappa.engines.spark.stateful`): the batch is their output;
3. the expectations (:func:`kappa.quality.spark_eval.check_batch`): flag columns of the same
   plan, counted by Spark's observed metrics; a ``fail`` expectation stops the batch before any
   write;
4. every sink (:mod:`kappa.engines.spark.connectors`), then the dead letters: executors write, the
   driver commits; each write is idempotent per ``(sink, batch_id)``, so a batch Spark replays
   after a crash writes nothing twice (which of the writes comes first changes no table). The
   dead letters come last because a frame decoded in the Kafka reader counts them while the
   sinks read the rows: a batch without any writes none and reads Kafka once
   (:meth:`kappa.engines.spark.decode.Decoded.dead_to_write`).

Nothing here brings the batch's rows to the driver: the driver only builds plans, reads observed
metrics and commits (the python profile's CDC MERGE is the one documented exception,
:mod:`kappa.engines.spark.connectors.merge`). What several writes read is persisted on the executors for the
batch and released at its end.

An error is recorded on the node's metrics and re-raised: the query stops with it and no
commit is written, so the batch is re-run on the next start.

Under Spark Connect the function is pickled to a Python worker of the server: it then carries
only plain data (plan, node, profile, checkpoint path; no metrics, no session, no DataFrames),
uses ``batch_df.sparkSession``, and writes its counts or its error as a per-batch record in the
checkpoint (``record_to``, :mod:`kappa.engines.spark.batch_log`) for the client to read.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import TYPE_CHECKING, Any, Callable

from kappa.faults import failpoint

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession

    from kappa.engines.spark.decode import Decoded
    from kappa.engines.spark.metrics import NodeMetrics
    from kappa.plan import NodePlan, PipelinePlan


def _view_name(prefix: str, node: str) -> str:
    return f"__kappa_{prefix}_{re.sub(r'[^A-Za-z0-9_]', '_', node)}_{uuid.uuid4().hex[:8]}"


def transform(spark: "SparkSession", node: "NodePlan", frame: "DataFrame", refs: dict[str, "DataFrame"], views: list[str],
              native: "dict[int, Callable[[DataFrame], DataFrame]] | None" = None) -> "DataFrame":
    """Apply the node's steps in order: SQL through ``spark.sql`` over temp views, methods via
    narwhals. The temp views created are appended to ``views`` (the caller drops them once the
    batch is written: the result reads them lazily). ``native`` replaces the method steps of
    those indices by Spark operators (a stateful node's streaming plan,
    :func:`kappa.engines.spark.stateful.native_steps`)."""
    from kappa.sql.refs import render
    from kappa.transform.methods import apply_method

    ref_views = {}
    for ref in node.sql_refs:
        ref_views[ref] = _view_name("node", ref)
        refs[ref].createOrReplaceTempView(ref_views[ref])
        views.append(ref_views[ref])
    for index, step in enumerate(node.steps):
        if native and index in native:
            frame = native[index](frame)
        elif step.kind == "sql":
            name = _view_name("df", node.name)
            frame.createOrReplaceTempView(name)
            views.append(name)
            frame = spark.sql(render(step.sql, name, ref_views))
        else:
            frame = apply_method(frame, step.func_name, step.func_args, step.func_kwargs)
    return frame


class NodeBatchFunction:
    """The callable handed to ``foreachBatch`` for one node.

    ``read_input(spark, batch_df, release) -> (frame, decoded)`` turns the micro-batch into
    the node's input (decoding Kafka, or reading a whole source for run-per-trigger nodes); it
    appends to ``release`` what must be let go of once the batch is written. ``memory`` receives
    the node's last output (a DataFrame checkpointed on the executors) when ``keep_output`` is
    set, for downstream nodes that read a node without sinks. ``metrics`` is None under Spark
    Connect; ``record_to`` (a Spark checkpoint folder) makes every batch write its record there.
    ``transformed``: the micro-batch is already the steps' output (a stateful node).
    """

    def __init__(
        self,
        plan: "PipelinePlan",
        node: "NodePlan",
        profile: str,
        metrics: "NodeMetrics | None",
        read_input: Callable[["SparkSession", "DataFrame", list], tuple["DataFrame", "Decoded | None"]],
        memory: dict[str, Any],
        keep_output: bool = False,
        record_to: str | None = None,
        transformed: bool = False,
    ):
        self.plan, self.node, self.profile, self.metrics = plan, node, profile, metrics
        self.read_input = read_input
        self.memory = memory
        self.keep_output = keep_output
        self.record_to = record_to
        self.transformed = transformed

    def __call__(self, batch_df: "DataFrame", batch_id: int) -> None:
        import time

        batch_id = int(batch_id)
        started = time.perf_counter()
        try:
            self.run(batch_df, batch_id)
            if self.metrics is not None:  # the node's own time: what its batches took
                self.metrics.add_seconds(time.perf_counter() - started)
        except BaseException as exc:
            if self.metrics is not None:
                self.metrics.record_error(batch_id, exc)
            if self.record_to is not None:
                from kappa.engines.spark.batch_log import write_record

                write_record(self.record_to, batch_id, error=exc)
            raise

    def _refs(self, spark: "SparkSession") -> dict[str, "DataFrame"]:
        from kappa.engines.spark.connectors import source_reader

        return {ref: source_reader(src).read_static(spark, src, self.profile, self.memory, False) for ref, src in self.node.ref_sources.items()}

    def _write_dead_letters(self, dead: "DataFrame", batch_id: int) -> int:
        from kappa.checkpoint.ownership import dead_letter_app_id, dead_letter_path
        from kappa.engines.spark.sinks import write_dead_letters

        path = dead_letter_path(self.node, self.plan.root)
        app_id = dead_letter_app_id("spark", self.plan.pipeline, self.node.name)
        return self._guarded("dead letters", path, lambda: write_dead_letters(path, dead, app_id, batch_id, self.profile,
                                                                                  self.plan.table_storage(path)))

    def _stateful_dead_letters(self, spark: "SparkSession", batch_id: int) -> "DataFrame | None":
        """A stateful Kafka node's dead letters of this batch, read again from its offset range
        (:mod:`kappa.engines.spark.stateful_kafka`); None for any other node."""
        from kappa.engines.spark import stateful_kafka

        if not self.transformed or not stateful_kafka.applies(self.node):
            return None
        return stateful_kafka.dead_letters(spark, self.node, self.profile, self.node.layout.spark, batch_id)

    def _guarded(self, where: str, path: str | None, write: Callable[[], int], delta: bool = True) -> int:
        """Run a write; a failure of a Delta table becomes one line naming ``where`` and the table."""
        from kappa.delta.arrow import DeltaWriteError
        from kappa.delta.writer import delta_failures, sink_write_error
        from kappa.errors import KappaError

        try:
            return write()
        except DeltaWriteError as exc:
            raise sink_write_error(where, path, exc) from exc
        except KappaError:
            raise
        except delta_failures() as exc:
            if not delta or self.profile != "python" or _is_spark_error(exc):
                raise
            raise sink_write_error(where, path, exc) from exc

    def run(self, batch_df: "DataFrame", batch_id: int) -> None:
        """Read, transform, check and write one micro-batch."""
        from kappa.engines.spark.connectors import sink_writer
        from kappa.quality.spark_eval import check_batch

        started = time.time()
        spark = batch_df.sparkSession
        views: list[str] = []
        release: list[Any] = []
        try:
            frame, decoded = self.read_input(spark, batch_df, release)
            read_obs = None
            counted = not self.node.steps or (not self.transformed and not _pruned_read(self.node))
            if not self.transformed and self.node.steps and counted:
                frame, read_obs = _observe_read(frame)
                counted = read_obs is not None  # Spark Connect: not counted
            if not self.transformed:
                frame = transform(spark, self.node, frame, self._refs(spark), views)
            expectations = list(self.node.expectations)
            readers = len(self.node.sinks) + (1 if self.keep_output else 0)
            # Without expectations the counts ride on the first write. The frame is persisted on
            # the executors when more than one write reads it, and materialised by all tasks
            # before a file sink (one task writes a batch's file: the work before it stays spread).
            file_sink = any(sink_writer(s).single_task for s in self.node.sinks)
            persist = readers > 1 or bool(expectations) or file_sink
            checked = check_batch(frame, expectations, self.node.name, lazy_counts=not expectations and not file_sink, persist=persist)
            release.append(checked)
            sink_rows: dict[str, int] = {}
            for sink in self.node.sinks:
                df = checked.quarantine if sink.quarantine else checked.output
                if df is None:
                    continue
                key = f"sink{sink.index}" + (" (quarantine)" if sink.quarantine else "")
                where = f"sink {sink.index}" + (" (quarantine)" if sink.quarantine else "")
                writer = sink_writer(sink)
                sink_rows[key] = sink_rows.get(key, 0) + self._guarded(
                    where, sink.path, lambda w=writer, s=sink, d=df: w.write(s, d, batch_id, self.profile), delta=writer.delta_table
                )
                failpoint("after_sink")
            if self.keep_output:
                # kept on the executors (Spark's cleaner drops the previous one once unreferenced)
                self.memory[self.node.name] = checked.output.localCheckpoint(eager=True)
            dead = decoded.dead_to_write() if decoded is not None else self._stateful_dead_letters(spark, batch_id)
            dead_rows = self._write_dead_letters(dead, batch_id) if dead is not None else 0
            failpoint("before_commit")
            if self.metrics is not None:
                removed = (_read_rows(read_obs) - checked.counts.input_rows) if read_obs is not None else (0 if counted else None)
                self.metrics.record_batch(batch_id, checked.counts, dead_rows, sink_rows, removed, started)
            if self.record_to is not None:  # Spark Connect: the client reads it once committed
                from kappa.engines.spark.batch_log import write_record

                write_record(self.record_to, batch_id, checked.counts, dead_rows, sink_rows, started=started)
        finally:
            for item in reversed(release):
                item.release()
            for view in views:
                spark.catalog.dropTempView(view)


def _pruned_read(node: "NodePlan") -> bool:
    """True for a whole Delta table or Parquet/ORC files read on every run: Spark pushes the
    steps' filters into that scan (partition and row-group pruning), which an observed count
    between the two would prevent; such a node's removed rows are not counted."""
    src = node.source
    if src is None or node.streaming:
        return False
    return src.kind == "delta" or (src.kind == "file" and str(getattr(src, "format", "")).lower() in ("parquet", "orc"))


def _observe_read(frame: "DataFrame") -> "tuple[DataFrame, Any]":
    """``frame`` with an Observation counting its rows (what the steps get), on classic Spark:
    the writes that run the batch fill it, nothing is collected (Spark Connect: no count)."""
    if getattr(frame, "_jdf", None) is None:
        return frame, None
    from pyspark.sql import Observation
    from pyspark.sql import functions as F

    obs = Observation()
    return frame.observe(obs, F.count(F.lit(1)).alias("n")), obs


def _read_rows(obs: Any) -> int:
    """The rows an :func:`_observe_read` Observation counted (0 when no job read the batch)."""
    from kappa.quality.spark_eval import observation_done

    return int(obs.get.get("n") or 0) if observation_done(obs) else 0


def _is_spark_error(exc: BaseException) -> bool:
    """True for an error Spark raised (a failed job): reported as the query's own error."""
    try:
        from pyspark.errors import PySparkException
    except ImportError:  # pragma: no cover
        return False
    return isinstance(exc, PySparkException) or type(exc).__module__.startswith("py4j")
