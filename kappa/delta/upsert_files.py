"""Upsert by rewriting only the data files that hold a batch's keys (the fast path of ``mode: upsert``).

Design note. An update-mode batch replaces whole rows on unique keys; it needs none of a general
MERGE's machinery, and delta-rs's MERGE costs a DataFusion plan per batch and rewrites every
file its pruning keeps (a one-file gold table is rewritten whole each batch). Here, per batch:

1. candidates: the table's files whose statistics admit one of the batch's keys: for each key
   column of an exactly-compared type (integers, dates; timestamps widened by the millisecond
   delta-rs rounds their statistics to), the file's ``[min, max]`` must meet the batch's, or
   both hold nulls (keys match null-safely, like ``IS NOT DISTINCT FROM``). Strings and other
   types never exclude a file (their statistics may be truncated);
2. the candidates are read; the rows whose keys are in the batch (null-safe anti-join) are
   dropped. A candidate without such a row is left alone, except the table's newest file while
   it is under half the file bound (so batches of new keys fill it rather than add small files);
3. the kept rows of the touched files and the whole batch are sorted by the cluster order
   (temporal keys first: dates, timestamps, windows; then the other keys) and written as files
   of at most :func:`rows_per_file` rows, with delta-rs's statistics (:class:`kappa.delta.stats.FileStats`);
4. one commit removes the touched files and adds the new ones, carrying the batch's app
   transaction (the caller's retry loop re-reads the table after a conflict).

Sorted bounded files keep a table clustered by its temporal key, so a batch of recent groups
touches one or two files whatever the table's size. The outcome is exactly MERGE's
(``when_matched_update_all`` + ``when_not_matched_insert_all``), and the fast path is used only
where that is certain (:func:`applies`): a local, unpartitioned table of the batch's exact
schema, writer protocol <= 2 without change data feed or append-only, unique batch keys.
Anything else takes deltalake's MERGE (:mod:`kappa.delta.upsert`).
"""

from __future__ import annotations

import os
import time
import uuid
from typing import TYPE_CHECKING, Any

from kappa.delta.tables import local_folder

if TYPE_CHECKING:  # pragma: no cover
    import polars as pl
    import pyarrow as pa
    from deltalake import DeltaTable

#: A data file's target size in Arrow memory (~0.3-0.5 MB of Parquet for numeric columns).
TARGET_BYTES = 1 << 20
MIN_ROWS = 1024
_REFUSING_CONFIG = ("delta.enableChangeDataFeed", "delta.appendOnly")


def applies(table: "DeltaTable", data: "pa.Table", keys: tuple[str, ...]) -> bool:
    """Whether the fast path gives MERGE's outcome for this table and batch (see the module doc)."""
    import polars as pl

    from kappa.delta.commit import table_schema

    if local_folder(table.table_uri) is None or table.metadata().partition_columns or not plain_writes(table):
        return False
    if table_schema(table) != data.schema:
        return False
    return pl.from_arrow(data.select(list(keys))).is_duplicated().sum() == 0


def plain_writes(table: "DeltaTable") -> bool:
    """Whether removing a table's files and adding new ones is all a write needs: writer protocol
    <= 2 without writer features, no change data feed nor append-only table."""
    proto = table.protocol()
    if proto.min_writer_version > 2 or proto.writer_features:
        return False
    config = table.metadata().configuration or {}
    return not any(str(config.get(k, "false")).lower() == "true" for k in _REFUSING_CONFIG)


def cluster_order(schema: "pa.Schema", keys: tuple[str, ...]) -> list[str]:
    """The keys, temporal ones first (dates, timestamps, structs of them such as ``window``)."""
    import pyarrow as pa

    def temporal(t: "pa.DataType") -> bool:
        if pa.types.is_struct(t):
            return any(temporal(f.type) for f in t)
        return pa.types.is_date(t) or pa.types.is_timestamp(t)

    return sorted(keys, key=lambda k: not temporal(schema.field(k).type))


