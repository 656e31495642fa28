"""Delta table files for the ``kappa_delta`` data source: list them, read them as Arrow.

Works on any storage deltalake (delta-rs) reaches: the table is opened through
``deltalake.fs.DeltaStorageHandler`` as a pyarrow filesystem rooted at the table.

- :func:`snapshot_files` lists the data files of a version (from deltalake's add actions).
- :func:`read_commit` reads one commit of ``_delta_log`` and classifies it (data added,
  data removed/changed, schema changed) the way Spark's Delta streaming source does.
- :func:`read_file_batches` reads one data file as Arrow record batches shaped to the
  stream's schema (partition columns filled in, missing columns as nulls).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from kappa.errors import KappaError

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa


class DeltaSourceError(KappaError):
    """A Delta table cannot be read by the ``kappa_delta`` data source."""


@dataclass(frozen=True)
class DataFile:
    """One data file of a Delta table: path relative to the table root (decoded), size in
    bytes, partition values (strings from the log or typed values from a snapshot)."""

    path: str
    size: int
    partition_values: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class Commit:
    """What one Delta commit means to a streaming reader."""

    version: int
    added: tuple[DataFile, ...] = ()
    removes_data: bool = False
    schema_fields: tuple[str, ...] | None = None  # set when the commit changes the schema
    extra: dict = field(default_factory=dict, compare=False)


def table_filesystem(table_uri: str, storage_options: Mapping[str, str] | None = None):
    """A pyarrow filesystem rooted at the table (paths relative to the table root)."""
    import pyarrow.fs as pafs
    from deltalake.fs import DeltaStorageHandler

    handler = DeltaStorageHandler(table_uri, options=dict(storage_options or {}) or None)
    return pafs.PyFileSystem(handler)


def open_table(table_uri: str, storage_options=None, version: int | None = None):
    """Open a DeltaTable (at ``version``) or raise :class:`DeltaSourceError`."""
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    try:
        return DeltaTable(
            table_uri, version=version, storage_options=dict(storage_options or {}) or None
        )
    except TableNotFoundError as exc:
        raise DeltaSourceError(f"{table_uri} is not a Delta table: {exc}") from exc
    except Exception as exc:  # noqa: BLE001 - delta-rs raises plain errors for bad versions
        if version is None:
            raise
        raise DeltaSourceError(
            f"Delta table {table_uri} has no version {version}: {exc}"
        ) from exc


def check_readable(table) -> None:
    """Raise for table features this reader cannot honour (column mapping)."""
    config = table.metadata().configuration or {}
    mode = (config.get("delta.columnMapping.mode") or "none").lower()
    if mode != "none":
        raise DeltaSourceError(
            f"Delta table {table.table_uri} uses column mapping mode {mode!r}, which the "
            "kappa_delta data source does not support; use the jvm connector profile"
        )


def arrow_schema(table) -> "pa.Schema":
    """The table's schema as Arrow, in delta-spark's conventions (all fields nullable)."""
    import pyarrow as pa

    from kappa.delta.arrow import normalize_arrow_type

    schema = pa.schema(table.schema().to_arrow())
    return pa.schema([pa.field(f.name, normalize_arrow_type(f.type)) for f in schema])


def snapshot_files(table) -> list[DataFile]:
    """Data files of the table's loaded version, ordered by modification time then path."""
    import pyarrow as pa

    actions = pa.table(table.get_add_actions(flatten=False))
    if "deletionVector" in actions.column_names or "deletion_vector" in actions.column_names:
        raise DeltaSourceError(
            f"Delta table {table.table_uri} uses deletion vectors, which the kappa_delta data "
            "source does not support; use the jvm connector profile"
        )
    rows = actions.to_pylist()
    rows.sort(key=lambda r: (r.get("modification_time") or 0, r["path"]))
    out = []
    for row in rows:
        parts = row.get("partition") or {}
        out.append(
            DataFile(
                path=unquote(row["path"]),
                size=int(row["size_bytes"]),
                partition_values=tuple(sorted(parts.items())),
            )
        )
    return out


