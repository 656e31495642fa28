"""What the read-only commands report without running anything: ``kappa explain`` (each node's
streaming query), ``kappa plan`` (checkpoint verdicts), ``kappa stream status`` and
``kappa cdc status`` (progress from the checkpoints).

Design note: these need Spark's compiler, its profile resolution and its checkpoint readers, so
they live next to the runner (the one engine-neutral package allowed to import the engines,
lazily) and the CLI stays free of engine imports. They return data or text; printing is the
CLI's. None starts Spark (``explain`` with profile ``auto`` decides from the settings).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Sequence

from kappa.checkpoint.verdicts import FULL_REFRESH  # noqa: F401 - the status `kappa plan` exits 3 on
from kappa.runner.session import requested_profile

if TYPE_CHECKING:  # pragma: no cover
    from kappa.models import Pipeline
    from kappa.plan import PipelinePlan


def explain_plan(pipeline: "Pipeline", select: Sequence[str] | None, profile: str) -> list[dict[str, Any]]:
    """Descriptions of the selected nodes, from the plan alone: no Spark starts (see
    :func:`explain_profile` for ``auto``)."""
    return explain(pipeline, select, profile)[0]


def explain(pipeline: "Pipeline", select: Sequence[str] | None, profile: str) -> tuple[list[dict[str, Any]], str | None]:
    """:func:`explain_plan` and, for ``auto``, the note saying what profile it assumed."""
    from kappa.engines.spark.compiler import describe_node
    from kappa.plan import build_plan

    plan = build_plan(pipeline, select).for_engine("spark")
    choice, note = explain_profile(pipeline, profile)
    return [describe_node(plan, n, choice, n.layout.spark) for n in plan.nodes], note


def explain_profile(pipeline: "Pipeline", profile: str) -> tuple[str, str | None]:
    """The connector profile ``kappa explain`` describes with, without a JVM, and for ``auto``
    a note saying how it was decided.

    ``auto`` on a running session (the Python API, tests) probes it; otherwise it is what a new
    session would get (:func:`kappa.engines.spark.session.session_conf`, pure): ``jvm`` when
    both connectors are provided (the pipeline's ``spark.jars``/``spark.jars.packages``,
    ``KAPPA_SPARK_CONF``, Spark's jar folder, ``KAPPA_SPARK_JARS_DIR``), else ``python``. A Spark
    Connect server's classpath cannot be seen from here: ``python`` is assumed."""
    from kappa.engines.spark.profiles import resolve_profile

    choice = requested_profile(pipeline, profile)
    if choice != "auto":
        return resolve_profile(None, choice), None  # validates the name
    settings = pipeline.spark
    if settings.remote or os.environ.get("SPARK_REMOTE"):  # a run goes to the server, whatever runs here
        return "python", "connector profile auto: python assumed (a Spark Connect server's classpath is not probed; use --profile jvm if it has the Kafka and Delta connectors)"
    active = _active_session()
    if active is not None:
        chosen = resolve_profile(active, "auto")
        return chosen, f"connector profile auto: {chosen} (probed on the running Spark session)"
    from kappa.engines.spark.session import session_conf

    _, setup = session_conf(settings.master or "local[*]", settings.conf, "auto")
    if setup.profile == "jvm":
        how = ", ".join(f"{name} from {setup.provided_by[name]}" for name in sorted(setup.provided_by))
        return "jvm", f"connector profile auto: jvm ({how}; Spark not started)"
    return "python", ("connector profile auto: python (no Kafka and Delta connector jars configured: spark.jars, "
                      "spark.jars.packages, KAPPA_SPARK_JARS_DIR or Spark's jar folder; Spark not started)")


def _active_session() -> Any:
    """The running classic SparkSession of this process, if pyspark is loaded and one runs."""
    import sys

    if "pyspark" not in sys.modules:
        return None
    from pyspark.sql import SparkSession

    return SparkSession.getActiveSession()


def plan_profile(pipeline: "Pipeline", plan: "PipelinePlan", profile: str) -> str:
    """The profile ``kappa plan`` describes with, without starting Spark: the requested one,
    else the one recorded in the nodes' fingerprints, else ``python`` (without a fingerprint
    the verdict does not depend on it)."""
    from kappa.checkpoint import verdicts as fp
    from kappa.engines.spark.profiles import resolve_profile

    choice = requested_profile(pipeline, profile)
    if choice != "auto":
        return resolve_profile(None, choice)
    for node in plan.nodes:
        recorded = (fp.read_fingerprint(node.checkpoint) or {}).get("profile")
        if recorded in ("jvm", "python"):
            return recorded
    return "python"


def plan_verdicts_for(pipeline: "Pipeline", plan: "PipelinePlan", profile: str, engine: str) -> list:
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
    spark_desc = describe_plan(plan, plan_profile(pipeline, plan, profile)) if len(polars_nodes) < len(plan.nodes) else {}
    polars_plan = plan.for_engine("polars")
    spark_v = {v.node: v for v in plan_verdicts(plan, spark_desc, "spark") if v.status != ORPHAN} if spark_desc else {}
    polars_desc = {n.name: describe_node(n) for n in polars_plan.nodes}
    polars_v = {v.node: v for v in plan_verdicts(polars_plan, polars_desc, "polars")}
    out = [polars_v[n.name] if n.name in polars_nodes else spark_v[n.name] for n in plan.nodes]
    return out + [v for v in polars_v.values() if v.status == ORPHAN]


def plan_verdicts(pipeline: "Pipeline", select: Sequence[str] | None, profile: str, engine: str) -> list:
    """``kappa plan``: the verdicts of the selected nodes (:func:`plan_verdicts_for`)."""
    from kappa.plan import build_plan

    return plan_verdicts_for(pipeline, build_plan(pipeline, select), profile, engine)


def stream_status(pipeline: "Pipeline", select: Sequence[str] | None, lag: bool) -> tuple[str, dict[str, Any]]:
    """``kappa stream status``: per node, from the checkpoints alone (committed offsets, last
    batch, lag), and the orphaned checkpoints; as text and as JSON-ready data."""
    from kappa.checkpoint.verdicts import orphan_checkpoints
    from kappa.engines.spark import status as st
    from kappa.plan import build_plan

    plan = build_plan(pipeline, select)
    statuses = st.node_statuses(plan.nodes, with_lag=lag)
    orphans = orphan_checkpoints(plan)
    data = {"pipeline": pipeline.name, "nodes": [st.status_json(s) for s in statuses], "orphan_checkpoints": orphans}
    text = st.render_status(pipeline.name, statuses)
    for name in orphans:
        text += f"\ncheckpoint {name}: no such node in the pipeline (renamed or removed?)"
    return text, data


def replication_status(rplan: Any, lag: bool) -> str:
    """``kappa cdc status``: each table's progress from its checkpoints (Spark and Polars
    replay) and its lag, the skipped topics and the orphaned checkpoints."""
    from kappa.checkpoint.verdicts import orphan_checkpoints
    from kappa.engines.polars.state import ReplayCheckpoint
    from kappa.engines.spark.lag import kafka_lag, kafka_offsets
    from kappa.engines.spark.status import format_offsets, node_statuses, render_node_status
    from kappa.plan import build_plan

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
    for name in orphan_checkpoints(plan) if plan is not None else []:
        lines.append(f"checkpoint {name}: no such table in the replication (topic gone or disabled?)")
    return "\n".join(lines)
