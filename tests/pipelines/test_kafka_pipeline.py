"""Kafka JSON -> bronze -> silver on every engine (the ``engine`` fixture): a two-partition topic
with a duplicated range and two undecodable records; bronze, silver, its quarantine and the
dead letters equal the EXPECTED tables built from the produced records, the run's counts are
the expected ones, and a second run with no new input writes nothing."""

from __future__ import annotations

from collections import defaultdict

import pyarrow as pa
import pytest
from deltalake import DeltaTable

from kappa.kafka.writer import produce_table
from kappa.testing.kafka import produce

from tests.helpers.pipelines import downstream, kafka_bronze, pipeline_for
from tests.helpers.tables import assert_delta, delta_rows

pytestmark = pytest.mark.kafka

PIPELINE = kafka_bronze(
    "kafka-pipeline",
    source=(("schema", '"id BIGINT, symbol STRING, price STRING, meta STRUCT<src: STRING, n: INT>"'),),
    select="SELECT value.id AS id, value.symbol AS symbol, value.price AS price, value.meta AS meta, `partition`, `offset`, key FROM {{df}}",
    downstream=downstream(
        "slv", "brz",
        "SELECT id, upper(symbol) AS symbol, CAST(price AS DOUBLE) AS price, meta.src AS src, CAST(meta.n AS BIGINT) * 2 AS n2 FROM {{df}}",
        steps=("{{func_name: unique, func_kwargs: {{subset: [id]}}}}",),
        expectations=(("has_symbol", "symbol IS NOT NULL", "drop"), ("positive_price", "price > 0", "quarantine"),
                      ("small_id", "id < 25", "warn")),
        quarantine="slv_q"),
)
BAD = [b"{not json", b"[1, 2]"]
BRONZE = pa.schema([("id", pa.int64()), ("symbol", pa.string()), ("price", pa.string()),
                    ("meta", pa.struct([("src", pa.string()), ("n", pa.int32())])), ("partition", pa.int32()),
                    ("offset", pa.int64()), ("key", pa.binary())])
SILVER = pa.schema([("id", pa.int64()), ("symbol", pa.string()), ("price", pa.float64()), ("src", pa.string()), ("n2", pa.int64())])
QUARANTINE = SILVER.append(pa.field("_kappa_failed", pa.list_(pa.string())))


def records(start: int, stop: int) -> list[dict]:
    """Events for ids ``[start, stop)``: symbol null when i % 10 == 3, price "-1" when i % 10 == 7."""
    return [{"id": i, "symbol": None if i % 10 == 3 else f"s{i % 4}", "price": "-1" if i % 10 == 7 else f"{i}.5",
             "meta": {"src": f"m{i % 3}", "n": i}} for i in range(start, stop)]


def silver(r: dict) -> dict:
    return {"id": r["id"], "symbol": r["symbol"].upper(), "price": float(r["price"]), "src": r["meta"]["src"], "n2": 2 * r["id"]}


def test_kafka_bronze_silver(engine, tmp_path, kafka_bootstrap, make_topic):
    topic = make_topic(partitions=2)
    produced = records(0, 40) + records(5, 10)
    produce(kafka_bootstrap, topic, produced, key="symbol")
    produce_table({"bootstrap.servers": kafka_bootstrap}, topic, pa.table({"key": [b"bad1", b"bad2"], "value": BAD}))
    root = tmp_path / engine.name
    summary = engine.run(pipeline_for(PIPELINE, root, bootstrap=kafka_bootstrap, topic=topic))

    assert_delta(root / "brz", [{**r, "key": r["symbol"] and r["symbol"].encode()} for r in produced],
                 drop=("partition", "offset"))
    assert_delta(root / "ck/kafka-pipeline/brz/dead_letters", [
        {"topic": topic, "key": b"bad1", "value": BAD[0], "error": "invalid JSON: Expecting property name enclosed in double quotes at line 1 column 2"},
        {"topic": topic, "key": b"bad2", "value": BAD[1], "error": "JSON value is an array, not an object"},
    ], drop=("partition", "offset", "failed_at"))
    # every record is in bronze or a dead letter once: each partition's offsets 0..n-1
    schema, brz = delta_rows(root / "brz")
    assert schema == BRONZE
    offsets = defaultdict(list)
    for row in brz + delta_rows(root / "ck/kafka-pipeline/brz/dead_letters")[1]:
        offsets[row["partition"]].append(row["offset"])
    assert sum(map(len, offsets.values())) == 47
    assert all(sorted(o) == list(range(len(o))) for o in offsets.values()), dict(offsets)
    unique = records(0, 40)
    assert_delta(root / "slv", [silver(r) for r in unique if r["id"] % 10 not in (3, 7)], SILVER)
    assert_delta(root / "slv_q", [{**silver(r), "_kappa_failed": ["positive_price"] + (["small_id"] if r["id"] >= 25 else [])}
                                  for r in unique if r["id"] % 10 == 7], QUARANTINE)
    counts = {n.node: (n.input_rows, n.output_rows, n.dropped_rows, n.quarantined_rows, n.dead_letter_rows, n.failures)
              for n in summary.nodes}
    assert counts == {"brz": (45, 45, 0, 0, 2, {}),
                      "slv": (40, 32, 4, 4, 0, {"has_symbol": 4, "positive_price": 4, "small_id": 15})}

    # a second run with no new input writes nothing
    versions = {n: DeltaTable(str(root / n)).version() for n in ("brz", "slv", "slv_q")}
    again = engine.run(pipeline_for(PIPELINE, root, bootstrap=kafka_bootstrap, topic=topic))
    assert [(n.batches, n.skipped) for n in again.nodes] == [(0, "no new data")] * 2
    assert {n: DeltaTable(str(root / n)).version() for n in versions} == versions
