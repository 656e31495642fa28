"""Streaming writes of the Polars engine: a batch goes from its scan to its sink uncollected (issue 14).

A node whose batch needs nothing but to be written -- no expectations (they count every row
before anything is written), no quarantine, no state, exactly one sink that can take a stream --
runs its lazy plan with Polars' streaming engine straight into the sink, so its memory is bounded
by Polars' morsels and the operators that must hold their input (``unique``, a sort, an
aggregate), not by the batch:

- a Parquet file sink: ``sink_parquet`` into the temporary file that then atomically replaces
  the target (:func:`kappa.files.write_files`); the rows written come from the file's footer;
- a Delta append/overwrite sink: ``collect_batches`` feeds an Arrow ``RecordBatchReader`` to
  delta-rs in one commit carrying the app transaction ``(app_id, batch_id)`` (a batch the table
  recorded is skipped; an empty append to an existing table writes nothing, as the eager writer
  does). Each batch is cast as :func:`kappa.delta.arrow.normalize_arrow_table` casts, and not at
  all when its types differ from those only in Arrow layouts that are one Delta type (large or
  view strings, large lists): delta-rs stores them alike, and a copy is saved. A plan whose
  root holds its whole output anyway (``unique``, an aggregate, a sort) is collected by Polars'
  in-memory engine instead and written the same way (:func:`holds_output`).

The node's output is then a scan of what it wrote (the file, or the data files its Delta
commit added -- the table's version right after the commit), not a frame in memory:
``nodes_dict[...].output_df`` reads exactly the rows written. Every other node is collected once
(:func:`kappa.quality.polars_eval.apply_expectations`) and written as before.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import polars as pl

    from kappa.plan import NodePlan, SinkPlan


def streamable(node: "NodePlan", state: Any) -> bool:
    """Whether the node's batch can be streamed into its sink (see the module docstring)."""
    from kappa.plan_kinds import DeltaSinkPlan, FileSinkPlan

    if state is not None or node.expectations or len(node.sinks) != 1:
        return False
    sink = node.sinks[0]
    if sink.quarantine:
        return False
    if type(sink) is FileSinkPlan:
        return sink.format == "PARQUET" and ("://" not in sink.path or sink.path.startswith("file://"))
    return type(sink) is DeltaSinkPlan and sink.mode in ("append", "overwrite")


def stream_sink(sink: "SinkPlan", frame: "pl.LazyFrame", batch_id: int) -> "tuple[int, int, pl.LazyFrame]":
    """Stream ``frame`` into ``sink`` as batch ``batch_id``; returns (rows of the batch, rows
    written: 0 when the sink had recorded the batch already, a scan of the batch's rows)."""
    import polars as pl

    if sink.kind == "file":
        from kappa.files import write_files

        written = write_files(sink.path, frame, sink.format, sink.mode, batch_id)
        scan = pl.scan_parquet(written)
        rows = scan.select(pl.len()).collect().item()  # from the file's footer
        return rows, rows, scan
    return _stream_delta(sink, frame, batch_id)


