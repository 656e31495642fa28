"""Node sources: reading another node of the pipeline.

A source with ``node_name`` reads what that node wrote to its readable sink (its first Delta
output sink, else its first file sink: the sink kinds' ``read_rank``), planned as that sink
kind's source plan with ``upstream`` set. A node without one hands its output over in memory
(:class:`~kappa.plan_kinds.MemorySourcePlan`, same run only; it cannot be streamed from).

>>> PipelineNodeDataSource(node_name="brz").type, MemoryBatch().to_json()
('node', {'kind': 'memory'})
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from pydantic import Field

from kappa.connectors.base import Redact, SourceContext, SourceKind
from kappa.errors import ConfigError
from kappa.models.base import SourceModel
from kappa.plan_kinds import MemorySourcePlan


class PipelineNodeDataSource(SourceModel):
    """Another node of the pipeline: reads what that node wrote to its (first) sink."""

    type: Literal["node"] = Field("node", description="Source kind; inferred from `node_name`.")
    node_name: str = Field(..., description="Name of the upstream node.")


@dataclass(frozen=True)
class MemoryBatch:
    """The in-memory output of an upstream node in this run."""

    kind: ClassVar[str] = "memory"

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind}


def _plan(src: PipelineNodeDataSource, ctx: SourceContext) -> Any:
    read = ctx.read_node(src.node_name, src.streaming) if ctx.read_node is not None else None
    if read is not None:
        return read
    if src.streaming:
        raise ConfigError(f"node {ctx.node!r} streams from {src.node_name!r}, which has no Delta or file sink to stream from")
    return MemorySourcePlan(streaming=False, upstream=src.node_name)


def _describe(source: MemorySourcePlan, redact: Redact) -> dict[str, Any]:
    return {"format": "memory", "options": {}}


SOURCE = SourceKind(
    name="node",
    model=PipelineNodeDataSource,
    plan_classes=(MemorySourcePlan,),
    plan=_plan,
    describe=_describe,
    recognise=lambda raw: "node_name" in raw,
    precedence=10,
    upstream=lambda src: src.node_name,
    batch_from_json=lambda data: MemoryBatch(),
)
