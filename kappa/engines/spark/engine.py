"""The Spark engine: ``kappa run`` -- every selected node as a trigger-once (availableNow) query.

Nodes run one after the other in topological order; each query processes everything its
source holds now (in as many micro-batches as its rate limits ask) and stops. A node whose
query fails stops the run with a :class:`SparkNodeError` naming the node; its checkpoint has
no commit for the failed batch, so the next run re-runs it (idempotent sinks write it once).

The caller (:mod:`kappa.runner`) holds the pipeline lock (:mod:`kappa.checkpoint.lock`) from
before the SparkSession starts; the engine, before any node runs, applies :func:`kappa.checkpoint.guard.prepare_run` (verdicts,
``--full-refresh``, engine ownership); sinks' app ids carry the engine (``kappa:spark:...``).

Under Spark Connect (``spark.remote``/``SPARK_REMOTE``) the batch functions run on the server:
each node's counts and error come from the per-batch records of its checkpoint
(:mod:`kappa.engines.spark.batch_log`), and nodes kept in memory are refused before the run.

The engine never writes into the spec models: a node kept in memory is handed to ``on_output``
when given; a failed node stops the run as :class:`~kappa.errors.RunFailed` carrying the summary.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any, Callable, Sequence

from kappa.errors import KappaError, RunFailed
from kappa.summary import NodeRunSummary, PipelineRunSummary

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import SparkSession

    from kappa.engines.spark.compiler import CompiledNode
    from kappa.models import Pipeline
    from kappa.plan import PipelinePlan


class SparkNodeError(KappaError):
    """A node's streaming query failed; the message names the node and the cause."""

    def __init__(self, node: str, cause: BaseException | str):
        self.node = node
        self.cause = cause
        if isinstance(cause, KappaError):
            self.exit_code = cause.exit_code
        text = str(cause)
        prefix = f"node {node!r}: "
        text = text.removeprefix(prefix)
        super().__init__(f"node {node!r} {text}" if text.startswith(("source:", "sink:")) else f"node {node!r} failed: {text}")


def session_for(pipeline: "Pipeline", profile: str | None = None) -> "SparkSession":
    """The SparkSession of a pipeline's ``spark`` settings (the active one when there is one).

    ``profile`` is the connector profile asked for (``--profile``; else env
    ``KAPPA_SPARK_PROFILE``, else the pipeline's ``connector_profile``); a new session is
    set up for it (jvm: connector jars and Delta's settings, :mod:`kappa.engines.spark.jvm_setup`)."""
    from kappa.engines.spark.jvm_setup import requested_profile
    from kappa.engines.spark.session import get_or_create_session

    settings = pipeline.spark
    choice = requested_profile(profile, settings.connector_profile)
    return get_or_create_session(master=None if settings.remote else settings.master, app_name=f"kappa-{pipeline.name}",
                                 conf=settings.conf, remote=settings.remote, profile=choice)


def _cause(compiled: "CompiledNode", exc: BaseException | None) -> BaseException | str | None:
    """The original error of a failed query: the batch function's exception when it raised."""
    recorded = compiled.metrics.exception
    if recorded is not None:
        return recorded
    if exc is None:
        return None
    text = getattr(exc, "desc", None) or str(exc)
    # a kappa error raised in a Python data source: its own message, not Spark's wrapper
    raised = re.findall(r"^kappa\.[\w.]+: (.+)$", text, re.MULTILINE)
    if raised:
        return raised[-1].strip()
    return text.strip().splitlines()[0] if text.strip() else repr(exc)


def run_node(compiled: "CompiledNode") -> NodeRunSummary:
    """Run one compiled node with availableNow until it stops; returns its summary."""
    from kappa.engines.spark.sources import SourceNotReady
    from kappa.plan_kinds import TriggerPlan

    started = time.perf_counter()
    log = compiled.batch_log()
    try:
        query = compiled.start(TriggerPlan(kind="available_now"))
    except SourceNotReady:
        ns = compiled.metrics.to_summary()
        ns.skipped = "no new data"
        ns.seconds = time.perf_counter() - started
        return ns
    error: BaseException | None = None
    stateful = compiled.stateful
    try:
        # a stateful node's figures come from its progress events (Spark keeps the last 100)
        if not stateful:
            query.awaitTermination()
        while stateful and not query.awaitTermination(1):
            compiled.metrics.record_progress(query.recentProgress)
    except Exception as exc:  # noqa: BLE001 - StreamingQueryException and py4j errors
        error = exc
    if stateful:
        compiled.metrics.record_progress(query.recentProgress)
    if error is None:
        error = query.exception()
    if log is not None:  # Spark Connect: counts and errors come from the checkpoint's records
        log.refresh()
        if error is not None:
            log.load_error()
    ns = compiled.metrics.to_summary()
    ns.seconds = time.perf_counter() - started
    if error is not None or compiled.metrics.exception is not None:
        cause = _cause(compiled, error)
        ns.error = str(cause)
        raise SparkNodeError(compiled.node.name, cause)
    if ns.batches == 0:
        ns.skipped = "no new data"
    return ns


