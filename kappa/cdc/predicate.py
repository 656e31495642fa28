"""Evaluate a Spark SQL predicate (``apply_as_deletes`` / ``apply_as_truncates``) on a batch.

One small function, easy to swap: it uses :func:`kappa.sql.polars_exec.run_sql` (Spark SQL
translated to Polars) when available, else ``polars.SQLContext`` directly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kappa.errors import KappaError

if TYPE_CHECKING:  # pragma: no cover
    import polars as pl

_FLAG = "__kappa_pred"


def eval_predicate(frame: pl.DataFrame, predicate: str, *, what: str) -> pl.Series:
    """Boolean Series, one value per row of ``frame``: the predicate holds (null counts as false)."""
    import polars as pl

    sql = f"SELECT ({predicate}) AS {_FLAG} FROM changes"
    lazy = {"changes": frame.lazy()}
    try:
        try:
            from kappa.sql.polars_exec import run_sql
        except ImportError:  # pragma: no cover - kappa.sql not installed
            out = pl.SQLContext(lazy, eager=False).execute(sql, eager=False).collect()
        else:
            out = run_sql(sql, lazy).collect()
    except Exception as err:  # noqa: BLE001 - any parse/plan error is a config problem
        raise KappaError(f"{what} predicate {predicate!r} cannot be evaluated: {err}") from err
    series = out.get_column(out.columns[0])
    if series.dtype != pl.Boolean or len(series) != frame.height:
        raise KappaError(f"{what} predicate {predicate!r} does not give one boolean per row")
    return series.fill_null(False).alias(_FLAG)
