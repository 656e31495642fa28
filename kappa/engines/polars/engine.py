"""The Polars engine: local replay of a bounded input, batch by batch, exactly once.

For every selected node, in topological order:

1. plan the batch: a pending (planned, uncommitted) batch is re-run as it was; otherwise the
   range from the last committed offsets to what is available now is written to the
   checkpoint's offsets log;
2. read exactly that range (lazy where Polars allows), run the transformer steps, evaluate the
   expectations in one pass;
3. write every sink idempotently (Delta app transactions keyed by batch id), dead letters too;
4. commit the batch in the checkpoint.

A stateful streaming node (``node.state``: watermark, streaming dedup, aggregates) runs its steps
against the state of its last committed batch and saves the new state before step 4
(:mod:`kappa.engines.polars.stateful`); when its source has nothing new but the watermark moved,
it runs Spark's no-data batch (an empty range in the offsets log) to evict and emit.

A streaming node repeats this until it reached the ends its sources had at the node's first
planning step of the run (several batches when ``max_offsets_per_trigger`` bounds them; see
:class:`~kappa.engines.polars.connectors.base.RunBound`): a replay is bounded however fast records keep
arriving. A batch node runs one batch per run.

Before the first node runs (under the pipeline lock :mod:`kappa.runner` takes: one run per
pipeline and checkpoint root), :func:`kappa.checkpoint.guard.prepare_run` applies the
checkpoint-safety verdicts (fingerprints in ``<node checkpoint>/replay_fingerprint.json``), the
``--full-refresh`` resets and the engine-ownership check; the sinks' app ids carry the engine
(``kappa:polars:<pipeline>:<node>:sink<i>``, :mod:`kappa.checkpoint.ownership`).

The engine never writes into the spec models: after each node it hands the node's output and
quarantine to ``on_output`` when given (:mod:`kappa.runner` builds the API's run result from
them); without it a node's output is freed before the next node runs. A node's error stops the
run as :class:`~kappa.errors.RunFailed` carrying the summary so far.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Callable, Sequence

from kappa.errors import KappaError, RunFailed
from kappa.faults import failpoint
from kappa.summary import NodeRunSummary, PipelineRunSummary

if TYPE_CHECKING:  # pragma: no cover
    import polars as pl

    from kappa.checkpoint.batches import BatchDescription
    from kappa.models import Pipeline
    from kappa.plan import NodePlan, PipelinePlan


class PolarsEngine:
    """Runs a :class:`~kappa.plan.PipelinePlan` on Polars + deltalake + confluent-kafka."""

    name = "polars"

    def run(self, pipeline: "Pipeline", plan: "PipelinePlan", *, full_refresh: Sequence[str] = (),
            on_output: "Callable[[str, Any, Any], None] | None" = None, events: Any = None,
            on_progress: "Callable[[NodeRunSummary, str], None] | None" = None) -> PipelineRunSummary:
        """Run the plan's nodes in order (the caller holds the pipeline lock: :mod:`kappa.runner`).

        ``on_output(node, output, quarantine)`` receives each node's last output and
        quarantine (Polars LazyFrames, or None); ``events`` (a :class:`kappa.eventlog.writer.EventLog`)
        gets a row per committed batch; ``on_progress(summary, event)`` a node's summary so far at
        ``start``, after each ``batch`` and when ``done``."""
        from kappa.validate import refuse_invalid

        refuse_invalid(pipeline, plan.order)  # the static checks of `kappa validate`, before any node runs
        return self._run(plan.for_engine(self.name), full_refresh, on_output, events, on_progress)

    def _run(self, plan: "PipelinePlan", full_refresh: Sequence[str], on_output: "Callable[[str, Any, Any], None] | None",
             events: Any = None, on_progress: "Callable[[NodeRunSummary, str], None] | None" = None) -> PipelineRunSummary:
        on_progress = on_progress or _no_progress
        from kappa.checkpoint.describe import describe_node
        from kappa.checkpoint.guard import prepare_run
        from kappa.checkpoint.verdicts import write_fingerprint

        summary = PipelineRunSummary(pipeline=plan.pipeline, engine=self.name)
        descriptions = {node.name: describe_node(node) for node in plan.nodes}
        prepare_run(plan, self.name, descriptions, full_refresh)
        memory: dict[str, "pl.LazyFrame"] = {}
        for node in plan.nodes:
            ns = NodeRunSummary(node=node.name)
            summary.nodes.append(ns)
            if node.skipped:  # e.g. Debezium merge defaults not learnable yet (kappa.plan)
                ns.skipped = node.skipped
                on_progress(ns, "done")
                continue
            started = time.perf_counter()
            on_progress(ns, "start")
            try:
                write_fingerprint(node.checkpoint, descriptions[node.name], self.name)
                output, quarantine = run_node(node, plan, memory, ns, events, lambda: on_progress(ns, "batch"))
            except KappaError as exc:
                ns.error = str(exc)
                ns.seconds = time.perf_counter() - started
                on_progress(ns, "done")
                raise RunFailed(exc, summary, node=node.name) from exc  # the CLI names the node
            ns.seconds = time.perf_counter() - started
            on_progress(ns, "done")
            if on_output is not None:
                on_output(node.name, output.lazy() if output is not None else None,
                          quarantine.lazy() if quarantine is not None else None)
            output = quarantine = None
        return summary


def _no_progress(ns: NodeRunSummary, event: str) -> None:
    pass


def run_node(node: "NodePlan", plan: "PipelinePlan", memory: dict, ns: NodeRunSummary, events: Any = None,
             after_batch: "Callable[[], None] | None" = None) -> tuple[Any, Any]:
    """Run every batch a node has to run now; returns the last batch's output and quarantine
    (``events``: the run's event log, a row per committed batch; ``after_batch``: called after each)."""
    from kappa.checkpoint.batches import NoSourceBatch, batch_from_json
    from kappa.engines.polars.connectors import source_reader
    from kappa.engines.polars.connectors.base import RunBound
    from kappa.engines.polars.state import ReplayCheckpoint

    ck = ReplayCheckpoint(node.layout)
    bound = RunBound(node.name, node.layout, ns)  # this run reads up to the ends seen first
    state = stateful_node(node, ns)
    output = quarantine = None
    while True:
        batch = ck.pending()
        last = ck.last_committed()
        if state is not None:
            state.load(last.batch_id if last else None)  # a pending batch re-runs from the committed state
        if batch is None:
            if node.source is None:
                offsets = NoSourceBatch()
            else:
                previous = batch_from_json(last.offsets) if (last and node.streaming) else None
                offsets = source_reader(node.source).plan_range(node.source, previous, bound)
                if offsets is None and state is not None:
                    offsets = state.no_data_range(previous)  # Spark's no-data batch: the watermark moved
            if offsets is None:
                if ns.batches == 0:
                    ns.skipped = "no new data"
                break
            batch = ck.plan(ck.next_batch_id(), offsets)
            failpoint("after_plan")
        mark = events.mark(ns) if events is not None else None
        output, quarantine, info = run_batch(node, plan, memory, batch.batch_id, batch_from_json(batch.offsets), ns, state)
        if state is not None:
            state.save(batch.batch_id)  # batch N's state is durable before batch N's commit
        failpoint("before_commit")
        ck.commit(batch.batch_id, info)
        failpoint("after_commit")
        ns.batches += 1
        if events is not None:
            events.batch_since(node.name, batch.batch_id, mark, ns)
        if after_batch is not None:
            after_batch()
        if not node.streaming:
            break
    if output is not None and node.in_memory_output:
        memory[node.name] = output.lazy()
    return output, quarantine


def stateful_node(node: "NodePlan", ns: NodeRunSummary) -> Any:
    """The state keeper of a streaming node with stateful steps (None otherwise)."""
    if node.state is None or not node.streaming:
        return None
    from kappa.engines.polars.stateful.node import NodeState

    return NodeState(node, ns)


def _ref_frames(node: "NodePlan", memory: dict) -> dict[str, "pl.LazyFrame"]:
    from kappa.engines.polars.connectors import source_reader

    return {ref: (memory[ref] if ref in memory else source_reader(src).read_full(src, memory)) for ref, src in node.ref_sources.items()}


def transform(node: "NodePlan", frame: "pl.LazyFrame", refs: dict[str, "pl.LazyFrame"]) -> "pl.LazyFrame":
    """Apply the node's steps in order (SQL through the Spark-SQL translator, methods through narwhals)."""
    from kappa.sql.polars_exec import run_sql
    from kappa.sql.refs import render
    from kappa.transform.methods import apply_method

    ref_tables = {ref: f"__kappa_node_{i}" for i, ref in enumerate(node.sql_refs)}
    for step in node.steps:
        if step.kind == "sql":
            sql = render(step.sql, "__kappa_df", ref_tables)
            tables = {"__kappa_df": frame, **{ref_tables[r]: refs[r] for r in step.refs}}
            frame = run_sql(sql, tables)
        else:
            frame = apply_method(frame, step.func_name, step.func_args, step.func_kwargs)
    return frame


def run_batch(node: "NodePlan", plan: "PipelinePlan", memory: dict, batch_id: int, offsets: "BatchDescription", ns: NodeRunSummary,
              state: Any = None):
    """Read, transform, check and write one batch; returns (output, quarantine, commit info).
    A stateful node's steps run against its state (``state``, :mod:`kappa.engines.polars.stateful`)."""
    import polars as pl

    from kappa.checkpoint.ownership import dead_letter_app_id
    from kappa.engines.polars.connectors import source_reader
    from kappa.engines.polars.connectors.base import ReadResult
    from kappa.engines.polars.streaming import streamable
    from kappa.engines.polars.writers import stream_sink, write_dead_letters, write_sink
    from kappa.quality.polars_eval import apply_expectations
    from kappa.quality.result import QualityCounts

    empty = state.read_empty(offsets, memory) if state is not None else None
    if node.source is None:
        read = ReadResult(pl.LazyFrame())
    elif empty is not None:
        read = ReadResult(empty)
    else:
        read = source_reader(node.source).read_range(node.source, offsets, memory, node.layout.state_dir)
    refs = _ref_frames(node, memory)
    # rows the steps remove: the read frame's length (Polars answers it from the in-memory
    # frame or the files' metadata, without a pass over the rows), only when there are steps
    read_rows = read.frame.lazy().select(pl.len()).collect().item() if (node.steps or state is not None) else None
    frame = state.transform(read.frame, refs) if state is not None else transform(node, read.frame, refs)
    streamed = streamable(node, state)
    if not streamed:
        output, quarantine, counts = apply_expectations(frame, list(node.expectations), node.name)
    if read.dead_letters is not None:
        path = node.layout.dead_letters
        app_id = dead_letter_app_id("polars", plan.pipeline, node.name)
        ns.dead_letter_rows += write_dead_letters(path, read.dead_letters, app_id, batch_id, node.name, plan.table_storage(path))
    read = None
    if streamed:  # straight from the scan into the sink (kappa.engines.polars.streaming)
        sink = node.sinks[0]
        rows, written, output = stream_sink(sink, frame, batch_id, node.name)
        quarantine, counts = None, QualityCounts(rows, rows, 0, 0, {})
        ns.sink_rows[f"sink{sink.index}"] = ns.sink_rows.get(f"sink{sink.index}", 0) + written
        failpoint("after_sink")
    frame = None
    ns.add_counts(counts)
    for sink in node.sinks if not streamed else ():
        df = quarantine if sink.quarantine else output
        if df is None:
            continue
        key = f"sink{sink.index}" + (" (quarantine)" if sink.quarantine else "")
        ns.sink_rows[key] = ns.sink_rows.get(key, 0) + write_sink(sink, df, batch_id, node.name)
        failpoint("after_sink")
    if read_rows is not None:
        ns.add_removed(read_rows - counts.input_rows)
    info = {"batch_id": batch_id, "input_rows": counts.input_rows, "output_rows": counts.output_rows, "committed_at": time.time()}
    return output, quarantine, info


def dead_letter_path(node: "NodePlan", root: str) -> str:
    """A node's dead-letter table (see :func:`kappa.checkpoint.ownership.dead_letter_path`)."""
    return node.layout.dead_letters
