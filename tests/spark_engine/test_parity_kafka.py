"""Parity: Kafka JSON -> bronze -> silver on the Polars and the Spark engine give identical Delta tables."""

from __future__ import annotations

import pyarrow as pa
import pytest
from deltalake import DeltaTable

from kappa.kafka.writer import produce_table
from kappa.testing.kafka import produce

from tests.helpers.engines import run_polars, run_spark
from tests.helpers.pipelines import pipeline_for
from tests.helpers.tables import assert_same_delta

pytestmark = [pytest.mark.spark, pytest.mark.kafka]

PIPELINE = """
name: parity-kafka
checkpoint_root: {root}/checkpoints
nodes:
- name: brz
  source:
    bootstrap_servers: {bootstrap}
    topic: {topic}
    schema: "id BIGINT, symbol STRING, price STRING, meta STRUCT<src: STRING, n: INT>"
  transformer:
  - expr: SELECT value.id AS id, value.symbol AS symbol, value.price AS price, value.meta AS meta, `partition`, `offset`, key FROM {{df}}
  sinks:
  - format: DELTA
    path: {root}/brz
- name: slv
  source:
    node_name: brz
    as_stream: true
  transformer:
  - expr: >
      SELECT id, upper(symbol) AS symbol, CAST(price AS DOUBLE) AS price,
             meta.src AS src, CAST(meta.n AS BIGINT) * 2 AS n2
      FROM {{df}}
  - func_name: unique
    func_kwargs:
      subset: [id]
  expectations:
  - name: has_symbol
    expr: symbol IS NOT NULL
    action: drop
  - name: positive_price
    expr: price > 0
    action: quarantine
  - name: small_id
    expr: id < 25
    action: warn
  sinks:
  - format: DELTA
    path: {root}/slv
  - format: DELTA
    path: {root}/slv_q
    is_quarantine: true
"""


def records(start: int, stop: int) -> list[dict]:
    out = []
    for i in range(start, stop):
        out.append(
            {
                "id": i,
                "symbol": None if i % 10 == 3 else f"s{i % 4}",
                "price": "-1" if i % 10 == 7 else f"{i}.5",
                "meta": {"src": f"m{i % 3}", "n": i},
            }
        )
    return out


def test_kafka_bronze_silver_parity(spark, tmp_path, kafka_bootstrap, make_topic):
    topic = make_topic(partitions=2)
    produce(kafka_bootstrap, topic, records(0, 40) + records(5, 10), key="symbol")
    bad = pa.table({"key": [b"bad1", b"bad2"], "value": [b"{not json", b"[1, 2]"]})
    produce_table({"bootstrap.servers": kafka_bootstrap}, topic, bad)

    roots = {}
    for engine in ("polars", "spark"):
        root = tmp_path / engine
        pl = pipeline_for(PIPELINE, root, bootstrap=kafka_bootstrap, topic=topic)
        summary = run_polars(pl) if engine == "polars" else run_spark(spark, pl)
        roots[engine] = (root, summary)
    (p_root, p_sum), (s_root, s_sum) = roots["polars"], roots["spark"]

    brz = assert_same_delta(p_root, s_root, "brz")
    assert len(brz) == 45 and len({(r["partition"], r["offset"]) for r in brz}) == 45
    slv = assert_same_delta(p_root, s_root, "slv")
    assert sorted(r["id"] for r in slv) == [i for i in range(40) if i % 10 not in (3, 7)]
    q = assert_same_delta(p_root, s_root, "slv_q")
    assert sorted(r["id"] for r in q) == [i for i in range(40) if i % 10 == 7]
    dead = assert_same_delta(p_root / "checkpoints" / "parity-kafka" / "brz", s_root / "checkpoints" / "parity-kafka" / "brz", "dead_letters", drop=("failed_at",))
    assert sorted(r["value"] for r in dead) == [b"[1, 2]", b"{not json"]
    assert p_sum.node("brz").dead_letter_rows == 2
    for name in ("brz", "slv"):
        p, s = p_sum.node(name), s_sum.node(name)
        assert (s.input_rows, s.output_rows, s.dropped_rows, s.quarantined_rows, s.dead_letter_rows, s.failures) == (
            p.input_rows, p.output_rows, p.dropped_rows, p.quarantined_rows, p.dead_letter_rows, p.failures)

    # a second run with no new input writes nothing
    versions = {n: DeltaTable(str(s_root / n)).version() for n in ("brz", "slv", "slv_q")}
    again = run_spark(spark, pipeline_for(PIPELINE, s_root, bootstrap=kafka_bootstrap, topic=topic))
    assert [n.batches for n in again.nodes] == [0, 0]
    assert [n.skipped for n in again.nodes] == ["no new data", "no new data"]
    assert {n: DeltaTable(str(s_root / n)).version() for n in versions} == versions
