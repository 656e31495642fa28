"""Node-by-node rewrite of a (type-annotated) Spark SQL tree into Polars SQL with Spark's results.

Each handler takes a node whose children are already rewritten and returns its replacement.
The rules and the Spark behaviour each one reproduces are listed in :mod:`kappa.sql.translate`.
"""

from __future__ import annotations

import datetime as _dt
from typing import Callable

from sqlglot import exp

from kappa.sql import _types as ty
from kappa.sql._decimal import int_literal as _int_literal
from kappa.sql._decimal import decimal_of as _decimal_of, decimal_result as _decimal_result, is_decimal_op as _is_decimal_op
from kappa.sql._formats import has_zone, java_to_chrono
from kappa.sql.errors import UnsupportedSql

from kappa.sql._hoist import HoistedCasts
from kappa.sql._rewrite_text_time import TextTimeRules
from kappa.sql._rewrite_util import (
    _EXTRACT,
    _FALSE_STRINGS,
    _TRUE_STRINGS,
    _c,
    _cast,
    _decimal_params,
    _fn,
    _lit,
)


class Rewriter(TextTimeRules):
    """Bottom-up rewrite; ``branch_casts`` holds ids of CASTs that sit in a CASE/IF branch."""

    def __init__(self, branch_casts: set[int], now: _dt.datetime | None = None, hoist: HoistedCasts | None = None):
        self.branch_casts = branch_casts
        self.now = now or _dt.datetime.now(_dt.timezone.utc)
        self.hoist = hoist
        self.handlers: dict[type, Callable[[exp.Expression], exp.Expression]] = {
            exp.Cast: self.cast,
            exp.TryCast: self.cast,
            exp.Div: self.div,
            exp.Add: self.arith,
            exp.Sub: self.arith,
            exp.Mul: self.arith,
            exp.Mod: self.arith,
            exp.Concat: self.concat,
            exp.Substring: self.substring,
            exp.Length: self.length,
            exp.Trim: self.trim,
            exp.Round: self.round,
            exp.Floor: self.floor_ceil,
            exp.Ceil: self.floor_ceil,
            exp.Sum: self.sum,
            exp.Avg: self.avg,
            exp.ArgMax: self.arg_extreme,
            exp.ArgMin: self.arg_extreme,
            exp.TimestampTrunc: self.date_trunc,
            exp.CurrentTimestamp: self.current_timestamp,
            exp.CurrentDate: self.current_date,
            exp.If: self.if_,
            exp.Window: self.window,
            exp.Anonymous: self.anonymous,
            exp.RegexpReplace: self.regexp_replace,
            exp.Replace: self.replace,
            exp.Pad: self.pad,
            exp.TsOrDsAdd: self.date_add,
            exp.DateDiff: self.datediff,
            **{cls: self.extract for cls in _EXTRACT},
        }

    # -- driver -------------------------------------------------------------------------------
    def run(self, node: exp.Expression) -> exp.Expression:
        """Rewrite ``node`` and its subtree; returns the new root."""
        for key, value in list(node.args.items()):
            if isinstance(value, exp.Expression):
                node.set(key, self.run(value))
            elif isinstance(value, list):
                node.set(key, [self.run(v) if isinstance(v, exp.Expression) else v for v in value])
        handler = self.handlers.get(type(node))
        if handler is None:
            return node
        original_type = node.type
        new = handler(node)
        if new is not node and (new.type is None or new.type.this == exp.DataType.Type.UNKNOWN):
            new.type = original_type
        return new

    # -- casts --------------------------------------------------------------------------------
    def cast(self, node: exp.Expression) -> exp.Expression:
        src = node.this
        to = node.to
        safe = bool(node.args.get("safe")) or id(node) in self.branch_casts
        t = to.this
        T = exp.DataType.Type
        if t in ty.TS_UTC:
            if ty.is_(src, ty.INTEGERS):
                return _cast(exp.Mul(this=_cast(src, "BIGINT", safe), expression=_lit(1_000_000)), "TIMESTAMPTZ", safe)
            if ty.is_(src, ty.FLOATS | ty.DECIMALS):
                micros = exp.Mul(this=_cast(src, "DOUBLE", safe), expression=_lit(1_000_000))
                return _cast(_cast(micros, "BIGINT", safe), "TIMESTAMPTZ", safe)
            if self.hoist is not None and ty.is_(src, ty.STRINGS):
                hoisted = self.hoist.column(src, strict=not safe)
                if hoisted is not None:
                    return hoisted
            return _cast(src, "TIMESTAMPTZ", safe)
        if t in ty.TS_NTZ:
            return _cast(src, "TIMESTAMP", safe)
        if t in ty.STRINGS:
            if ty.is_(src, ty.TS_UTC | ty.TS_NTZ):
                text = _fn("STRFTIME", src, _lit("%Y-%m-%d %H:%M:%S%.6f"))
                return _fn("REGEXP_REPLACE", text, _lit(r"\.?0+$"), _lit(""))
            return _cast(src, "VARCHAR", safe)
        if t == T.BOOLEAN and ty.is_(src, ty.STRINGS):
            norm = exp.Lower(this=exp.Trim(this=_c(src)))
            return exp.Case(
                ifs=[
                    exp.If(this=exp.In(this=norm, expressions=[_lit(v) for v in _TRUE_STRINGS]), true=exp.true()),
                    exp.If(this=exp.In(this=norm.copy(), expressions=[_lit(v) for v in _FALSE_STRINGS]), true=exp.false()),
                ],
                default=exp.null(),
            )
        if t in ty.INTEGERS and ty.is_(src, ty.TS_UTC | ty.TS_NTZ):
            micros = _cast(src, "BIGINT", safe)
            seconds = exp.Floor(this=exp.Div(this=micros, expression=_lit(1_000_000)))
            return _cast(seconds, to.sql(dialect="postgres"), safe)
        if t in ty.DECIMALS and ty.is_(src, ty.FLOATS):
            # Spark rounds HALF_UP on the double's decimal form; Polars' float->decimal cast is
            # half-to-even on the binary value: go through a wider decimal and ROUND (half-up).
            precision, scale = _decimal_params(to)
            wide = _cast(src, f"DECIMAL(38, {max(scale, min(12, 38 - (precision - scale)))})", safe)
            return _cast(exp.Round(this=wide, decimals=_lit(scale)), f"DECIMAL({precision}, {scale})", safe)
        if t in ty.DECIMALS and ty.is_(src, ty.DECIMALS):
            precision, scale = _decimal_params(to)
            if ty.decimal_ps(src)[1] > scale:  # Spark rounds HALF_UP, Polars' cast does not
                rounded = exp.Round(this=src, decimals=_lit(scale))
                return _cast(rounded, f"DECIMAL({precision}, {scale})", safe)
        if t in ty.INTEGERS | ty.FLOATS | ty.DECIMALS or t in (T.BOOLEAN, T.DATE):
            out = (exp.TryCast if safe else exp.Cast)(this=src, to=to)
            if safe:
                out.set("safe", True)
            return out
        raise UnsupportedSql(f"CAST to {to.sql(dialect='spark')}")

    # -- arithmetic ---------------------------------------------------------------------------
    def div(self, node: exp.Div) -> exp.Expression:
        left, right = node.this, node.expression
        if _is_decimal_op(left, right):
            ps = _decimal_result(node, left, right)
            if ps is None:
                return exp.Div(this=left, expression=exp.Nullif(this=right, expression=_lit(0)))
            precision, scale = ps
            (lp, ls), (_, rs) = _decimal_of(left), _decimal_of(right)
            # Divide at the widest scale Polars can hold without overflow, then round HALF_UP once
            # more to Spark's scale (Spark divides with 39 significant digits, then rounds).
            room = 38 - (lp - ls)
            wide = _cast(left, f"DECIMAL(38, {min(room, max(ls, scale + 1, room - rs - 1))})")
            quotient = exp.Div(this=wide, expression=exp.Nullif(this=right, expression=_lit(0)))
            return _cast(exp.Round(this=quotient, decimals=_lit(scale)), f"DECIMAL({precision}, {scale})")
        left, divisor = _cast(left, "DOUBLE"), _cast(right, "DOUBLE")
        if right.find(exp.Column) is None and left.find(exp.Column) is not None:
            # Polars divides a column by a scalar as a multiplication by its reciprocal, which is
            # off by one ulp for many values; a per-row divisor keeps IEEE division (as Spark).
            divisor = exp.Case(ifs=[exp.If(this=exp.GT(this=_c(left), expression=_lit(0)), true=divisor)],
                               default=divisor.copy())
        return exp.Div(this=left, expression=exp.Nullif(this=divisor, expression=_lit(0)))

    def arith(self, node: exp.Expression) -> exp.Expression:
        """``+ - * %`` with a DECIMAL operand: Spark's result precision/scale (HALF_UP rounding)."""
        left, right = node.this, node.expression
        if not _is_decimal_op(left, right):
            if ty.is_(left, ty.DECIMALS) or ty.is_(right, ty.DECIMALS):  # decimal with double: DOUBLE
                node.set("this", _cast(left, "DOUBLE") if ty.is_(left, ty.DECIMALS) else left)
                node.set("expression", _cast(right, "DOUBLE") if ty.is_(right, ty.DECIMALS) else right)
            return node
        ps = _decimal_result(node, left, right)
        if ps is None:
            return node
        precision, scale = ps
        return _cast(exp.Round(this=node, decimals=_lit(scale)), f"DECIMAL({precision}, {scale})")

    def round(self, node: exp.Round) -> exp.Expression:
        value = node.this
        digits_node = node.args.get("decimals")
        digits = 0 if digits_node is None else _int_literal(digits_node)
        if digits is None or digits < 0:
            raise UnsupportedSql("round() with a scale that is not a literal integer >= 0")
        if ty.is_(value, ty.DECIMALS):
            precision, scale = ty.decimal_ps(value)
            new_scale = min(scale, digits)
            rounded = exp.Round(this=value, decimals=_lit(digits))
            return _cast(rounded, f"DECIMAL({min(38, precision - scale + 1 + new_scale)}, {new_scale})")
        if ty.is_(value, ty.INTEGERS):
            return exp.Round(this=value, decimals=_lit(digits)) if digits_node is not None else exp.Round(this=value)
        # Spark rounds doubles HALF_UP on their decimal representation; Polars' float round is
        # half-to-even, so round through DECIMAL (exact for |x| < 1e15, where it matters).
        as_dec = exp.Round(this=_cast(_c(value), "DECIMAL(38, 12)", safe=True), decimals=_lit(digits))
        big = exp.GTE(this=exp.Abs(this=_c(value)), expression=_cast(_lit(1e15), "DOUBLE"))
        return exp.Case(ifs=[exp.If(this=big, true=_cast(_c(value), "DOUBLE"))], default=_cast(as_dec, "DOUBLE"))

    def floor_ceil(self, node: exp.Expression) -> exp.Expression:
        if node.args.get("decimals") is not None:
            raise UnsupportedSql(f"{node.key}() with a scale argument")
        if ty.is_(node.this, ty.DECIMALS):
            precision, scale = ty.decimal_ps(node.this)
            return _cast(node, f"DECIMAL({min(38, precision - scale + 1)}, 0)")
        return _cast(node, "BIGINT")

    # -- aggregates ---------------------------------------------------------------------------
    def sum(self, node: exp.Sum) -> exp.Expression:
        arg = node.this
        if ty.is_(arg, ty.INTEGERS):
            return _cast(node, "BIGINT")
        if ty.is_(arg, ty.DECIMALS):
            precision, scale = ty.decimal_ps(arg)
            return _cast(node, f"DECIMAL({min(38, precision + 10)}, {scale})")
        if ty.is_(arg, ty.FLOATS):
            return _cast(node, "DOUBLE")
        return node

    def avg(self, node: exp.Avg) -> exp.Expression:
        arg = node.this
        if ty.is_(arg, ty.DECIMALS):
            precision, scale = ty.decimal_ps(arg)
            return _cast(node, f"DECIMAL({min(38, precision + 4)}, {min(38, scale + 4)})")
        return _cast(node, "DOUBLE")

    def arg_extreme(self, node: exp.Expression) -> exp.Expression:
        """``max_by(v, o)`` / ``min_by(v, o)``: the ``v`` of the row with the largest / smallest ``o``.

        Spark ignores rows whose ``o`` is NULL (and gives NULL when every ``o`` is); Polars SQL has
        no such aggregate, so: the first element of ``ARRAY_AGG(v ORDER BY o DESC|ASC NULLS LAST)``,
        NULL when ``max(o)`` is NULL. Ties on ``o`` are Spark's "any row" (non-deterministic there).
        """
        value, order = node.this, node.expression
        ordered = exp.Ordered(this=_c(order), desc=isinstance(node, exp.ArgMax), nulls_first=False)
        first = _fn("ARRAY_GET", exp.ArrayAgg(this=exp.Order(this=value, expressions=[ordered])), _lit(1))
        no_order = exp.Is(this=exp.Max(this=_c(order)), expression=exp.Null())
        return exp.Case(ifs=[exp.If(this=no_order, true=exp.Null())], default=first)

    def window(self, node: exp.Window) -> exp.Expression:
        inner = node.this
        if node.args.get("spec") is not None:
            raise UnsupportedSql("window frame clauses (ROWS/RANGE BETWEEN ...)")
        if isinstance(inner, (exp.RowNumber, exp.Rank, exp.DenseRank)):
            return _cast(node, "INT")
        if isinstance(inner, (exp.Lag, exp.Lead)):
            return node
        if node.args.get("order"):
            raise UnsupportedSql(f"running aggregate {inner.sql(dialect='spark')} OVER (... ORDER BY ...)")
        if isinstance(inner, exp.Cast):  # an aggregate that got a result-type cast
            node.set("this", inner.this)
            return _cast(node, inner.to.sql(dialect="postgres"))
        return node

    def if_(self, node: exp.If) -> exp.Expression:
        if isinstance(node.parent, exp.Case):
            return node  # a WHEN branch of a CASE
        return exp.Case(ifs=[exp.If(this=node.this, true=node.args.get("true"))], default=node.args.get("false"))

    def anonymous(self, node: exp.Anonymous) -> exp.Expression:
        name = node.name.upper()
        args = node.expressions
        if name in ("TO_DATE", "TO_TIMESTAMP", "DATE_FORMAT") and len(args) not in (1, 2):
            raise UnsupportedSql(f"{name.lower()}() takes 1 or 2 arguments")
        fmt = args[1] if len(args) == 2 else None
        if fmt is not None and not (isinstance(fmt, exp.Literal) and fmt.is_string):
            raise UnsupportedSql(f"{name.lower()}() with a pattern that is not a string literal")
        if name == "TO_DATE":
            if fmt is None or ty.is_(args[0], ty.TS_UTC | ty.TS_NTZ | frozenset({exp.DataType.Type.DATE})):
                return _cast(args[0], "DATE")
            return _cast(_fn("STRPTIME", args[0], _lit(java_to_chrono(fmt.this))), "DATE")
        if name == "TO_TIMESTAMP":
            if fmt is None:
                return self.cast(_cast(args[0], "TIMESTAMPTZ"))
            parsed = _fn("STRPTIME", args[0], _lit(java_to_chrono(fmt.this)))
            return parsed if has_zone(fmt.this) else _cast(parsed, "TIMESTAMPTZ")
        if name == "DATE_FORMAT":
            if fmt is None:
                raise UnsupportedSql("date_format() needs a pattern")
            return _fn("STRFTIME", self._as_ts(args[0]), _lit(java_to_chrono(fmt.this, parsing=False)))
        raise UnsupportedSql(f"function {node.name}()")
