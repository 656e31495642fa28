"""``kappa stream start``, ``kappa stream status`` and ``kappa plan``.

Runs and reports go through :mod:`kappa.runner` (imported inside the commands); ``kappa plan``
and ``kappa stream status`` start no Spark at all.

``kappa plan`` prints each selected node's verdict for the engine whose checkpoint it has (the
replay engine when only a replay checkpoint exists, else Spark; ``--engine`` forces one),
orphaned checkpoints (reported, not blocking), and exits 3 when any node needs a full refresh
(0 otherwise), so CI can gate on it.
"""

from __future__ import annotations

import json
import sys
from typing import List, Optional

import typer

from kappa.cli.board import LiveBoard, render_verdicts, run_streams
from kappa.cli.options import JsonOpt, ProfileOpt, SelectOpt, VarOpt, YesOpt, load

__all__ = ["LiveBoard", "register"]  # LiveBoard: kappa.cli.board's, kept importable here


def register(app: typer.Typer) -> None:
    """Add ``stream start``, ``stream status`` and ``plan`` to the Typer app."""
    stream_app = typer.Typer(help="Long-running Spark streaming of a pipeline.", no_args_is_help=True)
    app.add_typer(stream_app, name="stream")

    @stream_app.command("start")
    def start(
        pipeline: str = typer.Argument(..., help="Pipeline YAML file."),
        select: Optional[List[str]] = SelectOpt,
        until_idle: bool = typer.Option(False, "--until-idle", help="Stop once every node has consumed all its input."),
        full_refresh: Optional[List[str]] = typer.Option(None, "--full-refresh", help="Reset this node's checkpoint and sinks first (repeatable)."),
        var: Optional[List[str]] = VarOpt,
        profile: str = ProfileOpt,
        interval: str = typer.Option("1 second", "--interval", help="Trigger of nodes whose trigger is available_now/once."),
        refresh: float = typer.Option(2.0, "--refresh", help="Seconds between status refreshes."),
        yes: bool = YesOpt,
        metrics_port: Optional[int] = typer.Option(None, "--metrics-port", help="Serve Prometheus metrics on this port while streaming."),
        metrics_host: str = typer.Option("127.0.0.1", "--metrics-host", help="Address the metrics endpoint listens on."),
        as_json: bool = JsonOpt,
    ) -> None:
        """Run the selected nodes as streaming queries in one Spark application until Ctrl-C/SIGTERM."""
        pl = load(pipeline, var)
        run_streams(pl, select, full_refresh, until_idle, profile, interval, refresh, "kappa stream: pipeline", yes=yes,
                    metrics_port=metrics_port, metrics_host=metrics_host, as_json=as_json)

    @stream_app.command("status")
    def status(
        pipeline: str = typer.Argument(..., help="Pipeline YAML file."),
        select: Optional[List[str]] = SelectOpt,
        var: Optional[List[str]] = VarOpt,
        lag: bool = typer.Option(True, "--lag/--no-lag", help="Ask the brokers / Delta tables for the lag."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """Per node, from the checkpoints alone: committed offsets, last batch, lag."""
        from kappa.runner.describe import stream_status

        text, data = stream_status(load(pipeline, var), select, lag)
        typer.echo(json.dumps(data, indent=2, sort_keys=True) if as_json else text)

    @app.command("plan")
    def plan_cmd(
        pipeline: str = typer.Argument(..., help="Pipeline YAML file."),
        select: Optional[List[str]] = SelectOpt,
        var: Optional[List[str]] = VarOpt,
        profile: str = ProfileOpt,
        engine: str = typer.Option("auto", "--engine", help="Judge for: auto (the engine whose checkpoint each node has), spark or polars."),
    ) -> None:
        """Per node: new / unchanged / safe change / needs full refresh (with the reason). Runs nothing.

        Exit 3 when any node needs a full refresh (orphaned checkpoints do not count), else 0."""
        from kappa.runner.describe import FULL_REFRESH, plan_verdicts

        pl = load(pipeline, var)
        verdicts = plan_verdicts(pl, select, profile, engine)
        typer.echo(render_verdicts(pl.name, verdicts))
        if any(v.status == FULL_REFRESH for v in verdicts):
            sys.exit(3)
