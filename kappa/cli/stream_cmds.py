"""``kappa stream start``, ``kappa stream status`` and ``kappa plan``.

pyspark is imported inside the commands only; ``kappa plan`` and ``kappa stream status`` start
no Spark at all.

``kappa plan`` prints each selected node's verdict for the engine whose checkpoint it has (the
replay engine when only a replay checkpoint exists, else Spark; ``--engine`` forces one),
orphaned checkpoints (reported, not blocking), and exits 3 when any node needs a full refresh
(0 otherwise), so CI can gate on it.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any, List, Optional, TextIO

import typer

ProfileOpt = typer.Option("auto", "--profile", help="Spark connector profile: auto (probe), jvm or python.")


# ---------------------------------------------------------------- live status
def _num(value: Any, fmt: str = "{}") -> str:
    return "-" if value is None else fmt.format(value)


class LiveBoard:
    """Plain-text live status: a table redrawn in place on a TTY, else one line per change."""

    HEAD = f"{'node':<24} {'state':<8} {'batches':>7} {'rows in':>10} {'rows out':>10} {'in rows/s':>10} {'lag':>8}  last error"

    def __init__(self, out: TextIO, tty: bool, title: str):
        self.out, self.tty, self.title = out, tty, title
        self._drawn = 0
        self._seen: dict[str, tuple] = {}

    def update(self, rows: list) -> None:
        if self.tty:
            self._redraw(rows)
        else:
            self._lines(rows)

    def _row(self, r: Any) -> str:
        err = (r.last_error or "-").splitlines()[0][:80]
        return (
            f"{r.node:<24} {r.state:<8} {r.batches:>7} {r.input_rows:>10} {r.output_rows:>10} "
            f"{_num(r.input_rate, '{:.1f}'):>10} {_num(r.lag):>8}  {err}"
        )

    def _redraw(self, rows: list) -> None:
        stamp = time.strftime("%H:%M:%S")
        lines = [f"{self.title}  [{stamp}, Ctrl-C stops gracefully]", self.HEAD] + [self._row(r) for r in rows]
        if self._drawn:
            self.out.write(f"\x1b[{self._drawn}F\x1b[J")
        self.out.write("\n".join(lines) + "\n")
        self.out.flush()
        self._drawn = len(lines)

    def _lines(self, rows: list) -> None:
        for r in rows:
            key = (r.state, r.batches, r.last_error)
            if self._seen.get(r.node) == key:
                continue
            self._seen[r.node] = key
            parts = [time.strftime("%H:%M:%S"), r.node, r.state, f"batches={r.batches}", f"in={r.input_rows}", f"out={r.output_rows}"]
            if r.input_rate is not None:
                parts.append(f"rate={r.input_rate:.1f}/s")
            if r.lag is not None:
                parts.append(f"lag={r.lag}")
            if r.last_error:
                parts.append(f"error={r.last_error.splitlines()[0]}")
            self.out.write(" ".join(parts) + "\n")
        self.out.flush()


# ---------------------------------------------------------------- helpers
def _requested_profile(pipeline: Any, profile: str) -> str:
    import os

    from kappa.engines.spark.profiles import ENV_PROFILE

    choice = profile if profile != "auto" else (os.environ.get(ENV_PROFILE) or pipeline.spark.connector_profile)
    return choice.strip().lower()


def plan_profile(pipeline: Any, plan: Any, profile: str) -> str:
    """The profile ``kappa plan`` describes with, without starting Spark: the requested one,
    else the one recorded in the nodes' fingerprints, else ``python`` (without a fingerprint
    the verdict does not depend on it)."""
    from kappa.checkpoint import verdicts as fp
    from kappa.engines.spark.profiles import resolve_profile

    choice = _requested_profile(pipeline, profile)
    if choice != "auto":
        return resolve_profile(None, choice)
    for node in plan.nodes:
        recorded = (fp.read_fingerprint(node.checkpoint) or {}).get("profile")
        if recorded in ("jvm", "python"):
            return recorded
    return "python"


def render_verdicts(pipeline: str, verdicts: list) -> str:
    lines = [f"pipeline {pipeline}: what starting the stream would do"]
    lines += ["  " + v.render() for v in verdicts]
    return "\n".join(lines)


# ---------------------------------------------------------------- commands
def run_streams(pl, select, full_refresh, until_idle: bool, profile: str, interval: str, refresh: float, title: str, *, yes: bool = False, command: str = "kappa stream start") -> None:
    """Stream a pipeline's selected nodes with the live board (``kappa stream start``, ``kappa cdc start``).

    The pipeline lock is taken before Spark starts, so a second run fails at once."""
    from kappa.checkpoint.lock import pipeline_lock
    from kappa.cli.safety import prepare_command
    from kappa.plan import build_plan

    plan = build_plan(pl, select)
    names = prepare_command(plan, command, full_refresh, yes)
    with pipeline_lock(plan.checkpoint_root, plan.pipeline):
        _run_streams(pl, plan, names, until_idle, profile, interval, refresh, title)


def _run_streams(pl, plan, full_refresh, until_idle: bool, profile: str, interval: str, refresh: float, title: str) -> None:
    from kappa.cli import quiet_spark_logs
    from kappa.engines.spark.engine import session_for
    from kappa.engines.spark.profiles import resolve_profile
    from kappa.engines.spark.streaming import StreamRunner

    requested = _requested_profile(pl, profile)
    spark = quiet_spark_logs(session_for(pl, requested))
    chosen = resolve_profile(spark, requested)
    out = sys.stdout
    board = LiveBoard(out, out.isatty(), f"{title} {pl.name} (profile {chosen})")

    def show_verdicts(verdicts: list) -> None:
        out.write(render_verdicts(pl.name, verdicts) + "\n")
        out.flush()

    runner = StreamRunner(
        spark, plan, chosen, full_refresh=tuple(full_refresh or ()), until_idle=until_idle,
        interval=interval, refresh_seconds=refresh, on_update=board.update, on_verdicts=show_verdicts,
    )
    summary = runner.run()
    out.write(f"stopped: {runner.stop_reason}\n{summary.render()}\n")
    out.flush()


def register(app: typer.Typer) -> None:
    """Add ``stream start``, ``stream status`` and ``plan`` to the Typer app."""
    from kappa.cli.app import SelectOpt, VarOpt, load
    from kappa.cli.safety import YesOpt

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
    ) -> None:
        """Run the selected nodes as streaming queries in one Spark application until Ctrl-C/SIGTERM."""
        pl = load(pipeline, var)
        run_streams(pl, select, full_refresh, until_idle, profile, interval, refresh, "kappa stream: pipeline", yes=yes)

    @stream_app.command("status")
    def status(
        pipeline: str = typer.Argument(..., help="Pipeline YAML file."),
        select: Optional[List[str]] = SelectOpt,
        var: Optional[List[str]] = VarOpt,
        lag: bool = typer.Option(True, "--lag/--no-lag", help="Ask the brokers / Delta tables for the lag."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """Per node, from the checkpoints alone: committed offsets, last batch, lag."""
        from kappa.engines.spark import status as st
        from kappa.checkpoint.verdicts import orphan_checkpoints
        from kappa.plan import build_plan

        pl = load(pipeline, var)
        plan = build_plan(pl, select)
        statuses = st.node_statuses(plan.nodes, with_lag=lag)
        orphans = orphan_checkpoints(plan)
        if as_json:
            typer.echo(json.dumps({"pipeline": pl.name, "nodes": [st.status_json(s) for s in statuses], "orphan_checkpoints": orphans}, indent=2, sort_keys=True))
            return
        text = st.render_status(pl.name, statuses)
        for name in orphans:
            text += f"\ncheckpoint {name}: no such node in the pipeline (renamed or removed?)"
        typer.echo(text)

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
        from kappa.checkpoint.verdicts import FULL_REFRESH
        from kappa.plan import build_plan

        pl = load(pipeline, var)
        plan = build_plan(pl, select)
        verdicts = plan_verdicts_for(pl, plan, profile, engine)
        typer.echo(render_verdicts(pl.name, verdicts))
        if any(v.status == FULL_REFRESH for v in verdicts):
            sys.exit(3)


def plan_verdicts_for(pl: Any, plan: Any, profile: str, engine: str) -> list:
    """``kappa plan``'s verdicts: each node judged for ``engine`` (``auto``: Polars when only a
    replay checkpoint exists, else Spark), then the orphaned checkpoints."""
    from kappa.checkpoint import UsageError
    from kappa.checkpoint.describe import describe_node
    from kappa.checkpoint.ownership import has_progress
    from kappa.checkpoint.verdicts import ORPHAN, plan_verdicts
    from kappa.engines.spark.fingerprint import describe_plan

    choice = engine.strip().lower()
    if choice not in ("auto", "spark", "polars"):
        raise UsageError(f"--engine {engine}: expected auto, spark or polars")
    polars_nodes = {
        n.name for n in plan.nodes
        if choice == "polars" or (choice == "auto" and has_progress(n.checkpoint, "polars") and not has_progress(n.checkpoint, "spark"))
    }
    spark_desc = describe_plan(plan, plan_profile(pl, plan, profile)) if len(polars_nodes) < len(plan.nodes) else {}
    polars_plan = plan.for_engine("polars")
    spark_v = {v.node: v for v in plan_verdicts(plan, spark_desc, "spark") if v.status != ORPHAN} if spark_desc else {}
    polars_desc = {n.name: describe_node(n) for n in polars_plan.nodes}
    polars_v = {v.node: v for v in plan_verdicts(polars_plan, polars_desc, "polars")}
    out = [polars_v[n.name] if n.name in polars_nodes else spark_v[n.name] for n in plan.nodes]
    return out + [v for v in polars_v.values() if v.status == ORPHAN]
