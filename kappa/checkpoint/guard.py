"""What every engine does before a run writes anything (under the pipeline lock).

1. ``--full-refresh``: work out what it resets (the named nodes and orphans, the streaming nodes
   downstream; unknown names are errors) -- :mod:`kappa.checkpoint.refresh`;
2. verdicts: a node whose checkpoint cannot be resumed and is not being reset refuses the run
   (:class:`~kappa.checkpoint.verdicts.StreamRefused`) -- :mod:`kappa.checkpoint.verdicts`;
3. ownership: a node whose checkpoint or tables belong to the other engine, or that writes a
   table an orphaned checkpoint (a renamed node) wrote, and is not being reset, refuses the run
   (:class:`~kappa.checkpoint.ownership.EngineConflict`) -- :mod:`kappa.checkpoint.ownership`;
4. only then is anything deleted (the refresh).

So a refused run has deleted and written nothing. Both refusals exit 2.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:  # pragma: no cover
    from kappa.checkpoint.verdicts import Verdict
    from kappa.plan import PipelinePlan


def prepare_run(plan: "PipelinePlan", engine: str, descriptions: dict[str, dict[str, Any]], full_refresh: Sequence[str]) -> list["Verdict"]:
    """Check (and refresh) before a run of ``plan`` on ``engine``; returns the verdicts."""
    from kappa.checkpoint.ownership import EngineConflict, node_conflicts
    from kappa.checkpoint.refresh import orphan_conflicts, perform_refresh, refresh_plan
    from kappa.checkpoint.verdicts import StreamRefused, plan_verdicts

    items = refresh_plan(plan, full_refresh)
    resetting = {item.node for item in items}
    verdicts = plan_verdicts(plan, descriptions, engine)
    blocked = [v for v in verdicts if v.blocks_start and v.node not in resetting]
    conflicts = [c for c in (node_conflicts(plan, n, engine) for n in plan.nodes if n.name not in resetting) if c]
    conflicts += orphan_conflicts(plan, resetting)
    if blocked:
        lines = "\n".join("  " + v.render() for v in blocked)
        names = " ".join(f"--full-refresh {v.node}" for v in blocked)
        text = (
            f"refusing to start: the {engine} checkpoints of these nodes cannot be resumed:\n{lines}\n"
            f"reset them (checkpoint and sinks are deleted, input is re-read) with: {names}"
        )
        raise StreamRefused("\n".join([text, *conflicts]))
    if conflicts:
        raise EngineConflict("\n".join(conflicts))
    perform_refresh(plan, items)
    return verdicts

