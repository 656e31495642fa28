"""Per-node counters of the Spark engine, updated by the ``foreachBatch`` function.

The batch function runs on a thread of the driver (Spark's streaming thread calls it through
py4j), while the engine or ``kappa stream status`` reads the counters from another thread, so
every update and snapshot holds a lock.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any

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

    def __post_init__(self) -> None:
        self.totals = NodeRunSummary(node=self.node)

    def record_batch(self, batch_id: int, counts: Any, dead_letters: int, sink_rows: dict[str, int]) -> None:
        """Add one completed micro-batch (``counts`` is a QualityCounts or alike)."""
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
            }

    def to_summary(self) -> NodeRunSummary:
        """The counters as the run summary both engines report (a copy, with the last error)."""
        with self._lock:
            t = self.totals
            return replace(t, failures=dict(t.failures), sink_rows=dict(t.sink_rows), error=self.last_error)
