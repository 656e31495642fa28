"""Write Structured Streaming micro-batches to Delta tables, exactly once, in both profiles.

- ``python`` profile: :class:`DeltaBatchWriter`, a ``foreachBatch`` function that converts the
  micro-batch to Arrow and commits it with deltalake (delta-rs). Each commit carries the app
  transaction ``(app_id, batch_id)``; a batch whose id is not above the table's recorded
  ``transaction_version(app_id)`` is skipped, so a batch Spark replays after a crash writes
  nothing the second time.
- ``jvm`` profile: :func:`jvm_delta_write`, the same contract through delta-spark's
  ``txnAppId``/``txnVersion`` writer options.

:func:`normalize_arrow_table` makes the Arrow data look like what delta-spark writes for the
same DataFrame (all fields nullable, ``NullType`` columns dropped, timestamps in microseconds
with UTC, plain rather than large strings/binaries/lists), so both profiles produce the same
Delta schema.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from kappa.errors import ConfigError, KappaError

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa
    from pyspark.sql import DataFrame

WriteMode = Literal["append", "overwrite"]
_COMMIT_RETRIES = 5


class DeltaWriteError(KappaError):
    """A micro-batch could not be committed to a Delta table."""


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


@dataclass(frozen=True)
class DeltaBatchWriter:
    """``foreachBatch`` target writing each micro-batch to a Delta table with deltalake.

    ``mode`` is ``append`` (every batch adds rows) or ``overwrite`` (every batch replaces the
    table's content). ``app_id`` names the streaming query in the table's app transactions;
    it must be stable across restarts and unique per (query, table). ``schema_mode="merge"``
    lets new columns appear; ``None`` makes a schema change an error.
    """

    table_uri: str
    mode: WriteMode = "append"
    app_id: str = "kappa"
    partition_by: Sequence[str] | None = None
    storage_options: Mapping[str, str] | None = None
    schema_mode: Literal["merge", "overwrite"] | None = "merge"
    custom_metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.mode not in ("append", "overwrite"):
            raise ConfigError(f"Delta write mode must be append or overwrite, not {self.mode!r}")
        if not self.app_id:
            raise ConfigError("DeltaBatchWriter needs a non-empty app_id")

    def __call__(self, batch_df: "DataFrame", batch_id: int) -> None:
        """Write one micro-batch (the ``foreachBatch`` signature)."""
        self.write_arrow(batch_df.toArrow(), int(batch_id))

    def committed_version(self) -> int | None:
        """The last batch id committed by ``app_id`` (None: no table or no commit yet)."""
        table = self._open()
        return None if table is None else table.transaction_version(self.app_id)

    def _open(self):
        from deltalake import DeltaTable
        from deltalake.exceptions import TableNotFoundError

        try:
            return DeltaTable(self.table_uri, storage_options=self._storage_options())
        except TableNotFoundError:
            return None

    def _storage_options(self) -> dict[str, str] | None:
        return dict(self.storage_options) if self.storage_options else None

    def write_arrow(self, data: "pa.Table", batch_id: int) -> bool:
        """Commit ``data`` as batch ``batch_id``; False when the batch was already committed
        (or is an empty append to an existing table) and nothing was written."""
        from deltalake import CommitProperties, Transaction, write_deltalake
        from deltalake.exceptions import CommitFailedError

        normalized = None
        for attempt in range(_COMMIT_RETRIES):
            table = self._open()
            if table is not None:
                done = table.transaction_version(self.app_id)
                if done is not None and done >= batch_id:
                    return False
                if data.num_rows == 0 and self.mode == "append":
                    return False
            if normalized is None:
                normalized = normalize_arrow_table(data)
            metadata = {"kappa.appId": self.app_id, "kappa.batchId": str(batch_id)}
            metadata.update({str(k): str(v) for k, v in self.custom_metadata.items()})
            props = CommitProperties(
                custom_metadata=metadata,
                app_transactions=[Transaction(self.app_id, batch_id, int(time.time() * 1000))],
            )
            try:
                write_deltalake(
                    table if table is not None else self.table_uri,
                    normalized,
                    mode=self.mode,
                    partition_by=list(self.partition_by) if self.partition_by else None,
                    schema_mode=self.schema_mode,
                    storage_options=self._storage_options(),
                    commit_properties=props,
                )
                return True
            except CommitFailedError as exc:  # a concurrent writer won; re-check and retry
                if attempt == _COMMIT_RETRIES - 1:
                    raise DeltaWriteError(
                        f"Delta table {self.table_uri}: batch {batch_id} of {self.app_id!r} "
                        f"could not be committed after {_COMMIT_RETRIES} attempts: {exc}"
                    ) from exc
                time.sleep(0.05 * (attempt + 1))
        return False  # pragma: no cover - loop always returns or raises


def jvm_delta_write_options(
    app_id: str, batch_id: int, merge_schema: bool = True
) -> dict[str, str]:
    """Writer options delta-spark needs for an idempotent micro-batch write."""
    if not app_id:
        raise ConfigError("an idempotent Delta write needs a non-empty app_id")
    options = {"txnAppId": app_id, "txnVersion": str(int(batch_id))}
    if merge_schema:
        options["mergeSchema"] = "true"
    return options


def jvm_delta_write(
    batch_df: "DataFrame",
    batch_id: int,
    path: str,
    mode: WriteMode = "append",
    app_id: str = "kappa",
    partition_by: Sequence[str] | None = None,
    merge_schema: bool = True,
) -> None:
    """``jvm`` profile twin of :class:`DeltaBatchWriter`: write with delta-spark, skipping a
    replayed batch through ``txnAppId``/``txnVersion``. ``overwrite`` keeps the table's
    schema evolution rules of delta-spark (``mergeSchema``)."""
    if mode not in ("append", "overwrite"):
        raise ConfigError(f"Delta write mode must be append or overwrite, not {mode!r}")
    writer = batch_df.write.format("delta").mode(mode)
    writer = writer.options(**jvm_delta_write_options(app_id, batch_id, merge_schema))
    if partition_by:
        writer = writer.partitionBy(*partition_by)
    writer.save(path)
