"""Options and checks the writing commands share (``replay``, ``run``, ``stream start``, ``cdc``).

- ``--full-refresh``: the nodes and paths it deletes are listed (stderr) before anything runs;
  unknown names are errors with a did-you-mean (exit 2); deleting needs ``--yes`` when stdin is
  not a terminal (exit 2 naming the flag), else a y/N question.
- orphaned checkpoints (a node that no longer exists) are reported, not blocking.
- the command is recorded as the pipeline lock's holder (:mod:`kappa.checkpoint.lock`).
"""

from __future__ import annotations

import sys
from typing import Any, Sequence

import typer

YesOpt = typer.Option(False, "--yes", "-y", help="Delete what --full-refresh lists without asking (needed when stdin is not a terminal).")


def prepare_command(plan: Any, command: str, full_refresh: Sequence[str] | None, yes: bool) -> tuple[str, ...]:
    """Record ``command`` as lock holder, report orphans, list and confirm ``--full-refresh``."""
    from kappa.checkpoint.lock import set_command
    from kappa.checkpoint.refresh import needs_confirmation, refresh_plan, render_refresh
    from kappa.checkpoint.verdicts import orphan_checkpoints

    set_command(command)
    names = tuple(full_refresh or ())
    for name in orphan_checkpoints(plan):
        if name not in names:
            typer.echo(
                f"note: checkpoint {name!r} belongs to no node of pipeline {plan.pipeline!r} (renamed or removed?); "
                f"not run; delete it and its sinks with --full-refresh {name}",
                err=True,
            )
    if not names:
        return names
    items = refresh_plan(plan, names)
    if not needs_confirmation(items):
        return names
    typer.echo(render_refresh(items), err=True)
    if yes:
        return names
    from kappa.checkpoint import UsageError

    if not sys.stdin.isatty():
        raise UsageError("--full-refresh deletes what is listed above: pass --yes to confirm (stdin is not a terminal); nothing was deleted")
    if not typer.confirm("delete these?", default=False, err=True):
        raise UsageError("--full-refresh not confirmed; nothing was deleted")
    return names
