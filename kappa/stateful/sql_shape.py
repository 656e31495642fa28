"""The shape of an aggregate SQL step: grouping keys as output names, the time window, the calls.

Design note: a SQL step is parsed with sqlglot (kappa's Spark dialect, :mod:`kappa.sql._dialect`)
after ``{df}`` / ``{nodes.x}`` are rendered to plain table names. sqlglot reads
``GROUP BY window(...)`` as the start of a ``WINDOW`` clause, so calls of ``window(`` are renamed
(outside literals and comments) to ``__kappa_window(`` first (:func:`protect_window_calls`).

A step *aggregates* when its outermost SELECT has a ``GROUP BY`` or aggregate calls (outside
``OVER`` windows). Each ``GROUP BY`` expression (an ordinal, an expression, or a SELECT alias)
is matched to the SELECT item with the same expression and named as Spark names that output
column: its alias, a column's name, a struct field's last part, ``window`` for ``window(...)``,
``session_window`` for ``session_window(...)``, else the expression's SQL. A window that is not
selected whole may be selected as ``window.start`` / ``window.end`` (as in Spark's docs).

>>> shape = aggregate_shape("SELECT k, window(ts, '1 hour') AS w, count(*) AS n FROM {df} GROUP BY window(ts, '1 hour'), k")
>>> shape.keys, shape.window_output, shape.window.size_us, [c.func for c in shape.calls]
(('w', 'k'), 'w', 3600000000, ['count'])
>>> aggregate_shape("SELECT k FROM {df} WHERE k > 1") is None
True
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from kappa.stateful.intervals import IntervalError, interval_us
from kappa.stateful.spec import AggregateCall, WindowSpec

DF_TABLE = "__kappa_df"
WINDOW_FN = "__kappa_window"
DISTINCT_MESSAGE = "Distinct aggregations are not supported on streaming DataFrames/Datasets"
SUPPORTED_CALLS = ("count", "sum", "min", "max", "avg", "min_by", "max_by")
_WINDOW_CALL = re.compile(r"\bwindow(\s*\()", re.IGNORECASE)


class ShapeError(ValueError):
    """An aggregate step in a form kappa's streaming state does not take (the message says why)."""


@dataclass(frozen=True)
class AggregateShape:
    """What :func:`aggregate_shape` finds in an aggregate step."""

    keys: tuple[str, ...]
    window: WindowSpec | None = None
    window_output: str | None = None
    #: ``(output name, "start"|"end")`` of the window's fields selected instead of the struct
    window_fields: tuple[tuple[str, str], ...] = ()
    calls: tuple[AggregateCall, ...] = ()
    #: ``(output name, input column)`` of the keys that are plain input columns
    key_columns: tuple[tuple[str, str], ...] = ()


def protect_window_calls(sql: str) -> str:
    """``sql`` with ``window(`` calls renamed ``__kappa_window(`` outside literals and comments."""
    from kappa.sql.refs import _segments

    return "".join(_WINDOW_CALL.sub(WINDOW_FN + r"\1", text) if code else text for code, text in _segments(sql))


@functools.lru_cache(maxsize=512)
def parse_step(sql: str):
    """The sqlglot tree of a SQL step (``{df}`` as ``__kappa_df``), or None when it does not parse."""
    import sqlglot

    from kappa.sql._dialect import SparkIn
    from kappa.sql.refs import node_refs, render

    try:
        text = render(sql, DF_TABLE, {ref: f"__kappa_node_{ref}" for ref in node_refs(sql)})
        return sqlglot.parse_one(protect_window_calls(text), read=SparkIn)
    except Exception:  # noqa: BLE001 - unparsable SQL is reported where the step runs
        return None


def _sql(node) -> str:
    from kappa.sql._dialect import SparkIn

    return node.sql(dialect=SparkIn).replace(WINDOW_FN.upper() + "(", "window(").replace(WINDOW_FN + "(", "window(")


def _fn_name(node) -> str | None:
    from sqlglot import exp

    if isinstance(node, exp.Anonymous):
        name = str(node.this).lower()
        return "window" if name == WINDOW_FN else name
    return None


def _agg_calls(select) -> list:
    """The aggregate calls of ``select`` itself (not of its subqueries nor ``OVER`` windows)."""
    from sqlglot import exp

    parts = list(select.expressions) + ([select.args["having"]] if select.args.get("having") else [])
    out = []
    for part in parts:
        for node in part.walk():
            if isinstance(node, exp.AggFunc) and node.find_ancestor(exp.Window, exp.Select) is select:
                out.append(node)
            elif _fn_name(node) == "mean" and node.find_ancestor(exp.Window, exp.Select) is select:
                out.append(node)
    return out


