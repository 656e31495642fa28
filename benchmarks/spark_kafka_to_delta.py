"""Benchmark: Kafka -> Delta on Spark (python connector profile) against a plain Python floor.

One run, one embedded broker (Tansu), three measurements:

1. **floor**: a plain Python loop consumes the topic with confluent-kafka in batches of
   ``--batch`` messages, parses and casts each JSON value, and appends each batch to a Delta
   table with deltalake. Rows/s over the whole topic. It runs before and after the Spark run
   (the machine is shared; the mean counts, and the load average of each phase is recorded).
2. **spark throughput**: one bronze node (JSON parse + casts) read by ``kappa_kafka`` and
   written to Delta by kappa's ``foreachBatch`` writer, run as ``kappa run`` does (availableNow)
   over the same ``--events`` events. Rows/s from the query's start to its end. Both sides
   first run once over 2,000 other events (not counted, reported): the SparkSession's start
   and its first query (which starts the data source's Python workers) are fixed costs.
3. **latency**: a second topic fed by a steady producer (``--rate`` msg/s for ``--seconds``)
   while ``kappa stream start``'s runner runs the same node with ``processing_time: 1 second``.
   Each event carries its produce time; its latency is the time the Delta commit holding it
   became visible (the commit file's mtime) minus that time. p50/p95 over all events.

The Spark run's seconds are also split by component (timers wrapped around kappa's
``foreachBatch`` phases; see :func:`instrument`): the Kafka source up to the micro-batch as
Arrow on the driver, JSON decoding, Arrow -> Spark DataFrame, transform + persist + row count
(``apply_expectations_spark``), the sink's ``toArrow`` + Delta write, and the time outside
``foreachBatch`` (planning, offsets, commit).

Targets: spark rows/s >= 0.5x the floor; p50 latency < 2 s.

    python benchmarks/spark_kafka_to_delta.py                  # 1,000,000 events
    python benchmarks/spark_kafka_to_delta.py --events 100000 --seconds 10

Figures: ``benchmarks/results/spark_kafka_to_delta.json`` (``--output`` to change).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SCHEMA = "id BIGINT, ts BIGINT, user STRING, amount STRING, kind STRING"
SQL = (
    "SELECT value.id AS id, timestamp_millis(value.ts) AS event_time, value.ts AS ts, "
    "value.user AS user, CAST(value.amount AS DOUBLE) AS amount, value.kind AS kind FROM {df}"
)
KINDS = ("view", "click", "buy", "refund")
WARM_EVENTS = 2000


def event(i: int, ts_ms: int) -> bytes:
    return json.dumps(
        {"id": i, "ts": ts_ms, "user": f"u{i % 1000}", "amount": f"{(i % 10000) / 100:.2f}", "kind": KINDS[i % 4]},
        separators=(",", ":"),
    ).encode()


def produce_bulk(bootstrap: str, topic: str, n: int, partitions: int) -> float:
    """Produce ``n`` events as fast as possible; returns seconds."""
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "batch.num.messages": 10000, "queue.buffering.max.messages": 500000})
    t0 = time.perf_counter()
    now = int(time.time() * 1000)
    for i in range(n):
        while True:
            try:
                p.produce(topic, event(i, now), partition=i % partitions)
                break
            except BufferError:
                p.poll(0.05)
        if i % 10000 == 0:
            p.poll(0)
    p.flush()
    return time.perf_counter() - t0


def floor_run(bootstrap: str, topic: str, n: int, partitions: int, path: str, batch: int) -> float:
    """The plain Python floor: consume in batches, parse + cast, append to Delta. Returns seconds."""
    import pyarrow as pa
    from confluent_kafka import Consumer, TopicPartition
    from deltalake import write_deltalake

    t0 = time.perf_counter()
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "floor", "enable.auto.commit": False, "fetch.max.bytes": 52428800})
    c.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    seen = 0
    schema = pa.schema([("id", pa.int64()), ("event_time", pa.timestamp("us", "UTC")), ("ts", pa.int64()), ("user", pa.string()), ("amount", pa.float64()), ("kind", pa.string())])
    while seen < n:
        msgs = c.consume(num_messages=batch, timeout=1.0)
        cols = {k: [] for k in schema.names}
        for m in msgs:
            if m.error():
                continue
            v = json.loads(m.value())
            cols["id"].append(v["id"])
            cols["event_time"].append(v["ts"] * 1000)
            cols["ts"].append(v["ts"])
            cols["user"].append(v["user"])
            cols["amount"].append(float(v["amount"]))
            cols["kind"].append(v["kind"])
        if not cols["id"]:
            continue
        seen += len(cols["id"])
        table = pa.table({k: pa.array(cols[k], type=schema.field(k).type) for k in schema.names})
        write_deltalake(path, table, mode="append")
    c.close()
    return time.perf_counter() - t0


def pipeline(name: str, bootstrap: str, topic: str, root: Path, trigger: str) -> "object":
    from kappa.config.loader import load_pipeline_text

    text = textwrap.dedent(
        f"""
        name: {name}
        checkpoint_root: {root}/checkpoints
        trigger: {trigger}
        nodes:
        - name: bronze
          source:
            bootstrap_servers: {bootstrap}
            topic: {topic}
            schema: "{SCHEMA}"
          transformer:
          - expr: "{SQL}"
          sinks:
          - format: DELTA
            path: {root}/{name}_bronze
        """
    )
    return load_pipeline_text(text, path=str(root / f"{name}.yaml"))


def delta_rows(path: str) -> int:
    from deltalake import DeltaTable

    try:
        return int(DeltaTable(path).to_pyarrow_dataset().count_rows())
    except Exception:  # noqa: BLE001 - not created yet
        return 0


def commit_latencies(path: str) -> list[float]:
    """Per event: mtime of the commit file that added it minus its produce time (seconds)."""
    import pyarrow.parquet as pq

    out: list[float] = []
    log = Path(path) / "_delta_log"
    for commit in sorted(log.glob("*.json")):
        visible = commit.stat().st_mtime
        for line in commit.read_text().splitlines():
            action = json.loads(line)
            add = action.get("add")
            if add:
                from urllib.parse import unquote

                ts = pq.read_table(Path(path) / unquote(add["path"]), columns=["ts"]).column("ts").to_pylist()
                out.extend(visible - t / 1000 for t in ts)
    return out


def steady_producer(bootstrap: str, topic: str, rate: int, seconds: float, start_id: int, stop: threading.Event) -> int:
    """Produce ``rate`` msg/s for ``seconds`` in 10 ms ticks; each event carries its produce time."""
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    per_tick = max(1, rate // 100)
    sent = 0
    t0 = time.perf_counter()
    while not stop.is_set():
        elapsed = time.perf_counter() - t0
        if elapsed >= seconds:
            break
        due = int(elapsed * rate) + per_tick
        while sent < due:
            p.produce(topic, event(start_id + sent, int(time.time() * 1000)))
            sent += 1
        p.poll(0)
        time.sleep(0.01)
    p.flush()
    return sent


def instrument() -> dict[str, float]:
    """Time the phases of kappa's foreachBatch (measurement only: wraps module functions with
    timers; nothing else changes). Returns the dict the timers add seconds to."""
    import functools

    import kappa.engines.spark.batch as batch
    import kappa.engines.spark.sinks as sinks
    import kappa.kafka.decode as decode
    import kappa.quality.spark_eval as quality

    spent: dict[str, float] = {}

    def wrap(owner, name: str, label: str) -> None:
        fn = getattr(owner, name)

        @functools.wraps(fn)
        def timed(*a, **k):
            t0 = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                spent[label] = spent.get(label, 0.0) + time.perf_counter() - t0

        setattr(owner, name, timed)

    wrap(batch.NodeBatchFunction, "__call__", "foreach_batch")
    wrap(batch, "decode_kafka", "decode_kafka")
    wrap(decode, "decode_json_values", "json_decode")
    wrap(batch, "arrow_frame", "arrow_to_spark")
    wrap(quality, "apply_expectations_spark", "expectations")
    wrap(sinks, "write_sink", "sink_write")
    return spent


def breakdown(spent: dict[str, float], total: float) -> dict[str, float]:
    """Seconds per component of the Spark run."""
    get = spent.get
    return {
        "kafka_source_to_driver_arrow": get("decode_kafka", 0) - get("json_decode", 0) - get("arrow_to_spark", 0),
        "json_decode": get("json_decode", 0),
        "arrow_to_spark_dataframe": get("arrow_to_spark", 0),
        "transform_persist_count (apply_expectations_spark)": get("expectations", 0),
        "sink_toArrow_and_delta_write": get("sink_write", 0),
        "rest_of_foreach_batch": get("foreach_batch", 0) - get("decode_kafka", 0) - get("expectations", 0) - get("sink_write", 0),
        "outside_foreach_batch (planning, offsets, commit)": total - get("foreach_batch", 0),
    }


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))] if s else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--partitions", type=int, default=2)
    ap.add_argument("--batch", type=int, default=100_000, help="floor: messages per Delta append")
    ap.add_argument("--rate", type=int, default=5000, help="latency: msg/s")
    ap.add_argument("--seconds", type=float, default=30.0, help="latency: producer duration")
    ap.add_argument("--output", default=str(ROOT / "benchmarks" / "results" / "spark_kafka_to_delta.json"))
    args = ap.parse_args()
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")

    from kappa.broker import EmbeddedBroker
    from kappa.kafka.writer import create_topic

    work = Path(tempfile.mkdtemp(prefix="kappa-bench-"))
    broker = EmbeddedBroker().start()
    results: dict = {"events": args.events, "partitions": args.partitions, "machine": f"{platform.machine()} {os.cpu_count()} cores", "python": platform.python_version()}
    try:
        boot = broker.bootstrap_servers
        conf = {"bootstrap.servers": boot}
        create_topic(conf, "bench", args.partitions)
        create_topic(conf, "warm", args.partitions)
        produce_bulk(boot, "warm", WARM_EVENTS, args.partitions)
        floor_run(boot, "warm", WARM_EVENTS, args.partitions, str(work / "floor_warm"), args.batch)
        results["produce_seconds"] = produce_bulk(boot, "bench", args.events, args.partitions)
        print(f"produced {args.events} events in {results['produce_seconds']:.1f}s", flush=True)

        floors = [floor_run(boot, "bench", args.events, args.partitions, str(work / "floor0"), args.batch)]
        assert delta_rows(str(work / "floor0")) == args.events
        results["load_average"] = {"floor_before": os.getloadavg()[0]}
        print(f"floor: {floors[0]:.1f}s, {args.events / floors[0]:,.0f} rows/s", flush=True)

        from kappa.engines.spark.engine import SparkEngine
        from kappa.engines.spark.session import get_or_create_session
        from kappa.plan import build_plan

        t0 = time.perf_counter()
        spark = get_or_create_session(master="local[2]", app_name="kappa-bench")
        spark.range(10).count()
        results["spark_startup_seconds"] = time.perf_counter() - t0
        # Warm-up (not recorded, as for the floor): the first query of a session starts the
        # Python workers of the data source and imports kappa in them.
        warm = pipeline("warm", boot, "warm", work, "available_now")
        t0 = time.perf_counter()
        SparkEngine(spark=spark, profile="python").run(warm, build_plan(warm))
        results["spark_first_query_seconds"] = time.perf_counter() - t0
        pl = pipeline("thru", boot, "bench", work, "available_now")
        spent = instrument()
        t0 = time.perf_counter()
        summary = SparkEngine(spark=spark, profile="python").run(pl, build_plan(pl))
        secs = time.perf_counter() - t0
        rows = delta_rows(str(work / "thru_bronze"))
        assert rows == args.events, f"spark wrote {rows} rows, expected {args.events}"
        results["spark"] = {"seconds": secs, "rows_per_s": args.events / secs, "batches": summary.nodes[0].batches,
                            "breakdown_seconds": breakdown(spent, secs)}
        results["load_average"]["spark"] = os.getloadavg()[0]
        # The machine is shared: the floor runs again after Spark, the ratio uses the mean.
        floors.append(floor_run(boot, "bench", args.events, args.partitions, str(work / "floor1"), args.batch))
        results["load_average"]["floor_after"] = os.getloadavg()[0]
        mean = sum(floors) / len(floors)
        results["floor"] = {"seconds": mean, "rows_per_s": args.events / mean, "runs_seconds": floors}
        print(f"floor again: {floors[1]:.1f}s", flush=True)
        results["spark_vs_floor"] = results["spark"]["rows_per_s"] / results["floor"]["rows_per_s"]
        print(f"spark: {secs:.1f}s, {args.events / secs:,.0f} rows/s ({results['spark_vs_floor']:.2f}x floor)", flush=True)

        results["latency"] = latency_run(spark, boot, work, args)
    finally:
        broker.stop()
        shutil.rmtree(work, ignore_errors=True)
    write_report(results, args.output)


def latency_run(spark, boot: str, work: Path, args) -> dict:
    """Steady producer + the stream runner with a 1-second processing-time trigger."""
    from kappa.engines.spark.streaming import StreamRunner
    from kappa.kafka.writer import create_topic
    from kappa.plan import build_plan

    create_topic({"bootstrap.servers": boot}, "lat", 1)
    pl = pipeline("lat", boot, "lat", work, "{processing_time: 1 second}")
    runner = StreamRunner(spark, build_plan(pl), "python", refresh_seconds=1.0)
    stop = threading.Event()
    box: dict = {}

    def drive() -> None:
        while not any(n.query is not None for n in runner.nodes):  # wait for the query
            time.sleep(0.1)
        time.sleep(2.0)  # let the first (empty) triggers pass
        box["sent"] = steady_producer(boot, "lat", args.rate, args.seconds, 0, stop)
        deadline = time.monotonic() + 120
        while delta_rows(str(work / "lat_bronze")) < box["sent"] and time.monotonic() < deadline:
            time.sleep(0.5)
        runner.request_stop("benchmark done")

    t = threading.Thread(target=drive, daemon=True)
    t.start()
    runner.run()
    t.join()
    lat = commit_latencies(str(work / "lat_bronze"))
    out = {"rate": args.rate, "seconds": args.seconds, "events": box.get("sent"), "visible": len(lat),
           "p50_s": pct(lat, 0.50), "p95_s": pct(lat, 0.95), "max_s": max(lat) if lat else None,
           "batches": runner.nodes[0].compiled.metrics.snapshot()["batches"]}
    print(f"latency: p50 {out['p50_s']:.2f}s p95 {out['p95_s']:.2f}s over {len(lat)} events", flush=True)
    return out


def write_report(results: dict, output: str) -> None:
    f, s, lat = results["floor"], results["spark"], results["latency"]
    rows = [
        ("events", f"{results['events']:,}"),
        ("floor (confluent-kafka + deltalake loop)", f"{f['rows_per_s']:,.0f} rows/s (mean of {' and '.join(f'{x:.1f}' for x in f['runs_seconds'])} s)"),
        ("spark bronze node, python profile", f"{s['rows_per_s']:,.0f} rows/s ({s['seconds']:.1f} s, {s['batches']} batch(es))"),
        ("spark / floor (target >= 0.5)", f"{results['spark_vs_floor']:.2f}x"),
        ("spark session start-up (not counted)", f"{results['spark_startup_seconds']:.1f} s"),
        (f"spark first query, {WARM_EVENTS:,} events (warm-up, not counted)", f"{results['spark_first_query_seconds']:.1f} s"),
        ("load average (floor / spark / floor)", " / ".join(f"{results['load_average'][k]:.1f}" for k in ("floor_before", "spark", "floor_after"))),
        (f"latency p50 @ {lat['rate']} msg/s, 1 s trigger (target < 2 s)", f"{lat['p50_s']:.2f} s"),
        ("latency p95", f"{lat['p95_s']:.2f} s"),
        ("latency events / batches", f"{lat['visible']:,} / {lat['batches']}"),
    ]
    rows += [(f"  spark: {k}", f"{v:.2f} s") for k, v in s["breakdown_seconds"].items()]
    width = max(len(a) for a, _ in rows)
    print("\n".join(f"{a:<{width}}  {b}" for a, b in rows))
    results["targets_met"] = {"throughput": results["spark_vs_floor"] >= 0.5, "latency_p50": lat["p50_s"] < 2.0}
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    Path(output).write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(f"written: {output}")


if __name__ == "__main__":
    main()
