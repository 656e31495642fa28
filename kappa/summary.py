"""What a run reports: per-node counts (:class:`PipelineRunSummary`, filled by both engines)
and, for the Python API, the run result (:class:`RunResult`: the summary plus each node's output).

Design note: engines never write into the spec models. A run's node outputs travel in a
:class:`RunResult` that :mod:`kappa.runner` builds from the ``on_output`` callback engines call
after each node; :mod:`kappa.api` reads ``nodes_dict[name].output_df`` from it. This module is
engine-neutral and imports nothing of kappa.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping


@dataclass
class NodeRunSummary:
    """What one node did in one run (summed over its micro-batches)."""

    node: str
    batches: int = 0
    #: rows entering the expectations (after the transformer steps); ``read_rows`` adds back
    #: ``removed_rows``, what the steps removed (filters, dedup, aggregation; negative when the
    #: steps add rows: a join fanning out, an explode; None: not counted, see the README)
    input_rows: int = 0
    removed_rows: int | None = 0
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
    #: stateful nodes (:mod:`kappa.stateful`): rows dropped as later than the watermark (summed
    #: over the run's batches), and after the last batch the watermark (ISO-8601 UTC, None before
    #: any), the rows kept in state and the state's size in bytes (None: not stateful)
    late_rows: int = 0
    watermark: str | None = None
    state_rows: int | None = None
    state_bytes: int | None = None

    @property
    def read_rows(self) -> int:
        """Rows read from the source: what the steps got (``input_rows + removed_rows``; the
        steps' output when their input was not counted)."""
        return self.input_rows + (self.removed_rows or 0)

    def add_removed(self, removed: int | None) -> None:
        """Add one batch's rows removed by the steps (None: not counted, for the whole run)."""
        self.removed_rows = None if removed is None or self.removed_rows is None else self.removed_rows + removed

    @property
    def status(self) -> str:
        """``ok``, ``skipped`` or ``error``."""
        return "error" if self.error else ("skipped" if self.skipped else "ok")

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
    #: the Spark connector profile a Spark run used (None on Polars)
    profile: str | None = None

    @property
    def ok(self) -> bool:
        return all(n.error is None for n in self.nodes)

    def node(self, name: str) -> NodeRunSummary:
        for n in self.nodes:
            if n.node == name:
                return n
        raise KeyError(name)

    def render(self) -> str:
        """A plain-text table, one line per node: rows read, removed by the steps, written out,
        dropped and quarantined by expectations, dead letters, and the node's own seconds."""
        head = (f"{'node':<28} {'batches':>7} {'read':>10} {'removed':>8} {'out':>10} {'dropped':>8} {'quarant.':>8} "
                f"{'dead':>6} {'secs':>7}  status")
        lines = [f"pipeline {self.pipeline} on {self.engine}", head, "-" * len(head)]
        for n in self.nodes:
            status = "error: " + n.error if n.error else (n.skipped or "ok")
            lines.append(
                f"{n.node:<28} {n.batches:>7} {n.read_rows:>10} {_or_dash(n.removed_rows):>8} {n.output_rows:>10} {n.dropped_rows:>8} "
                f"{n.quarantined_rows:>8} {n.dead_letter_rows:>6} {n.seconds:>7.2f}  {status}"
            )
            for name, count in n.failures.items():
                if count:
                    lines.append(f"{'':<4}expectation {name}: {count} failing row(s)")
            for text in n.data_loss:
                lines.append(f"{'':<4}data loss: {text}; continued from the earliest offset")
            if n.skipped_offsets:
                lines.append(f"{'':<4}{n.skipped_offsets} offset(s) skipped (fail_on_data_loss: false)")
            if n.state_rows is not None or n.late_rows:
                lines.append(f"{'':<4}{state_line(n)}")
        return "\n".join(lines)


def _or_dash(value: int | None) -> str:
    return "-" if value is None else str(value)


def state_line(n: NodeRunSummary) -> str:
    """A stateful node's state in a summary: rows, size, watermark, late rows.

    >>> state_line(NodeRunSummary("g", state_rows=3, state_bytes=2048, watermark="2024-01-01T12:10:00Z", late_rows=2))
    'state: 3 row(s), 2048 bytes; watermark 2024-01-01T12:10:00Z; 2 late row(s) dropped'
    """
    size = f", {n.state_bytes} bytes" if n.state_bytes is not None else ""
    return (f"state: {n.state_rows if n.state_rows is not None else '?'} row(s){size}; "
            f"watermark {n.watermark or 'none yet'}; {n.late_rows} late row(s) dropped")


@dataclass(frozen=True)
class NodeOutput:
    """A node's last output and quarantined rows of a run, as lazy narwhals frames (or None).

    It keeps the engine's native frames and wraps each in narwhals when it is read, so a run
    whose outputs nobody reads does not import narwhals."""

    native_output: Any = None
    native_quarantine: Any = None
    _wrapped: dict = field(default_factory=dict, init=False, compare=False, repr=False)

    @property
    def output(self) -> Any:
        return self._narwhals("output", self.native_output)

    @property
    def quarantine(self) -> Any:
        return self._narwhals("quarantine", self.native_quarantine)

    def _narwhals(self, key: str, frame: Any) -> Any:
        """``frame`` wrapped once (every read gives the same narwhals frame)."""
        if frame is None:
            return None
        if key not in self._wrapped:
            import narwhals as nw

            self._wrapped[key] = nw.from_native(frame)
        return self._wrapped[key]


@dataclass(frozen=True)
class RunResult:
    """One run of the Python API: the summary (counts per node) and each node's output.

    It reads like the summary (``ok``, ``nodes``, ``node()``, ``render()``), so code written
    against :class:`PipelineRunSummary` keeps working.
    """

    summary: PipelineRunSummary
    outputs: Mapping[str, NodeOutput] = field(default_factory=dict)

    def output_df(self, node: str) -> Any:
        """The node's output (a lazy narwhals frame), or None when the run kept none."""
        out = self.outputs.get(node)
        return out.output if out is not None else None

    def quarantine_df(self, node: str) -> Any:
        """The rows a quarantine expectation set aside in the node's last batch, or None."""
        out = self.outputs.get(node)
        return out.quarantine if out is not None else None

    @property
    def pipeline(self) -> str:
        return self.summary.pipeline

    @property
    def engine(self) -> str:
        return self.summary.engine

    @property
    def profile(self) -> str | None:
        return self.summary.profile

    @property
    def nodes(self) -> list[NodeRunSummary]:
        return self.summary.nodes

    @property
    def ok(self) -> bool:
        return self.summary.ok

    def node(self, name: str) -> NodeRunSummary:
        return self.summary.node(name)

    def render(self) -> str:
        return self.summary.render()
