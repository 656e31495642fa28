"""CLI commands registered on the main app (filled in by the Spark engine work)."""

from __future__ import annotations


def register(app) -> None:
    """Add this module's commands to the Typer app."""
