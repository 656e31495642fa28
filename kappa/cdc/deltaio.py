"""Polars helpers of the CDC merge: reading a Delta table, handing frames to deltalake, quoting.

Tables are read with ``polars.scan_delta`` rather than ``DeltaTable.to_pyarrow_table()``:
the latter leaves delta-rs threads behind that abort the interpreter at exit
("terminate called without an active exception") in about half of the runs measured here.
Opening tables, app transactions and commit retries are :mod:`kappa.delta.txn`'s.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import polars as pl


def scan(uri: str, storage_options: dict | None, version: int | None = None) -> pl.LazyFrame:
    """Lazy Polars scan of a Delta table (optionally as of ``version``)."""
    import polars as pl

    return pl.scan_delta(uri, version=version, storage_options=storage_options)


def arrow(frame: pl.DataFrame) -> Any:
    """Arrow table of ``frame`` in the most compatible layout (no string views)."""
    import polars as pl

    return frame.to_arrow(compat_level=pl.CompatLevel.oldest())


def quote(name: str) -> str:
    """A column name quoted for delta-rs (DataFusion) SQL."""
    return '"' + name.replace('"', '""') + '"'
