"""``kappa stream start``: every selected node as a long-running query in one Spark application.

Order of work:

1. **Verdicts before anything runs**, under the pipeline lock (:mod:`kappa.checkpoint.lock`,
   taken by :mod:`kappa.runner`).
   Each node's compiled description is compared with the fingerprint stored next to its
   checkpoint (:mod:`kappa.checkpoint.verdicts`), and checkpoints of nodes that no longer exist
   are reported. A change Spark cannot resume from raises :class:`StreamRefused`, a node whose
   checkpoint or tables belong to the Polars engine raises
   :class:`~kappa.checkpoint.ownership.EngineConflict`, unless the node is reset with
   ``full_refresh`` (:func:`kappa.checkpoint.guard.prepare_run`).
2. **Start, upstream first.** Queries start in topological order with the node's
   ``processing_time`` trigger (nodes whose trigger is ``available_now``/``once`` run every
   ``interval``). A node whose upstream Delta table does not exist yet is retried on each poll.
   A node's fingerprint is written once its query has started.
3. **Watch.** Every poll checks for dead queries (the run stops with the failing node's error),
   and a snapshot per node (batches, rows, input rate, lag, last error) goes to ``on_update``.
4. **Stop gracefully** on SIGINT/SIGTERM, on :meth:`StreamRunner.request_stop`, or (``until_idle``)
   once every node has consumed all its input.

Graceful stop (per node, downstream first): (1) wait until the batch whose offsets Spark has
logged is committed, i.e. the batch in progress runs to its end (sinks written, then Spark's
commit), read from the checkpoint's ``offsets/`` and ``commits/``; (2) close the node's
:class:`~kappa.engines.spark.gate.BatchGate`, which wraps the ``foreachBatch`` function: a batch that reaches it from
now on raises :class:`StopRequested` before doing any work, so its offsets stay logged without
a commit and the next start re-runs it with the same id and offsets (sinks are idempotent per
batch id); a batch already inside runs to its end; (3) wait for that batch's commit; (4)
``query.stop()``. ``query.stop()`` therefore never interrupts a batch. A second signal skips
the waiting. Ctrl-C in a terminal reaches the JVM too, but PySpark starts it ignoring SIGINT.

Under Spark Connect the ``foreachBatch`` function runs in a worker of the server, where no gate
can be closed from the client: a stop waits (through the checkpoint) until no batch is pending,
then stops the query. A batch that Spark plans in the short window between that check and
``query.stop()`` may be interrupted; it has no commit, so the next start re-runs it with the same
id and offsets (sinks are idempotent per batch id). Counts and errors come from the per-batch
records of the checkpoint (:mod:`kappa.engines.spark.batch_log`), read on every refresh; nodes
kept in memory (no Delta or file sink) are refused before anything starts.

Until idle (:mod:`kappa.engines.spark.idle`): the run
stops after two consecutive refreshes find every node idle.
"""

from __future__ import annotations

import signal
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Sequence

from kappa.checkpoint import verdicts as fp
from kappa.checkpoint.verdicts import StreamRefused, plan_verdicts  # noqa: F401
from kappa.engines.spark.idle import IdleDetection, _input_rows, _Node, _parse_ts  # noqa: F401
from kappa.engines.spark.gate import BatchGate, StopRequested, start_query, stream_trigger  # noqa: F401
from kappa.errors import KappaError, RunFailed
from kappa.summary import PipelineRunSummary

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import SparkSession

    from kappa.plan import PipelinePlan


# ---------------------------------------------------------------- live snapshot
@dataclass(frozen=True)
class NodeLive:
    """One node as the live status shows it."""

    node: str
    state: str  # waiting (source not there yet) | running | behind (lag, between triggers) | idle | stopped | failed
    batches: int
    input_rows: int
    output_rows: int
    input_rate: float | None
    lag: int | None
    last_batch_id: int | None
    last_error: str | None
    #: stateful nodes (None/0 otherwise): rows dropped as late, the watermark, rows and bytes in state
    late_rows: int = 0
    watermark: str | None = None
    state_rows: int | None = None
    state_bytes: int | None = None

    @property
    def state_text(self) -> str | None:
        """``watermark=... state=<rows> rows/<bytes> B late=<rows>`` for a stateful node (None otherwise)."""
        if self.state_rows is None:
            return None
        return f"watermark={self.watermark or '-'} state={self.state_rows} rows/{self.state_bytes} B late={self.late_rows}"


