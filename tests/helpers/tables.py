"""Tables read back for exact comparison: every reader returns rows in a canonical order.

Row order is not part of a table's contents, so readers sort: :func:`delta_rows` /
:func:`file_rows` by the JSON text of each row (any column types); the CDC tests' readers
(:mod:`tests.helpers.cdc_events`, :mod:`tests.helpers.debezium`) sort on values / key columns.
:func:`assert_delta` / :func:`assert_files` check one engine's table against an EXPECTED
one (rows in any order, and the schema): a behaviour test runs on every engine against one
expected table, so the engines agree because each agrees with it.
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


def assert_delta(path: Path, rows: list[dict], schema=None, drop: tuple[str, ...] = ()) -> list[dict]:
    """The Delta table at ``path`` (without the ``drop`` columns) holds exactly ``rows`` (any
    order) and, given ``schema`` (an Arrow schema), has that schema; returns its rows."""
    got_schema, got = delta_rows(path, drop)
    if schema is not None:
        assert got_schema == schema, f"{path}: schema\n{got_schema}\nexpected:\n{schema}"
    assert got == sorted(rows, key=row_key), f"{path}: rows differ from the expected table"
    return got


def assert_files(path: Path, fmt: str, rows: list[dict], schema: dict | None = None) -> list[dict]:
    """The part files of format ``fmt`` under ``path`` hold exactly ``rows`` (any order) and,
    given ``schema`` (``{column: Polars dtype}``), have that schema; returns their rows."""
    got_schema, got = file_rows(path, fmt)
    if schema is not None:
        assert dict(got_schema) == schema, f"{path}: schema {dict(got_schema)}, expected {schema}"
    assert got == sorted(rows, key=row_key), f"{path}: rows differ from the expected table"
    return got
