"""What the commands share: their options, ``--var`` parsing, loading a pipeline or a replication
config, and the ``--full-refresh`` confirmation of the writing commands (``replay``, ``run``,
``stream start``, ``cdc``).

- ``--full-refresh``: the nodes and paths it deletes are listed (stderr) before anything runs;
  unknown names are errors with a did-you-mean (exit 2); deleting needs ``--yes`` when stdin is
  not a terminal (exit 2 naming the flag), else a y/N question.
- orphaned checkpoints (a node that no longer exists) are reported, not blocking.
- the command is recorded as the pipeline lock's holder (:mod:`kappa.checkpoint.lock`).

Design note: command modules import this module, :mod:`kappa.runner` and :mod:`kappa.config`,
never each other nor an engine (``.importlinter``). Everything heavy is imported inside.
"""

from __future__ import annotations

import sys
from typing import Any, Callable, List, Optional, Sequence

import typer

VarOpt = typer.Option(None, "--var", help="Variable override `name=value` (repeatable).")
SelectOpt = typer.Option(None, "--select", "-s", help="dbt-style selection: `node`, `+node`, `node+` (repeatable).")
YesOpt = typer.Option(False, "--yes", "-y", help="Delete what --full-refresh lists without asking (needed when stdin is not a terminal).")
JsonOpt = typer.Option(False, "--json", help="Print the run's summary as one JSON document (schema: kappa.summary_json).")
ProfileOpt = typer.Option("auto", "--profile", help="Spark connector profile: auto (probe), jvm or python.")


def parse_vars(pairs: Optional[List[str]]) -> dict:
    """``--var name=value`` pairs as :class:`~kappa.config.variables.Overrides`: the loader
    rejects names the file neither declares nor uses."""
    from kappa.config.variables import Overrides
    from kappa.errors import ConfigError

    out = Overrides()
    for pair in pairs or []:
        if "=" not in pair:
            raise ConfigError(f"--var {pair!r}: expected name=value")
        k, v = pair.split("=", 1)
        out[k.strip()] = v
    return out


def load(path: str, variables: Optional[List[str]] = None):
    """The pipeline of a YAML file with ``--var`` overrides (errors name file, line and field)."""
    from kappa.config.loader import load_pipeline_file

    return load_pipeline_file(path, variables=parse_vars(variables))


def load_replication(path: str, variables: Optional[List[str]] = None):
    """The replication config of ``path`` (errors name file, line and field)."""
    from kappa.replication.load import load_replication as load_config

    return load_config(path, variables=parse_vars(variables))


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


def confirm(command: str, full_refresh: Sequence[str] | None, yes: bool) -> Callable[[Any], tuple[str, ...]]:
    """The runner's ``prepare`` hook of a writing command (see :func:`prepare_command`)."""
    return lambda plan: prepare_command(plan, command, full_refresh, yes)
