"""The engine's side of a stateful node: load, run, save the state around each batch.

:class:`NodeState` is created per node run by :func:`kappa.engines.polars.engine.run_node`
when ``node.state`` is set on a streaming node. Per batch: :meth:`NodeState.load` reads the
state of the newest committed batch (a re-run of a pending batch starts from it too),
:meth:`NodeState.transform` runs the steps (:func:`~kappa.engines.polars.stateful.run.run_stateful`),
:meth:`NodeState.save` writes the new state before the engine commits the batch. When the source
has nothing new, :meth:`NodeState.no_data_range` plans Spark's no-data batch: an empty range
right after the last committed one (Delta ``start = end + 1``, files: no new file), recorded
in the offsets log like any batch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kappa.engines.polars.stateful.store import StateSnapshot, open_store

if TYPE_CHECKING:  # pragma: no cover
    import polars as pl

    from kappa.checkpoint.batches import BatchDescription
    from kappa.plan import NodePlan
    from kappa.summary import NodeRunSummary


def _iso(us: int) -> str:
    import datetime as dt

    return (dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(microseconds=us)).isoformat().replace("+00:00", "Z")


class NodeState:
    """The state of one stateful node during a run (see the module doc)."""

    def __init__(self, node: "NodePlan", ns: "NodeRunSummary"):
        self.node, self.ns = node, ns
        self.store = open_store(node.layout.replay)
        self.prev = StateSnapshot()
        self.result: Any = None

    def load(self, committed: int | None) -> StateSnapshot:
        if committed is None or self.prev.batch_id != committed:  # the state just saved needs no re-read
            self.prev = self.store.load(committed)
            if self.prev.batch_id is not None:  # reported even when no batch runs
                self._report(self.prev, self.store.size(self.prev.batch_id))
        return self.prev

    def _report(self, snap: StateSnapshot, size: int) -> None:
        self.ns.state_bytes, self.ns.state_rows = size, snap.rows
        # the watermark the last batch ran with, None while it is 0 (as Spark's progress reports it)
        self.ns.watermark = _iso(snap.watermark) if snap.watermark != 0 else None

    def no_data_range(self, last: "BatchDescription | None") -> "BatchDescription | None":
        """Spark's no-data batch after ``last`` when the watermark moved (else None)."""
        from kappa.checkpoint.batches import DeltaRange, FileBatch, KafkaRange
        from kappa.engines.polars.stateful.run import needs_no_data_batch

        if last is None or not needs_no_data_batch(self.node.state, self.prev):
            return None
        if isinstance(last, DeltaRange):
            return DeltaRange(last.end + 1, last.end)
        if isinstance(last, FileBatch):
            return FileBatch((), last.seen)
        if isinstance(last, KafkaRange):  # no record: every partition from its end to its end
            return KafkaRange(last.end, last.end)
        return None

    def read_empty(self, offsets: "BatchDescription", memory: dict) -> "pl.LazyFrame | None":
        """The (empty) input of a no-data batch over files: the schema of the files seen."""
        from kappa.checkpoint.batches import FileBatch
        from kappa.files import scan_files

        if isinstance(offsets, FileBatch) and not offsets.files:
            src = self.node.source
            return scan_files(list(offsets.seen or ())[-1:], src.format, src.schema, src.read_options).clear()
        return None

    def transform(self, frame: "pl.LazyFrame", refs: dict) -> "pl.LazyFrame":
        from kappa.engines.polars.stateful.run import run_stateful

        self.result = run_stateful(self.node, frame, refs, self.prev)
        self.ns.late_rows += self.result.late_rows
        return self.result.output

    def save(self, batch_id: int) -> None:
        """Write this batch's state (before the batch's commit) and report it in the summary."""
        snap = self.result.snapshot
        snap.batch_id = batch_id
        self._report(snap, self.store.save(batch_id, snap))
        self.prev = snap
