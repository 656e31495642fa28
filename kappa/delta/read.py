"""Reading Delta tables into Arrow without delta-rs's Arrow scanner.

``DeltaTable.to_pyarrow_table()`` / ``to_pyarrow_dataset()`` of deltalake 1.6 make the Python
process abort at exit about half the time ("terminate called without an active exception",
exit code 134). kappa therefore reads a table's data files with pyarrow's own Parquet dataset,
using the table's schema and hive partition columns (tables kappa writes use neither column
mapping nor deletion vectors; such tables are refused with a clear error). Files on an object
store are read through delta-rs's own object-store client (``DeltaStorageHandler``) with the
table's storage options, so endpoint and keys need not be in the environment.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from kappa.errors import KappaError

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa


def check_features(dt) -> None:
    """Refuse a table kappa's readers cannot read right (column mapping, deletion vectors)."""
    config = dt.metadata().configuration or {}
    if config.get("delta.columnMapping.mode", "none") != "none":
        raise KappaError(f"Delta table {dt.table_uri}: column mapping is not supported by kappa's reader")
    if str(config.get("delta.enableDeletionVectors", "false")).lower() == "true":
        raise KappaError(f"Delta table {dt.table_uri}: deletion vectors are not supported by kappa's reader")


def read_delta_files(table_uri: str, files: Sequence[str] | None = None, *, version: int | None = None,
                     columns: Sequence[str] | None = None, storage_options: dict | None = None) -> "pa.Table":
    """Rows of a Delta table (at ``version``), or of only some of its data ``files``, as Arrow,
    typed with the table's current schema (older files lacking newer columns give nulls)."""
    import pyarrow as pa
    import pyarrow.dataset as ds
    from deltalake import DeltaTable

    from kappa.delta.tables import latest

    dt = latest(table_uri, storage_options) if version is None else None  # reused while current
    dt = dt if dt is not None else DeltaTable(table_uri, version=version, storage_options=storage_options or None)
    check_features(dt)
    schema = pa.schema(dt.schema().to_arrow())
    if files is None:
        files = dt.file_uris()
    if not files:
        table = schema.empty_table()
    else:
        parts = dt.metadata().partition_columns
        partitioning = ds.partitioning(pa.schema([schema.field(c) for c in parts]), flavor="hive") if parts else None
        local = [f[len("file://"):] if f.startswith("file://") else f for f in files]
        filesystem = None
        if any("://" in f for f in local):  # an object store: delta-rs's own client, same options
            import pyarrow.fs as pafs
            from deltalake.fs import DeltaStorageHandler

            root = table_uri.rstrip("/") + "/"
            filesystem = pafs.PyFileSystem(DeltaStorageHandler(root.rstrip("/"), options=storage_options or None))
            local = [f[len(root):] if f.startswith(root) else f for f in local]
        table = ds.dataset(local, schema=schema, format="parquet", partitioning=partitioning, filesystem=filesystem).to_table()
    return table.select(list(columns)) if columns else table


def read_delta(table_uri: str, *, version: int | None = None, columns: Sequence[str] | None = None,
               storage_options: dict | None = None) -> "pa.Table":
    """A whole Delta table as Arrow (see the module docstring for why not ``to_pyarrow_table``)."""
    return read_delta_files(table_uri, None, version=version, columns=columns, storage_options=storage_options)


def delta_version(path: str, storage_options: dict | None) -> int | None:
    """The table's current version, or None when there is no table (yet)."""
    from kappa.delta.tables import latest

    table = latest(path, storage_options)
    return None if table is None else table.version()
