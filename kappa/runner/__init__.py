"""The one place runs start: every command, the Python API and the test helpers come here.

Design note. A run is: build the plan (:func:`kappa.plan.build_plan`), let the caller confirm
it (``prepare``: the CLI lists and confirms ``--full-refresh`` and records itself as lock
holder), take the pipeline lock (:mod:`kappa.checkpoint.lock`) *before* any SparkSession
starts (a second run fails at once), pick the engine and, for Spark, the session
(:func:`session`) and run. It returns the engine's :class:`~kappa.summary.PipelineRunSummary`
inside a :class:`~kappa.summary.RunResult` (with node outputs when ``keep_outputs``); a failed
node raises :class:`~kappa.errors.RunFailed` carrying the summary.

========================  ===================================================================
``replay``                Polars over bounded input (``kappa replay``, ``kappa cdc replay``)
``run_spark``             Spark availableNow, trigger-once (``kappa run``, ``kappa cdc run``)
``stream``                Spark Structured Streaming until stopped (``kappa stream start``,
                          ``kappa cdc start``)
``execute_pipeline``      either engine by name (``Pipeline.execute`` of :mod:`kappa.api`)
========================  ===================================================================

What the commands print about a plan without running it (``explain``, ``plan``, ``status``)
lives in :mod:`kappa.runner.describe`; the Spark session of a run in :mod:`kappa.runner.session`. This package is the only engine-neutral code that imports
the engines (lazily, inside functions: ``kappa --help`` stays fast).
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

from kappa.errors import KappaError
from kappa.runner.session import debug_enabled, quiet_spark_logs, requested_profile, session
from kappa.summary import NodeOutput, NodeRunSummary, PipelineRunSummary, RunResult

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import SparkSession

    from kappa.models import Pipeline
    from kappa.plan import PipelinePlan

#: ``prepare(plan)`` -> the node names ``--full-refresh`` resets (the CLI confirms them)
Prepare = Callable[["PipelinePlan"], Sequence[str]]
#: ``on_progress(node summary so far, event)``: event ``start`` (a node begins), ``batch`` (it
#: committed batches; the summary's seconds are its time so far) or ``done`` (ok, skipped or failed)
Progress = Callable[[NodeRunSummary, str], None]

_ALIASES = {"pyspark": "spark", "polars": "polars", "spark": "spark"}


def engine_name(name: str) -> str:
    """``polars`` or ``spark`` for an engine name or alias (``pyspark``)."""
    key = _ALIASES.get(name.lower())
    if key is None:
        raise KappaError(f"unknown engine {name!r}; expected one of polars, spark")
    return key


def _plan(pipeline: "Pipeline", select: Sequence[str] | None, full_refresh: Sequence[str] | bool | None,
          prepare: Prepare | None) -> tuple["PipelinePlan", tuple[str, ...]]:
    from kappa.plan import build_plan

    plan = build_plan(pipeline, select)
    if prepare is not None:
        return plan, tuple(prepare(plan))
    if full_refresh is True:
        return plan, tuple(plan.order)
    return plan, tuple(full_refresh or ())


class _Outputs:
    """Collects node outputs (``on_output`` of the engines); read as lazy narwhals frames."""

    def __init__(self) -> None:
        self.outputs: dict[str, NodeOutput] = {}

    def __call__(self, node: str, output: Any, quarantine: Any) -> None:
        self.outputs[node] = NodeOutput(native_output=output, native_quarantine=quarantine)


def _result(summary: PipelineRunSummary, outputs: _Outputs | None) -> RunResult:
    return RunResult(summary, dict(outputs.outputs) if outputs is not None else {})


def _static_checks(pipeline: "Pipeline", plan: "PipelinePlan") -> None:
    """The static checks of ``kappa validate`` (:mod:`kappa.validate`): a SQL step or schema the
    replay would refuse stops a Spark run before its session starts."""
    from kappa.validate import refuse_invalid

    refuse_invalid(pipeline, plan.order)


def replay(pipeline: "Pipeline", select: Sequence[str] | None = None, full_refresh: Sequence[str] | bool | None = (),
           *, keep_outputs: bool = False, prepare: Prepare | None = None, on_progress: Progress | None = None) -> RunResult:
    """Run the selected nodes on Polars over bounded input (incremental, exactly once).

    ``keep_outputs`` keeps each node's output in the result (the Python API); without it a
    node's output is freed before the next node runs. ``on_progress(node summary, event)``:
    see :data:`Progress`."""
    from kappa.checkpoint.lock import pipeline_lock
    from kappa.engines.polars.engine import PolarsEngine
    from kappa.eventlog.run import recording

    with _older_objects_frozen():
        plan, names = _plan(pipeline, select, full_refresh, prepare)
        outputs = _Outputs() if keep_outputs else None
        with pipeline_lock(plan.checkpoint_root, plan.pipeline), recording(plan.folder, plan.pipeline, "polars", storage_options=_event_log_storage(plan)) as events:
            summary = PolarsEngine().run(pipeline, plan, full_refresh=names, on_output=outputs, events=events, on_progress=on_progress)
    return _result(summary, outputs)


@contextmanager
def _older_objects_frozen() -> Iterator[None]:
    """Keep the objects that exist when a replay starts out of the cyclic GC's traversals while it runs.

    Design note (issue 14). When a replay starts, the process holds the objects of every module
    imported so far (kappa's spec models, pydantic's validators and schemas, Polars' Python layer:
    ~60-80k GC-tracked objects) and the run itself imports more (pyarrow, numpy, deltalake) and
    builds its plan: each full collection the run triggers walks all of them again, although none
    of them becomes garbage because of the run. ``gc.freeze()`` moves them to the permanent
    generation for the run; ``gc.unfreeze()`` afterwards hands them back to the oldest
    generation, so a long-lived process (a notebook, a service calling ``Pipeline.execute()``)
    is left collecting exactly as before, and garbage made during the run is collected as usual
    (an object older than the run that becomes cyclic garbage during it waits until the run ends).
    Measured on the Delta node of benchmarks/replay_floor.py: ~1 % fewer instructions (callgrind)
    and 0.015-0.03 s less CPU per process. Nothing is done when the caller froze objects itself
    (``unfreeze`` would hand theirs back too) or turned the collector off."""
    import gc

    if gc.get_freeze_count() or not gc.isenabled():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _event_log_storage(plan: "PipelinePlan") -> dict[str, Any] | None:
    """The event log's storage options: the pipeline's when the checkpoint root is an object store."""
    from kappa.plan_layout import event_log_path

    return plan.table_storage(event_log_path(plan.folder)) if "://" in plan.folder else None


def refuse_remote_spark_checkpoint(pipeline: "Pipeline", plan: "PipelinePlan") -> None:
    """Spark keeps its own streaming checkpoint under the checkpoint root: on ``s3://`` that needs
    Hadoop's S3A connector, which kappa does not set up. A located :class:`ConfigError` (before the
    lock and before Spark starts) saying what to do instead."""
    from kappa.checkpoint.objects import is_remote

    if not is_remote(plan.checkpoint_root):
        return
    from kappa.errors import ConfigError, ConfigIssue
    from kappa.validate import locate

    message = (
        f"`{plan.checkpoint_root}`: Spark keeps its streaming checkpoint there, which on S3 needs Hadoop's S3A "
        "connector (the hadoop-aws jar and its AWS SDK bundle on Spark's classpath, an s3a:// URI and "
        "spark.hadoop.fs.s3a.* settings), not set up by kappa: run this pipeline with `kappa replay` (Polars "
        "keeps checkpoints on S3), or give Spark runs a local or mounted checkpoint root, e.g. "
        "`checkpoint_root: ${env.CHECKPOINT_ROOT}` (README: Object storage)"
    )
    file = getattr(pipeline, "_source_file", None)
    if not pipeline.checkpoint_root:
        raise ConfigError(ConfigIssue(message, file="$KAPPA_CHECKPOINT_ROOT"))
    issue = ConfigIssue(message, path="checkpoint_root")
    raise ConfigError(locate([issue], file) if file else [issue])


def run_spark(pipeline: "Pipeline", select: Sequence[str] | None = None, full_refresh: Sequence[str] | bool | None = (),
              *, profile: str | None = None, spark: "SparkSession | None" = None, quiet: bool = False,
              keep_outputs: bool = False, prepare: Prepare | None = None, on_progress: Progress | None = None,
              log_file: str | None = None) -> RunResult:
    """Run the selected nodes once on Spark (availableNow: everything new, then stop).

    ``profile``: ``jvm``, ``python`` or None/``auto`` (env ``KAPPA_SPARK_PROFILE``, else the
    pipeline's ``connector_profile``, else probed). The lock is taken before Spark starts.
    ``log_file``: where a new session sends Spark's log (:func:`kappa.runner.session.session`)."""
    from kappa.checkpoint.lock import pipeline_lock
    from kappa.engines.spark.engine import SparkEngine
    from kappa.eventlog.run import recording

    requested = None if profile in (None, "auto") else profile
    plan, names = _plan(pipeline, select, full_refresh, prepare)
    refuse_remote_spark_checkpoint(pipeline, plan)
    outputs = _Outputs() if keep_outputs else None
    with pipeline_lock(plan.checkpoint_root, plan.pipeline):  # before Spark starts: a second run fails at once
        if spark is None:
            _static_checks(pipeline, plan)  # refused before Spark starts
            spark = session(pipeline, requested, quiet=quiet, log_file=log_file)
        with recording(plan.folder, plan.pipeline, "spark") as events:
            summary = SparkEngine(spark=spark, profile=requested).run(pipeline, plan, full_refresh=names, on_output=outputs,
                                                                      events=events, on_progress=on_progress)
    return _result(summary, outputs)


@dataclass(frozen=True)
class StreamOutcome:
    """How a stream ended: the summary and why it stopped (signal, idle, request)."""

    summary: PipelineRunSummary
    stop_reason: str | None
    profile: str


def stream(pipeline: "Pipeline", select: Sequence[str] | None = None, full_refresh: Sequence[str] | None = (),
           *, profile: str = "auto", until_idle: bool = False, interval: str = "1 second", refresh: float = 2.0,
           on_start: Callable[[str], None] | None = None, on_update: Callable[[list], None] | None = None,
           on_verdicts: Callable[[list], None] | None = None, quiet: bool = False,
           prepare: Prepare | None = None, metrics_port: int | None = None, metrics_host: str = "127.0.0.1",
           log_file: str | None = None) -> StreamOutcome:
    """Stream the selected nodes in one Spark application until stopped (Ctrl-C/SIGTERM, or
    ``until_idle`` once every node consumed all its input).

    ``on_start(profile)`` is called with the resolved connector profile once the session is
    up; ``on_update`` gets the live rows, ``on_verdicts`` the checkpoint verdicts.
    ``metrics_port``: serve Prometheus metrics on ``metrics_host:metrics_port`` while streaming
    (:mod:`kappa.metrics_http`)."""
    from kappa.checkpoint.lock import pipeline_lock
    from kappa.engines.spark.profiles import resolve_profile
    from kappa.engines.spark.streaming import StreamRunner
    from kappa.eventlog.run import recording
    from kappa.metrics_http import serving

    plan, names = _plan(pipeline, select, full_refresh, prepare)
    refuse_remote_spark_checkpoint(pipeline, plan)
    with pipeline_lock(plan.checkpoint_root, plan.pipeline), serving(plan.pipeline, metrics_port, metrics_host) as metrics, \
            recording(plan.folder, plan.pipeline, "spark (stream)", metrics) as events:  # before Spark starts
        requested = requested_profile(pipeline, profile)
        _static_checks(pipeline, plan)  # refused before Spark starts
        spark = session(pipeline, requested, quiet=quiet, log_file=log_file)
        chosen = resolve_profile(spark, requested)
        if on_start is not None:
            on_start(chosen)
        runner = StreamRunner(spark, plan, chosen, full_refresh=names, until_idle=until_idle, interval=interval,
                              refresh_seconds=refresh, on_update=on_update, on_verdicts=on_verdicts, events=events)
        summary = runner.run()
    summary.profile = summary.profile or chosen
    return StreamOutcome(summary, runner.stop_reason, chosen)


def execute_pipeline(pipeline: "Pipeline", select: Sequence[str] | None = None, engine: str | None = None,
                     full_refresh: Sequence[str] | bool = (), keep_outputs: bool = True) -> RunResult:
    """Plan and run a pipeline once on an engine (default: the pipeline's ``dataframe_backend``):
    Polars replay or Spark availableNow. ``full_refresh=True`` resets every selected node.

    ``keep_outputs`` keeps each node's output in the result (``result.output_df(name)``)."""
    name = engine_name(engine or pipeline.dataframe_backend)
    if name == "polars":
        return replay(pipeline, select, full_refresh, keep_outputs=keep_outputs)
    return run_spark(pipeline, select, full_refresh, keep_outputs=keep_outputs)


__all__ = [
    "StreamOutcome",
    "debug_enabled",
    "engine_name",
    "execute_pipeline",
    "quiet_spark_logs",
    "replay",
    "requested_profile",
    "run_spark",
    "session",
    "stream",
]
