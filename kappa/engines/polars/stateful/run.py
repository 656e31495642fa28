"""One micro-batch of a stateful node's steps on Polars (see :mod:`kappa.engines.polars.stateful`).

:func:`run_stateful` runs the node's steps in order: stateless steps as the engine does; at the
``with_watermark`` step it records the batch's maximum event time (the step itself is a no-op);
at an operator's step it runs the dedup or aggregate against the previous committed state. It
returns the output, the new :class:`StateSnapshot` (saved by the engine before the commit) and
the late rows. :func:`needs_no_data_batch` says whether Spark would run a no-data batch now.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kappa.engines.polars.stateful.store import StateSnapshot

if TYPE_CHECKING:  # pragma: no cover
    import polars as pl

    from kappa.plan import NodePlan
    from kappa.stateful.spec import AggregateSpec, StatefulPlan


@dataclass
class StatefulResult:
    output: "pl.LazyFrame"
    snapshot: StateSnapshot
    late_rows: int


def to_ms(us: int) -> int:
    """Microseconds to Spark's milliseconds (Java's long division truncates toward zero)."""
    return us // 1000 if us >= 0 else -((-us) // 1000)


def needs_no_data_batch(state: "StatefulPlan", snap: StateSnapshot) -> bool:
    """Spark's ``shouldRunAnotherBatch``: a watermark is defined upstream of an operator that
    evicts or emits with it, and the next batch's watermark is ahead of the last batch's."""
    from kappa.stateful.spec import AggregateSpec

    wm = state.watermark
    if wm is None or snap.batch_id is None or snap.next_watermark <= snap.watermark:
        return False
    ops = [op for op in state.operators if op.step > wm.step]
    if state.output_mode == "complete":
        ops = [op for op in ops if not isinstance(op, AggregateSpec)]
    return bool(ops)


def _agg_types(split, pre: "pl.DataFrame") -> dict[int, Any]:
    """Spark's type of each aggregate call, by running it alone on an empty pre-stage frame."""
    import polars as pl

    from kappa.sql.polars_exec import run_sql

    types: dict[int, Any] = {}
    empty = pre.clear().lazy()
    for j, call in enumerate(split.calls):
        if call.func == "count":
            types[j] = pl.Int64
        elif call.func in ("sum", "avg"):
            types[j] = run_sql(f"SELECT {call.func}({call.args[0]}) AS c FROM __kappa_pre", {"__kappa_pre": empty}).collect_schema()["c"]
        else:
            types[j] = pre.schema[call.args[0]]
    return types


_SPLITS: dict[tuple, tuple] = {}  # (sql, input schema) -> (split, types): a run's batches reuse them


def _aggregate(node: "NodePlan", op: "AggregateSpec", sql: str, tables: dict, state, late, evict):
    from kappa.engines.polars.stateful.aggregate import run_aggregate
    from kappa.engines.polars.stateful.sqlsplit import split_aggregate
    from kappa.sql.polars_exec import run_sql

    key = (sql, node.name, tuple((n, str(t)) for n, t in tables["__kappa_df"].collect_schema().items()))
    if key not in _SPLITS:
        empty = {"__kappa_df": tables["__kappa_df"].clear()}
        split = split_aggregate(sql, node.name, namer=lambda q: run_sql(q, empty).collect_schema().names(), columns=[k for k, _ in key[2]])
        _SPLITS.clear()  # one node's entry at a time: bounded
        _SPLITS[key] = (split, None)
    split, types = _SPLITS[key]
    pre = run_sql(split.pre_sql, tables).collect()
    if types is None:
        types = _SPLITS[key] = (split, _agg_types(split, pre))
        types = types[1]
    out, new_state, late_rows, change = run_aggregate(op, split, pre, state, types, node.state.output_mode, late, evict)
    final = run_sql(split.final_sql, {"__kappa_state": out.lazy()})
    return final, new_state, late_rows, change


def run_stateful(node: "NodePlan", frame: "pl.LazyFrame", refs: dict, prev: StateSnapshot) -> StatefulResult:
    """Run ``node``'s steps over one batch against the state of the last committed batch."""
    from kappa.engines.polars.stateful.dedup import event_us, run_dedup
    from kappa.sql.polars_exec import run_sql
    from kappa.sql.refs import render
    from kappa.stateful.spec import DedupSpec
    from kappa.transform.methods import apply_method

    state = node.state
    wm = state.watermark
    ops = {op.step: (f"op{k}", op) for k, op in enumerate(state.operators)}
    late, evict = prev.watermark, prev.next_watermark  # Spark 3.4+: late by the previous batch's watermark
    frames: "dict[str, pl.DataFrame]" = {}
    changes: dict = {}
    batch_max: int | None = None
    late_rows = 0
    ref_tables = {ref: f"__kappa_node_{i}" for i, ref in enumerate(node.sql_refs)}
    for step in node.steps:
        if wm is not None and step.index == wm.step:
            frame = frame.collect().lazy()
            batch_max = frame.select(event_us(frame, wm.column).max()).collect().item()
            continue
        downstream = wm is not None and step.index > wm.step
        if step.index in ops:
            name, op = ops[step.index]
            data = frame.collect()
            if isinstance(op, DedupSpec):
                out, new_state, n, change = run_dedup(op, data, prev.frames.get(name), wm.column if downstream else None,
                                              wm.delay_us if wm else 0, late if downstream else None, evict if downstream else None)
                frame = out.lazy()
            else:
                sql = render(step.sql, "__kappa_df", ref_tables)
                tables = {"__kappa_df": data.lazy(), **{ref_tables[r]: refs[r] for r in step.refs}}
                # a window on the watermarked column is bounded by the watermark (late rows,
                # eviction); any other aggregate keeps every group (Spark: no watermark on its keys)
                bounded = downstream and op.window is not None and op.window.column == wm.column
                frame, new_state, n, change = _aggregate(node, op, sql, tables, prev.frames.get(name),
                                                 late if bounded else None, evict if bounded else None)
            frames[name] = new_state
            changes[name] = change
            late_rows += n
        elif step.kind == "sql":
            sql = render(step.sql, "__kappa_df", ref_tables)
            frame = run_sql(sql, {"__kappa_df": frame, **{ref_tables[r]: refs[r] for r in step.refs}})
        else:
            frame = apply_method(frame, step.func_name, step.func_args, step.func_kwargs)
    next_wm = prev.next_watermark
    if wm is not None and batch_max is not None:
        next_wm = max(next_wm, to_ms(batch_max) * 1000 - wm.delay_us)  # Spark's watermark is in ms
    max_et = prev.max_event_time if batch_max is None else max(batch_max, prev.max_event_time or batch_max)
    snap = StateSnapshot(None, prev.next_watermark, next_wm, max_et, frames, changes=changes, base=prev.batch_id)
    return StatefulResult(frame, snap, late_rows)
