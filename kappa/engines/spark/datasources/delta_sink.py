"""``kappa_delta_sink``: Delta append/overwrite written by the executors, committed once.

The python profile's Delta sink without collecting the micro-batch: :func:`write_delta_frame`
(called from ``foreachBatch``) gives the same table as
:meth:`kappa.delta.writer.DeltaWriter.write_arrow` on the micro-batch collected as Arrow:

1. driver: skip the batch when ``transaction_version(app_id) >= batch_id`` (no Spark job);
   decide the target schema and partition columns (:func:`kappa.delta.commit.plan_write`:
   delta-rs's own merge/refusal of the frame's Arrow schema against the table's);
2. executors (:meth:`DeltaSinkWriter.write`): each Arrow batch is normalized
   (:func:`~kappa.delta.arrow.normalize_arrow_table`), cast to the target schema and streamed
   into Parquet files under the table root (hive folders ``col=value/`` when partitioned), with
   delta-rs's file statistics (:mod:`kappa.delta.stats`); the task returns its ``add`` actions;
3. driver side (:meth:`DeltaSinkWriter.commit`, a Python process of Spark's): all tasks' adds
   in ONE commit with the app transaction (:func:`kappa.delta.commit.commit_adds`); a failed
   job or a batch that commits nothing deletes the task files.

Everything crosses to Spark's processes as options: the target schema as base64 Arrow IPC,
storage options unresolved (``storage.`` prefix; ``${env.X}`` references are resolved where
used). The row count comes from an ``Observation`` of the write job itself; the commit's outcome
(committed / skipped / empty) and a readable failure come back through a small local result
file (the driver-side process runs on the driver's host).
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pyspark.sql.datasource import (
    DataSource,
    DataSourceArrowWriter,
    WriterCommitMessage,
)

from kappa.delta.arrow import DeltaWriteError

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa
    from pyspark.sql import DataFrame

    from kappa.errors import KappaError

SINK_NAME = "kappa_delta_sink"
_STORAGE = "storage."


def encode_schema(schema: pa.Schema) -> str:
    """Arrow schema as base64 IPC (an option value)."""
    import base64

    return base64.b64encode(schema.serialize().to_pybytes()).decode("ascii")


def decode_schema(text: str) -> pa.Schema:
    """Inverse of :func:`encode_schema`."""
    import base64

    import pyarrow as pa

    return pa.ipc.read_schema(pa.py_buffer(base64.b64decode(text)))


@dataclass
class DeltaSinkCommit(WriterCommitMessage):
    """One task's files: ``add`` actions as tuples, rows written."""

    adds: list[tuple] = field(default_factory=list)
    rows: int = 0


class _OpenFile:
    """One Parquet file being written: the writer, its stream and its statistics."""

    def __init__(self, fs, relative: str, schema: pa.Schema, values: dict[str, str | None]):
        import pyarrow.parquet as pq

        from kappa.delta.stats import FileStats

        self.fs, self.relative, self.values = fs, relative, values
        parent = os.path.dirname(relative)
        if parent:
            fs.create_dir(parent, recursive=True)
        self.stream = fs.open_output_stream(relative)
        self.writer = pq.ParquetWriter(self.stream, schema, compression="snappy")
        self.stats = FileStats(schema)

    def write(self, table: pa.Table) -> None:
        self.writer.write_table(table)
        self.stats.update(table)

    def close(self) -> tuple:
        self.writer.close()
        self.stream.close()
        size = self.fs.get_file_info(self.relative).size
        return (self.relative, int(size), self.values, int(time.time() * 1000), self.stats.to_json())


