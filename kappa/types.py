"""Spark SQL type names <-> Arrow types.

kappa uses Spark's type vocabulary everywhere a config declares a type (a Kafka value schema,
a CAST in a SQL step): ``STRING``, ``INT``, ``BIGINT``, ``DOUBLE``, ``DECIMAL(10,2)``,
``TIMESTAMP``, ``ARRAY<STRING>``, ``STRUCT<a: INT, b: STRING>``, ``MAP<STRING, INT>``.
Arrow is the exchange format between components, so each type maps to one Arrow type.

>>> import pyarrow as pa
>>> parse_type("array<struct<a: int, b: string>>") == pa.list_(pa.struct([("a", pa.int32()), ("b", pa.string())]))
True
>>> parse_schema("symbol STRING, price DOUBLE").names
['symbol', 'price']
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa

_SIMPLE = {
    "string": "string",
    "varchar": "string",
    "char": "string",
    "binary": "binary",
    "boolean": "bool_",
    "bool": "bool_",
    "tinyint": "int8",
    "byte": "int8",
    "smallint": "int16",
    "short": "int16",
    "int": "int32",
    "integer": "int32",
    "bigint": "int64",
    "long": "int64",
    "float": "float32",
    "real": "float32",
    "double": "float64",
    "date": "date32",
}


class TypeParseError(ValueError):
    """A type string that is not a Spark SQL type."""


def _split_top(text: str, sep: str = ",") -> list[str]:
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch in "<(":
            depth += 1
        elif ch in ">)":
            depth -= 1
        if ch == sep and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    tail = "".join(cur).strip()
    if tail:
        parts.append(tail)
    return parts


def parse_type(text: str) -> "pa.DataType":
    """Parse one Spark SQL type name into an Arrow type."""
    import pyarrow as pa

    t = text.strip()
    low = t.lower()
    if low in _SIMPLE:
        return getattr(pa, _SIMPLE[low])()
    if low in ("timestamp", "timestamp_ltz"):
        return pa.timestamp("us", tz="UTC")
    if low == "timestamp_ntz":
        return pa.timestamp("us")
    m = re.fullmatch(r"(?:varchar|char)\s*\(\s*\d+\s*\)", low)
    if m:
        return pa.string()
    m = re.fullmatch(r"(?:decimal|dec|numeric)\s*(?:\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?", low)
    if m:
        precision = int(m.group(1) or 10)
        scale = int(m.group(2) or 0)
        return pa.decimal128(precision, scale)
    m = re.fullmatch(r"array\s*<(.*)>", t, flags=re.I | re.S)
    if m:
        return pa.list_(parse_type(m.group(1)))
    m = re.fullmatch(r"map\s*<(.*)>", t, flags=re.I | re.S)
    if m:
        kv = _split_top(m.group(1))
        if len(kv) != 2:
            raise TypeParseError(f"MAP needs a key and a value type: {text!r}")
        return pa.map_(parse_type(kv[0]), parse_type(kv[1]))
    m = re.fullmatch(r"struct\s*<(.*)>", t, flags=re.I | re.S)
    if m:
        return pa.struct(_parse_fields(m.group(1), colon_optional=True))
    raise TypeParseError(f"unknown type {text!r}")


def _parse_fields(body: str, colon_optional: bool) -> list["pa.Field"]:
    import pyarrow as pa

    fields = []
    for part in _split_top(body):
        m = re.fullmatch(r"`?([^`:\s]+)`?\s*:?\s*(.+?)(?:\s+NOT\s+NULL)?", part.strip(), flags=re.I | re.S)
        if not m:
            raise TypeParseError(f"cannot read field declaration {part!r}")
        fields.append(pa.field(m.group(1), parse_type(m.group(2))))
    return fields


def parse_schema(schema: str | Mapping[str, Any]) -> "pa.Schema":
    """Parse a DDL string (``"a INT, b STRING"``) or a ``{name: type}`` mapping into an Arrow schema."""
    import pyarrow as pa

    if isinstance(schema, str):
        return pa.schema(_parse_fields(schema, colon_optional=True))
    fields = []
    for name, typ in schema.items():
        if isinstance(typ, Mapping):
            fields.append(pa.field(name, pa.struct(list(parse_schema(typ)))))
        else:
            fields.append(pa.field(name, parse_type(str(typ))))
    return pa.schema(fields)


def arrow_to_spark_ddl(t: "pa.DataType") -> str:
    """Render an Arrow type as a Spark SQL type name (the inverse of :func:`parse_type`)."""
    import pyarrow as pa

    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "STRING"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        return "BINARY"
    if pa.types.is_boolean(t):
        return "BOOLEAN"
    for width, name in ((8, "TINYINT"), (16, "SMALLINT"), (32, "INT"), (64, "BIGINT")):
        if pa.types.is_integer(t) and t.bit_width == width:
            return name
    if pa.types.is_float32(t):
        return "FLOAT"
    if pa.types.is_float64(t):
        return "DOUBLE"
    if pa.types.is_decimal(t):
        return f"DECIMAL({t.precision},{t.scale})"
    if pa.types.is_date(t):
        return "DATE"
    if pa.types.is_timestamp(t):
        return "TIMESTAMP" if t.tz else "TIMESTAMP_NTZ"
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return f"ARRAY<{arrow_to_spark_ddl(t.value_type)}>"
    if pa.types.is_map(t):
        return f"MAP<{arrow_to_spark_ddl(t.key_type)}, {arrow_to_spark_ddl(t.item_type)}>"
    if pa.types.is_struct(t):
        inner = ", ".join(f"{f.name}: {arrow_to_spark_ddl(f.type)}" for f in t)
        return f"STRUCT<{inner}>"
    raise TypeParseError(f"no Spark SQL name for Arrow type {t}")


def polars_schema(arrow: Any) -> Any:
    """The Polars schema of an Arrow schema, converted type by type (building even an empty Arrow
    table would import pandas: a second for ``kappa validate``)."""
    import polars as pl

    return pl.Schema({f.name: polars_type(f.type) for f in arrow})


def polars_type(t: Any) -> Any:
    """The Polars type of an Arrow type, as ``pl.from_arrow`` gives it."""
    import polars as pl
    import pyarrow as pa

    simple = {pa.int8(): pl.Int8, pa.int16(): pl.Int16, pa.int32(): pl.Int32, pa.int64(): pl.Int64, pa.float32(): pl.Float32,
              pa.float64(): pl.Float64, pa.string(): pl.String, pa.large_string(): pl.String, pa.binary(): pl.Binary,
              pa.large_binary(): pl.Binary, pa.bool_(): pl.Boolean, pa.date32(): pl.Date}
    if t in simple:
        return simple[t]()
    if pa.types.is_timestamp(t):
        return pl.Datetime(t.unit, t.tz)
    if pa.types.is_decimal(t):
        return pl.Decimal(t.precision, t.scale)
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return pl.List(polars_type(t.value_type))
    if pa.types.is_struct(t):
        return pl.Struct({t.field(i).name: polars_type(t.field(i).type) for i in range(t.num_fields)})
    return pl.from_arrow(pa.schema([pa.field("x", t)]).empty_table()).schema["x"]
