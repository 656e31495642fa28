"""Stateful nodes on Spark: the steps run in Spark's own streaming plan, not in ``foreachBatch``.

Design (issue 11). A node whose plan carries ``NodePlan.state`` (a streaming node with a
watermark, a streaming dedup or an aggregate, :mod:`kappa.stateful.spec`) has its transformer
steps applied ONCE to the streaming DataFrame, before ``writeStream``: the same
:func:`kappa.engines.spark.batch.transform` (SQL over temp views of the stream, ``{nodes.x}``
references read as static tables, method steps through :mod:`kappa.transform.methods`), except
each stateful step is a Spark streaming operator:

- ``with_watermark(column, delay)`` -> ``DataFrame.withWatermark(column, delay)`` and
  ``drop_duplicates_within_watermark`` -> ``dropDuplicatesWithinWatermark(subset)`` (the method
  steps call them on a Spark frame);
- ``unique`` / ``drop_duplicates`` -> ``dropDuplicates(subset)`` (:func:`native_steps`: state
  across batches; narwhals' ``unique`` is a window function, which a stream refuses);
- an aggregate SQL step (``GROUP BY``, ``window``/``session_window``) is plain Spark SQL already.

The query then runs with ``outputMode(node.state.output_mode)`` and its ``foreachBatch`` function
does only the expectations and the sinks (:class:`~kappa.engines.spark.batch.NodeBatchFunction`
with ``transformed=True``). Spark keeps the state in the query's checkpoint (``state/``), with
the provider the session's ``spark.sql.streaming.stateStore.providerClass`` names (RocksDB
included). A no-data batch (Spark runs one when the watermark moved, availableNow included)
reaches ``foreachBatch`` with an empty frame: every sink writes nothing for it (an empty append
to an existing table commits nothing; an upsert of nothing is skipped).

**State partitions** (:func:`state_partitions`). Spark keeps one state store per shuffle
partition of a stateful operator, fixed by ``spark.sql.shuffle.partitions`` when the query first
starts (the checkpoint keeps the number: a restart keeps it whatever the setting). Each store
costs every micro-batch a task that loads its version and commits a new one, however few rows
the batch touched: on a local master with kappa's default of 4 partitions for 2 cores, those
tasks run in two waves. A stateful query that starts on a local master whose shuffle
partitions are kappa's default therefore starts with the session's default parallelism (the
local cores) instead. Measured on 2 cores (an update-mode ``GROUP BY`` micro-batch of 10k rows
over 100k groups, 4 vs 2 stores, alternated in one session): 1.4-1.9x shorter while the
machine was loaded (load average ~10), the same within noise when it was idle. A pipeline that sets
``spark.sql.shuffle.partitions`` to another value in its ``spark.conf`` keeps its own number.

**State store** (:func:`state_store`). On a local master whose session names no
``spark.sql.streaming.stateStore.providerClass``, a new stateful query starts with RocksDB's
provider and changelog checkpointing. Spark's default (HDFS-backed) provider copies a
partition's whole state map twice per micro-batch (the read store of the restore step, then the
write store), however few groups the batch touches; RocksDB updates the touched keys and
commits a changelog of them. Measured on 2 cores (a running stream, 10k new rows per batch over
~100k groups, 2 stores): the micro-batch 0.89 -> 0.42 s and 1.24 -> 0.94 s in two alternated
pairs (load average 3-4.5; an earlier pair, while the load rose from 1.6 to 2.5, went the other
way, 0.64 vs 1.21 s); with checkpoint files written through the FileSystem API
(:mod:`kappa.engines.spark.session`) RocksDB's commit is ~5-10 ms per batch. The provider is written into the checkpoint (offsets' conf) and a
restart takes it from there, so a checkpoint started with the HDFS-backed store keeps it.

Stateless nodes are untouched: their steps run per micro-batch inside ``foreachBatch``.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession

    from kappa.plan import NodePlan
    from kappa.stateful.spec import StatefulPlan


def in_stream(node: "NodePlan") -> bool:
    """True when the node's steps run in the streaming plan (a streaming node with state)."""
    return node.state is not None and node.streaming


