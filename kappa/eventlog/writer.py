"""The recorder of a run's events: rows per node batch, per node error and per run.

Design notes.

- **One row per batch, one commit per flush.** Engines hand every committed batch to the
  recorder (Polars: after each batch's commit; Spark: from the driver-side counters
  :class:`~kappa.engines.spark.metrics.NodeMetrics` already keeps, which under Spark Connect
  are filled on the client from the checkpoint's batch records, so no node data is ever
  collected; under Connect a row's ``ended_at`` is when the client read the batch's record).
  Rows are buffered in memory and appended to the Delta table in one small commit
  per flush: at the end of a ``kappa replay`` / ``kappa run`` (also a failed one), and on every
  status refresh of ``kappa stream start`` (default every 2 s) when there are new rows. A
  Delta commit per batch would cost ~30 ms per batch, more than a small Polars batch itself.
- **Stateful Spark nodes.** Their late rows, watermark and state rows come from Spark's progress
  event of the batch, read after the batch; their batch row waits (at most until the run ends)
  for that event before it is written.
- **Concurrency.** Runs of one pipeline hold the pipeline lock (:mod:`kappa.checkpoint.lock`)
  around the whole run, so only one process appends at a time; within a process, Spark's
  batch threads and the runner's thread share the buffer under a lock.
- **Failures to write.** The event log never fails a run, and never fails it silently: the
  first failed commit prints one warning to stderr naming the table and the error; the rows
  stay buffered and are retried at the next flush; rows still unwritten when the run ends are
  reported as lost in a second warning.
- **Listeners** (the Prometheus metrics of ``kappa stream start --metrics-port``,
  :mod:`kappa.metrics_http`) see every row when it is recorded and every live status refresh.

The table: :func:`kappa.plan_layout.event_log_path` (``<checkpoint_root>/<pipeline>/.kappa_event_log``);
its columns: :mod:`kappa.eventlog.schema`.
"""

from __future__ import annotations

import sys
import threading
import time
import uuid
from typing import Any, Iterable

