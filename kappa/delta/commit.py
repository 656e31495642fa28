"""Delta writes split in three: plan the schema, write files anywhere, commit them once.

For writers whose data is written by many workers (the Spark engine's executors) and committed
by one coordinator, with the same outcome as :meth:`kappa.delta.writer.DeltaWriter.write_arrow`
(``write_deltalake`` on the whole batch):

1. :func:`plan_write` (coordinator, before any data is written) decides the table schema and
   partition columns the batch is written with. It is ``write_deltalake``'s own decision: an
   empty Arrow table of the batch's (normalized) schema is written with the same mode,
   ``schema_mode`` and ``partition_by`` to a scratch copy of the table's metadata, so schema
   merging, casts and refusals (strict mode, other partitioning) are delta-rs's, message
   included. When the batch's schema is the table's, the scratch write is skipped.
2. :func:`conform` (workers) casts a normalized batch to that schema (columns in table order,
   missing columns as nulls); the workers write Parquet files and ``add`` actions.
3. :func:`commit_adds` (coordinator) commits every worker's ``add`` actions in one transaction
   carrying the app transaction ``(app_id, batch_id)``: a batch already committed is skipped, an
   empty append to an existing table commits nothing, concurrent commits are retried. delta-rs
   only changes the schema of an append through a write, so new columns of an append are first
   committed by an empty ``write_deltalake`` (one extra metadata-only commit); an overwrite
   replaces the files and sets the schema in its single commit. The app transaction, its
   metadata and the retry policy are :mod:`kappa.delta.txn`'s (as for every kappa commit).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from kappa.delta.arrow import DeltaWriteError, normalize_arrow_type
from kappa.delta.txn import Txn, is_conflict, open_table, with_batch_retries

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa


def normalized_schema(schema: pa.Schema) -> pa.Schema:
    """``schema`` as :func:`~kappa.delta.arrow.normalize_arrow_table` leaves a table of it."""
    import pyarrow as pa

    return pa.schema(
        [pa.field(f.name, normalize_arrow_type(f.type)) for f in schema if not pa.types.is_null(f.type)]
    )


def table_schema(table) -> pa.Schema:
    """A Delta table's schema as normalized Arrow."""
    import pyarrow as pa

    return normalized_schema(pa.schema(table.schema().to_arrow()))


def plan_write(
    table_uri: str,
    data_schema: pa.Schema,
    *,
    mode: str,
    partition_by: Sequence[str] | None,
    schema_mode: str | None,
    storage_options: Mapping[str, str] | None = None,
) -> tuple[pa.Schema, list[str]]:
    """The (schema, partition columns) ``write_deltalake`` would give the table after writing
    a batch of ``data_schema``; raises what it would raise for a refused schema."""
    from deltalake import DeltaTable, write_deltalake

    data = normalized_schema(data_schema)
    table = open_table(table_uri, storage_options)
    if table is not None:
        current, parts = table_schema(table), list(table.metadata().partition_columns)
        same = {f.name: f.type for f in current} == {f.name: f.type for f in data}
        if same and (not partition_by or list(partition_by) == parts):
            return current, parts
    scratch = tempfile.mkdtemp(prefix="kappa-delta-plan-")
    try:
        if table is not None:
            DeltaTable.create(scratch, schema=table.schema(), partition_by=parts or None)
        write_deltalake(
            scratch,
            data.empty_table(),
            mode=mode,
            partition_by=list(partition_by) if partition_by else None,
            schema_mode=schema_mode,
        )
        planned = DeltaTable(scratch)
        return table_schema(planned), list(planned.metadata().partition_columns)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def conform(table: pa.Table, target: pa.Schema) -> pa.Table:
    """A normalized table cast to ``target``: target's column order, missing columns null."""
    import pyarrow as pa

    columns = []
    for fld in target:
        if fld.name in table.column_names:
            column = table.column(fld.name)
            if column.type != fld.type:
                try:
                    column = column.cast(fld.type)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                    raise DeltaWriteError(
                        f"column {fld.name!r} of type {column.type} cannot be stored as {fld.type}: {exc}"
                    ) from exc
        else:
            column = pa.nulls(table.num_rows, fld.type)
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=target)


def commit_adds(
    table_uri: str,
    actions: list[Any],
    *,
    rows: int,
    mode: str,
    schema: pa.Schema,
    partition_by: Sequence[str] | None,
    app_id: str,
    batch_id: int,
    storage_options: Mapping[str, str] | None = None,
    custom_metadata: Mapping[str, Any] | None = None,
    removes: Sequence[Any] = (),
) -> str:
    """Commit ``actions`` (deltalake ``AddAction``s holding ``rows`` rows) as batch
    ``batch_id`` of ``app_id``: ``"committed"``, ``"skipped"`` (already committed) or
    ``"empty"`` (an empty append to an existing table: nothing to commit).

    ``removes`` (``RemoveAction``s of an append to an existing table: the files a rewrite
    replaces, e.g. the executor-side upsert) go in the same commit. They were chosen from one
    version of the table, so a concurrent commit is not retried over them: it fails the batch
    (kappa has one writer per table; the rerun redoes the batch from the new version)."""
    from deltalake import Schema, write_deltalake
    from deltalake.transaction import create_table_with_add_actions

    options = dict(storage_options or {}) or None
    parts = list(partition_by) if partition_by else None
    txn = Txn(app_id, batch_id)
    creating = [False]  # whether the last attempt found no table

    def attempt() -> str:  # a concurrent writer won: re-check and retry
        table = open_table(table_uri, options)
        creating[0] = table is None
        if table is not None:
            if txn.done(table):
                return "skipped"
            if rows == 0 and mode == "append" and not removes:
                return "empty"
        props = txn.props(custom_metadata)
        if table is None:
            create_table_with_add_actions(
                table_uri, Schema.from_arrow(schema), actions, mode="error",
                partition_by=parts, storage_options=options, commit_properties=props,
            )
            return "committed"
        if mode == "append" and table_schema(table) != schema:
            write_deltalake(table, schema.empty_table(), mode="append", schema_mode="merge")
            table.update_incremental()
        table.create_write_transaction(
            [*actions, *removes], mode, Schema.from_arrow(schema), parts, commit_properties=props
        )
        return "committed"

    def retry_on(exc: BaseException) -> bool:  # a table created meanwhile: retry as an append
        if removes:
            return False
        return is_conflict(exc) or (creating[0] and "already exists" in str(exc))

    return with_batch_retries(attempt, table_uri, txn, retry_on)