def native_steps(state: "StatefulPlan") -> dict[int, Callable[["DataFrame"], "DataFrame"]]:
    """Step index -> the Spark streaming operator that replaces that method step: the streaming
    dedups of ``unique`` / ``drop_duplicates`` (``with_watermark`` and
    ``drop_duplicates_within_watermark`` already call Spark's own methods through
    :mod:`kappa.transform.methods`)."""
    from kappa.stateful.spec import DedupSpec

    out: dict[int, Callable[["DataFrame"], "DataFrame"]] = {}
    for op in state.operators:
        if isinstance(op, DedupSpec) and not op.within_watermark:
            subset = list(op.subset) if op.subset is not None else None
            out[op.step] = lambda df, s=subset: df.dropDuplicates(s) if s else df.dropDuplicates()
    return out


def stateful_stream(spark: "SparkSession", node: "NodePlan", stream: "DataFrame", profile: str, memory: Mapping[str, Any],
                    keep_views: "list[str] | None" = None) -> "DataFrame":
    """The node's output as a streaming DataFrame: its steps applied to ``stream``.

    The temp views the SQL steps read are dropped once the plan is built: classic ``spark.sql``
    analyses eagerly, so the streaming plan holds what they named. Under Spark Connect the
    server resolves the plan only when the query starts: pass ``keep_views`` and the names are
    appended there instead, for the caller to drop once ``start()`` returned."""
    from kappa.engines.spark.batch import transform
    from kappa.engines.spark.connectors import source_reader

    refs = {ref: source_reader(src).read_static(spark, src, profile, memory, False) for ref, src in node.ref_sources.items()}
    views: list[str] = []
    try:
        return transform(spark, node, stream, refs, views, native_steps(node.state))
    finally:
        if keep_views is not None:
            keep_views.extend(views)
        else:
            drop_views(spark, views)


def drop_views(spark: "SparkSession", views: list[str]) -> None:
    """Drop the temp views named in ``views`` (and empty the list)."""
    for view in views:
        spark.catalog.dropTempView(view)
    views.clear()


SHUFFLE_PARTITIONS = "spark.sql.shuffle.partitions"
STATE_PROVIDER = "spark.sql.streaming.stateStore.providerClass"
ROCKSDB_PROVIDER = "org.apache.spark.sql.execution.streaming.state.RocksDBStateStoreProvider"
CHANGELOG = "spark.sql.streaming.stateStore.rocksdb.changelogCheckpointing.enabled"


def _local(spark: "SparkSession") -> bool:
    """A classic session on a local master (not a cluster, not Spark Connect)."""
    from kappa.engines.spark.session import is_local_master

    context = getattr(spark, "sparkContext", None) if getattr(spark, "_jsparkSession", None) is not None else None
    return context is not None and is_local_master(context.master)


def state_partitions(spark: "SparkSession") -> int | None:
    """The state partitions a new stateful query starts with when it is not the session's
    ``spark.sql.shuffle.partitions`` (see the module doc): on a local master whose setting is
    kappa's default, the default parallelism; None otherwise (a cluster, Spark Connect, a
    pipeline's own setting)."""
    from kappa.engines.spark.session import LOCAL_CONF

    if not _local(spark) or spark.conf.get(SHUFFLE_PARTITIONS) != LOCAL_CONF[SHUFFLE_PARTITIONS]:
        return None
    cores = int(spark.sparkContext.defaultParallelism)
    return cores if 0 < cores < int(LOCAL_CONF[SHUFFLE_PARTITIONS]) else None


def state_store(spark: "SparkSession") -> dict[str, str]:
    """The state store settings a new stateful query starts with (see the module doc): on a local
    master whose session names no provider, RocksDB with changelog checkpointing; {} otherwise
    (a cluster, Spark Connect, a pipeline's own provider)."""
    if not _local(spark) or spark.conf.get(STATE_PROVIDER, None) is not None:
        return {}
    return {STATE_PROVIDER: ROCKSDB_PROVIDER, CHANGELOG: "true"}


@contextmanager
def starting_conf(spark: "SparkSession") -> Iterator[None]:
    """Around ``DataStreamWriter.start()`` of a stateful query: the session set to
    :func:`state_partitions` and :func:`state_store` (the query copies the session's settings when
    it starts, and its first batch writes them into the checkpoint), then set back."""
    partitions = state_partitions(spark)
    settings = {**state_store(spark), **({SHUFFLE_PARTITIONS: str(partitions)} if partitions is not None else {})}
    previous = {key: spark.conf.get(key, None) for key in settings}
    for key, value in settings.items():
        spark.conf.set(key, value)
    try:
        yield
    finally:
        for key, value in previous.items():
            if value is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, value)