class EventLog:
    """Buffers a run's event rows and appends them to the pipeline's event log table."""

    def __init__(self, path: str, pipeline: str, engine: str, *, listeners: Iterable[Any] = (), run_id: str | None = None,
                 stderr: Any = None, write: bool = True, storage_options: dict[str, Any] | None = None):
        self.path, self.pipeline, self.engine = path, pipeline, engine
        self.storage_options = storage_options  # of a table on an object store
        self.run_id = run_id or uuid.uuid4().hex
        self.listeners = list(listeners)
        self.started = time.time()
        self._stderr = stderr
        self.write = write  # False: listeners only (KAPPA_EVENT_LOG=off with --metrics-port)
        self._lock = threading.Lock()
        self._seq = 0
        self._rows: list[dict[str, Any]] = []  # recorded, not yet written (in order)
        self._held: dict[tuple[str, int], dict[str, Any]] = {}  # stateful batches waiting for their progress
        self._early: dict[tuple[str, int], dict[str, Any]] = {}  # progress seen before its batch
        self._live: dict[str, dict[str, Any]] = {}
        self._warned = False
        self.written = 0

    # -------------------------------------------------------------- recording
    def _row(self, event: str, node: str | None, **fields: Any) -> dict[str, Any]:
        row = {"run_id": self.run_id, "seq": self._seq, "event": event, "pipeline": self.pipeline, "node": node,
               "engine": self.engine, **fields}
        self._seq += 1
        return row

    def _notify(self, row: dict[str, Any]) -> None:
        for listener in self.listeners:
            listener.on_row(row)

    def batch(self, node: str, batch_id: int, started: float, ended: float, *, rows_in: int = 0, rows_out: int = 0,
              rows_dropped: int = 0, rows_quarantined: int = 0, rows_dead: int = 0, failures: dict[str, int] | None = None,
              late_rows: int = 0, watermark: str | None = None, state_rows: int | None = None, lag: int | None = None,
              wait_progress: bool = False) -> None:
        """Record one committed batch of ``node`` (counts of this batch alone). ``wait_progress``:
        the row waits for :meth:`progress` of the same batch (a stateful Spark node)."""
        with self._lock:
            row = self._row("batch", node, batch_id=int(batch_id), started_at=started, ended_at=ended,
                            duration_seconds=max(0.0, ended - started), rows_in=rows_in, rows_out=rows_out,
                            rows_dropped=rows_dropped, rows_quarantined=rows_quarantined, rows_dead=rows_dead,
                            expectation_failures=dict(failures or {}), late_rows=late_rows, watermark=watermark,
                            state_rows=state_rows, lag=lag)
            key = (node, int(batch_id))
            early = self._early.pop(key, None)
            if early is not None:
                row.update(early)
            elif wait_progress:
                self._held[key] = row
            self._rows.append(row)
        self._notify(row)

    def mark(self, ns: Any) -> "Mark":
        """A node's counters (a :class:`~kappa.summary.NodeRunSummary`) before a batch."""
        return Mark(ns)

    def batch_since(self, node: str, batch_id: int, mark: "Mark", ns: Any) -> None:
        """Record a batch from the growth of a node's run summary since ``mark`` (Polars)."""
        self.batch(node, batch_id, mark.started, time.time(), **mark.since(ns))

    def node_events(self, node: str, wait_progress: bool = False) -> "NodeEvents":
        """The listener of a Spark node's counters (``wait_progress``: a stateful node)."""
        return NodeEvents(self, node, wait_progress)

    def progress(self, node: str, batch_id: int, *, late_rows: int, watermark: str | None, state_rows: int | None) -> None:
        """A stateful batch's figures from its progress event (merged into its batch row)."""
        figures = {"late_rows": int(late_rows), "watermark": watermark, "state_rows": state_rows}
        with self._lock:
            key = (node, int(batch_id))
            row = self._held.pop(key, None)
            if row is None:
                self._early[key] = figures
                return
            row.update(figures)
        for listener in self.listeners:
            getattr(listener, "on_progress", lambda *_: None)(row)

    def error(self, node: str, message: str, counts: Any = None, batch_id: int | None = None) -> None:
        """Record that ``node`` failed with ``message`` (``counts``: its run summary so far)."""
        now = time.time()
        with self._lock:
            fields: dict[str, Any] = {"batch_id": batch_id, "started_at": self.started, "ended_at": now,
                                      "duration_seconds": max(0.0, now - self.started), "error": message}
            if counts is not None:
                fields.update(summary_counts(counts))
            row = self._row("error", node, **fields)
            self._rows.append(row)
        self._notify(row)

    def live(self, rows: list[Any]) -> None:
        """A live status refresh of ``kappa stream start`` (:class:`NodeLive` rows): each node's
        lag goes into its rows recorded since the last refresh; listeners see the rows."""
        with self._lock:
            for r in rows:
                self._live[r.node] = {"lag": r.lag}
            for row in self._rows:
                if row["node"] in self._live and row.get("lag") is None and row["event"] == "batch":
                    row["lag"] = self._live[row["node"]]["lag"]
        for listener in self.listeners:
            getattr(listener, "on_live", lambda *_: None)(rows)

    # -------------------------------------------------------------- writing
    def flush(self, final: bool = False) -> None:
        """Append the rows recorded so far (a held stateful batch row waits unless ``final``)."""
        with self._lock:
            held = {id(r) for r in self._held.values()} if not final else set()
            ready = [r for r in self._rows if id(r) not in held]
            if not ready:
                return
            if not self.write:
                self._rows = [r for r in self._rows if id(r) in held]
                return
        try:
            if self.storage_options:  # a table on an object store
                append(self.path, ready, self.storage_options)
            else:
                append(self.path, ready)
        except Exception as exc:  # noqa: BLE001 - the event log never fails a run (module doc)
            text = str(exc).splitlines()[0] if str(exc).strip() else repr(exc)
            self._warn(f"kappa: warning: the event log {self.path} could not be written ({type(exc).__name__}: {text}); "
                       "the run continues, its rows are retried")
            if final:
                self._warn(f"kappa: warning: {len(ready)} event log row(s) of run {self.run_id} were not written", force=True)
            return
        with self._lock:
            written = {id(r) for r in ready}
            self._rows = [r for r in self._rows if id(r) not in written]
            if final:
                self._held.clear()
        self.written += len(ready)

    def finish(self, summary: Any = None, error: str | None = None) -> None:
        """End the run: an ``error`` row per failed node of ``summary``, the ``run`` row, a final flush."""
        if summary is not None:
            for ns in getattr(summary, "nodes", []):
                if ns.error is not None:
                    self.error(ns.node, ns.error, ns)
        now = time.time()
        with self._lock:
            row = self._row("run", None, started_at=self.started, ended_at=now, duration_seconds=max(0.0, now - self.started),
                            error=error)
            self._rows.append(row)
        self._notify(row)
        self.flush(final=True)

    def _warn(self, text: str, force: bool = False) -> None:
        if self._warned and not force:
            return
        self._warned = True
        out = self._stderr or sys.stderr
        out.write(text + "\n")
        out.flush()


