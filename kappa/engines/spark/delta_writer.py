"""Write Structured Streaming micro-batches to Delta tables, exactly once, in both profiles.

- ``python`` profile: :class:`DeltaBatchWriter`, a ``foreachBatch`` function handing the
  micro-batch to :func:`~kappa.engines.spark.datasources.delta_sink.write_delta_frame` (executors
  write Parquet, the driver commits with deltalake). Each commit carries the app transaction
  ``(app_id, batch_id)``; a batch whose id is not above the table's recorded
  ``transaction_version(app_id)`` is skipped, so a batch Spark replays after a crash writes
  nothing the second time. Its :meth:`~kappa.delta.writer.DeltaWriter.write_arrow` takes Arrow
  data already in this process.
- ``jvm`` profile: :func:`jvm_delta_write`, the same contract through delta-spark's
  ``txnAppId``/``txnVersion`` writer options.

:func:`normalize_arrow_table` makes the Arrow data look like what delta-spark writes for the
same DataFrame (all fields nullable, ``NullType`` columns dropped, timestamps in microseconds
with UTC, plain rather than large strings/binaries/lists), so both profiles produce the same
Delta schema.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from kappa.delta.arrow import DeltaWriteError, normalize_arrow_table, normalize_arrow_type
from kappa.delta.writer import DeltaWriter
from kappa.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame

WriteMode = Literal["append", "overwrite"]


@dataclass(frozen=True)
class DeltaBatchWriter(DeltaWriter):
    """``foreachBatch`` target: each micro-batch is written by the executors with Spark's batch id
    as the transaction version (nothing is collected to the driver)."""

    def __call__(self, batch_df: "DataFrame", batch_id: int) -> None:
        """Write one micro-batch (the ``foreachBatch`` signature)."""
        from kappa.engines.spark.datasources.delta_sink import write_delta_frame

        write_delta_frame(
            batch_df,
            table_uri=self.table_uri,
            mode=self.mode,
            app_id=self.app_id,
            batch_id=int(batch_id),
            partition_by=list(self.partition_by) if self.partition_by else None,
            storage_options=dict(self.storage_options) if self.storage_options else None,
            schema_mode=self.schema_mode,
        )


__all__ = ["DeltaBatchWriter", "DeltaWriteError", "jvm_delta_write", "jvm_delta_write_options", "normalize_arrow_table", "normalize_arrow_type"]


def jvm_delta_write_options(
    app_id: str, batch_id: int, merge_schema: bool = True
) -> dict[str, str]:
    """Writer options delta-spark needs for an idempotent micro-batch write."""
    if not app_id:
        raise ConfigError("an idempotent Delta write needs a non-empty app_id")
    options = {"txnAppId": app_id, "txnVersion": str(int(batch_id))}
    if merge_schema:
        options["mergeSchema"] = "true"
    return options


def jvm_delta_write(
    batch_df: "DataFrame",
    batch_id: int,
    path: str,
    mode: WriteMode = "append",
    app_id: str = "kappa",
    partition_by: Sequence[str] | None = None,
    merge_schema: bool = True,
) -> None:
    """``jvm`` profile twin of :class:`DeltaBatchWriter`: write with delta-spark, skipping a
    replayed batch through ``txnAppId``/``txnVersion``. ``overwrite`` keeps the table's
    schema evolution rules of delta-spark (``mergeSchema``)."""
    if mode not in ("append", "overwrite"):
        raise ConfigError(f"Delta write mode must be append or overwrite, not {mode!r}")
    writer = batch_df.write.format("delta").mode(mode)
    writer = writer.options(**jvm_delta_write_options(app_id, batch_id, merge_schema))
    if partition_by:
        writer = writer.partitionBy(*partition_by)
    writer.save(path)
