"""Running a pipeline: the engine registry and the run summary both engines report."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, Sequence

from kappa.errors import KappaError

if TYPE_CHECKING:  # pragma: no cover
    from kappa.models import Pipeline
    from kappa.plan import PipelinePlan


@dataclass
class NodeRunSummary:
    """What one node did in one run (summed over its micro-batches)."""

    node: str
    batches: int = 0
    input_rows: int = 0
    output_rows: int = 0
    dropped_rows: int = 0
    quarantined_rows: int = 0
    dead_letter_rows: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    sink_rows: dict[str, int] = field(default_factory=dict)
    skipped: str | None = None
    seconds: float = 0.0
    error: str | None = None
    #: offsets known lost (deleted before they were read) when a source with
    #: ``fail_on_data_loss: false`` continued from the earliest offset; ``data_loss`` says where
    skipped_offsets: int = 0
    data_loss: list[str] = field(default_factory=list)

    def add_counts(self, counts: Any) -> None:
        """Add a :class:`kappa.quality.result.QualityCounts` (or anything with the same fields)."""
        self.input_rows += counts.input_rows
        self.output_rows += counts.output_rows
        self.dropped_rows += counts.dropped_rows
        self.quarantined_rows += counts.quarantined_rows
        for k, v in counts.failures.items():
            self.failures[k] = self.failures.get(k, 0) + v


@dataclass
class PipelineRunSummary:
    """A whole run: per node summaries in execution order."""

    pipeline: str
    engine: str
    nodes: list[NodeRunSummary] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(n.error is None for n in self.nodes)

    def node(self, name: str) -> NodeRunSummary:
        for n in self.nodes:
            if n.node == name:
                return n
        raise KeyError(name)

    def render(self) -> str:
        """A plain-text table, one line per node."""
        head = f"{'node':<28} {'batches':>7} {'in':>10} {'out':>10} {'dropped':>8} {'quarant.':>8} {'dead':>6} {'secs':>7}  status"
        lines = [f"pipeline {self.pipeline} on {self.engine}", head, "-" * len(head)]
        for n in self.nodes:
            status = "error: " + n.error if n.error else (n.skipped or "ok")
            lines.append(
                f"{n.node:<28} {n.batches:>7} {n.input_rows:>10} {n.output_rows:>10} {n.dropped_rows:>8} "
                f"{n.quarantined_rows:>8} {n.dead_letter_rows:>6} {n.seconds:>7.2f}  {status}"
            )
            for name, count in n.failures.items():
                if count:
                    lines.append(f"{'':<4}expectation {name}: {count} failing row(s)")
            for text in n.data_loss:
                lines.append(f"{'':<4}data loss: {text}; continued from the earliest offset")
            if n.skipped_offsets:
                lines.append(f"{'':<4}{n.skipped_offsets} offset(s) skipped (fail_on_data_loss: false)")
        return "\n".join(lines)


class Engine(Protocol):
    """What every engine implements."""

    name: str

    def run(self, pipeline: "Pipeline", plan: "PipelinePlan", *, full_refresh: Sequence[str] = ()) -> PipelineRunSummary:
        """Run the plan's selected nodes in order; fill each node's output on the pipeline."""
        ...


_ENGINES = {
    "polars": "kappa.engines.polars.engine:PolarsEngine",
    "spark": "kappa.engines.spark.engine:SparkEngine",
}
_ALIASES = {"pyspark": "spark", "polars": "polars", "spark": "spark"}


def get_engine(name: str) -> Engine:
    """An engine by name (``polars`` or ``spark``), imported on first use."""
    key = _ALIASES.get(name.lower())
    if key is None:
        raise KappaError(f"unknown engine {name!r}; expected one of polars, spark")
    module, _, cls = _ENGINES[key].partition(":")
    return getattr(importlib.import_module(module), cls)()


def execute_pipeline(
    pipeline: "Pipeline",
    select: Sequence[str] | None = None,
    engine: str | None = None,
    full_refresh: Sequence[str] | bool = (),
    keep_outputs: bool = True,
) -> PipelineRunSummary:
    """Plan and run a pipeline on an engine (default: the pipeline's ``dataframe_backend``).

    ``keep_outputs=False`` does not keep node outputs on the models (``output_df``), which lets
    an engine free each node's data before the next node runs.
    """
    from kappa.plan import build_plan

    plan = build_plan(pipeline, select)
    eng = get_engine(engine or pipeline.dataframe_backend)
    if hasattr(eng, "keep_outputs"):
        eng.keep_outputs = keep_outputs
    if full_refresh is True:
        full_refresh = list(plan.order)
    elif full_refresh is False:
        full_refresh = ()
    return eng.run(pipeline, plan, full_refresh=tuple(full_refresh))
