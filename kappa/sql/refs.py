"""The ``{df}`` and ``{nodes.NAME}`` placeholders of a SQL step.

A SQL step names its input as ``{df}`` (the node's current DataFrame) and other nodes as
``{nodes.NAME}``. Placeholders are found outside string literals, quoted identifiers and comments
only, so ``WHERE note = '{not a placeholder}'`` stays as written.

>>> node_refs("SELECT * FROM {df} JOIN {nodes.users} u ON u.id = {df}.uid")
['users']
>>> render("SELECT * FROM {df} WHERE x = '{df}'", "t_1", {})
"SELECT * FROM t_1 WHERE x = '{df}'"
"""

from __future__ import annotations

import re
from typing import Iterator, Mapping

from kappa.sql.errors import SqlTemplateError

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_DF = re.compile(r"\s*df\s*")
_NODE = re.compile(r"\s*nodes\.([A-Za-z0-9_\-]+)\s*")
_SIMPLE_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


def _segments(sql: str) -> Iterator[tuple[bool, str]]:
    """Split ``sql`` into (is_code, text) pieces; literals, quoted names and comments are not code."""
    i, n, start = 0, len(sql), 0
    while i < n:
        ch = sql[i]
        end = None
        if ch in ("'", '"', "`"):
            j = i + 1
            while j < n:
                if sql[j] == "\\" and ch != "`":
                    j += 2
                    continue
                if sql[j] == ch:
                    if j + 1 < n and sql[j + 1] == ch:  # doubled quote
                        j += 2
                        continue
                    break
                j += 1
            end = min(j + 1, n)
        elif sql.startswith("--", i):
            j = sql.find("\n", i)
            end = n if j < 0 else j
        elif sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            end = n if j < 0 else j + 2
        if end is None:
            i += 1
            continue
        if start < i:
            yield True, sql[start:i]
        yield False, sql[i:end]
        i = start = end
    if start < n:
        yield True, sql[start:]


def _placeholders(sql: str) -> Iterator[str]:
    for is_code, text in _segments(sql):
        if is_code:
            for m in _PLACEHOLDER.finditer(text):
                yield m.group(1)


def node_refs(sql: str) -> list[str]:
    """Node names referenced as ``{nodes.NAME}``, in order of first appearance, without repeats."""
    out: list[str] = []
    for body in _placeholders(sql):
        m = _NODE.fullmatch(body)
        if m and m.group(1) not in out:
            out.append(m.group(1))
    return out


def uses_df(sql: str) -> bool:
    """Whether the statement reads ``{df}``."""
    return any(_DF.fullmatch(body) for body in _placeholders(sql))


def quote_identifier(name: str) -> str:
    """``name`` as a Spark SQL table identifier: kept when plain (``a`` or ``db.t``), else back-quoted."""
    if _SIMPLE_IDENT.fullmatch(name) or (name.startswith("`") and name.endswith("`") and len(name) > 1):
        return name
    return "`" + name.replace("`", "``") + "`"


def render(sql: str, df_table: str | None, node_tables: Mapping[str, str]) -> str:
    """Replace ``{df}`` and ``{nodes.NAME}`` with table identifiers.

    Raises :class:`SqlTemplateError` for ``{df}`` when ``df_table`` is None, for a node missing
    from ``node_tables``, and for any other ``{...}`` placeholder.
    """

    def replace(m: re.Match) -> str:
        body = m.group(1)
        if _DF.fullmatch(body):
            if df_table is None:
                raise SqlTemplateError("the SQL step uses {df} but this node has no input DataFrame")
            return quote_identifier(df_table)
        node = _NODE.fullmatch(body)
        if node:
            name = node.group(1)
            if name not in node_tables:
                known = ", ".join(sorted(node_tables)) or "none"
                raise SqlTemplateError(f"the SQL step references {{nodes.{name}}}: unknown node {name!r} (known: {known})")
            return quote_identifier(node_tables[name])
        raise SqlTemplateError(
            f"unknown placeholder {{{body}}} in SQL step (use {{df}} or {{nodes.NAME}})"
        )

    return "".join(_PLACEHOLDER.sub(replace, text) if is_code else text for is_code, text in _segments(sql))
