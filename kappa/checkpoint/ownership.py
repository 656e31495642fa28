"""Which engine owns a node: engine-tagged Delta app ids and the refusal to mix engines.

Both engines write Delta sinks idempotently with app transactions ``(app_id, batch id)``, but
each keeps its own checkpoint (``<node checkpoint>/replay`` for Polars,
``<node checkpoint>/spark`` for Spark) with its own batch ids. The app ids therefore carry the
engine (:func:`kappa.plan_layout.sink_app_id`: ``kappa:<engine>:<pipeline>:<node>:sink<i>``,
:func:`kappa.plan_layout.dead_letter_app_id`: ``...:dead_letters``), so one engine's batch N is never taken for
the other's.

Before a run writes anything, :func:`check_ownership` refuses (:class:`EngineConflict`, exit 2)
every selected node whose

(a) node checkpoint folder holds the other engine's progress (a planned batch), or
(b) Delta sinks or dead-letter table carry a transaction of the other engine's app id, or of
    the legacy engine-less id (``kappa:<pipeline>:<node>:sink<i>``, written before app ids
    carried the engine) beyond this engine's own last committed batch.

(c) Delta sinks or dead-letter table carry this engine's own app id beyond the newest batch its
    checkpoint planned (the checkpoint was deleted or replaced while the tables stayed): every
    new batch would be skipped as "already written".

Legacy ids: a table whose legacy transactions are covered by this engine's own committed
batches (the usual upgrade: the same engine keeps running, its checkpoint already has those
commits) is accepted; new batches are written under the new id, which has no transaction yet,
so nothing is skipped. Legacy transactions beyond this engine's commits (the other engine
wrote them, or a batch was written but not committed before the upgrade) cannot be attributed:
the node is refused until it is rebuilt with ``--full-refresh``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from kappa.checkpoint import CheckpointRefused
from kappa.connectors.base import AppTable
from kappa.connectors.registry import sink_kind_of, source_kind_of
from kappa.plan_layout import dead_letter_app_id, legacy_app_id  # noqa: F401 - the engines import dead_letter_app_id from here

if TYPE_CHECKING:  # pragma: no cover
    from kappa.plan import NodePlan, PipelinePlan
    from kappa.plan_layout import CheckpointLayout

ENGINES = ("polars", "spark")
#: the commands that continue an engine's checkpoint
COMMANDS = {"polars": "kappa replay", "spark": "kappa run / kappa stream start"}


class EngineConflict(CheckpointRefused):
    """A node's checkpoint or tables belong to the other engine (or to an unknown one)."""


def other_engine(engine: str) -> str:
    return "spark" if engine == "polars" else "polars"


def dead_letter_path(node: "NodePlan", root: str) -> str:
    """A node's dead-letter table: the source's ``dead_letter_path`` or ``<checkpoint>/dead_letters``."""
    return node.layout.dead_letters


# ---------------------------------------------------------------- checkpoints
def _batch_ids(folder: "Path | str") -> list[int]:
    from kappa.checkpoint.objects import is_remote

    if is_remote(folder):
        from kappa.checkpoint import objects

        found = objects.names(str(folder)) + objects.folders(str(folder))
    elif not Path(folder).is_dir():
        return []
    else:
        found = [p.name for p in Path(folder).iterdir()]
    out = []
    for name in found:
        stem = name[:-5] if name.endswith(".json") else name
        if stem.isdigit():
            out.append(int(stem))
    return sorted(out)


def checkpoint_dir(node_checkpoint: "str | CheckpointLayout", engine: str) -> Path:
    from kappa.plan_layout import CheckpointLayout

    layout = node_checkpoint if isinstance(node_checkpoint, CheckpointLayout) else CheckpointLayout(node_checkpoint)
    return Path(layout.engine_dir(engine))


def _engine_folder(node_checkpoint: "str | CheckpointLayout", engine: str, kind: str) -> "Path | str":
    """``<engine checkpoint>/<kind>``: a Path, or a URI on an object store (a Path would mangle it)."""
    from kappa.checkpoint.objects import is_remote
    from kappa.plan_layout import CheckpointLayout

    if is_remote(node_checkpoint):
        layout = node_checkpoint if isinstance(node_checkpoint, CheckpointLayout) else CheckpointLayout(str(node_checkpoint))
        return f"{layout.engine_dir(engine)}/{kind}"
    return checkpoint_dir(node_checkpoint, engine) / kind


def planned_batch(node_checkpoint: str, engine: str) -> int | None:
    """The newest batch an engine's checkpoint of the node has planned (None: no progress)."""
    ids = _batch_ids(_engine_folder(node_checkpoint, engine, "offsets"))
    return ids[-1] if ids else None


