"""The CDC state table kept next to a target: ``<table_uri>__kappa_cdc_state``.

SCD type 1: per key ever seen (``__kappa_kind = 'key'``): the key, the sequence of its last
applied event (``__kappa_seq_<i>``) and whether that left the key deleted
(``__kappa_deleted``; deletes of unknown keys are recorded the same way, as tombstones), plus
``__kappa_kind = 'truncate'`` rows holding applied truncates' sequences. Each batch *appends*
the rows of the keys it touched, tagged ``__kappa_batch`` (its version); a key's current row
is its latest. Appending costs O(batch) instead of a MERGE's O(state); when the files pile up
(:data:`COMPACT_FILES`) the state is rewritten with one row per key.

SCD type 2: the log of every event received (data columns, sequence, ``__kappa_op``,
``__kappa_batch``, ``__kappa_row``), from which a key's history is recomputed.

Every state commit carries the same app transaction as the batch's target commit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kappa.cdc import deltaio
from kappa.cdc.prepare import BATCH, DELETED, KIND
from kappa.delta.txn import Txn, open_table, with_retries

if TYPE_CHECKING:  # pragma: no cover
    import polars as pl

SUFFIX = "__kappa_cdc_state"


def state_uri(table_uri: str) -> str:
    """Where the state of the CDC target ``table_uri`` lives: a sibling Delta table."""
    return table_uri.rstrip("/") + SUFFIX


def _cast_like(frame: pl.DataFrame, like: pl.DataFrame, cols: list[str]) -> pl.DataFrame:
    import polars as pl

    return frame.with_columns(
        pl.col(c).cast(like.schema[c]) for c in cols if frame.schema[c] != like.schema[c]
    )


def load_scd1(
    uri: str, storage_options: dict | None, version: int | None, events: pl.DataFrame,
    keys: list[str], seq: list[str], *, full: bool,
) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    """Key rows (all when ``full``, else those of ``events``' keys) and the truncate watermark.

    Rows are appended per batch; a key's current row is its latest (highest ``__kappa_batch``).
    """
    import polars as pl

    cols = [*keys, *seq]
    empty = events.head(0).select(*cols, pl.lit(False).alias(DELETED))
    if version == -1 or open_table(uri, storage_options) is None:
        return empty, None
    lf = deltaio.scan(uri, storage_options, version)
    rows = lf.select(*cols, DELETED, BATCH, KIND)
    is_trunc = pl.col(KIND) == "truncate"
    truncs = None  # truncate rows, when not read along with the key rows
    if full:
        pass
    elif len(keys) == 1:  # measured: is_in is ~3x faster than a semi join here
        wanted = events.get_column(keys[0]).drop_nulls().unique()
        wanted = wanted.cast(rows.collect_schema()[keys[0]])
        rows = rows.filter(pl.col(keys[0]).is_in(wanted.implode()) | is_trunc)  # one scan
    else:
        rows = rows.join(events.select(keys).unique().lazy(), on=keys, how="semi",
                         nulls_equal=True)
        truncs = lf.filter(is_trunc).select(*cols, DELETED, BATCH, KIND).collect()
    found = rows.collect()
    rows_df = _latest(found.filter(pl.col(KIND) == "key").drop(KIND), keys).drop(BATCH)
    rows_df = _cast_like(rows_df, empty, cols)
    wm = (found if truncs is None else truncs).filter(is_trunc).sort(BATCH).tail(1).select(seq)
    return rows_df, (_cast_like(wm, empty, seq) if wm.height else None)


def _latest(rows: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """Each key's latest row (rows of one key come from different batches)."""
    import polars as pl

    distinct = (rows.get_column(keys[0]).n_unique() if len(keys) == 1
                else rows.select(keys).n_unique())
    if distinct == rows.height:  # the common case, ~3x cheaper to check than is_duplicated
        return rows
    dup = rows.select(keys).is_duplicated()
    latest = rows.filter(dup).sort(BATCH).unique(subset=keys, keep="last")
    return pl.concat([rows.filter(~dup), latest])


def write_scd1(
    uri: str, storage_options: dict | None, *, state_rows: pl.DataFrame,
    watermark: pl.DataFrame | None, full_state: pl.DataFrame | None,
    keys: list[str], txn: Txn, retries: int,
) -> None:
    """Commit a batch's state: append the touched keys' rows (compacting now and then), or
    rewrite the whole state when a truncate applied."""
    import polars as pl
    from deltalake import write_deltalake

    rows = state_rows.with_columns(pl.lit("key").alias(KIND),
                                   pl.lit(txn.version, dtype=pl.Int64).alias(BATCH))
    if watermark is not None:
        assert full_state is not None
        untouched = full_state.join(state_rows.select(keys), on=keys, how="anti", nulls_equal=True)
        wm = watermark.with_columns(pl.lit(True).alias(DELETED), pl.lit("truncate").alias(KIND))
        everything = pl.concat(
            [rows, untouched.with_columns(pl.lit("key").alias(KIND)), wm], how="diagonal_relaxed"
        ).with_columns(pl.lit(txn.version, dtype=pl.Int64).alias(BATCH))
        with_retries(
            lambda: write_deltalake(uri, deltaio.arrow(everything), mode="overwrite",
                                    schema_mode="overwrite", storage_options=storage_options,
                                    commit_properties=txn.props()),
            retries=retries, what=f"CDC state table {uri}",
        )
        return
    with_retries(
        lambda: write_deltalake(uri, deltaio.arrow(rows), mode="append", schema_mode="merge",
                                storage_options=storage_options, commit_properties=txn.props()),
        retries=retries, what=f"CDC state table {uri}",
    )
    maybe_compact(uri, storage_options, keys)


#: Compact the SCD1 state when it has more data files than this.
COMPACT_FILES = 24


def maybe_compact(uri: str, storage_options: dict | None, keys: list[str]) -> bool:
    """Rewrite the SCD1 state with one row per key when appends left too many files.

    The rewrite is one atomic overwrite commit holding the same rows a reader would pick, so
    a crash at any point leaves a valid state; app transactions survive it.
    """
    import polars as pl
    from deltalake import CommitProperties, write_deltalake

    table = open_table(uri, storage_options)
    if table is None or len(table.file_uris()) <= COMPACT_FILES:
        return False
    lf = deltaio.scan(uri, storage_options, table.version())
    rows = _latest(lf.filter(pl.col(KIND) == "key").collect(), keys)
    wm = lf.filter(pl.col(KIND) == "truncate").sort(BATCH).tail(1).collect()
    compact = pl.concat([rows, wm], how="vertical_relaxed")
    write_deltalake(uri, deltaio.arrow(compact), mode="overwrite",
                    storage_options=storage_options,
                    commit_properties=CommitProperties(custom_metadata={"kappa.cdc.compaction": "1"}))
    return True


def load_scd2_log(
    uri: str, storage_options: dict | None, version: int | None, events: pl.DataFrame,
    keys: list[str],
) -> pl.DataFrame | None:
    """Logged events of ``events``' keys (None when there is no log yet)."""
    if version == -1 or open_table(uri, storage_options) is None:
        return None
    lf = deltaio.scan(uri, storage_options, version)
    wanted = events.select(keys).unique().lazy()
    return lf.join(wanted, on=keys, how="semi", nulls_equal=True).collect()


def append_scd2_log(
    uri: str, storage_options: dict | None, events: pl.DataFrame, batch: int, *,
    txn: Txn, retries: int,
) -> None:
    """Append a batch's events to the SCD2 log (new columns evolve the log's schema)."""
    import polars as pl
    from deltalake import write_deltalake

    rows = events.with_columns(pl.lit(batch, dtype=pl.Int64).alias(BATCH))
    with_retries(
        lambda: write_deltalake(uri, deltaio.arrow(rows), mode="append", schema_mode="merge",
                                storage_options=storage_options,
                                commit_properties=txn.props()),
        retries=retries, what=f"CDC state table {uri}",
    )
