"""Benchmark: incremental state (issue 11) on the Polars replay and on Spark (python profile).

Three measurements, each a YAML pipeline run through kappa (``execute_pipeline`` on Polars,
``SparkEngine(profile="python")`` on a ``local[2]`` session), figures to
``results/incremental_state.json``:

(a) **incremental gold**: a ``--rows`` row silver Delta table (``symbol`` of 50, ``created_at``
    over ~2,000 days, integer ``price`` and ``volume``), then ``--batches`` batches of
    ``--batch-rows`` new rows (recent days, so some groups are updated and some inserted). Per
    batch: the run time of the streaming ``GROUP BY symbol, day`` node (``output_mode: update``,
    Delta ``mode: upsert``) against today's full recompute (the same SQL over the whole table,
    ``as_stream: false``, overwrite). The upsert node's first run (the whole table) is set up,
    not measured. Both tables are compared after the last batch. Targets: recompute / upsert
    >= 50 at 10M rows; upsert batch 20 <= 1.5x batch 1.
(b) **windowed throughput**: ``--events`` events (100 keys, one per ~10 ms of event time) in a
    Delta table, one run of ``with_watermark`` + ``GROUP BY window(ts, '1 minute'), key`` with
    count/sum/max, append: events/s of the run. On Spark the same events through a stateless node
    (a projection) give the ratio. Targets: Polars >= 1M events/s; Spark stateful / stateless >= 0.5.
(c) **dedup within watermark**: ``drop_duplicates_within_watermark(id)`` with a 10-minute delay
    over 100 minutes of event time (10x the delay) in 50 runs, each with new ids and copies of
    recent ones: the state's row count after every run (the summary's ``state_rows``) stays
    bounded (report its maximum vs the distinct ids seen).

Spark runs at smaller sizes by default (``--spark-rows``, ``--spark-events``): 10M rows
through the python profile's Arrow transfer on 2 cores takes minutes per full recompute.

    python benchmarks/incremental_state.py                        # everything
    python benchmarks/incremental_state.py --rows 1000000 --no-spark
    python benchmarks/incremental_state.py --no-spark --no-polars --spark-stream --only gold --spark-rows 10000000
        # (a) on Spark as a running stream (spark_stream_gold.py): micro-batch times, into spark.gold
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_WORK = HERE / ".work" / "incremental_state"
DEFAULT_OUTPUT = HERE / "results" / "incremental_state.json"
DAY_US = 86_400 * 1_000_000
T0_US = 1_600_000_000 * 1_000_000  # 2020-09-13

GOLD_SQL = ("SELECT symbol, CAST(created_at AS DATE) AS day, count(*) AS events, min(price) AS low, max(price) AS high, "
            "sum(volume) AS volume FROM {df} GROUP BY symbol, CAST(created_at AS DATE)")
WINDOW_SQL = "SELECT window(ts, '1 minute') AS window, key, count(*) AS n, sum(v) AS total, max(v) AS hi FROM {df} GROUP BY window(ts, '1 minute'), key"


# ------------------------------------------------------------------ data
def silver_rows(n: int, seed: int, days: tuple[int, int]):
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    ts = T0_US + rng.integers(days[0] * DAY_US, days[1] * DAY_US, n)
    return pa.table({
        "symbol": pa.array(np.char.add("S", rng.integers(0, 50, n).astype(str)), pa.string()),
        "created_at": pa.array(ts, pa.int64()).cast(pa.timestamp("us", "UTC")),
        "price": pa.array(rng.integers(1, 100_000, n), pa.int64()),
        "volume": pa.array(rng.integers(1, 1_000_000, n), pa.int64()),
    })


def append(path: Path, table, chunk: int = 2_000_000) -> None:
    from deltalake import write_deltalake

    for start in range(0, table.num_rows, chunk):
        write_deltalake(str(path), table.slice(start, chunk), mode="append")


def events(n: int, seed: int, start: int = 0, copies_of: int = 0, step_us: int = 10_000):
    """``n`` events from ``start`` (``step_us`` of event time apart, 100 keys); ``copies_of // 10``
    more rows repeating ids of the last ``copies_of`` events before ``start`` (dedup's duplicates)."""
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed + start)
    ids = np.arange(start, start + n)
    if copies_of:
        ids = np.concatenate([ids, rng.integers(max(0, start - copies_of), max(1, start), copies_of // 10)])
    return pa.table({
        "id": pa.array(ids, pa.int64()),
        "key": pa.array(np.char.add("k", (ids % 100).astype(str)), pa.string()),
        "ts": pa.array(T0_US + ids * step_us, pa.int64()).cast(pa.timestamp("us", "UTC")),
        "v": pa.array(ids % 1000, pa.int64()),
    })


# ------------------------------------------------------------------ pipelines
def node(name: str, src: Path, out: Path, steps: list[str], streaming: bool, mode: str | None, sink_mode: str) -> str:
    lines = [f"- name: {name}", "  source:", f"    path: {src}", "    format: DELTA", f"    as_stream: {str(streaming).lower()}"]
    if mode:
        lines.append(f"  output_mode: {mode}")
    lines += ["  transformer:"] + [f"  - {s}" for s in steps]
    lines += ["  sinks:", "  - format: DELTA", f"    path: {out}", f"    mode: {sink_mode}"]
    return "\n".join(lines)


def pipeline(root: Path, *nodes: str):
    from kappa.config.loader import load_pipeline_text

    text = "\n".join(["name: bench", f"checkpoint_root: {root}/ck", "nodes:", *nodes]) + "\n"
    return load_pipeline_text(text, path=str(root / "pipeline.yaml"))


class Runner:
    """Runs a pipeline on one engine; returns (seconds, run summary)."""

    def __init__(self, engine: str):
        self.engine = engine
        self.spark = None
        if engine == "spark":
            from kappa.engines.spark.session import get_or_create_session

            self.spark = get_or_create_session(master="local[2]", app_name="kappa-bench-state")

    def run(self, pipe):
        started = time.perf_counter()
        if self.engine == "spark":
            from kappa.engines.spark.engine import SparkEngine
            from kappa.plan import build_plan

            summary = SparkEngine(spark=self.spark, profile="python").run(pipe, build_plan(pipe))
        else:
            from kappa.runner import execute_pipeline

            summary = execute_pipeline(pipe, engine="polars")
        seconds = time.perf_counter() - started
        if not summary.ok:
            raise SystemExit(summary.render())
        return seconds, summary


def sorted_table(path: Path):
    import polars as pl

    from kappa.delta.read import read_delta

    df = pl.from_arrow(read_delta(str(path)))
    return df.sort(df.columns)


# ------------------------------------------------------------------ (a) incremental gold
def gold_setup(root: Path, rows: int, label: str, full_node: str = "gold"):
    """A fresh ``rows``-row silver under ``root``; the upsert node's pipeline and the recompute's
    (node ``full_node``), both the gold SQL over that silver."""
    shutil.rmtree(root, ignore_errors=True)
    t = time.perf_counter()
    append(root / "silver", silver_rows(rows, 1, (0, 2000)))
    print(f"[{label}] silver: {rows:,} rows in {time.perf_counter() - t:.1f} s", flush=True)
    inc = pipeline(root / "inc", node("gold", root / "silver", root / "gold_inc", [f'{{expr: "{GOLD_SQL}"}}'], True, "update", "upsert"))
    full = pipeline(root / "full", node(full_node, root / "silver", root / "gold_full", [f'{{expr: "{GOLD_SQL}"}}'], False, None, "overwrite"))
    return inc, full


def bench_gold(runner: Runner, work: Path, rows: int, batches: int, batch_rows: int) -> dict:
    root = work / f"gold_{runner.engine}"
    inc, full = gold_setup(root, rows, runner.engine)
    first, _ = runner.run(inc)
    print(f"[{runner.engine}] upsert node's first run (the whole table): {first:.2f} s", flush=True)
    from _gold_floor import GoldFloor  # the hand-written floor (benchmarks/_gold_floor.py)

    floor = GoldFloor(root / "silver", root / "gold_floor", root / "floor_ck")
    out = []
    for b in range(batches):
        append(root / "silver", silver_rows(batch_rows, 100 + b, (1990, 2010)))
        s_inc, summary = runner.run(inc)
        s_full, _ = runner.run(full)
        s_floor = floor.step()
        state = summary.node("gold").state_rows
        out.append({"batch": b + 1, "upsert_s": round(s_inc, 4), "recompute_s": round(s_full, 4), "floor_s": round(s_floor, 4),
                    "state_rows": state})
        print(f"[{runner.engine}] batch {b + 1:2d}: upsert {s_inc:.3f} s, recompute {s_full:.3f} s, x{s_full / s_inc:.1f} "
              f"(hand-written floor {s_floor:.3f} s)", flush=True)
    same = sorted_table(root / "gold_inc").equals(sorted_table(root / "gold_full"))
    same_floor = sorted_table(root / "gold_floor").equals(sorted_table(root / "gold_full"))
    inc_s = [r["upsert_s"] for r in out]
    full_s = [r["recompute_s"] for r in out]
    result = {
        "rows": rows, "batch_rows": batch_rows, "batches": out, "first_run_s": round(first, 2),
        "upsert_median_s": round(statistics.median(inc_s), 4), "recompute_median_s": round(statistics.median(full_s), 4),
        "speedup_median": round(statistics.median(full_s) / statistics.median(inc_s), 1),
        "last_over_first": round(inc_s[-1] / inc_s[0], 2), "tables_equal": same,
        "floor_median_s": round(statistics.median(r["floor_s"] for r in out), 4),
        "floor_speedup_median": round(statistics.median(full_s) / statistics.median(r["floor_s"] for r in out), 1),
        "floor_table_equal": same_floor,
    }
    print(f"[{runner.engine}] gold: recompute/upsert x{result['speedup_median']} (medians), batch {batches}/batch 1 "
          f"{result['last_over_first']}, tables equal: {same}; hand-written floor x{result['floor_speedup_median']} "
          f"(equal: {same_floor})", flush=True)
    shutil.rmtree(root, ignore_errors=True)
    return result


# ------------------------------------------------------------------ (b) windowed throughput
def bench_window(runner: Runner, work: Path, n: int) -> dict:
    root = work / f"window_{runner.engine}"
    shutil.rmtree(root, ignore_errors=True)
    append(root / "src", events(n, 2))
    wm = "{func_name: with_watermark, func_kwargs: {column: ts, delay: 1 minute}}"
    result = {"events": n}
    runs = [("stateful", [wm, f'{{expr: "{WINDOW_SQL}"}}'], "append")]
    if runner.engine == "spark":
        runs.append(("stateless", ['{expr: "SELECT key, ts, v, v * 2 AS v2 FROM {df}"}'], None))
    for name, steps, mode in runs:
        seconds, summary = runner.run(pipeline(root / name, node("w", root / "src", root / f"out_{name}", steps, True, mode, "append")))
        result[f"{name}_s"] = round(seconds, 3)
        result[f"{name}_events_per_s"] = round(n / seconds)
        print(f"[{runner.engine}] {name}: {n:,} events in {seconds:.2f} s = {n / seconds:,.0f} events/s "
              f"({summary.node('w').output_rows:,} rows out)", flush=True)
    if runner.engine == "spark":
        result["stateful_over_stateless"] = round(result["stateful_events_per_s"] / result["stateless_events_per_s"], 2)
    shutil.rmtree(root, ignore_errors=True)
    return result


# ------------------------------------------------------------------ (c) dedup within watermark
def bench_dedup(runner: Runner, work: Path, runs: int, per_run: int, minutes: float = 100) -> dict:
    """``runs`` runs of ``per_run`` new events (and copies of recent ids) covering ``minutes`` of
    event time in all."""
    step_us = int(minutes * 60e6 / (runs * per_run))
    root = work / f"dedup_{runner.engine}"
    shutil.rmtree(root, ignore_errors=True)
    steps = ["{func_name: with_watermark, func_kwargs: {column: ts, delay: 10 minutes}}",
             "{func_name: drop_duplicates_within_watermark, func_kwargs: {subset: [id]}}"]
    pipe = None
    states, out = [], 0
    for r in range(runs):
        append(root / "src", events(per_run, 3, start=r * per_run, copies_of=per_run, step_us=step_us))
        pipe = pipe or pipeline(root, node("d", root / "src", root / "out", steps, True, None, "append"))
        _, summary = runner.run(pipe)
        states.append(summary.node("d").state_rows)
        out += summary.node("d").output_rows
    result = {"runs": runs, "events_per_run": per_run, "event_time_minutes": round(minutes, 1), "delay_minutes": 10,
              "distinct_ids": runs * per_run, "rows_out": out, "state_rows": states, "max_state_rows": max(s or 0 for s in states)}
    print(f"[{runner.engine}] dedup within watermark: {minutes:.0f} min of event time, {runs * per_run:,} ids, "
          f"max state rows {result['max_state_rows']:,} (last {states[-1]})", flush=True)
    shutil.rmtree(root, ignore_errors=True)
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="kappa incremental state benchmark")
    p.add_argument("--rows", type=int, default=10_000_000)
    p.add_argument("--batches", type=int, default=20)
    p.add_argument("--batch-rows", type=int, default=10_000)
    p.add_argument("--events", type=int, default=5_000_000)
    p.add_argument("--spark-rows", type=int, default=1_000_000)
    p.add_argument("--spark-events", type=int, default=1_000_000)
    p.add_argument("--spark", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--polars", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--only", choices=("gold", "window", "dedup"), action="append")
    p.add_argument("--spark-stream", action="store_true",
                   help="Spark gold as a running stream (spark_stream_gold.py), merged into spark.gold; use with --no-spark --no-polars --only gold")
    p.add_argument("--stream-interval", default="100 milliseconds", help="--spark-stream: the stream's processingTime trigger")
    p.add_argument("--work", type=Path, default=DEFAULT_WORK)
    p.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = p.parse_args(argv)
    parts = args.only or ["gold", "window", "dedup"]
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    # a part's figures replace that part's previous ones; the other parts' figures stay
    results: dict = json.loads(args.output.read_text()) if args.output.exists() else {}
    results["machine"] = {"platform": platform.platform(), "cpus": __import__("os").cpu_count()}
    engines = ([("polars", args.rows, args.events)] if args.polars else []) + ([("spark", args.spark_rows, args.spark_events)] if args.spark else [])
    for engine, rows, n in engines:
        runner = Runner(engine)
        res = results.setdefault(engine, {})
        res["started"] = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
        if "gold" in parts:
            res["gold"] = bench_gold(runner, work, rows, args.batches, args.batch_rows)
        if "window" in parts:
            res["window"] = bench_window(runner, work, n)
        if "dedup" in parts:
            res["dedup"] = bench_dedup(runner, work, *((50, 12_000) if engine == "polars" else (20, 6_000)))
    if args.spark_stream and "gold" in parts:  # keeps the Spark entry's other parts
        from spark_stream_gold import bench_spark_stream_gold

        runner = Runner("spark")
        spark = results.setdefault("spark", {})
        spark["gold"] = bench_spark_stream_gold(runner.spark, work, args.spark_rows, args.batches, args.batch_rows, args.stream_interval)
        spark["gold"]["started"] = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"figures written to {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
