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


def polars_schema_to_spark(schema) -> dict[str, str]:
    """A Polars schema as ``{column: Spark type name}``: the common types directly, any other
    through Arrow and :func:`kappa.types.arrow_to_spark_ddl` (so a plain replay never imports
    pyarrow for it); "UNKNOWN" for a type Spark has no name for."""
    from kappa.types import TypeParseError

    out: dict[str, str] = {}
    for name, dtype in schema.items():
        try:
            out[name] = _spark_name(dtype)
        except TypeParseError:
            out[name] = "UNKNOWN"
    return out


def _spark_name(dtype) -> str:
    import polars as pl

    from kappa.types import arrow_to_spark_ddl

    simple = {pl.String: "STRING", pl.Boolean: "BOOLEAN", pl.Int8: "TINYINT", pl.Int16: "SMALLINT",
              pl.Int32: "INT", pl.Int64: "BIGINT", pl.Float32: "FLOAT", pl.Float64: "DOUBLE", pl.Date: "DATE"}
    base = dtype.base_type()
    if base in simple:
        return simple[base]
    if base is pl.Datetime:
        return "TIMESTAMP" if dtype.time_zone else "TIMESTAMP_NTZ"
    if base is pl.Decimal and dtype.precision is not None:
        return f"DECIMAL({dtype.precision},{dtype.scale})"
    if base is pl.List:
        return f"ARRAY<{_spark_name(dtype.inner)}>"
    if base is pl.Struct:
        return "STRUCT<" + ", ".join(f"{f.name}: {_spark_name(f.dtype)}" for f in dtype.fields) + ">"
    return arrow_to_spark_ddl(pl.DataFrame(schema={"x": dtype}).to_arrow().schema.field(0).type)
