"""Delta sources and sinks of the Polars engine.

A source is read whole (optionally at ``version``) or, streaming, version range by version
range: the data files the versions added (:func:`delta_new_files`; a commit that removes data
fails the read unless ``skip_change_commits``, as Spark's Delta source does). A sink appends or
overwrites in one commit carrying the app transaction ``(app_id, batch_id)``: a batch whose id
the table already recorded is skipped (:func:`write_delta`, also the dead letters' writer); an
upsert MERGEs on the sink's keys, idempotent the same way (:mod:`.upsert`).
A failed write raises one line naming the node, the sink and the path
(:func:`kappa.delta.writer.delta_write_error`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kappa.delta.read import delta_version
from kappa.engines.polars.connectors.base import ReadResult, RunBound, SinkWriter, SourceReader, wrong_batch
from kappa.errors import KappaError
from kappa.plan_kinds import resolve_secrets

if TYPE_CHECKING:  # pragma: no cover
    import polars as pl
    import pyarrow as pa

    from kappa.checkpoint.batches import BatchDescription
    from kappa.plan_kinds import DeltaSinkPlan, DeltaSourcePlan


# ---------------------------------------------------------------- reading
def _delta_files(path: str, version: int | None, storage_options: dict) -> set[str]:
    from kappa.delta.tables import files_at

    return set(files_at(path, version, storage_options))


def delta_new_files(path: str, start: int, end: int, storage_options: dict, skip_change_commits: bool) -> list[str]:
    """Data files added by versions ``start..end`` (inclusive); commits that remove data fail the
    read unless ``skip_change_commits`` (then their files are skipped), as Spark's Delta source does."""
    before = _delta_files(path, start - 1, storage_options) if start > 0 else set()
    after = _delta_files(path, end, storage_options)
    if before <= after:
        return sorted(after - before)
    new: list[str] = []
    prev = before
    for v in range(start, end + 1):
        cur = _delta_files(path, v, storage_options)
        if prev - cur:
            if not skip_change_commits:
                raise KappaError(
                    f"Delta table {path}: version {v} updates or deletes rows; a streaming read only follows appends. "
                    "Set `skip_change_commits: true` to ignore such commits, or read it as a batch source."
                )
        else:
            new.extend(sorted(cur - prev))
        prev = cur
    return new


def _local(path: str) -> bool:
    return "://" not in path or path.startswith("file://")


def _lazy_table(path: str, version: int | None) -> "tuple[Any, pl.Schema] | None":
    """A local table's DeltaTable and Polars schema when Polars can scan it lazily (no
    partition columns), else None; column mapping and deletion vectors are refused as
    :func:`kappa.delta.read.read_delta_files` refuses them."""
    import polars as pl
    from deltalake import DeltaTable

    from kappa.delta.read import check_features
    from kappa.delta.tables import latest

    if not _local(path):
        return None
    current = latest(path)  # the table object kept while current (kappa.delta.tables)
    dt = current if current is not None and version in (None, current.version()) else DeltaTable(path, version=version)
    check_features(dt)
    if dt.metadata().partition_columns:
        return None
    key = (dt.table_uri, dt.version())
    schema = _SCHEMAS.get(key)
    if schema is None:
        schema = pl.scan_delta(dt).collect_schema()
        if len(_SCHEMAS) > 64:
            _SCHEMAS.clear()
        _SCHEMAS[key] = schema
    return dt, schema


#: (table URI, version) -> the Polars schema of that version (a version never changes)
_SCHEMAS: dict[tuple[str, int], "pl.Schema"] = {}


def _scan_parquet(files: list[str], schema: "pl.Schema") -> "pl.LazyFrame":
    """Data files of one table, typed with its schema (older files lacking newer columns: nulls)."""
    import polars as pl

    if not files:
        return pl.LazyFrame(schema=schema)
    cast = pl.ScanCastOptions(integer_cast="upcast", float_cast=["upcast", "downcast"],
                              datetime_cast=["nanosecond-downcast", "millisecond-upcast", "convert-timezone"],
                              missing_struct_fields="insert", extra_struct_fields="ignore")
    local = [f[len("file://"):] if f.startswith("file://") else f for f in files]
    return pl.scan_parquet(local, schema=schema, cast_options=cast, missing_columns="insert", extra_columns="ignore")


