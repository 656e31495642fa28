"""Spark SQL -> the SQL that ``polars.SQLContext`` runs, with Spark's results.

kappa takes one SQL dialect, Spark SQL. On the Polars engine a statement is parsed with sqlglot
(Spark dialect), checked against an explicit list of supported constructs, rewritten where Polars
would answer differently from Spark, and printed as Polars SQL. Anything else raises
:class:`UnsupportedSql` naming the construct: a statement either gives Spark's answer or is
refused; it never runs with different semantics.

Supported: SELECT (DISTINCT), aliases, struct fields ``data.x.y``, WHERE, GROUP BY (names or
ordinals), HAVING, ORDER BY, LIMIT/OFFSET, inner and left JOIN ... ON, UNION [ALL], CTEs,
subqueries (FROM, IN, EXISTS, scalar), CASE/IF, COALESCE/NVL/NULLIF, GREATEST/LEAST, IN,
BETWEEN, LIKE, RLIKE, IS [NOT] NULL, ``<=>``, arithmetic, CAST/TRY_CAST to STRING, INT types,
DOUBLE, FLOAT, DECIMAL, BOOLEAN, DATE, TIMESTAMP, TIMESTAMP_NTZ; lower, upper, trim/ltrim/rtrim,
concat, concat_ws, substring/substr, length, replace, regexp_replace (literal replacement),
lpad, rpad, left, right; round, abs, floor, ceil; count (DISTINCT), sum, avg, min, max, min_by,
max_by; to_date,
to_timestamp (with Spark patterns), date_format, date_trunc, year, quarter, month, day,
dayofmonth, hour, minute, second, date_add, date_sub, datediff, current_timestamp,
current_date, ``+/- INTERVAL``; windows: row_number, rank, dense_rank, lag, lead with
PARTITION BY/ORDER BY, and aggregates over a partition without ORDER BY.

Semantics reproduced (Spark 4 defaults, ``spark.sql.ansi.enabled=true``, session time zone UTC):

* ``CAST`` is strict (ANSI): an invalid input such as ``CAST('abc' AS INT)`` raises an error on
  both engines; ``TRY_CAST`` gives NULL. Exception: a CAST inside a CASE/IF branch is evaluated
  for every row by Polars (Spark only for the rows taking the branch), so there it becomes a
  ``TRY_CAST`` (no false errors; where Spark would raise, Polars gives NULL).
* ``TIMESTAMP`` is an instant. Every Spark ``TIMESTAMP`` value comes out of Polars as
  ``Datetime("us", "UTC")`` -- the type delta-rs reads and writes for a Delta ``timestamp``
  column, and what Spark's ``toArrow()`` gives with the UTC session zone. ``TIMESTAMP_NTZ``
  comes out naive. Strings without an offset are read as UTC; ``CAST(<number> AS TIMESTAMP)`` is
  seconds since the epoch and ``CAST(<timestamp> AS BIGINT)`` gives seconds, as in Spark.
  ``CAST(<timestamp> AS STRING)`` is ``yyyy-MM-dd HH:mm:ss[.fraction]`` without trailing zeros.
* ``a / b`` is DOUBLE division for integer and floating operands (DECIMAL stays DECIMAL). A zero
  divisor gives NULL on Polars; Spark 4 raises ``DIVIDE_BY_ZERO`` (Polars evaluates every CASE
  branch for every row, so raising would also fire for guarded divisions). Write
  ``try_divide``-style guards (``NULLIF(b, 0)``) for portable steps.
* Result types follow Spark: ``count`` BIGINT, ``sum`` of integers BIGINT, ``avg`` DOUBLE,
  ``floor``/``ceil`` BIGINT, ``length``/``year``/``month``/``day``/``hour`` and
  ``row_number``/``rank``/``dense_rank`` INT. DECIMAL arithmetic gets Spark's result precision
  and scale (``+ - * / %``, ``sum``, ``avg``, ``round``, ``floor``, ``ceil``; a literal ``1.5`` is
  DECIMAL(2,1)), rounded HALF_UP like Spark. ``round`` is HALF_UP (Polars' own is
  half-to-even); casts to DECIMAL round HALF_UP. Division by a constant stays exact IEEE
  division (Polars would multiply by the reciprocal).
* ``concat`` is NULL if any argument is NULL; ``trim`` removes spaces only; ``substring`` follows
  Spark for position 0 and negative positions; ``ORDER BY`` puts NULLs first ascending and last
  descending.
* Every computed column of an output SELECT needs an alias: Spark's generated names
  (``lower(name)``, ``count(1)``) are not reproduced. Duplicate output names are refused.

Known differences that are not refused: ``CAST(<double> AS STRING)`` uses Polars' float
formatting outside [1e-3, 1e7) (``1e+20``; Spark prints ``1.0E20``); ``CAST(<string> AS
BOOLEAN)`` of an unknown word is NULL (Spark raises); string->timestamp casts accept ISO-8601
forms only; ``round`` of a double with |x| >= 1e6 on an exact tie may differ in the last digit
(Spark rounds the shortest decimal form, kappa a 12-decimal form); column names are
case-sensitive on Polars (Spark resolves them case-insensitively: a wrong case is an error, never
another column); integer overflow wraps instead of raising; input timestamps in another zone than
UTC pass through unchanged when only selected.
"""

