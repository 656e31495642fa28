"""Sinks of the Polars engine. Every write is idempotent per (sink, batch id).

- Delta append/overwrite: one commit carrying the app transaction ``(app_id, batch_id)``; a
  batch whose id the table already recorded is skipped.
- Delta merge: :func:`kappa.cdc.merge.apply_changes` (idempotent the same way).
- Files: a single file is replaced atomically; a folder gets ``part-<batch_id>.<ext>`` (so a
  re-run overwrites the same part file) or, in overwrite mode, only that part file.
- Kafka: at-least-once (a re-run after a crash between produce and commit produces again).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from kappa.errors import KappaError

if TYPE_CHECKING:  # pragma: no cover
    import polars as pl
    import pyarrow as pa

    from kappa.plan import SinkPlan


def delta_txn_version(path: str, app_id: str, storage_options: dict | None = None) -> int | None:
    """The last batch id ``app_id`` committed to the table (None: never, or no table)."""
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    try:
        dt = DeltaTable(path, storage_options=storage_options or None)
    except TableNotFoundError:
        return None
    return dt.transaction_version(app_id)


def to_delta_arrow(table: "pa.Table") -> "pa.Table":
    """Arrow types as delta-spark writes them: string views to strings, ns timestamps to us."""
    import pyarrow as pa

    def fix(t: pa.DataType) -> pa.DataType:
        if pa.types.is_string_view(t) or pa.types.is_large_string(t):
            return pa.string()
        if pa.types.is_binary_view(t) or pa.types.is_large_binary(t):
            return pa.binary()
        if pa.types.is_timestamp(t) and t.unit != "us":
            return pa.timestamp("us", tz=t.tz)
        if pa.types.is_large_list(t) or pa.types.is_list_view(t):
            return pa.list_(fix(t.value_type))
        if pa.types.is_list(t):
            return pa.list_(fix(t.value_type))
        if pa.types.is_struct(t):
            return pa.struct([pa.field(f.name, fix(f.type), f.nullable) for f in t])
        if pa.types.is_map(t):
            return pa.map_(fix(t.key_type), fix(t.item_type))
        return t

    schema = pa.schema([pa.field(f.name, fix(f.type), f.nullable) for f in table.schema])
    return table if schema == table.schema else table.cast(schema)


def write_delta(path: str, table: "pa.Table", mode: str, app_id: str, batch_id: int, partition_by=None, schema_mode: str = "merge", storage_options=None) -> bool:
    """Append or overwrite with an app transaction; returns False when the batch was already written."""
    from deltalake import CommitProperties, Transaction, write_deltalake

    done = delta_txn_version(path, app_id, storage_options)
    if done is not None and done >= batch_id:
        return False
    if table.num_rows == 0 and mode == "append" and done is not None:
        return False
    if schema_mode == "strict":
        mode_arg = None
    elif schema_mode == "overwrite" and mode == "overwrite":
        mode_arg = "overwrite"
    else:
        mode_arg = "merge"
    write_deltalake(
        path,
        to_delta_arrow(table),
        mode=mode,
        partition_by=list(partition_by or []) or None,
        storage_options=storage_options or None,
        commit_properties=CommitProperties(app_transactions=[Transaction(app_id, batch_id)]),
        schema_mode=mode_arg,
    )
    return True


def _atomic_file(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)
    os.replace(tmp, path)


def write_files(path: str, df: "pl.DataFrame", fmt: str, mode: str, batch_id: int) -> None:
    p = Path(path)
    ext = {"PARQUET": ".parquet", "JSONL": ".jsonl", "CSV": ".csv"}[fmt]

    def writer(target: Path) -> None:
        if fmt == "PARQUET":
            df.write_parquet(target)
        elif fmt == "JSONL":
            df.write_ndjson(target)
        else:
            df.write_csv(target)

    if p.suffix:  # a single file
        _atomic_file(p, writer)
        return
    p.mkdir(parents=True, exist_ok=True)
    if mode == "overwrite":
        for child in p.iterdir():
            if child.name.startswith("part-"):
                child.unlink() if child.is_file() else shutil.rmtree(child)
    _atomic_file(p / f"part-{batch_id:08d}{ext}", writer)


def write_kafka(spec, df: "pl.DataFrame") -> int:
    import pyarrow as pa

    from kappa.engines.polars.kafka_io import kafka_conf
    from kappa.kafka.writer import produce_table

    table = df.to_arrow()
    value_col = spec.value
    if value_col is None:
        struct = pa.StructArray.from_arrays([c.combine_chunks() for c in table.columns], names=table.column_names) if table.num_columns else None
        table = table.append_column("__kappa_value", struct) if struct is not None else table
        value_col = "__kappa_value"
    return produce_table(kafka_conf(spec), spec.topic, table, key_column=spec.key, value_column=value_col)


def write_sink(sink: "SinkPlan", df: "pl.DataFrame", batch_id: int) -> int:
    """Write one batch to one sink; returns the rows written (0 when skipped as a replay)."""
    spec = sink.spec
    if sink.kind == "delta":
        if sink.mode == "merge":
            from kappa.cdc.merge import apply_changes

            stats = apply_changes(sink.path, to_delta_arrow(df.to_arrow()), spec.merge, app_id=sink.app_id, version=batch_id, storage_options=spec.storage_options or None)
            return 0 if getattr(stats, "skipped_duplicate_batch", False) else df.height
        from kappa.config.variables import resolve_secret_refs

        written = write_delta(sink.path, df.to_arrow(), sink.mode, sink.app_id, batch_id, spec.partition_by, spec.schema_mode, resolve_secret_refs(spec.storage_options))
        return df.height if written else 0
    if sink.kind == "file":
        write_files(sink.path, df, spec.format, sink.mode, batch_id)
        return df.height
    if sink.kind == "kafka":
        return write_kafka(spec, df)
    raise KappaError(f"unknown sink kind {sink.kind}")


def write_dead_letters(path: str, table: "pa.Table", app_id: str, batch_id: int) -> int:
    """Undecodable records, appended idempotently to a Delta table."""
    return table.num_rows if write_delta(path, table, "append", app_id, batch_id) else 0
