"""Typed nulls for CDC batches: a column null in every event of a batch is still a column.

Change feeds whose types come from the JSON values (Debezium envelopes, JSONL without a declared
schema) give a column that is null in every record of a batch the Arrow ``null`` type. Delta
cannot store that type, and kappa's generic writer drops such columns (as delta-spark drops
``NullType``). For a MERGE that would be wrong twice over: a missing column means "not part of
this change", a null value means "set to null". So before a batch is merged, every ``null``-typed
column becomes a typed null column, its type taken from (first match wins):

1. the target table's column of that name;
2. the CDC state's column of that name (an SCD2 log keeps every event's columns);
3. the type the source declared (Debezium's Connect schema, when the JSON converter wrote the
   ``{"schema", "payload"}`` wrapper: :func:`kappa.kafka.debezium.decode_debezium` types the
   column already).

A column with no type known anywhere is in neither the target nor the state yet: every row the
target holds has it null, so leaving it out of this batch changes nothing, and the first batch
with a value adds it (schema evolution) with its real type -- rather than inventing a type that
later values would have to be cast to. :func:`typed_changes` names such columns so that
``track_history_*`` lists may name them.

The other columns get delta-spark's Arrow conventions (:func:`kappa.delta.arrow.normalize_arrow_table`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kappa.delta.txn import open_table

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa


def _schema_types(uri: str, storage_options: dict | None) -> dict[str, "pa.DataType"]:
    import pyarrow as pa

    table = open_table(uri, storage_options)
    if table is None:
        return {}
    schema = pa.schema(table.schema().to_arrow())
    return {f.name: f.type for f in schema if not pa.types.is_null(f.type)}


def typed_changes(changes: "pa.Table", table_uri: str, state_uri: str,
                  storage_options: dict | None) -> tuple["pa.Table", list[str]]:
    """``changes`` in delta-spark's Arrow conventions with its ``null``-typed columns typed, and
    the names of those left out because no type is known yet (module doc)."""
    import pyarrow as pa

    from kappa.delta.arrow import normalize_arrow_table, normalize_arrow_type

    nulls = [f.name for f in changes.schema if pa.types.is_null(f.type)]
    if not nulls:
        return normalize_arrow_table(changes), []
    known = _schema_types(state_uri, storage_options)
    known.update(_schema_types(table_uri, storage_options))
    columns, fields, unknown = [], [], []
    for fld, column in zip(changes.schema, changes.columns):
        if fld.name in nulls and fld.name in known:
            dtype = normalize_arrow_type(known[fld.name])
            columns.append(pa.nulls(changes.num_rows, dtype))
            fields.append(pa.field(fld.name, dtype, nullable=True))
        elif fld.name in nulls:
            unknown.append(fld.name)
        else:
            columns.append(column)
            fields.append(fld)
    return normalize_arrow_table(pa.Table.from_arrays(columns, schema=pa.schema(fields))), unknown
