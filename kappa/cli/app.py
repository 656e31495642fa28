"""The Typer app: the root commands (``validate``, ``graph``, ``replay``, ``broker start``) and
the registration of the command modules (:mod:`.spark_cmds`, :mod:`.stream_cmds`, :mod:`.cdc_cmds`).

Keep this module light: runs go through :mod:`kappa.runner`, imported inside the commands. The
command modules import :mod:`kappa.cli.options`, never this module (no import cycle).
"""

from __future__ import annotations

from typing import List, Optional

import typer

from kappa import __version__
from kappa.cli.options import JsonOpt, SelectOpt, VarOpt, YesOpt, confirm, load

app = typer.Typer(
    name="kappa",
    help="Streaming-first kappa-architecture pipelines: YAML -> Spark Structured Streaming or Polars replay.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
broker_app = typer.Typer(help="The embedded Kafka-compatible broker (Tansu).", no_args_is_help=True)
app.add_typer(broker_app, name="broker")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"kappa {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
    debug: bool = typer.Option(False, "--debug", envvar="KAPPA_DEBUG", help="Print tracebacks and debug logs (librdkafka's too)."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Print info logs (librdkafka's too)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only errors and the final summary (no progress, no log path)."),
    log_format: str = typer.Option("text", "--log-format", help="Log records on stderr as text or json (one JSON object per line)."),
) -> None:
    """kappa command line."""
    from kappa.cli.logs import configure_logging

    configure_logging(debug=debug, verbose=verbose, quiet=quiet, log_format=log_format)


@app.command()
def validate(pipeline: str = typer.Argument(..., help="Pipeline YAML file."), var: Optional[List[str]] = VarOpt) -> None:
    """Check a pipeline file: schema, references, cycles, SQL and schemas. Exit 2 on errors."""
    pl = load(pipeline, var)
    from kappa.graph import build_graph
    from kappa.validate import StaticCheckError, locate, static_issues

    order = build_graph(pl).topological_order()
    issues = static_issues(pl)
    if issues:
        raise StaticCheckError(locate(issues, pipeline))
    typer.echo(f"ok: pipeline {pl.name} with {len(pl.nodes)} node(s): {', '.join(order)}")


@app.command()
def graph(
    pipeline: str = typer.Argument(..., help="Pipeline YAML file."),
    fmt: str = typer.Option("both", "--format", "-f", help="text, mermaid, both, dot (Graphviz DOT), svg or png (need Graphviz's `dot`)."),
    output: Optional[str] = typer.Option(None, "--output", "-o", help="Write the drawing to this file (svg, png, dot); png needs it."),
    var: Optional[List[str]] = VarOpt,
) -> None:
    """Print the pipeline DAG as text and/or Mermaid, or draw it (sources, nodes, sinks) with Graphviz."""
    from kappa.cli.project_cmds import draw_graph
    from kappa.graph import build_graph

    choices = ("text", "mermaid", "both", "dot", "svg", "png")
    if fmt not in choices:
        from kappa.errors import ConfigError

        raise ConfigError(f"--format {fmt}: expected one of {', '.join(choices)}")
    pl = load(pipeline, var)
    if fmt in ("dot", "svg", "png"):
        draw_graph(pl, fmt, output)
        return
    g = build_graph(pl)
    if fmt in ("text", "both"):
        typer.echo(g.to_text())
    if fmt == "both":
        typer.echo("")
    if fmt in ("mermaid", "both"):
        typer.echo(g.to_mermaid())


@app.command()
def replay(
    pipeline: str = typer.Argument(..., help="Pipeline YAML file."),
    select: Optional[List[str]] = SelectOpt,
    full_refresh: Optional[List[str]] = typer.Option(None, "--full-refresh", help="Reset this node's checkpoint and sinks first (repeatable)."),
    var: Optional[List[str]] = VarOpt,
    yes: bool = YesOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Run the selected nodes on Polars over bounded input (incremental, exactly once)."""
    from kappa import runner
    from kappa.cli.progress import run_command

    pl = load(pipeline, var)
    run_command(lambda progress: runner.replay(pl, select, prepare=confirm("kappa replay", full_refresh, yes), on_progress=progress),
                as_json=as_json)


@broker_app.command("start")
def broker_start(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(9092, help="Port to listen on."),
    data: Optional[str] = typer.Option(
        None, "--data", metavar="DIR",
        help="Keep the log in DIR across restarts (Tansu on a local SeaweedFS S3 server). "
        "Without it the log is in memory and lost when the broker stops.",
    ),
) -> None:
    """Run an embedded Kafka-compatible broker until Ctrl-C.

    Without --data the log is in memory: every topic and record is lost when the broker stops.
    """
    from kappa.broker import serve_forever

    serve_forever(host=host, port=port, data_dir=data)


def _register_extensions() -> None:
    from kappa.cli import cdc_cmds, log_cmds, project_cmds, spark_cmds, stream_cmds

    for module in (spark_cmds, stream_cmds, cdc_cmds, project_cmds, log_cmds):
        module.register(app)


_register_extensions()
