"""Spark's DECIMAL arithmetic rules (result precision and scale), used by the rewrite."""

from __future__ import annotations

from sqlglot import exp

from kappa.sql import _types as ty


def int_literal(node: exp.Expression | None) -> int | None:
    if isinstance(node, exp.Literal) and not node.is_string:
        try:
            return int(node.this)
        except ValueError:
            return None
    if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal):
        inner = int_literal(node.this)
        return None if inner is None else -inner
    return None



_INT_DIGITS = {"TINYINT": 3, "SMALLINT": 5, "INT": 10, "BIGINT": 20}


def decimal_of(node: exp.Expression) -> tuple[int, int] | None:
    """Spark's decimal view of an operand: DECIMAL(p, s), an integer type, or an integer literal."""
    if ty.is_(node, ty.DECIMALS):
        return ty.decimal_ps(node)
    literal_ps = decimal_literal(node)
    if literal_ps is not None:
        return literal_ps
    literal = int_literal(node)
    if literal is not None:
        return max(1, len(str(abs(literal)))), 0
    if ty.is_(node, ty.INTEGERS):
        return _INT_DIGITS.get(node.type.this.name, 20), 0
    return None


def decimal_literal(node: exp.Expression) -> tuple[int, int] | None:
    """Spark types ``1.50`` as DECIMAL(3, 2) (a literal with a point and no exponent)."""
    if isinstance(node, exp.Neg):
        node = node.this
    if not isinstance(node, exp.Literal) or node.is_string:
        return None
    text = str(node.this)
    if "." not in text or "e" in text.lower():
        return None
    whole, frac = text.split(".", 1)
    digits = (whole.lstrip("0") + frac) or "0"
    return max(len(digits), len(frac), 1), len(frac)


def is_decimal(node: exp.Expression) -> bool:
    """A DECIMAL-typed operand or a decimal literal."""
    return ty.is_(node, ty.DECIMALS) or decimal_literal(node) is not None


def is_decimal_op(left: exp.Expression, right: exp.Expression) -> bool:
    """True when Spark computes in DECIMAL: one side DECIMAL, the other DECIMAL or integral."""
    if not (is_decimal(left) or is_decimal(right)):
        return False
    return decimal_of(left) is not None and decimal_of(right) is not None


def decimal_result(node: exp.Expression, left: exp.Expression, right: exp.Expression) -> tuple[int, int] | None:
    """Spark's result DECIMAL(p, s) of a binary operator (allowPrecisionLoss=true)."""
    a, b = decimal_of(left), decimal_of(right)
    if a is None or b is None:
        return None
    (p1, s1), (p2, s2) = a, b
    if isinstance(node, (exp.Add, exp.Sub)):
        scale = max(s1, s2)
        precision = max(p1 - s1, p2 - s2) + scale + 1
    elif isinstance(node, exp.Mul):
        precision, scale = p1 + p2 + 1, s1 + s2
    elif isinstance(node, exp.Div):
        scale = max(6, s1 + p2 + 1)
        precision = p1 - s1 + s2 + scale
    elif isinstance(node, exp.Mod):
        scale = max(s1, s2)
        precision = min(p1 - s1, p2 - s2) + scale
    else:
        return None
    if precision > 38:
        int_digits = precision - scale
        scale = max(38 - int_digits, min(scale, 6))
        precision = 38
    return precision, scale
