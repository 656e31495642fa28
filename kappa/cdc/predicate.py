"""Evaluate a Spark SQL predicate (``apply_as_deletes`` / ``apply_as_truncates``) on a batch.

One small function, easy to swap: it uses :func:`kappa.sql.polars_exec.run_sql` (Spark SQL
translated to Polars) when available, else ``polars.SQLContext`` directly.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from kappa.errors import KappaError

if TYPE_CHECKING:  # pragma: no cover
    import polars as pl

_FLAG = "__kappa_pred"


# `col = 'literal'` or `col IN ('a', 'b')`: plain or back-quoted column, plain string literals
_NAME = r"(?:`(?P<q>[^`]+)`|(?P<n>[A-Za-z_][A-Za-z0-9_]*))"
_LIT = r"'[^'\\]*'"
_EQ = re.compile(rf"^\s*{_NAME}\s*=\s*(?P<lit>{_LIT})\s*$")
_IN = re.compile(rf"^\s*{_NAME}\s+IN\s*\((?P<lits>\s*{_LIT}(?:\s*,\s*{_LIT})*)\s*\)\s*$",
                 re.IGNORECASE)


def simple_predicate(predicate: str) -> tuple[str, list[str]] | None:
    """``(column, literals)`` when ``predicate`` is ``col = 'x'`` or ``col IN ('x', ...)``.

    >>> simple_predicate("_op = 'delete'")
    ('_op', ['delete'])
    >>> simple_predicate("`my op` in ('d', 't')")
    ('my op', ['d', 't'])
    >>> simple_predicate("op = 'd' OR x > 1") is None
    True
    """
    m = _EQ.match(predicate) or _IN.match(predicate)
    if m is None:
        return None
    column = m.group("q") or m.group("n")
    if "lit" in m.groupdict() and m.group("lit") is not None:
        return column, [m.group("lit")[1:-1]]
    return column, [x.strip()[1:-1] for x in re.findall(_LIT, m.group("lits"))]


def _fast(frame: pl.DataFrame, predicate: str) -> pl.Series | None:
    """The predicate compared directly in Polars, when simple and on a string column."""
    import polars as pl

    simple = simple_predicate(predicate)
    if simple is None:
        return None
    column, literals = simple
    # Spark resolves column names case-insensitively; only an exact, unique match is fast
    if column not in frame.columns or frame.schema[column] not in (pl.String, pl.Categorical):
        return None
    col = pl.col(column).cast(pl.String)
    expr = col == literals[0] if len(literals) == 1 else col.is_in(literals)
    return frame.select(expr.fill_null(False).alias(_FLAG)).to_series()


def eval_predicate(frame: pl.DataFrame, predicate: str, *, what: str) -> pl.Series:
    """Boolean Series, one value per row of ``frame``: the predicate holds (null counts as false).

    ``col = 'x'`` / ``col IN ('x', ...)`` on a string column is compared directly (the same
    result as Spark SQL's, measured ~20x faster on a million rows); anything else goes
    through the Spark SQL translator.
    """
    import polars as pl

    fast = _fast(frame, predicate)
    if fast is not None:
        return fast
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
