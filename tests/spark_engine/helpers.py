"""Helpers of the Spark engine tests: run one pipeline on both engines, compare Delta tables."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

from kappa.config.loader import load_pipeline_text
from kappa.delta.read import read_delta


def pipeline_for(template: str, root: Path, **fmt: Any):
    """The pipeline of ``template`` (``{root}`` and ``fmt`` substituted) rooted at ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    text = textwrap.dedent(template).format(root=root, **fmt)
    (root / "pipeline.yaml").write_text(text)
    return load_pipeline_text(text, path=str(root / "pipeline.yaml"))


def run_spark(spark, pipeline, select=None, full_refresh=()):
    """Run ``pipeline`` on the Spark engine (python profile) in this process."""
    from kappa.engines.spark.engine import SparkEngine
    from kappa.plan import build_plan

    return SparkEngine(spark=spark, profile="python").run(pipeline, build_plan(pipeline, select), full_refresh=full_refresh)


def run_polars(pipeline, select=None):
    from kappa.runner import execute_pipeline

    return execute_pipeline(pipeline, select=select, engine="polars")


def _key(row: dict) -> str:
    return json.dumps(row, sort_keys=True, default=str)


def delta_rows(path: Path, drop: tuple[str, ...] = ()) -> tuple[Any, list[dict]]:
    """(schema, rows sorted) of a Delta table, without the ``drop`` columns."""

    table = read_delta(str(path))
    table = table.drop_columns([c for c in drop if c in table.column_names])
    return table.schema, sorted(table.to_pylist(), key=_key)


def file_rows(path: Path, fmt: str) -> tuple[Any, list[dict]]:
    from kappa.files import list_files, scan_files

    df = scan_files(list_files(str(path), fmt), fmt).collect()
    return df.schema, sorted(df.to_dicts(), key=_key)


def assert_same_delta(polars_root: Path, spark_root: Path, name: str, drop: tuple[str, ...] = ()) -> list[dict]:
    """The Delta table ``name`` is identical (schema and rows) under both roots; returns its rows."""
    p_schema, p_rows = delta_rows(polars_root / name, drop)
    s_schema, s_rows = delta_rows(spark_root / name, drop)
    assert s_schema == p_schema, f"{name}: schemas differ\npolars: {p_schema}\nspark:  {s_schema}"
    assert s_rows == p_rows, f"{name}: rows differ"
    return p_rows


# The kill -9 tests' pipeline (a Kafka bronze node with two Delta sinks and a streaming silver
# node), shared by tests/spark_engine/test_crash.py and tests/cluster/test_cluster_crash.py.
CRASH_PIPELINE = """
name: crash
checkpoint_root: {root}/checkpoints
nodes:
- name: brz
  source:
    bootstrap_servers: {bootstrap}
    topic: {topic}
    schema: "id BIGINT"
    max_offsets_per_trigger: 100
  transformer:
  - expr: SELECT value.id AS id, `partition`, `offset` FROM {{df}}
  sinks:
  - format: DELTA
    path: {root}/brz
  - format: DELTA
    path: {root}/brz_copy
- name: slv
  source:
    node_name: brz
    as_stream: true
  transformer:
  - expr: SELECT id, id * 2 AS twice FROM {{df}}
  sinks:
  - format: DELTA
    path: {root}/slv
"""
