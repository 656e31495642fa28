"""Expectations on a Polars LazyFrame: one collect, flags for every expectation in that pass."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from kappa.errors import ExpectationFailed
from kappa.quality.result import QualityCounts
from kappa.quality.rules import FAILED_COLUMN, ExpectationError, checks, first_fail

if TYPE_CHECKING:  # pragma: no cover
    import polars as pl

_SOURCE = "__kappa_expectations_input"


def apply_expectations(
    df: "pl.LazyFrame", expectations: Sequence[Any], node: str
) -> "tuple[pl.DataFrame, pl.DataFrame | None, QualityCounts]":
    """Apply ``expectations`` to ``df``; returns (output, quarantine, counts).

    The expressions are Spark SQL, translated like SQL steps (:mod:`kappa.sql.translate`), so a
    check gives the same verdict as on Spark. The source is collected once, together with one
    boolean flag per expectation. Quarantine is None when no expectation has action
    ``quarantine``; otherwise it holds the quarantined rows plus ``_kappa_failed``.
    Raises :class:`~kappa.errors.ExpectationFailed` when a ``fail`` expectation has failing rows.
    """
    columns = list(df.collect_schema().names())
    checks_ = checks(expectations, node, columns)
    if not checks_:
        out = df.collect()
        return out, None, QualityCounts(out.height, out.height, 0, 0, {})

    import polars as pl
    import sqlglot
    from sqlglot import exp

    from kappa.sql._dialect import SparkIn
    from kappa.sql.polars_exec import run_sql

    select = exp.select(exp.Star()).from_(exp.to_identifier(_SOURCE, quoted=True))
    for c in checks_:
        select = select.select(exp.alias_(sqlglot.parse_one(c.expr, read=SparkIn), c.flag, quoted=True), copy=False)
    try:
        flagged = run_sql(select.sql(dialect=SparkIn), {_SOURCE: df}).collect()  # the one pass
    except ExpectationError:
        raise
    except Exception as err:
        raise ExpectationError(f"node {node!r}: cannot evaluate expectations: {err}") from err
    for c in checks_:
        if flagged.schema[c.flag] not in (pl.Boolean, pl.Null):
            raise ExpectationError(f"node {node!r}: expectation {c.name!r}: {c.expr!r} is not a boolean expression")

    failed = {c.name: ~pl.col(c.flag).fill_null(False) for c in checks_}
    drop_mask = pl.any_horizontal([failed[c.name] for c in checks_ if c.action == "drop"] or [pl.lit(False)])
    quarantine_mask = pl.any_horizontal([failed[c.name] for c in checks_ if c.action == "quarantine"] or [pl.lit(False)])
    stats = flagged.select(
        *[failed[c.name].sum().alias(f"f{i}") for i, c in enumerate(checks_)],
        (drop_mask & ~quarantine_mask).sum().alias("dropped"),
        quarantine_mask.sum().alias("quarantined"),
    ).row(0, named=True)
    failures = {c.name: int(stats[f"f{i}"]) for i, c in enumerate(checks_)}
    failing = first_fail(checks_, failures)
    if failing is not None:
        raise ExpectationFailed(node, failing.name, failures[failing.name])

    flags = [c.flag for c in checks_]
    output = flagged.filter(~(drop_mask | quarantine_mask)).drop(flags)
    quarantine = None
    if any(c.action == "quarantine" for c in checks_):
        names = pl.concat_list(
            [pl.when(failed[c.name]).then(pl.lit(c.name)).otherwise(pl.lit(None, pl.String)) for c in checks_]
        ).list.drop_nulls()
        quarantine = flagged.filter(quarantine_mask).with_columns(names.alias(FAILED_COLUMN)).drop(flags)
    counts = QualityCounts(
        input_rows=flagged.height,
        output_rows=output.height,
        dropped_rows=int(stats["dropped"]),
        quarantined_rows=int(stats["quarantined"]),
        failures=failures,
    )
    return output, quarantine, counts
