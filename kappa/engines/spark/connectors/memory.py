"""Memory sources of the Spark engine: an upstream node's output kept on the executors
(``localCheckpoint``) within one run, because that node has no Delta or file sink."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from kappa.engines.spark.connectors.base import SourceReader
from kappa.engines.spark.sources import ReadDescription
from kappa.errors import KappaError

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession

    from kappa.plan_kinds import MemorySourcePlan


class MemoryReader(SourceReader):
    in_memory = True

    def describe(self, source: "MemorySourcePlan", profile: str, redact: bool) -> ReadDescription:
        return ReadDescription("memory", {}, None)

    def read_static(self, spark: "SparkSession", source: "MemorySourcePlan", profile: str, memory: Mapping[str, Any], decode: bool) -> "DataFrame":
        if source.upstream not in memory:
            raise KappaError(f"node {source.upstream!r} has no sink, so its output exists only within one run: select it too")
        return memory[source.upstream]  # a DataFrame checkpointed on the executors

    def ready(self, source: "MemorySourcePlan", memory: Mapping[str, Any]) -> bool:
        return source.upstream in memory
