"""Expectations on a PySpark (micro-batch) DataFrame, with the same rules as the Polars engine.

:func:`check_batch` (the data path of issue 9): nothing is collected to the driver. The flagged
frame (input columns + one boolean per expectation, TRUE = failed, NULL already counted as a
failure) is persisted in executor storage and an :class:`pyspark.sql.Observation` carrying the
aggregates (input rows, failures per expectation, dropped, quarantined) is attached to it. One
action materialises both: a write to Spark's ``noop`` sink, which runs every row through the
plan (filling the cache and the aggregates) and returns nothing but the observed-metrics row.
The driver then reads ``Observation.get``, raises :class:`~kappa.errors.ExpectationFailed` if a
``fail`` expectation failed (before any sink ran), and hands out the output and quarantine frames
as filters over the persisted blocks. :meth:`CheckedBatch.release` unpersists them: call it once
the sinks are written (every micro-batch), or the blocks stay in executor memory.

Without expectations, ``lazy_counts=True`` skips that extra action: the output is the input
with an Observation (one ``count``) attached, so the first action that reads it (the first sink
write) yields the counts for free; :attr:`CheckedBatch.counts` waits for it and runs a ``noop``
write itself when nothing read the frame (e.g. every sink skipped an already committed batch
id; that fallback reads the source again). Only actions on ``output`` or frames derived from it
fire the Observation, and Spark completes it synchronously at the end of that action. Use it when the node has no expectations and its
output is written at least once; pass ``persist=True`` as well when more than one action reads
the output (several sinks), so later writes read the cache instead of the source. With
expectations the counts are needed before anything is written, so the eager path always runs.
On Spark Connect ``lazy_counts`` falls back to the eager path (resolving lazily asks the JVM
Observation whether an action fired it, which only classic PySpark can).

"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

from kappa.errors import ExpectationFailed
from kappa.quality.result import QualityCounts
from kappa.quality.rules import FAILED_COLUMN, Check, ExpectationError, checks, first_fail

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import Column, DataFrame


def _flagged(df: "DataFrame", checks_: Sequence[Check], node: str) -> "DataFrame":
    """``df``'s columns plus one flag per check (TRUE = failed, NULL counts as failed); lazy."""
    from pyspark.errors import PySparkException
    from pyspark.sql import functions as F

    data_cols = [F.col("`" + c.replace("`", "``") + "`") for c in df.columns]
    try:
        raw = [F.expr(c.expr) for c in checks_]
        types = df.select(*[e.alias(f"e{i}") for i, e in enumerate(raw)]).schema  # analysis only
        for i, c in enumerate(checks_):
            if types[f"e{i}"].dataType.typeName() not in ("boolean", "void"):
                raise ExpectationError(f"node {node!r}: expectation {c.name!r}: {c.expr!r} is not a boolean expression")
        return df.select(*data_cols, *[(~F.coalesce(e.cast("boolean"), F.lit(False))).alias(c.flag) for e, c in zip(raw, checks_)])
    except PySparkException as err:
        raise ExpectationError(f"node {node!r}: cannot evaluate expectations: {err}") from err


def _masks(checks_: Sequence[Check]) -> "tuple[Column, Column]":
    """(drop-only mask, quarantine mask) over the flag columns of :func:`_flagged`."""
    from pyspark.sql import functions as F

    drop = _any([F.col(c.flag) for c in checks_ if c.action == "drop"])
    quarantine = _any([F.col(c.flag) for c in checks_ if c.action == "quarantine"])
    return drop & ~quarantine, quarantine


def _split(flagged: "DataFrame", checks_: Sequence[Check]) -> "tuple[DataFrame, DataFrame | None]":
    """The output and quarantine frames over ``flagged`` (flags removed)."""
    from pyspark.sql import functions as F

    drop_only, quarantine_mask = _masks(checks_)
    flags = [c.flag for c in checks_]
    output = flagged.filter(~(drop_only | quarantine_mask)).drop(*flags)
    quarantine = None
    if any(c.action == "quarantine" for c in checks_):
        names = F.filter(F.array(*[F.when(F.col(c.flag), F.lit(c.name)) for c in checks_]), lambda x: x.isNotNull())
        quarantine = flagged.filter(quarantine_mask).withColumn(FAILED_COLUMN, names).drop(*flags)
    return output, quarantine


