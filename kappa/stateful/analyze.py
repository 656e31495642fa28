"""Build a streaming node's :class:`~kappa.stateful.spec.StatefulPlan` from its steps, with Spark's rules.

Design note: one pure function, :func:`analyze`, reads the steps (plan steps or the spec's
models: anything with ``sql``/``expr`` or ``func_name``/``func_args``/``func_kwargs``) and returns
the plan and the problems found, each with the field it is about (``transformer.nodes[2]``,
``output_mode``). The spec's pipeline check (:mod:`kappa.models.checks`) turns them into
located config issues, so ``kappa validate`` reports them with file and line;
:func:`stateful_plan` (called by :func:`kappa.plan.build_plan`) raises them as
:class:`StatefulConfigError`. Messages name the node and the step index (``NodePlan.steps``).

Rules (Spark's, see the README's "Incremental state"): only a streaming node has state;
``with_watermark`` at most once; ``unique``/``drop_duplicates`` keep ``any`` only;
``drop_duplicates_within_watermark`` after a watermark; at most one aggregate step, its outermost
SELECT; the output mode defaults to ``append``, ``update`` for an aggregate whose keys the
watermark does not bound (no watermark before it, or no window over / key on the watermark
column); ``complete`` needs an aggregate, ``append`` with an aggregate needs that bound; no
stateful step on a Kafka source (its dead letters are decided in the batch).

>>> from types import SimpleNamespace as S
>>> steps = [S(func_name="with_watermark", func_args=[], func_kwargs={"column": "ts", "delay": "10 minutes"}),
...          S(sql="SELECT k, window(ts, '1 hour') AS window, count(*) AS n FROM {df} GROUP BY k, window(ts, '1 hour')")]
>>> plan = stateful_plan("agg", steps, streaming=True)
>>> plan.output_mode, plan.watermark.delay_us, plan.upsert_keys
('append', 600000000, ('k', 'window'))
>>> stateful_plan("agg", steps, streaming=False) is None
True
"""

from __future__ import annotations

import inspect
from typing import Any, Sequence

from kappa.errors import ConfigError, ConfigIssue
from kappa.stateful.intervals import IntervalError, delay_us
from kappa.stateful.spec import AggregateSpec, DedupSpec, StatefulPlan, WatermarkSpec

OUTPUT_MODES = ("append", "update", "complete")
DEDUP_METHODS = frozenset({"unique", "drop_duplicates"})
STATE_METHODS = frozenset({"with_watermark", "drop_duplicates_within_watermark"}) | DEDUP_METHODS
COMPLETE_NEEDS_AGGREGATE = "Complete output mode not supported when there are no streaming aggregations on streaming DataFrames/Datasets"
APPEND_NEEDS_WATERMARK = ("Append output mode not supported when there are streaming aggregations on streaming "
                          "DataFrames/DataSets without watermark")
KAFKA_INFERRED = ("stateful steps on a Kafka source need the value's declared `schema` (the decoded columns must be "
                  "known before the stream starts; an inferred schema can change from batch to batch): declare "
                  "`schema:` on the source, or read the bronze table (source node_name: ..., as_stream: true)")
KAFKA_DEBEZIUM = ("stateful steps on a Debezium source are not supported (a change feed is replayed into a table by a "
                  "CDC merge sink): read the mirror table instead (source node_name: ..., as_stream: true)")
SESSION_NOT_UPDATE = ("Invalid streaming output mode: update. This output mode is not supported for session window "
                      "streaming aggregations")
MATERIALIZED_VIEW = "materialized view (full recompute)"


class StatefulConfigError(ConfigError):
    """A streaming node's stateful steps break one of Spark's rules (``node``, ``step`` say where)."""

    def __init__(self, issues: list[ConfigIssue], node: str, step: int | None):
        super().__init__(issues)
        self.node, self.step = node, step


def _with_watermark(column=None, delay=None):  # the signatures method steps bind to
    pass


def _unique(subset=None, keep="any", order_by=None):
    pass


def _subset_only(subset=None):
    pass


_SIGNATURES = {"with_watermark": _with_watermark, "unique": _unique, "drop_duplicates": _subset_only,
               "drop_duplicates_within_watermark": _subset_only}


#: source kinds (:func:`stateful_source_kind`) whose stateful steps are refused, with the reason
KAFKA_REFUSALS = {"kafka_inferred": KAFKA_INFERRED, "kafka_debezium": KAFKA_DEBEZIUM}


