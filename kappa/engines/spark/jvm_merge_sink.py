"""The jvm profile's distributed CDC merge sink, wired behind one opt-in setting.

``spark.kappa.cdc.jvmMerge=true`` (a Spark setting of the session: ``spark.conf`` in the
pipeline or ``KAPPA_SPARK_CONF``) makes a CDC merge sink on the **jvm** profile apply each
micro-batch with the delta-spark plan of :mod:`kappa.engines.spark.jvm_merge`: the MERGE and the
state appends run on the executors, the driver reads only the Delta logs (does the target or
the state exist, which ``(app id, version)`` each has committed, the state's columns) and issues
the statements. Without the setting -- and always on the python profile -- the sink keeps
:func:`kappa.cdc.merge.apply_changes` (deltalake on the driver: the batch of changes is
collected there, the one documented driver-side write).

Why opt-in: delta-spark's jars cannot be had where kappa is built, so the Delta statements of
the plan (``CREATE TABLE ... USING DELTA``, ``MERGE``, the app-transaction session settings)
have never run; their planning SQL was checked on a real Spark against the CDC oracle
(``tests/spark/test_jvm_merge_semantics.py``). A batch the plan does not cover (truncates,
``ignore_null_updates``) stops with :class:`~kappa.engines.spark.jvm_merge.JvmMergeUnsupported`
before anything is written: switch the setting off for that sink's pipeline.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession

CONF = "spark.kappa.cdc.jvmMerge"


def enabled(spark: "SparkSession", profile: str) -> bool:
    """True when a merge sink of this session runs the delta-spark plan (jvm profile, opted in)."""
    if profile != "jvm":
        return False
    return str(spark.conf.get(CONF, "false")).strip().lower() == "true"


@dataclass(frozen=True)
class MergeFacts:
    """What the driver reads from the Delta logs before planning a batch (see ``merge_plan``)."""

    target_exists: bool
    state_exists: bool
    target_done: bool
    state_done: bool
    state_version: int | None
    log_columns: list[str] | None

    def as_kwargs(self) -> dict[str, Any]:
        return dict(self.__dict__)


def merge_facts(table_uri: str, state_uri: str, app_id: str, version: int, storage_options: dict | None) -> MergeFacts:
    """The facts of :class:`MergeFacts`, read with deltalake (logs only, no data files).

    A state that carries the batch while the target does not is repaired as
    :func:`kappa.cdc.merge.apply_changes` does: planned from the state as of the commit before."""
    from kappa.cdc.merge import batch_progress

    p = batch_progress(table_uri, state_uri, app_id, version, storage_options)
    target, st, t_done, s_done, state_version = p.target, p.state, p.target_done, p.state_done, p.state_version
    log_columns = [f.name for f in st.schema().fields] if st is not None else None
    return MergeFacts(target is not None, st is not None, t_done, s_done, state_version, log_columns)


def jvm_merge_write(df: "DataFrame", table_uri: str, merge: Any, app_id: str, batch_id: int, storage_options: dict | None) -> int:
    """Apply batch ``batch_id`` of ``df`` (change events) with the delta-spark plan; returns the
    events applied (0 when both tables already carry the batch)."""
    from kappa.cdc.state import state_uri as default_state_uri
    from kappa.engines.spark.datasources.sink_support import observed, observed_rows
    from kappa.engines.spark.jvm_merge import merge_plan, run_plan

    spark = df.sparkSession
    s_uri = default_state_uri(table_uri)
    facts = merge_facts(table_uri, s_uri, app_id, batch_id, storage_options)
    view = f"kappa_cdc_changes_{uuid.uuid4().hex[:8]}"
    prefix = f"kappa_cdc_{uuid.uuid4().hex[:8]}"
    frame, obs = observed(df)
    steps = merge_plan(merge, changes_view=view, columns=list(df.columns), target=table_uri, state=s_uri, app_id=app_id,
                       version=batch_id, prefix=prefix, **facts.as_kwargs())
    if not steps:
        return 0
    frame.createOrReplaceTempView(view)
    try:
        run_plan(spark, steps)
    finally:
        spark.catalog.dropTempView(view)
    return observed_rows(obs)
