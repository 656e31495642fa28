"""Benchmark: Kafka -> Delta on kappa's Spark engine, against what one would write by hand.

One run, one Kafka broker (kappa's embedded Tansu unless ``--bootstrap`` names one), one bronze
node (JSON parse + casts: ``SCHEMA``/``SQL`` below) over topics of synthetic ~100-byte events.
Four measurements, each with its target:

1. **python profile vs the floor** (target: kappa >= 0.8x the floor's rows/s). The floor is a
   plain Python loop: confluent-kafka consumes the topic in batches of ``--batch`` messages,
   parses and casts each JSON value, and appends each batch to a Delta table with deltalake.
   kappa runs the node as ``kappa run`` does (``SparkEngine.run``, availableNow, one micro-batch)
   on ``local[2]`` with the ``python`` connector profile (``kappa_kafka`` source, deltalake
   writes). Rows/s over ``--events`` events, from the query's start to its end. The floor runs
   before and after Spark (the machine is shared: the mean counts; each phase's load average
   is recorded). Both sides first run once over 2,000 other events (not counted): the
   SparkSession's start and its first query (which starts the Python workers) are fixed costs.
   The Spark run's seconds are split with Spark's own progress reports (a
   ``StreamingQueryListener``; no kappa internals are wrapped): ``addBatch`` is the time inside
   ``foreachBatch`` (decode, steps, expectations and writes all run as Spark jobs started from
   there), the rest of each trigger (offsets, planning, WAL and commit log) is outside it, and
   what is left of the wall time is query start-up and shut-down.
2. **jvm profile vs a hand-written PySpark job** (target: kappa's overhead <= 10%, i.e. ratio
   >= 0.9). The hand-written job is ``readStream.format("kafka")`` -> ``from_json`` + the same
   casts -> ``writeStream.format("delta")``, availableNow; kappa runs the same node with the
   ``jvm`` profile. Both need the Kafka and Delta connector jars: the session is started with
   the jars of ``KAPPA_SPARK_JARS_DIR`` (``spark.jars``) and the part runs only where
   ``format("kafka")`` and ``format("delta")`` load; elsewhere the output and the JSON say it
   was not measured and why. Topics for this part are produced one record per produce request:
   Tansu answers ListOffsets "latest" wrongly after batched produces, and Spark's Kafka source
   relies on it.
3. **driver peak RSS per micro-batch size** (target: flat, i.e. the largest size's peak within
   1.25x of the smallest's). For each ``--rss-sizes`` size, a fresh child process (its own
   SparkSession: sizes share no memory) runs the node over a topic of that many events in ONE
   micro-batch (no ``maxOffsetsPerTrigger``), with ``spark.driver.maxResultSize`` set to
   ``--max-result-size`` (a batch whose data went through the driver fails there). A thread of
   the child samples psutil RSS every 100 ms: the driver = the Python process + its JVM; the
   JVM's Python workers (which decode and write on the executors' side) are reported apart.
   By default (``--rss-master standalone``) the child's driver runs against a standalone
   cluster of two one-core workers started from pyspark's own classes
   (:mod:`kappa.testing.spark_cluster`), so the driver JVM holds no executor and the driver's
   RSS is the driver's alone. With ``--rss-master local`` (``local[2]``) the JVM also hosts the
   executors, so its RSS includes executor memory (heap capped by ``spark.driver.memory``, 1g by
   default) and grows with the batch for that reason; the Python process alone is where a batch
   collected to the driver (``toArrow``/``collect``) would land. Peak during the measured run
   (after a warm-up query), and that run's rows/s.
4. **produce-to-visible latency** with a 1 s processing-time trigger (target: p50 < 2 s): a
   steady producer (``--rate`` msg/s for ``--seconds``) while ``kappa stream start``'s runner
   runs the node. Each event carries its produce time; its latency is the mtime of the Delta
   commit file that added it minus that time; p50/p95 over all events. Python profile, and jvm
   where the jars are.

    python benchmarks/spark_kafka_to_delta.py                  # 1M events, RSS 100k/1M/3M
    python benchmarks/spark_kafka_to_delta.py --quick          # smoke test, small sizes
    python benchmarks/spark_kafka_to_delta.py --rss-sizes 100000,1000000,2000000
    python benchmarks/spark_kafka_to_delta.py --parts rss --max-result-size ''   # RSS only, no limit

Figures: ``benchmarks/results/spark_kafka_to_delta.json`` (``--quick`` writes
``benchmarks/.work/spark_kafka_to_delta.quick.json``; ``--output`` to change).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SCHEMA = "id BIGINT, ts BIGINT, user STRING, amount STRING, kind STRING"
COLUMNS = (
    "value.id AS id", "timestamp_millis(value.ts) AS event_time", "value.ts AS ts",
    "value.user AS user", "CAST(value.amount AS DOUBLE) AS amount", "value.kind AS kind",
)
SQL = f"SELECT {', '.join(COLUMNS)} FROM {{df}}"
KINDS = ("view", "click", "buy", "refund")
WARM_EVENTS = 2000
RSS_FLAT_RATIO = 1.25
PARTS = {"throughput", "jvm", "latency", "rss"}
FLOOR_TARGET, JVM_TARGET, P50_TARGET = 0.8, 0.9, 2.0


def event(i: int, ts_ms: int) -> bytes:
    return json.dumps(
        {"id": i, "ts": ts_ms, "user": f"u{i % 1000}", "amount": f"{(i % 10000) / 100:.2f}", "kind": KINDS[i % 4]},
        separators=(",", ":"),
    ).encode()


def produce_bulk(bootstrap: str, topic: str, n: int, partitions: int, batched: bool = True) -> float:
    """Produce ``n`` events as fast as possible (one record per request unless ``batched``)."""
    from confluent_kafka import Producer

    conf = {"bootstrap.servers": bootstrap, "queue.buffering.max.messages": 500000}
    conf.update({"linger.ms": 20, "batch.num.messages": 10000} if batched else {"linger.ms": 0, "batch.num.messages": 1})
    p = Producer(conf)
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


def pipeline(name: str, bootstrap: str, topic: str, root: Path, trigger: str) -> object:
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
    """Rows of a Delta table (0 before it exists); reads parquet footers of its current files
    (deltalake 1.6's to_pyarrow_dataset may abort the process at exit)."""
    import pyarrow.dataset as ds
    from deltalake import DeltaTable

    try:
        files = DeltaTable(path).file_uris()
    except Exception:  # noqa: BLE001 - not created yet
        return 0
    return int(ds.dataset(files, format="parquet").count_rows()) if files else 0


def commit_latencies(path: str) -> list[float]:
    """Per event: mtime of the commit file that added it minus its produce time (seconds)."""
    from urllib.parse import unquote

    import pyarrow.parquet as pq

    out: list[float] = []
    for commit in sorted((Path(path) / "_delta_log").glob("*.json")):
        visible = commit.stat().st_mtime
        for line in commit.read_text().splitlines():
            add = json.loads(line).get("add")
            if add:
                ts = pq.read_table(Path(path) / unquote(add["path"]), columns=["ts"]).column("ts").to_pylist()
                out.extend(visible - t / 1000 for t in ts)
    return out


def steady_producer(bootstrap: str, topic: str, rate: int, seconds: float, stop: threading.Event, batched: bool) -> int:
    """Produce ``rate`` msg/s for ``seconds`` in 10 ms ticks; each event carries its produce time."""
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5 if batched else 0, **({} if batched else {"batch.num.messages": 1})})
    per_tick = max(1, rate // 100)
    sent = 0
    t0 = time.perf_counter()
    while not stop.is_set():
        elapsed = time.perf_counter() - t0
        if elapsed >= seconds:
            break
        due = int(elapsed * rate) + per_tick
        while sent < due:
            p.produce(topic, event(sent, int(time.time() * 1000)))
            sent += 1
        p.poll(0)
        time.sleep(0.01)
    p.flush()
    return sent


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))] if s else float("nan")