class DeltaSinkWriter(DataSourceArrowWriter):
    """Executors write Parquet files; the driver side commits them (module docstring)."""

    def __init__(self, options: Mapping[str, str]):
        from kappa.engines.spark.datasources.options import SourceOptions

        opts = SourceOptions.of(options, SINK_NAME)
        self.path = opts.require("path")
        self.mode = opts.require("mode")
        self.app_id = opts.require("appId")
        self.batch_id = int(opts.require("batchId"))
        self.schema_text = opts.require("targetSchema")
        self.partition_by = json.loads(opts.get("partitionColumns") or "[]")
        self.storage = opts.prefixed(_STORAGE)
        self.result_file = opts.get("resultFile")
        self.metadata = json.loads(opts.get("customMetadata") or "{}")
        self.create_empty = opts.get("createEmpty", "true") != "false"
        self.removes = json.loads(opts.get("removes") or "[]")  # [path, size] of each file removed

    def _storage_options(self) -> dict[str, str]:
        from kappa.substitution import resolve_secret_refs

        return resolve_secret_refs(self.storage)

    def _filesystem(self):
        from kappa.delta.writer import _local_path
        from kappa.engines.spark.datasources.delta_files import table_filesystem

        local = _local_path(self.path)
        if local is not None:  # delta-rs opens no missing local folder (write_deltalake makes it)
            try:
                os.makedirs(local, exist_ok=True)
            except OSError:
                pass  # delta-rs reports the cause
        return table_filesystem(self.path, self._storage_options())

    # -- executors ---------------------------------------------------------------------------
    def write(self, iterator: Iterator[pa.RecordBatch]) -> DeltaSinkCommit:
        import pyarrow as pa

        from kappa.delta.arrow import normalize_arrow_table
        from kappa.delta.commit import conform
        from kappa.delta.stats import partition_dir, partition_value

        target = decode_schema(self.schema_text)
        data_schema = pa.schema([f for f in target if f.name not in self.partition_by])
        task = uuid.uuid4()
        fs, files, rows = None, {}, 0
        try:
            for batch in iterator:
                if batch.num_rows == 0:
                    continue
                table = conform(normalize_arrow_table(pa.Table.from_batches([batch])), target)
                rows += table.num_rows
                if fs is None:
                    fs = self._filesystem()
                for key, part in _split(table, self.partition_by):
                    if key not in files:
                        values = {name: partition_value(v) for name, v in zip(self.partition_by, key)}
                        folder = partition_dir(list(values.items()))
                        name = f"part-{len(files):05d}-{task}-c000.snappy.parquet"
                        files[key] = _OpenFile(fs, f"{folder}/{name}" if folder else name, data_schema, values)
                    files[key].write(part.select(data_schema.names))
            return DeltaSinkCommit([f.close() for f in files.values()], rows)
        except BaseException:
            for open_file in files.values():
                _delete(fs, [open_file.relative])
            raise

    # -- driver side -------------------------------------------------------------------------
    def commit(self, messages: list[DeltaSinkCommit]) -> None:
        from deltalake.transaction import AddAction, RemoveAction

        from kappa.delta.commit import commit_adds

        messages = [m for m in messages if isinstance(m, DeltaSinkCommit)]
        adds = [a for m in messages for a in m.adds]
        rows = sum(m.rows for m in messages)
        if rows == 0 and not self.create_empty:  # e.g. no dead letters: no table, no commit
            self._report({"outcome": "empty", "rows": 0})
            return
        try:
            outcome = commit_adds(
                self.path,
                [AddAction(p, size, values, mtime, True, stats) for p, size, values, mtime, stats in adds],
                rows=rows, mode=self.mode, schema=decode_schema(self.schema_text),
                partition_by=self.partition_by or None, app_id=self.app_id, batch_id=self.batch_id,
                storage_options=self._storage_options(), custom_metadata=self.metadata,
                removes=[RemoveAction(p, True, int(time.time() * 1000), size) for p, size in self.removes],
            )
        except BaseException as exc:
            from kappa.delta.writer import delta_write_error

            self._report({"outcome": "error", "error": str(delta_write_error(self.path, exc))})
            self.abort(messages)
            raise
        if outcome != "committed":
            self.abort(messages)
        self._report({"outcome": outcome, "rows": rows})

    def abort(self, messages: list[DeltaSinkCommit]) -> None:
        paths = [a[0] for m in messages if isinstance(m, DeltaSinkCommit) for a in m.adds]
        if paths:
            _delete(self._filesystem(), paths)

    def _report(self, result: dict[str, Any]) -> None:
        if self.result_file:
            with open(self.result_file, "w", encoding="utf-8") as out:
                json.dump(result, out)


