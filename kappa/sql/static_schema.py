"""The schema-dependent static checks of a SQL step (:mod:`kappa.sql.static_check`).

Design note: run only when the schema of every input of the step is known. Column names are
resolved scope by scope (sqlglot's scopes: a SELECT, a CTE, a subquery) against the inputs'
columns, the columns of derived tables and the SELECT's own aliases (Spark accepts an alias in
GROUP BY, HAVING and ORDER BY); a column found nowhere is reported where it is written, with a
did-you-mean. Names are case-sensitive, as on the replay. Then the step is translated and run on
empty frames of the input schemas (``pl.LazyFrame(schema=...)``, nothing is read): this is what
the replay does with real frames, so it gives the step's exact output schema, and an error the
replay would raise on any data.
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Any, Mapping

from kappa.sql.static_check import SqlProblem, _at

if TYPE_CHECKING:  # pragma: no cover
    from sqlglot import exp

    from kappa.sql.static_check import _Text

#: the name the replay gives ``{df}`` (:func:`kappa.engines.polars.engine.transform`)
RUN_DF = "__kappa_df"

def _shown_columns(cols: list[str]) -> str:
    return ", ".join(cols[:12]) + (", ..." if len(cols) > 12 else "")


def _hint(name: str, cols: list[str]) -> str:
    close = difflib.get_close_matches(name, cols, n=1, cutoff=0.6)
    if not close:
        close = [c for c in cols if c.lower() == name.lower()][:1]
    return f"; did you mean {close[0]!r}?" if close else ""


def _source_columns(source: Any, schemas: Mapping[str, Any]) -> list[str] | None:
    from sqlglot import exp
    from sqlglot.optimizer.scope import Scope

    if isinstance(source, exp.Table):
        schema = schemas.get(source.name)
        return list(schema.keys()) if schema is not None else None
    if isinstance(source, Scope):
        select = source.expression
        while isinstance(select, exp.SetOperation):
            select = select.left
        if not isinstance(select, exp.Select) or any(isinstance(p, exp.Star) or p.find(exp.Star) for p in select.expressions):
            return None
        return list(select.named_selects)
    return None


def _aliases(scope: Any) -> set[str]:
    from sqlglot import exp

    select = scope.expression
    if not isinstance(select, exp.Select):
        return set()
    return {p.alias for p in select.expressions if isinstance(p, exp.Alias)}


def unknown_columns(text: "_Text", tree: "exp.Expression", schemas: Mapping[str, Any]) -> list[SqlProblem]:
    """Columns of ``tree`` found in no input, derived table or alias (``schemas``: table -> Polars schema)."""
    from sqlglot import exp
    from sqlglot.optimizer.scope import traverse_scope

    problems: list[SqlProblem] = []
    try:
        scopes = traverse_scope(tree)
    except Exception:  # noqa: BLE001 - a shape sqlglot cannot scope: no schema check, no invented error
        return problems
    for scope in scopes:
        chain, s = [], scope
        while s is not None:
            chain.append(s)
            s = s.parent
        sources: dict[str, list[str] | None] = {}
        for level in reversed(chain):  # inner scopes shadow outer ones
            for name, source in level.sources.items():
                sources[name] = _source_columns(source, schemas)
        types = _table_types(chain, schemas)
        visible = [c for cols in sources.values() if cols is not None for c in cols]
        all_known = all(cols is not None for cols in sources.values())
        aliases = _aliases(scope)
        for column in scope.columns:
            if column.find_ancestor(exp.Select) is not scope.expression:
                continue  # a column of a subquery: checked in the subquery's own scope
            parts = [p.name for p in column.parts]
            if len(parts) > 1 and parts[0] in sources:
                table, (cols, name, fields) = parts[0], (sources[parts[0]], parts[1], parts[2:])
                where = text.user(parts[0])
            else:
                table, cols, name, fields, where = None, (visible if all_known else None), parts[0], parts[1:], None
                if name in aliases:
                    continue
            if cols is None:
                continue
            if name in cols:
                bad = _unknown_field(name, fields, types.get(table, {}) if table else _merged(types))
                if bad:
                    problems.append(_at(text.sql, column, bad))
                continue
            in_table = f" of {where}" if where else ""
            problems.append(_at(text.sql, column, f"unknown column {name!r}{_hint(name, cols)} (columns{in_table}: {_shown_columns(cols)})"))
    return problems


def _table_types(chain: list, schemas: Mapping[str, Any]) -> dict[str, dict]:
    """``{source name: {column: Polars type}}`` of the table sources visible in a scope."""
    from sqlglot import exp

    out: dict[str, dict] = {}
    for level in reversed(chain):
        for name, source in level.sources.items():
            if isinstance(source, exp.Table) and schemas.get(source.name) is not None:
                out[name] = dict(schemas[source.name])
    return out


def _merged(types: dict[str, dict]) -> dict:
    out: dict = {}
    for cols in types.values():
        out.update(cols)
    return out


def _unknown_field(column: str, fields: list[str], types: dict) -> str | None:
    """The message for a struct field path ``column.f.g`` that does not exist (None: fine or unknown)."""
    import polars as pl

    dtype, path = types.get(column), column
    for field in fields:
        if not isinstance(dtype, pl.Struct):
            return None
        names = [f.name for f in dtype.fields]
        if field not in names:
            return f"unknown field {field!r} of {path!r}{_hint(field, names)} (fields: {_shown_columns(names)})"
        dtype, path = dict(zip(names, (f.dtype for f in dtype.fields)))[field], f"{path}.{field}"
    return None


def run_on_schemas(text: "_Text", schemas: Mapping[str, Any], sql: str | None = None) -> tuple[list[SqlProblem], Any]:
    """Translate and run the step on empty frames of ``schemas``: (problems, output Polars schema).

    A step reading ``{df}`` only (``sql``: as written) runs as the replay renders it (``{df}`` as
    ``__kappa_df``, :func:`kappa.engines.polars.engine.transform`): the run then finds its
    translation in :func:`kappa.sql.translate.translate_for_polars`' cache instead of translating
    again."""
    import dataclasses

    import polars as pl

    from kappa.sql.errors import SqlError
    from kappa.sql.polars_exec import run_sql

    run, tables = text.sql, {name: pl.LazyFrame(schema=schema) for name, schema in schemas.items()}
    if sql is not None and not text.node_names and len(text.df_names) == 1:
        from kappa.sql.refs import render

        run, tables = render(sql, RUN_DF, {}), {RUN_DF: tables[text.df_names[0]]}
        text = dataclasses.replace(text, shown={RUN_DF: text.shown[text.df_names[0]], **text.shown})
    try:
        out = run_sql(run, tables)
        return [], out.collect_schema()
    except SqlError as err:
        first = (str(err).strip().splitlines() or [""])[0]
        return [SqlProblem(text.user(first))], None
    except Exception:  # noqa: BLE001 - not the user's error: leave it to the run, invent nothing
        return [], None