def stateful_source_kind(src: Any) -> str | None:
    """The kind of a node's source as :func:`analyze` judges it (a source plan or a source model).

    A Kafka source may feed stateful steps when its decoded columns are known before the stream
    starts: ``value_format: raw``, or ``json`` with a declared ``schema`` (Spark decodes it in
    the streaming plan; a stateful operator's input schema is fixed for the query's life). An
    inferred JSON schema is ``kafka_inferred`` and Debezium ``kafka_debezium``: both refused."""
    if src is None:
        return None
    kind = getattr(src, "kind", None) or getattr(src, "type", None)
    if kind != "kafka":
        return kind
    fmt = getattr(src, "value_format", "json")
    schema = getattr(src, "schema_", None) if hasattr(src, "schema_") else getattr(src, "schema", None)
    if fmt == "debezium":
        return "kafka_debezium"
    if fmt == "json" and not schema:
        return "kafka_inferred"
    return "kafka"


def _view(step: Any) -> tuple[str | None, str | None, list, dict]:
    """``(sql, func_name, args, kwargs)`` of a plan step or a step model."""
    sql = getattr(step, "sql", None) or getattr(step, "expr", None)
    if sql:
        return sql, None, [], {}
    return None, getattr(step, "func_name", None), list(getattr(step, "func_args", None) or []), dict(getattr(step, "func_kwargs", None) or {})