from __future__ import annotations

import datetime as _dt
import functools
import re
from typing import TYPE_CHECKING, Iterator, Mapping

import sqlglot
from sqlglot import exp
from sqlglot.errors import OptimizeError, ParseError

from kappa.sql._dialect import PolarsOut, SparkIn
from kappa.sql._rewrite import Rewriter
from kappa.sql._rewrite_util import _EXTRACT
from kappa.sql.errors import SqlError, UnsupportedSql

if TYPE_CHECKING:  # pragma: no cover
    from kappa.sql._ts_parse import Derived

__all__ = ["to_polars_sql", "translate_for_polars", "validate_spark_sql", "UnsupportedSql", "SqlError", "parse_spark"]

_ALLOWED: tuple[type, ...] = (
    # query structure
    exp.Select, exp.From, exp.Join, exp.Where, exp.Group, exp.Having, exp.Order, exp.Ordered,
    exp.Limit, exp.Offset, exp.Union, exp.With, exp.CTE, exp.Subquery, exp.TableAlias, exp.Table,
    exp.Alias, exp.Column, exp.Identifier, exp.Star, exp.Dot, exp.Distinct, exp.Paren, exp.Window,
    exp.Literal, exp.Null, exp.Boolean, exp.DataType, exp.DataTypeParam, exp.Var, exp.Tuple,
    exp.Interval, exp.Neg,
    # predicates
    exp.And, exp.Or, exp.Not, exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.NullSafeEQ,
    exp.NullSafeNEQ, exp.Is, exp.In, exp.Between, exp.Like, exp.RegexpLike, exp.Exists,
    # arithmetic and functions
    exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod, exp.DPipe, exp.Cast, exp.TryCast, exp.Coalesce,
    exp.Case, exp.If, exp.Nullif, exp.Greatest, exp.Least, exp.Length, exp.Substring, exp.Trim,
    exp.Lower, exp.Upper, exp.Round, exp.Floor, exp.Ceil, exp.Abs, exp.Concat, exp.ConcatWs,
    exp.Sum, exp.Avg, exp.Min, exp.Max, exp.ArgMax, exp.ArgMin, exp.Count, exp.TimestampTrunc, exp.CurrentTimestamp,
    exp.CurrentDate, exp.RowNumber, exp.Rank, exp.DenseRank, exp.Lag, exp.Lead, exp.RegexpReplace,
    exp.Replace, exp.Pad, exp.TsOrDsAdd, exp.DateDiff, exp.Left, exp.Right, *_EXTRACT,
)
_ALLOWED_ANONYMOUS = frozenset({"TO_DATE", "TO_TIMESTAMP", "DATE_FORMAT"})
_JOIN_KINDS = frozenset({"", "INNER", "LEFT"})


def parse_spark(spark_sql: str) -> exp.Expression:
    """Parse one Spark SQL query; raises :class:`SqlError` on a syntax error or several statements."""
    try:
        statements = [s for s in sqlglot.parse(spark_sql, read=SparkIn) if s is not None]
    except ParseError as err:
        raise SqlError(f"cannot parse Spark SQL: {err}") from None
    if len(statements) != 1:
        raise SqlError(f"a SQL step holds exactly one statement, found {len(statements)}")
    return statements[0]


