"""CDC merge sinks of the Polars engine: a Delta table the node's change events are MERGEd into.

:func:`kappa.cdc.merge.apply_changes` keeps its own state table and app transaction, so a batch
already merged is skipped (0 rows). A failed write reads as a Delta sink's
(:class:`~kappa.engines.polars.connectors.delta.DeltaSinkWriter`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kappa.engines.polars.connectors.delta import DeltaSinkWriter
from kappa.plan_kinds import resolve_secrets

if TYPE_CHECKING:  # pragma: no cover
    import polars as pl

    from kappa.plan_kinds import MergeSinkPlan


class MergeWriter(DeltaSinkWriter):
    def write(self, sink: "MergeSinkPlan", df: "pl.DataFrame", batch_id: int) -> int:
        from kappa.cdc.merge import apply_changes

        # apply_changes normalises the Arrow data itself (keeping all-null columns)
        stats = apply_changes(sink.path, df.to_arrow(), sink.merge, app_id=sink.app_id, version=batch_id, storage_options=resolve_secrets(sink.storage_options) or None)
        return 0 if getattr(stats, "skipped_duplicate_batch", False) else df.height
