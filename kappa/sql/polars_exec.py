"""Run an (already rendered) Spark SQL step on Polars LazyFrames."""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping

if TYPE_CHECKING:  # pragma: no cover
    import polars as pl


def run_sql(sql: str, tables: "Mapping[str, pl.LazyFrame]") -> "pl.LazyFrame":
    """Translate ``sql`` (Spark SQL, placeholders already rendered) and run it lazily on ``tables``.

    The table schemas drive the type-dependent translation rules (see
    :func:`kappa.sql.translate.to_polars_sql`; a translation made before comes from
    :mod:`kappa.sql.cache`, without sqlglot). A string -> timestamp cast of an input column reads
    a derived column added to that input here (:mod:`kappa.sql._hoist`). Returns a LazyFrame;
    nothing is collected here.
    """
    import polars as pl

    from kappa.sql._spark_names import polars_schema_to_spark
    from kappa.sql.cache import translation

    schemas = {name: polars_schema_to_spark(lf.collect_schema()) for name, lf in tables.items()}
    polars_sql, derived = translation(sql, schemas, _translate)  # translate_for_polars, or its cached result
    from kappa.sql.errors import SqlError

    frames = dict(tables)
    for column in derived:  # hoisted string -> timestamp casts (kappa.sql._hoist)
        frames[column.table] = frames[column.table].with_columns(column.expr())
    ctx = pl.SQLContext(frames, eager=False)
    try:
        out = ctx.execute(polars_sql, eager=False)
        out.collect_schema()  # resolve the plan now (no data is read): name errors surface here
        return out
    except pl.exceptions.PolarsError as err:
        raise SqlError(f"the SQL step cannot run on Polars: {type(err).__name__}: {err}") from err


def _translate(sql: str, schemas: Mapping[str, Mapping[str, str]]) -> tuple:
    from kappa.sql.translate import translate_for_polars  # sqlglot: only when the cache misses

    return translate_for_polars(sql, schemas)
