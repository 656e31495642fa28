"""Resetting a node (``--full-refresh``): both engines' state and the node's sinks.

What a refresh deletes, and the streaming nodes downstream it takes along, is decided in
:mod:`kappa.checkpoint.refresh`; this is the one-node entry point kept for callers."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from kappa.plan import NodePlan, PipelinePlan


def reset_node(node: "NodePlan", plan: "PipelinePlan | None" = None) -> None:
    """Forget a node's progress (its whole checkpoint folder) and delete its local sinks (and
    its configured dead-letter table when ``plan`` is given)."""
    import shutil
    from pathlib import Path

    from kappa.connectors.registry import sink_kind_of, source_kind_of

    paths = [node.layout.root] + [p for s in node.sinks for p in sink_kind_of(s).owned_paths(s) if "://" not in p]
    if plan is not None and node.source is not None:  # e.g. a configured dead-letter table
        paths += source_kind_of(node.source).owned_paths(node.source, node.layout)
    for path in paths:
        p = Path(path)
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        elif p.exists():
            p.unlink()