def _describe(node: exp.Expression) -> str:
    if isinstance(node, exp.Func):
        name = node.name if isinstance(node, exp.Anonymous) else node.sql_name()
        return f"function {name.lower()}()"
    return f"{node.key.upper()} ({node.sql(dialect='spark')[:60]})"


def _check_supported(tree: exp.Expression) -> None:
    if not isinstance(tree, exp.Query):
        raise UnsupportedSql(f"statement {tree.key.upper()}: a SQL step is one query (SELECT ...)")
    for node in tree.walk():
        if isinstance(node, exp.Anonymous):
            if node.name.upper() not in _ALLOWED_ANONYMOUS:
                raise UnsupportedSql(_describe(node))
            continue
        if isinstance(node, exp.TsOrDsToDate) and isinstance(node.parent, (*_EXTRACT, exp.DateDiff)):
            continue  # sqlglot wraps the argument of year()/month()/day(); unwrapped on rewrite
        if isinstance(node, exp.WindowSpec):
            raise UnsupportedSql("window frame clauses (ROWS/RANGE BETWEEN ...)")
        if not isinstance(node, _ALLOWED):
            raise UnsupportedSql(_describe(node))
        if isinstance(node, exp.Join):
            side = (node.side or "").upper()
            kind = (node.kind or "").upper()
            if kind not in ("", "INNER") or side not in ("", "LEFT"):
                raise UnsupportedSql(f"{(side + ' ' + kind).strip()} JOIN (inner and left joins are supported)")
            if node.args.get("using"):
                raise UnsupportedSql("JOIN ... USING (write ON a.x = b.x)")
            if node.args.get("on") is None:
                raise UnsupportedSql("JOIN without ON")


def _output_select(query: exp.Expression) -> exp.Expression:
    while isinstance(query, (exp.SetOperation, exp.Subquery)):
        query = query.this if isinstance(query, exp.Subquery) else query.left
    return query


def unnamed_projections(tree: exp.Expression) -> Iterator[exp.Expression]:
    """The computed columns without a name (no ``AS``) of the query's output SELECT, its CTEs and
    its FROM/JOIN subqueries: Spark would generate their names, which are not reproduced."""
    selects = [_output_select(tree)]
    selects += [_output_select(cte.this) for cte in tree.find_all(exp.CTE)]
    selects += [_output_select(sq.this) for sq in tree.find_all(exp.Subquery) if isinstance(sq.parent, (exp.From, exp.Join))]
    for select in selects:
        if not isinstance(select, exp.Select):
            continue
        for projection in select.expressions:
            if not isinstance(projection, (exp.Alias, exp.Column, exp.Star, exp.Dot)):
                yield projection


def _check_aliases(tree: exp.Expression) -> None:
    for projection in unnamed_projections(tree):
        raise UnsupportedSql(
            f"give the column {projection.sql(dialect='spark')!r} a name (AS ...): "
            "Spark's generated column names are not reproduced"
        )


def _check_unique_names(tree: exp.Expression) -> None:
    select = _output_select(tree)
    if not isinstance(select, exp.Select) or any(isinstance(p, exp.Star) or p.find(exp.Star) for p in select.expressions):
        return
    seen: set[str] = set()
    for projection in select.expressions:
        name = projection.alias_or_name
        if name in seen:
            raise UnsupportedSql(f"duplicate output column {name!r}: give one of them another name (AS ...)")
        seen.add(name)


def _annotate(tree: exp.Expression, schemas: Mapping[str, Mapping[str, str]] | None) -> exp.Expression:
    from sqlglot.optimizer.annotate_types import annotate_types
    from sqlglot.optimizer.qualify import qualify
    from sqlglot.schema import MappingSchema

    if not schemas:
        return annotate_types(tree, dialect=SparkIn)
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    for table in tree.find_all(exp.Table):
        if table.name not in schemas and table.name not in ctes:
            known = ", ".join(sorted(schemas))
            raise SqlError(f"the SQL step reads table {table.name!r}, which is not an input (inputs: {known})")
    schema = MappingSchema({k: dict(v) for k, v in schemas.items()}, dialect=SparkIn, normalize=False)
    try:
        tree = qualify(tree, dialect=SparkIn, schema=schema, quote_identifiers=True, identify=True,
                       validate_qualify_columns=True)
    except OptimizeError as err:
        raise SqlError(f"cannot resolve the SQL step: {err}") from None
    return annotate_types(tree, schema=schema, dialect=SparkIn)


