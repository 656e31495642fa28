"""What the Spark engine fingerprints: the description of each compiled query.

The verdicts (new / unchanged / safe / needs full refresh / orphan), the fingerprint files and
``--full-refresh`` are engine-neutral and live in :mod:`kappa.checkpoint.verdicts` and
:mod:`kappa.checkpoint.refresh`; the Polars engine applies the same rules. What stays here is
Spark-specific: describing a plan's compiled queries (:func:`kappa.engines.spark.compiler.describe_node`,
secrets redacted) without a SparkSession, for ``kappa plan``, ``kappa run`` and ``kappa stream
start``. The description is stored in ``<node checkpoint>/spark_fingerprint.json``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from kappa.plan import PipelinePlan

ENGINE = "spark"


def describe_plan(plan: "PipelinePlan", profile: str) -> dict[str, dict[str, Any]]:
    """Descriptions of the selected nodes without a SparkSession (what ``kappa plan`` compares)."""
    from kappa.engines.spark.compiler import describe_node

    plan = plan.for_engine(ENGINE)
    return {n.name: describe_node(plan, n, profile, n.layout.spark) for n in plan.nodes}
