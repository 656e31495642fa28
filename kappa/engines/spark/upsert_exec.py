"""Delta ``mode: upsert`` on the python profile, run by the executors (the driver plans and commits).

Design note. An update-mode batch replaces whole rows on its keys. The Polars engine does it by
rewriting only the data files that may hold the batch's keys (:mod:`kappa.delta.upsert_files`);
this is the same algorithm as a Spark plan, so no row of the batch or of the table reaches the
driver:

0. a batch within the driver budget is upserted by the driver instead (:func:`small_batch`:
   Spark's broadcast rule; one job where this plan takes three);
1. the caller (:func:`kappa.engines.spark.connectors.upsert.python_upsert`), from the Delta log
   only, skips a batch the table already carries and keeps a table this path cannot rewrite
   exactly (:func:`applies`) for deltalake's MERGE;
2. the batch is persisted on the executors (by the caller) and one small job gives its statistics
   (:func:`_statistics`: rows, and per key column of an exactly-compared type its min, max and
   whether it holds nulls) -- one row, not data;
3. driver: the candidate files are those whose Delta statistics admit the batch's keys
   (:func:`kappa.delta.upsert_files.excluded_by_bounds`, shared with the Polars engine), plus the
   table's newest file while it is small (batches of new keys fill it rather than add files);
4. one job reads the candidates' key columns with Spark's Parquet reader and joins them with the
   batch's keys, null-safe: the touched files' names come back (metadata). A table row matched by
   two batch rows fails the batch, as a MERGE does;
5. the rows of the touched files the batch does not replace (null-safe anti-join) and the whole
   batch, range-partitioned and sorted by the cluster order (temporal keys first) into files of
   about :func:`kappa.delta.upsert_files.rows_per_file_of` rows, are written by kappa's executor
   Delta writer (:mod:`kappa.engines.spark.datasources.delta_sink`), whose single commit also
   removes the touched files and carries the batch's app transaction.

The first batch creates the table the same way (sorted bounded files; ``partition_by`` honoured).
A partitioned table is rewritten the same way (the Polars engine takes deltalake's MERGE there):
a partition column's value in the log is both its files' min and max, and the touched files' values
are joined back from the log, never parsed from folder names.
The outcome is MERGE's (``WHEN MATCHED UPDATE SET * WHEN NOT MATCHED INSERT *``): both engines
give the same table rows; file boundaries may differ.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

from kappa.delta.arrow import DeltaWriteError

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa
    from deltalake import DeltaTable
    from pyspark.sql import Column, DataFrame

_N = "_kappa_n"
_FILE = "_kappa_file"


@dataclass(frozen=True)
class BatchStats:
    """What the driver needs of a batch: its rows and its keys' bounds."""

    rows: int
    bounds: dict[str, tuple[Any, Any, bool]] = field(default_factory=dict)  # key -> (min, max, has nulls)


def applies(table: "DeltaTable", batch_schema: "pa.Schema") -> bool:
    """Whether the executor rewrite gives MERGE's outcome on ``table``: a local table read by
    plain Parquet (reader protocol 1: no column mapping, no deletion vectors),
    writer protocol <= 2 without change data feed or append-only, and the batch's columns the
    table's (a schema change takes deltalake's MERGE with its schema evolution)."""
    from kappa.delta.commit import normalized_schema, table_schema
    from kappa.delta.tables import local_folder
    from kappa.delta.upsert_files import plain_writes

    if local_folder(table.table_uri) is None or table.protocol().min_reader_version > 1 or not plain_writes(table):
        return False
    current, batch = table_schema(table), normalized_schema(batch_schema)
    return {f.name: f.type for f in current} == {f.name: f.type for f in batch}


#: ``spark.conf`` setting: the largest batch (estimated Arrow bytes) upserted on the driver
DRIVER_BYTES_CONF = "spark.kappa.upsert.driverBytes"
DRIVER_BYTES = 8 << 20