def _branch_casts(tree: exp.Expression) -> set[int]:
    """Ids of CAST nodes inside a CASE/IF result branch (Polars evaluates those for every row)."""
    out = set()
    for node in tree.find_all(exp.Cast, exp.TryCast):
        child, parent = node, node.parent
        while parent is not None and not isinstance(parent, (exp.Select, exp.Subquery)):
            if isinstance(parent, exp.If) and child.arg_key in ("true", "false"):
                out.add(id(node))
                break
            if isinstance(parent, exp.Case) and child.arg_key == "default":
                out.add(id(node))
                break
            child, parent = parent, parent.parent
    return out


def validate_spark_sql(spark_sql: str) -> None:
    """Refuse, without translating, what the Polars engine would refuse.

    The Spark engine calls this before running a SQL step so that both engines accept exactly
    the same statements (one query, supported constructs only, named computed columns).
    """
    tree = parse_spark(spark_sql)
    _check_supported(tree)
    _check_aliases(tree)


def to_polars_sql(
    spark_sql: str,
    schemas: Mapping[str, Mapping[str, str]] | None = None,
    *,
    now: _dt.datetime | None = None,
) -> str:
    """Translate one Spark SQL query into Polars SQL that returns Spark's result.

    ``schemas`` maps each table name to ``{column: Spark type}``; with it, columns are resolved
    and type-dependent rules apply (``sum`` of INT is BIGINT, ``floor`` of DECIMAL stays DECIMAL,
    ``CAST(<timestamp> AS BIGINT)`` gives seconds, ...). Without it, numeric operands are taken
    to be integer or floating. ``now`` fixes ``current_timestamp()`` (default: the current UTC
    instant, taken once per statement like Spark). Raises :class:`UnsupportedSql` naming the
    construct when the statement cannot be translated with Spark's semantics.
    """
    return translate_for_polars(spark_sql, schemas, now=now, hoist=False)[0]


def translate_for_polars(
    spark_sql: str,
    schemas: Mapping[str, Mapping[str, str]] | None = None,
    *,
    now: _dt.datetime | None = None,
    hoist: bool = True,
) -> "tuple[str, tuple[Derived, ...]]":
    """:func:`to_polars_sql`, plus the derived input columns the Polars SQL reads: with ``hoist``
    (and ``schemas``), a ``CAST(<string input column> AS TIMESTAMP)`` reads a column the caller adds
    to that input (:mod:`kappa.sql._hoist`, applied by :func:`kappa.sql.polars_exec.run_sql`)."""
    hoist = hoist and bool(schemas)
    if now is None and not _MENTIONS_NOW.search(spark_sql):
        frozen = None if not schemas else tuple(sorted((t, tuple(c.items())) for t, c in schemas.items()))
        return _translate_cached(spark_sql, frozen, hoist)
    return _translate(spark_sql, schemas, now, hoist)


_MENTIONS_NOW = re.compile(r"current_(timestamp|date)|\bnow\s*\(", re.IGNORECASE)


@functools.lru_cache(maxsize=512)
def _translate_cached(spark_sql: str, frozen_schemas, hoist: bool):
    """Translation of a statement without ``current_timestamp`` (same input, same output)."""
    schemas = None if frozen_schemas is None else {t: dict(cols) for t, cols in frozen_schemas}
    return _translate(spark_sql, schemas, None, hoist)


def _translate(spark_sql: str, schemas, now, hoist: bool):
    tree = parse_spark(spark_sql)
    _check_supported(tree)
    _check_aliases(tree)
    tree = _annotate(tree, schemas)
    _check_unique_names(tree)
    hoisted = None
    if hoist:
        from kappa.sql._hoist import HoistedCasts, tag_base_columns

        tag_base_columns(tree, schemas)
        hoisted = HoistedCasts(schemas)
    rewritten = Rewriter(_branch_casts(tree), now=now, hoist=hoisted).run(tree)
    return rewritten.sql(dialect=PolarsOut), tuple(hoisted.derived.values()) if hoisted else ()
