"""The machine-readable run summary (``--json`` of ``kappa run``, ``kappa replay``): one schema.

Design note: the schema is these pydantic models, defined once; :func:`summary_json` fills them
from a :class:`~kappa.summary.PipelineRunSummary` and ``RunSummaryJson.model_json_schema()`` is
the JSON Schema (``kappa.summary_json.json_schema()``) a consumer can validate against. Every
model forbids unknown keys, so a test validating the output catches a field added without the
schema. ``schema_version`` grows when a field changes meaning or goes away (adding an optional
field keeps it).

Counts per node: ``read_rows`` (rows the source gave the node) = ``removed_rows`` (removed by the
transformer steps; negative when steps add rows) + ``output_rows`` + ``dropped_rows`` +
``quarantined_rows`` (the expectations' split). ``seconds`` is the node's own wall time.
Imported only by ``--json`` (pydantic is not loaded for a plain run).
"""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

from kappa.summary import NodeRunSummary, PipelineRunSummary

SCHEMA_VERSION = 1


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NodeJson(_Strict):
    """One node of a run."""

    node: str
    status: Literal["ok", "skipped", "error"]
    skipped: Optional[str] = Field(None, description="Why the node did not run (e.g. `no new data`).")
    error: Optional[str] = Field(None, description="The node's error (the root cause, one line).")
    batches: int
    read_rows: int = Field(description="Rows read from the node's source.")
    removed_rows: Optional[int] = Field(description="Rows the transformer steps removed (negative: they added rows; null: not counted).")
    output_rows: int = Field(description="Rows that passed the expectations (what the sinks got).")
    dropped_rows: int
    quarantined_rows: int
    dead_letter_rows: int
    seconds: float = Field(description="The node's own wall time.")
    failures: dict[str, int] = Field(description="Failing rows per expectation.")
    sink_rows: dict[str, int] = Field(description="Rows written per sink (`sink0`, `sink1 (quarantine)`).")
    skipped_offsets: int
    data_loss: list[str]
    late_rows: int
    watermark: Optional[str]
    state_rows: Optional[int]
    state_bytes: Optional[int]


class RunSummaryJson(_Strict):
    """A whole run: what ``--json`` prints (one JSON document on stdout)."""

    schema_version: Literal[1] = SCHEMA_VERSION
    pipeline: str
    engine: str
    profile: Optional[str] = Field(None, description="The Spark connector profile (null on Polars).")
    ok: bool
    error: Optional[str] = Field(None, description="The run's error line (null when ok).")
    log_file: Optional[str] = Field(None, description="Where Spark's own log went (null on Polars).")
    stop_reason: Optional[str] = Field(None, description="Why a stream stopped (`stream start`, `cdc start`; null for a run).")
    nodes: list[NodeJson]


def node_json(n: NodeRunSummary) -> NodeJson:
    return NodeJson(
        node=n.node, status=n.status, skipped=n.skipped, error=n.error, batches=n.batches, read_rows=n.read_rows,
        removed_rows=n.removed_rows, output_rows=n.output_rows, dropped_rows=n.dropped_rows,
        quarantined_rows=n.quarantined_rows, dead_letter_rows=n.dead_letter_rows, seconds=round(n.seconds, 3),
        failures=dict(n.failures), sink_rows=dict(n.sink_rows), skipped_offsets=n.skipped_offsets,
        data_loss=list(n.data_loss), late_rows=n.late_rows, watermark=n.watermark, state_rows=n.state_rows,
        state_bytes=n.state_bytes,
    )


def summary_json(summary: PipelineRunSummary, *, error: str | None = None, log_file: str | None = None,
                 stop_reason: str | None = None) -> RunSummaryJson:
    """The JSON model of a run's summary (``error``: the run's error line when it failed;
    ``stop_reason``: why a stream stopped)."""
    return RunSummaryJson(
        pipeline=summary.pipeline, engine=summary.engine, profile=summary.profile, ok=summary.ok and error is None,
        error=error, log_file=log_file, stop_reason=stop_reason, nodes=[node_json(n) for n in summary.nodes],
    )


def json_schema() -> dict[str, Any]:
    """The JSON Schema of ``--json``'s output."""
    return RunSummaryJson.model_json_schema()
