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

Stateless nodes are untouched: their steps run per micro-batch inside ``foreachBatch``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Mapping

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
