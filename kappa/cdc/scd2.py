"""SCD type 2 history, computed from a key's events (vectorised).

Semantics (the reference the tests' oracle implements), per key, over *all* events ever
received, whatever batches they came in:

1. An upsert with the same sequence as a delete of the same key is dropped (the delete wins);
   of several upserts with the same sequence the later arrival wins (with
   ``ignore_null_updates`` its null fields take the earlier ones' values).
2. Events are replayed in sequence order. An upsert when no version is open opens one
   (``__START_AT`` = its sequence). An upsert that changes a tracked column closes the open
   version (``__END_AT`` = its sequence) and opens a new one; one that changes only untracked
   columns updates the open version in place; one that changes nothing adds nothing. With
   ``ignore_null_updates`` a null field keeps the open version's value. A delete closes the
   open version (``__END_AT`` = the delete's sequence); with none open it does nothing.

So a late event lands where its sequence puts it: the version it falls inside is split.
Because the outcome is a function of the event set, the history for a key is recomputed
from its logged events whenever a batch touches that key (see :mod:`kappa.cdc.merge`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kappa.cdc import window as w
from kappa.cdc.prepare import BATCH, DELETE, OP, ROW, UPSERT

if TYPE_CHECKING:  # pragma: no cover
    import polars as pl

START = "__kappa_start_"
END = "__kappa_end_"


def start_cols(n: int) -> list[str]:
    """Internal names of the history start columns."""
    return [f"{START}{i}" for i in range(n)]


def end_cols(n: int) -> list[str]:
    """Internal names of the history end columns."""
    return [f"{END}{i}" for i in range(n)]


def tracked_columns(data_columns: list[str], keys: list[str], seq_columns: list[str],
                    track: list[str] | None, track_except: list[str] | None) -> list[str]:
    """Columns whose change opens a new version (default: all but keys and sequence columns)."""
    base = [c for c in data_columns if c not in keys and c not in seq_columns]
    if track is not None:
        return [c for c in data_columns if c in set(track)]
    if track_except is not None:
        return [c for c in base if c not in set(track_except)]
    return base


def history(
    events: pl.DataFrame,
    *,
    keys: list[str],
    seq: list[str],
    data_columns: list[str],
    tracked: list[str],
    ignore_null_updates: bool,
) -> pl.DataFrame:
    """Versions of every key in ``events``: data columns + internal start/end columns.

    ``events`` has the data columns, the internal sequence columns, ``__kappa_op``,
    ``__kappa_batch`` and ``__kappa_row`` (arrival order = (batch, row)).
    """
    import polars as pl

    n = len(seq)
    ks = keys + seq
    dels = events.filter(pl.col(OP) == DELETE).unique(subset=ks, keep="first")
    ups = events.filter(pl.col(OP) == UPSERT).join(
        dels.select(ks), on=ks, how="anti", nulls_equal=True
    )
    allev = w.mark_groups(pl.concat([ups, dels], how="diagonal_relaxed"), keys,
                          [*seq, OP, BATCH, ROW])
    is_del = pl.col(OP) == DELETE
    allev = allev.with_columns((w.cum_sum(is_del) - is_del.cast(pl.Int64)).alias("__seg"))
    closers = allev.filter(is_del).select(
        *keys, "__seg", *[pl.col(s).alias(f"__del_{i}") for i, s in enumerate(seq)]
    )
    ups = allev.filter(~is_del).with_columns(w.sub_group("__seg").alias("__sg"))
    sg = pl.col("__sg")
    values = [c for c in data_columns if c not in keys]
    if ignore_null_updates and values:
        ups = ups.with_columns(w.forward_fill(pl.col(c), sg).alias(c) for c in values)
    # of several upserts with one sequence value the last (after filling) stands for them all
    same_as_next = pl.all_horizontal(pl.col(c).eq_missing(pl.col(c).shift(-1)) for c in ks)
    ups = ups.filter(~same_as_next.fill_null(False))
    first_in_seg = sg.ne_missing(sg.shift(1))
    changed = first_in_seg
    if tracked:
        changed = changed | pl.any_horizontal(
            pl.col(c).ne_missing(pl.col(c).shift(1)) for c in tracked
        )
    ups = ups.with_columns(changed.alias("__changed"))
    starts, ends = start_cols(n), end_cols(n)
    ups = ups.with_columns(
        pl.when("__changed").then(pl.col(s)).forward_fill().alias(st) for s, st in zip(seq, starts)
    )
    last_of_version = pl.col("__changed").shift(-1, fill_value=True)
    versions = ups.filter(last_of_version)
    same_seg_next = sg.eq_missing(sg.shift(-1)).fill_null(False)
    versions = versions.with_columns(
        pl.when(same_seg_next).then(pl.col(st).shift(-1)).alias(f"__next_{i}")
        for i, st in enumerate(starts)
    )
    versions = versions.join(closers, on=[*keys, "__seg"], how="left", nulls_equal=True)
    has_next = pl.col("__next_0").is_not_null()
    versions = versions.with_columns(
        pl.when(has_next).then(pl.col(f"__next_{i}")).otherwise(pl.col(f"__del_{i}")).alias(e)
        for i, e in enumerate(ends)
    )
    return versions.select(*data_columns, *starts, *ends).sort([*keys, *starts])
