"""Static checks of one SQL step, before anything runs: what the replay would refuse at run time.

Design note: :func:`check_sql` parses a step once and reports every problem it finds, each with
its position inside the SQL (line and column of what the user wrote), in the user's words: the
``{df}`` and ``{nodes.x}`` placeholders are replaced by generated identifiers of exactly the
same length (so sqlglot's token offsets are offsets into the text the user wrote) and messages
name the placeholder, never the generated name; functions are named as written
(``percentile_approx``, not sqlglot's ``approx_quantile``); parse errors carry no terminal
escape codes. Checks that need no input schema: syntax, one query, supported functions and
constructs (:func:`kappa.sql.translate._check_supported`'s list), names for computed columns,
tables read (only ``{df}``/``{nodes.x}``), interval literals. With every input schema known
(a Polars schema per input), unknown columns are reported, then the step is translated and run
on empty frames of those schemas (cheap, and exactly what the replay does), which gives the
step's output schema for the next step. An unknown schema (None) skips the schema checks: no
error is invented. This module imports no engine.
"""

from __future__ import annotations

import difflib
import functools
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:  # pragma: no cover
    from sqlglot import exp

SPARK_TYPES = ("STRING", "VARCHAR(n)", "BINARY", "BOOLEAN", "TINYINT", "SMALLINT", "INT", "BIGINT", "FLOAT", "DOUBLE",
               "DECIMAL(p,s)", "DATE", "TIMESTAMP", "TIMESTAMP_NTZ", "ARRAY<T>", "MAP<K,V>", "STRUCT<...>")
TYPE_NAMES = ["STRING", "BINARY", "BOOLEAN", "TINYINT", "SMALLINT", "INT", "INTEGER", "BIGINT", "LONG", "FLOAT", "DOUBLE",
              "DECIMAL", "DATE", "TIMESTAMP", "TIMESTAMP_NTZ", "ARRAY", "MAP", "STRUCT", "VARCHAR", "CHAR"]
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass(frozen=True)
class SqlProblem:
    """One problem of a SQL step; ``line``/``column`` (1-based) locate it inside the SQL."""

    message: str
    line: int | None = None
    column: int | None = None

    def render(self) -> str:
        if self.line is None:
            return self.message
        return f"{self.message} (SQL line {self.line}, column {self.column})"


@dataclass
class _Text:
    """The step's SQL with placeholders replaced by same-length names, and how to name them back."""

    sql: str
    df_names: list[str]
    node_names: dict[str, str]  # generated name -> node
    shown: dict[str, str]  # generated name -> placeholder as written

    def user(self, text: str) -> str:
        for name, placeholder in self.shown.items():
            text = text.replace(f'"{name}"', placeholder).replace(f"`{name}`", placeholder).replace(name, placeholder)
        return text


def _position(sql: str, start: int) -> tuple[int, int]:
    line = sql.count("\n", 0, start) + 1
    return line, start - (sql.rfind("\n", 0, start) + 1) + 1


def _render(sql: str, problems: list[SqlProblem]) -> _Text:
    from kappa.sql.refs import _DF, _NODE, _PLACEHOLDER, _segments

    out, offset = [], 0
    text = _Text("", [], {}, {})
    for is_code, piece in _segments(sql):
        if not is_code:
            out.append(piece)
            offset += len(piece)
            continue
        last = 0
        for m in _PLACEHOLDER.finditer(piece):
            out.append(piece[last:m.start()])
            width, body = m.end() - m.start(), m.group(1)
            node = _NODE.fullmatch(body)
            if _DF.fullmatch(body):
                name = "_df" + "_" * (width - 3)
                if name not in text.df_names:
                    text.df_names.append(name)
            elif node:
                name = f"_n{len(text.node_names)}".ljust(width, "_")
                name = next((k for k, v in text.node_names.items() if v == node.group(1) and len(k) == width), name)
                text.node_names[name] = node.group(1)
            else:
                line, col = _position(sql, offset + m.start())
                problems.append(SqlProblem(f"unknown placeholder {m.group(0)} (use {{df}} or {{nodes.NAME}})", line, col))
                name = "_x" + "_" * (width - 2)
            text.shown[name] = m.group(0)
            out.append(name)
            last = m.end()
        out.append(piece[last:])
        offset += len(piece)
    text.sql = "".join(out)
    return text


