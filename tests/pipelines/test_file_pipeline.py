"""File sources and sinks on every engine (the ``engine`` fixture): JSONL/CSV/Parquet in, Delta
and part files out, a ``{nodes.x}`` join, and a node that re-reads its whole source on every
run. Each engine's tables equal the EXPECTED tables built from the inputs (rows in canonical
order, and their schemas), so the engines agree because each agrees with them."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import DeltaTable

from tests.helpers.pipelines import pipeline_for
from tests.helpers.tables import assert_delta, assert_files

PIPELINE = """
name: file-pipeline
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


ORDERS = pa.schema([("id", pa.int64()), ("name", pa.string()), ("cents", pa.int64()), ("sku", pa.string())])
SCORES = pa.schema([("id", pa.int64()), ("score", pa.float32())])
ENRICHED = pa.schema([("id", pa.int64()), ("name", pa.string()), ("cents", pa.int64()), ("score", pa.float32()), ("sku", pa.string())])
BY_CITY = pa.schema([("city", pa.string()), ("n", pa.int64()), ("max_id", pa.int64())])


def expected_orders(parts: int) -> list[dict]:
    """``orders`` after ``parts`` input parts: every order, amount in cents, the item's sku."""
    return [{"id": 10 * p + i, "name": f"n{i}", "cents": 100 * i + 25, "sku": f"k{i % 3}"} for p in range(parts) for i in range(10)]


def expected_scores(parts: int) -> list[dict]:
    return [{"id": 10 * p + i, "score": i * 0.75} for p in range(parts) for i in range(0, 10, 2)]


def expected_enriched(parts: int) -> list[dict]:
    """Orders joined with their score; the orders without one (odd ids) are dropped."""
    return [{**o, "score": (o["id"] % 10) * 0.75} for o in expected_orders(parts) if o["id"] % 2 == 0]


def expected_by_city(parts: int) -> list[dict]:
    ids = range(10 * parts)
    cities = {c: [i for i in ids if (c == "rome") == (i % 3 == 0)] for c in ("paris", "rome")}
    return [{"city": c, "n": len(v), "max_id": max(v)} for c, v in cities.items()]


def test_file_sources_sinks_and_join(engine, tmp_path):
    root = tmp_path / engine.name
    for part in (0, 1):
        write_inputs(root, part)
        assert engine.run(pipeline_for(PIPELINE, root)).ok
        parts = part + 1
        assert_delta(root / "orders", expected_orders(parts), ORDERS)
        assert_delta(root / "scores", expected_scores(parts), SCORES)
        enriched = assert_delta(root / "enriched", expected_enriched(parts), ENRICHED)
        assert_delta(root / "by_city", expected_by_city(parts), BY_CITY)
        # the per-run node overwrites its files with the whole CSV; the streaming one appends a part a batch
        assert_files(root / "cities_out", "PARQUET", [{"id": i, "city": "paris" if i % 3 else "rome"} for i in range(10 * parts)],
                     {"id": pl.Int64, "city": pl.String})
        assert_files(root / "enriched_files", "JSONL", enriched,
                     {"id": pl.Int64, "name": pl.String, "cents": pl.Int64, "score": pl.Float64, "sku": pl.String})
        assert sorted(f.name for f in (root / "enriched_files").iterdir()) == [f"part-{b:08d}.jsonl" for b in range(parts)]

    # nothing new: no streaming node writes; the Spark engine does not even run the per-run nodes
    versions = {n: DeltaTable(str(root / n)).version() for n in ("orders", "scores", "enriched", "by_city")}
    files = sorted(str(f) for f in (root / "cities_out").iterdir())
    again = engine.run(pipeline_for(PIPELINE, root))
    streaming = {"orders", "scores", "enriched"}
    assert {n.node: n.batches for n in again.nodes if n.node in streaming} == dict.fromkeys(streaming, 0)
    assert {n: DeltaTable(str(root / n)).version() for n in streaming} == {n: versions[n] for n in streaming}
    if engine.name == "spark":
        assert [n.batches for n in again.nodes] == [0] * 5
        assert {n: DeltaTable(str(root / n)).version() for n in versions} == versions
        assert sorted(str(f) for f in (root / "cities_out").iterdir()) == files
    assert_delta(root / "by_city", expected_by_city(2), BY_CITY)
    assert_files(root / "cities_out", "PARQUET", [{"id": i, "city": "paris" if i % 3 else "rome"} for i in range(20)])
