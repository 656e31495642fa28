"""Files: the file source (JSON, JSONL, CSV, Parquet) and the file sink (Parquet, JSONL, CSV).

A source or sink without ``type`` is files when no other kind recognises it (``path`` +
``format``). The sink is readable by downstream nodes (after Delta sinks); appending needs a
folder. A replay batch of a file source lists the files it reads (:class:`FileBatch`).

>>> src = FileDataSource(path="./data/stock_prices/", format="JSONL")
>>> src.type, src.format, src.streaming
('file', 'JSONL', False)
>>> FileDataSink(path="./data/out.parquet", format="parquet").format
'PARQUET'
>>> FileBatch(files=("a.json",), seen=("a.json",)).to_json()
{'kind': 'file', 'files': ['a.json'], 'seen': ['a.json']}
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal, Mapping

from pydantic import Field, field_validator

from kappa.connectors.base import Redact, SinkContext, SinkKind, SourceContext, SourceKind, schema_text
from kappa.errors import ConfigError
from kappa.models.base import SinkModel, SourceModel, lower_mode, upper_format
from kappa.plan_kinds import FileSinkPlan, FileSourcePlan

FileFormat = Literal["JSON", "JSONL", "CSV", "PARQUET"]


# ---------------------------------------------------------------- models
class FileDataSource(SourceModel):
    """Files in a folder, a glob or a single file: JSON, JSONL, CSV or Parquet."""

    type: Literal["file"] = Field("file", description="Source kind; inferred from `path` + `format`.")
    path: str = Field(..., description="A file, a folder (every file inside) or a glob pattern.")
    format: FileFormat = Field(..., description="File format: JSON, JSONL, CSV or PARQUET (case-insensitive).")
    schema_: str | dict[str, Any] | None = Field(
        None,
        alias="schema",
        description="Declared schema as Spark DDL (`a INT, b STRING`) or a `{column: type}` mapping; inferred when absent.",
    )
    read_options: dict[str, Any] = Field(
        default_factory=dict,
        description="Extra reader options (e.g. `header`, `delimiter` for CSV).",
    )

    _norm_format = field_validator("format", mode="before")(upper_format)


class FileDataSink(SinkModel):
    """Files: a single Parquet/JSONL/CSV file (path with an extension) or a folder of part files."""

    type: Literal["file"] = Field("file", description="Sink kind; inferred from `path` + `format`.")
    path: str = Field(..., description="Target file (`out.parquet`) or folder (`out/`, one part file per batch).")
    format: Literal["PARQUET", "JSONL", "CSV"] = Field(..., description="File format (case-insensitive).")
    mode: Literal["append", "overwrite"] | None = Field(
        None, description="append or overwrite; default: append for streaming nodes, overwrite otherwise."
    )

    _norm_format = field_validator("format", mode="before")(upper_format)
    _lower_mode = field_validator("mode", mode="before")(lower_mode)


# ---------------------------------------------------------------- replay batches
@dataclass(frozen=True)
class FileBatch:
    """Files to read; a stream also records every file ``seen`` so far."""

    files: tuple[str, ...]
    seen: tuple[str, ...] | None = None
    kind: ClassVar[str] = "file"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "files": list(self.files)}
        if self.seen is not None:
            out["seen"] = list(self.seen)
        return out


def _batch(data: Mapping[str, Any]) -> FileBatch:
    seen = data.get("seen")
    return FileBatch(tuple(data["files"]), tuple(seen) if seen is not None else None)


# ---------------------------------------------------------------- source hooks
def _source_plan(src: FileDataSource, ctx: SourceContext) -> FileSourcePlan:
    return FileSourcePlan(
        streaming=src.streaming, path=ctx.path(src.path), format=src.format, schema=src.schema_, read_options=dict(src.read_options)
    )


def _describe_source(source: FileSourcePlan, redact: Redact) -> dict[str, Any]:
    return {"format": str(source.format).lower(), "options": redact(source.read_options), "schema": schema_text(source.schema)}


SOURCE = SourceKind(
    name="file",
    model=FileDataSource,
    plan_classes=(FileSourcePlan,),
    plan=_source_plan,
    describe=_describe_source,
    recognise=lambda raw: True,  # the fallback: whatever no other kind recognises
    precedence=100,
    batch_from_json=_batch,
)


# ---------------------------------------------------------------- sink hooks
def _mode(sink: FileDataSink, streaming: bool) -> str:
    return sink.mode or ("append" if streaming else "overwrite")


def _sink_plan(sink: FileDataSink, ctx: SinkContext) -> FileSinkPlan:
    mode = _mode(sink, ctx.streaming)
    if mode == "append" and Path(sink.path).suffix:
        raise ConfigError(f"node {ctx.node!r} sink {ctx.index}: appending needs a folder path, not the single file {sink.path!r}")
    return FileSinkPlan(index=ctx.index, mode=mode, quarantine=sink.is_quarantine, app_id=ctx.app_id, path=ctx.path(sink.path), format=sink.format)


def _describe_sink(sink: FileSinkPlan) -> dict[str, Any]:
    return {"path": sink.path, "format": sink.format}


def _upstream_source(sink: FileDataSink, upstream: str, streaming: bool, resolve) -> FileSourcePlan:
    return FileSourcePlan(streaming=streaming, path=resolve(sink.path), upstream=upstream, format=sink.format)


SINK = SinkKind(
    name="file",
    tag="file",
    model=FileDataSink,
    plan_classes=(FileSinkPlan,),
    plan=_sink_plan,
    describe=_describe_sink,
    recognise=lambda raw: True,  # the fallback
    precedence=100,
    read_rank=1,
    upstream_source=_upstream_source,
)
