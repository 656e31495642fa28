"""Delta tables: the Delta source (whole, at a version, or incrementally) and the Delta sink
(append / overwrite; its MERGE mode is :mod:`kappa.connectors.cdc_merge`).

Recognised by ``format: DELTA`` (a sink also by ``merge``). The sink is what downstream nodes
prefer to read, and a table written with app transactions (engine ownership). Replay batches
of a Delta source are a snapshot (:class:`DeltaSnapshot`) or a version range (:class:`DeltaRange`).

>>> DeltaDataSink(path="./tables/slv", mode="append").type
'delta'
>>> DeltaRange(0, 2).to_json(), DeltaSnapshot().to_json()
({'kind': 'delta', 'start': 0, 'end': 2}, {'kind': 'delta', 'version': None})
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Mapping

from pydantic import Field, field_validator, model_validator

from kappa.connectors.base import AppTable, Redact, SinkContext, SinkKind, SourceContext, SourceKind
from kappa.models.base import SinkModel, SourceModel, lower_mode, upper_format
from kappa.models.cdc import CdcMerge
from kappa.plan_kinds import DeltaSinkPlan, DeltaSourcePlan, SecretOptions, resolve_secrets


# ---------------------------------------------------------------- models
class DeltaDataSource(SourceModel):
    """A Delta table, read whole (optionally at a version) or incrementally over its versions."""

    type: Literal["delta"] = Field("delta", description="Source kind; inferred from `format: DELTA`.")
    path: str = Field(..., description="Table location: a local path or an object-store URI.")
    format: Literal["DELTA"] = Field("DELTA", description="Always DELTA for this source.")
    version: int | None = Field(None, ge=0, description="Read the table as of this version (batch reads only).")
    starting_version: int | None = Field(
        None, ge=0, description="Streaming reads: first version to read (default: the whole table, then new versions)."
    )
    skip_change_commits: bool = Field(
        False,
        description="Streaming reads: ignore commits that update or delete rows instead of failing (Spark's `skipChangeCommits`).",
    )
    storage_options: dict[str, str] = Field(
        default_factory=dict, description="Object-store options passed to delta-rs / Spark; values may be `${env.NAME}` references."
    )

    _norm_format = field_validator("format", mode="before")(upper_format)

    @model_validator(mode="after")
    def _version_is_batch_only(self) -> "DeltaDataSource":
        if self.version is not None and self.streaming:
            raise ValueError("`version` reads a fixed snapshot; it cannot be combined with `as_stream: true`")
        return self


class DeltaDataSink(SinkModel):
    """A Delta table: append, overwrite, or CDC MERGE (SCD type 1 or 2) with `merge`."""

    type: Literal["delta"] = Field("delta", description="Sink kind; inferred from `format: DELTA`.")
    path: str = Field(..., description="Table location: a local path or an object-store URI.")
    format: Literal["DELTA"] = Field("DELTA", description="Always DELTA for this sink.")
    mode: Literal["append", "overwrite", "merge", "upsert"] | None = Field(
        None,
        description="append, overwrite, merge (CDC) or upsert (MERGE each batch on `keys`: update-mode aggregates); "
        "default: merge when `merge` is set, append for streaming nodes, overwrite otherwise.",
    )
    keys: list[str] | None = Field(
        None,
        description="mode upsert: the columns a row is matched on (updated when matched, inserted otherwise); "
        "default: the node's streaming aggregate's grouping keys (its window column included).",
    )
    partition_by: list[str] = Field(default_factory=list, description="Partition columns of the table.")
    merge: CdcMerge | None = Field(
        None,
        description="CDC MERGE options (keys, sequence_by, SCD type, ...); on a `value_format: debezium` "
        "node without transformer steps `merge: {}` takes the replication defaults.",
    )
    schema_mode: Literal["merge", "overwrite", "strict"] = Field(
        "merge", description="New columns: merge them into the table schema (default), overwrite the schema, or fail (strict)."
    )
    storage_options: dict[str, str] = Field(
        default_factory=dict, description="Object-store options; values may be `${env.NAME}` references."
    )

    _norm_format = field_validator("format", mode="before")(upper_format)
    _lower_mode = field_validator("mode", mode="before")(lower_mode)

    @model_validator(mode="after")
    def _merge_needs_options(self) -> "DeltaDataSink":
        if self.mode == "merge" and self.merge is None:
            raise ValueError("mode `merge` needs the `merge` options (keys, sequence_by, ...)")
        if self.merge is not None and self.mode not in (None, "merge"):
            raise ValueError(f"`merge` options given but mode is `{self.mode}`; use mode `merge` or drop `merge`")
        if self.keys is not None and self.mode != "upsert":
            raise ValueError(f"`keys` apply to mode `upsert`, not `{self.mode or 'the default'}`")
        if self.keys is not None and (not self.keys or len(set(self.keys)) != len(self.keys)):
            raise ValueError("`keys` must name one or more distinct columns")
        if self.mode == "upsert" and self.is_quarantine:
            raise ValueError("a quarantine sink appends the rows that failed; mode `upsert` does not apply")
        return self

    @property
    def effective_merge(self) -> bool:
        """Whether this sink applies changes with MERGE."""
        return self.merge is not None


def _is_delta(raw: Mapping[str, Any]) -> bool:
    return str(raw.get("format", "")).upper() == "DELTA"


# ---------------------------------------------------------------- replay batches
@dataclass(frozen=True)
class DeltaSnapshot:
    """A whole Delta table, at ``version`` (None: the latest)."""

    version: int | None = None
    kind: ClassVar[str] = "delta"

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "version": self.version}


@dataclass(frozen=True)
class DeltaRange:
    """The files Delta versions ``start..end`` (inclusive) added."""

    start: int
    end: int
    kind: ClassVar[str] = "delta"

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "start": self.start, "end": self.end}


def _batch(data: Mapping[str, Any]) -> DeltaSnapshot | DeltaRange:
    return DeltaRange(int(data["start"]), int(data["end"])) if "start" in data else DeltaSnapshot(data.get("version"))


# ---------------------------------------------------------------- source hooks
def _source_plan(src: DeltaDataSource, ctx: SourceContext) -> DeltaSourcePlan:
    return DeltaSourcePlan(
        streaming=src.streaming,
        path=ctx.path(src.path),
        version=src.version,
        starting_version=src.starting_version,
        skip_change_commits=src.skip_change_commits,
        storage_options=SecretOptions(src.storage_options),
    )


def _describe_source(source: DeltaSourcePlan, redact: Redact) -> dict[str, Any]:
    opts = {}
    if source.streaming and source.starting_version is not None:
        opts["startingVersion"] = str(source.starting_version)
    if source.streaming and source.skip_change_commits:
        opts["skipChangeCommits"] = "true"
    if not source.streaming and source.version is not None:
        opts["versionAsOf"] = str(source.version)
    opts.update(redact({f"storage.{k}": v for k, v in (source.storage_options or {}).items()}))
    return {"format": "delta", "options": opts}


SOURCE = SourceKind(
    name="delta",
    model=DeltaDataSource,
    plan_classes=(DeltaSourcePlan,),
    plan=_source_plan,
    describe=_describe_source,
    recognise=_is_delta,
    precedence=30,
    secret_fields=("storage_options",),
    batch_from_json=_batch,
)


# ---------------------------------------------------------------- sink hooks
def table_fields(sink: DeltaDataSink, ctx: SinkContext, mode: str) -> dict[str, Any]:
    """The fields of a Delta sink plan (also of a MERGE sink's)."""
    return dict(
        index=ctx.index,
        mode=mode,
        quarantine=sink.is_quarantine,
        app_id=ctx.app_id,
        path=ctx.path(sink.path),
        partition_by=tuple(sink.partition_by),
        schema_mode=sink.schema_mode,
        storage_options=SecretOptions(sink.storage_options),
    )


def _sink_plan(sink: DeltaDataSink, ctx: SinkContext) -> DeltaSinkPlan:
    """The sink's plan; an upsert's default ``keys`` (the node's aggregate's) are filled by
    :func:`kappa.plan.build_plan` after the node's state is analysed."""
    return DeltaSinkPlan(**table_fields(sink, ctx, sink.mode or ("append" if ctx.streaming else "overwrite")),
                         keys=tuple(sink.keys or ()))


def describe_table(sink: DeltaSinkPlan, merge: dict[str, Any] | None = None) -> dict[str, Any]:
    """A Delta sink's description (a MERGE sink passes its ``merge`` options)."""
    out: dict[str, Any] = {"path": sink.path, "app_id": sink.app_id, "schema_mode": sink.schema_mode}
    if merge is not None:
        out["merge"] = merge
    if sink.mode == "upsert":
        out["keys"] = list(sink.keys)
    if sink.partition_by:
        out["partition_by"] = list(sink.partition_by)
    return out


def upstream_source(sink: DeltaDataSink, upstream: str, streaming: bool, resolve) -> DeltaSourcePlan:
    """What a downstream node reads of a Delta sink (also a MERGE sink's table)."""
    return DeltaSourcePlan(streaming=streaming, path=resolve(sink.path), upstream=upstream, storage_options=SecretOptions(sink.storage_options))


def app_tables(sink: DeltaSinkPlan) -> tuple[AppTable, ...]:
    """The table, written with app transactions ``(app_id, batch id)``."""
    if not sink.path:
        return ()
    return (AppTable(f"sink {sink.index}", sink.path, f"sink{sink.index}", resolve_secrets(sink.storage_options) or None),)


SINK = SinkKind(
    name="delta",
    tag="delta",
    model=DeltaDataSink,
    claims=lambda sink: sink.merge is None,
    plan_classes=(DeltaSinkPlan,),
    plan=_sink_plan,
    describe=describe_table,
    recognise=lambda raw: _is_delta(raw) or "merge" in raw,
    precedence=30,
    secret_fields=("storage_options",),
    read_rank=0,
    upstream_source=upstream_source,
    app_tables=app_tables,
)