def _subset(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not all(isinstance(c, str) for c in items):
        raise ValueError(f"subset must be column names, got {value!r}")
    return tuple(items)


def _index(step: Any, position: int) -> int:
    index = getattr(step, "index", None)
    return index if isinstance(index, int) else position


def analyze(node: str, steps: Sequence[Any], *, streaming: bool, source_kind: str | None = None,
            output_mode: str | None = None) -> tuple[StatefulPlan | None, list[tuple[str, str]]]:
    """The node's stateful plan (None: stateless or not streaming) and its problems as
    ``(field, message)`` pairs, ``field`` relative to the node (``transformer.nodes[2]``)."""
    from kappa.stateful.sql_shape import ShapeError, aggregate_shape, nested_stream_aggregate

    problems: list[tuple[str, str]] = []
    wm: WatermarkSpec | None = None
    ops: list[DedupSpec | AggregateSpec] = []
    bounded_columns: dict[int, tuple[str, ...]] = {}
    first_stateful: int | None = None

    def bad(i: int, message: str) -> None:
        problems.append((f"transformer.nodes[{i}]", f"node {node!r} step {i}: {message}"))

    for position, step in enumerate(steps):
        i = _index(step, position)
        sql, name, args, kwargs = _view(step)
        if name in STATE_METHODS:
            try:
                bound = inspect.signature(_SIGNATURES[name]).bind(*args, **kwargs).arguments
                subset = _subset(bound.get("subset"))
            except (TypeError, ValueError) as err:
                bad(i, f"{name}: {err}")
                continue
            if name == "with_watermark":
                column, delay = bound.get("column"), bound.get("delay")
                if not isinstance(column, str) or not column:
                    bad(i, f"with_watermark: `column` must name the event-time column, got {column!r}")
                    continue
                try:
                    us = delay_us(delay)
                except IntervalError as err:
                    bad(i, f"with_watermark: `delay`: {err}")
                    continue
                if us < 0:
                    bad(i, f"with_watermark: delay threshold ({delay}) should not be negative.")
                    continue
                if wm is not None:
                    bad(i, f"a node takes one with_watermark step (also step {wm.step})")
                    continue
                wm = WatermarkSpec(step=i, column=column, delay=str(delay), delay_us=us)
            elif not streaming:
                continue
            elif name in DEDUP_METHODS:
                keep = bound.get("keep", "any")
                if keep != "any":
                    bad(i, f"{name} keep={keep!r} has no streaming equivalent in Spark (a streaming dedup keeps the "
                           "first row of each key over the whole stream): use keep: any")
                    continue
                ops.append(DedupSpec(step=i, subset=subset))
            else:
                if wm is None:
                    bad(i, "drop_duplicates_within_watermark needs a with_watermark step before it")
                    continue
                ops.append(DedupSpec(step=i, subset=subset, within_watermark=True))
            first_stateful = i if first_stateful is None else first_stateful
        elif sql and streaming:
            if nested_stream_aggregate(sql):
                bad(i, "a streaming aggregate must be the outermost SELECT of its step (put the aggregate in a step of its own)")
                continue
            try:
                shape = aggregate_shape(sql)
            except ShapeError as err:
                bad(i, str(err))
                continue
            if shape is None:
                continue
            previous = next((op.step for op in ops if isinstance(op, AggregateSpec)), None)
            if previous is not None:
                bad(i, f"a streaming node takes one aggregate step (also step {previous})")
                continue
            ops.append(AggregateSpec(step=i, keys=shape.keys, window=shape.window, window_output=shape.window_output,
                                     calls=shape.calls, window_fields=shape.window_fields))
            cols = tuple(col for _, col in shape.key_columns) + ((shape.window.column,) if shape.window else ())
            bounded_columns[i] = cols
            first_stateful = i if first_stateful is None else first_stateful

    if not streaming:
        if output_mode is not None:
            problems.append(("output_mode", f"node {node!r}: output_mode applies to streaming nodes "
                                            "(this node reads its source whole on each run)"))
        return None, problems
    if source_kind in KAFKA_REFUSALS and first_stateful is not None:
        bad(first_stateful, KAFKA_REFUSALS[source_kind])
    agg = next((op for op in ops if isinstance(op, AggregateSpec)), None)
    bounded = bool(agg and wm and wm.step < agg.step and wm.column in bounded_columns.get(agg.step, ()))
    mode = output_mode or ("update" if agg is not None and not bounded else "append")
    if mode not in OUTPUT_MODES:
        problems.append(("output_mode", f"node {node!r}: output_mode must be append, update or complete, got {mode!r}"))
    elif mode == "complete" and agg is None:
        problems.append(("output_mode", f"node {node!r}: {COMPLETE_NEEDS_AGGREGATE}"))
    elif mode == "update" and agg is not None and agg.window is not None and agg.window.kind == "session":
        problems.append(("output_mode", f"node {node!r} step {agg.step}: {SESSION_NOT_UPDATE} (Spark's rule: use "
                                        f"append with a watermark on the session's time column, or complete)"))
    elif mode == "append" and agg is not None and not bounded:
        problems.append(("output_mode", f"node {node!r} step {agg.step}: {APPEND_NEEDS_WATERMARK} "
                                        f"(append emits a group once, when the watermark passes it: group by a window over "
                                        f"the watermark column, or use output_mode update)"))
    if wm is None and not ops:
        return None, problems
    return StatefulPlan(output_mode=mode, watermark=wm, operators=tuple(ops)), problems  # type: ignore[arg-type]


def stateful_plan(node: str, steps: Sequence[Any], *, streaming: bool, source_kind: str | None = None,
                  output_mode: str | None = None) -> StatefulPlan | None:
    """:func:`analyze`, raising its problems as one :class:`StatefulConfigError`."""
    plan, problems = analyze(node, steps, streaming=streaming, source_kind=source_kind, output_mode=output_mode)
    if problems:
        step = next((int(f.split("[")[1].rstrip("]")) for f, _ in problems if f.startswith("transformer.nodes[")), None)
        raise StatefulConfigError([ConfigIssue(message) for _, message in problems], node, step)
    return plan


def node_issues(node: Any, path: str) -> list[ConfigIssue]:
    """The stateful problems of a node model (:class:`kappa.models.PipelineNode`), located under
    ``path`` (``nodes[3]``)."""
    src = node.source
    streaming = bool(src is not None and src.streaming)
    _, problems = analyze(node.name, node.steps, streaming=streaming, source_kind=stateful_source_kind(src),
                          output_mode=getattr(node, "output_mode", None))
    return [ConfigIssue(message, path=f"{path}.{field}") for field, message in problems]


def default_upsert_keys(node: Any) -> tuple[str, ...]:
    """The keys an upsert sink of a node model defaults to (its streaming aggregate's), else ``()``."""
    src = node.source
    if src is None or not src.streaming:
        return ()
    plan, problems = analyze(node.name, node.steps, streaming=True, source_kind=stateful_source_kind(src),
                             output_mode=getattr(node, "output_mode", None))
    return plan.upsert_keys if plan is not None else ()


def is_materialized_view(node: Any) -> bool:
    """Whether a node plan is a non-streaming node with an aggregate step (recomputed whole on each run)."""
    from kappa.stateful.sql_shape import is_aggregate_step

    if node.streaming:
        return False
    return any(getattr(s, "kind", None) == "sql" and s.sql and is_aggregate_step(s.sql) for s in node.steps)
