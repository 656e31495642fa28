"""Per-node counters of the Spark engine, updated by the ``foreachBatch`` function.

The batch function runs on a thread of the driver (Spark's streaming thread calls it through
py4j), while the engine or ``kappa stream status`` reads the counters from another thread, so
every update and snapshot holds a lock.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from kappa.summary import NodeRunSummary


@dataclass
class NodeMetrics:
    """Thread-safe counters of one node's micro-batches (summed since the query started)."""

    node: str
    batches: int = 0
    input_rows: int = 0
    output_rows: int = 0
    dropped_rows: int = 0
    quarantined_rows: int = 0
    dead_letter_rows: int = 0
    last_batch_id: int | None = None
    last_error: str | None = None
    last_batch_at: float | None = None
    failures: dict[str, int] = field(default_factory=dict)
    sink_rows: dict[str, int] = field(default_factory=dict)
    exception: BaseException | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def record_batch(self, batch_id: int, counts: Any, dead_letters: int, sink_rows: dict[str, int]) -> None:
        """Add one completed micro-batch (``counts`` is a QualityCounts or alike)."""
        with self._lock:
            self.batches += 1
            self.input_rows += counts.input_rows
            self.output_rows += counts.output_rows
            self.dropped_rows += counts.dropped_rows
            self.quarantined_rows += counts.quarantined_rows
            for name, n in counts.failures.items():
                self.failures[name] = self.failures.get(name, 0) + n
            self.dead_letter_rows += dead_letters
            for key, n in sink_rows.items():
                self.sink_rows[key] = self.sink_rows.get(key, 0) + n
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
            return {
                "node": self.node,
                "batches": self.batches,
                "input_rows": self.input_rows,
                "output_rows": self.output_rows,
                "dropped_rows": self.dropped_rows,
                "quarantined_rows": self.quarantined_rows,
                "dead_letter_rows": self.dead_letter_rows,
                "last_batch_id": self.last_batch_id,
                "last_error": self.last_error,
                "last_batch_at": self.last_batch_at,
                "failures": dict(self.failures),
                "sink_rows": dict(self.sink_rows),
            }

    def to_summary(self) -> NodeRunSummary:
        """The counters as the run summary both engines report."""
        snap = self.snapshot()
        return NodeRunSummary(
            node=self.node,
            batches=snap["batches"],
            input_rows=snap["input_rows"],
            output_rows=snap["output_rows"],
            dropped_rows=snap["dropped_rows"],
            quarantined_rows=snap["quarantined_rows"],
            dead_letter_rows=snap["dead_letter_rows"],
            failures=snap["failures"],
            sink_rows=snap["sink_rows"],
            error=snap["last_error"],
        )