class StreamRunner(IdleDetection):
    """Runs a plan's selected nodes as streaming queries until stopped (see module doc)."""

    def __init__(
        self,
        spark: "SparkSession",
        plan: "PipelinePlan",
        profile: str,
        *,
        full_refresh: Sequence[str] = (),
        until_idle: bool = False,
        interval: str = "1 second",
        refresh_seconds: float = 2.0,
        on_update: Callable[[list[NodeLive]], None] | None = None,
        on_verdicts: Callable[[list[fp.Verdict]], None] | None = None,
        events: Any = None,
    ):
        self.spark, self.plan, self.profile = spark, plan.for_engine("spark"), profile
        self.full_refresh = tuple(full_refresh)
        self.until_idle = until_idle
        self.interval = interval
        self.refresh_seconds = refresh_seconds
        self.on_update = on_update
        self.on_verdicts = on_verdicts
        self.events = events  # the run's event log (kappa.eventlog): a row per batch, written per refresh
        self._stop = threading.Event()
        self._force = threading.Event()
        self.nodes: list[_Node] = []
        self.stop_reason: str | None = None
        self._started = time.perf_counter()

    # -------------------------------------------------------------- control
    def request_stop(self, reason: str = "stop requested") -> None:
        """Ask the run to stop gracefully (thread- and signal-safe)."""
        if self._stop.is_set():
            self._force.set()  # a second signal: stop without waiting for batches
        if self.stop_reason is None:
            self.stop_reason = reason
        self._stop.set()

    def _install_signals(self) -> dict:
        if threading.current_thread() is not threading.main_thread():
            return {}
        old = {}
        for sig in (signal.SIGINT, signal.SIGTERM):
            old[sig] = signal.signal(sig, lambda signum, _frame: self.request_stop(signal.Signals(signum).name))
        return old

    def run(self) -> PipelineRunSummary:
        """Check, start, watch and stop; returns the summary (raises
        :class:`~kappa.errors.RunFailed` on a failure). The caller holds the pipeline lock
        (:mod:`kappa.runner`)."""
        import logging

        from kappa.checkpoint.guard import prepare_run
        from kappa.engines.spark.compiler import compile_plan, refuse_for_connect

        compiled = compile_plan(self.spark, self.plan, self.profile)
        descriptions = {c.node.name: c.description for c in compiled}
        verdicts = plan_verdicts(self.plan, descriptions, "spark")
        if self.on_verdicts:
            self.on_verdicts(verdicts)
        if compiled and compiled[0].connect:
            refuse_for_connect(self.plan.nodes)
        prepare_run(self.plan, "spark", descriptions, self.full_refresh)
        if self.events is not None:
            for c in compiled:
                c.metrics.listener = self.events.node_events(c.node.name, c.stateful)
        self.nodes = [_Node(c, BatchGate(), log=c.batch_log()) for c in compiled]
        self._started = time.perf_counter()
        # A progress event on every trigger (also without data) tells until_idle a node looked.
        self.spark.conf.set("spark.sql.streaming.noDataProgressEventInterval", "0")
        py4j_log = logging.getLogger("py4j.clientserver")
        level = py4j_log.level
        py4j_log.setLevel(logging.CRITICAL)  # refused/failed batches are reported by kappa
        old = self._install_signals()
        try:
            self._watch()
        finally:
            self._shutdown()
            for sig, handler in old.items():
                signal.signal(sig, handler)
            py4j_log.setLevel(level)
        failed = self._failure()
        summary = self.summary()
        if failed is not None:
            raise self._error(failed, summary)
        return summary

    # -------------------------------------------------------------- watching
    @staticmethod
    def _inputs_ready(n: _Node) -> bool:
        """False while a Delta table the node reads (source or ``{nodes.x}``) does not exist yet,
        or an upstream it reads from memory has not produced its output."""
        from kappa.engines.spark.connectors import source_reader

        node = n.compiled.node
        for src in [node.source, *node.ref_sources.values()]:
            if src is None:
                continue
            if not source_reader(src).ready(src, n.compiled.memory):
                return False
        return True

    def _try_start(self, n: _Node) -> None:
        from kappa.engines.spark.sources import SourceNotReady

        if n.compiled.node.skipped or not self._inputs_ready(n):
            return
        try:
            n.query = start_query(n.compiled, stream_trigger(n.compiled.node.trigger, self.interval), n.gate)
        except SourceNotReady:
            return
        n.state = "running"
        n.upstream_batches = tuple(m.compiled.metrics.snapshot()["batches"] for m in self.nodes if m.compiled.node.name in n.compiled.node.upstreams)
        fp.write_fingerprint(n.compiled.node.checkpoint, n.compiled.description, "spark")

    def _watch(self) -> None:
        last_refresh = 0.0
        idle_rounds = 0
        while not self._stop.is_set():
            for n in self.nodes:
                if n.query is None and n.state == "waiting":
                    self._try_start(n)
            if self._failure() is not None:
                self.request_stop("a query failed")
                break
            now = time.monotonic()
            if now - last_refresh >= self.refresh_seconds:
                last_refresh = now
                idle = self._refresh()
                idle_rounds = idle_rounds + 1 if idle else 0
                if self.on_update:
                    self.on_update(self.snapshot())
                if self.events is not None:
                    self.events.live(self.snapshot())
                    self.events.flush()
                if self.until_idle and idle_rounds >= 2:
                    self.request_stop("all input consumed")
                    break
            self._stop.wait(0.25)

    def _failure(self) -> _Node | None:
        for n in self.nodes:
            q = n.query
            if q is None or n.state == "failed":
                if n.state == "failed":
                    return n
                continue
            if not q.isActive and n.gate.refused is None and (q.exception() is not None or n.compiled.metrics.exception is not None):
                n.state = "failed"
                return n
        return None

    def snapshot(self) -> list[NodeLive]:
        """The live status of every node."""
        out = []
        for n in self.nodes:
            m = n.compiled.metrics.snapshot()
            out.append(
                NodeLive(n.compiled.node.name, n.state, m["batches"], m["input_rows"], m["output_rows"], n.rate, n.lag, m["last_batch_id"], m["last_error"],
                         m["late_rows"], m["watermark"], m["state_rows"], m["state_bytes"])
            )
        return out

    # -------------------------------------------------------------- stopping
    def _shutdown(self) -> None:
        """Stop every query without cutting a batch (see the module doc), downstream first."""
        for n in reversed(self.nodes):
            if n.query is not None:
                self._drain(n)
        for n in self.nodes:
            n.gate.close()
        for n in reversed(self.nodes):
            if n.query is None:
                continue
            try:
                n.query.stop()
            except Exception:  # noqa: BLE001 - a failed query raises on stop; reported below
                pass
            if n.state != "failed":
                n.state = "stopped"

    def _wait(self, n: _Node, done: Callable[[], bool], seconds: float = 600.0) -> None:
        deadline = time.monotonic() + seconds
        while not self._force.is_set() and time.monotonic() < deadline:
            try:
                if done() or not n.query.isActive:
                    return
            except Exception:  # noqa: BLE001 - the query ended meanwhile
                return
            time.sleep(0.05)

    def _drain(self, n: _Node) -> None:
        """Let the batch in progress commit, refuse new ones, let one already inside finish."""
        from kappa.engines.spark.status import read_checkpoint

        def committed(target: int | None) -> bool:
            state = read_checkpoint(n.compiled.checkpoint_location)
            if target is None:
                return state.pending_batch_id is None
            return state.last_batch_id is not None and state.last_batch_id >= target

        in_progress = read_checkpoint(n.compiled.checkpoint_location).pending_batch_id
        self._wait(n, lambda: committed(in_progress))  # 1. the batch in progress commits
        n.gate.close()  # 2. a batch planned from now on is refused (left for the next start)
        n.gate.wait_idle(None if not self._force.is_set() else 0)
        self._wait(n, lambda: n.gate.refused is not None or committed(None))  # 3. its commit

    def summary(self) -> PipelineRunSummary:
        summary = PipelineRunSummary(pipeline=self.plan.pipeline, engine="spark (stream)")
        self._read_logs()
        self._read_progress()
        for n in self.nodes:
            ns = n.compiled.metrics.to_summary()
            ns.seconds = time.perf_counter() - self._started
            if n.query is None and n.state == "waiting":
                ns.skipped = n.compiled.node.skipped or "not started: source does not exist yet"
            summary.nodes.append(ns)
        return summary

    def _error(self, n: _Node, summary: PipelineRunSummary) -> KappaError:
        from kappa.engines.spark.engine import SparkNodeError, _cause

        exc = None
        try:
            exc = n.query.exception() if n.query is not None else None
        except Exception as e:  # noqa: BLE001
            exc = e
        if n.log is not None:
            n.log.load_error()
        err = SparkNodeError(n.compiled.node.name, _cause(n.compiled, exc) or "query stopped")
        summary.node(n.compiled.node.name).error = str(err.cause)
        return RunFailed(err, summary)