def _start(node: "exp.Expression") -> int | None:
    """The offset of the first token of ``node`` that sqlglot located."""
    starts = [n.meta["start"] for n in node.walk() if n.meta and "start" in n.meta]
    return min(starts) if starts else None


_CLAUSES = frozenset({"FROM", "WHERE", "GROUP", "HAVING", "ORDER", "LIMIT", "UNION", "WINDOW", "EXCEPT", "INTERSECT"})


def _written(sql: str, start: int) -> str:
    """The expression as written from offset ``start`` to its end (a top-level comma or clause)."""
    from kappa.sql._dialect import SparkIn

    depth, end = 0, start
    for tok in SparkIn().tokenize(sql):
        if tok.start < start:
            continue
        text = tok.text.upper()
        if text == "(":
            depth += 1
        elif text == ")":
            if depth == 0:
                break
            depth -= 1
        elif depth == 0 and (text == "," or text in _CLAUSES):
            break
        end = tok.end + 1
    return sql[start:end]


def _at(sql: str, node: "exp.Expression | None", message: str) -> SqlProblem:
    start = _start(node) if node is not None else None
    if start is None:
        return SqlProblem(message)
    return SqlProblem(message, *_position(sql, start))


def _parse(text: _Text, problems: list[SqlProblem]) -> "exp.Expression | None":
    import sqlglot
    from sqlglot.errors import ParseError, TokenError

    from kappa.sql._dialect import SparkIn

    try:
        statements = [s for s in sqlglot.parse(text.sql, read=SparkIn) if s is not None]
    except ParseError as err:
        info = err.errors[0] if err.errors else {}
        desc, highlight = _ANSI.sub("", str(info.get("description") or err)), text.user(str(info.get("highlight") or ""))
        line, col = info.get("line"), info.get("col")
        if isinstance(col, int) and highlight and "\n" not in highlight:
            col = col - len(highlight) + 1
        if desc.startswith("Expected TYPE after CAST") and highlight:
            close = difflib.get_close_matches(highlight.upper(), TYPE_NAMES, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]}?" if close else f" (Spark SQL types: {', '.join(SPARK_TYPES)})"
            message = f"unknown type {highlight!r} in CAST{hint}"
        elif "<class" in desc or "Required keyword" in desc:  # sqlglot's internals: say where only
            message = f"cannot parse the SQL near {highlight!r}" if highlight else "cannot parse the SQL"
        else:
            message = f"cannot parse the SQL: {text.user(desc.rstrip('.'))}" + (f" near {highlight!r}" if highlight else "")
        problems.append(SqlProblem(message, line if isinstance(line, int) else None, col if isinstance(col, int) else None))
        return None
    except TokenError as err:
        problems.append(SqlProblem(f"cannot parse the SQL: {_ANSI.sub('', str(err))}"))
        return None
    if len(statements) != 1:
        problems.append(SqlProblem(f"a SQL step holds exactly one statement, found {len(statements)}"))
        return None
    return statements[0]


@functools.lru_cache(maxsize=256)
def _class_of(name: str) -> type | None:
    """The sqlglot class a Spark function call ``name(...)`` parses into (None: not a function)."""
    import sqlglot
    from sqlglot import exp

    from kappa.sql._dialect import SparkIn

    for args in ("x", "x, y", "", "x, y, z"):
        try:
            tree = sqlglot.parse_one(f"SELECT {name}({args})", read=SparkIn)
        except Exception:  # noqa: BLE001 - any parse failure: try another arity
            continue
        func = tree.expressions[0] if tree.expressions else None
        if isinstance(func, exp.Func):
            return type(func)
    return None


