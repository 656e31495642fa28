"""A small files pipeline whose counts are known: 30 rows read, a SQL step removes 2, an
expectation drops 4 (``v < 6`` fails for v = 6), 24 written; ``silver`` copies bronze."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

PIPELINE = """\
name: {name}
nodes:
- name: bronze
  source: {{path: ./in/, format: JSONL}}
  transformer:
    nodes:
    - expr: SELECT id, v FROM {{df}} WHERE {where}
  expectations:
  - {{name: v_small, expr: "v < 6", action: drop}}
  sinks:
  - {{format: PARQUET, path: ./data/bronze.parquet}}
- name: silver
  source: {{node_name: bronze}}
  sinks:
  - {{format: PARQUET, path: ./data/silver.parquet}}
"""


def write_pipeline(folder: Path, name: str = "demo", where: str = "id >= 2") -> Path:
    """The pipeline file (and its 30 input rows) in ``folder``."""
    (folder / "in").mkdir(parents=True, exist_ok=True)
    (folder / "in" / "a.jsonl").write_text("".join(json.dumps({"id": i, "v": i % 7}) + "\n" for i in range(30)))
    path = folder / "pipeline.yaml"
    path.write_text(PIPELINE.format(name=name, where=where))
    return path


@pytest.fixture
def pipeline_file(tmp_path: Path) -> Path:
    return write_pipeline(tmp_path)