def small_batch(batch: "DataFrame", schema: "pa.Schema") -> "pa.Table | None":
    """The batch as Arrow when it holds at most the driver budget's rows, else None.

    Spark's own rule for a small relation (``autoBroadcastJoinThreshold``: collected on the
    driver and broadcast): a batch of at most ``spark.kappa.upsert.driverBytes`` (8 MiB by
    default, at most a quarter of ``spark.driver.maxResultSize``; 0 turns this off) of estimated Arrow rows is upserted by the driver in one Spark
    job, as on Polars, where the executor plan's three jobs cost ~0.5-1 s on a local master.
    At most ``limit + 1`` rows are ever collected (``limit``: the budget over the schema's
    estimated row size), so the driver's memory stays bounded by the budget."""
    from kappa.delta.commit import normalized_schema
    from kappa.delta.upsert_files import schema_row_bytes

    conf = batch.sparkSession.conf.get(DRIVER_BYTES_CONF, None)
    budget = int(conf) if conf not in (None, "") else DRIVER_BYTES
    results = size_bytes(batch.sparkSession.conf.get("spark.driver.maxResultSize", "1g"))
    if results:  # the estimate may be short of the real size: a quarter of what a job may return
        budget = min(budget, results // 4)
    limit = budget // schema_row_bytes(normalized_schema(schema))
    if limit <= 0:
        return None
    head = batch.limit(limit + 1).toArrow()  # bounded: at most limit + 1 rows (docstring)
    return head if head.num_rows <= limit else None


def size_bytes(text: str | None) -> int:
    """A Spark byte size (``8m``, ``1g``, ``512k``, ``1048576``) in bytes; 0 for none/unlimited.

    >>> [size_bytes(t) for t in ("8m", "1g", "512k", "100", "2gb", "0", None, "bad")]
    [8388608, 1073741824, 524288, 100, 2147483648, 0, 0, 0]
    """
    import re

    found = re.fullmatch(r"\s*(\d+)\s*([kmgtp]?)b?\s*", (text or "").lower())
    if not found:
        return 0
    return int(found.group(1)) << (10 * " kmgtp".index(found.group(2) or " "))


def write(batch: "DataFrame", path: str, keys: Sequence[str], app_id: str, batch_id: int,
          storage_options: dict | None, partition_by: Sequence[str], table: "DeltaTable | None",
          schema: "pa.Schema") -> int:
    """Upsert one micro-batch (persisted by the caller) on the executors into ``table`` (None:
    created; else :func:`applies` holds); the batch's rows (0: an empty batch)."""
    stats = _statistics(batch, keys, schema)
    if table is None:
        return _create(batch, path, keys, app_id, batch_id, storage_options, partition_by, schema, stats)
    if stats.rows == 0:  # a no-data batch: nothing to commit
        return 0
    return _rewrite(batch, table, path, keys, app_id, batch_id, storage_options, stats)


def _col(alias: str, name: str) -> "Column":
    from pyspark.sql import functions as F

    return F.col(f"{alias}.`{name.replace('`', '``')}`")


def _same_keys(keys: Sequence[str]) -> "Column":
    """The null-safe match of a table row (alias ``t``) and a batch key (alias ``s``) on ``keys``."""
    from functools import reduce

    return reduce(lambda a, b: a & b, [_col("t", k).eqNullSafe(_col("s", k)) for k in keys])


def _key_counts(batch: "DataFrame", keys: Sequence[str]) -> "DataFrame":
    """The batch's distinct keys (null-safe: one group per null) with their row counts."""
    from pyspark.sql import functions as F

    return batch.groupBy(*[F.col(f"`{k}`") for k in keys]).agg(F.count(F.lit(1)).alias(_N))


def _statistics(batch: "DataFrame", keys: Sequence[str], schema: "pa.Schema") -> BatchStats:
    from pyspark.sql import functions as F

    from kappa.delta.upsert_files import prunable

    bounded = [k for k in keys if prunable(schema.field(k).type)]
    aggs = [F.count(F.lit(1)).alias("rows")]
    for i, key in enumerate(bounded):
        col = F.col(f"`{key}`")
        aggs += [F.min(col).alias(f"lo{i}"), F.max(col).alias(f"hi{i}"),
                 F.coalesce(F.max(col.isNull().cast("int")), F.lit(0)).alias(f"nul{i}")]
    row = batch.agg(*aggs).first()  # one row of statistics, not data (no shuffle of the batch)
    assert row is not None
    bounds = {key: (row[f"lo{i}"], row[f"hi{i}"], bool(row[f"nul{i}"])) for i, key in enumerate(bounded)}
    return BatchStats(int(row["rows"]), bounds)


def _clustered(frame: "DataFrame", order: Sequence[str], files: int) -> "DataFrame":
    """``frame`` as ``files`` Spark partitions (one file each), ranged and sorted by ``order``."""
    from pyspark.sql import functions as F

    cols = [F.col(f"`{k}`") for k in order]
    spread = frame.coalesce(1) if files <= 1 else frame.repartitionByRange(files, *cols)
    return spread.sortWithinPartitions(*cols)


def _create(batch, path, keys, app_id, batch_id, storage_options, partition_by, schema, stats: BatchStats) -> int:
    from kappa.delta.commit import normalized_schema
    from kappa.delta.upsert_files import cluster_order, rows_per_file_of
    from kappa.engines.spark.datasources.delta_sink import write_delta_frame

    norm = normalized_schema(schema)
    files = math.ceil(stats.rows / rows_per_file_of(norm)) if stats.rows else 1
    frame = _clustered(batch, cluster_order(norm, tuple(keys)), files)
    written = write_delta_frame(frame, table_uri=path, mode="append", app_id=app_id, batch_id=int(batch_id),
                                partition_by=list(partition_by) or None, storage_options=storage_options)
    return stats.rows if written or stats.rows == 0 else 0


def _candidates(adds: "pa.Table", target: "pa.Schema", stats: BatchStats, bound: int) -> tuple["pa.Table", str | None]:
    """The files (flattened add actions) whose statistics admit a batch key, and the table's
    newest file if small."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from kappa.delta.upsert_files import _small_newest, excluded_by_bounds

    keep = pa.array([True] * adds.num_rows)
    for key, (lo, hi, nulls) in stats.bounds.items():
        out = excluded_by_bounds(adds, key, target.field(key).type, lo, hi, nulls)
        if out is not None:
            keep = pc.and_(keep, pc.invert(out))
    return adds.filter(keep), _small_newest(adds, bound)


def _read(spark, root: str, files: Sequence[dict], target: "pa.Schema", parts: Sequence[str]) -> "DataFrame":
    """The rows of ``files`` (flattened add actions) with Spark's Parquet reader, as ``target``'s
    columns and the file's name (:data:`_FILE`). A partitioned table's values come from the
    Delta log (a broadcast table of file name -> values), not from folder names."""
    from urllib.parse import unquote

    import pyarrow as pa
    from pyspark.sql import functions as F
    from pyspark.sql.pandas.types import from_arrow_schema

    data = pa.schema([f for f in target if f.name not in parts])
    uris = [os.path.join(root, unquote(f["path"])) for f in files]  # the log holds them percent-encoded
    frame = spark.read.schema(from_arrow_schema(data)).parquet(*uris).withColumn(_FILE, F.col("_metadata.file_name"))
    if not parts:
        return frame
    values = pa.table({_FILE: [os.path.basename(f["path"]) for f in files],
                       **{p: pa.array([f[f"partition.{p}"] for f in files]).cast(target.field(p).type) for p in parts}})
    by_file = F.broadcast(spark.createDataFrame(values))  # Delta log metadata: one row per file
    return frame.join(by_file, _FILE).select(*[F.col(f"`{n}`") for n in target.names], F.col(_FILE))


def _touched(batch_keys: "DataFrame", files: "DataFrame", keys: Sequence[str], path: str, batch_id: int) -> set[str]:
    """The names of the files holding a batch key (one job; metadata comes back)."""
    from pyspark.sql import functions as F

    rows = files.select(*[F.col(f"`{k}`") for k in keys], F.col(_FILE))
    found = (rows.alias("t").join(batch_keys.alias("s"), _same_keys(keys), "inner")
             .groupBy(F.col(f"t.{_FILE}")).agg(F.max(F.col(f"s.{_N}")).alias(_N)).collect())  # file names: metadata
    doubled = [r[_FILE] for r in found if r[_N] > 1]
    if doubled:
        raise DeltaWriteError(f"cannot write Delta table {path}: upsert batch {batch_id} has several rows with the keys "
                              f"of one table row (in {doubled[0]}); a MERGE refuses that: make the sink's keys unique per batch")
    return {r[_FILE] for r in found}


def _rewrite(batch, table, path, keys, app_id, batch_id, storage_options, stats: BatchStats) -> int:
    from urllib.parse import unquote

    import pyarrow as pa
    import pyarrow.compute as pc

    from kappa.delta.commit import table_schema
    from kappa.delta.tables import local_folder
    from kappa.delta.upsert_files import cluster_order, rows_per_file_of
    from kappa.engines.spark.datasources.delta_sink import write_delta_frame

    spark = batch.sparkSession
    root = local_folder(table.table_uri)
    assert root is not None
    target = table_schema(table)
    parts = list(table.metadata().partition_columns)
    bound = rows_per_file_of(target)
    adds = pa.table(table.get_add_actions(flatten=True))  # the Delta log
    cands, newest = _candidates(adds, target, stats, bound)
    batch_keys = _key_counts(batch, keys)
    candidates = cands.to_pylist()
    names: set[str] = set()
    if candidates:
        names = _touched(batch_keys, _read(spark, root, candidates, target, parts), keys, path, batch_id)
    touched = [a for a in candidates if os.path.basename(a["path"]) in names]
    if newest is not None and all(a["path"] != newest for a in touched):  # the small newest file is filled too
        touched += adds.filter(pc.equal(adds.column("path"), newest)).to_pylist()
    frame = batch
    if touched:
        kept = _read(spark, root, touched, target, parts).alias("t").join(batch_keys.alias("s"), _same_keys(keys), "left_anti")
        frame = kept.drop(_FILE).unionByName(batch, allowMissingColumns=True)
    rows = stats.rows + sum(int(a["num_records"] or 0) for a in touched)
    frame = _clustered(frame, cluster_order(target, tuple(keys)), max(1, math.ceil(rows / bound)))
    removes = [(unquote(a["path"]), a["size_bytes"]) for a in touched]  # deltalake encodes it again
    written = write_delta_frame(frame, table_uri=path, mode="append", app_id=app_id, batch_id=int(batch_id),
                                storage_options=storage_options, removes=removes, target=(target, parts))
    return stats.rows if written else 0

