"""``apply_changes``: AUTO CDC (APPLY CHANGES) into a Delta table with deltalake.

Semantics: SCD type 1 in :mod:`kappa.cdc.scd1`, SCD type 2 in :mod:`kappa.cdc.scd2`. Both
give the same table for any split of an event stream into batches (applied in order).

State. What the target cannot tell (per key: the last applied sequence and whether the key is
deleted, incl. tombstones of deletes of unknown keys, and the last truncate; for SCD2 the log
of events) lives in a sibling Delta table, ``<table_uri>__kappa_cdc_state``
(:mod:`kappa.cdc.state`; ``state_uri=`` overrides it). SCD1 state rows are appended per batch
and compacted now and then, so a batch costs one target MERGE plus an append.

Batch independence. SCD1 applies events as if one at a time in arrival order (an event older
than the key's current state is skipped); with ``ignore_null_updates`` this folds the applied
events of a batch in order (DLT keeps only a batch's last event and coalesces it with the
target, which depends on the batching). SCD2 recomputes a touched key's history from its
logged events, so late events land where their sequence puts them.

Idempotency and crashes. Each batch is ``(app_id, version)``; versions increase. Both commits
of a batch (target first, then state) carry the Delta app transaction ``(app_id, version)``
and the metadata ``kappa.cdc.app_id`` / ``kappa.cdc.version``. The plan of a batch depends
only on the batch and the state *before* it (never on the target), so:

- target and state both at >= version: the batch was applied; nothing is done;
- target applied, state not (a crash between the two commits): the plan is recomputed from
  the current (pre-batch) state and only the state is committed;
- state applied, target not (cannot happen in this order, but repaired all the same): the
  plan is recomputed from the state as of the version before the commit that carries this
  batch (Delta time travel) and only the target is committed;
- neither: target, then state.

Concurrent writers of the target: a commit conflict is retried with exponential backoff up
to ``max_commit_retries`` times, then a :class:`KappaError` is raised. The state table has a
single writer: the sink that owns the target.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from kappa.cdc import nulls, state, target
from kappa.cdc.prepare import BATCH, OP, TRUNCATE, prepare
from kappa.delta.txn import CDC_TAGS, Txn, commit_version_of, open_table
from kappa.errors import KappaError
from kappa.plan_kinds import END_AT, RESERVED_PREFIX, START_AT, MergeOptions

if TYPE_CHECKING:  # pragma: no cover
    import polars as pl
    import pyarrow as pa
    from deltalake import DeltaTable


@dataclass(frozen=True)
class MergeStats:
    """Outcome of one ``apply_changes`` call.

    SCD1: ``inserted``/``updated``/``deleted`` are target rows (deltalake's MERGE metrics).
    SCD2: version rows added, changed (updated in place or closed) and removed (a late event
    moved a version's start).
    """

    inserted: int
    updated: int
    deleted: int
    skipped_stale: int
    skipped_duplicate_batch: bool
    events: int = 0
    truncated: bool = False
    state_repaired: bool = False
    target_repaired: bool = False


def apply_changes(
    table_uri: str,
    changes: pa.Table,
    spec: MergeOptions,
    *,
    app_id: str,
    version: int,
    storage_options: dict | None = None,
    state_uri: str | None = None,
) -> MergeStats:
    """Apply one batch of change events to the Delta table at ``table_uri`` (see module doc).

    ``spec`` is the plan's :class:`~kappa.plan_kinds.MergeOptions` (a
    :class:`~kappa.models.cdc.CdcMerge`, with the same fields, works as well).

    ``version`` must increase from batch to batch of the same ``app_id``; a batch whose
    version the target already carries is skipped, and so is an empty batch. Columns null in
    every event of the batch are typed (:mod:`kappa.cdc.nulls`), never dropped.
    """
    if not spec.resolved:  # Debezium defaults are filled when the plan is built, never here
        raise KappaError(f"CDC merge into {table_uri}: keys and sequence_by are not resolved")
    s_uri = state_uri or state.state_uri(table_uri)
    so = storage_options
    if changes.num_rows == 0 and not set(spec.keys + spec.sequence_columns) <= set(changes.column_names):
        # a batch of Debezium tombstones only: no event, and not even the key columns (those
        # come from the decoded rows) -- nothing to apply
        return MergeStats(0, 0, 0, 0, False)
    changes, untyped = nulls.typed_changes(changes, table_uri, s_uri, so)
    done = batch_progress(table_uri, s_uri, app_id, version, so)
    if done.target_done and done.state_done:
        return MergeStats(0, 0, 0, 0, True, events=changes.num_rows)
    prep = prepare(changes, spec, table=table_uri)
    ctx = _Ctx(table_uri, s_uri, so, spec, app_id, version, done.target_done, done.state_done,
               done.state_version, tuple(untyped))
    if spec.stored_as_scd_type == 1:
        return _scd1(ctx, prep)
    return _scd2(ctx, prep)


@dataclass(frozen=True)
class BatchProgress:
    """Where batch ``version`` of ``app_id`` stands in a CDC target and its state table."""

    target: DeltaTable | None
    state: DeltaTable | None
    target_done: bool
    state_done: bool
    #: the state version to plan from when only the target lacks the batch (module doc)
    state_version: int | None = None


def batch_progress(table_uri: str, s_uri: str, app_id: str, version: int,
                   storage_options: dict | None) -> BatchProgress:
    """What the two tables' app transactions say of the batch (both merge paths ask this)."""
    txn = Txn(app_id, version, CDC_TAGS)
    target, st = open_table(table_uri, storage_options), open_table(s_uri, storage_options)
    t_done, s_done = txn.done(target), txn.done(st)
    state_version: int | None = None
    if s_done and not t_done:
        assert st is not None
        committed = commit_version_of(st, app_id, version)
        if committed is None:
            raise KappaError(
                f"CDC state {s_uri} records batch {version} of {app_id!r} but no commit of it; "
                "cannot repair the target"
            )
        state_version = committed - 1
    return BatchProgress(target, st, t_done, s_done, state_version)


@dataclass(frozen=True)
class _Ctx:
    uri: str
    s_uri: str
    so: dict | None
    spec: MergeOptions
    app_id: str
    version: int
    t_done: bool
    s_done: bool
    state_version: int | None
    untyped: tuple[str, ...] = ()  # all-null columns of no known type, left out (kappa.cdc.nulls)

    @property
    def txn(self) -> Txn:
        return Txn(self.app_id, self.version, CDC_TAGS)

    def evolve(self, columns: list[str]) -> tuple[list[str] | None, bool]:
        """(target's columns or None, whether ``columns`` add some); raises if not allowed."""
        existing = target.table_columns(self.uri, self.so)
        return existing, target.check_schema(self.uri, existing, columns,
                                             self.spec.schema_evolution)


def _scd1(ctx: _Ctx, prep) -> MergeStats:
    import polars as pl

    from kappa.cdc.scd1 import plan_scd1

    spec, keys = ctx.spec, ctx.spec.keys
    has_trunc = bool(prep.frame.select((pl.col(OP) == TRUNCATE).any()).item())
    rows, wm = state.load_scd1(ctx.s_uri, ctx.so, ctx.state_version, prep.frame, keys, prep.seq,
                               full=has_trunc)
    plan = plan_scd1(prep.frame, rows, wm, keys=keys, seq=prep.seq,
                     data_columns=prep.data_columns, ignore_null_updates=spec.ignore_null_updates)
    metrics: dict = {}
    if not ctx.t_done:
        existing, evolve = ctx.evolve(prep.data_columns)
        metrics = target.write_scd1(
            ctx.uri, ctx.so, plan.source, keys=keys, data_columns=prep.data_columns,
            ignore_null_updates=spec.ignore_null_updates, truncate=plan.truncated,
            evolve=evolve, existing=existing, txn=ctx.txn, retries=spec.max_commit_retries,
        )
    if not ctx.s_done:
        state.write_scd1(
            ctx.s_uri, ctx.so, state_rows=plan.state_rows, watermark=plan.watermark,
            full_state=rows if plan.truncated else None, keys=keys,
            txn=ctx.txn, retries=spec.max_commit_retries,
        )
    return MergeStats(
        inserted=int(metrics.get("num_target_rows_inserted", 0)),
        updated=int(metrics.get("num_target_rows_updated", 0)),
        deleted=int(metrics.get("num_target_rows_deleted", 0)),
        skipped_stale=plan.skipped_stale,
        skipped_duplicate_batch=False,
        events=prep.frame.height,
        truncated=plan.truncated,
        state_repaired=ctx.t_done,
        target_repaired=ctx.s_done,
    )


def _scd2(ctx: _Ctx, prep) -> MergeStats:
    import polars as pl

    from kappa.cdc.scd2 import end_cols, history, start_cols, tracked_columns

    spec, keys = ctx.spec, ctx.spec.keys
    # first: with schema_evolution 'fail' a new column raises before any work is done
    evolve = ctx.evolve(prep.data_columns)[1] if not ctx.t_done else False
    new = prep.frame.with_columns(pl.lit(ctx.version, dtype=pl.Int64).alias(BATCH))
    log = state.load_scd2_log(ctx.s_uri, ctx.so, ctx.state_version, prep.frame, keys)
    data_cols = list(prep.data_columns)
    if log is not None:
        data_cols += [c for c in log.columns if c not in data_cols and not c.startswith(RESERVED_PREFIX)]
        # columns new with this batch: logged events had none (null), as in the target
        log = log.with_columns(
            pl.lit(None, dtype=new.schema[c]).alias(c) for c in data_cols if c not in log.columns
        )
    listed = (spec.track_history_column_list or []) + (spec.track_history_except_column_list or [])
    unknown = [c for c in listed if c not in data_cols and c not in ctx.untyped]
    if unknown:
        raise KappaError(f"track_history list names column(s) not in the target: {unknown}")
    # tracked over every column the key's events have (not only this batch's columns)
    tracked = tracked_columns(data_cols, keys, spec.sequence_columns,
                              spec.track_history_column_list,
                              spec.track_history_except_column_list)
    kw = dict(keys=keys, seq=prep.seq, data_columns=data_cols, tracked=tracked,
              ignore_null_updates=spec.ignore_null_updates)
    every = new if log is None else pl.concat([log, new], how="diagonal_relaxed")
    new_hist = history(every, **kw)
    old_hist = history(log, **kw) if log is not None and log.height else new_hist.head(0)
    if not ctx.t_done:
        rows = _pack(new_hist, data_cols, spec.sequence_columns, start_cols(len(prep.seq)),
                     end_cols(len(prep.seq)))
        target.write_scd2(
            ctx.uri, ctx.so, rows, prep.frame.select(keys).unique(), keys=keys, evolve=evolve,
            txn=ctx.txn, retries=spec.max_commit_retries,
        )
    if not ctx.s_done:
        state.append_scd2_log(ctx.s_uri, ctx.so, prep.frame, ctx.version,
                              txn=ctx.txn, retries=spec.max_commit_retries)
    ins, upd, dele = _diff(old_hist, new_hist, keys + start_cols(len(prep.seq)))
    return MergeStats(
        inserted=ins, updated=upd, deleted=dele, skipped_stale=0,
        skipped_duplicate_batch=False, events=prep.frame.height,
        state_repaired=ctx.t_done, target_repaired=ctx.s_done,
    )


def _pack(hist: pl.DataFrame, data_cols: list[str], seq_cols: list[str], starts: list[str],
          ends: list[str]) -> pl.DataFrame:
    """Internal start/end columns -> ``__START_AT`` / ``__END_AT`` (a struct if several)."""
    import polars as pl

    if len(starts) == 1:
        return hist.select(*data_cols, pl.col(starts[0]).alias(START_AT),
                           pl.col(ends[0]).alias(END_AT))
    start = pl.struct([pl.col(s).alias(n) for s, n in zip(starts, seq_cols)])
    end = pl.struct([pl.col(e).alias(n) for e, n in zip(ends, seq_cols)])
    return hist.select(
        *data_cols, start.alias(START_AT),
        pl.when(pl.col(ends[0]).is_null()).then(None).otherwise(end).alias(END_AT),
    )


def _diff(old: pl.DataFrame, new: pl.DataFrame, on: list[str]) -> tuple[int, int, int]:
    """(inserted, updated, deleted) version rows between two histories of the same keys."""
    if old.height == 0:
        return new.height, 0, 0
    inserted = new.join(old, on=on, how="anti", nulls_equal=True).height
    deleted = old.join(new, on=on, how="anti", nulls_equal=True).height
    common = new.height - inserted
    try:
        same = new.join(old, on=new.columns, how="semi",
                        nulls_equal=True).height
    except Exception:  # noqa: BLE001 - columns that cannot be join keys: count all as updated
        same = 0
    return inserted, max(common - same, 0), deleted
