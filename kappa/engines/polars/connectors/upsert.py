"""Delta ``mode: upsert`` on Polars: each batch is MERGEd into the table on the sink's keys.

Matched rows are updated (all columns), the others inserted -- the sink of a streaming
aggregate in update mode (a group's latest value replaces its previous one). The keys are
``sink.keys`` (the node's ``state.upsert_keys`` when not given). Keys match null-safely
(``IS NOT DISTINCT FROM``, Spark's ``<=>``); a struct key such as the ``window`` column matches
on its fields. Idempotent per batch id: the MERGE commit carries the app transaction
``(app_id, batch_id)`` (:mod:`kappa.delta.txn`), a batch the table already recorded is skipped,
and a MERGE that changes nothing still records it (an empty commit). The first batch creates
the table (an append carrying the transaction).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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


def upsert_delta(path: str, data: "pa.Table", keys: tuple[str, ...], app_id: str, batch_id: int,
                 storage_options: dict | None = None) -> bool:
    """MERGE ``data`` into the Delta table at ``path`` on ``keys`` as batch ``batch_id`` of
    ``app_id``; False when the table already carries that batch."""
    from deltalake import write_deltalake

    from kappa.delta.arrow import normalize_arrow_table
    from kappa.delta.txn import Txn, open_table, with_batch_retries

    if not keys:
        raise KappaError("a Delta sink with mode: upsert needs keys")
    txn = Txn(app_id, batch_id)
    data = normalize_arrow_table(data)
    predicate = _conditions(data.schema, tuple(keys))

    def attempt() -> bool:
        table = open_table(path, storage_options)
        if table is not None and txn.done(table):
            return False
        if table is None:
            write_deltalake(path, data, mode="append", storage_options=storage_options, commit_properties=txn.props())
            return True
        if data.num_rows:
            (table.merge(source=data, predicate=predicate, source_alias="s", target_alias="t",
                         commit_properties=txn.props())
             .when_matched_update_all().when_not_matched_insert_all().execute())
        txn.ensure_recorded(path, storage_options, data.schema)
        return True

    return with_batch_retries(attempt, path, txn)
