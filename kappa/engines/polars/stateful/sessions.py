"""Session windows (``session_window(ts, gap)``) on Polars: sessions per key, merged across batches.

A row at ``t`` opens the session ``[t, t + gap)``; sessions of the same key that overlap or touch
(``next.start <= end``) merge into one (Spark 4.2: a@12:20 from one batch and a@12:15 from the
next give the session [12:15, 12:25)). A row is late when its own session ends ``<= late``.
State: one row per open session (``__ws``/``__we`` and the partial aggregates); a batch merges
its rows with the state sessions of the keys it touches.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:  # pragma: no cover
    import polars as pl

    from kappa.engines.polars.stateful.sqlsplit import SplitSql


def assign_sessions(pre: "pl.DataFrame", gap_us: int, late: int | None) -> "tuple[pl.DataFrame, int]":
    """Each row's own session ``[t, t+gap)``; rows with a null time or a late session dropped."""
    import polars as pl

    t = pl.col("__t").cast(pl.Datetime("us", "UTC")).dt.epoch("us")
    pre = pre.filter(pl.col("__t").is_not_null()).with_columns(t.alias("__ws"))
    pre = pre.with_columns((pl.col("__ws") + gap_us).alias("__we")).drop("__t")
    late_rows = 0
    if late is not None:
        before = pre.height
        pre = pre.filter(pl.col("__we") > late)
        late_rows = before - pre.height
    return pre, late_rows


def merge_sessions(split: "SplitSql", frame: "pl.DataFrame", keys: list[str], merge: Callable) -> "pl.DataFrame":
    """Merge overlapping or touching sessions of each key (partials merged with ``merge``)."""
    import polars as pl

    frame = frame.sort([*keys, "__ws"], nulls_last=True)
    prev_end = pl.col("__we").cum_max().shift(1).over(keys) if keys else pl.col("__we").cum_max().shift(1)
    starts = (prev_end.is_null() | (pl.col("__ws") > prev_end)).cast(pl.Int64)
    sid = starts.cum_sum().over(keys) if keys else starts.cum_sum()
    frame = frame.with_columns(sid.alias("__sid"))
    out = merge(split, frame, [*keys, "__sid"], [pl.col("__ws").min(), pl.col("__we").max()])
    return out.drop("__sid").select(["__ws", "__we", *keys, *[c for c in out.columns if c not in ("__ws", "__we", "__sid", *keys)]])
