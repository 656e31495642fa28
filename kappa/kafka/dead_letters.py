"""The dead-letter table: records that could not become rows, with where they came from and why.

One schema for every decoder (JSON values, Debezium envelopes) and both engines: ``topic``,
``partition``, ``offset``, the raw ``key`` and ``value`` bytes as they were read, the reason
(``error``) and when it was recorded (``failed_at``). Nothing of a bad record is lost: replaying
the raw bytes reproduces it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa


def dead_letter_schema() -> "pa.Schema":
    """Columns of the dead-letter table."""
    import pyarrow as pa

    return pa.schema(
        [
            pa.field("topic", pa.string()),
            pa.field("partition", pa.int32()),
            pa.field("offset", pa.int64()),
            pa.field("key", pa.binary()),
            pa.field("value", pa.binary()),
            pa.field("error", pa.string()),
            pa.field("failed_at", pa.timestamp("us", tz="UTC")),
        ]
    )


def dead_letters_of(records: "pa.Table", rows: Sequence[int], errors: Mapping[int, str]) -> "pa.Table":
    """The dead letters of Kafka ``records``: row ``i`` of ``rows`` with the reason ``errors[i]``.

    The arrays made from Python values are built by Polars: ``pa.array`` (and
    ``Schema.empty_table``) import pandas on their first call, half a second of CPU.
    """
    import polars as pl
    import pyarrow as pa

    schema = dead_letter_schema()
    if not rows:
        return pa.Table.from_batches([], schema=schema)
    picked = records.take(pl.Series(list(rows), dtype=pl.Int64).to_arrow())
    now = datetime.now(timezone.utc)

    def column(name: str, typ: "pa.DataType"):
        if name in picked.column_names:
            return picked.column(name).cast(typ)
        return pa.nulls(len(rows), typ)

    return pa.table(
        {
            "topic": column("topic", pa.string()),
            "partition": column("partition", pa.int32()),
            "offset": column("offset", pa.int64()),
            "key": column("key", pa.binary()),
            "value": column("value", pa.binary()),
            "error": pl.Series([errors[i] for i in rows], dtype=pl.String).to_arrow().cast(pa.string()),
            "failed_at": pl.Series([now] * len(rows), dtype=pl.Datetime("us", "UTC")).to_arrow(),
        },
        schema=schema,
    )
