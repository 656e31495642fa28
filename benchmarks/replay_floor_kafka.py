"""The ``kafka`` case of ``replay_floor.py``: the example's Kafka -> bronze -> silver against its floor.

Design note. The parent starts kappa's embedded broker (Tansu, in memory) once; a child job
produces ``--events`` generated events into a one-partition topic with the example's producer
(``generator.produce_kafka``: JSON values, key = symbol) and writes ``kafka.json`` (bootstrap,
topic, end offset of each partition) into the input folder. Then each side runs in its own child:

* ``kappa`` - ``examples/stock_prices/pipeline.yaml`` exactly as shipped, its bronze and silver
  nodes selected (``execute_pipeline(select=...)``, the gold nodes do not run): bronze decodes the
  JSON value with its declared schema (undecodable records would be dead letters) and appends to a
  Delta table; silver reads that table as a stream, casts/flattens with the example's SQL, runs
  ``unique`` and its two expectations (null symbol dropped, non-positive price quarantined).
* ``floor`` - the same work written by hand with the same libraries: a confluent-kafka consumer
  assigned at the start offset reads the range in ``consume()`` batches into Arrow record
  batches, Polars decodes the JSON values (``str.json_decode`` with the declared struct) and
  appends the bronze table (``write_delta``); silver scans that table back (``scan_delta``), as
  the example's silver node reads bronze's table, selects, ``unique``, evaluates both checks
  once and appends the silver and quarantine tables (the quarantine with kappa's
  ``_kappa_failed`` column).

Both sides end with the same Delta tables (checked: bronze row counts, silver and quarantine
rows equal, and equal to the generator's expected counts).
"""

from __future__ import annotations

import json
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "stock_prices"
PIPELINE = EXAMPLE / "pipeline.yaml"
TOPIC = "stock-prices"
NODES = ("brz_stock_prices", "slv_stock_prices")
TABLES = ("brz_stock_prices", "slv_stock_prices", "slv_stock_prices_quarantine")


def produce(folder: Path, bootstrap: str, events: int, seed: int, topic: str = TOPIC) -> dict:
    """Produce the events once; ``kafka.json`` in ``folder`` tells the sides where they are."""
    import sys

    from confluent_kafka import Consumer, TopicPartition

    sys.path.insert(0, str(EXAMPLE))
    import generator

    folder.mkdir(parents=True, exist_ok=True)
    sent = generator.produce_kafka(bootstrap, topic, events, seed)
    # the range to read: [0, end) of the partition. The high watermark of a fetch response is
    # exact on Tansu (its ListOffsets "latest" is not after batched produces).
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "replay-floor-probe", "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, 0, 0)])
    consumer.consume(1, timeout=10)
    _low, end = consumer.get_watermark_offsets(TopicPartition(topic, 0), cached=True)
    consumer.close()
    expected = generator.expected_counts(events, seed)
    info = {"bootstrap": bootstrap, "topic": topic, "ends": {"0": end}, "sent": sent,
            "expected": {"bronze": expected.bronze, "silver": expected.silver, "quarantine": expected.quarantined}}
    (folder / "kafka.json").write_text(json.dumps(info))
    return info


def kappa_side(inp: Path, out: Path) -> None:
    from kappa.config.loader import load_pipeline_file
    from kappa.runner import execute_pipeline

    info = json.loads((inp / "kafka.json").read_text())
    pipeline = load_pipeline_file(PIPELINE, variables={"bootstrap": info["bootstrap"], "topic": info["topic"],
                                                       "data_root": str(out)})
    execute_pipeline(pipeline, select=list(NODES), engine="polars")


