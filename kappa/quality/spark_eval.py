"""Expectations on a PySpark (micro-batch) DataFrame, with the same rules as the Polars engine.

The flagged frame (input columns + one boolean per expectation, NULL already counted as a
failure) is materialised once with ``localCheckpoint(eager=True)``: the source is read by that
one job; the counts and the output/quarantine frames read the checkpointed blocks. Checkpoint
blocks are released by Spark's cleaner once the returned frames are no longer referenced.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from kappa.errors import ExpectationFailed
from kappa.quality.result import QualityCounts
from kappa.quality.rules import FAILED_COLUMN, ExpectationError, checks, first_fail

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame


def apply_expectations_spark(
    df: "DataFrame", expectations: Sequence[Any], node: str
) -> "tuple[DataFrame, DataFrame | None, QualityCounts]":
    """Apply ``expectations`` to a batch DataFrame; returns (output, quarantine, counts).

    Same contract as :func:`kappa.quality.polars_eval.apply_expectations`; the expressions run
    as Spark SQL. Raises :class:`~kappa.errors.ExpectationFailed` before returning anything
    when a ``fail`` expectation has failing rows.
    """
    from pyspark.errors import PySparkException
    from pyspark.sql import functions as F

    if df.isStreaming:
        raise ExpectationError(f"node {node!r}: expectations run on micro-batches (foreachBatch), not on a streaming frame")
    checks_ = checks(expectations, node, df.columns)
    if not checks_:
        n = df.count()
        return df, None, QualityCounts(n, n, 0, 0, {})

    data_cols = [F.col("`" + c.replace("`", "``") + "`") for c in df.columns]
    try:
        flagged = df.select(
            *data_cols, *[(~F.coalesce(F.expr(c.expr).cast("boolean"), F.lit(False))).alias(c.flag) for c in checks_]
        )
        for c in checks_:
            source_type = df.select(F.expr(c.expr).alias("x")).schema["x"].dataType.typeName()
            if source_type not in ("boolean", "void"):
                raise ExpectationError(f"node {node!r}: expectation {c.name!r}: {c.expr!r} is not a boolean expression")
        flagged = flagged.localCheckpoint(eager=True)  # the one pass over the source
    except PySparkException as err:
        raise ExpectationError(f"node {node!r}: cannot evaluate expectations: {err}") from err

    failed = {c.name: F.col(c.flag) for c in checks_}
    drop_mask = _any([failed[c.name] for c in checks_ if c.action == "drop"])
    quarantine_mask = _any([failed[c.name] for c in checks_ if c.action == "quarantine"])
    row = flagged.agg(
        F.count(F.lit(1)).alias("n"),
        *[F.sum(F.col(c.flag).cast("long")).alias(f"f{i}") for i, c in enumerate(checks_)],
        F.sum((drop_mask & ~quarantine_mask).cast("long")).alias("dropped"),
        F.sum(quarantine_mask.cast("long")).alias("quarantined"),
    ).collect()[0]
    failures = {c.name: int(row[f"f{i}"] or 0) for i, c in enumerate(checks_)}
    failing = first_fail(checks_, failures)
    if failing is not None:
        raise ExpectationFailed(node, failing.name, failures[failing.name])

    flags = [c.flag for c in checks_]
    output = flagged.filter(~(drop_mask | quarantine_mask)).drop(*flags)
    quarantine = None
    if any(c.action == "quarantine" for c in checks_):
        names = F.filter(F.array(*[F.when(failed[c.name], F.lit(c.name)) for c in checks_]), lambda x: x.isNotNull())
        quarantine = flagged.filter(quarantine_mask).withColumn(FAILED_COLUMN, names).drop(*flags)
    n, dropped, quarantined = int(row["n"]), int(row["dropped"] or 0), int(row["quarantined"] or 0)
    counts = QualityCounts(n, n - dropped - quarantined, dropped, quarantined, failures)
    return output, quarantine, counts


def _any(columns):
    from pyspark.sql import functions as F

    out = F.lit(False)
    for c in columns:
        out = out | c
    return out