def _delete(fs, paths: list[str]) -> None:
    for path in paths:
        try:
            fs.delete_file(path)
        except Exception:  # noqa: BLE001, S110 - best effort: an orphan file is harmless to readers
            pass


def _split(table: pa.Table, columns: list[str]) -> Iterator[tuple[tuple, pa.Table]]:
    """``table`` grouped by the values of ``columns`` (one group without partitioning)."""
    import pyarrow.compute as pc

    if not columns:
        yield (), table
        return
    keys = table.select(columns).group_by(columns, use_threads=False).aggregate([])
    for key in keys.to_pylist():
        mask = None
        for name in columns:
            value = key[name]
            cond = pc.is_null(table[name]) if value is None else pc.equal(table[name], value)
            cond = cond.fill_null(False)
            mask = cond if mask is None else pc.and_(mask, cond)
        yield tuple(key[name] for name in columns), table.filter(mask)


class DeltaSinkDataSource(DataSource):
    """``df.write.format("kappa_delta_sink")``: see :func:`write_delta_frame` (its options)."""

    @classmethod
    def name(cls) -> str:
        return SINK_NAME

    def writer(self, schema, overwrite: bool) -> DeltaSinkWriter:
        return DeltaSinkWriter(self.options)


def write_delta_frame(
    df: DataFrame,
    *,
    table_uri: str,
    mode: str,
    app_id: str,
    batch_id: int,
    partition_by: list[str] | None = None,
    storage_options: dict | None = None,
    schema_mode: str | None = "merge",
    create_empty: bool = True,
    removes: list[tuple[str, int | None]] | None = None,
    target: tuple[pa.Schema, list[str]] | None = None,
) -> int:
    """Write ``df`` to the Delta table at ``table_uri`` as batch ``batch_id`` of ``app_id``
    without collecting it; returns the rows written (0: batch already committed, or an empty
    append to an existing table). ``create_empty=False``: an empty batch commits nothing, not
    even a new table (dead letters). ``removes``: ``(path, size)`` of files
    the same commit removes (an append that rewrites them: :mod:`kappa.engines.spark.upsert_exec`);
    ``target``: the (schema, partition columns) already planned by the caller. Failures raise one
    :class:`DeltaWriteError` ``cannot write Delta table <uri>: <cause>``."""
    from kappa.substitution import resolve_secret_refs
    from kappa.delta.commit import plan_write
    from kappa.delta.txn import open_table
    from kappa.delta.writer import delta_write_error
    from kappa.errors import ConfigError, KappaError

    if mode not in ("append", "overwrite"):
        raise ConfigError(f"Delta write mode must be append or overwrite, not {mode!r}")
    if not app_id:
        raise ConfigError("DeltaBatchWriter needs a non-empty app_id")
    resolved = resolve_secret_refs(storage_options or {}) or None
    try:
        table = open_table(table_uri, resolved)
        if table is not None:
            done = table.transaction_version(app_id)
            if done is not None and done >= batch_id:
                return 0
        try:
            target_schema, parts = target or plan_write(
                table_uri, _arrow_schema(df), mode=mode, partition_by=partition_by,
                schema_mode=schema_mode, storage_options=resolved,
            )
        except Exception:  # an empty append to an existing table is skipped before any check
            if table is not None and mode == "append" and df.isEmpty():
                return 0
            raise
    except KappaError:
        raise
    except Exception as exc:  # deltalake raises plain exceptions too (driver side: no Spark text)
        raise delta_write_error(table_uri, exc) from exc
    rows, outcome = _run_write(df, table_uri, mode, app_id, batch_id, target_schema, parts, storage_options, create_empty,
                               removes or [])
    if outcome is None:  # no result file (e.g. Spark Connect: the commit ran on another host)
        table = open_table(table_uri, resolved)
        done = None if table is None else table.transaction_version(app_id)
        outcome = "committed" if done is not None and done >= batch_id else "empty"
    return rows if outcome == "committed" else 0


