"""Compile a :class:`~kappa.plan.PipelinePlan` into Structured Streaming queries, one per node.

Each node becomes one query: its source as a stream (Kafka, Delta, files; or, for a node that
re-reads its whole source on every run, a stream of run requests, see
:mod:`kappa.engines.spark.ticks`), written with ``foreachBatch`` by a
:class:`~kappa.engines.spark.batch.NodeBatchFunction` that runs the steps, the expectations and
every sink on each micro-batch. A stateful node (``NodePlan.state``) runs its steps in the
streaming plan instead, with its output mode, and its batch function only checks and writes
(:mod:`kappa.engines.spark.stateful`). The checkpoint is ``<node checkpoint>/spark``.

Compiling touches no data: the reader is built when the query starts, so a node can be
compiled (and explained) before its upstream tables exist.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kappa.engines.spark.metrics import NodeMetrics
from kappa.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.streaming import StreamingQuery

    from kappa.checkpoint.query import QueryDescription
    from kappa.engines.spark.decode import Decoded
    from kappa.plan_kinds import TriggerPlan
    from kappa.plan import NodePlan, PipelinePlan, SinkPlan, SourcePlan


def trigger_kwargs(trigger: "TriggerPlan") -> dict[str, Any]:
    """``DataStreamWriter.trigger`` keyword arguments of a trigger."""
    if trigger.kind == "available_now":
        return {"availableNow": True}
    if trigger.kind == "once":
        return {"once": True}
    if trigger.kind == "processing_time":
        return {"processingTime": trigger.interval}
    raise ConfigError(f"unknown trigger {trigger.kind!r}")


def reads_per_run(node: "NodePlan") -> bool:
    """True when the node re-reads its whole source on every run (not an incremental stream)."""
    return not node.streaming


def keeps_output(node: "NodePlan") -> bool:
    """True when the node has no Delta/file output sink: downstream nodes read it from memory."""
    return node.in_memory_output


# ---------------------------------------------------------------- description
def sink_description(sink: "SinkPlan", profile: str) -> dict[str, Any]:
    """A sink as ``kappa explain`` shows it (secrets redacted; the kind's entries: its writer)."""
    from kappa.engines.spark.connectors import sink_writer

    out: dict[str, Any] = {"index": sink.index, "kind": sink.kind, "mode": sink.mode, "quarantine": sink.quarantine}
    out.update(sink_writer(sink).describe(sink, profile))
    return out


def describe_source(source: "SourcePlan | None", profile: str, redact: bool = True) -> dict[str, Any]:
    """The ``source`` entry of a compiled node's description (the kind's reader describes it)."""
    from kappa.engines.spark.connectors import source_reader

    if source is None:
        return {"kind": "none", "format": None, "options": {}, "schema": None, "path": None, "streaming": False}
    reader = source_reader(source)
    out = {"kind": source.kind, **reader.describe(source, profile, redact).as_dict(), "streaming": source.streaming}
    if source.upstream:
        out["upstream"] = source.upstream
    out.update(reader.describe_extra(source))
    return out


def describe_query(plan: "PipelinePlan", node: "NodePlan", profile: str, checkpoint: str) -> "QueryDescription":
    """The description of a node's compiled query (secrets redacted)."""
    from kappa.checkpoint.query import QueryDescription, node_parts

    source = describe_source(node.source, profile)
    source["read"] = "per_run" if reads_per_run(node) else "stream"
    return QueryDescription(
        node=node.name,
        profile=profile,
        source=source,
        sinks=tuple(sink_description(s, profile) for s in node.sinks),
        checkpoint=checkpoint,
        **node_parts(node),
    )


def describe_node(plan: "PipelinePlan", node: "NodePlan", profile: str, checkpoint: str) -> dict[str, Any]:
    """The JSON-serialisable description of a node's query (secrets redacted)."""
    return describe_query(plan, node, profile, checkpoint).as_dict()


# ---------------------------------------------------------------- compiled node
@dataclass(eq=False)
class CompiledNode:
    """One node's streaming query, ready to start."""

    node: "NodePlan"
    profile: str
    checkpoint_location: str
    description: dict[str, Any]
    metrics: NodeMetrics
    plan: "PipelinePlan"
    spark: "SparkSession"
    memory: dict[str, Any] = field(default_factory=dict)
    #: Spark Connect only: the temp views a stateful plan names, dropped once the query started.
    pending_views: list[str] = field(default_factory=list)

    @property
    def query_name(self) -> str:
        """The query's name (unique per pipeline and node)."""
        import re

        return re.sub(r"[^A-Za-z0-9_]", "_", f"kappa_{self.plan.pipeline}_{self.node.name}")

    @property
    def reads_per_run(self) -> bool:
        return reads_per_run(self.node)

    @property
    def connect(self) -> bool:
        """True when the session is a Spark Connect one (the batch function runs on the server)."""
        from kappa.engines.spark.batch_log import is_connect

        return is_connect(self.spark)

    def batch_function(self):
        """The ``foreachBatch`` callable of this node.

        Under Spark Connect it holds only picklable plain data (no metrics, no session, no
        in-memory outputs) and writes a record per batch into the checkpoint instead."""
        from kappa.engines.spark.batch import NodeBatchFunction

        done = self.stateful
        if self.connect:
            reader = InputReader(self.node, self.profile, {})
            return NodeBatchFunction(self.plan, self.node, self.profile, None, reader, {}, False, record_to=self.checkpoint_location,
                                     transformed=done)
        return NodeBatchFunction(self.plan, self.node, self.profile, self.metrics, self._read_input, self.memory, keeps_output(self.node),
                                 transformed=done)

    @property
    def stateful(self) -> bool:
        """True when the node's steps run in Spark's streaming plan (:mod:`kappa.engines.spark.stateful`)."""
        from kappa.engines.spark.stateful import in_stream

        return not self.reads_per_run and in_stream(self.node)

    def batch_log(self):
        """Under Spark Connect: the reader of this node's batch records (None otherwise)."""
        from kappa.engines.spark.batch_log import BatchLog

        return BatchLog(self.checkpoint_location, self.metrics) if self.connect else None

    def _read_input(self, spark: "SparkSession", batch_df: "DataFrame", release: list) -> tuple["DataFrame", "Decoded | None"]:
        """The node's input of one micro-batch and its dead letters (Kafka values decoded on the
        executors); what the decoder persisted is appended to ``release``."""
        return InputReader(self.node, self.profile, self.memory)(spark, batch_df, release)

    def input_stream(self) -> "DataFrame":
        """The streaming DataFrame the query consumes (raises SourceNotReady before its table exists)."""
        from kappa.engines.spark.connectors import source_reader
        from kappa.engines.spark.ticks import tick_stream

        if self.reads_per_run:
            return tick_stream(self.spark, self.node)
        source = self.node.source
        return source_reader(source).build_stream(self.spark, source, self.profile, self.checkpoint_location)

    def request_run(self) -> bool:
        """For a node that re-reads its source per run: ask for a run if the input changed."""
        from kappa.engines.spark.ticks import request_run

        return request_run(self.node) if self.reads_per_run else True

    def output_stream(self) -> "DataFrame":
        """What ``foreachBatch`` receives: the input stream, or a stateful node's steps applied to it."""
        stream = self.input_stream()
        if not self.stateful:
            return stream
        from kappa.engines.spark import stateful_kafka
        from kappa.engines.spark.stateful import stateful_stream

        if stateful_kafka.applies(self.node):  # decoded in the plan, undecodable records filtered out
            stream = stateful_kafka.good_rows(stream, self.node.source)
        return stateful_stream(self.spark, self.node, stream, self.profile, self.memory, self.pending_views if self.connect else None)

    def stream_writer(self, trigger: "TriggerPlan", function: Any) -> Any:
        """The query's ``DataStreamWriter``: ``function`` per micro-batch, the node's output mode."""
        if self.reads_per_run:
            self.request_run()
        writer = (
            self.output_stream()
            .writeStream.queryName(self.query_name)
            .option("checkpointLocation", self.checkpoint_location)
            .foreachBatch(function)
            .trigger(**trigger_kwargs(trigger))
        )
        return writer.outputMode(self.node.state.output_mode) if self.stateful else writer

    def start_writer(self, writer: Any) -> "StreamingQuery":
        """Start ``writer`` (from :meth:`stream_writer`); then drop the views its plan named
        (Spark Connect resolves the plan at ``start()``). A stateful query starts with its state
        partitions (:func:`~kappa.engines.spark.stateful.starting_conf`)."""
        from contextlib import nullcontext

        from kappa.engines.spark.stateful import drop_views, starting_conf

        try:
            with starting_conf(self.spark) if self.stateful and not self.connect else nullcontext():
                return writer.start()
        finally:
            drop_views(self.spark, self.pending_views)

    def start(self, trigger_override: "TriggerPlan | None" = None) -> "StreamingQuery":
        """Start the query (with the node's trigger unless overridden)."""
        return self.start_writer(self.stream_writer(trigger_override or self.node.trigger, self.batch_function()))


@dataclass(frozen=True, eq=False)
class InputReader:
    """Turns a micro-batch into a node's input (plain data: picklable for Spark Connect)."""

    node: "NodePlan"
    profile: str
    memory: dict[str, Any]

    def __call__(self, spark: "SparkSession", batch_df: "DataFrame", release: list) -> tuple["DataFrame", "Decoded | None"]:
        from kappa.engines.spark.connectors import source_reader
        from kappa.engines.spark.stateful import in_stream

        source = self.node.source
        if source is None and reads_per_run(self.node):
            return spark.range(0).drop("id"), None
        reader = source_reader(source) if source is not None else None
        if in_stream(self.node) and not reads_per_run(self.node):  # the stateful plan's output: decoded before the steps (stateful_kafka)
            return batch_df, None
        if reads_per_run(self.node):
            frame = reader.read_static(spark, source, self.profile, self.memory, decode=True)
        else:
            frame = batch_df
        decoded = reader.decode(spark, frame, source, self.node.layout.state_dir) if reader is not None else None
        if decoded is not None:
            release.append(decoded)
            return decoded.rows, decoded
        return frame, None


def refuse_for_connect(nodes: Any) -> None:
    """Under Spark Connect, refuse (before anything starts) a node whose output lives only in
    the driver's memory, or that reads such an output: the batch function runs in a server
    worker, whose DataFrames the client and the other nodes' workers cannot see."""
    from kappa.engines.spark.batch_log import ConnectRefused
    from kappa.engines.spark.connectors import source_reader

    for node in nodes:
        if node.skipped:
            continue
        if keeps_output(node):
            raise ConnectRefused(
                f"node {node.name!r} has no Delta or file sink: its output would be kept in memory for "
                "downstream nodes, which Spark Connect cannot do (the batch runs in a server worker); "
                "give it a Delta sink, or run without spark.remote/SPARK_REMOTE"
            )
        for src in [node.source, *node.ref_sources.values()]:
            if src is not None and source_reader(src).in_memory:
                raise ConnectRefused(
                    f"node {node.name!r} reads node {src.upstream!r} from memory, which Spark Connect cannot do; "
                    f"give {src.upstream!r} a Delta sink, or run without spark.remote/SPARK_REMOTE"
                )


def compile_node(spark: "SparkSession", plan: "PipelinePlan", node: "NodePlan", profile: str, memory: dict[str, Any] | None = None) -> CompiledNode:
    """Compile one node of ``plan`` for connector ``profile`` (``jvm`` or ``python``)."""
    if profile not in ("jvm", "python"):
        raise ConfigError(f"unknown Spark connector profile {profile!r}; use jvm or python")
    checkpoint = node.layout.spark
    return CompiledNode(
        node=node,
        profile=profile,
        checkpoint_location=checkpoint,
        description=describe_node(plan, node, profile, checkpoint),
        metrics=NodeMetrics(node.name),
        plan=plan,
        spark=spark,
        memory={} if memory is None else memory,
    )


def compile_plan(spark: "SparkSession", plan: "PipelinePlan", profile: str) -> list[CompiledNode]:
    """Every selected node of ``plan``, in topological order (they share one in-memory store);
    sinks' app ids carry the engine (:meth:`~kappa.plan.PipelinePlan.for_engine`)."""
    memory: dict[str, Any] = {}
    plan = plan.for_engine("spark")
    return [compile_node(spark, plan, node, profile, memory) for node in plan.nodes]
