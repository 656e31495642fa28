"""Source and sink models -> typed plans: the one place a pydantic source/sink model is read.

Called by :func:`kappa.plan.build_plan` only. Paths are made absolute against the pipeline root;
secret-bearing options are wrapped unresolved in :class:`~kappa.plan_kinds.SecretOptions`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from kappa.plan_kinds import (
    DeltaSinkPlan,
    DeltaSourcePlan,
    FileSinkPlan,
    FileSourcePlan,
    KafkaSinkPlan,
    KafkaSourcePlan,
    MergeOptions,
    MergeSinkPlan,
    SecretOptions,
    SinkPlan,
    SourcePlan,
)

if TYPE_CHECKING:  # pragma: no cover
    from kappa.models.cdc import CdcMerge


def _abs(path: str | None, root: Path) -> str | None:
    from kappa.plan import resolve_path

    return resolve_path(path, root) if path else None


def source_plan(src: Any, root: Path) -> SourcePlan:
    """The plan of a file, Delta or Kafka source model (not a node source)."""
    path = _abs(getattr(src, "path", None), root)
    if src.type == "file":
        return FileSourcePlan(
            streaming=src.streaming, path=path, format=src.format, schema=src.schema_, read_options=dict(src.read_options)
        )
    if src.type == "delta":
        return DeltaSourcePlan(
            streaming=src.streaming,
            path=path,
            version=src.version,
            starting_version=src.starting_version,
            skip_change_commits=src.skip_change_commits,
            storage_options=SecretOptions(src.storage_options),
        )
    if src.type == "kafka":
        return KafkaSourcePlan(
            streaming=src.streaming,
            bootstrap_servers=src.bootstrap_servers,
            topics=tuple(src.topics),
            starting_offsets=src.starting_offsets,
            value_format=src.value_format,
            schema=src.schema_,
            include_headers=src.include_headers,
            max_offsets_per_trigger=src.max_offsets_per_trigger,
            fail_on_data_loss=src.fail_on_data_loss,
            options=SecretOptions(src.options),
            dead_letter_path=_abs(src.dead_letter_path, root),
            max_record_bytes=src.max_record_bytes,
        )
    raise ValueError(f"no plan for a {src.type!r} source")  # pragma: no cover - node sources are resolved first


def upstream_source_plan(sink: Any, upstream: str, streaming: bool, root: Path) -> SourcePlan:
    """What a node reads of its upstream's (Delta or file) sink model."""
    path = _abs(sink.path, root)
    if sink.type == "delta":
        return DeltaSourcePlan(streaming=streaming, path=path, upstream=upstream, storage_options=SecretOptions(sink.storage_options))
    return FileSourcePlan(streaming=streaming, path=path, upstream=upstream, format=sink.format)


def merge_options(merge: "CdcMerge") -> MergeOptions:
    """A resolved :class:`~kappa.models.cdc.CdcMerge` as the plan's :class:`MergeOptions`."""
    from dataclasses import fields

    return MergeOptions(**{f.name: getattr(merge, f.name) for f in fields(MergeOptions)})


def sink_plan(sink: Any, *, index: int, mode: str, app_id: str, path: str | None) -> SinkPlan:
    """The plan of a sink model (``path`` already absolute)."""
    common = dict(index=index, mode=mode, quarantine=sink.is_quarantine, app_id=app_id, path=path)
    if sink.type == "file":
        return FileSinkPlan(**common, format=sink.format)
    if sink.type == "delta":
        delta = dict(common, partition_by=tuple(sink.partition_by), schema_mode=sink.schema_mode, storage_options=SecretOptions(sink.storage_options))
        if mode == "merge":
            return MergeSinkPlan(**delta, merge=merge_options(sink.merge))
        return DeltaSinkPlan(**delta)
    if sink.type == "kafka":
        return KafkaSinkPlan(
            **common, bootstrap_servers=sink.bootstrap_servers, topic=sink.topic, key=sink.key, value=sink.value, options=SecretOptions(sink.options)
        )
    raise ValueError(f"no plan for a {sink.type!r} sink")  # pragma: no cover