def committed_batch(node_checkpoint: str, engine: str) -> int | None:
    """The newest batch an engine's checkpoint of the node has committed (None: none)."""
    ids = _batch_ids(_engine_folder(node_checkpoint, engine, "commits"))
    return ids[-1] if ids else None


def has_progress(node_checkpoint: str, engine: str) -> bool:
    return planned_batch(node_checkpoint, engine) is not None


# ---------------------------------------------------------------- tables
def node_tables(node: "NodePlan", root: str) -> Iterator[AppTable]:
    """The Delta tables a node writes with app transactions (its kinds' ``app_tables``)."""
    for sink in node.sinks:
        yield from sink_kind_of(sink).app_tables(sink)
    if node.source is not None:
        yield from source_kind_of(node.source).app_tables(node.source, node.layout)


def transaction_versions(table: AppTable, app_ids: list[str]) -> dict[str, int]:
    """The recorded transaction version of each app id in the table (absent ids left out)."""
    if "://" not in table.path and not (Path(table.path) / "_delta_log").is_dir():
        return {}
    from deltalake.exceptions import TableNotFoundError

    from kappa.delta.tables import latest

    try:
        opened = latest(table.path, table.storage_options)
    except (TableNotFoundError, OSError):
        return {}
    if opened is None:
        return {}
    out = {}
    for app_id in app_ids:
        version = opened.transaction_version(app_id)
        if version is not None:
            out[app_id] = version
    return out


# ---------------------------------------------------------------- the check
def node_conflicts(plan: "PipelinePlan", node: "NodePlan", engine: str) -> str | None:
    """Why ``engine`` must not write ``node`` (one line), or None when it may."""
    from kappa.checkpoint.objects import is_remote

    other = other_engine(engine)
    ck = node.checkpoint
    owned_by_other: list[str] = []
    unknown: list[str] = []
    other_planned = planned_batch(ck, other)
    if other_planned is not None:
        where = node.layout.engine_dir(other) if is_remote(ck) else checkpoint_dir(ck, other)
        owned_by_other.append(f"{where} up to batch {other_planned}")
    own_committed = committed_batch(ck, engine)
    own_planned = planned_batch(ck, engine)
    ahead: list[str] = []
    for table in node_tables(node, plan.root):
        if table.storage_options is None and "://" in table.path:  # a dead-letter table on an object store
            table = replace(table, storage_options=plan.table_storage(table.path))
        other_id = f"kappa:{other}:{plan.pipeline}:{node.name}:{table.suffix}"
        own_id = f"kappa:{engine}:{plan.pipeline}:{node.name}:{table.suffix}"
        legacy = legacy_app_id(plan.pipeline, node.name, table.suffix)
        found = transaction_versions(table, [other_id, legacy, own_id])
        if own_id in found and (own_planned is None or found[own_id] > own_planned):
            mine = "no batch" if own_planned is None else f"batches up to {own_planned}"
            ahead.append(f"{table.label} {table.path} holds batches up to {found[own_id]} of {own_id}, its checkpoint {mine}")
        if other_id in found:
            owned_by_other.append(f"{table.label} {table.path} written by {other_id} up to batch {found[other_id]}")
        if legacy in found and (own_committed is None or found[legacy] > own_committed):
            mine = "no committed batch" if own_committed is None else f"last committed batch {own_committed}"
            unknown.append(
                f"{table.label} {table.path} written by {legacy} up to batch {found[legacy]} "
                f"(an older kappa, engine unknown; this {engine} checkpoint has {mine})"
            )
    if owned_by_other:
        return (
            f"node {node.name!r}: its checkpoint and tables belong to the {other} engine "
            f"({'; '.join(owned_by_other)}). Run it with {COMMANDS[other]}, "
            f"or rebuild it on {engine} with --full-refresh {node.name}"
        )
    if ahead:
        return (
            f"node {node.name!r}: its tables are ahead of its {engine} checkpoint ({'; '.join(ahead)}): "
            f"was the checkpoint deleted or replaced? New batches would be skipped as already written. "
            f"Rebuild it with --full-refresh {node.name}"
        )
    if unknown:
        return (
            f"node {node.name!r}: its tables were written by another checkpoint ({'; '.join(unknown)}). "
            f"Rebuild it with --full-refresh {node.name}"
        )
    return None


def check_ownership(plan: "PipelinePlan", engine: str) -> None:
    """Refuse (before anything is written) when a selected node belongs to another engine."""
    problems = [p for p in (node_conflicts(plan, node, engine) for node in plan.nodes) if p]
    if problems:
        raise EngineConflict("\n".join(problems))
