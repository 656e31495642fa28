"""Sinks of the Spark engine, written from ``foreachBatch``: executors write, the driver commits.

Every write is idempotent per ``(sink, batch id)`` as in the Polars engine, and its row count
comes from an observed metric of the write itself (no count job, no collection). The writer of
each sink kind is in :mod:`kappa.engines.spark.connectors` (``SINKS``: Delta append/overwrite,
CDC merge -- the one driver-side write --, files, Kafka); this module keeps the dead letters'
writer, which every source that decodes shares.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame


def write_dead_letters(path: str, dead: "DataFrame", app_id: str, batch_id: int, profile: str = "python",
                       storage_options: dict | None = None) -> int:
    """Undecodable records, appended idempotently to a Delta table (both profiles: kappa's
    executor-side Delta writer, so the table is the Polars engine's exactly)."""
    from kappa.engines.spark.datasources.delta_sink import write_delta_frame

    return write_delta_frame(dead, table_uri=path, mode="append", app_id=app_id, batch_id=batch_id, create_empty=False,
                             storage_options=storage_options)
