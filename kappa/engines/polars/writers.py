"""Sinks of the Polars engine. Every write is idempotent per (sink, batch id).

- Delta append/overwrite: one commit carrying the app transaction ``(app_id, batch_id)``; a
  batch whose id the table already recorded is skipped.
- Delta merge: :func:`kappa.cdc.merge.apply_changes` (idempotent the same way).
- Files: a single file is replaced atomically; a folder gets ``part-<batch_id>.<ext>`` (so a
  re-run overwrites the same part file) or, in overwrite mode, only that part file.
- Kafka: at-least-once (a re-run after a crash between produce and commit produces again).

A failed Delta or file write raises one line naming the node (when the caller gives it), the
sink and the path, e.g. ``node 'bronze' sink 0: cannot write Delta table /x/bronze: the path
is a file, not a folder`` (:func:`kappa.delta.writer.delta_write_error`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kappa.errors import KappaError
from kappa.files import write_files
from kappa.plan_kinds import resolve_secrets

if TYPE_CHECKING:  # pragma: no cover
    import polars as pl
    import pyarrow as pa

    from kappa.plan import SinkPlan


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


def write_kafka(spec, df: "pl.DataFrame") -> int:
    from kappa.kafka.client import kafka_conf
    from kappa.kafka.writer import produce_rows

    return produce_rows(kafka_conf(spec), spec.topic, df.to_arrow(), key_column=spec.key, value_column=spec.value)


def _where(node: str | None, what: str) -> str:
    return f"node {node!r} {what}" if node else what


def write_sink(sink: "SinkPlan", df: "pl.DataFrame", batch_id: int, node: str | None = None) -> int:
    """Write one batch to one sink; returns the rows written (0 when skipped as a replay).
    A failed Delta or file write raises a :class:`DeltaWriteError` naming ``node``, the sink
    and the path."""
    from kappa.delta.arrow import DeltaWriteError
    from kappa.delta.writer import delta_failures, delta_write_error

    what = f"sink {sink.index}" + (" (quarantine)" if sink.quarantine else "")
    try:
        return _write_sink(sink, df, batch_id)
    except DeltaWriteError as exc:
        raise DeltaWriteError(f"{_where(node, what)}: {exc}") from exc
    except KappaError:
        raise
    except delta_failures() as exc:
        if sink.kind == "delta":
            raise DeltaWriteError(f"{_where(node, what)}: {delta_write_error(sink.path, exc)}") from exc
        if sink.kind == "file" and isinstance(exc, OSError):
            detail = " ".join(str(exc).split())
            raise KappaError(f"{_where(node, what)}: cannot write files to {sink.path}: {detail}") from exc
        raise


def _write_sink(sink: "SinkPlan", df: "pl.DataFrame", batch_id: int) -> int:
    if sink.kind == "delta":
        if sink.mode == "merge":
            from kappa.cdc.merge import apply_changes

            # apply_changes normalises the Arrow data itself (keeping all-null columns)
            stats = apply_changes(sink.path, df.to_arrow(), sink.merge, app_id=sink.app_id, version=batch_id, storage_options=resolve_secrets(sink.storage_options) or None)
            return 0 if getattr(stats, "skipped_duplicate_batch", False) else df.height
        written = write_delta(sink.path, df.to_arrow(), sink.mode, sink.app_id, batch_id, sink.partition_by, sink.schema_mode, resolve_secrets(sink.storage_options))
        return df.height if written else 0
    if sink.kind == "file":
        write_files(sink.path, df, sink.format, sink.mode, batch_id)
        return df.height
    if sink.kind == "kafka":
        return write_kafka(sink, df)
    raise KappaError(f"unknown sink kind {sink.kind}")


def write_dead_letters(path: str, table: "pa.Table", app_id: str, batch_id: int, node: str | None = None) -> int:
    """Undecodable records, appended idempotently to a Delta table."""
    from kappa.delta.arrow import DeltaWriteError

    try:
        return table.num_rows if write_delta(path, table, "append", app_id, batch_id) else 0
    except DeltaWriteError as exc:
        raise DeltaWriteError(f"{_where(node, 'dead letters')}: {exc}") from exc
