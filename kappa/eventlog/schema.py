"""The event log's fixed Arrow schema: one row per node batch, per node error and per run.

Design note: the schema is fixed (never inferred from the rows), so every commit of every run
and engine appends the same columns and any Delta reader (Spark, delta-rs, DuckDB, Polars)
reads one table. Counts are per row (one batch), not running totals.

=======================  ===========================  ===========================================
column                   type                         meaning
=======================  ===========================  ===========================================
``run_id``               string                       one id per run (all rows of a run share it)
``seq``                  int64                        order of the row within its run (0, 1, ...)
``event``                string                       ``batch`` (a node's batch), ``error`` (a
                                                      node failed), ``run`` (the run ended)
``pipeline``             string                       pipeline name
``node``                 string                       node name (null on ``run`` rows)
``engine``               string                       ``polars``, ``spark`` or ``spark (stream)``
``batch_id``             int64                        the node's batch id (null: no batch)
``started_at``           timestamp[us, UTC]           when the batch / run started
``ended_at``             timestamp[us, UTC]           when it ended (committed, failed)
``duration_seconds``     double                       ``ended_at - started_at``
``rows_in``              int64                        rows read (after decoding)
``rows_out``             int64                        rows written to the output sinks
``rows_dropped``         int64                        rows a ``drop`` expectation removed
``rows_quarantined``     int64                        rows a ``quarantine`` expectation set aside
``rows_dead``            int64                        undecodable records sent to dead letters
``expectation_failures`` list<struct<expectation:     failing rows per expectation (name, count),
                         string, failing_rows:        only expectations with failures
                         int64>>
``late_rows``            int64                        rows later than the watermark, dropped
``watermark``            string                       a stateful node's watermark after the batch
                                                      (ISO-8601 UTC; null: stateless or none yet)
``lag``                  int64                        records not yet read after the batch when
                                                      known (``kappa stream start`` on Kafka and
                                                      Delta sources; else null)
``state_rows``           int64                        rows kept in state after the batch (null:
                                                      stateless)
``error``                string                       the error's message (``error`` rows, and a
                                                      ``run`` row of a failed run)
=======================  ===========================  ===========================================

On ``run`` rows the counts are null; on ``error`` rows the counts are those of the failed node
in this run so far.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import polars as pl
    import pyarrow as pa

#: the columns in order (the schema's names; :func:`schema` gives the types)
COLUMNS = (
    "run_id", "seq", "event", "pipeline", "node", "engine", "batch_id", "started_at", "ended_at",
    "duration_seconds", "rows_in", "rows_out", "rows_dropped", "rows_quarantined", "rows_dead",
    "expectation_failures", "late_rows", "watermark", "lag", "state_rows", "error",
)
COUNT_COLUMNS = ("rows_in", "rows_out", "rows_dropped", "rows_quarantined", "rows_dead", "late_rows")


#: each column's type, by kind (:func:`schema` gives the Arrow types, :func:`polars_types` the Polars ones)
_KINDS = {
    "run_id": "string", "seq": "int64", "event": "string", "pipeline": "string", "node": "string",
    "engine": "string", "batch_id": "int64", "started_at": "timestamp", "ended_at": "timestamp",
    "duration_seconds": "float64", **{c: "int64" for c in COUNT_COLUMNS}, "expectation_failures": "failures",
    "watermark": "string", "lag": "int64", "state_rows": "int64", "error": "string",
}


def schema() -> "pa.Schema":
    """The event log's Arrow schema (see the module doc)."""
    import pyarrow as pa

    failures = pa.list_(pa.struct([("expectation", pa.string()), ("failing_rows", pa.int64())]))
    types = {"string": pa.string(), "int64": pa.int64(), "float64": pa.float64(),
             "timestamp": pa.timestamp("us", tz="UTC"), "failures": failures}
    return pa.schema([(name, types[_KINDS[name]]) for name in COLUMNS])


def to_arrow(rows: list[dict[str, Any]]) -> "pa.Table":
    """Rows (dicts with the columns; timestamps as epoch seconds) as an Arrow table of :func:`schema`.

    Built through Polars: pyarrow's conversion from Python objects imports pandas (~0.3 s and
    ~55 MiB on every run that writes the log)."""
    return to_polars(rows).to_arrow().cast(schema())


def polars_types() -> dict[str, Any]:
    """The Polars types of :func:`schema`'s columns (writing the log then needs no pyarrow:
    delta-rs takes the Polars frame through the Arrow C stream)."""
    import polars as pl

    failures = pl.List(pl.Struct({"expectation": pl.String, "failing_rows": pl.Int64}))
    types = {"string": pl.String, "int64": pl.Int64, "float64": pl.Float64,
             "timestamp": pl.Datetime("us", "UTC"), "failures": failures}
    return {name: types[_KINDS[name]] for name in COLUMNS}


def to_polars(rows: list[dict[str, Any]]) -> "pl.DataFrame":
    """Rows (dicts with the columns; timestamps as epoch seconds) as a Polars frame of :func:`polars_types`."""
    import polars as pl

    out = []
    for row in rows:
        r = {name: row.get(name) for name in COLUMNS}
        for ts in ("started_at", "ended_at"):
            if r[ts] is not None:
                r[ts] = int(round(r[ts] * 1_000_000))
        failures = r["expectation_failures"]
        if failures is not None:
            r["expectation_failures"] = [{"expectation": k, "failing_rows": int(v)} for k, v in failures.items() if v]
        out.append(r)
    types = polars_types()
    frame = pl.DataFrame(out, schema={**types, "started_at": pl.Int64, "ended_at": pl.Int64})  # epoch microseconds
    return frame.with_columns(pl.col("started_at").cast(types["started_at"]), pl.col("ended_at").cast(types["ended_at"]))
