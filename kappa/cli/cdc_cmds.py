"""``kappa cdc ...``: replicate Debezium topics into mirror Delta tables.

A replication config (``kind: cdc_replication``, :class:`kappa.models.replication.CdcReplication`)
compiles into an ordinary pipeline (:func:`kappa.cdc.replication.plan_replication`), which the
usual runners execute: ``replay`` on Polars, ``run`` on Spark (trigger-once), ``start`` on Spark
Structured Streaming. Checkpoints and status are the pipelines' ones. Heavy libraries are
imported inside the commands.
"""

from __future__ import annotations

from typing import List, Optional

import typer

cdc_app = typer.Typer(help="CDC replication: Debezium topics -> mirror Delta tables.", no_args_is_help=True)

ConfigArg = typer.Argument(..., help="Replication YAML file (kind: cdc_replication).")


def load_config(path: str, variables: Optional[List[str]] = None):
    """The replication config of ``path`` (errors name file, line and field)."""
    from kappa.cdc.replication import load_replication
    from kappa.cli.app import _vars

    return load_replication(path, variables=_vars(variables))


def compile_config(path: str, variables: Optional[List[str]] = None):
    """Load and compile: a :class:`kappa.cdc.replication.ReplicationPlan` (asks the broker)."""
    from kappa.cdc.replication import plan_replication

    return plan_replication(load_config(path, variables))


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
    from kappa.cli.app import SelectOpt, VarOpt
    from kappa.cli.safety import YesOpt

    app.add_typer(cdc_app, name="cdc")

    @cdc_app.command("validate")
    def validate(
        config: str = ConfigArg,
        var: Optional[List[str]] = VarOpt,
        resolve: bool = typer.Option(False, "--resolve", help="Also resolve the topics on the broker and print the tables."),
    ) -> None:
        """Check a replication config (offline); with --resolve, compile it against the broker."""
        cfg = load_config(config, var)
        selector = f"topics {', '.join(cfg.source.topics)}" if cfg.source.topics else f"topic pattern {cfg.source.topic_pattern}"
        typer.echo(f"ok: replication {cfg.name}: {selector} -> {cfg.target.path}")
        if resolve:
            from kappa.cdc.replication import plan_replication

            typer.echo(plan_replication(cfg).render())

    @cdc_app.command("replay")
    def replay(
        config: str = ConfigArg,
        select: Optional[List[str]] = SelectOpt,
        full_refresh: Optional[List[str]] = typer.Option(None, "--full-refresh", help="Reset this node's checkpoint and table first (repeatable)."),
        var: Optional[List[str]] = VarOpt,
        yes: bool = YesOpt,
    ) -> None:
        """Replicate everything new once on Polars (incremental, exactly once)."""
        from kappa.cli.safety import prepare_command
        from kappa.plan import build_plan
        from kappa.run import execute_pipeline

        rplan = compile_config(config, var)
        if not _echo_skipped(rplan):
            return
        names = prepare_command(build_plan(rplan.pipeline, select), "kappa cdc replay", full_refresh, yes)
        summary = execute_pipeline(rplan.pipeline, select=select, engine="polars", full_refresh=names)
        typer.echo(summary.render())

    @cdc_app.command("run")
    def run(
        config: str = ConfigArg,
        select: Optional[List[str]] = SelectOpt,
        full_refresh: Optional[List[str]] = typer.Option(None, "--full-refresh", help="Reset this node's checkpoint and table first (repeatable)."),
        var: Optional[List[str]] = VarOpt,
        profile: str = typer.Option("auto", "--profile", help="Spark connector profile: auto (probe), jvm or python."),
        yes: bool = YesOpt,
    ) -> None:
        """Replicate everything new once on Spark (availableNow), then stop."""
        from kappa.cli.safety import prepare_command
        from kappa.engines.spark.engine import SparkEngine
        from kappa.plan import build_plan

        rplan = compile_config(config, var)
        if not _echo_skipped(rplan):
            return
        plan = build_plan(rplan.pipeline, select)
        names = prepare_command(plan, "kappa cdc run", full_refresh, yes)
        engine = SparkEngine(profile=None if profile == "auto" else profile)
        summary = engine.run(rplan.pipeline, plan, full_refresh=names)
        typer.echo(summary.render())

    @cdc_app.command("start")
    def start(
        config: str = ConfigArg,
        select: Optional[List[str]] = SelectOpt,
        until_idle: bool = typer.Option(False, "--until-idle", help="Stop once every table has caught up."),
        full_refresh: Optional[List[str]] = typer.Option(None, "--full-refresh", help="Reset this node's checkpoint and table first (repeatable)."),
        var: Optional[List[str]] = VarOpt,
        profile: str = typer.Option("auto", "--profile", help="Spark connector profile: auto (probe), jvm or python."),
        interval: str = typer.Option("1 second", "--interval", help="Trigger when the config's trigger is available_now/once."),
        refresh: float = typer.Option(2.0, "--refresh", help="Seconds between status refreshes."),
        yes: bool = YesOpt,
    ) -> None:
        """Replicate continuously with Spark Structured Streaming (the `kappa stream start` runner)."""

        from kappa.cli.stream_cmds import run_streams

        rplan = compile_config(config, var)
        if not _echo_skipped(rplan):
            return
        run_streams(rplan.pipeline, select, full_refresh, until_idle, profile, interval, refresh, "kappa cdc: replication", yes=yes, command="kappa cdc start")

    @cdc_app.command("status")
    def status(
        config: str = ConfigArg,
        var: Optional[List[str]] = VarOpt,
        lag: bool = typer.Option(True, "--lag/--no-lag", help="Ask the broker for end offsets and lag."),
    ) -> None:
        """Each table's progress from its checkpoints (Spark and Polars replay) and its lag."""
        from kappa.engines.polars.state import ReplayCheckpoint
        from kappa.engines.spark.status import format_offsets, kafka_lag, kafka_offsets, node_statuses, render_node_status
        from kappa.plan import build_plan

        rplan = compile_config(config, var)
        plan = build_plan(rplan.pipeline) if rplan.pipeline is not None else None
        by_node = {t.node: t for t in rplan.tables}
        lines = [f"replication {rplan.name}"]
        nodes = plan.nodes if plan is not None else []
        for st, node in zip(node_statuses(nodes, with_lag=lag), nodes):
            table = by_node[node.name]
            lines.append(f"{table.topic} -> {table.path}")
            lines.extend(render_node_status(st))
            replay_last = ReplayCheckpoint(node.checkpoint).last_committed()
            if replay_last is not None:
                done = kafka_offsets(replay_last.offsets.get("end"))
                lines.append(f"  replay (Polars) last batch: {replay_last.batch_id}, offsets {format_offsets(done)}")
                if st.end_offsets:
                    lines.append(f"  replay lag: {sum(kafka_lag(done, st.end_offsets).values())}")
        for topic, reason in rplan.skipped.items():
            lines.append(f"{topic}: skipped ({reason})")
        from kappa.checkpoint.verdicts import orphan_checkpoints

        for name in orphan_checkpoints(plan) if plan is not None else []:
            lines.append(f"checkpoint {name}: no such table in the replication (topic gone or disabled?)")
        typer.echo("\n".join(lines))
