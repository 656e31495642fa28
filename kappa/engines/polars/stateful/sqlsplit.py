"""Split a streaming aggregate SQL step into a pre-stage and a final stage (sqlglot rewrite).

``SELECT <items> FROM __kappa_df WHERE w GROUP BY window(ts, ...), k, f(x) HAVING h`` becomes

- the pre-stage ``SELECT k AS __g0, f(x) AS __g1, ts AS __t, <arg> AS __a<j>_<i> ... FROM __kappa_df WHERE w``
  (run per batch through kappa's Spark-SQL translator, so keys and arguments have Spark's values
  and types); the partial aggregates are computed over its output;
- the final stage ``SELECT <items'> FROM __kappa_state WHERE h'`` where every aggregate call is
  replaced by its merged column ``__agg<j>``, every grouping expression by ``__g<i>`` and the
  window call by the window column; unaliased items keep the name Spark gives them (read from
  the translator on an empty frame).

``window`` is a keyword to sqlglot, so ``window(`` is renamed ``__kappa_window(`` before parsing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kappa.errors import ConfigError

WINDOW_FUNC = "__kappa_window"
_WINDOW_CALL = re.compile(r"(?<![\w.])window\s*\(", re.IGNORECASE)
AGG_FUNCS = {"count", "sum", "min", "max", "avg", "min_by", "max_by"}


@dataclass(frozen=True)
class Call:
    """One distinct aggregate call: ``func`` over pre-stage columns ``args``."""

    func: str
    args: tuple[str, ...]
    sql: str


@dataclass(frozen=True)
class SplitSql:
    pre_sql: str
    keys: tuple[str, ...]  # pre-stage key columns (__g<i>)
    calls: tuple[Call, ...]
    final_sql: str
    probe_sql: str  # the query without the window, for the output names (None-safe)
    window_name: str | None
    time_sql: str | None


def _func_name(node) -> str | None:
    from sqlglot import exp

    names = {exp.Count: "count", exp.Sum: "sum", exp.Min: "min", exp.Max: "max", exp.Avg: "avg",
             exp.ArgMin: "min_by", exp.ArgMax: "max_by"}
    for cls, name in names.items():
        if isinstance(node, cls):
            return name
    if isinstance(node, exp.Anonymous) and str(node.this).lower() in AGG_FUNCS:
        return str(node.this).lower()
    return None


def _is_window(node) -> bool:
    from sqlglot import exp

    return isinstance(node, exp.Anonymous) and str(node.this).lower() in (WINDOW_FUNC, "session_window")


def split_aggregate(sql: str, node: str, namer=None, columns: "list[str] | None" = None) -> SplitSql:
    """The pre-stage and final-stage SQL of an aggregate step (see the module doc); ``namer(sql)``
    gives the output names of the probe query (the step without its window items); ``columns``
    the input's columns (to tell a GROUP BY alias from a column)."""
    import sqlglot
    from sqlglot import exp

    tree = sqlglot.parse_one(_WINDOW_CALL.sub(f"{WINDOW_FUNC}(", sql), read="spark")
    if not isinstance(tree, exp.Select):
        raise ConfigError(f"node {node!r}: a streaming aggregate must be one SELECT ... GROUP BY")
    group = tree.args.get("group")
    groups = list(group.expressions) if group is not None else []
    if columns is not None:  # GROUP BY a select alias (Spark: input columns first, then aliases)
        aliases = {i.alias: i.this for i in tree.expressions if isinstance(i, exp.Alias)}
        groups = [aliases[g.name].copy() if isinstance(g, exp.Column) and not g.table and g.name not in columns
                  and g.name in aliases else g for g in groups]
    window = next((g for g in groups if _is_window(g)), None)
    keys = [g for g in groups if not _is_window(g)]
    window_name = None if window is None else ("session_window" if str(window.this).lower() == "session_window" else "window")

    calls: list[Call] = []
    call_nodes: dict[str, int] = {}
    pre_items = [k.copy().as_(f"__g{i}") for i, k in enumerate(keys)]
    time_sql = None
    if window is not None:
        time_sql = window.expressions[0].sql(dialect="spark")
        pre_items.append(window.expressions[0].copy().as_("__t"))
    targets = list(tree.expressions) + ([tree.args["having"].this] if tree.args.get("having") else [])
    for target in targets:
        for agg in list(target.find_all(exp.AggFunc, exp.Anonymous)):
            func = _func_name(agg)
            if func is None:
                continue
            if agg.find(exp.Distinct):
                raise ConfigError("Distinct aggregations are not supported on streaming DataFrames/Datasets")
            text = agg.sql(dialect="spark")
            if text in call_nodes:
                continue
            j = len(calls)
            call_nodes[text] = j
            args = [a for a in ([agg.this] + list(agg.expressions) + [agg.args.get("expression")])
                    if a is not None and not isinstance(a, exp.Star)]
            if func == "count" and args and isinstance(args[0], exp.Literal):
                args = []  # count(1)
            cols = []
            for i, a in enumerate(args):
                pre_items.append(a.copy().as_(f"__a{j}_{i}"))
                cols.append(f"__a{j}_{i}")
            calls.append(Call(func, tuple(cols), text))

    pre = tree.copy()
    for arg in ("group", "having", "order", "limit", "distinct"):
        pre.set(arg, None)
    pre.set("expressions", pre_items or [exp.Literal.number(1).as_("__one")])

    def replace(node_):
        if isinstance(node_, (exp.AggFunc, exp.Anonymous)) and node_.sql(dialect="spark") in call_nodes:
            return exp.column(f"__agg{call_nodes[node_.sql(dialect='spark')]}")
        if _is_window(node_):
            return exp.column(window_name)
        for i, k in enumerate(keys):
            if node_ == k:
                return exp.column(f"__g{i}")
        return node_

    probe = tree.copy()
    kept = [n for n, i in enumerate(tree.expressions) if not any(_is_window(x) or _refs_window(x, window_name) for x in i.walk())]
    probe.set("expressions", [tree.expressions[n].copy() for n in kept] or [exp.Literal.number(1).as_("__one")])
    if group is not None:
        probe.set("group", exp.Group(expressions=[k.copy() for k in keys]) if keys else None)
    probe.set("having", None)
    probe_sql = probe.sql(dialect="spark")
    try:
        names = namer(probe_sql) if namer is not None else None
    except Exception:  # noqa: BLE001 - e.g. min_by, which the translator refuses: sqlglot's names
        names = None

    final = tree.copy()
    items = []
    for item in final.expressions:
        name = item.alias_or_name
        new = item.transform(replace)
        if not isinstance(item, exp.Alias):
            n = len(items)
            if names is not None and n in kept:
                name = names[kept.index(n)]
            new = new.as_(name or item.sql(dialect="spark"))
        items.append(new)
    final.set("expressions", items)
    from_key = "from_" if "from_" in final.args else "from"
    final.set(from_key, exp.From(this=exp.to_table("__kappa_state")))
    for arg in ("joins", "group", "where", "laterals"):
        final.set(arg, None)
    having = final.args.get("having")
    final.set("having", None)
    if having is not None:
        final.set("where", exp.Where(this=having.this.transform(replace)))

    return SplitSql(pre.sql(dialect="spark"), tuple(f"__g{i}" for i in range(len(keys))), tuple(calls),
                    final.sql(dialect="spark"), probe_sql, window_name, time_sql)


def _refs_window(node, window_name: str | None) -> bool:
    from sqlglot import exp

    if window_name is None or not isinstance(node, exp.Column):
        return False
    return window_name in (node.name, node.table)