def _arrow_schema(df: DataFrame) -> pa.Schema:
    from pyspark.sql.pandas.types import to_arrow_schema

    return to_arrow_schema(df.schema, error_on_duplicated_field_names_in_struct=True, timezone="UTC")


def _run_write(df, table_uri, mode, app_id, batch_id, target, parts, storage_options, create_empty=True,
               removes=()) -> tuple[int, str | None]:
    """Run the Spark write job: (rows observed, the commit's outcome or None if unknown)."""
    import tempfile

    from kappa.delta.writer import delta_write_error
    from kappa.engines.spark.datasources.sink_support import observed, observed_rows

    options = {
        "mode": mode, "appId": app_id, "batchId": str(int(batch_id)),
        "targetSchema": encode_schema(target), "partitionColumns": json.dumps(parts),
        "createEmpty": "true" if create_empty else "false",
    }
    if removes:
        options["removes"] = json.dumps([list(r) for r in removes])
    options.update({_STORAGE + str(k): str(v) for k, v in (storage_options or {}).items()})
    handle, result_file = tempfile.mkstemp(prefix="kappa-delta-sink-", suffix=".json")
    os.close(handle)
    options["resultFile"] = result_file
    try:
        frame, observation = observed(df)
        try:
            frame.write.format(SINK_NAME).mode("append").options(**options).save(table_uri)
        except Exception as exc:  # noqa: BLE001 - Spark wraps the Python error in its own
            result = _read_result(result_file)
            if result.get("outcome") == "error":
                raise DeltaWriteError(result["error"]) from None
            raise _write_error(table_uri, exc, delta_write_error) from None
        result = _read_result(result_file)
    finally:
        os.unlink(result_file)
    return observed_rows(observation), result.get("outcome")


def _read_result(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as source:
            text = source.read()
        return json.loads(text) if text.strip() else {}
    except (OSError, ValueError):
        return {}


def _write_error(table_uri: str, exc: BaseException, delta_write_error) -> "KappaError":
    """``cannot write Delta table <uri>: <cause>`` with the Python cause out of Spark's text.

    A kappa error raised while the write computed its input (e.g. the Kafka source's
    ``BrokerUnreachable`` in a Python worker) is that error, not a failed write: its own message.

    >>> _write_error("t", Exception("An exception was thrown from the Python worker:\\nTraceback\\n"
    ...   "kappa.kafka.client.BrokerUnreachable: source: Kafka broker h:1 unreachable after 15 s"), None)
    KappaError('source: Kafka broker h:1 unreachable after 15 s')
    """
    import re

    from kappa.errors import KappaError

    text = str(exc)
    raised = [m for m in re.findall(r"^(kappa\.[\w.]+): (.+)$", text, re.MULTILINE) if not m[0].endswith("DeltaWriteError")]
    if raised:
        return KappaError(raised[-1][1].strip())
    found = re.findall(r"(?:kappa\.\S*DeltaWriteError|DeltaWriteError): (.+)", text)
    if found:
        cause = found[-1].strip()
        if cause.startswith("cannot write Delta table"):
            return DeltaWriteError(cause)
        return DeltaWriteError(f"cannot write Delta table {table_uri}: {cause}")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if re.match(r"^[\w.]+(Error|Exception): ", line)]
    if errors:
        from kappa.delta.writer import explain_failure

        # a local path that cannot be a table (a file on the way) is named as such
        cause = explain_failure(table_uri, Exception(errors[-1].split(": ", 1)[1]))
        return DeltaWriteError(f"cannot write Delta table {table_uri}: {cause}")
    return delta_write_error(table_uri, exc)
