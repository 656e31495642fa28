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

    paths = [node.checkpoint] + [s.path for s in node.sinks if s.path and "://" not in s.path]
    if plan is not None:
        from kappa.checkpoint.ownership import dead_letter_path

        if node.source is not None and node.source.kind == "kafka":
            paths.append(dead_letter_path(node, plan.root))
    for path in paths:
        p = Path(path)
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        elif p.exists():
            p.unlink()
