"""Fixtures for the stock-prices example tests: the example's generator and pipeline files."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "stock_prices"


def _load_generator():
    name = "stock_prices_generator"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, EXAMPLE / "generator.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def gen():
    """The example's ``generator`` module."""
    return _load_generator()


def expected_silver(gen, n: int, seed: int = 42, start: int = 0, keep_bad: bool = False):
    """The rows silver must hold for events ``[start, start + n)``, straight from the generator:
    duplicates removed and (unless ``keep_bad``) null symbols and negative prices removed."""
    import polars as pl

    f = gen.frame(n, seed, start, with_meta=True)
    kinds = ["normal"] + (["null_symbol", "negative"] if keep_bad else [])
    return (
        f.filter(pl.col("_kind").is_in(kinds))
        .unnest("data")
        .select(
            pl.col("created_at").str.to_datetime("%Y-%m-%dT%H:%M:%S", time_unit="us", time_zone="UTC"),
            pl.col("symbol").alias("name"),
            "symbol", "open", "close", "high", "low", "volume",
        )
    )


def sorted_rows(df):
    """A frame sorted on every column (row order is not part of a table's contents)."""
    return df.sort(df.columns, nulls_last=True)
