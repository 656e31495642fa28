"""Run one pipeline on one engine in this process: the ``engine`` fixture's runner.

Modelled on narwhals' ``constructor`` fixture: a test written once against :class:`Engine`
runs once per engine named by ``--engines`` (tests/conftest.py parametrises it, marking the
Spark case ``spark``). ``run_polars`` / ``run_spark`` run one engine directly (a test that
needs a given engine whatever ``--engines`` says).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: The engines a test can run on, in the order the ``engine`` fixture runs them.
ENGINES = ("polars", "spark")


def run_spark(spark, pipeline, select=None, full_refresh=()):
    """Run ``pipeline`` on the Spark engine (python profile) in this process."""
    from kappa.engines.spark.engine import SparkEngine
    from kappa.plan import build_plan

    return SparkEngine(spark=spark, profile="python").run(pipeline, build_plan(pipeline, select), full_refresh=full_refresh)


def run_polars(pipeline, select=None, full_refresh=()):
    """Run ``pipeline`` on the Polars engine (the replay) in this process."""
    from kappa.runner import execute_pipeline

    return execute_pipeline(pipeline, select=select, engine="polars", full_refresh=full_refresh)


@dataclass(frozen=True)
class Engine:
    """One engine a test runs on: its ``name`` and, for Spark, how to get the session's
    SparkSession (``session()``, started on first use: a test that only passes the engine's
    name to a subprocess never starts one).

    ``str(engine)`` is its name, so messages read ``polars`` / ``spark``."""

    name: str
    session: Callable[[], Any] | None = None

    @property
    def spark(self):
        """The session's SparkSession (None on Polars)."""
        return self.session() if self.session is not None else None

    def run(self, pipeline, select=None, full_refresh=()):
        """Run ``pipeline`` (a loaded :class:`kappa.models.Pipeline`) once; returns the run summary."""
        if self.name == "spark":
            return run_spark(self.spark, pipeline, select, full_refresh)
        return run_polars(pipeline, select, full_refresh)

    def __str__(self) -> str:
        return self.name
