"""Writing a batch to a sink in the Polars engine. Every write is idempotent per (sink, batch id).

The kind-specific writers are :mod:`kappa.engines.polars.connectors` (``SINKS``):

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

from typing import TYPE_CHECKING, Any, Callable

from kappa.errors import KappaError

if TYPE_CHECKING:  # pragma: no cover
    import polars as pl
    import pyarrow as pa

    from kappa.plan import SinkPlan


def _where(node: str | None, what: str) -> str:
    return f"node {node!r} {what}" if node else what


def write_sink(sink: "SinkPlan", df: "pl.DataFrame", batch_id: int, node: str | None = None) -> int:
    """Write one batch to one sink; returns the rows written (0 when skipped as a replay).
    A failed Delta or file write raises a :class:`DeltaWriteError` naming ``node``, the sink
    and the path."""
    from kappa.engines.polars.connectors import sink_writer

    writer = sink_writer(sink)
    return _named(sink, node, writer, lambda: writer.write(sink, df, batch_id))


def stream_sink(sink: "SinkPlan", frame: "pl.LazyFrame", batch_id: int, node: str | None = None) -> "tuple[int, int, pl.LazyFrame]":
    """Stream a lazy batch into a sink :func:`kappa.engines.polars.streaming.streamable` accepts;
    returns (rows of the batch, rows written, a scan of them); failures raise as :func:`write_sink`'s do."""
    from kappa.engines.polars.connectors import sink_writer
    from kappa.engines.polars.streaming import stream_sink as stream

    return _named(sink, node, sink_writer(sink), lambda: stream(sink, frame, batch_id))


def _named(sink: "SinkPlan", node: str | None, writer: Any, write: Callable[[], Any]) -> Any:
    from kappa.delta.arrow import DeltaWriteError
    from kappa.delta.writer import delta_failures

    import polars as pl

    what = f"sink {sink.index}" + (" (quarantine)" if sink.quarantine else "")
    try:
        return write()
    except pl.exceptions.PolarsError:
        raise  # the batch's plan failed (as its collect would), not the write
    except DeltaWriteError as exc:
        raise DeltaWriteError(f"{_where(node, what)}: {exc}") from exc
    except KappaError:
        raise
    except delta_failures() as exc:
        error = writer.failure(sink, exc, _where(node, what))
        if error is None:
            raise
        raise error from exc


def write_dead_letters(path: str, table: "pa.Table", app_id: str, batch_id: int, node: str | None = None,
                       storage_options: dict | None = None) -> int:
    """Undecodable records, appended idempotently to a Delta table."""
    from kappa.delta.arrow import DeltaWriteError
    from kappa.engines.polars.connectors.delta import write_delta

    try:
        return table.num_rows if write_delta(path, table, "append", app_id, batch_id, storage_options=storage_options) else 0
    except DeltaWriteError as exc:
        raise DeltaWriteError(f"{_where(node, 'dead letters')}: {exc}") from exc