def _aggregates(select) -> bool:
    return bool(select.args.get("group")) or bool(_agg_calls(select))


def _reads_df(node, ctes: dict) -> bool:
    from sqlglot import exp

    for table in node.find_all(exp.Table):
        if table.name == DF_TABLE or (table.name in ctes and ctes[table.name]):
            return True
    return False


@functools.lru_cache(maxsize=512)  # a pure function of the text: every run asks again
def is_aggregate_step(sql: str) -> bool:
    """Whether a SQL step aggregates (its outermost SELECT groups or calls aggregates). Every run
    asks it of each batch node's steps: the answer persists in :mod:`kappa.sql.cache` (no sqlglot
    import when the step was seen before)."""
    from kappa.sql.cache import fact

    return fact("is_aggregate_step", sql, _is_aggregate_step)


def _is_aggregate_step(sql: str) -> bool:
    from sqlglot import exp

    tree = parse_step(sql)
    return isinstance(tree, exp.Select) and _aggregates(tree)


def _cte_reads(tree) -> dict:
    from sqlglot import exp

    ctes: dict = {}
    for cte in tree.find_all(exp.CTE):
        ctes[cte.alias_or_name] = _reads_df(cte.this, ctes)
    return ctes


@functools.lru_cache(maxsize=512)  # a pure function of the text: every run asks again
def nested_stream_aggregate(sql: str) -> bool:
    """Whether a subquery, CTE or UNION branch of the step (not its outermost SELECT) aggregates ``{df}``."""
    from sqlglot import exp

    tree = parse_step(sql)
    if tree is None:
        return False
    ctes = _cte_reads(tree)
    for select in tree.find_all(exp.Select):
        if select is tree:
            continue
        if _aggregates(select) and _reads_df(select, ctes):
            return True
    return False


def output_name(item) -> str:
    """The column name Spark gives a SELECT item."""
    from sqlglot import exp

    if isinstance(item, exp.Alias):
        return item.alias
    if isinstance(item, exp.Column):
        return item.name
    if isinstance(item, exp.Dot):
        return item.name
    fn = _fn_name(item)
    if fn in ("window", "session_window"):
        return fn
    return _sql(item)


def _interval_text(node, what: str) -> str:
    from sqlglot import exp

    if isinstance(node, exp.Literal) and node.is_string:
        return node.this
    if isinstance(node, exp.Interval):
        value = node.this.this if isinstance(node.this, exp.Literal) else _sql(node.this)
        unit = node.args.get("unit")
        return f"{value} {unit.name if unit is not None else ''}".strip()
    raise ShapeError(f"the {what} of a time window must be an interval literal such as '10 minutes', got {_sql(node)}")


def _us(text: str) -> int:
    try:
        return interval_us(text)
    except IntervalError as err:
        raise ShapeError(str(err)) from None


def window_spec(call) -> WindowSpec:
    """The :class:`WindowSpec` of a ``window(...)`` / ``session_window(...)`` call."""
    from sqlglot import exp

    fn, args = _fn_name(call), list(call.expressions)
    if not args or not isinstance(args[0], (exp.Column, exp.Dot)):
        raise ShapeError(f"{fn}(...) needs an event-time column as its first argument, got {_sql(call)}")
    column = args[0].name
    if fn == "session_window":
        if len(args) != 2:
            raise ShapeError(f"session_window(column, gap) takes 2 arguments, got {_sql(call)}")
        gap = _interval_text(args[1], "gap")
        gap_us = _us(gap)
        if gap_us <= 0:
            raise ShapeError(f"The session window gap ({gap}) must be greater than 0.")
        return WindowSpec(kind="session", column=column, gap=gap, gap_us=gap_us)
    if not 2 <= len(args) <= 4:
        raise ShapeError(f"window(column, size[, slide[, start]]) takes 2 to 4 arguments, got {_sql(call)}")
    size = _interval_text(args[1], "size")
    size_us = _us(size)
    if size_us <= 0:
        raise ShapeError(f"The window duration ({size}) must be greater than 0.")
    slide_us, slide = size_us, None
    if len(args) > 2:
        slide = _interval_text(args[2], "slide")
        slide_us = _us(slide)
        if slide_us <= 0:
            raise ShapeError(f"The slide duration ({slide}) must be greater than 0.")
        if slide_us > size_us:
            raise ShapeError(f"The slide duration ({slide}) must be less than or equal to the windowDuration ({size}).")
    start_us = 0
    if len(args) > 3:
        start = _interval_text(args[3], "start")
        start_us = _us(start)
        if abs(start_us) >= slide_us:
            raise ShapeError(f"The absolute value of start time ({start}) must be less than the slideDuration ({slide or size}).")
    sliding = slide_us != size_us
    return WindowSpec(kind="sliding" if sliding else "tumbling", column=column, size=size, size_us=size_us,
                      slide_us=slide_us if sliding else None, start_us=start_us, slide=slide if sliding else None)