# ------------------------------------------------------------------ Spark's progress reports
class Progress:
    """Collects Spark's ``StreamingQueryProgress`` reports through a query listener."""

    def __init__(self, spark) -> None:
        from pyspark.sql.streaming import StreamingQueryListener

        owner = self
        self.reports: list[dict] = []
        self.names: dict[str, str] = {}  # run id -> query name
        self.ended: list[str] = []  # names of terminated queries
        self.cond = threading.Condition()

        class _Listener(StreamingQueryListener):
            def onQueryStarted(self, event) -> None:
                with owner.cond:
                    owner.names[str(event.runId)] = event.name

            def onQueryProgress(self, event) -> None:
                p = event.progress
                with owner.cond:
                    owner.reports.append({"name": p.name, "rows": int(p.numInputRows), "ms": dict(p.durationMs)})

            def onQueryIdle(self, event) -> None:
                pass

            def onQueryTerminated(self, event) -> None:
                with owner.cond:
                    owner.ended.append(owner.names.get(str(event.runId), ""))
                    owner.cond.notify_all()

        spark.streams.addListener(_Listener())

    def measure(self, name: str, run) -> tuple[float, dict]:
        """Run ``run()`` (one availableNow query named ``name``); returns wall seconds and
        its split from the query's progress reports."""
        t0 = time.perf_counter()
        run()
        wall = time.perf_counter() - t0
        with self.cond:  # listener events are delivered asynchronously
            self.cond.wait_for(lambda: name in self.ended, timeout=10)
            reports = [r for r in self.reports if r["name"] == name]
        total = lambda key: sum(r["ms"].get(key, 0) for r in reports) / 1000
        trigger = total("triggerExecution")
        return wall, {
            "triggers": len(reports),
            "inside_foreach_batch_or_sink (addBatch)": total("addBatch"),
            "offsets_planning_wal_commit (rest of triggers)": trigger - total("addBatch"),
            "query_start_and_stop (outside triggers)": wall - trigger,
        }


