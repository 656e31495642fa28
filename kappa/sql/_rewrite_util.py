"""Small helpers shared by the Spark-to-Polars SQL rewrite rules (:mod:`kappa.sql._rewrite`)."""

from __future__ import annotations


from sqlglot import exp

from kappa.sql._dialect import dtype

_TRUE_STRINGS = ("t", "true", "y", "yes", "1")
_FALSE_STRINGS = ("f", "false", "n", "no", "0")
_TRUNC_UNITS = {
    "YEAR": "year", "YYYY": "year", "YY": "year",
    "QUARTER": "quarter",
    "MONTH": "month", "MM": "month", "MON": "month",
    "WEEK": "week",
    "DAY": "day", "DD": "day",
    "HOUR": "hour", "MINUTE": "minute", "SECOND": "second",
    "MILLISECOND": "millisecond", "MICROSECOND": "microsecond",
}
_EXTRACT = {
    exp.Year: "YEAR", exp.Month: "MONTH", exp.Day: "DAY", exp.DayOfMonth: "DAY",
    exp.Hour: "HOUR", exp.Minute: "MINUTE", exp.Second: "SECOND", exp.Quarter: "QUARTER",
}


def _cast(node: exp.Expression, to: str, safe: bool = False) -> exp.Expression:
    cls = exp.TryCast if safe else exp.Cast
    out = cls(this=node, to=dtype(to))
    if safe:
        out.set("safe", True)
    return out


def _fn(name: str, *args: exp.Expression) -> exp.Anonymous:
    return exp.Anonymous(this=name, expressions=list(args))


def _lit(value) -> exp.Expression:
    return exp.Literal.string(value) if isinstance(value, str) else exp.Literal.number(value)


def _decimal_params(to: exp.DataType) -> tuple[int, int]:
    params = [int(p.name) for p in to.expressions]
    return (params[0] if params else 10), (params[1] if len(params) > 1 else 0)


def _c(node: exp.Expression) -> exp.Expression:
    return node.copy()
