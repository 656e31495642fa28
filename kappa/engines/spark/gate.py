"""The gate in front of a streaming node's ``foreachBatch`` function, and starting its query.

A stop must never cut a batch in two. :class:`BatchGate` wraps the batch function: once
closed, a batch that reaches it raises :class:`StopRequested` before doing any work (its offsets
stay logged without a commit, so the next start re-runs it with the same id and offsets), while
a batch already inside runs to its end; :meth:`BatchGate.wait_idle` waits for that batch. See
:mod:`kappa.engines.spark.streaming` for the whole graceful-stop sequence.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Callable

from kappa.errors import KappaError

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql.streaming import StreamingQuery

    from kappa.engines.spark.compiler import CompiledNode
    from kappa.plan_kinds import TriggerPlan


class StopRequested(KappaError):
    """Raised by a closed :class:`BatchGate`: the batch is left uncommitted for the next start."""


# ---------------------------------------------------------------- gate
class BatchGate:
    """Wraps a ``foreachBatch`` function so a stop never cuts a batch in two (see module doc)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._running = False
        self._closed = False
        self.refused: int | None = None

    def wrap(self, fn: Callable[[Any, int], None]) -> Callable[[Any, int], None]:
        def gated(batch_df: Any, batch_id: int) -> None:
            with self._cond:
                if self._closed:
                    self.refused = int(batch_id)
                    raise StopRequested(f"stopping: batch {batch_id} is left for the next start")
                self._running = True
            try:
                fn(batch_df, batch_id)
            finally:
                with self._cond:
                    self._running = False
                    self._cond.notify_all()

        return gated

    @property
    def running(self) -> bool:
        with self._cond:
            return self._running

    def close(self) -> None:
        """Refuse new batches from now on."""
        with self._cond:
            self._closed = True

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait for the batch in progress (if any) to finish; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._running, timeout)


def stream_trigger(trigger: "TriggerPlan", interval: str) -> "TriggerPlan":
    """The trigger a node runs with under ``stream start`` (run-style triggers become periodic)."""
    from kappa.plan_kinds import TriggerPlan

    if trigger.kind == "processing_time":
        return trigger
    return TriggerPlan(kind="processing_time", interval=interval)


def start_query(compiled: "CompiledNode", trigger: "TriggerPlan", gate: BatchGate) -> "StreamingQuery":
    """Start a compiled node's query with its ``foreachBatch`` function behind ``gate``.

    Under Spark Connect the function runs in a server worker, where a gate (locks, a condition)
    can neither be pickled nor be closed by the client: the function runs ungated and a stop
    waits between batches through the checkpoint (:mod:`kappa.engines.spark.streaming`)."""
    function = compiled.batch_function()
    return compiled.start_writer(compiled.stream_writer(trigger, function if compiled.connect else gate.wrap(function)))