# ------------------------------------------------------------------ the measured runs
def session(conf: dict | None = None, master: str = "local[2]"):
    from kappa.engines.spark.profiles import has_connectors, local_jars
    from kappa.engines.spark.session import get_or_create_session

    spark = get_or_create_session(master=master, app_name="kappa-bench", conf=conf, jars=local_jars())
    spark.range(10).count()
    return spark, has_connectors(spark)


def kappa_run(spark, profile: str, name: str, boot: str, topic: str, work: Path) -> tuple[object, int]:
    from kappa.engines.spark.engine import SparkEngine
    from kappa.plan import build_plan

    pl = pipeline(name, boot, topic, work, "available_now")
    summary = SparkEngine(spark=spark, profile=profile).run(pl, build_plan(pl))
    return summary, delta_rows(str(work / f"{name}_bronze"))


def hand_written_run(spark, name: str, boot: str, topic: str, work: Path) -> int:
    """The same node as one would write it with Spark's own connectors."""
    from pyspark.sql import functions as F

    parsed = (
        spark.readStream.format("kafka").option("kafka.bootstrap.servers", boot).option("subscribe", topic)
        .option("startingOffsets", "earliest").load()
        .select(F.from_json(F.col("value").cast("string"), SCHEMA).alias("value"))
    )
    path = str(work / f"{name}_bronze")
    query = (
        parsed.selectExpr(*COLUMNS).writeStream.queryName(name).format("delta")
        .option("checkpointLocation", str(work / "checkpoints" / name)).trigger(availableNow=True).start(path)
    )
    query.awaitTermination()
    return delta_rows(path)


def jvm_comparison(spark, progress: Progress, boot: str, work: Path, args) -> dict:
    """kappa's jvm profile vs the hand-written job (topics produced one record per request)."""
    from kappa.kafka.writer import create_topic

    conf = {"bootstrap.servers": boot}
    for topic, n in (("jvm_warm", WARM_EVENTS), ("jvm_bench", args.events)):
        create_topic(conf, topic, args.partitions)
        produce_bulk(boot, topic, n, args.partitions, batched=False)
    hand_written_run(spark, "hand_warm", boot, "jvm_warm", work)
    kappa_run(spark, "jvm", "kjvm_warm", boot, "jvm_warm", work)
    out: dict = {"measured": True, "events": args.events}
    rows: dict = {}
    secs, out["hand_written_split_seconds"] = progress.measure("hand", lambda: rows.update(hand=hand_written_run(spark, "hand", boot, "jvm_bench", work)))
    out["hand_written"] = {"seconds": secs, "rows": rows["hand"], "rows_per_s": rows["hand"] / secs}
    secs, out["kappa_split_seconds"] = progress.measure("kappa_kjvm_bronze", lambda: rows.update(kappa=kappa_run(spark, "jvm", "kjvm", boot, "jvm_bench", work)[1]))
    out["kappa"] = {"seconds": secs, "rows": rows["kappa"], "rows_per_s": rows["kappa"] / secs}
    out["ratio"] = out["kappa"]["rows_per_s"] / out["hand_written"]["rows_per_s"]
    if rows["hand"] != args.events or rows["kappa"] != args.events:
        out["note"] = f"rows written differ from the {args.events} produced (broker's ListOffsets?)"
    print(f"jvm: kappa {out['kappa']['rows_per_s']:,.0f} rows/s, hand-written {out['hand_written']['rows_per_s']:,.0f} rows/s ({out['ratio']:.2f}x)", flush=True)
    return out


