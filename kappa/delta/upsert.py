"""Delta ``mode: upsert`` with deltalake (engine-neutral; the Polars replay's sink): each batch is MERGEd into the table on the sink's keys.

Matched rows are updated (all columns), the others inserted -- the sink of a streaming
aggregate in update mode (a group's latest value replaces its previous one). The keys are
``sink.keys`` (the node's ``state.upsert_keys`` when not given). Keys match null-safely
(``IS NOT DISTINCT FROM``, Spark's ``<=>``); a struct key such as the ``window`` column matches
on its fields; the batch's key ranges are added as literals so the MERGE skips the files outside
them. Idempotent per batch id: the MERGE commit carries the app transaction
``(app_id, batch_id)`` (:mod:`kappa.delta.txn`), a batch the table already recorded is skipped,
and a MERGE that changes nothing still records it (an empty commit). The first batch creates
the table (an append carrying the transaction).

Where it certainly gives MERGE's outcome (a local unpartitioned table of the batch's schema,
unique batch keys, no table feature beyond writer protocol 2), the batch rewrites only the data
files holding its keys instead (:mod:`kappa.delta.upsert_files`: sorted bounded files, temporal keys first;
the first batch writes the table that way too); anything else takes deltalake's MERGE.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from kappa.errors import KappaError

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa


def _conditions(schema: "pa.Schema", keys: tuple[str, ...]) -> str:
    import pyarrow as pa

    parts = []
    for key in keys:
        if key not in schema.names:
            raise KappaError(f"upsert key {key!r} is not a column of the output ({', '.join(schema.names)})")
        field = schema.field(key)
        if pa.types.is_struct(field.type):
            sides = [(f"get_field(t.`{key}`, '{f.name}')", f"get_field(s.`{key}`, '{f.name}')") for f in field.type]
        else:
            sides = [(f"t.`{key}`", f"s.`{key}`")]
        parts += [f"({a} IS NOT DISTINCT FROM {b})" for a, b in sides]
    return " AND ".join(parts)


def _literal(value, typ) -> str | None:
    import pyarrow as pa

    if pa.types.is_integer(typ):
        return str(int(value))
    if pa.types.is_string(typ):
        return "'" + str(value).replace("'", "''") + "'"
    if pa.types.is_date32(typ):
        return f"CAST('{value.isoformat()}' AS DATE)"
    return None


def _bounds(data: "pa.Table", keys: tuple[str, ...]) -> str:
    """Literal ranges of the batch's keys (``t.k >= min AND t.k <= max``) so the MERGE can skip the
    target files whose statistics lie outside; only for keys without nulls (a null key matches a
    null key null-safely, which a range would exclude) of integer, string and date types."""
    import pyarrow as pa
    import pyarrow.compute as pc

    parts = []
    for key in keys:
        col = data.column(key)
        rangeable = pa.types.is_integer(col.type) or pa.types.is_string(col.type) or pa.types.is_date32(col.type)
        if data.num_rows == 0 or col.null_count or not rangeable:
            continue
        bounds = pc.min_max(col)
        lo, hi = _literal(bounds["min"].as_py(), col.type), _literal(bounds["max"].as_py(), col.type)
        if lo is not None and hi is not None:
            parts.append(f"t.`{key}` >= {lo} AND t.`{key}` <= {hi}")
    return "".join(f" AND {p}" for p in parts)


def upsert_delta(path: str, data: "pa.Table", keys: tuple[str, ...], app_id: str, batch_id: int,
                 storage_options: dict | None = None, partition_by: Sequence[str] = (), evolve: bool = False) -> bool:
    """MERGE ``data`` into the Delta table at ``path`` on ``keys`` as batch ``batch_id`` of
    ``app_id``; False when the table already carries that batch. ``partition_by``: the table's
    partition columns when this batch creates it (a partitioned table is written and merged by
    deltalake, never by the fast path); ``evolve``: a MERGE adds the batch's new columns
    (deltalake's ``merge_schema``; a batch whose schema differs from the table's never takes the
    fast path)."""
    from deltalake import Schema, write_deltalake
    from deltalake.transaction import create_table_with_add_actions

    from kappa.delta.arrow import normalize_arrow_table
    from kappa.delta import upsert_files
    from kappa.delta.tables import latest
    from kappa.delta.txn import Txn, with_batch_retries

    if not keys:
        raise KappaError("a Delta sink with mode: upsert needs keys")
    keys = tuple(keys)
    txn = Txn(app_id, batch_id)
    data = normalize_arrow_table(data)
    predicate = _conditions(data.schema, tuple(keys)) + _bounds(data, tuple(keys))

    def attempt() -> bool:
        table = latest(path, storage_options)  # the table reused while current (kappa.delta.tables)
        if table is not None and txn.done(table):
            return False
        if table is None:
            root = upsert_files.local_folder(path)
            if root is not None and data.num_rows and not partition_by:  # sorted bounded files (kappa.delta.upsert_files)
                create_table_with_add_actions(path, Schema.from_arrow(data.schema), upsert_files.create(root, data, keys),
                                              mode="append", commit_properties=txn.props())
            else:
                write_deltalake(path, data, mode="append", partition_by=list(partition_by) or None,
                                storage_options=storage_options, commit_properties=txn.props())
            return True
        if not data.num_rows:  # a MERGE that changes nothing writes no commit
            txn.ensure_recorded(path, storage_options, data.schema)
        elif upsert_files.applies(table, data, keys):  # only the files holding the batch's keys are rewritten
            upsert_files.rewrite(table, data, keys, txn.props())
        else:  # matched rows are rewritten, the others inserted: always a commit
            (table.merge(source=data, predicate=predicate, source_alias="s", target_alias="t", merge_schema=evolve,
                         commit_properties=txn.props())
             .when_matched_update_all().when_not_matched_insert_all().execute())
        return True

    return with_batch_retries(attempt, path, txn)