def rows_per_file(data: "pa.Table") -> int:
    """The file bound in rows: :data:`TARGET_BYTES` of the batch's Arrow row size."""
    per_row = max(1, data.nbytes // max(1, data.num_rows))
    return max(MIN_ROWS, TARGET_BYTES // per_row)


def row_bytes(t: "pa.DataType") -> int:
    """An Arrow row's size estimated from its type (strings and binaries: 20 bytes a value)."""
    import pyarrow as pa

    if pa.types.is_struct(t):
        return sum(row_bytes(f.type) for f in t)
    if pa.types.is_boolean(t) or pa.types.is_null(t):
        return 1
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_map(t):
        return 64
    try:
        return max(1, t.bit_width // 8)
    except ValueError:  # variable width: strings, binaries
        return 20


def schema_row_bytes(schema: "pa.Schema") -> int:
    """A row's estimated Arrow size (:func:`row_bytes` of every column), at least 1."""
    return max(1, sum(row_bytes(f.type) for f in schema))


def rows_per_file_of(schema: "pa.Schema") -> int:
    """:func:`rows_per_file` estimated from the schema (a writer that does not hold the data)."""
    return max(MIN_ROWS, TARGET_BYTES // schema_row_bytes(schema))


def _excluded(adds: "pa.Table", data: "pa.Table", key: str) -> "pa.Array | None":
    """Per file: True when no value of ``key`` in the file can equal one of the batch's."""
    import pyarrow.compute as pc

    col = data.column(key)
    if not prunable(col.type):
        return None
    if col.null_count == len(col):
        return excluded_by_bounds(adds, key, col.type, None, None, True)
    bounds = pc.min_max(col)
    return excluded_by_bounds(adds, key, col.type, bounds["min"], bounds["max"], col.null_count > 0)


def prunable(t: "pa.DataType") -> bool:
    """Whether a key of type ``t`` can exclude files by their statistics (exactly compared types)."""
    import pyarrow as pa

    return pa.types.is_integer(t) or pa.types.is_date(t) or pa.types.is_timestamp(t)


def excluded_by_bounds(adds: "pa.Table", key: str, t: "pa.DataType", lo: Any, hi: Any, has_nulls: bool) -> "pa.Array | None":
    """Per file (rows of the flattened add actions): True when no value of ``key`` in the file can
    equal a batch value in ``[lo, hi]`` (both None: the batch's ``key`` is null throughout) nor,
    with ``has_nulls``, a null. None when ``key``'s type or the statistics cannot tell."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not prunable(t):
        return None
    names = adds.column_names
    nulls = adds.column(f"null_count.{key}") if f"null_count.{key}" in names else None
    if f"partition.{key}" in names:  # a partition column: one value per file
        fmin = fmax = adds.column(f"partition.{key}")
        nulls = pc.cast(pc.is_null(fmin), pa.int64())
    elif f"min.{key}" not in names or f"max.{key}" not in names:
        return None
    else:
        fmin, fmax = adds.column(f"min.{key}"), adds.column(f"max.{key}")
    if fmin.type != t or fmax.type != t:
        if not pa.types.is_timestamp(t):
            return None
        fmin, fmax = fmin.cast(t), fmax.cast(t)
    if pa.types.is_timestamp(t):  # delta-rs keeps timestamp statistics to the millisecond
        ms = pa.scalar(1000 if t.unit == "us" else (1_000_000 if t.unit == "ns" else 1), pa.int64())
        fmin = pc.cast(pc.subtract(pc.cast(fmin, pa.int64()), ms), t)
        fmax = pc.cast(pc.add(pc.cast(fmax, pa.int64()), ms), t)
    if lo is None and hi is None:
        disjoint = pa.array([True] * adds.num_rows)
    else:
        lo, hi = pa.scalar(lo, t) if not isinstance(lo, pa.Scalar) else lo, pa.scalar(hi, t) if not isinstance(hi, pa.Scalar) else hi
        disjoint = pc.or_(pc.less(fmax, lo), pc.greater(fmin, hi))
        disjoint = pc.fill_null(disjoint, False)  # no statistics: the file may match
    if has_nulls:
        has = pc.fill_null(pc.greater(nulls, 0), True) if nulls is not None else pa.array([True] * adds.num_rows)
        disjoint = pc.and_(disjoint, pc.invert(has))
    return disjoint


def _candidates(adds: "pa.Table", data: "pa.Table", keys: tuple[str, ...]) -> "pa.Table":
    """The files (rows of the flattened add actions) that may hold one of the batch's keys."""
    import pyarrow as pa
    import pyarrow.compute as pc

    keep = pa.array([True] * adds.num_rows)
    for key in keys:
        out = _excluded(adds, data, key)
        if out is not None:
            keep = pc.and_(keep, pc.invert(out))
    return adds.filter(keep)


def _small_newest(adds: "pa.Table", bound: int) -> str | None:
    """The table's most recently added file when it holds under half ``bound`` rows."""
    import pyarrow.compute as pc

    if adds.num_rows == 0:
        return None
    i = pc.index(adds.column("modification_time"), pc.max(adds.column("modification_time"))).as_py()
    n = adds.column("num_records")[i].as_py()
    return adds.column("path")[i].as_py() if n is not None and n < bound // 2 else None


def _write_files(root: str, frame: "pl.DataFrame", schema: "pa.Schema", bound: int) -> list[Any]:
    """``frame`` as Parquet files of at most ``bound`` rows (equal parts) under ``root``: their AddActions."""
    import pyarrow.parquet as pq
    from deltalake.transaction import AddAction

    from kappa.delta.stats import FileStats

    actions = []
    arrow = frame.to_arrow().cast(schema)
    now = int(time.time() * 1000)
    size = -(-arrow.num_rows // -(-arrow.num_rows // bound)) if arrow.num_rows else 0  # equal parts <= bound
    for start in range(0, arrow.num_rows, size or 1):
        part = arrow.slice(start, size)
        name = f"part-00000-{uuid.uuid4()}-c000.snappy.parquet"
        path = os.path.join(root, name)
        pq.write_table(part, path, compression="snappy")
        stats = FileStats(schema)
        stats.update(part)
        actions.append(AddAction(name, os.path.getsize(path), {}, now, True, stats.to_json()))
    return actions


def rewrite(table: "DeltaTable", data: "pa.Table", keys: tuple[str, ...], props: Any) -> None:
    """Upsert ``data`` into ``table`` (:func:`applies` holds) in one commit (see the module doc)."""
    import polars as pl
    import pyarrow as pa
    import pyarrow.dataset as ds
    from deltalake.transaction import RemoveAction

    root = local_folder(table.table_uri)
    assert root is not None
    schema = data.schema
    bound = rows_per_file(data)
    adds = pa.table(table.get_add_actions(flatten=True))
    newest = _small_newest(adds, bound)
    cands = _candidates(adds, data, keys)
    paths = cands.column("path").to_pylist()
    if newest is not None and newest not in paths:
        paths.append(newest)
    batch_keys = pl.from_arrow(data.select(list(keys)))
    kept, touched = [], []
    for path in paths:
        rows = pl.from_arrow(ds.dataset(os.path.join(root, path), schema=schema, format="parquet").to_table())
        rest = rows.join(batch_keys, on=list(keys), how="anti", nulls_equal=True)
        if rest.height < rows.height or path == newest:
            touched.append(path)
            kept.append(rest)
    out = pl.concat([*kept, pl.from_arrow(data)], how="vertical").sort(cluster_order(schema, keys), nulls_last=True)
    actions: list[Any] = _write_files(root, out, schema, bound)
    now = int(time.time() * 1000)
    actions += [RemoveAction(path, True, now) for path in touched]
    table.create_write_transaction(actions, "append", schema, commit_properties=props)


def create(root: str, data: "pa.Table", keys: tuple[str, ...]) -> list[Any]:
    """The first batch's files (sorted, bounded) under ``root``: their AddActions."""
    import polars as pl

    os.makedirs(root, exist_ok=True)
    frame = pl.from_arrow(data).sort(cluster_order(data.schema, keys), nulls_last=True)
    return _write_files(root, frame, data.schema, rows_per_file(data))
