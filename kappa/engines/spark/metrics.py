"""Per-node counters of the Spark engine, updated by the ``foreachBatch`` function.

The batch function runs on a thread of the driver (Spark's streaming thread calls it through
py4j), while the engine or ``kappa stream status`` reads the counters from another thread, so
every update and snapshot holds a lock.

A stateful node's figures (:mod:`kappa.engines.spark.stateful`) come from Spark's progress events
of its query, read on the driver (:meth:`NodeMetrics.record_progress`: tiny metadata): the late
rows are the sum of ``numRowsDroppedByWatermark`` over the state operators of every batch
(Spark's count: for an aggregate, rows after the partial aggregation of each task, so several
late rows of one group in one task count once); after the last batch, the watermark
(``eventTime.watermark``; None while it is Spark's initial 0), the rows in state (sum of
``numRowsTotal``) and the state's size (sum of ``memoryUsedBytes``, the state store's own
estimate).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any, Iterable

from kappa.summary import NodeRunSummary


@dataclass
class NodeMetrics:
    """Thread-safe counters of one node's micro-batches (summed since the query started).

    The sums are a :class:`~kappa.summary.NodeRunSummary` (the one set of counter fields both
    engines report); this class adds the lock and what the live board shows of the last batch."""

    node: str
    totals: NodeRunSummary = field(init=False)
    last_batch_id: int | None = None
    last_error: str | None = None
    last_batch_at: float | None = None
    exception: BaseException | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    _progress_seen: set = field(default_factory=set, repr=False, compare=False)
    #: the run's event log (:class:`kappa.eventlog.writer.NodeEvents`): told of every batch
    listener: Any = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.totals = NodeRunSummary(node=self.node)

    def record_batch(self, batch_id: int, counts: Any, dead_letters: int, sink_rows: dict[str, int], started: float | None = None) -> None:
        """Add one completed micro-batch (``counts`` is a QualityCounts or alike; ``started``:
        when the batch function began, epoch seconds)."""
        if self.listener is not None:
            self.listener.batch(batch_id, counts, dead_letters, started)
        with self._lock:
            t = self.totals
            t.batches += 1
            t.add_counts(counts)
            t.dead_letter_rows += dead_letters
            for key, n in sink_rows.items():
                t.sink_rows[key] = t.sink_rows.get(key, 0) + n
            self.last_batch_id = int(batch_id)
            self.last_batch_at = time.time()
            self.last_error = None
            self.exception = None

    def record_progress(self, progresses: Iterable[Any]) -> None:
        """Add the state figures of a stateful query's progress events (each batch once: events
        are keyed by run id and batch id; an event without state operators ran no batch)."""
        with self._lock:
            t = self.totals
            for event in progresses:
                p = progress_dict(event)
                ops = p.get("stateOperators") or []
                key = (p.get("runId"), p.get("batchId"))
                if not ops or key in self._progress_seen:
                    continue
                self._progress_seen.add(key)
                late = sum(int(o.get("numRowsDroppedByWatermark") or 0) for o in ops)
                t.late_rows += late
                t.state_rows = sum(int(o.get("numRowsTotal") or 0) for o in ops)
                t.state_bytes = sum(int(o.get("memoryUsedBytes") or 0) for o in ops)
                mark = (p.get("eventTime") or {}).get("watermark")
                if mark and not mark.startswith("1970-01-01T00:00:00.000"):
                    t.watermark = mark
                if self.listener is not None and p.get("batchId") is not None:
                    self.listener.progress(int(p["batchId"]), late, t.watermark, t.state_rows)

    def record_error(self, batch_id: int, exc: BaseException) -> None:
        """Remember the error that failed batch ``batch_id`` (the query stops with it)."""
        with self._lock:
            self.last_error = f"batch {batch_id}: {exc}"
            self.exception = exc

    def snapshot(self) -> dict[str, Any]:
        """A JSON-serialisable copy of the counters."""
        with self._lock:
            t = self.totals
            return {
                "node": self.node,
                "batches": t.batches,
                "input_rows": t.input_rows,
                "output_rows": t.output_rows,
                "dropped_rows": t.dropped_rows,
                "quarantined_rows": t.quarantined_rows,
                "dead_letter_rows": t.dead_letter_rows,
                "last_batch_id": self.last_batch_id,
                "last_error": self.last_error,
                "last_batch_at": self.last_batch_at,
                "failures": dict(t.failures),
                "sink_rows": dict(t.sink_rows),
                "late_rows": t.late_rows,
                "watermark": t.watermark,
                "state_rows": t.state_rows,
                "state_bytes": t.state_bytes,
            }

    def to_summary(self) -> NodeRunSummary:
        """The counters as the run summary both engines report (a copy, with the last error)."""
        with self._lock:
            t = self.totals
            return replace(t, failures=dict(t.failures), sink_rows=dict(t.sink_rows), error=self.last_error)


def progress_dict(event: Any) -> dict[str, Any]:
    """A progress event as a dict (PySpark's ``StreamingQueryProgress``, or a dict already)."""
    if isinstance(event, dict):
        return event
    import json

    return json.loads(event.json)
