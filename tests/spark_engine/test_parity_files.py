"""Parity on file sources and sinks: JSONL/CSV/Parquet in, Delta and part files out, a
``{nodes.x}`` join, and a node that re-reads its whole source on every run."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable

from tests.helpers.engines import run_polars, run_spark
from tests.helpers.pipelines import pipeline_for
from tests.helpers.tables import assert_same_delta, file_rows

pytestmark = pytest.mark.spark

PIPELINE = """
name: parity-files
checkpoint_root: {root}/checkpoints
nodes:
- name: orders
  source:
    path: {root}/in/orders
    format: JSONL
    as_stream: true
  transformer:
  - expr: SELECT id, name, CAST(amount * 100 AS BIGINT) AS cents, item.sku AS sku FROM {{df}}
  sinks:
  - format: DELTA
    path: {root}/orders
- name: cities
  source:
    path: {root}/in/cities.csv
    format: CSV
  sinks:
  - path: {root}/cities_out/
    format: PARQUET
- name: scores
  source:
    path: {root}/in/scores
    format: PARQUET
    as_stream: true
  sinks:
  - format: DELTA
    path: {root}/scores
- name: enriched
  source:
    node_name: orders
    as_stream: true
  transformer:
  - expr: >
      SELECT o.id, o.name, o.cents, s.score, o.sku
      FROM {{df}} o LEFT JOIN {{nodes.scores}} s ON o.id = s.id
  expectations:
  - name: known_score
    expr: score IS NOT NULL
    action: drop
  sinks:
  - format: DELTA
    path: {root}/enriched
  - path: {root}/enriched_files/
    format: JSONL
- name: by_city
  source:
    node_name: cities
  transformer:
  - expr: SELECT city, count(*) AS n, max(id) AS max_id FROM {{df}} GROUP BY city
  sinks:
  - format: DELTA
    path: {root}/by_city
"""


def write_inputs(root: Path, part: int) -> None:
    (root / "in/orders").mkdir(parents=True, exist_ok=True)
    (root / "in/scores").mkdir(parents=True, exist_ok=True)
    base = part * 10
    rows = [{"id": base + i, "name": f"n{i}", "amount": i + 0.25, "item": {"sku": f"k{i % 3}", "qty": i}} for i in range(10)]
    (root / f"in/orders/part{part}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    scores = pa.table({"id": pa.array([base + i for i in range(0, 10, 2)], pa.int64()), "score": pa.array([i * 1.5 for i in range(5)], pa.float32())})
    pq.write_table(scores, root / f"in/scores/part{part}.parquet")
    lines = ["id,city"] + [f"{i},{'paris' if i % 3 else 'rome'}" for i in range(base + 10)]
    (root / "in/cities.csv").write_text("\n".join(lines) + "\n")


def test_file_sources_sinks_and_join_parity(spark, tmp_path):
    roots = {"polars": tmp_path / "polars", "spark": tmp_path / "spark"}
    for part in (0, 1):
        for engine, root in roots.items():
            write_inputs(root, part)
            pl = pipeline_for(PIPELINE, root)
            summary = run_polars(pl) if engine == "polars" else run_spark(spark, pl)
            assert summary.ok
        p, s = roots["polars"], roots["spark"]
        orders = assert_same_delta(p, s, "orders")
        assert len(orders) == 10 * (part + 1)
        assert {"id": 0, "name": "n0", "cents": 25, "sku": "k0"} in orders
        assert_same_delta(p, s, "scores")
        enriched = assert_same_delta(p, s, "enriched")
        assert sorted(r["id"] for r in enriched) == [i for i in range(10 * (part + 1)) if i % 2 == 0]
        by_city = assert_same_delta(p, s, "by_city")
        ids = range(10 * (part + 1))
        expected = {c: [i for i in ids if (c == "rome") == (i % 3 == 0)] for c in ("paris", "rome")}
        assert sorted(by_city, key=lambda r: r["city"]) == [{"city": c, "n": len(v), "max_id": max(v)} for c, v in sorted(expected.items())]
        assert file_rows(s / "cities_out", "PARQUET") == file_rows(p / "cities_out", "PARQUET")
        assert file_rows(s / "enriched_files", "JSONL") == file_rows(p / "enriched_files", "JSONL")
        assert sorted(f.name for f in (s / "enriched_files").iterdir()) == sorted(f.name for f in (p / "enriched_files").iterdir())

    # nothing new: the Spark engine writes nothing, not even the per-run nodes
    s = roots["spark"]
    versions = {n: DeltaTable(str(s / n)).version() for n in ("orders", "scores", "enriched", "by_city")}
    files = sorted(str(f) for f in (s / "cities_out").iterdir())
    again = run_spark(spark, pipeline_for(PIPELINE, s))
    assert [n.batches for n in again.nodes] == [0] * 5
    assert {n: DeltaTable(str(s / n)).version() for n in versions} == versions
    assert sorted(str(f) for f in (s / "cities_out").iterdir()) == files
