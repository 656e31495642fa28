"""Typed nulls for CDC batches: a column null in every event of a batch is still a column.

Change feeds whose types come from the JSON values (Debezium envelopes, JSONL without a declared
schema) give a column that is null in every record of a batch the Arrow ``null`` type. Delta
cannot store that type, and kappa's generic writer drops such columns (as delta-spark drops
``NullType``). For a MERGE that would be wrong twice over: a missing column means "not part of
this change", a null value means "set to null". So before a batch is merged, every ``null``-typed
column becomes a typed null column, its type taken from (first match wins):

1. the target table's column of that name;
2. the CDC state's column of that name (an SCD2 log keeps every event's columns);
3. ``string`` -- Spark's JSON schema inference types a field that is null in every record as
   ``STRING``; the column then exists in the target from its first batch on, and a later
   batch's values of another type are cast to it by the MERGE (``4`` -> ``'4'``).

The other columns get delta-spark's Arrow conventions (:func:`kappa.delta.arrow.normalize_arrow_table`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kappa.cdc import deltaio

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa


def _schema_types(uri: str, storage_options: dict | None) -> dict[str, "pa.DataType"]:
    import pyarrow as pa

    table = deltaio.open_table(uri, storage_options)
    if table is None:
        return {}
    schema = pa.schema(table.schema().to_arrow())
    return {f.name: f.type for f in schema if not pa.types.is_null(f.type)}


def typed_changes(changes: "pa.Table", table_uri: str, state_uri: str,
                  storage_options: dict | None) -> "pa.Table":
    """``changes`` in delta-spark's Arrow conventions, ``null``-typed columns typed (module doc)."""
    import pyarrow as pa

    from kappa.delta.arrow import normalize_arrow_table, normalize_arrow_type

    nulls = [f.name for f in changes.schema if pa.types.is_null(f.type)]
    if not nulls:
        return normalize_arrow_table(changes)
    known = _schema_types(state_uri, storage_options)
    known.update(_schema_types(table_uri, storage_options))
    columns, fields = [], []
    for fld, column in zip(changes.schema, changes.columns):
        if fld.name in nulls:
            dtype = normalize_arrow_type(known.get(fld.name, pa.string()))
            columns.append(pa.nulls(changes.num_rows, dtype))
            fields.append(pa.field(fld.name, dtype, nullable=True))
        else:
            columns.append(column)
            fields.append(fld)
    return normalize_arrow_table(pa.Table.from_arrays(columns, schema=pa.schema(fields)))
