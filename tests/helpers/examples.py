"""The stock-prices example (examples/stock_prices) in tests: its generator, the rows its
silver table must hold, and the cluster tests' comparison of a Spark run's tables with the
Polars replay's (the ``gen`` fixture of tests/conftest.py loads the generator)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

from tests.helpers.cli import REPO
from tests.helpers.tables import delta_rows

EXAMPLE = REPO / "examples" / "stock_prices"
TABLES = ("brz_stock_prices", "slv_stock_prices", "slv_stock_prices_quarantine", "gld_stock_prices_hourly", "gld_stock_performances")
DEAD_LETTERS = Path("checkpoints") / "stock-prices" / "brz_stock_prices" / "dead_letters"


def load_generator():
    """The example's ``generator`` module (loaded once, as ``stock_prices_generator``)."""
    name = "stock_prices_generator"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, EXAMPLE / "generator.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


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


def variables(bootstrap: str, topic: str, root: Path) -> dict[str, str]:
    """The example pipeline's ``--var`` values."""
    return {"bootstrap": bootstrap, "topic": topic, "data_root": str(root)}


def example_with_spark(path: Path, spark: dict[str, Any]) -> Path:
    """The example pipeline unchanged plus a ``spark:`` section (master or remote, conf)."""
    text = (EXAMPLE / "pipeline.yaml").read_text()
    path.write_text(f"{text}\nspark: {json.dumps(spark)}\n")  # JSON is YAML
    return path


def node_counts(stdout: str) -> dict[str, list[str]]:
    """Per node of a rendered run summary: [batches, in, out, dropped, quarantined, dead], ``in``
    the rows after the steps (``read - removed``; ``read`` when removed is not counted: ``-``)."""
    out = {}
    for line in stdout.splitlines():
        parts = line.split()
        if parts and parts[0] in TABLES:
            read, removed = int(parts[2]), parts[3]
            steps_out = read - int(removed) if removed != "-" else read
            out[parts[0]] = [parts[1], str(steps_out)] + parts[4:8]
    return out


def summary_counts(summary) -> dict[str, list[str]]:
    """The same counts as :func:`node_counts`, from a run summary object."""
    return {n.node: [str(x) for x in (n.batches, n.input_rows, n.output_rows, n.dropped_rows, n.quarantined_rows, n.dead_letter_rows)]
            for n in summary.nodes}


def assert_same_tables(polars_root: Path, spark_root: Path) -> dict[str, int]:
    """Every table of the example (and the dead letters, when either run wrote some) has the same
    schema and rows under both roots; returns the row count of each."""
    counts = {}
    names = list(TABLES)
    if (polars_root / DEAD_LETTERS).exists() or (spark_root / DEAD_LETTERS).exists():
        names.append(str(DEAD_LETTERS))
    for name in names:
        p_schema, p_rows = delta_rows(polars_root / name)
        s_schema, s_rows = delta_rows(spark_root / name)
        if name == str(DEAD_LETTERS):
            p_rows = [{k: v for k, v in r.items() if k != "failed_at"} for r in p_rows]
            s_rows = [{k: v for k, v in r.items() if k != "failed_at"} for r in s_rows]
        assert s_schema == p_schema, f"{name}: schemas differ\npolars: {p_schema}\nspark:  {s_schema}"
        assert s_rows == p_rows, f"{name}: rows differ ({len(p_rows)} polars, {len(s_rows)} spark)"
        counts[name] = len(p_rows)
    return counts