def _read_range(bootstrap: str, topic: str, ends: dict[int, int]):
    """The records ``[0, end)`` of each partition as Arrow record batches (Spark's Kafka columns)."""
    import pyarrow as pa
    from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "replay-floor", "enable.auto.commit": False,
                         "enable.partition.eof": True, "fetch.wait.max.ms": 100})
    consumer.assign([TopicPartition(topic, p, 0) for p, end in ends.items() if end > 0])
    pending = {p for p, end in ends.items() if end > 0}
    batches = []
    try:
        while pending:
            good = []
            for m in consumer.consume(10_000, timeout=1.0):
                err = m.error()
                if err is None:
                    if m.offset() < ends[m.partition()]:
                        good.append(m)
                    if m.offset() + 1 >= ends[m.partition()]:
                        pending.discard(m.partition())
                elif err.code() == KafkaError._PARTITION_EOF:
                    pending.discard(m.partition())
                else:
                    raise KafkaException(err)
            if good:
                batches.append(pa.record_batch({
                    "key": pa.array([m.key() for m in good], pa.binary()),
                    "value": pa.array([m.value() for m in good], pa.string()),
                    "partition": pa.array([m.partition() for m in good], pa.int32()),
                    "offset": pa.array([m.offset() for m in good], pa.int64()),
                    "timestamp": pa.array([m.timestamp()[1] for m in good], pa.timestamp("ms", tz="UTC")),
                }))
    finally:
        consumer.close()
    return batches


def floor_side(inp: Path, out: Path, silver_exprs) -> None:
    import polars as pl

    info = json.loads((inp / "kafka.json").read_text())
    topic = info["topic"]
    records = pl.from_arrow(_read_range(info["bootstrap"], topic, {int(p): e for p, e in info["ends"].items()}))
    value = pl.Struct({"name": pl.String, "producer": pl.Struct({"name": pl.String, "party": pl.String}),
                       "data": pl.Struct({"created_at": pl.String, "symbol": pl.String,
                                          **{c: pl.Float64 for c in ("open", "close", "high", "low", "volume")}})})
    decoded = pl.col("value").str.json_decode(value)
    bronze = records.select(decoded.struct.field("data"), decoded.struct.field("producer"),
                            pl.col("key").cast(pl.String), pl.lit(topic).alias("topic"), "partition", "offset",
                            pl.col("timestamp").cast(pl.Datetime("us", "UTC")).alias("kafka_timestamp"))
    records = None
    bronze.write_delta(str(out / "brz_stock_prices"), mode="append")
    bronze = None
    silver = (pl.scan_delta(str(out / "brz_stock_prices")).select(silver_exprs())
              .unique(subset=["symbol", "created_at"], keep="any").collect())
    no_symbol = pl.col("symbol").is_null()
    bad_price = ~(pl.all_horizontal(pl.col(c) > 0 for c in ("open", "close", "high", "low"))).fill_null(False)
    silver.filter(~no_symbol & ~bad_price).write_delta(str(out / "slv_stock_prices"), mode="append")
    failed = pl.concat_list(pl.when(no_symbol).then(pl.lit("has_symbol")), pl.when(bad_price).then(pl.lit("positive_prices")))
    (silver.filter(bad_price).with_columns(failed.list.drop_nulls().alias("_kappa_failed"))
     .write_delta(str(out / "slv_stock_prices_quarantine"), mode="append"))


def verify(work: Path, inp: Path) -> dict:
    """Both sides' tables: bronze row counts, silver and quarantine rows equal and as expected."""
    import polars as pl

    expected = json.loads((inp / "kafka.json").read_text())["expected"]
    rows, same = {}, {}
    for name, key in zip(TABLES, ("bronze", "silver", "quarantine")):
        tables = {side: pl.read_delta(str(work / side / name)) for side in ("kappa", "floor")}
        rows[key] = {side: t.height for side, t in tables.items()}
        if key != "bronze":  # bronze: the same records, counted (kappa's bronze keeps Kafka's timestampType apart)
            cols = [c for c, t in tables["kappa"].schema.items() if not t.is_nested()]
            k, f = (t.sort(cols, nulls_last=True) for t in (tables["kappa"], tables["floor"].select(tables["kappa"].columns)))
            same[key] = k.equals(f)
    ok = all(same.values()) and all(r["kappa"] == r["floor"] == expected[k] for k, r in rows.items())
    return {"ok": ok, "silver_tables_equal": same.get("silver", False), "quarantine_tables_equal": same.get("quarantine", False),
            "rows": rows, "expected_rows": expected}
