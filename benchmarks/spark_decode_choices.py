"""Benchmark: where the python profile decodes Kafka JSON -- three choices on one Spark session.

Each choice reads the same topic (``--events`` ~100-byte events over 2 partitions, kappa's
embedded broker) with the ``kappa_kafka`` source, runs the bronze node's SQL
(``spark_kafka_to_delta.SQL``) and appends to a Delta table with kappa's executor-side writer
(``write_delta_frame``), as one Spark batch job, twice, in turn:

- **reader**: the ``kappa_kafka`` reader decodes each fetched Arrow batch in the same Python
  pass (``kappa.decode`` option: what kappa does for a JSON source with a declared schema);
- **from_json**: Spark's ``from_json`` on the raw value (PERMISSIVE; it yields no dead letters,
  so it does less than the other two: a bad record would become a null row);
- **mapInArrow**: a separate ``mapInArrow`` stage running kappa's decoder over the raw frame,
  cached so that the dead letters can be split off (what kappa does for an inferred schema).

Reported per choice: wall seconds and the CPU seconds of this process tree (the driver, its JVM,
the Python workers and the broker; ``psutil``), which are less sensitive to a shared machine
than wall time. Figures: ``benchmarks/results/spark_decode_choices.json``.

    python benchmarks/spark_decode_choices.py [--events 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import spark_kafka_to_delta as bench  # noqa: E402


def tree_cpu() -> float:
    """CPU seconds of this process and every process below it (exited children included)."""
    import psutil

    total = 0.0
    me = psutil.Process()
    for proc in [me, *me.children(recursive=True)]:
        try:
            t = proc.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
        except psutil.Error:
            continue
    return total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--output", default=str(bench.ROOT / "benchmarks" / "results" / "spark_decode_choices.json"))
    args = ap.parse_args()
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")

    from pyspark.sql import functions as F

    from kappa.broker import EmbeddedBroker
    from kappa.engines.spark import decode as D
    from kappa.engines.spark.datasources.delta_sink import write_delta_frame
    from kappa.kafka.writer import create_topic

    work = Path(tempfile.mkdtemp(prefix="kappa-decode-"))
    broker = EmbeddedBroker().start()
    boot = broker.bootstrap_servers
    try:
        for topic, n in (("warm", bench.WARM_EVENTS), ("bench", args.events)):
            create_topic({"bootstrap.servers": boot}, topic, 2)
            bench.produce_bulk(boot, topic, n, 2)
        spark, _ = bench.session()
        bench.kappa_run(spark, "python", "warm", boot, "warm", work)
        from kappa.plan import build_plan

        spec = build_plan(bench.pipeline("x", boot, "bench", work, "available_now")).nodes[0].source  # KafkaSourcePlan
        tables = iter(range(1000))

        def read(decode: bool):
            opts = {"kafka.bootstrap.servers": boot, "subscribe": "bench", "startingOffsets": "earliest",
                    **(D.decode_option(spec) if decode else {})}
            return spark.read.format("kappa_kafka").options(**opts).load()

        def sink(df) -> int:
            df.createOrReplaceTempView("v")
            out = spark.sql(bench.SQL.replace("{df}", "v"))
            return write_delta_frame(out, table_uri=str(work / f"t{next(tables)}"), mode="append", app_id="a", batch_id=0,
                                     partition_by=None, storage_options=None, schema_mode=None)

        def reader() -> int:
            d = D.decode_kafka_frame(spark, read(True), spec, None)
            return sink(d.rows)

        def from_json() -> int:
            return sink(read(False).withColumn("value", F.from_json(F.col("value").cast("string"), bench.SCHEMA)))

        def map_in_arrow() -> int:
            d = D.decode_kafka_frame(spark, read(False), spec, None)
            try:
                return sink(d.rows)
            finally:
                d.release()

        results: dict = {"events": args.events, "load_average_at_start": list(os.getloadavg()), "runs": {}}
        for _ in range(2):
            for name, run in (("reader", reader), ("from_json", from_json), ("mapInArrow", map_in_arrow)):
                c0, t0 = tree_cpu(), time.perf_counter()
                rows = run()
                wall, cpu = time.perf_counter() - t0, tree_cpu() - c0
                assert rows == args.events, (name, rows)
                results["runs"].setdefault(name, []).append({"wall_s": round(wall, 2), "cpu_s": round(cpu, 2)})
                print(f"{name:<11} {wall:6.2f} s wall {cpu:6.2f} s CPU", flush=True)
        results["load_average_at_end"] = list(os.getloadavg())
        spark.stop()
    finally:
        broker.stop()
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(results, indent=2) + "\n")
    print(f"written: {args.output}")


if __name__ == "__main__":
    main()
