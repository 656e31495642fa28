"""Tables read back for exact comparison: every reader returns rows in a canonical order.

Row order is not part of a table's contents, so readers sort: :func:`delta_rows` /
:func:`file_rows` by the JSON text of each row (any column types); the CDC tests' readers
(:mod:`tests.helpers.cdc_events`, :mod:`tests.helpers.debezium`) sort on values / key columns.
:func:`assert_same_delta` compares one table written by
both engines (schema and rows).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def row_key(row: dict) -> str:
    """The canonical sort key of a row: its JSON text with sorted keys (non-JSON values as str)."""
    return json.dumps(row, sort_keys=True, default=str)


def delta_rows(path: Path, drop: tuple[str, ...] = ()) -> tuple[Any, list[dict]]:
    """(Arrow schema, rows in canonical order) of a Delta table, without the ``drop`` columns."""
    from kappa.delta.read import read_delta

    table = read_delta(str(path))
    table = table.drop_columns([c for c in drop if c in table.column_names])
    return table.schema, sorted(table.to_pylist(), key=row_key)


def file_rows(path: Path, fmt: str) -> tuple[Any, list[dict]]:
    """(Polars schema, rows in canonical order) of the part files of format ``fmt`` under ``path``."""
    from kappa.files import list_files, scan_files

    df = scan_files(list_files(str(path), fmt), fmt).collect()
    return df.schema, sorted(df.to_dicts(), key=row_key)


def assert_same_delta(polars_root: Path, spark_root: Path, name: str, drop: tuple[str, ...] = ()) -> list[dict]:
    """The Delta table ``name`` is identical (schema and rows) under both roots; returns its rows."""
    p_schema, p_rows = delta_rows(polars_root / name, drop)
    s_schema, s_rows = delta_rows(spark_root / name, drop)
    assert s_schema == p_schema, f"{name}: schemas differ\npolars: {p_schema}\nspark:  {s_schema}"
    assert s_rows == p_rows, f"{name}: rows differ"
    return p_rows
