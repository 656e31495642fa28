"""Per-key window operations on a frame sorted by key, without ``.over()``.

Polars' ``expr.over(keys)`` is slow with a million small groups; on a frame sorted by the
group columns the same results come from global scans with group boundaries. Build a frame
with :func:`mark_groups` (adds ``__g_new`` and ``__g_id``), then use the expressions here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import polars as pl

NEW = "__g_new"
GID = "__g_id"
_BIG = 1 << 31


def mark_groups(frame: pl.DataFrame, by: list[str], order: list[str]) -> pl.DataFrame:
    """Sort ``frame`` by ``by`` + ``order`` and mark where each group of ``by`` starts.

    When no two rows share ``by`` the frame is returned unsorted (each row its own group)."""
    import polars as pl

    if by and frame.height and _all_distinct(frame, by):
        # every group is one row: no sort needed (measured ~5x cheaper on 1M rows)
        return frame.with_columns(
            pl.lit(True).alias(NEW), pl.int_range(pl.len(), dtype=pl.Int64).alias(GID)
        )
    frame = frame.sort([*by, *order])
    new = pl.any_horizontal(pl.col(c).ne_missing(pl.col(c).shift(1)) for c in by)
    new = new.fill_null(True) if by else pl.int_range(pl.len()) == 0
    frame = frame.with_columns(new.alias(NEW))
    frame = frame.with_columns((pl.col(NEW).cast(pl.Int64).cum_sum() - 1).alias(GID))
    return frame


def _all_distinct(frame: pl.DataFrame, by: list[str]) -> bool:
    """True when no two rows share ``by`` (n_unique: measured ~3x cheaper than is_duplicated)."""
    if len(by) == 1:
        return frame.get_column(by[0]).n_unique() == frame.height
    return frame.select(by).n_unique() == frame.height


def regroup(frame: pl.DataFrame, by: list[str]) -> pl.DataFrame:
    """Recompute the group marks of a frame whose groups of ``by`` are contiguous (e.g. a
    filtered :func:`mark_groups` frame), without sorting it again."""
    import polars as pl

    new = pl.any_horizontal(pl.col(c).ne_missing(pl.col(c).shift(1)) for c in by)
    new = new.fill_null(True) if by else pl.int_range(pl.len()) == 0
    frame = frame.with_columns(new.alias(NEW))
    return frame.with_columns((pl.col(NEW).cast(pl.Int64).cum_sum() - 1).alias(GID))


def cum_max(x: pl.Expr) -> pl.Expr:
    """Running maximum within the group (``x``: integers from -1 to 2**31 - 2)."""
    import polars as pl

    offset = pl.col(GID) * _BIG
    return (x.cast(pl.Int64) + 1 + offset).cum_max() - offset - 1


def prev(x: pl.Expr) -> pl.Expr:
    """The previous row's value within the group (null on a group's first row)."""
    import polars as pl

    return pl.when(~pl.col(NEW)).then(x.shift(1))


def next_(x: pl.Expr) -> pl.Expr:
    """The next row's value within the group (null on a group's last row)."""
    import polars as pl

    return pl.when(~pl.col(NEW).shift(-1, fill_value=True)).then(x.shift(-1))


def cum_sum(x: pl.Expr) -> pl.Expr:
    """Running sum within the group (``x`` integer)."""
    import polars as pl

    total = x.cast(pl.Int64).cum_sum()
    base = pl.when(pl.col(NEW)).then(total - x.cast(pl.Int64)).forward_fill()
    return total - base


def forward_fill(x: pl.Expr, group: pl.Expr | None = None) -> pl.Expr:
    """Forward fill that does not cross the starts of ``group`` (default: the key group;
    ``group`` must be constant over consecutive rows)."""
    import polars as pl

    group = pl.col(GID) if group is None else group
    # a row takes the last non-null value only if that value came from its own group
    source_group = pl.when(x.is_not_null()).then(group).forward_fill()
    return pl.when(source_group == group).then(x.forward_fill())


def sub_group(col: str) -> pl.Expr:
    """A group id for (key group, ``col``) with ``col`` a small non-negative integer."""
    import polars as pl

    return pl.col(GID) * _BIG + pl.col(col)


def is_last() -> pl.Expr:
    """True on each group's last row."""
    import polars as pl

    return pl.col(NEW).shift(-1, fill_value=True)
