"""Helpers of the cluster tests: the stock-prices example run by ``kappa run`` in a subprocess
(a test session holds one SparkContext; a cluster or Connect driver needs its own process),
the Polars replay of the same pipeline, and an exact comparison of their Delta tables."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "stock_prices"
TABLES = ("brz_stock_prices", "slv_stock_prices", "slv_stock_prices_quarantine", "gld_stock_performances")
DEAD_LETTERS = Path("checkpoints") / "stock-prices" / "brz_stock_prices" / "dead_letters"


@pytest.fixture(scope="session")
def gen():
    """The example's ``generator`` module."""
    name = "stock_prices_generator"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, EXAMPLE / "generator.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def variables(bootstrap: str, topic: str, root: Path) -> dict[str, str]:
    return {"bootstrap": bootstrap, "topic": topic, "data_root": str(root)}


def example_with_spark(path: Path, spark: dict[str, Any]) -> Path:
    """The example pipeline unchanged plus a ``spark:`` section (master or remote, conf)."""
    text = (EXAMPLE / "pipeline.yaml").read_text()
    path.write_text(f"{text}\nspark: {json.dumps(spark)}\n")  # JSON is YAML
    return path


def kappa_cli(command: list[str], pipeline: Path, vars_: dict[str, str], options: list[str] = (), timeout_s: float = 240,
              env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``python -m kappa.cli COMMAND PIPELINE --profile python OPTIONS --var ...`` in a subprocess."""
    cmd = [sys.executable, "-m", "kappa.cli", *command, str(pipeline), "--profile", "python", *options]
    cmd += [f"--var={k}={v}" for k, v in vars_.items()]
    full_env = {**os.environ, "PYTHONPATH": str(REPO), "SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": sys.executable,
                "PYARROW_IGNORE_TIMEZONE": "1", **(env or {})}
    if "SPARK_REMOTE" not in (env or {}):
        full_env.pop("SPARK_REMOTE", None)
    return subprocess.run(cmd, capture_output=True, text=True, env=full_env, timeout=timeout_s, cwd=str(REPO), check=False)


def kappa_run(pipeline: Path, vars_: dict[str, str], timeout_s: float = 240, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``python -m kappa.cli run PIPELINE --profile python --var ...`` in a subprocess."""
    return kappa_cli(["run"], pipeline, vars_, timeout_s=timeout_s, env=env)


def node_counts(stdout: str) -> dict[str, list[str]]:
    """Per node of a rendered run summary: [batches, in, out, dropped, quarantined, dead]."""
    out = {}
    for line in stdout.splitlines():
        parts = line.split()
        if parts and parts[0] in TABLES:
            out[parts[0]] = parts[1:7]
    return out


def summary_counts(summary) -> dict[str, list[str]]:
    return {n.node: [str(x) for x in (n.batches, n.input_rows, n.output_rows, n.dropped_rows, n.quarantined_rows, n.dead_letter_rows)]
            for n in summary.nodes}


def _key(row: dict) -> str:
    return json.dumps(row, sort_keys=True, default=str)


def delta_rows(path: Path) -> tuple[Any, list[dict]]:
    from kappa.delta.read import read_delta

    table = read_delta(str(path))
    return table.schema, sorted(table.to_pylist(), key=_key)


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
