"""Rewrite rules for string and date/time functions (a mixin of :class:`kappa.sql._rewrite.Rewriter`).

Each handler takes a node whose children are already rewritten and returns its replacement;
``self.now`` is the statement's fixed clock (``current_timestamp``/``current_date``).
"""

from __future__ import annotations

import datetime as _dt

from sqlglot import exp

from kappa.sql import _types as ty
from kappa.sql._decimal import int_literal as _int_literal
from kappa.sql._rewrite_util import (
    _EXTRACT,
    _TRUNC_UNITS,
    _c,
    _cast,
    _fn,
    _lit,
)
from kappa.sql.errors import UnsupportedSql


class TextTimeRules:
    """String and date/time handlers of the rewrite."""

    now: _dt.datetime

    # -- strings ------------------------------------------------------------------------------
    def concat(self, node: exp.Concat) -> exp.Expression:
        parts = []
        for arg in node.expressions:
            if ty.kind(arg) in (exp.DataType.Type.ARRAY, exp.DataType.Type.MAP):
                raise UnsupportedSql("concat() of arrays")
            parts.append(arg if ty.is_(arg, ty.STRINGS) else _cast(arg, "VARCHAR"))
        if not parts:
            return _lit("")
        out = parts[0]
        for part in parts[1:]:
            out = exp.DPipe(this=out, expression=part)
        return exp.Paren(this=out) if len(parts) > 1 else out

    def length(self, node: exp.Length) -> exp.Expression:
        return _cast(node, "INT")

    def trim(self, node: exp.Trim) -> exp.Expression:
        if node.args.get("expression") is None:
            node.set("expression", _lit(" "))  # Spark trims spaces only, Polars all whitespace
        return node

    def substring(self, node: exp.Substring) -> exp.Expression:
        s, pos, length = node.this, node.args.get("start"), node.args.get("length")
        p = _int_literal(pos)
        n = _int_literal(length) if length is not None else None
        if p is not None and p >= 0 and (length is None or (n is not None and n >= 0)):
            start = _lit(max(p, 1))
            if p == 0 and n is not None:  # Spark: position 0 behaves like 1
                return exp.Substring(this=s, start=start, length=_lit(n))
            return exp.Substring(this=s, start=start, length=length)
        # General case, Spark's UTF8String.substringSQL: start from the end for negative positions.
        length = length if length is not None else _lit(2147483647)
        start0 = exp.Case(
            ifs=[
                exp.If(this=exp.GT(this=_c(pos), expression=_lit(0)), true=exp.Sub(this=_c(pos), expression=_lit(1))),
                exp.If(
                    this=exp.LT(this=_c(pos), expression=_lit(0)),
                    true=exp.Add(this=_cast(exp.Length(this=_c(s)), "BIGINT"), expression=_c(pos)),
                ),
            ],
            default=_lit(0),
        )
        end0 = exp.Paren(this=exp.Add(this=exp.Paren(this=start0.copy()), expression=_c(length)))
        st = exp.Greatest(this=exp.Paren(this=start0.copy()), expressions=[_lit(0)])
        nulls = exp.or_(exp.Is(this=_c(s), expression=exp.null()), exp.Is(this=_c(pos), expression=exp.null()),
                        exp.Is(this=_c(length), expression=exp.null()))
        return exp.Case(
            ifs=[
                exp.If(this=nulls, true=exp.null()),
                exp.If(this=exp.GTE(this=st.copy(), expression=end0.copy()), true=_lit("")),
            ],
            default=exp.Substring(
                this=_c(s),
                start=exp.Add(this=st.copy(), expression=_lit(1)),
                length=exp.Sub(this=end0.copy(), expression=st.copy()),
            ),
        )

    def regexp_replace(self, node: exp.RegexpReplace) -> exp.Expression:
        pattern, replacement = node.expression, node.args.get("replacement")
        extra = [k for k in ("position", "occurrence", "modifiers") if node.args.get(k) is not None]
        if extra:
            raise UnsupportedSql(f"regexp_replace() with {extra[0]}")
        if not (isinstance(pattern, exp.Literal) and pattern.is_string):
            raise UnsupportedSql("regexp_replace() with a pattern that is not a string literal")
        if not (isinstance(replacement, exp.Literal) and replacement.is_string) or any(
            ch in replacement.this for ch in "$\\"
        ):
            raise UnsupportedSql("regexp_replace() with group references ($1) or a non-literal replacement")
        return _fn("REGEXP_REPLACE", node.this, pattern, replacement, _lit("g"))  # "g": every match

    def replace(self, node: exp.Replace) -> exp.Expression:
        if node.args.get("replacement") is None:
            node.set("replacement", _lit(""))  # Spark: replace(s, search) removes search
        return node

    def pad(self, node: exp.Pad) -> exp.Expression:
        if node.args.get("fill_pattern") is None:
            node.set("fill_pattern", _lit(" "))
        return node

    def _as_date(self, node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.TsOrDsToDate) and node.args.get("format") is None:
            node = node.this
        return node if ty.kind(node) == exp.DataType.Type.DATE else _cast(node, "DATE")

    def date_add(self, node: exp.TsOrDsAdd) -> exp.Expression:
        unit = node.args.get("unit")
        if unit is not None and unit.name.upper() not in ("DAY", "DAYS"):
            raise UnsupportedSql(f"date_add() in {unit.name}")
        return exp.Add(this=self._as_date(node.this), expression=_cast(node.expression, "INT"))

    def datediff(self, node: exp.DateDiff) -> exp.Expression:
        if node.args.get("unit") is not None:
            raise UnsupportedSql("datediff() with a unit")
        days = [_cast(self._as_date(x), "INT") for x in (node.this, node.expression)]
        return exp.Paren(this=exp.Sub(this=days[0], expression=days[1]))

    # -- dates and times ----------------------------------------------------------------------
    def _as_ts(self, node: exp.Expression) -> exp.Expression:
        return node if ty.is_(node, ty.TS_UTC) else _cast(node, "TIMESTAMPTZ")

    def extract(self, node: exp.Expression) -> exp.Expression:
        part = _EXTRACT[type(node)]
        arg = node.this
        if isinstance(arg, exp.TsOrDsToDate):
            arg = arg.this
        if ty.is_(arg, ty.STRINGS):
            arg = _cast(arg, "TIMESTAMPTZ")
        return _cast(exp.Extract(this=exp.var(part), expression=arg), "INT")

    def date_trunc(self, node: exp.TimestampTrunc) -> exp.Expression:
        unit = node.args.get("unit")
        name = (unit.name if unit is not None else "").upper()
        if name not in _TRUNC_UNITS:
            raise UnsupportedSql(f"date_trunc unit {name!r}")
        return _fn("DATE_TRUNC", _lit(_TRUNC_UNITS[name]), self._as_ts(node.this))

    def current_timestamp(self, node: exp.Expression) -> exp.Expression:
        return _cast(_lit(self.now.strftime("%Y-%m-%d %H:%M:%S.%f+00:00")), "TIMESTAMPTZ")

    def current_date(self, node: exp.Expression) -> exp.Expression:
        return _cast(_lit(self.now.date().isoformat()), "DATE")