def latency_run(spark, profile: str, boot: str, work: Path, args) -> dict:
    """Steady producer + the stream runner with a 1-second processing-time trigger."""
    from kappa.engines.spark.streaming import StreamRunner
    from kappa.kafka.writer import create_topic
    from kappa.plan import build_plan

    name = f"lat_{profile}"
    create_topic({"bootstrap.servers": boot}, name, 1)
    pl = pipeline(name, boot, name, work, "{processing_time: 1 second}")
    runner = StreamRunner(spark, build_plan(pl), profile, refresh_seconds=1.0)
    stop = threading.Event()
    box: dict = {}
    table = str(work / f"{name}_bronze")

    def drive() -> None:
        while not any(n.query is not None for n in runner.nodes):  # wait for the query
            time.sleep(0.1)
        time.sleep(2.0)  # let the first (empty) triggers pass
        box["sent"] = steady_producer(boot, name, args.rate, args.seconds, stop, batched=profile == "python")
        deadline = time.monotonic() + 120
        while delta_rows(table) < box["sent"] and time.monotonic() < deadline:
            time.sleep(0.5)
        runner.request_stop("benchmark done")

    t = threading.Thread(target=drive, daemon=True)
    t.start()
    runner.run()
    t.join()
    lat = commit_latencies(table)
    out = {"profile": profile, "rate": args.rate, "seconds": args.seconds, "events": box.get("sent"), "visible": len(lat),
           "p50_s": pct(lat, 0.50), "p95_s": pct(lat, 0.95), "max_s": max(lat) if lat else None,
           "batches": runner.nodes[0].compiled.metrics.snapshot()["batches"]}
    print(f"latency ({profile}): p50 {out['p50_s']:.2f}s p95 {out['p95_s']:.2f}s over {len(lat)} events", flush=True)
    return out


