"""Resetting a node (``--full-refresh``): both engines' state and the node's sinks."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from kappa.plan import NodePlan


def reset_node(node: "NodePlan") -> None:
    """Forget a node's progress (its whole checkpoint folder) and delete its local sinks."""
    import shutil
    from pathlib import Path

    shutil.rmtree(node.checkpoint, ignore_errors=True)
    for sink in node.sinks:
        if sink.path and "://" not in sink.path:
            p = Path(sink.path)
            if p.is_dir():
                shutil.rmtree(p)
            elif p.exists():
                p.unlink()