def _calls(sql: str) -> list[tuple[str, int]]:
    """``(name, offset)`` of every ``name(`` in ``sql``, in order (names as written)."""
    from sqlglot.tokens import TokenType

    from kappa.sql._dialect import SparkIn

    tokens = SparkIn().tokenize(sql)
    out = []
    for tok, nxt in zip(tokens, tokens[1:]):
        if nxt.token_type == TokenType.L_PAREN and tok.text and tok.text[0].isalpha() and tok.token_type not in (
                TokenType.IN, TokenType.EXISTS, TokenType.OVER, TokenType.ALIAS, TokenType.VALUES):
            out.append((tok.text, tok.start))
    return out


def supported_functions() -> list[str]:
    """The function names kappa's SQL supports (lower case), for did-you-mean hints."""
    from sqlglot import exp

    from kappa.sql._dialect import SparkIn
    from kappa.sql.translate import _ALLOWED, _ALLOWED_ANONYMOUS

    names = {n.lower() for n in _ALLOWED_ANONYMOUS}
    for cls in _ALLOWED:
        if isinstance(cls, type) and issubclass(cls, exp.Func):
            names.update(n.lower() for n in cls.sql_names())
    for name, builder in SparkIn.Parser.FUNCTIONS.items():
        owner = getattr(builder, "__self__", None)
        if isinstance(owner, type) and owner in _ALLOWED:
            names.add(name.lower())
    return sorted(n for n in names if n.replace("_", "").isalpha())


def _functions(text: _Text, tree: "exp.Expression", problems: list[SqlProblem]) -> None:
    from sqlglot import exp

    from kappa.sql.translate import _ALLOWED, _ALLOWED_ANONYMOUS, _EXTRACT

    calls, used = _calls(text.sql), set()

    def locate(cls: type, name: str | None) -> tuple[str | None, int | None]:
        for i, (written, start) in enumerate(calls):
            if i in used:
                continue
            if (name is not None and written.upper() == name.upper()) or (name is None and _class_of(written.upper()) is cls):
                used.add(i)
                return written, start
        return None, None

    for node in tree.walk(bfs=False):
        if isinstance(node, exp.Anonymous):
            if node.name.upper() in _ALLOWED_ANONYMOUS:
                continue
            written, start = locate(exp.Anonymous, node.name)
            hint = difflib.get_close_matches(node.name.lower(), supported_functions(), n=1, cutoff=0.6)
            message = f"unknown function {node.name}()" + (f"; did you mean {hint[0]}()?" if hint else "")
        elif isinstance(node, exp.Func) and not isinstance(node, _ALLOWED) and not (
                isinstance(node, exp.TsOrDsToDate) and isinstance(node.parent, (*_EXTRACT, exp.DateDiff))):
            written, start = locate(type(node), None)
            name = written or node.sql_name()
            message = f"function {name.lower()}() is not supported: kappa runs only the functions it can run with Spark's result on both engines"
        else:
            continue
        problems.append(SqlProblem(message, *_position(text.sql, start)) if start is not None else SqlProblem(message))


def _constructs(text: _Text, tree: "exp.Expression", problems: list[SqlProblem]) -> None:
    """What :func:`kappa.sql.translate._check_supported` refuses besides functions, each once."""
    from sqlglot import exp

    from kappa.sql.errors import UnsupportedSql
    from kappa.sql.translate import _check_supported

    if not isinstance(tree, exp.Query):
        problems.append(SqlProblem(f"statement {tree.key.upper()}: a SQL step is one query (SELECT ...)"))
        return
    stripped = tree.copy()
    for node in list(stripped.walk()):
        if isinstance(node, exp.Func) and node is not stripped:
            node.replace(exp.Null())  # functions are reported by _functions, with their names
    try:
        _check_supported(stripped)
    except UnsupportedSql as err:
        problems.append(SqlProblem(text.user(str(err))))