class SparkEngine:
    """Runs a :class:`~kappa.plan.PipelinePlan` on Spark Structured Streaming."""

    name = "spark"

    def __init__(self, spark: "SparkSession | None" = None, profile: str | None = None):
        self.spark = spark
        self.profile = profile

    def resolve(self, pipeline: "Pipeline") -> tuple["SparkSession", str]:
        """The session and connector profile of a run."""
        from kappa.engines.spark.jvm_setup import requested_profile
        from kappa.engines.spark.profiles import resolve_profile

        # --profile, else KAPPA_SPARK_PROFILE, else the pipeline's (as `kappa stream start`)
        requested = requested_profile(self.profile, pipeline.spark.connector_profile)
        spark = self.spark or session_for(pipeline, requested)
        return spark, resolve_profile(spark, requested)

    def run(self, pipeline: "Pipeline", plan: "PipelinePlan", *, full_refresh: Sequence[str] = (),
            on_output: "Callable[[str, Any, Any], None] | None" = None, events: Any = None) -> PipelineRunSummary:
        """Run the plan's nodes in order (the caller holds the pipeline lock: :mod:`kappa.runner`).

        ``on_output(node, output, None)`` receives the output of each node kept in memory (a
        Spark DataFrame checkpointed on the executors); ``events`` (a
        :class:`kappa.eventlog.writer.EventLog`) gets a row per micro-batch from the driver's counters."""
        import logging

        from kappa.validate import refuse_invalid

        refuse_invalid(pipeline, plan.order)  # the static checks of `kappa validate`, before Spark starts
        spark, profile = self.resolve(pipeline)
        # py4j logs a failed foreachBatch call with a traceback; the error is reported below.
        py4j_log = logging.getLogger("py4j.clientserver")
        level = py4j_log.level
        py4j_log.setLevel(logging.CRITICAL)
        try:
            return self._run(plan.for_engine(self.name), spark, profile, full_refresh, on_output, events)
        finally:
            py4j_log.setLevel(level)

    def _run(self, plan: "PipelinePlan", spark: "SparkSession", profile: str, full_refresh: Sequence[str],
             on_output: "Callable[[str, Any, Any], None] | None", events: Any = None) -> PipelineRunSummary:
        from kappa.checkpoint.guard import prepare_run
        from kappa.checkpoint.verdicts import write_fingerprint
        from kappa.engines.spark.batch_log import is_connect
        from kappa.engines.spark.compiler import compile_node, refuse_for_connect
        from kappa.engines.spark.fingerprint import describe_plan

        summary = PipelineRunSummary(pipeline=plan.pipeline, engine=self.name, profile=profile)
        memory: dict[str, Any] = {}
        # the same checkpoint-safety check as `kappa stream start` and `kappa replay`: refuse
        # what Spark cannot resume or what the other engine owns, reset what --full-refresh names
        if is_connect(spark):
            refuse_for_connect(plan.nodes)
        prepare_run(plan, self.name, describe_plan(plan, profile), full_refresh)
        for node in plan.nodes:
            if node.skipped:  # e.g. Debezium merge defaults not learnable yet (kappa.plan)
                summary.nodes.append(NodeRunSummary(node=node.name, skipped=node.skipped))
                continue
            compiled = compile_node(spark, plan, node, profile, memory)
            if events is not None:
                compiled.metrics.listener = events.node_events(node.name, compiled.stateful)
            try:
                ns = run_node(compiled)
            except SparkNodeError as exc:
                ns = compiled.metrics.to_summary()
                ns.error = str(exc.cause)
                summary.nodes.append(ns)
                raise RunFailed(exc, summary) from exc
            summary.nodes.append(ns)
            write_fingerprint(node.checkpoint, compiled.description, self.name)
            if on_output is not None and node.name in memory:
                on_output(node.name, memory[node.name], None)
        return summary
