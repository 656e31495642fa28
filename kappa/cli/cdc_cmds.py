"""``kappa cdc ...``: replicate Debezium topics into mirror Delta tables.

A replication config (``kind: cdc_replication``, :class:`kappa.models.replication.CdcReplication`)
compiles into an ordinary pipeline (:func:`kappa.replication.compiler.plan_replication`), which the
runner executes like any pipeline (:mod:`kappa.runner`): ``replay`` on Polars, ``run`` on Spark
(trigger-once), ``start`` on Spark Structured Streaming. Checkpoints and status are the
pipelines' ones. Heavy libraries are imported inside the commands.
"""

from __future__ import annotations

from typing import List, Optional

import typer

from kappa.cli.options import JsonOpt, ProfileOpt, SelectOpt, VarOpt, YesOpt, confirm, load_replication

cdc_app = typer.Typer(help="CDC replication: Debezium topics -> mirror Delta tables.", no_args_is_help=True)

ConfigArg = typer.Argument(..., help="Replication YAML file (kind: cdc_replication).")


def compile_config(path: str, variables: Optional[List[str]] = None):
    """Load and compile: a :class:`kappa.replication.compiler.ReplicationPlan` (asks the broker)."""
    from kappa.replication.compiler import plan_replication

    return plan_replication(load_replication(path, variables))


def _echo_skipped(rplan) -> bool:
    """Print the skipped topics; False (and a note) when there is nothing to replicate yet."""
    for topic, reason in rplan.skipped.items():
        typer.echo(f"skipped {topic}: {reason}", err=True)
    if rplan.pipeline is None:
        typer.echo(f"replication {rplan.name}: nothing to replicate yet (every topic skipped)")
        return False
    return True


def register(app: typer.Typer) -> None:
    """Add the ``cdc`` sub-app to the Typer app."""
    app.add_typer(cdc_app, name="cdc")

    @cdc_app.command("validate")
    def validate(
        config: str = ConfigArg,
        var: Optional[List[str]] = VarOpt,
        resolve: bool = typer.Option(False, "--resolve", help="Also resolve the topics on the broker and print the tables."),
    ) -> None:
        """Check a replication config (offline); with --resolve, compile it against the broker."""
        cfg = load_replication(config, var)
        selector = f"topics {', '.join(cfg.source.topics)}" if cfg.source.topics else f"topic pattern {cfg.source.topic_pattern}"
        typer.echo(f"ok: replication {cfg.name}: {selector} -> {cfg.target.path}")
        if resolve:
            from kappa.replication.compiler import plan_replication

            typer.echo(plan_replication(cfg).render())

    @cdc_app.command("replay")
    def replay(
        config: str = ConfigArg,
        select: Optional[List[str]] = SelectOpt,
        full_refresh: Optional[List[str]] = typer.Option(None, "--full-refresh", help="Reset this node's checkpoint and table first (repeatable)."),
        var: Optional[List[str]] = VarOpt,
        yes: bool = YesOpt,
        as_json: bool = JsonOpt,
    ) -> None:
        """Replicate everything new once on Polars (incremental, exactly once)."""
        from kappa import runner
        from kappa.cli.progress import run_command

        rplan = compile_config(config, var)
        if not _echo_skipped(rplan):
            return
        run_command(lambda progress: runner.replay(rplan.pipeline, select, prepare=confirm("kappa cdc replay", full_refresh, yes),
                                                   on_progress=progress), as_json=as_json)

    @cdc_app.command("run")
    def run(
        config: str = ConfigArg,
        select: Optional[List[str]] = SelectOpt,
        full_refresh: Optional[List[str]] = typer.Option(None, "--full-refresh", help="Reset this node's checkpoint and table first (repeatable)."),
        var: Optional[List[str]] = VarOpt,
        profile: str = ProfileOpt,
        yes: bool = YesOpt,
        as_json: bool = JsonOpt,
    ) -> None:
        """Replicate everything new once on Spark (availableNow), then stop."""
        from kappa import runner
        from kappa.cli.progress import run_command
        from kappa.runner.session import spark_log_file

        rplan = compile_config(config, var)
        if not _echo_skipped(rplan):
            return
        log_file = spark_log_file(rplan.pipeline)
        run_command(lambda progress: runner.run_spark(rplan.pipeline, select, profile=profile, quiet=True, on_progress=progress,
                                                      log_file=log_file, prepare=confirm("kappa cdc run", full_refresh, yes)),
                    as_json=as_json, log_file=log_file)

    @cdc_app.command("start")
    def start(
        config: str = ConfigArg,
        select: Optional[List[str]] = SelectOpt,
        until_idle: bool = typer.Option(False, "--until-idle", help="Stop once every table has caught up."),
        full_refresh: Optional[List[str]] = typer.Option(None, "--full-refresh", help="Reset this node's checkpoint and table first (repeatable)."),
        var: Optional[List[str]] = VarOpt,
        profile: str = ProfileOpt,
        interval: str = typer.Option("1 second", "--interval", help="Trigger when the config's trigger is available_now/once."),
        refresh: float = typer.Option(2.0, "--refresh", help="Seconds between status refreshes."),
        yes: bool = YesOpt,
        as_json: bool = JsonOpt,
    ) -> None:
        """Replicate continuously with Spark Structured Streaming (the `kappa stream start` runner)."""
        from kappa.cli.board import run_streams

        rplan = compile_config(config, var)
        if not _echo_skipped(rplan):
            return
        run_streams(rplan.pipeline, select, full_refresh, until_idle, profile, interval, refresh, "kappa cdc: replication", yes=yes, command="kappa cdc start",
                    as_json=as_json)

    @cdc_app.command("status")
    def status(
        config: str = ConfigArg,
        var: Optional[List[str]] = VarOpt,
        lag: bool = typer.Option(True, "--lag/--no-lag", help="Ask the broker for end offsets and lag."),
    ) -> None:
        """Each table's progress from its checkpoints (Spark and Polars replay) and its lag."""
        from kappa.runner.describe import replication_status

        typer.echo(replication_status(compile_config(config, var), lag))
