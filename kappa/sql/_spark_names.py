"""Polars dtypes -> Spark SQL type names, the input schemas of the SQL translator.

Design note: this lives apart from :mod:`kappa.sql._types` (helpers over sqlglot's types) because
a replay needs it before every SQL step runs, also when the step's translation comes from
:mod:`kappa.sql.cache`: it must not import sqlglot.
"""

from __future__ import annotations


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
