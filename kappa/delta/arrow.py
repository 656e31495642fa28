"""Arrow data as delta-spark stores it, so that every kappa writer produces the same Delta schema.

All fields nullable, ``NullType`` columns dropped, timestamps in microseconds with UTC, plain
rather than large/view strings, binaries and lists, unsigned integers widened to Spark's
signed types. Both engines (and both Spark connector profiles) pass data through
:func:`normalize_arrow_table` before committing it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kappa.errors import KappaError

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa


class DeltaWriteError(KappaError):
    """Data could not be committed to a Delta table."""


def normalize_arrow_type(dtype: "pa.DataType") -> "pa.DataType":
    """Map an Arrow type to the one delta-spark would store for the matching Spark type."""
    import pyarrow as pa
    import pyarrow.types as pt

    if pt.is_timestamp(dtype):
        return pa.timestamp("us", tz="UTC" if dtype.tz is not None else None)
    if pt.is_large_string(dtype) or pt.is_string_view(dtype):
        return pa.string()
    if pt.is_large_binary(dtype) or pt.is_binary_view(dtype):
        return pa.binary()
    if pt.is_fixed_size_binary(dtype):
        return pa.binary()
    if pt.is_date64(dtype):
        return pa.date32()
    if pt.is_uint8(dtype):
        return pa.int16()
    if pt.is_uint16(dtype):
        return pa.int32()
    if pt.is_uint32(dtype) or pt.is_uint64(dtype):
        return pa.int64()
    if pt.is_float16(dtype):
        return pa.float32()
    if pt.is_dictionary(dtype):
        return normalize_arrow_type(dtype.value_type)
    if pt.is_list(dtype) or pt.is_large_list(dtype) or pt.is_fixed_size_list(dtype):
        return pa.list_(_nullable_field(dtype.value_field, "element"))
    if pt.is_map(dtype):
        key = normalize_arrow_type(dtype.key_type)
        item = normalize_arrow_type(dtype.item_type)
        return pa.map_(pa.field("key", key, nullable=False), pa.field("value", item))
    if pt.is_struct(dtype):
        return pa.struct([_nullable_field(dtype.field(i)) for i in range(dtype.num_fields)])
    return dtype


def _nullable_field(fld: "pa.Field", name: str | None = None) -> "pa.Field":
    import pyarrow as pa

    return pa.field(name or fld.name, normalize_arrow_type(fld.type), nullable=True)


def normalize_arrow_table(table: "pa.Table") -> "pa.Table":
    """Return ``table`` cast to delta-spark's conventions (see the module docstring).

    Top-level ``null``-typed columns (Spark ``NullType``, e.g. ``lit(None)`` without a cast)
    are dropped, as delta-spark drops them; every field becomes nullable, as delta-spark
    writes every data column nullable.
    """
    import pyarrow as pa

    keep = [i for i, f in enumerate(table.schema) if not pa.types.is_null(f.type)]
    if len(keep) != table.num_columns:
        table = table.select(keep)
    target = pa.schema([_nullable_field(f) for f in table.schema])
    if target == table.schema:
        return table
    columns = []
    for name, column, fld in zip(table.column_names, table.columns, target):
        try:
            columns.append(column.cast(fld.type))
        except pa.ArrowInvalid as exc:
            if "timestamp" not in str(column.type):
                raise DeltaWriteError(
                    f"column {name!r} of type {column.type} cannot be stored as {fld.type}: {exc}"
                ) from exc
            # Spark keeps microseconds: nanoseconds are truncated, as Spark itself does.
            columns.append(column.cast(fld.type, safe=False))
    return pa.Table.from_arrays(columns, schema=target)
