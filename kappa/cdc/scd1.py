"""SCD type 1 planning: which events of a batch take effect, and the MERGE source they give.

Semantics (the reference the tests' oracle implements): events are taken one at a time in
arrival order. Each carries an order key ``(sequence..., is_delete)``; a key's event applies
when its order key is >= the key's current one (last applied event, or the last truncate), so
an older event never overwrites a newer one, a delete beats an upsert with the same sequence,
and of two upserts with the same sequence the later arrival wins. An applied upsert replaces
the row (with ``ignore_null_updates``: null fields keep the row's current value, when the row
exists); an applied delete removes it; an applied truncate removes every row whose key's
order key is below the truncate's. Because applied order keys never decrease, the outcome
does not depend on how the stream is cut into batches.

Everything here is vectorised: ranks of order keys, cumulative maxima over arrival order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from kappa.cdc import window as w
from kappa.cdc.prepare import DELETE, DELETED, OP, RANK, ROW, TRUNCATE, UPSERT, add_seq_rank

if TYPE_CHECKING:  # pragma: no cover
    import polars as pl

ACTION = "__kappa_action"
REPLACE = "__kappa_replace"
_NONE = -1


@dataclass(frozen=True)
class Scd1Plan:
    """What one batch does: MERGE source rows, new state rows, new truncate watermark."""

    source: pl.DataFrame  # data columns + __kappa_action ('upsert'|'delete'|'keep') + __kappa_replace
    state_rows: pl.DataFrame  # keys + seq + __kappa_deleted for every key the batch touched
    watermark: pl.DataFrame | None  # seq of the newest applied truncate (one row), if any applied
    truncated: bool
    skipped_stale: int


def plan_scd1(
    events: pl.DataFrame,
    state: pl.DataFrame,
    watermark: pl.DataFrame | None,
    *,
    keys: list[str],
    seq: list[str],
    data_columns: list[str],
    ignore_null_updates: bool,
) -> Scd1Plan:
    """Plan one batch. ``state``: keys + seq + ``__kappa_deleted`` (all keys when the batch
    holds a truncate, else at least the batch's keys); ``watermark``: last truncate's seq."""
    import polars as pl

    values = [c for c in data_columns if c not in keys]
    # only ignore_null_updates needs the values while planning; else the plan runs on a narrow
    # frame and the applied events' values are gathered at the end (measured ~2x faster)
    carry = values if ignore_null_updates else []
    narrow = events.select(*keys, *seq, OP, ROW, *carry)
    wm = watermark if watermark is not None else state.head(0).select(seq)
    ev, st, wm = add_seq_rank(
        [narrow, state, wm],
        seq,
        [pl.col(OP) != UPSERT, pl.col(DELETED), pl.lit(True)],
    )
    wm_r = int(wm.get_column(RANK).max()) if wm.height else _NONE  # type: ignore[arg-type]
    st = st.with_columns(pl.col(DELETED).fill_null(False))
    ev = ev.sort(ROW).with_columns(
        pl.when(pl.col(OP) == TRUNCATE).then(pl.col(RANK)).otherwise(_NONE)
        .cum_max().shift(1, fill_value=_NONE).alias("__prev_trunc")
    )
    truncs = ev.filter(pl.col(OP) == TRUNCATE)
    applied_truncs = truncs.filter(pl.col(RANK) >= pl.max_horizontal("__prev_trunc", pl.lit(wm_r)))
    state_cols = st.select(*keys, pl.col(RANK).alias("__state_r"), pl.col(DELETED).alias("__state_del"))
    k = ev.filter(pl.col(OP) != TRUNCATE).join(state_cols, on=keys, how="left", nulls_equal=True)
    k = w.mark_groups(k, keys, [ROW])
    k = k.with_columns(w.prev(w.cum_max(pl.col(RANK))).fill_null(_NONE).alias("__prev_key_r"))
    floor = pl.max_horizontal(
        pl.col("__state_r").fill_null(_NONE), pl.lit(wm_r), "__prev_trunc", "__prev_key_r"
    )
    k = k.with_columns((pl.col(RANK) >= floor).alias("__applied"))
    skipped = int(k.filter(~pl.col("__applied")).height + truncs.height - applied_truncs.height)
    a = w.regroup(k.filter("__applied"), keys)  # still in (key, arrival) order
    prev_r = w.prev(pl.col(RANK))
    state_alive = (
        pl.col("__state_r").is_not_null()
        & ~pl.col("__state_del").fill_null(True)
        & (pl.col("__state_r") > wm_r)
        & ~(pl.col("__prev_trunc") > pl.col("__state_r"))
    )
    batch_alive = (w.prev(pl.col(OP)) == UPSERT) & ~(pl.col("__prev_trunc") > prev_r)
    a = a.with_columns(
        pl.when(prev_r.is_null()).then(state_alive).otherwise(batch_alive)
        .fill_null(False).alias("__alive")
    )
    a = a.with_columns(w.cum_sum(~pl.col("__alive")).alias("__seg"))
    t_max = int(applied_truncs.get_column(RANK).max()) if applied_truncs.height else _NONE  # type: ignore[arg-type]
    if carry:
        seg = w.sub_group("__seg")
        a = a.with_columns(
            w.forward_fill(pl.when(pl.col(OP) == UPSERT).then(pl.col(c)), seg).alias(c)
            for c in values
        )
    last = a.filter(w.is_last()).with_columns((pl.col("__seg") > 0).alias(REPLACE))
    dead = (pl.col(OP) == DELETE) | (pl.col(RANK) <= t_max)
    last = last.with_columns(
        pl.when(dead).then(pl.lit("delete")).otherwise(pl.lit("upsert")).alias(ACTION),
        dead.alias("__dead"),
    )
    if carry:
        source = last.select(*data_columns, ACTION, REPLACE)
    else:
        source = _with_values(last.select(*keys, ROW, ACTION, REPLACE), events, values)
        source = source.select(*data_columns, ACTION, REPLACE)
    state_rows = last.select(*keys, *seq, pl.col("__dead").alias(DELETED))
    new_wm = None
    if applied_truncs.height:
        new_wm = applied_truncs.sort(RANK).tail(1).select(seq)
        survivors = st.filter(pl.col(RANK) > t_max).join(last.select(keys), on=keys, how="anti")
        keep = survivors.select(*keys).with_columns(
            pl.lit("keep").alias(ACTION), pl.lit(False).alias(REPLACE)
        )
        source = pl.concat([source, keep], how="diagonal_relaxed")
    return Scd1Plan(
        source=source,
        state_rows=state_rows,
        watermark=new_wm,
        truncated=bool(applied_truncs.height),
        skipped_stale=skipped,
    )


def _with_values(rows: pl.DataFrame, events: pl.DataFrame, values: list[str]) -> pl.DataFrame:
    """``rows`` plus the ``values`` columns of the events they stand for (by ``__kappa_row``)."""
    import polars as pl

    if not values:
        return rows
    positional = events.select((pl.col(ROW) == pl.int_range(pl.len(), dtype=pl.Int64)).all()).item()
    if positional:  # prepare() numbers the events 0..n-1 in order: gather by position
        picked = events.select(values)[rows.get_column(ROW)]
        return pl.concat([rows, picked], how="horizontal")
    return rows.join(events.select(ROW, *values), on=ROW, how="left")
