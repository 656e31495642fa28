"""The Spark engine's connector contract: one source reader and one sink writer per plan kind.

Design (issue 10, narwhals-style). The engine never branches on a plan's ``kind``: it looks the
kind up in :data:`kappa.engines.spark.connectors.SOURCES` / ``SINKS`` and calls the methods
below, for either connector profile (``jvm``: Spark's own connectors; ``python``: kappa's
Python data sources in :mod:`kappa.engines.spark.datasources`, which the kind modules call).
A reader describes its source (the text ``kappa explain`` prints and the fingerprint keeps),
builds the streaming DataFrame of a streaming node, reads everything as a batch DataFrame, and
says whether its input exists yet and what changed since the last run. A writer describes its
sink and writes one micro-batch from ``foreachBatch`` (executors write, the driver commits),
idempotently per ``(sink, batch id)``. The shared helpers (:class:`~kappa.engines.spark.sources.ReadDescription`,
option redaction) stay in :mod:`kappa.engines.spark.sources`. Never imports the Polars engine.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, Mapping

from kappa.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession

    from kappa.engines.spark.decode import Decoded
    from kappa.engines.spark.sources import ReadDescription
    from kappa.plan import SinkPlan, SourcePlan


class SourceReader(ABC):
    """Reads one source kind on Spark."""

    #: True for a source held in the driver's memory (refused under Spark Connect)
    in_memory: bool = False

    @abstractmethod
    def describe(self, source: "SourcePlan", profile: str, redact: bool) -> "ReadDescription":
        """The reader: format, options (secrets redacted or resolved), path and schema DDL."""

    def describe_extra(self, source: "SourcePlan") -> dict[str, Any]:
        """Entries the ``source`` description adds after the common ones."""
        return {}

    def build_stream(self, spark: "SparkSession", source: "SourcePlan", profile: str, checkpoint_location: str | None) -> "DataFrame":
        """The streaming DataFrame of a streaming source (SourceNotReady when there is none yet)."""
        raise ConfigError(f"a {source.kind} source cannot be streamed")

    @abstractmethod
    def read_static(self, spark: "SparkSession", source: "SourcePlan", profile: str, memory: Mapping[str, Any], decode: bool) -> "DataFrame":
        """Everything the source holds now, as a batch DataFrame."""

    def decode(self, spark: "SparkSession", frame: "DataFrame", source: "SourcePlan", state_dir: str) -> "Decoded | None":
        """The rows of a micro-batch decoded on the executors, with dead letters (None: as read)."""
        return None

    def ready(self, source: "SourcePlan", memory: Mapping[str, Any]) -> bool:
        """False while the input does not exist yet (a query started now would fail)."""
        return True

    def state(self, source: "SourcePlan") -> Any:
        """Something that changes whenever the content may have changed (None: unknown)."""
        return None

    #: the connector profiles whose checkpoint offsets :meth:`lag` understands (idle detection)
    lag_profiles: tuple[str, ...] = ()

    def lag(self, source: "SourcePlan", committed: Any) -> dict[str, Any] | None:
        """How far the checkpoint's committed source offset is behind the source, as
        :class:`~kappa.engines.spark.status.NodeStatus` fields (None: not measurable)."""
        return None


class SinkWriter(ABC):
    """Writes one sink kind on Spark."""

    #: a write of a Delta table: its failures become one line naming the sink and the table
    delta_table: bool = False
    #: one executor task writes a batch: the frame is persisted first (the work stays spread)
    single_task: bool = False

    @abstractmethod
    def describe(self, sink: "SinkPlan", profile: str) -> dict[str, Any]:
        """The sink's own entries of its description (secrets redacted)."""

    @abstractmethod
    def write(self, sink: "SinkPlan", df: "DataFrame", batch_id: int, profile: str) -> int:
        """Write one micro-batch; returns the rows written (0 when skipped as a replay)."""