def commit_path(version: int) -> str:
    """Path of a commit file relative to the table root."""
    return f"_delta_log/{version:020d}.json"


def read_commit(fs, version: int, table_uri: str = "") -> Commit:
    """Read commit ``version`` of ``_delta_log`` and classify its actions.

    Adds and removes with ``dataChange=false`` (OPTIMIZE, compaction) are ignored, as Spark's
    Delta source ignores them. A commit file that is gone (log cleanup) raises.
    """
    try:
        with fs.open_input_stream(commit_path(version)) as stream:
            text = stream.read().decode("utf-8")
    except FileNotFoundError as exc:
        raise DeltaSourceError(
            f"Delta table {table_uri}: commit {version} is missing from _delta_log (cleaned up "
            "by log retention?); the stream cannot continue from this version"
        ) from exc
    added: list[DataFile] = []
    removes = False
    schema_fields = None
    for line in text.splitlines():
        if not line.strip():
            continue
        action = json.loads(line)
        if "add" in action:
            add = action["add"]
            if add.get("deletionVector"):
                raise DeltaSourceError(
                    f"Delta table {table_uri}: commit {version} adds a file with a deletion "
                    "vector, which the kappa_delta data source does not support"
                )
            if add.get("dataChange", True):
                parts = add.get("partitionValues") or {}
                added.append(
                    DataFile(
                        path=unquote(add["path"]),
                        size=int(add.get("size") or 0),
                        partition_values=tuple(sorted(parts.items())),
                    )
                )
        elif "remove" in action:
            if action["remove"].get("dataChange", True):
                removes = True
        elif "metaData" in action:
            schema = json.loads(action["metaData"].get("schemaString") or "{}")
            schema_fields = tuple(f["name"] for f in schema.get("fields", []))
    return Commit(version, tuple(added), removes, schema_fields)


def _partition_array(value: Any, dtype: "pa.DataType", length: int) -> "pa.Array":
    import pyarrow as pa

    if value is None:
        return pa.nulls(length, dtype)
    if isinstance(value, str) and not pa.types.is_string(dtype):
        scalar = pa.array([value], pa.string()).cast(dtype)[0]
    else:
        scalar = pa.scalar(value, dtype)
    return pa.repeat(scalar, length)


def conform_batch(
    batch: "pa.RecordBatch", schema: "pa.Schema", partition_values: Mapping[str, Any]
) -> "pa.RecordBatch":
    """Shape a data file's batch to ``schema``: fill partition columns, null-fill columns the
    file lacks, drop columns the stream does not know, cast to the stream's types."""
    import pyarrow as pa

    arrays = []
    names = batch.schema.names
    for fld in schema:
        if fld.name in partition_values:
            arrays.append(_partition_array(partition_values[fld.name], fld.type, batch.num_rows))
        elif fld.name in names:
            column = batch.column(names.index(fld.name))
            if column.type != fld.type:
                column = column.cast(fld.type, safe=not pa.types.is_timestamp(fld.type))
            arrays.append(column)
        else:
            arrays.append(pa.nulls(batch.num_rows, fld.type))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def read_file_batches(
    fs, data_file: DataFile, schema: "pa.Schema", batch_size: int = 65536
) -> Iterator["pa.RecordBatch"]:
    """Yield the rows of one data file as record batches shaped to ``schema``."""
    import pyarrow.parquet as pq

    parts = dict(data_file.partition_values)
    wanted = [f.name for f in schema if f.name not in parts]
    with fs.open_input_file(data_file.path) as handle:
        reader = pq.ParquetFile(handle)
        present = [n for n in wanted if n in reader.schema_arrow.names]
        if reader.metadata.num_rows == 0:
            return
        for batch in reader.iter_batches(batch_size=batch_size, columns=present):
            yield conform_batch(batch, schema, parts)
