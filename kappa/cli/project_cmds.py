"""``kappa schema``, ``kappa init`` and the drawings of ``kappa graph --format dot|svg|png``.

Editor and project support: nothing here runs a pipeline. ``kappa schema`` prints (or writes)
the JSON Schema of pipeline or replication files (:mod:`kappa.schemas`); ``kappa init``
scaffolds a project from the templates of :mod:`kappa.scaffold`; :func:`draw_graph` is the
drawing half of the root ``graph`` command (:mod:`kappa.graph_draw`).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Optional

import typer


def draw_graph(pipeline: Any, fmt: str, output: Optional[str]) -> None:
    """DOT text, or SVG/PNG rendered by Graphviz, to ``output`` or stdout (PNG needs a file)."""
    from kappa.errors import ConfigError
    from kappa.graph_draw import render, to_dot

    if fmt == "png" and not output:
        raise ConfigError("--format png writes binary data: give --output FILE.png")
    if fmt == "dot" and not output:
        typer.echo(to_dot(pipeline))
        return
    data = (to_dot(pipeline) + "\n").encode() if fmt == "dot" else render(pipeline, fmt)
    if output:
        Path(output).write_bytes(data)
        typer.echo(f"wrote {output}")
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()


def register(app: typer.Typer) -> None:
    """Add ``schema`` and ``init`` to the Typer app."""

    @app.command("schema")
    def schema(
        kind: str = typer.Argument("pipeline", help="pipeline or replication (CDC replication configs)."),
        output: Optional[str] = typer.Option(None, "--output", "-o", help="Write the schema to this file instead of stdout."),
    ) -> None:
        """Print the JSON Schema of pipeline (or replication) files, for editors and CI checks."""
        from kappa.errors import ConfigError
        from kappa.schemas import SCHEMAS, schema_json

        if kind not in SCHEMAS:
            raise ConfigError(f"schema {kind}: expected one of {', '.join(SCHEMAS)}")
        text = schema_json(kind)
        if output:
            Path(output).write_text(text, encoding="utf-8")
            typer.echo(f"wrote {output}")
        else:
            typer.echo(text, nl=False)

    @app.command("init")
    def init(
        directory: str = typer.Argument(".", help="Folder of the new project (created; must be empty if it exists)."),
        name: Optional[str] = typer.Option(None, "--name", help="Pipeline name; default: the folder's name."),
    ) -> None:
        """Scaffold a project: a Kafka -> bronze -> silver -> gold pipeline, its test and a README."""
        from kappa.scaffold import init_project

        written = init_project(directory, name)
        typer.echo(f"created {len(written)} files in {directory}:")
        for path in written:
            typer.echo(f"  {path}")
        typer.echo(f"next: cd {directory} && pytest -q   (see README.md)")


__all__ = ["draw_graph", "register"]
