"""``--full-refresh``: what it deletes, listed before anything is deleted.

Refreshing a node deletes its whole checkpoint folder (both engines' checkpoints and
fingerprints, the default dead-letter table), its local sinks and a configured dead-letter
table; the next run re-reads its input from the start. A node *streaming* from a refreshed
node's table would then read a table whose log starts over (Delta ``LogSegment`` errors on
Spark, re-read rows on Polars), so every streaming node downstream of a refreshed node that has
a checkpoint is refreshed with it, transitively, and listed with the reason. Nodes that re-read
their whole source on each run keep no offsets and are left alone.

A name may also be an orphaned checkpoint (a node that no longer exists): its folder and the
sinks its fingerprints recorded are deleted. Any other name is an error with a did-you-mean.

Remote sinks (URIs) cannot be deleted by kappa (a checkpoint folder on an ``s3://`` checkpoint
root is kappa's own and is deleted, :mod:`kappa.checkpoint.objects`): a refresh refuses while such a table still
exists (its transactions would make the rebuilt node's first batches look already written).
"""

from __future__ import annotations

import difflib
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from kappa.checkpoint import CheckpointRefused, UsageError
from kappa.connectors.registry import sink_kind_of, source_kind_of
from kappa.plan_kinds import resolve_secrets

if TYPE_CHECKING:  # pragma: no cover
    from kappa.plan import NodePlan, PipelinePlan


@dataclass
class RefreshItem:
    """One node (or orphaned checkpoint) a refresh resets, and the paths it deletes."""

    node: str
    reason: str  # "asked" | "streams from 'x', which is rebuilt" | "orphaned checkpoint"
    paths: list[str] = field(default_factory=list)
    remote: list[str] = field(default_factory=list)

    def render(self) -> str:
        why = "" if self.reason == "asked" else f" ({self.reason})"
        lines = [f"  node {self.node}{why}:"]
        lines += [f"    {p}" for p in self.paths] or ["    (nothing on disk yet)"]
        lines += [f"    {p} (remote: not deleted by kappa)" for p in self.remote]
        return "\n".join(lines)


def _exists(path: str) -> bool:
    from kappa.checkpoint import objects

    return objects.exists(path) if objects.is_remote(path) else Path(path).exists()


def _in_checkpoint(plan: "PipelinePlan", path: str) -> bool:
    """A path under the pipeline's checkpoint folder: kappa's own, deleted even on an object store."""
    return path.startswith(plan.folder.rstrip("/") + "/")


def _node_paths(plan: "PipelinePlan", node: "NodePlan") -> tuple[list[str], list[str]]:
    local, remote = [], []
    candidates = [node.layout.root] + [p for s in node.sinks for p in sink_kind_of(s).owned_paths(s)]
    if node.source is not None:  # e.g. a configured dead-letter table
        own = source_kind_of(node.source).owned_paths(node.source, node.layout)
        candidates += [p for p in own if not p.startswith(node.layout.root + "/")]
    for path in candidates:
        if "://" in path and not _in_checkpoint(plan, path):
            remote.append(path)
        elif _exists(path) and path not in local:
            local.append(path)
    return local, remote


def orphan_sink_paths(plan: "PipelinePlan", name: str) -> list[str]:
    """The existing local sinks an orphaned checkpoint's fingerprints recorded."""
    from kappa.checkpoint.verdicts import FINGERPRINT_FILES, read_fingerprint

    folder = plan.layout_of(name).root
    paths: list[str] = []
    for engine in FINGERPRINT_FILES:
        for sink in (read_fingerprint(folder, engine) or {}).get("sinks", []):
            path = sink.get("path")
            if path and "://" not in path and _exists(path) and path not in paths:
                paths.append(path)
    return paths


def _orphan_paths(plan: "PipelinePlan", name: str) -> list[str]:
    return [plan.layout_of(name).root, *orphan_sink_paths(plan, name)]