def summary_counts(ns: Any) -> dict[str, Any]:
    """The count columns of a :class:`~kappa.summary.NodeRunSummary`."""
    return {"rows_in": ns.input_rows, "rows_out": ns.output_rows, "rows_dropped": ns.dropped_rows,
            "rows_quarantined": ns.quarantined_rows, "rows_dead": ns.dead_letter_rows,
            "expectation_failures": dict(ns.failures), "late_rows": ns.late_rows, "watermark": ns.watermark,
            "state_rows": ns.state_rows}


class Mark:
    """A node's counters before a batch (:meth:`since` gives the batch's own counts)."""

    def __init__(self, ns: Any):
        self.started = time.time()
        self.counts = summary_counts(ns)

    def since(self, ns: Any) -> dict[str, Any]:
        now = summary_counts(ns)
        out = {k: now[k] - self.counts[k] for k in ("rows_in", "rows_out", "rows_dropped", "rows_quarantined", "rows_dead", "late_rows")}
        before = self.counts["expectation_failures"]
        out["failures"] = {k: v - before.get(k, 0) for k, v in now["expectation_failures"].items() if v - before.get(k, 0)}
        out["watermark"], out["state_rows"] = now["watermark"], now["state_rows"]
        return out


def append(path: str, rows: list[dict[str, Any]], storage_options: dict[str, Any] | None = None) -> None:
    """Append rows to the event log table (created with the fixed schema on first use)."""
    from deltalake import write_deltalake

    from kappa.delta.tables import latest
    from kappa.eventlog.schema import to_polars

    # through the Arrow C stream (no pyarrow import); a local table object is reused while current
    if storage_options:
        write_deltalake(path, to_polars(rows), mode="append", storage_options=storage_options)
    else:
        write_deltalake(latest(path) or path, to_polars(rows), mode="append")


class NodeEvents:
    """What a Spark node's driver-side counters (``NodeMetrics.listener``) tell the event log:
    each committed batch's counts, and a stateful batch's progress figures."""

    def __init__(self, log: EventLog, node: str, wait_progress: bool = False):
        self.log, self.node, self.wait_progress = log, node, wait_progress

    def batch(self, batch_id: int, counts: Any, dead_letters: int, started: float | None = None) -> None:
        ended = time.time()
        self.log.batch(self.node, batch_id, started if started is not None else ended, ended,
                       rows_in=int(counts.input_rows), rows_out=int(counts.output_rows),
                       rows_dropped=int(counts.dropped_rows), rows_quarantined=int(counts.quarantined_rows),
                       rows_dead=int(dead_letters), failures={k: int(v) for k, v in counts.failures.items()},
                       wait_progress=self.wait_progress)

    def progress(self, batch_id: int, late_rows: int, watermark: str | None, state_rows: int | None) -> None:
        self.log.progress(self.node, batch_id, late_rows=late_rows, watermark=watermark, state_rows=state_rows)
