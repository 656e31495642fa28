"""Helpers for the Polars engine tests: a Kafka -> bronze -> silver pipeline in tmp_path."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

PIPELINE = """
name: replay-test
checkpoint_root: {root}/checkpoints
variables:
  bootstrap: {bootstrap}
nodes:
- name: brz
  source:
    bootstrap_servers: ${{vars.bootstrap}}
    topic: {topic}
    value_format: json
    schema: "id BIGINT, symbol STRING, price DOUBLE"
  transformer:
  - expr: SELECT value.id AS id, value.symbol AS symbol, value.price AS price, `partition`, `offset` FROM {{df}}
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
  - expr: SELECT id, upper(symbol) AS symbol, price FROM {{df}}
  expectations:
  - name: has_symbol
    expr: symbol IS NOT NULL
    action: drop
  - name: positive_price
    expr: price > 0
    action: quarantine
  sinks:
  - format: DELTA
    path: {root}/slv
  - format: DELTA
    path: {root}/slv_quarantine
    is_quarantine: true
"""


def records(start: int, stop: int) -> list[dict]:
    """Record i: symbol null when i % 10 == 3, price <= 0 when i % 10 == 7."""
    out = []
    for i in range(start, stop):
        out.append({"id": i, "symbol": None if i % 10 == 3 else f"s{i % 4}", "price": -1.0 if i % 10 == 7 else float(i) + 0.5})
    return out


def expected(n: int) -> dict[str, int]:
    nulls = sum(1 for i in range(n) if i % 10 == 3)
    negative = sum(1 for i in range(n) if i % 10 == 7)
    return {"brz": n, "slv": n - nulls - negative, "quarantine": negative, "dropped": nulls}


@pytest.fixture
def replay_pipeline(tmp_path, kafka_bootstrap, make_topic):
    """Writes the pipeline YAML; returns (path to yaml, topic, root)."""
    topic = make_topic(partitions=2)
    root = tmp_path
    path = Path(tmp_path) / "pipeline.yaml"
    path.write_text(textwrap.dedent(PIPELINE.format(root=root, bootstrap=kafka_bootstrap, topic=topic)))
    return path, topic, root