def scan_delta(path: str, version: int | None, storage_options: dict) -> "pl.LazyFrame":
    """A whole Delta table (at ``version``): a lazy scan of its data files (a local table
    without partition columns), else read through :func:`kappa.delta.read.read_delta`."""
    import polars as pl

    from kappa.delta.read import read_delta

    lazy = _lazy_table(path, version)
    if lazy is not None:
        dt, schema = lazy
        return _scan_parquet(dt.file_uris(), schema)
    return pl.from_arrow(read_delta(path, version=version, storage_options=storage_options)).lazy()


def scan_delta_files(path: str, files: list[str], storage_options: dict) -> "pl.LazyFrame":
    """Rows of some of a Delta table's data files, with the table's current schema."""
    import polars as pl

    from kappa.delta.read import read_delta_files

    lazy = _lazy_table(path, None)
    if lazy is not None:
        return _scan_parquet(files, lazy[1])
    return pl.from_arrow(read_delta_files(path, files, storage_options=storage_options)).lazy()


def delta_added_files(path: str, version: int, storage_options: dict) -> list[str]:
    """The data files version ``version`` of the table added."""
    before = _delta_files(path, version - 1, storage_options) if version > 0 else set()
    return sorted(_delta_files(path, version, storage_options) - before)


class DeltaReader(SourceReader):
    def plan_range(self, source: "DeltaSourcePlan", previous: "BatchDescription | None", bound: RunBound) -> "BatchDescription | None":
        from kappa.checkpoint.batches import DeltaRange, DeltaSnapshot

        if not source.streaming:
            return DeltaSnapshot(source.version)
        current = bound.capture(lambda: delta_version(source.path, resolve_secrets(source.storage_options)))
        if current is None:
            bound.captured = None  # no table yet: look again next time
            return None
        start = previous.end + 1 if isinstance(previous, DeltaRange) else (source.starting_version or 0)
        if start > current:
            return None
        return DeltaRange(start, current)

    def read_range(self, source: "DeltaSourcePlan", batch: "BatchDescription", memory: dict[str, "pl.LazyFrame"], state_dir: str | None) -> ReadResult:
        from kappa.checkpoint.batches import DeltaRange, DeltaSnapshot

        if not isinstance(batch, (DeltaRange, DeltaSnapshot)):
            raise wrong_batch(batch)
        storage = resolve_secrets(source.storage_options)
        if isinstance(batch, DeltaRange):
            files = delta_new_files(source.path, batch.start, batch.end, storage, source.skip_change_commits)
            return ReadResult(scan_delta_files(source.path, files, storage))
        if delta_version(source.path, storage) is None:
            raise KappaError(f"Delta table {source.path} does not exist (yet)")
        return ReadResult(scan_delta(source.path, batch.version, storage))

    def read_full(self, source: "DeltaSourcePlan", memory: dict[str, "pl.LazyFrame"]) -> "pl.LazyFrame":
        return scan_delta(source.path, None, resolve_secrets(source.storage_options))


# ---------------------------------------------------------------- writing
def write_delta(path: str, table: "pa.Table", mode: str, app_id: str, batch_id: int, partition_by=None, schema_mode: str = "merge", storage_options=None) -> bool:
    """Append or overwrite with an app transaction; returns False when the batch was already written."""
    from kappa.delta.writer import DeltaWriter

    writer = DeltaWriter(
        path,
        mode=mode,
        app_id=app_id,
        partition_by=list(partition_by or []) or None,
        storage_options=storage_options or None,
        schema_mode=None if schema_mode == "strict" else ("overwrite" if schema_mode == "overwrite" and mode == "overwrite" else "merge"),
    )
    return writer.write_arrow(table, batch_id)


class DeltaSinkWriter(SinkWriter):
    def write(self, sink: "DeltaSinkPlan", df: "pl.DataFrame", batch_id: int) -> int:
        if sink.mode == "upsert":  # MERGE on the keys (kappa.delta.upsert)
            from kappa.delta.upsert import upsert_delta

            keys = tuple(getattr(sink, "keys", ()) or ())
            written = upsert_delta(sink.path, df.to_arrow(), keys, sink.app_id, batch_id, resolve_secrets(sink.storage_options) or None)
            return df.height if written else 0
        written = write_delta(sink.path, df.to_arrow(), sink.mode, sink.app_id, batch_id, sink.partition_by, sink.schema_mode, resolve_secrets(sink.storage_options))
        return df.height if written else 0

    def failure(self, sink: "DeltaSinkPlan", exc: BaseException, where: str) -> BaseException | None:
        from kappa.delta.arrow import DeltaWriteError
        from kappa.delta.writer import delta_write_error

        return DeltaWriteError(f"{where}: {delta_write_error(sink.path, exc)}")
