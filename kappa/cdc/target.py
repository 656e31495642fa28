"""Writing a planned batch to the CDC target table: one deltalake MERGE per batch."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kappa.cdc import deltaio
from kappa.cdc.scd1 import ACTION, REPLACE
from kappa.delta.txn import Txn, open_table, with_retries
from kappa.errors import KappaError

if TYPE_CHECKING:  # pragma: no cover
    import polars as pl


def table_columns(uri: str, storage_options: dict | None) -> list[str] | None:
    """Column names of the table at ``uri`` (None when there is no table)."""
    dt = open_table(uri, storage_options)
    if dt is None:
        return None
    return [f.name for f in dt.schema().fields]


def check_schema(uri: str, existing: list[str] | None, columns: list[str], mode: str) -> bool:
    """True when ``columns`` add columns to the target; raise if that is not allowed."""
    if existing is None:
        return False
    new = [c for c in columns if c not in existing]
    if new and mode == "fail":
        raise KappaError(
            f"CDC changes for {uri} carry new column(s) {new} not in the target, and "
            "schema_evolution is 'fail'"
        )
    return bool(new)


def _key_predicate(keys: list[str]) -> str:
    q = deltaio.quote
    return " AND ".join(f"t.{q(k)} = s.{q(k)}" for k in keys)


def _ensure_table(uri: str, storage_options: dict | None, schema: Any) -> None:
    from deltalake import DeltaTable

    if open_table(uri, storage_options) is None:
        DeltaTable.create(uri, schema, mode="ignore", storage_options=storage_options)


def write_scd1(
    uri: str, storage_options: dict | None, source: pl.DataFrame, *, keys: list[str],
    data_columns: list[str], ignore_null_updates: bool, truncate: bool, evolve: bool,
    existing: list[str] | None, txn: Txn, retries: int,
) -> dict:
    """MERGE an SCD1 plan's source into the target; returns deltalake's merge metrics."""
    q = deltaio.quote
    data = deltaio.arrow(source.head(0).select(data_columns))  # its schema only
    _ensure_table(uri, storage_options, data.schema)
    table = deltaio.arrow(source)
    values = [c for c in data_columns if c not in keys]
    if ignore_null_updates:
        known = set(existing if existing is not None else data_columns)
        updates = {
            q(c): (f"CASE WHEN s.{REPLACE} THEN s.{q(c)} ELSE coalesce(s.{q(c)}, t.{q(c)}) END"
                   if c in known else f"s.{q(c)}")  # a column new to the target has no value
            for c in values
        }
    else:
        updates = {q(c): f"s.{q(c)}" for c in values}
    inserts = {q(c): f"s.{q(c)}" for c in data_columns}

    def run() -> dict:
        dt = open_table(uri, storage_options)
        assert dt is not None
        if source.height == 0 and truncate:
            got = dt.delete(commit_properties=txn.props())
            if got.get("num_deleted_rows"):
                return {"num_target_rows_deleted": got["num_deleted_rows"]}
        if source.height == 0:
            txn.ensure_recorded(uri, storage_options, data.schema)
            return {}
        m = dt.merge(table, _key_predicate(keys), source_alias="s", target_alias="t",
                     merge_schema=evolve, commit_properties=txn.props())
        m = m.when_matched_delete(f"s.{ACTION} = 'delete'")
        if updates:
            m = m.when_matched_update(updates, f"s.{ACTION} = 'upsert'")
        m = m.when_not_matched_insert(inserts, f"s.{ACTION} = 'upsert'")
        if truncate:
            m = m.when_not_matched_by_source_delete()
        got = m.execute()
        txn.ensure_recorded(uri, storage_options, data.schema)
        return got

    return with_retries(run, retries=retries, what=f"CDC MERGE into {uri}")


def write_scd2(
    uri: str, storage_options: dict | None, rows: pl.DataFrame, touched: pl.DataFrame, *,
    keys: list[str], evolve: bool, txn: Txn, retries: int,
) -> dict:
    """Replace the history of the ``touched`` keys by ``rows``, in one MERGE.

    The source holds one marker row per touched key (matching, and deleting, every current
    row of that key) and the new version rows (which never match, and are inserted).
    """
    import polars as pl

    q = deltaio.quote
    columns = rows.columns
    data = deltaio.arrow(rows.head(0))  # its schema only
    _ensure_table(uri, storage_options, data.schema)
    markers = touched.with_columns(pl.lit("del").alias(ACTION))
    source = pl.concat([rows.with_columns(pl.lit("ins").alias(ACTION)), markers],
                       how="diagonal_relaxed")
    table = deltaio.arrow(source)
    predicate = f"{_key_predicate(keys)} AND s.{ACTION} = 'del'"
    inserts = {q(c): f"s.{q(c)}" for c in columns}

    def run() -> dict:
        if source.height == 0:
            txn.ensure_recorded(uri, storage_options, data.schema)
            return {}
        dt = open_table(uri, storage_options)
        assert dt is not None
        got = (
            dt.merge(table, predicate, source_alias="s", target_alias="t",
                     merge_schema=evolve, commit_properties=txn.props())
            .when_matched_delete()
            .when_not_matched_insert(inserts, f"s.{ACTION} = 'ins'")
            .execute()
        )
        txn.ensure_recorded(uri, storage_options, data.schema)
        return got

    return with_retries(run, retries=retries, what=f"CDC MERGE into {uri}")
