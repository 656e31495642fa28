"""``kappa run`` and ``kappa explain``: the Spark engine from the command line.

Both go through :mod:`kappa.runner` (imported inside the commands: ``kappa --help`` stays fast);
this module only parses options and prints.
"""

from __future__ import annotations

import json
from typing import Any, List, Optional

import typer

from kappa.cli.options import JsonOpt, ProfileOpt, SelectOpt, VarOpt, YesOpt, confirm, load


def _fmt(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def render_description(desc: dict[str, Any]) -> str:
    """A compiled node's description as indented text (what ``kappa explain`` prints)."""
    src = desc["source"]
    lines = [f"node {desc['node']}  (connector profile: {desc['profile']})"]
    if src["kind"] == "none":
        lines.append("  source: none (one batch per run)")
    else:
        how = "stream" if src["read"] == "stream" else "whole source on every run"
        lines.append(f"  source: {src['kind']} -> format {src['format']}  [{how}]")
        if src.get("upstream"):
            lines.append(f"    upstream node: {src['upstream']}")
        if src.get("path"):
            lines.append(f"    path: {src['path']}")
        for key, value in src["options"].items():
            lines.append(f"    option {key} = {value}")
        if src.get("value_format"):
            lines.append(f"    value format: {src['value_format']}")
        lines.append(f"    schema: {src['schema'] or '(from the source)'}")
    lines.append("  steps:" if desc["steps"] else "  steps: none")
    for step in desc["steps"]:
        if step["kind"] == "sql":
            sql = " ".join(step["sql"].split())
            lines.append(f"    {step['index']}. sql: {sql}")
        else:
            args = [_fmt(a) for a in step["func_args"]] + [f"{k}={_fmt(v)}" for k, v in step["func_kwargs"].items()]
            lines.append(f"    {step['index']}. method: {step['func_name']}({', '.join(args)})")
    from kappa.checkpoint.state import render_state

    lines.extend(render_state(desc.get("state")))
    lines.append("  expectations:" if desc["expectations"] else "  expectations: none")
    for exp in desc["expectations"]:
        lines.append(f"    - {exp['name']}: {exp['expr']}  -> {exp['action']}")
    lines.append("  sinks:" if desc["sinks"] else "  sinks: none")
    for sink in desc["sinks"]:
        target = sink.get("path") or f"topic {sink.get('topic')} @ {sink.get('bootstrap_servers')}"
        tag = " (quarantine)" if sink["quarantine"] else ""
        lines.append(f"    {sink['index']}. {sink['kind']} {sink['mode']}{tag}: {target}")
        lines.append(f"       writer: {sink['writer']}")
        for key in ("format", "app_id", "partition_by", "schema_mode", "merge", "keys", "key", "value", "storage_options", "options"):
            if key in sink:
                lines.append(f"       {key}: {_fmt(sink[key])}")
    trig = desc["trigger"]
    lines.append(f"  trigger: {trig['kind']}" + (f" every {trig['interval']}" if trig.get("interval") else ""))
    lines.append(f"  checkpoint: {desc['checkpoint']}")
    return "\n".join(lines)


def register(app: typer.Typer) -> None:
    """Add ``run`` and ``explain`` to the Typer app."""
    @app.command()
    def run(
        pipeline: str = typer.Argument(..., help="Pipeline YAML file."),
        select: Optional[List[str]] = SelectOpt,
        full_refresh: Optional[List[str]] = typer.Option(None, "--full-refresh", help="Reset this node's checkpoint and sinks first (repeatable)."),
        var: Optional[List[str]] = VarOpt,
        profile: str = ProfileOpt,
        yes: bool = YesOpt,
        as_json: bool = JsonOpt,
    ) -> None:
        """Run the selected nodes once on Spark (availableNow: everything new, then stop)."""
        from kappa import runner
        from kappa.cli.progress import run_command
        from kappa.runner.session import spark_log_file

        pl = load(pipeline, var)
        log_file = spark_log_file(pl)
        run_command(lambda progress: runner.run_spark(pl, select, profile=profile, quiet=True, on_progress=progress,
                                                      log_file=log_file, prepare=confirm("kappa run", full_refresh, yes)),
                    as_json=as_json, log_file=log_file)

    @app.command()
    def explain(
        pipeline: str = typer.Argument(..., help="Pipeline YAML file."),
        select: Optional[List[str]] = SelectOpt,
        var: Optional[List[str]] = VarOpt,
        profile: str = ProfileOpt,
        as_json: bool = typer.Option(False, "--json", help="Print the descriptions as JSON."),
    ) -> None:
        """Print each node's streaming query without running anything."""
        from kappa.cli.logs import OUTPUT
        from kappa.runner.describe import explain

        descs, note = explain(load(pipeline, var), select, profile)
        if note and not OUTPUT.quiet:
            typer.echo(f"note: {note}", err=True)
        if as_json:
            typer.echo(json.dumps(descs, indent=2, sort_keys=True))
            return
        typer.echo("\n\n".join(render_description(d) for d in descs))
