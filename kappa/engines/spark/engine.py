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


def session_for(pipeline: "Pipeline", profile: str | None = None, java_options: str | None = None,
                stderr_file: str | None = None) -> "SparkSession":
    """The SparkSession of a pipeline's ``spark`` settings (the active one when there is one).

    ``profile`` is the connector profile asked for (``--profile``; else env
    ``KAPPA_SPARK_PROFILE``, else the pipeline's ``connector_profile``); a new session is
    set up for it (jvm: connector jars and Delta's settings, :mod:`kappa.engines.spark.jvm_setup`).
    ``java_options`` are added to the driver's (a new local or cluster session: e.g. kappa's log file);
    ``stderr_file`` takes a new driver's stderr (its Python workers' output included)."""
    import os

    from kappa.engines.spark.jvm_setup import requested_profile
    from kappa.engines.spark.session import ENV_CONF, ENV_REMOTE, get_or_create_session, parse_conf_string

    settings = pipeline.spark
    choice = requested_profile(profile, settings.connector_profile)
    conf = dict(settings.conf)
    # kappa's options after the user's own; never on Spark Connect (a static setting of the server)
    if java_options and not (settings.remote or os.environ.get(ENV_REMOTE)):
        key = "spark.driver.extraJavaOptions"
        mine = conf.get(key) or parse_conf_string(os.environ.get(ENV_CONF)).get(key, "")
        conf[key] = f"{mine} {java_options}".strip()
    return get_or_create_session(master=None if settings.remote else settings.master, app_name=f"kappa-{pipeline.name}",
                                 conf=conf, remote=settings.remote, profile=choice, stderr_file=stderr_file)


def _cause(compiled: "CompiledNode", exc: BaseException | None) -> BaseException | str | None:
    """The original error of a failed query: the batch function's exception when it raised
    (a kappa error as is, any other condensed to its root cause: :func:`root_cause`)."""
    recorded = compiled.metrics.exception
    if recorded is not None:
        return recorded if isinstance(recorded, KappaError) else root_cause(recorded)
    if exc is None:
        return None
    return root_cause(exc)


def root_cause(exc: BaseException) -> str:
    """One line for a Spark or py4j error: a kappa error raised in a Python data source (its own
    message), else the last ``Caused by:`` of a Java stack, else the first line -- for an
    ``AnalysisException`` its ``[ERROR_CLASS] message``, without the analysed plan that follows.

    >>> root_cause(ValueError("[UNRESOLVED_COLUMN] `x` cannot be resolved. SQLSTATE: 42703;\\n'Project ['x]\\n+- Relation"))
    '[UNRESOLVED_COLUMN] `x` cannot be resolved. SQLSTATE: 42703;'
    """
    text = getattr(exc, "desc", None) or str(exc)
    raised = re.findall(r"^kappa\.[\w.]+: (.+)$", text, re.MULTILINE)
    if raised:
        return raised[-1].strip()
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return repr(exc)
    caused = [line for line in lines if line.startswith("Caused by: ")]
    if caused:
        return caused[-1].removeprefix("Caused by: ")
    if lines[0].startswith("An error occurred while calling") and len(lines) > 1:
        return lines[1].lstrip(": ")
    return lines[0]


def run_node(compiled: "CompiledNode", on_batch: "Callable[[NodeRunSummary], None] | None" = None) -> NodeRunSummary:
    """Run one compiled node with availableNow until it stops; returns its summary.
    ``on_batch(summary so far)`` is called about every half second while a batch committed."""
    from kappa.engines.spark.idle import new_progress
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
        seen, after = 0, None
        while not query.awaitTermination(1 if stateful else 0.5):
            if stateful:
                events, after = new_progress(query, after)
                compiled.metrics.record_progress(events)
            so_far = compiled.metrics.to_summary()
            if on_batch is not None and so_far.batches != seen:
                seen = so_far.batches
                so_far.seconds = time.perf_counter() - started
                on_batch(so_far)
    except Exception as exc:  # noqa: BLE001 - StreamingQueryException and py4j errors
        error = exc
    if stateful:
        compiled.metrics.record_progress(new_progress(query, after)[0])
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


def _no_progress(ns: NodeRunSummary, event: str) -> None:
    pass


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
            on_output: "Callable[[str, Any, Any], None] | None" = None, events: Any = None,
            on_progress: "Callable[[NodeRunSummary, str], None] | None" = None) -> PipelineRunSummary:
        """Run the plan's nodes in order (the caller holds the pipeline lock: :mod:`kappa.runner`).

        ``on_output(node, output, None)`` receives the output of each node kept in memory (a
        Spark DataFrame checkpointed on the executors); ``events`` (a
        :class:`kappa.eventlog.writer.EventLog`) gets a row per micro-batch from the driver's counters;
        ``on_progress(summary, event)`` a node's summary so far at ``start``, after its ``batch``es
        and when ``done``."""
        import logging

        from kappa.validate import refuse_invalid

        refuse_invalid(pipeline, plan.order)  # the static checks of `kappa validate`, before Spark starts
        spark, profile = self.resolve(pipeline)
        # py4j logs a failed foreachBatch call with a traceback; the error is reported below.
        py4j_log = logging.getLogger("py4j.clientserver")
        level = py4j_log.level
        py4j_log.setLevel(logging.CRITICAL)
        try:
            return self._run(plan.for_engine(self.name), spark, profile, full_refresh, on_output, events, on_progress)
        finally:
            py4j_log.setLevel(level)

    def _run(self, plan: "PipelinePlan", spark: "SparkSession", profile: str, full_refresh: Sequence[str],
             on_output: "Callable[[str, Any, Any], None] | None", events: Any = None,
             on_progress: "Callable[[NodeRunSummary, str], None] | None" = None) -> PipelineRunSummary:
        on_progress = on_progress or _no_progress
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
                on_progress(summary.nodes[-1], "done")
                continue
            on_progress(NodeRunSummary(node=node.name), "start")
            started = time.perf_counter()
            compiled = compile_node(spark, plan, node, profile, memory)
            if events is not None:
                compiled.metrics.listener = events.node_events(node.name, compiled.stateful)
            try:
                ns = run_node(compiled, lambda so_far: on_progress(so_far, "batch"))
            except SparkNodeError as exc:
                ns = compiled.metrics.to_summary()
                ns.error = str(exc.cause)
                ns.seconds = time.perf_counter() - started
                summary.nodes.append(ns)
                on_progress(ns, "done")
                raise RunFailed(exc, summary) from exc
            ns.seconds = time.perf_counter() - started  # the node's own time, compiling included
            summary.nodes.append(ns)
            on_progress(ns, "done")
            write_fingerprint(node.checkpoint, compiled.description, self.name)
            if on_output is not None and node.name in memory:
                on_output(node.name, memory[node.name], None)
        return summary
