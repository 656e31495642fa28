"""String -> timestamp casts of input columns, hoisted out of the SQL into derived input columns.

Design note. ``CAST(<string> AS TIMESTAMP)`` costs ten times more through Polars SQL's cast (format
inference for every value) than through :func:`kappa.sql._ts_parse.parse_timestamps` (a fixed
format first, inference for the rest). Polars SQL cannot call a Python function, so the cast is
moved out of the statement: when its argument is a column or struct field of an input table (not
of a CTE or subquery, not a correlated reference), the statement reads a derived column of that
table instead (``"x"."__kappa_ts_0"``), and :func:`kappa.sql.polars_exec.run_sql` adds that column
to the input's LazyFrame before running it (Polars computes it only if read; one derived column
per table, path and strictness, shared by every cast of the same field).

The tree is qualified first (:func:`kappa.sql.translate._annotate`): every column names its
table alias and ``SELECT *`` is expanded, so a derived column can never leak into an output
through a star. :func:`tag_base_columns` marks, scope by scope, the columns whose alias is an
input table; :class:`HoistedCasts` turns a marked cast argument into the derived column.
"""

from __future__ import annotations

from typing import Iterable, Mapping

from sqlglot import exp

from kappa.sql._ts_parse import Derived

_BASE = "kappa_base"
PREFIX = "__kappa_ts_"


def tag_base_columns(tree: exp.Expression, tables: Iterable[str]) -> None:
    """Mark every column of ``tree`` that reads an input table (by its alias in its own scope)."""
    from sqlglot.optimizer.scope import traverse_scope

    inputs = set(tables)
    for scope in traverse_scope(tree):
        for column in scope.columns:
            source = scope.sources.get(column.table)
            if isinstance(source, exp.Table) and source.name in inputs:
                column.meta[_BASE] = source.name


def _path(node: exp.Expression) -> tuple[exp.Column, tuple[str, ...]] | None:
    """(column, field path) of a column or a struct-field chain ``a.b.c`` of a marked column."""
    fields: list[str] = []
    while isinstance(node, exp.Dot):
        if not isinstance(node.expression, exp.Identifier):
            return None
        fields.append(node.expression.name)
        node = node.this
    if not isinstance(node, exp.Column) or _BASE not in node.meta or not node.table:
        return None
    return node, (node.name, *reversed(fields))


class HoistedCasts:
    """The derived columns a statement's translation asks for (see the module docstring)."""

    def __init__(self, schemas: Mapping[str, Mapping[str, str]]):
        self.taken = {name for columns in schemas.values() for name in columns}
        self.derived: dict[tuple[str, tuple[str, ...], bool], Derived] = {}

    def column(self, src: exp.Expression, *, strict: bool) -> exp.Column | None:
        """The derived column replacing ``CAST(src AS TIMESTAMP)``, or None to keep the cast."""
        found = _path(src)
        if found is None:
            return None
        column, path = found
        key = (column.meta[_BASE], path, strict)
        if key not in self.derived:
            n = len(self.derived)
            while f"{PREFIX}{n}" in self.taken:
                n += 1
            self.taken.add(f"{PREFIX}{n}")
            self.derived[key] = Derived(table=key[0], path=path, name=f"{PREFIX}{n}", strict=strict)
        return exp.column(self.derived[key].name, table=column.table, quoted=True)
