"""``kappa log``: print a pipeline's event log (:mod:`kappa.eventlog`).

Reads the Delta table ``<checkpoint_root>/<pipeline>/.kappa_event_log`` (no Spark, no lock: a
run may be appending meanwhile; Delta readers see whole commits only).
"""

from __future__ import annotations

import json
from typing import List, Optional

import typer

from kappa.cli.options import VarOpt, load


def register(app: typer.Typer) -> None:
    """Add ``log`` to the Typer app."""

    @app.command("log")
    def log_cmd(
        pipeline: str = typer.Argument(..., help="Pipeline YAML file."),
        node: Optional[str] = typer.Option(None, "--node", "-n", help="Only this node's rows."),
        since: Optional[str] = typer.Option(None, "--since", help="Only rows ended since: a duration back from now (30m, 1h, 2d) or an ISO-8601 time (UTC)."),
        var: Optional[List[str]] = VarOpt,
        as_json: bool = typer.Option(False, "--json", help="Print JSON (one object per row)."),
    ) -> None:
        """Print the pipeline's event log: a row per node batch, node error and run."""
        from kappa.eventlog.reader import check_node, event_log_of, event_log_storage, parse_since, read_events, render, to_json

        pl = load(pipeline, var)
        when = parse_since(since) if since else None
        path = event_log_of(pl)
        rows = read_events(path, node, when, event_log_storage(pl, path))
        check_node(pl, node, rows)
        typer.echo(json.dumps(to_json(rows), indent=2, sort_keys=True) if as_json else render(path, rows))