def _aliases(text: _Text, tree: "exp.Expression", problems: list[SqlProblem]) -> None:
    from kappa.sql.translate import unnamed_projections

    for projection in unnamed_projections(tree):
        start = _start(projection)
        shown = text.user(_written(text.sql, start) if start is not None else projection.sql(dialect="spark"))
        problems.append(_at(text.sql, projection, f"give the column {shown!r} a name (AS ...): Spark's generated column names are not reproduced"))


def _intervals(text: _Text, tree: "exp.Expression", problems: list[SqlProblem]) -> None:
    from sqlglot import exp

    from kappa.stateful.intervals import IntervalError, parse_interval

    for node in tree.find_all(exp.Interval):
        value, unit = node.this, node.args.get("unit")
        if not isinstance(value, exp.Literal):
            continue
        literal = value.name if unit is None else f"{value.name} {unit.name}"
        try:
            parse_interval(literal)
        except IntervalError as err:
            problems.append(_at(text.sql, value, str(err)))


def _tables(text: _Text, tree: "exp.Expression", problems: list[SqlProblem]) -> None:
    from sqlglot import exp

    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    for table in tree.find_all(exp.Table):
        if table.name in text.shown or table.name in ctes:
            continue
        problems.append(_at(text.sql, table, f"the SQL step reads table {table.sql(dialect='spark')!r}, which is not an input: "
                                             "read the node's DataFrame as {df} and another node's output as {nodes.NAME}"))


def check_sql(sql: str, df_schema: Any = None, node_schemas: Mapping[str, Any] | None = None,
              *, df_known: bool = True) -> tuple[list[SqlProblem], Any]:
    """The problems of one SQL step and its output schema (a Polars schema, or None if unknown).

    ``df_schema`` is the Polars schema of ``{df}`` (None: unknown; a dict with None types: only
    the column names are known); ``node_schemas`` maps the
    nodes of ``{nodes.x}`` to theirs. ``df_known=False`` means the node has no DataFrame.
    A step found without problems before (same SQL, same schemas, same code) gives its schema
    from :mod:`kappa.sql.cache`, without sqlglot.
    """
    from kappa.sql import cache

    seen, known = cache.load_check(sql, df_schema, node_schemas, df_known)
    if seen:  # this step, over these schemas, checked before without a problem
        return [], known
    problems, schema = _check_sql(sql, df_schema, node_schemas, df_known)
    if not problems:
        cache.store_check(sql, df_schema, node_schemas, df_known, schema)
    return problems, schema


def _check_sql(sql: str, df_schema: Any, node_schemas: Mapping[str, Any] | None, df_known: bool) -> tuple[list[SqlProblem], Any]:
    problems: list[SqlProblem] = []
    text = _render(sql, problems)
    tree = _parse(text, problems)
    if tree is None:
        return problems, None
    _functions(text, tree, problems)
    _constructs(text, tree, problems)
    _aliases(text, tree, problems)
    _intervals(text, tree, problems)
    _tables(text, tree, problems)
    if text.df_names and not df_known:
        problems.append(SqlProblem("the SQL step uses {df} but this node has no input DataFrame"))
    if problems:
        return problems, None
    schemas = {name: df_schema for name in text.df_names}
    schemas.update({name: (node_schemas or {}).get(node) for name, node in text.node_names.items()})
    if any(s is None for s in schemas.values()):
        return problems, None
    from kappa.sql.static_schema import run_on_schemas, unknown_columns

    problems.extend(unknown_columns(text, tree, schemas))
    if problems or any(t is None for s in schemas.values() for t in dict(s).values()):
        return problems, None  # a column of unknown type (an inferred Kafka value): names were checked only
    return run_on_schemas(text, schemas, sql)
