"""Delta file statistics and partition paths as delta-rs (deltalake) writes them.

Used by writers that produce Parquet data files themselves and commit them as ``add`` actions
(the Spark engine's executors), so their files look like ``write_deltalake``'s:

- :class:`FileStats` accumulates ``numRecords``/``minValues``/``maxValues``/``nullCount`` over
  the batches of one file: min/max for numbers, strings, booleans, dates, timestamps and
  decimals (struct fields nested, NaN ignored), null counts for those and struct leaves, nothing
  for binaries, lists and maps; the first 32 leaf columns only (``delta.dataSkippingNumIndexedCols``).
  Timestamps with a zone are written ``2024-01-01T12:00:00.123Z``, without one
  ``2024-01-01 12:00:00.123`` (milliseconds, no fraction when the time has none), dates ``2024-01-01``, decimals as JSON numbers.
- :func:`partition_value` is the string a partition value is stored as (``None`` for null).
- :func:`partition_dir` is the hive-style folder (``s=a%20b/i=__HIVE_DEFAULT_PARTITION__``);
  an ``AddAction`` takes the path as stored (deltalake percent-encodes it again in the log).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa

HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"
MAX_INDEXED_COLUMNS = 32


def partition_value(value: Any) -> str | None:
    """The Delta log string of a partition value (``None`` stays ``None``)."""
    import datetime as dt

    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None).isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def partition_dir(values: list[tuple[str, str | None]]) -> str:
    """Hive-style folder of a file's partition values (relative to the table root)."""
    parts = []
    for name, value in values:
        text = HIVE_NULL if value is None else quote(value, safe="")
        parts.append(f"{quote(name, safe='')}={text}")
    return "/".join(parts)


def _stat_kind(dtype: pa.DataType) -> str | None:
    import pyarrow.types as pt

    if pt.is_struct(dtype):
        return "struct"
    if pt.is_boolean(dtype) or pt.is_integer(dtype) or pt.is_floating(dtype):
        return "plain"
    if pt.is_string(dtype) or pt.is_large_string(dtype) or pt.is_date(dtype):
        return "plain"
    if pt.is_decimal(dtype) or pt.is_timestamp(dtype):
        return "plain"
    return None


def _format(value: Any, dtype: pa.DataType) -> Any:
    import datetime as dt
    import decimal

    import pyarrow.types as pt

    if isinstance(value, decimal.Decimal):
        return float(value)
    if pt.is_timestamp(dtype) and isinstance(value, dt.datetime):
        if dtype.tz is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        text = value.strftime("%Y-%m-%dT%H:%M:%S" if dtype.tz is not None else "%Y-%m-%d %H:%M:%S")
        if value.microsecond:  # delta-rs: milliseconds, only when the time has a fraction
            text += f".{value.microsecond // 1000:03d}"
        return text + ("Z" if dtype.tz is not None else "")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


class FileStats:
    """Statistics of one data file, fed batch by batch (see the module docstring)."""

    def __init__(self, schema: pa.Schema):
        self.schema = schema
        self.rows = 0
        self._min: dict[tuple[str, ...], Any] = {}
        self._max: dict[tuple[str, ...], Any] = {}
        self._nulls: dict[tuple[str, ...], int] = {}
        self._leaves: list[tuple[tuple[str, ...], pa.DataType]] = []
        for fld in schema:
            self._collect_leaves((fld.name,), fld.type)
        self._leaves = self._leaves[:MAX_INDEXED_COLUMNS]

    def _collect_leaves(self, path: tuple[str, ...], dtype: pa.DataType) -> None:
        kind = _stat_kind(dtype)
        if kind == "struct":
            for i in range(dtype.num_fields):
                child = dtype.field(i)
                self._collect_leaves(path + (child.name,), child.type)
        elif kind is not None:
            self._leaves.append((path, dtype))

    def update(self, table: pa.Table | pa.RecordBatch) -> None:
        """Add one batch of the file (same schema as the file)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        self.rows += table.num_rows
        for path, dtype in self._leaves:
            column = table.column(path[0])
            if isinstance(column, pa.ChunkedArray):
                column = column.combine_chunks()
            for name in path[1:]:  # StructArray.field ignores the parent's nulls; flatten keeps them
                column = column.flatten()[column.type.get_field_index(name)]
            self._nulls[path] = self._nulls.get(path, 0) + column.null_count
            values = column
            if pa.types.is_floating(dtype):
                values = pc.filter(column, pc.invert(pc.is_nan(column)).fill_null(False))
            if len(values) == values.null_count:
                continue
            bounds = pc.min_max(values)
            low, high = bounds["min"].as_py(), bounds["max"].as_py()
            if path not in self._min or low < self._min[path]:
                self._min[path] = low
            if path not in self._max or high > self._max[path]:
                self._max[path] = high

    def to_json(self) -> str:
        """The ``stats`` string of the file's ``add`` action."""
        mins: dict[str, Any] = {}
        maxs: dict[str, Any] = {}
        nulls: dict[str, Any] = {}
        for path, dtype in self._leaves:
            for target, source in ((mins, self._min), (maxs, self._max), (nulls, self._nulls)):
                if path not in source:
                    continue
                node = target
                for name in path[:-1]:
                    node = node.setdefault(name, {})
                node[path[-1]] = source[path] if source is self._nulls else _format(source[path], dtype)
        return json.dumps(
            {"numRecords": self.rows, "minValues": mins, "maxValues": maxs, "nullCount": nulls},
            separators=(",", ":"),
        )
