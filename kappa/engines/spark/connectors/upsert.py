"""Delta ``mode: upsert`` on Spark: each micro-batch MERGEd into the table on the sink's keys.

An upsert sink receives a stateful node's update-mode output (the current value of every group
the batch touched, :mod:`kappa.engines.spark.stateful`): a row whose keys match a table row
replaces all its columns, any other row is inserted, so after every batch the table equals the
batch ``GROUP BY`` over everything read so far. Keys compare null-safe (a GROUP BY puts nulls in
one group: the null group's row is updated, not inserted again). Exactly once per
``(sink, batch id)``: the driver reads the table's app transaction from the Delta log and skips
a batch it already carries; the MERGE commits it.

- ``python`` profile, :func:`python_upsert`: the Polars engine's upsert
  (:mod:`kappa.delta.upsert_files`: only the sorted bounded files holding the batch's keys are
  rewritten, the first batch writes the table that way; deltalake's MERGE where that is not
  exact), run where it is cheapest. A batch within the driver budget
  (``spark.kappa.upsert.driverBytes``, 8 MiB of estimated Arrow rows: Spark's own rule for
  broadcasting a small relation) is collected, at most budget + 1 row, and upserted by
  :func:`kappa.delta.upsert.upsert_delta` in the driver's process: one Spark job. A larger
  batch runs on the executors (:mod:`kappa.engines.spark.upsert_exec`: the same algorithm as a
  Spark plan, one commit by the driver). The documented exception: a larger batch for a table
  the executor rewrite cannot handle exactly -- on an object store (Spark's Parquet
  reader has no S3 connector here), a batch whose columns differ from the table's (schema
  evolution), reader/writer table features -- is collected whole for deltalake's MERGE, as
  the Polars engine does there. The first batch creates the table (an empty one too, so
  downstream nodes can read it; partitioned by the sink's ``partition_by``); an empty batch on
  an existing table (Spark's no-data batches) commits nothing.
- ``jvm`` profile, :func:`jvm_upsert`: delta-spark's ``MERGE INTO delta.`<path>``` from a temp
  view of the batch, run by the executors, with the app transaction in the
  ``spark.databricks.delta.write.txnAppId``/``txnVersion`` session settings (the first batch: an
  idempotent append, :func:`~kappa.engines.spark.delta_writer.jvm_delta_write`). The statement
  is built and parsed by Spark here; delta-spark's jars are not available where kappa is built,
  so it has not run against Delta (as :mod:`kappa.engines.spark.jvm_merge`).
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any, Sequence

from kappa.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame

    from kappa.plan_kinds import DeltaSinkPlan


def upsert_keys(sink: "DeltaSinkPlan") -> list[str]:
    """The sink's merge keys (the plan fills the default: the node's grouping keys)."""
    keys = list(getattr(sink, "keys", None) or ())
    if not keys:
        raise ConfigError(f"Delta sink {sink.path}: mode upsert needs keys (the node's grouping keys by default)")
    return keys


def describe(sink: "DeltaSinkPlan", profile: str) -> dict[str, Any]:
    """The writer entries of an upsert sink's description."""
    if profile == "jvm":
        writer = "delta-spark MERGE INTO on the keys (txnAppId/txnVersion session settings)"
    else:
        writer = ("the files holding the batch's keys rewritten, one commit (app transaction): by the driver for a "
                  "batch within spark.kappa.upsert.driverBytes (8 MiB), else by the executors; deltalake MERGE for "
                  "remote or evolving tables")
    return {"writer": writer, "keys": list(getattr(sink, "keys", None) or ())}


def write(sink: "DeltaSinkPlan", df: "DataFrame", batch_id: int, profile: str) -> int:
    """Upsert one micro-batch; returns the rows merged (0: a replayed or empty batch)."""
    from kappa.plan_kinds import resolve_secrets

    so = resolve_secrets(sink.storage_options) or None
    keys = upsert_keys(sink)
    evolve = sink.schema_mode != "strict"
    if profile == "jvm":
        return jvm_upsert(df, sink.path, keys, sink.app_id, batch_id, so, list(sink.partition_by), evolve)
    return python_upsert(df, sink.path, keys, sink.app_id, batch_id, so, list(sink.partition_by), evolve)


