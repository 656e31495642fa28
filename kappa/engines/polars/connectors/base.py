"""The Polars engine's connector contract: one source reader and one sink writer per plan kind.

Design (issue 10, narwhals-style). The engine never branches on a plan's ``kind``: it looks the
kind up in :data:`kappa.engines.polars.connectors.SOURCES` / ``SINKS`` and calls the methods
below. A reader plans a batch's range and reads exactly that range (reading the same range twice
gives the same rows, which makes a re-run after a crash exact); a writer writes one batch
idempotently per ``(sink, batch id)``. The types the methods exchange (:class:`ReadResult`,
:class:`RunBound`) live here so the kind modules need nothing from the engine's other modules.
This package never imports the Spark engine (``.importlinter``: the engines are independent).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kappa.errors import KappaError

if TYPE_CHECKING:  # pragma: no cover
    import polars as pl
    import pyarrow as pa

    from kappa.checkpoint.batches import BatchDescription
    from kappa.plan import SinkPlan, SourcePlan
    from kappa.plan_layout import CheckpointLayout


@dataclass
class ReadResult:
    """Rows of one batch and the records that could not be decoded."""

    frame: "pl.LazyFrame"
    dead_letters: "pa.Table | None" = None


@dataclass
class RunBound:
    """What one node may read in this run: a replay is bounded.

    The first planning step of the node in a run (after re-running a pending batch, if any)
    captures each source's end -- Kafka ``(earliest, end)`` offsets, a Delta table's version,
    the files present -- and every later batch of the run stops there, however fast records
    keep arriving; what arrives meanwhile is left for the next run. The bound also carries the
    node's name, checkpoint layout (where a ``latest`` start is kept) and run summary (offsets
    skipped with ``fail_on_data_loss: false``).
    """

    node: str | None = None
    layout: "CheckpointLayout | None" = None
    summary: Any = None
    captured: Any = None

    def capture(self, compute: Any) -> Any:
        """The end captured at the first call (``compute()``); the same value afterwards."""
        if self.captured is None:
            self.captured = compute()
        return self.captured


class SourceReader(ABC):
    """Reads one source kind: plan the next batch, read exactly a batch, read everything."""

    @abstractmethod
    def plan_range(self, source: "SourcePlan", previous: "BatchDescription | None", bound: RunBound) -> "BatchDescription | None":
        """What the next batch reads, given the previous batch's description (None: nothing new)."""

    @abstractmethod
    def read_range(self, source: "SourcePlan", batch: "BatchDescription", memory: dict[str, "pl.LazyFrame"], state_dir: str | None) -> ReadResult:
        """The rows of exactly ``batch`` (``state_dir``: the node's checkpoint folder)."""

    def read_full(self, source: "SourcePlan", memory: dict[str, "pl.LazyFrame"]) -> "pl.LazyFrame":
        """Everything the source holds now (a ``{nodes.x}`` lookup: a stream-static join)."""
        raise KappaError(f"cannot look up a {source.kind} source as a table")


def wrong_batch(batch: "BatchDescription") -> KappaError:
    """A batch another source kind planned (the checkpoint's verdicts normally prevent it)."""
    return KappaError(f"cannot read a batch of kind {batch.kind}")


class SinkWriter(ABC):
    """Writes one sink kind; every write is idempotent per ``(sink, batch id)``."""

    @abstractmethod
    def write(self, sink: "SinkPlan", df: "pl.DataFrame", batch_id: int) -> int:
        """Write one batch; returns the rows written (0 when skipped as a replay)."""

    def failure(self, sink: "SinkPlan", exc: BaseException, where: str) -> BaseException | None:
        """The one-line error of a failed write (``where``: node and sink); None: re-raise as is."""
        return None