def _stream_delta(sink: Any, frame: "pl.LazyFrame", batch_id: int) -> "tuple[int, int, pl.LazyFrame]":
    import polars as pl
    import pyarrow as pa
    from deltalake import write_deltalake

    from kappa.delta.arrow import normalize_arrow_type
    from kappa.delta.txn import Txn, open_table, with_batch_retries
    from kappa.engines.polars.connectors.delta import delta_added_files, scan_delta_files
    from kappa.plan_kinds import resolve_secrets

    storage = resolve_secrets(sink.storage_options) or None
    txn = Txn(sink.app_id, batch_id)
    raw = frame.clear().collect().to_arrow().schema
    schema = pa.schema([pa.field(f.name, normalize_arrow_type(f.type), nullable=True)  # normalize_arrow_table's
                        for f in raw if not pa.types.is_null(f.type)])
    cast = len(raw) != len(schema) or pa.schema([_loose(f) for f in raw]) != schema
    rows = [0]
    failed: list[BaseException] = []  # the plan's own error, raised inside delta-rs's read of the stream
    schema_mode = None if sink.schema_mode == "strict" else (
        "overwrite" if sink.schema_mode == "overwrite" and sink.mode == "overwrite" else "merge")

    def batches(first: Any, rest: Any):
        try:
            for df in ([first] if first is not None else []):
                yield from _normalized(df, rows, cast)
            for df in rest:
                yield from _normalized(df, rows, cast)
        except BaseException as exc:
            failed.append(exc)
            raise

    whole = holds_output(frame)

    def attempt() -> bool:  # a concurrent writer won: re-check and retry (the plan runs again)
        table = open_table(sink.path, storage)
        if table is not None and txn.done(table):
            return False
        rows[0] = 0
        if whole:
            df = frame.collect(engine="in-memory")
            stream = iter([df] if df.height else [])
        else:
            stream = iter(frame.collect_batches())
        first = next(stream, None)
        if first is None and sink.mode == "append" and table is not None:
            return False  # an empty append to an existing table writes nothing (DeltaWriter's rule)
        reader = pa.RecordBatchReader.from_batches(schema if cast else raw, batches(first, stream))
        try:
            write_deltalake(table if table is not None else sink.path, reader, mode=sink.mode,
                            partition_by=list(sink.partition_by) or None, schema_mode=schema_mode,
                            storage_options=storage, commit_properties=txn.props())
        except Exception:
            if failed:
                raise failed[0] from None
            raise
        return True

    if not with_batch_retries(attempt, sink.path, txn):  # a replayed batch (or an empty append)
        return frame.select(pl.len()).collect().item(), 0, frame
    version = open_table(sink.path, storage).version()
    files = delta_added_files(sink.path, version, storage or {})
    return rows[0], rows[0], scan_delta_files(sink.path, files, storage or {})


#: the plan roots that hold their whole output before the first row leaves them
_HOLDING = ("UNIQUE", "AGGREGATE", "SORT")


def holds_output(frame: "pl.LazyFrame") -> bool:
    """Whether the root of ``frame``'s optimized plan holds its whole output anyway (``unique``, an
    aggregate, a sort): streaming it bounds nothing, and Polars' in-memory engine runs it with less
    CPU and less peak memory (the Delta node of ``benchmarks/replay_floor.py``: about 0.2 s of 1.8 s
    and 530 vs 645 MiB on one core). Read from ``explain()``: an unknown shape streams."""
    try:
        return frame.explain().lstrip().startswith(_HOLDING)
    except Exception:  # noqa: BLE001 - the run reports the plan's own error
        return False


def _normalized(df: "pl.DataFrame", rows: list[int], cast: bool):
    """One Polars batch as Arrow record batches, cast as the eager writer casts when ``cast``."""
    from kappa.delta.arrow import normalize_arrow_table

    rows[0] += df.height
    table = df.to_arrow()
    yield from (normalize_arrow_table(table) if cast else table).to_batches()


def _loose(field: Any) -> Any:
    """``field`` with only the Arrow layouts that mean the same Delta type made the same (large /
    view strings and binaries, large lists; every field nullable): when that gives the
    normalized schema, the batches need no cast -- delta-rs stores them as the same types."""
    import pyarrow as pa
    import pyarrow.types as pt

    def loose(t: Any) -> Any:
        if pt.is_large_string(t) or pt.is_string_view(t):
            return pa.string()
        if pt.is_large_binary(t) or pt.is_binary_view(t):
            return pa.binary()
        if pt.is_list(t) or pt.is_large_list(t):
            return pa.list_(pa.field("element", loose(t.value_type), nullable=True))
        if pt.is_struct(t):
            return pa.struct([pa.field(f.name, loose(f.type), nullable=True) for f in t])
        return t

    return pa.field(field.name, loose(field.type), nullable=True)