# ---------------------------------------------------------------- python profile
def python_upsert(df: "DataFrame", path: str, keys: Sequence[str], app_id: str, batch_id: int,
                  storage_options: dict | None, partition_by: Sequence[str] = (), evolve: bool = True) -> int:
    """A small batch (:func:`kappa.engines.spark.upsert_exec.small_batch`, Spark's broadcast
    rule) is collected and upserted by :func:`kappa.delta.upsert.upsert_delta` (the Polars
    engine's upsert); a larger one on the executors (:mod:`kappa.engines.spark.upsert_exec`:
    the same algorithm as a Spark plan), unless the table needs deltalake's MERGE
    (on an object store, a schema change, table features): then it is collected
    whole (the documented exception, module doc)."""
    from pyspark import StorageLevel

    from kappa.delta.arrow import normalize_arrow_table
    from kappa.delta.tables import latest
    from kappa.delta.txn import Txn
    from kappa.delta.upsert import upsert_delta
    from kappa.engines.spark import upsert_exec
    from kappa.engines.spark.datasources.sink_support import arrow_schema

    table = latest(path, storage_options)  # the Delta log only: a replayed batch is not computed
    if Txn(app_id, int(batch_id)).done(table):
        return 0
    missing = [k for k in keys if k not in df.columns]
    if missing:
        raise ConfigError(f"Delta sink {path}: upsert key(s) {missing} are not columns of the node's output {df.columns}")
    schema = arrow_schema(df.schema)
    # not persisted for the budget check: a small batch (the usual update-mode output) is
    # computed once either way, and a large one stops the check after budget + 1 rows
    data = upsert_exec.small_batch(df, schema)
    if data is None:
        batch = df.persist(StorageLevel.MEMORY_AND_DISK)  # computed once by the jobs below
        try:
            if table is None or upsert_exec.applies(table, schema):
                return upsert_exec.write(batch, path, keys, app_id, batch_id, storage_options, partition_by, table, schema)
            data = batch.toArrow()  # the documented exception: a large batch only deltalake's MERGE can take
        finally:
            batch.unpersist()
    data = normalize_arrow_table(data)
    if table is not None and data.num_rows == 0:  # a no-data batch: nothing to commit
        return 0
    done = upsert_delta(path, data, tuple(keys), app_id, int(batch_id), storage_options, tuple(partition_by), evolve)
    return data.num_rows if done else 0


# ---------------------------------------------------------------- jvm profile
def jvm_merge_sql(path: str, keys: Sequence[str], view: str, evolve: bool = True) -> str:
    """delta-spark's MERGE of the batch view into the table at ``path`` on ``keys`` (null-safe)."""
    from kappa.engines.spark.jvm_merge import q, table

    on = " AND ".join(f"t.{q(k)} <=> s.{q(k)}" for k in keys)
    evolution = " WITH SCHEMA EVOLUTION" if evolve else ""
    return (f"MERGE{evolution} INTO {table(path)} AS t USING {q(view)} AS s ON {on} "
            "WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *")


def jvm_upsert(df: "DataFrame", path: str, keys: Sequence[str], app_id: str, batch_id: int,
               storage_options: dict | None, partition_by: Sequence[str] = (), evolve: bool = True) -> int:
    """Returns the rows written: the first batch's observed rows, then the MERGE's
    ``num_affected_rows`` (its one-row result: metadata, not data)."""
    from kappa.delta.txn import Txn, open_table
    from kappa.engines.spark import delta_writer
    from kappa.engines.spark.datasources.sink_support import observed, observed_rows
    from kappa.engines.spark.jvm_merge import TXN_APP_CONF, TXN_VERSION_CONF

    txn = Txn(app_id, int(batch_id))
    target = open_table(path, storage_options)  # the Delta log only (driver)
    if txn.done(target):
        return 0
    if target is None:
        frame, obs = observed(df)
        delta_writer.jvm_delta_write(frame, batch_id, path, "append", app_id, list(partition_by) or None, evolve)
        return observed_rows(obs)
    spark = df.sparkSession
    view = f"kappa_upsert_{uuid.uuid4().hex[:8]}"
    df.createOrReplaceTempView(view)
    spark.conf.set(TXN_APP_CONF, app_id)
    spark.conf.set(TXN_VERSION_CONF, str(int(batch_id)))
    try:
        result = spark.sql(jvm_merge_sql(path, keys, view, evolve)).first()
    finally:
        spark.conf.unset(TXN_APP_CONF)
        spark.conf.unset(TXN_VERSION_CONF)
        spark.catalog.dropTempView(view)
    return int(result[0] or 0) if result is not None else 0
