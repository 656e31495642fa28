"""Small helpers over sqlglot data types (the types ``annotate_types`` attached to nodes)."""

from __future__ import annotations

from sqlglot import exp

T = exp.DataType.Type

INTEGERS = frozenset({T.TINYINT, T.SMALLINT, T.INT, T.BIGINT, T.UTINYINT, T.USMALLINT, T.UINT, T.UBIGINT})
FLOATS = frozenset({T.DOUBLE, T.FLOAT})
STRINGS = frozenset({T.TEXT, T.VARCHAR, T.CHAR, T.NVARCHAR, T.NCHAR})
TS_UTC = frozenset({T.TIMESTAMP, T.TIMESTAMPTZ, T.TIMESTAMPLTZ})
TS_NTZ = frozenset({T.TIMESTAMPNTZ})
DECIMALS = frozenset({T.DECIMAL})


def kind(node: exp.Expression) -> "exp.DataType.Type | None":
    """The annotated type of a node, or None when unknown."""
    t = node.type
    if t is None or t.this in (T.UNKNOWN, T.NULL):
        return None
    return t.this


def is_(node: exp.Expression, kinds: frozenset) -> bool:
    """Whether the node's known type is one of ``kinds``."""
    k = kind(node)
    return k is not None and k in kinds


def decimal_ps(node: exp.Expression) -> tuple[int, int]:
    """(precision, scale) of a DECIMAL-typed node (Spark's default DECIMAL is (10, 0))."""
    params = [int(p.this.this) if isinstance(p.this, exp.Literal) else int(p.name) for p in node.type.expressions]
    precision = params[0] if params else 10
    scale = params[1] if len(params) > 1 else 0
    return precision, scale