def orphan_conflicts(plan: "PipelinePlan", resetting: set[str]) -> list[str]:
    """Selected nodes writing a table that an orphaned checkpoint (a renamed node, most often)
    also wrote: continuing would append the new node's re-read input to the old node's rows."""
    from kappa.checkpoint.verdicts import orphan_checkpoints

    owners = {}
    for orphan in orphan_checkpoints(plan):
        if orphan not in resetting:
            for path in orphan_sink_paths(plan, orphan):
                owners.setdefault(path, orphan)
    out = []
    for node in plan.nodes:
        if node.name in resetting:
            continue
        for sink in node.sinks:
            orphan = owners.get(sink.path or "")
            if orphan is not None:
                out.append(
                    f"node {node.name!r}: sink {sink.index} {sink.path} was written by the checkpoint of node {orphan!r}, "
                    f"which no longer exists (renamed?). Rebuild the table with --full-refresh {orphan} "
                    f"(deletes that checkpoint and the table)"
                )
    return out


def did_you_mean(name: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def refresh_plan(plan: "PipelinePlan", names: Sequence[str]) -> list[RefreshItem]:
    """The nodes a refresh of ``names`` resets, in topological order (orphans last)."""
    from kappa.checkpoint.verdicts import orphan_checkpoints

    if not names:
        return []
    orphans = orphan_checkpoints(plan)
    for name in names:
        if name not in plan.all_nodes and name not in orphans:
            known = [*plan.all_nodes, *orphans]
            raise UsageError(f"--full-refresh {name}: no node or checkpoint named {name!r}{did_you_mean(name, known)}")
    items: list[RefreshItem] = []
    chosen: set[str] = set()
    for node in plan.all_nodes.values():  # topological order
        if node.name in names:
            reason = "asked"
        else:
            up = node.source.upstream if node.source is not None else None
            if not (node.streaming and up in chosen and _exists(node.layout.root)):
                continue
            reason = f"streams from {up!r}, which is rebuilt"
        local, remote = _node_paths(plan, node)
        items.append(RefreshItem(node.name, reason, local, remote))
        chosen.add(node.name)
    for name in names:
        if name in orphans and name not in chosen:
            items.append(RefreshItem(name, "orphaned checkpoint", _orphan_paths(plan, name)))
            chosen.add(name)
    return items


def render_refresh(items: Sequence[RefreshItem]) -> str:
    return "--full-refresh will delete:\n" + "\n".join(item.render() for item in items)


def needs_confirmation(items: Sequence[RefreshItem]) -> bool:
    """True when the refresh deletes anything that exists."""
    return any(item.paths for item in items)


def _remote_table_exists(path: str, node: "NodePlan | None") -> bool:
    storage = None
    if node is not None:
        for sink in node.sinks:
            if sink.path == path:
                storage = resolve_secrets(getattr(sink, "storage_options", None)) or None
    try:
        from deltalake import DeltaTable

        DeltaTable(path, storage_options=storage)
        return True
    except Exception:  # noqa: BLE001 - no table there (or unreachable: the run will say)
        return False


def perform_refresh(plan: "PipelinePlan", items: Sequence[RefreshItem]) -> None:
    """Delete what ``items`` list (call under the pipeline lock)."""
    for item in items:
        node = plan.all_nodes.get(item.node)
        left = [p for p in item.remote if _remote_table_exists(p, node)]
        if left:
            raise CheckpointRefused(
                f"--full-refresh {item.node}: kappa cannot delete the remote table(s) {', '.join(left)}; "
                f"delete them yourself, then run again"
            )
    for item in items:
        for path in item.paths:
            if "://" in path:  # the checkpoint folder on an object store (kappa.checkpoint.objects)
                from kappa.checkpoint import objects

                objects.delete_tree(path)
                continue
            p = Path(path)
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            elif p.exists():
                p.unlink()
