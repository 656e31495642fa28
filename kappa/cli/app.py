"""Typer commands. Keep this module light: import engines inside the commands."""

from __future__ import annotations

from typing import List, Optional

import typer

from kappa import __version__

app = typer.Typer(
    name="kappa",
    help="Streaming-first kappa-architecture pipelines: YAML -> Spark Structured Streaming or Polars replay.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
broker_app = typer.Typer(help="The embedded Kafka-compatible broker (Tansu).", no_args_is_help=True)
app.add_typer(broker_app, name="broker")

VarOpt = typer.Option(None, "--var", help="Variable override `name=value` (repeatable).")
SelectOpt = typer.Option(None, "--select", "-s", help="dbt-style selection: `node`, `+node`, `node+` (repeatable).")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"kappa {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
    debug: bool = typer.Option(False, "--debug", envvar="KAPPA_DEBUG", help="Print tracebacks and debug logs (librdkafka's too)."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Print info logs (librdkafka's too)."),
) -> None:
    """kappa command line."""
    from kappa.cli import configure_logging

    configure_logging(debug=debug, verbose=verbose)


def _vars(pairs: Optional[List[str]]) -> dict:
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
    from kappa.config.loader import load_pipeline_file

    return load_pipeline_file(path, variables=_vars(variables))


@app.command()
def validate(pipeline: str = typer.Argument(..., help="Pipeline YAML file."), var: Optional[List[str]] = VarOpt) -> None:
    """Check a pipeline file: schema, references, cycles. Exit 2 on errors."""
    pl = load(pipeline, var)
    from kappa.graph import build_graph

    order = build_graph(pl).topological_order()
    typer.echo(f"ok: pipeline {pl.name} with {len(pl.nodes)} node(s): {', '.join(order)}")


@app.command()
def graph(
    pipeline: str = typer.Argument(..., help="Pipeline YAML file."),
    fmt: str = typer.Option("both", "--format", "-f", help="text, mermaid or both."),
    var: Optional[List[str]] = VarOpt,
) -> None:
    """Print the pipeline DAG as text and/or Mermaid."""
    from kappa.graph import build_graph

    g = build_graph(load(pipeline, var))
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
    yes: bool = typer.Option(False, "--yes", "-y", help="Delete what --full-refresh lists without asking (needed when stdin is not a terminal)."),
) -> None:
    """Run the selected nodes on Polars over bounded input (incremental, exactly once)."""
    from kappa.cli.safety import prepare_command
    from kappa.engines.polars.engine import PolarsEngine
    from kappa.plan import build_plan

    pl = load(pipeline, var)
    plan = build_plan(pl, select)
    names = prepare_command(plan, "kappa replay", full_refresh, yes)
    summary = PolarsEngine(keep_outputs=False).run(pl, plan, full_refresh=names)
    typer.echo(summary.render())


@broker_app.command("start")
def broker_start(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(9092, help="Port to listen on."),
) -> None:
    """Run an embedded Kafka-compatible broker until Ctrl-C."""
    from kappa.broker import serve_forever

    serve_forever(host=host, port=port)


def _register_extensions() -> None:
    from kappa.cli import cdc_cmds, spark_cmds, stream_cmds

    for module in (spark_cmds, stream_cmds, cdc_cmds):
        module.register(app)


_register_extensions()