@dataclass(eq=False)
class CheckedBatch:
    """What :func:`check_batch` hands back: the frames to write, the counts, the cache to free.

    ``output`` and ``quarantine`` (None without a ``quarantine`` expectation) read the
    persisted flagged frame. ``counts`` is known on return, except with ``lazy_counts``: then
    it is resolved on first access (after the first write). :meth:`release` must run once the
    sinks are written; it is idempotent.
    """

    output: "DataFrame"
    quarantine: "DataFrame | None"
    _counts: QualityCounts | None = field(default=None, repr=False)
    _observation: Any = field(default=None, repr=False)
    _persisted: "DataFrame | None" = field(default=None, repr=False)

    @property
    def counts(self) -> QualityCounts:
        """The batch's counts (with ``lazy_counts``: waits for the first action on ``output``)."""
        if self._counts is None:
            obs = self._observation
            if not observation_done(obs):  # nothing read the output: run the one action
                _noop_write(self.output)
            n = int(obs.get.get("n") or 0)
            self._counts = QualityCounts(n, n, 0, 0, {})
        return self._counts

    @property
    def counts_pending(self) -> bool:
        """True while lazy counts wait for an action on ``output``."""
        return self._counts is None and not observation_done(self._observation)

    def release(self) -> None:
        """Unpersist the flagged frame's blocks (idempotent)."""
        persisted, self._persisted = self._persisted, None
        if persisted is not None:
            persisted.unpersist(blocking=False)


def check_batch(
    df: "DataFrame",
    expectations: Sequence[Any],
    node: str,
    *,
    lazy_counts: bool = False,
    persist: bool | None = None,
) -> CheckedBatch:
    """Apply ``expectations`` to a batch DataFrame without collecting rows to the driver.

    Same rules as :func:`kappa.quality.polars_eval.apply_expectations`. Raises
    :class:`~kappa.errors.ExpectationFailed` (after releasing the cache) before returning when a
    ``fail`` expectation has failing rows. ``lazy_counts`` only applies without expectations
    (see the module docstring); ``persist`` (default: True except for lazy counts) keeps the
    frame in executor storage for the writes; ``persist=False`` on the eager path makes every
    later write read the source again (only sensible for a cheap, deterministic source).
    """
    from pyspark.sql import Observation
    from pyspark.sql import functions as F

    if df.isStreaming:
        raise ExpectationError(f"node {node!r}: expectations run on micro-batches (foreachBatch), not on a streaming frame")
    checks_ = checks(expectations, node, df.columns) if expectations else []  # df.columns: a JVM round trip
    if not checks_ and lazy_counts and getattr(df, "_jdf", None) is not None:  # classic Spark only
        obs = Observation()
        base = df.persist() if persist else df
        return CheckedBatch(base.observe(obs, F.count(F.lit(1)).alias("n")), None, None, obs, base if persist else None)

    flagged = _flagged(df, checks_, node) if checks_ else df
    flagged = flagged.persist() if persist is not False else flagged
    batch = CheckedBatch(flagged, None, None, None, flagged if persist is not False else None)
    try:
        drop_only, quarantine_mask = _masks(checks_)
        obs = Observation()
        observed = flagged.observe(
            obs,
            F.count(F.lit(1)).alias("n"),
            *[F.count_if(F.col(c.flag)).alias(f"f{i}") for i, c in enumerate(checks_)],
            F.count_if(drop_only).alias("dropped"),
            F.count_if(quarantine_mask).alias("quarantined"),
        )
        _noop_write(observed)  # the one pass over the source: fills the cache and the metrics
        row = obs.get
        failures = {c.name: int(row.get(f"f{i}") or 0) for i, c in enumerate(checks_)}
        failing = first_fail(checks_, failures)
        if failing is not None:
            raise ExpectationFailed(node, failing.name, failures[failing.name])
        if checks_:
            batch.output, batch.quarantine = _split(flagged, checks_)
        n, dropped, quarantined = int(row.get("n") or 0), int(row.get("dropped") or 0), int(row.get("quarantined") or 0)
        batch._counts = QualityCounts(n, n - dropped - quarantined, dropped, quarantined, failures)
        return batch
    except BaseException:
        batch.release()
        raise


def observation_done(obs: Any) -> bool:
    """True once a job that carried the Observation ``obs`` has finished (classic Spark: reading
    ``obs.get`` before that would block; on a frame no job read it never completes)."""
    return bool(obs._jo.future().isCompleted())


def _noop_write(df: "DataFrame") -> None:
    """Run every row of ``df`` through its plan on the executors; nothing reaches the driver."""
    df.write.format("noop").mode("overwrite").save()


def _any(columns):
    from pyspark.sql import functions as F

    out = F.lit(False)
    for c in columns:
        out = out | c
    return out