def _call(node, outputs: dict) -> AggregateCall:
    from sqlglot import exp

    names = {exp.Count: "count", exp.Sum: "sum", exp.Min: "min", exp.Max: "max", exp.Avg: "avg", exp.ArgMin: "min_by", exp.ArgMax: "max_by"}
    if node.find(exp.Distinct):
        raise ShapeError(DISTINCT_MESSAGE)
    func = names.get(type(node))
    if func is None:
        raise ShapeError(f"aggregate {_sql(node)} is not supported in a streaming aggregate (supported: {', '.join(SUPPORTED_CALLS)})")
    if isinstance(node, exp.Count) and isinstance(node.this, exp.Star):
        args: tuple[str, ...] = ()
    else:
        args = tuple(_sql(a) for a in [node.this, node.args.get("expression")] if a is not None)
    return AggregateCall(func=func, args=args, sql=_sql(node), output=outputs.get(id(node)))


def _match(g, items: list) -> int | None:
    from sqlglot import exp

    if isinstance(g, exp.Literal) and not g.is_string and str(g.this).isdigit():
        n = int(g.this)
        if not 1 <= n <= len(items):
            raise ShapeError(f"GROUP BY position {n} is not in the select list (1..{len(items)})")
        return n - 1
    text = _sql(g)
    for i, item in enumerate(items):
        if _sql(item.unalias()) == text:
            return i
    if isinstance(g, exp.Column) and not g.table:
        for i, item in enumerate(items):
            if isinstance(item, exp.Alias) and item.alias == g.name:
                return i
    for i, item in enumerate(items):  # a qualified column selected unqualified, or the reverse
        inner = item.unalias()
        if isinstance(g, exp.Column) and isinstance(inner, exp.Column) and inner.name == g.name:
            return i
    return None


@functools.lru_cache(maxsize=512)  # a pure function of the text: every run asks again
def aggregate_shape(sql: str) -> AggregateShape | None:
    """The shape of an aggregate step over ``{df}`` (None: the step does not aggregate the stream;
    :class:`ShapeError` for a form kappa refuses in a streaming aggregate)."""
    from sqlglot import exp

    tree = parse_step(sql)
    if not isinstance(tree, exp.Select) or not _aggregates(tree) or not _reads_df(tree, _cte_reads(tree)):
        return None
    items = list(tree.expressions)
    outputs = {id(item.this): item.alias for item in items if isinstance(item, exp.Alias)}
    calls = tuple(_call(node, outputs) for node in _agg_calls(tree))
    keys: list[str] = []
    key_columns: list[tuple[str, str]] = []
    window = window_output = None
    fields: list[tuple[str, str]] = []
    group = tree.args.get("group")
    for g in (group.expressions if group else []):
        i = _match(g, items)
        expr = items[i].unalias() if i is not None else g
        fn = _fn_name(expr)
        if fn in ("window", "session_window"):
            if window is not None:
                raise ShapeError("Multiple time/session window expressions would result in a cartesian product of rows, "
                                 "therefore they are currently not supported.")
            window = window_spec(expr)
            if i is None:
                fields = [(output_name(it), it.unalias().name) for it in items
                          if isinstance(it.unalias(), exp.Column) and it.unalias().table == fn and it.unalias().name in ("start", "end")]
                if not fields:
                    raise ShapeError(f"GROUP BY {_sql(g)}: select the window (or {fn}.start / {fn}.end): "
                                     "a streaming aggregate outputs each of its grouping keys")
                keys.extend(name for name, _ in fields)
                continue
            window_output = output_name(items[i])
            keys.append(window_output)
            continue
        if i is None:
            raise ShapeError(f"GROUP BY {_sql(g)} is not in the select list: a streaming aggregate outputs each of its grouping keys")
        name = output_name(items[i])
        keys.append(name)
        if isinstance(expr, exp.Column):
            key_columns.append((name, expr.name))
    return AggregateShape(keys=tuple(keys), window=window, window_output=window_output, window_fields=tuple(fields),
                          calls=calls, key_columns=tuple(key_columns))
