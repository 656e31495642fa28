"""CDC merge sinks of the Spark engine: a Delta table the node's change events are MERGEd into.

:func:`kappa.cdc.merge.apply_changes` (deltalake, both profiles: it keeps its own state table
and app transaction, so the result is the Polars engine's exactly). This is the one driver-side
write: the batch of changes is collected as Arrow for the MERGE. On the jvm profile,
``spark.kappa.cdc.jvmMerge=true`` opts into the distributed delta-spark MERGE instead
(:mod:`kappa.engines.spark.jvm_merge_sink`; unverified against delta-spark here).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kappa.engines.spark.connectors.delta import DeltaSinkWriter

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame

    from kappa.plan_kinds import MergeSinkPlan


class MergeWriter(DeltaSinkWriter):
    def _writer(self, sink: "MergeSinkPlan", profile: str) -> dict[str, Any]:
        return {
            "writer": "kappa.cdc.merge.apply_changes (deltalake MERGE of the batch collected on the driver)",
            "merge": sink.merge.as_dict(),
        }

    def write(self, sink: "MergeSinkPlan", df: "DataFrame", batch_id: int, profile: str) -> int:
        from kappa.engines.spark import jvm_merge_sink
        from kappa.plan_kinds import resolve_secrets

        so = resolve_secrets(sink.storage_options) or None
        if jvm_merge_sink.enabled(df.sparkSession, profile):  # opt-in distributed MERGE (its module doc)
            return jvm_merge_sink.jvm_merge_write(df, sink.path, sink.merge, sink.app_id, batch_id, so)
        from kappa.cdc.merge import apply_changes

        table = df.toArrow()  # the documented driver-side write (see the module doc)
        stats = apply_changes(sink.path, table, sink.merge, app_id=sink.app_id, version=batch_id, storage_options=so)
        return 0 if getattr(stats, "skipped_duplicate_batch", False) else table.num_rows
