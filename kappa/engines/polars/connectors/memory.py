"""Memory sources of the Polars engine: the output of an upstream node without a Delta or file
sink, handed over within one run (``memory``: node name -> LazyFrame)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kappa.engines.polars.connectors.base import ReadResult, RunBound, SourceReader, wrong_batch
from kappa.errors import KappaError

if TYPE_CHECKING:  # pragma: no cover
    import polars as pl

    from kappa.checkpoint.batches import BatchDescription
    from kappa.plan_kinds import MemorySourcePlan


class MemoryReader(SourceReader):
    def plan_range(self, source: "MemorySourcePlan", previous: "BatchDescription | None", bound: RunBound) -> "BatchDescription | None":
        from kappa.checkpoint.batches import MemoryBatch

        return MemoryBatch()

    def read_range(self, source: "MemorySourcePlan", batch: "BatchDescription", memory: dict[str, "pl.LazyFrame"], state_dir: str | None) -> ReadResult:
        from kappa.checkpoint.batches import MemoryBatch

        if not isinstance(batch, MemoryBatch):
            raise wrong_batch(batch)
        if source.upstream not in memory:
            raise KappaError(
                f"node {source.upstream!r} has no sink, so its output exists only within one run: select it too"
            )
        return ReadResult(memory[source.upstream])

    def read_full(self, source: "MemorySourcePlan", memory: dict[str, "pl.LazyFrame"]) -> "pl.LazyFrame":
        from kappa.checkpoint.batches import MemoryBatch

        return self.read_range(source, MemoryBatch(), memory, None).frame