# ------------------------------------------------------------------ driver RSS per batch size
class RssSampler(threading.Thread):
    """Samples RSS every 100 ms: this process, its JVM child (the driver JVM), other JVMs below
    it (none with a local master) and the Python workers below them."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        import psutil

        self.me = psutil.Process()
        self.stop = threading.Event()
        self.peak = {"driver": 0, "python": 0, "jvm": 0, "executor_jvms": 0, "workers": 0}

    def sample(self) -> dict[str, int]:
        import psutil

        now = {"python": self.me.memory_info().rss, "jvm": 0, "executor_jvms": 0, "workers": 0}
        for child in self.me.children(recursive=True):
            try:
                java = child.name() == "java"
                key = ("jvm" if child.ppid() == self.me.pid else "executor_jvms") if java else "workers"
                now[key] += child.memory_info().rss
            except psutil.Error:  # a worker that just ended
                continue
        now["driver"] = now["python"] + now["jvm"]
        return now

    def run(self) -> None:
        while not self.stop.is_set():
            for key, value in self.sample().items():
                self.peak[key] = max(self.peak[key], value)
            self.stop.wait(0.1)


def rss_child(args) -> None:
    """One size in a fresh process: warm-up query, then one micro-batch of ``args.events`` events."""
    work = Path(args.work)
    conf = {"spark.driver.maxResultSize": args.max_result_size} if args.max_result_size else {}
    master = "local[2]"
    if args.master_url:  # a standalone cluster: the executors run in other JVMs
        from kappa.testing.spark_cluster import driver_conf

        conf = {**driver_conf(), "spark.executor.memory": "1g", **conf}
        master = args.master_url
        # kappa sets these itself only for a local master (a remote cluster's Python may live elsewhere)
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    spark, _ = session(conf, master)
    kappa_run(spark, "python", "rss_warm", args.bootstrap, "warm", work)
    sampler = RssSampler()
    before = sampler.sample()
    sampler.start()
    t0 = time.perf_counter()
    out: dict = {"events": args.events, "max_result_size": args.max_result_size or None}
    try:
        summary, rows = kappa_run(spark, "python", "rss", args.bootstrap, args.topic, work)
        secs = time.perf_counter() - t0
        out.update(seconds=secs, rows=rows, rows_per_s=rows / secs, batches=summary.nodes[0].batches)
    except Exception as exc:  # noqa: BLE001 - reported, e.g. maxResultSize exceeded
        out["error"] = str(exc).strip().splitlines()[0][:500]
    sampler.stop.set()
    sampler.join()
    mb = lambda d: {k: round(v / 2**20, 1) for k, v in d.items()}
    out.update(peak_rss_mb=mb(sampler.peak), rss_before_run_mb=mb(before))
    print("RESULT " + json.dumps(out), flush=True)
    try:
        spark.stop()
    except Exception as exc:  # noqa: BLE001 - the JVM may be gone after a failed run
        print(f"spark.stop() failed: {exc}", file=sys.stderr)


def rss_sizes(boot: str, work: Path, args) -> list[dict]:
    """Each size in a child process, on ``local[2]`` or (``--rss-master standalone``) on a
    standalone cluster of two one-core workers started here, so the driver JVM holds no executor."""
    import contextlib

    from kappa.testing.spark_cluster import spark_cluster

    cluster = spark_cluster(workers=2, cores=1, memory="1500m") if args.rss_master == "standalone" else contextlib.nullcontext()
    with cluster as running:
        return _rss_sizes(boot, work, args, running.master_url if running is not None else None)


def _rss_sizes(boot: str, work: Path, args, master_url: str | None) -> list[dict]:
    from kappa.kafka.writer import create_topic

    out = []
    for n in args.rss_sizes:
        topic = f"rss_{n}"
        create_topic({"bootstrap.servers": boot}, topic, args.partitions)
        produce_bulk(boot, topic, n, args.partitions)
        sub = work / topic
        sub.mkdir()
        cmd = [sys.executable, __file__, "--rss-child", "--bootstrap", boot, "--topic", topic, "--events", str(n),
               "--work", str(sub), "--max-result-size", args.max_result_size, *(["--master-url", master_url] if master_url else [])]
        proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=1800)
        found = [line[7:] for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
        log = ROOT / "benchmarks" / ".work" / f"rss_child_{n}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(proc.stderr)
        cause = next((x.strip() for x in proc.stderr.splitlines() if "Error" in x or "Exception" in x), proc.stderr.strip()[-300:])
        res = json.loads(found[-1]) if found else {"events": n, "error": f"exit {proc.returncode}: {cause[:500]} (log: {log})"}
        res["load_average"] = os.getloadavg()[0]
        if "error" in res and "OutOfMemoryError" in proc.stderr:
            res["error"] += " (the child's JVM ran out of memory: java.lang.OutOfMemoryError in its log)"
        out.append(res)
        peak = res.get("peak_rss_mb", {})
        print(f"rss {n:,}: driver peak {peak.get('driver', float('nan')):,.0f} MB (python {peak.get('python', float('nan')):,.0f}, "
              f"jvm {peak.get('jvm', float('nan')):,.0f}), {res.get('rows_per_s', float('nan')):,.0f} rows/s {res.get('error', '')}", flush=True)
    return out


# ------------------------------------------------------------------ main
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes: a smoke test (20k events, RSS 5k/20k, 5 s latency)")
    ap.add_argument("--events", type=int, help="throughput events (default 1,000,000; --quick 20,000)")
    ap.add_argument("--rss-sizes", help="comma-separated events per single micro-batch (default 100000,1000000,3000000)")
    ap.add_argument("--max-result-size", default="16m", help="spark.driver.maxResultSize of the RSS runs ('' = Spark's default)")
    ap.add_argument("--partitions", type=int, default=2)
    ap.add_argument("--batch", type=int, help="floor: messages per Delta append (default 100,000; --quick 10,000)")
    ap.add_argument("--rate", type=int, help="latency: msg/s (default 5,000; --quick 1,000)")
    ap.add_argument("--seconds", type=float, help="latency: producer duration (default 30; --quick 5)")
    ap.add_argument("--bootstrap", help="an existing Kafka (default: start kappa's embedded broker)")
    ap.add_argument("--parts", default="throughput,jvm,latency,rss", help="what to measure (default all): throughput,jvm,latency,rss")
    ap.add_argument("--rss-master", choices=("standalone", "local"), default="standalone",
                    help="rss: a standalone cluster of two workers started here (default; the driver JVM hosts no "
                         "executor) or local[2] (the driver JVM also hosts the executors)")
    ap.add_argument("--output")
    ap.add_argument("--master-url", help=argparse.SUPPRESS)
    ap.add_argument("--rss-child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--topic", help=argparse.SUPPRESS)
    ap.add_argument("--work", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    quick = args.quick
    for key, full, small in (("events", 1_000_000, 20_000), ("batch", 100_000, 10_000), ("rate", 5000, 1000), ("seconds", 30.0, 5.0),
                             ("rss_sizes", "100000,1000000,3000000", "5000,20000")):
        if getattr(args, key) is None:
            setattr(args, key, small if quick else full)
    args.parts = {p.strip() for p in args.parts.split(",") if p.strip()}
    if args.parts - PARTS:
        ap.error(f"unknown --parts {sorted(args.parts - PARTS)}; known: {', '.join(sorted(PARTS))}")
    if isinstance(args.rss_sizes, str):
        args.rss_sizes = [int(x.replace("_", "")) for x in args.rss_sizes.split(",") if x.strip()]
    if args.output is None:
        args.output = str(ROOT / "benchmarks" / (".work/spark_kafka_to_delta.quick.json" if quick else "results/spark_kafka_to_delta.json"))
    return args


def no_jars_reason(found: dict) -> str:
    missing = " and ".join(f'format("{k}")' for k, ok in found.items() if not ok)
    where = os.environ.get("KAPPA_SPARK_JARS_DIR")
    return (f"not measured: {missing} cannot load in this session ("
            + (f"KAPPA_SPARK_JARS_DIR={where} lacks the connector jars" if where else "KAPPA_SPARK_JARS_DIR is not set")
            + "; Spark's Kafka connector and delta-spark jars are not on this machine: Maven Central is unreachable)")


def throughput(spark, progress: Progress, boot: str, work: Path, args, results: dict) -> None:
    """Part 1: the floor, kappa's python profile, the floor again."""
    from kappa.kafka.writer import create_topic

    load = results["load_average"]
    create_topic({"bootstrap.servers": boot}, "bench", args.partitions)
    floor_run(boot, "warm", WARM_EVENTS, args.partitions, str(work / "floor_warm"), args.batch)
    results["produce_seconds"] = produce_bulk(boot, "bench", args.events, args.partitions)
    print(f"produced {args.events:,} events in {results['produce_seconds']:.1f}s", flush=True)
    floors = [floor_run(boot, "bench", args.events, args.partitions, str(work / "floor0"), args.batch)]
    assert delta_rows(str(work / "floor0")) == args.events
    load["floor_before"] = os.getloadavg()[0]
    print(f"floor: {floors[0]:.1f}s, {args.events / floors[0]:,.0f} rows/s", flush=True)
    box: dict = {}
    secs, split = progress.measure("kappa_thru_bronze", lambda: box.update(zip(("summary", "rows"), kappa_run(spark, "python", "thru", boot, "bench", work))))
    assert box["rows"] == args.events, f"spark wrote {box['rows']} rows, expected {args.events}"
    results["python_profile"] = {"seconds": secs, "rows_per_s": args.events / secs, "batches": box["summary"].nodes[0].batches, "split_seconds": split}
    load["spark_python"] = os.getloadavg()[0]
    print(f"python profile: {secs:.1f}s, {args.events / secs:,.0f} rows/s", flush=True)
    # The machine is shared: the floor runs again after Spark, the ratio uses the mean.
    floors.append(floor_run(boot, "bench", args.events, args.partitions, str(work / "floor1"), args.batch))
    load["floor_after"] = os.getloadavg()[0]
    mean = sum(floors) / len(floors)
    results["floor"] = {"seconds": mean, "rows_per_s": args.events / mean, "runs_seconds": floors}
    results["python_vs_floor"] = results["python_profile"]["rows_per_s"] / results["floor"]["rows_per_s"]
    print(f"floor again: {floors[1]:.1f}s; python profile / floor = {results['python_vs_floor']:.2f}x", flush=True)


