"""Streaming dedup on Polars: Spark's ``dropDuplicates(subset)`` and ``dropDuplicatesWithinWatermark``.

State: the keys seen so far (the ``subset`` columns; all columns when None), plus for a dedup
within the watermark the key's expiry (``__kappa_expiry`` = event time + delay, microseconds).

Per batch (Spark's rules, verified on Spark 4.2, see :mod:`kappa.engines.polars.stateful`):

1. downstream of a watermark, rows whose event time ``<= late`` are dropped (counted as late),
   whether or not the event-time column is in the subset;
2. the first row of each key in the batch survives unless the state holds the key;
3. the new keys go into the state; then the state evicts with ``evict``: a plain dedup only
   when the event-time column is in the subset (``time <= evict``), a dedup within the
   watermark when ``expiry <= evict``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import polars as pl

    from kappa.engines.polars.stateful.store import Change
    from kappa.stateful.spec import DedupSpec

EXPIRY = "__kappa_expiry"


def event_us(frame: "pl.DataFrame | pl.LazyFrame", column: str) -> "pl.Expr":
    """The event time of ``column`` as microseconds since the epoch (an expression)."""
    import polars as pl

    return pl.col(column).cast(pl.Datetime("us", "UTC")).dt.epoch("us")


def run_dedup(spec: "DedupSpec", frame: "pl.DataFrame", state: "pl.DataFrame | None", time_col: str | None,
              delay_us: int, late: int | None, evict: int | None) -> "tuple[pl.DataFrame, pl.DataFrame, int, Change]":
    """One batch of a streaming dedup: (output rows, new state, late rows, the state's change)."""
    import polars as pl

    from kappa.engines.polars.stateful.store import Change

    subset = list(spec.subset) if spec.subset else list(frame.columns)
    late_rows = 0
    if time_col is not None and late is not None:
        keep = event_us(frame, time_col) > late
        before = frame.height
        frame = frame.filter(keep.fill_null(True))
        late_rows = before - frame.height
    firsts = frame.unique(subset=subset, keep="first", maintain_order=True)
    if state is None:
        state = firsts.select(subset).clear()
        if spec.within_watermark:
            state = state.with_columns(pl.lit(None, pl.Int64).alias(EXPIRY))
    new = firsts.join(state.select(subset), on=subset, how="anti", nulls_equal=True, maintain_order="left")
    added = new.select(subset)
    if spec.within_watermark:
        t = event_us(new, time_col)
        t_ms = pl.when(t >= 0).then(t // 1000).otherwise(-((-t) // 1000))  # Spark keeps the expiry in ms
        added = added.with_columns(new.select((t_ms * 1000 + delay_us).alias(EXPIRY)).to_series())
    added = added.cast(state.schema)
    keep = None  # the state rows kept (None: every row)
    if evict is not None:
        if spec.within_watermark:
            keep = pl.col(EXPIRY) > evict
        elif time_col is not None and time_col in subset:
            keep = (event_us(state, time_col) > evict).fill_null(True)
    full = pl.concat([state, added], how="vertical")
    if keep is None:
        return new, full, late_rows, Change(tuple(subset), added, added.select(subset).clear())
    keep = keep.fill_null(False)
    change = Change(tuple(subset), added.filter(keep), state.filter(~keep).select(subset))
    return new, full.filter(keep), late_rows, change