def main() -> None:
    args = parse_args()
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    if args.rss_child:
        rss_child(args)
        return

    from kappa.broker import EmbeddedBroker
    from kappa.kafka.writer import create_topic

    work = Path(tempfile.mkdtemp(prefix="kappa-bench-"))
    broker = None if args.bootstrap else EmbeddedBroker().start()
    boot = args.bootstrap or broker.bootstrap_servers
    results: dict = {"events": args.events, "partitions": args.partitions, "quick": args.quick, "parts": sorted(args.parts),
                     "machine": f"{platform.machine()} {os.cpu_count()} cores", "python": platform.python_version(),
                     "broker": "external" if args.bootstrap else "embedded Tansu", "load_average_at_start": list(os.getloadavg()),
                     "started_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()), "load_average": {}}
    try:
        import pyspark

        results["pyspark"] = pyspark.__version__
        create_topic({"bootstrap.servers": boot}, "warm", args.partitions)
        produce_bulk(boot, "warm", WARM_EVENTS, args.partitions)
        if args.parts & {"throughput", "jvm", "latency"}:
            t0 = time.perf_counter()
            spark, found = session()
            results["spark_startup_seconds"] = time.perf_counter() - t0
            results["connectors"] = found
            progress = Progress(spark)
            t0 = time.perf_counter()
            kappa_run(spark, "python", "warm", boot, "warm", work)  # starts the Python workers: not counted
            results["spark_first_query_seconds"] = time.perf_counter() - t0
            jars = bool(found.get("kafka") and found.get("delta"))
            if "throughput" in args.parts:
                throughput(spark, progress, boot, work, args, results)
            if "jvm" in args.parts:
                results["jvm_profile"] = jvm_comparison(spark, progress, boot, work, args) if jars else {"measured": False, "reason": no_jars_reason(found)}
                results["load_average"]["spark_jvm"] = os.getloadavg()[0]
                if not jars:
                    print(f"jvm profile vs hand-written PySpark: {results['jvm_profile']['reason']}", flush=True)
            if "latency" in args.parts:
                results["latency"] = {"python": latency_run(spark, "python", boot, work, args)}
                results["load_average"]["latency_python"] = os.getloadavg()[0]
                results["latency"]["jvm"] = latency_run(spark, "jvm", boot, work, args) if jars else {"measured": False, "reason": no_jars_reason(found)}
            spark.stop()
        if "rss" in args.parts:
            sizes = rss_sizes(boot, work, args)
            ok = [s for s in sizes if "error" not in s]
            flat = ok[-1]["peak_rss_mb"]["driver"] / ok[0]["peak_rss_mb"]["driver"] if len(ok) == len(sizes) >= 2 else None
            results["driver_rss"] = {"sizes": sizes, "max_result_size": args.max_result_size or None, "largest_over_smallest_driver_peak": flat,
                                     "master": args.rss_master}
    finally:
        if broker is not None:
            broker.stop()
        shutil.rmtree(work, ignore_errors=True)
    write_report(results, args.output)


def report_rows(results: dict) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    if "floor" in results:
        f, py = results["floor"], results["python_profile"]
        rows += [
            ("events (throughput)", f"{results['events']:,}"),
            ("floor (confluent-kafka + deltalake loop)", f"{f['rows_per_s']:,.0f} rows/s (mean of {' and '.join(f'{x:.1f}' for x in f['runs_seconds'])} s)"),
            ("kappa, python profile", f"{py['rows_per_s']:,.0f} rows/s ({py['seconds']:.1f} s, {py['batches']} batch(es))"),
            (f"python profile / floor (target >= {FLOOR_TARGET})", f"{results['python_vs_floor']:.2f}x"),
        ]
        rows += [(f"  python profile: {k}", f"{v:.2f} s" if isinstance(v, float) else str(v)) for k, v in py["split_seconds"].items()]
    jvm = results.get("jvm_profile")
    if jvm and jvm.get("measured"):
        rows += [("kappa, jvm profile", f"{jvm['kappa']['rows_per_s']:,.0f} rows/s ({jvm['kappa']['seconds']:.1f} s)"),
                 ("hand-written PySpark (format kafka -> delta)", f"{jvm['hand_written']['rows_per_s']:,.0f} rows/s ({jvm['hand_written']['seconds']:.1f} s)"),
                 (f"jvm profile / hand-written (target >= {JVM_TARGET})", f"{jvm['ratio']:.2f}x")]
    elif jvm:
        rows.append(("jvm profile vs hand-written PySpark", jvm["reason"]))
    if "spark_startup_seconds" in results:
        rows += [("spark session start-up (not counted)", f"{results['spark_startup_seconds']:.1f} s"),
                 (f"spark first query, {WARM_EVENTS:,} events (warm-up, not counted)", f"{results['spark_first_query_seconds']:.1f} s")]
    if results["load_average"]:
        rows.append(("load average by phase", ", ".join(f"{k} {v:.1f}" for k, v in results["load_average"].items())))
    for name, lat in results.get("latency", {}).items():
        if lat.get("measured", True):
            rows.append((f"latency ({name}) p50 / p95 @ {lat['rate']} msg/s, 1 s trigger (target p50 < {P50_TARGET} s)",
                         f"{lat['p50_s']:.2f} s / {lat['p95_s']:.2f} s ({lat['visible']:,} events, {lat['batches']} batches)"))
        else:
            rows.append((f"latency ({name})", "not measured (no connector jars)"))
    rss = results.get("driver_rss")
    for s in rss["sizes"] if rss else ():
        if "error" in s:
            rows.append((f"driver RSS, {s['events']:,} events in one micro-batch", f"FAILED: {s['error']}"))
            continue
        p, b = s["peak_rss_mb"], s["rss_before_run_mb"]
        rows.append((f"driver RSS, {s['events']:,} events in {s['batches']} micro-batch(es)",
                     (f"peak {p['driver']:,.0f} MB (python {p['python']:,.0f} + jvm {p['jvm']:,.0f}; before run {b['driver']:,.0f}); "
                      f"executor JVMs {p.get('executor_jvms', 0):,.0f} MB, Python workers {p['workers']:,.0f} MB; {s['rows_per_s']:,.0f} rows/s; load {s['load_average']:.1f}")))
    if rss:
        flat = rss["largest_over_smallest_driver_peak"]
        rows.append((f"driver peak largest / smallest size, {rss.get('master', 'local')} master (target <= {RSS_FLAT_RATIO})",
                     "n/a" if flat is None else f"{flat:.2f}x"))
    return rows


def write_report(results: dict, output: str) -> None:
    rows = report_rows(results)
    width = max(len(a) for a, _ in rows)
    print("\n".join(f"{a:<{width}}  {b}" for a, b in rows))
    results["targets"] = {"python_vs_floor": FLOOR_TARGET, "jvm_vs_hand_written": JVM_TARGET,
                          "rss_largest_over_smallest": RSS_FLAT_RATIO, "latency_p50_s": P50_TARGET}
    met: dict = {}
    results["targets_met"] = met
    if "python_vs_floor" in results:
        met["python_vs_floor"] = results["python_vs_floor"] >= FLOOR_TARGET
    jvm = results.get("jvm_profile")
    if jvm:
        met["jvm_vs_hand_written"] = jvm["ratio"] >= JVM_TARGET if jvm.get("measured") else "not measured: no connector jars"
    if "driver_rss" in results:
        flat = results["driver_rss"]["largest_over_smallest_driver_peak"]
        met["driver_rss_flat"] = None if flat is None else flat <= RSS_FLAT_RATIO
    if "latency" in results:
        met["latency_p50_python"] = results["latency"]["python"]["p50_s"] < P50_TARGET
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    Path(output).write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(f"written: {output}")


if __name__ == "__main__":
    main()
