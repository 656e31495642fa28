"""Benchmark: kappa's Polars replay against a hand-written Polars + deltalake script.

Both sides do the same work over the same generated JSONL files (the stock-prices example's
events):

* bronze: read the JSONL files with a declared schema -> append to a Delta table;
* silver: read the bronze Delta table -> ``CAST(data.created_at AS TIMESTAMP)``, flatten the
  struct (the laktory example's SQL) -> ``unique(subset=[symbol, created_at])`` -> append to a
  Delta table.

kappa runs the YAML pipeline in :data:`PIPELINE` (file source, node source, SQL step, method
step, Delta sinks with checkpoints and app transactions); the hand-written side is plain Polars
and deltalake calls. Each side runs in its own subprocess; its peak RSS comes from ``wait4``
(the kernel's ``ru_maxrss`` of exactly that child) and its wall time is measured inside the
child from before the first heavy import to the last commit, its CPU time (user + sys, all
threads) also comes from ``wait4``. Both sides first run once over 2,000 events (not recorded)
so bytecode caches and the page cache are warm. Each side runs ``--repeat`` times, alternating
the order; the medians are reported.

    python benchmarks/replay_stock_prices.py                 # 1,000,000 events
    python benchmarks/replay_stock_prices.py --events 100000 --repeat 3

Figures go to ``benchmarks/results/replay_stock_prices.json`` (``--output`` to change) and are
printed as a table. Target: kappa within 1.2x of the hand-written script's time and memory.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

T0 = time.perf_counter()  # the child's clock starts before any heavy import

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_WORK = HERE / ".work" / "replay_stock_prices"
DEFAULT_OUTPUT = HERE / "results" / "replay_stock_prices.json"
WARMUP_EVENTS = 2_000
TARGET = 1.2

SCHEMA = (
    "name STRING, producer STRUCT<name: STRING, party: STRING>, "
    "data STRUCT<created_at: STRING, symbol: STRING, open: DOUBLE, close: DOUBLE, "
    "high: DOUBLE, low: DOUBLE, volume: DOUBLE>"
)

PIPELINE = """
name: bench-stock-prices
dataframe_backend: POLARS
checkpoint_root: {out}/checkpoints
nodes:
- name: brz_stock_prices
  source:
    path: {input}
    format: JSONL
    as_stream: true
    schema: "{schema}"
  sinks:
  - format: DELTA
    path: {out}/brz_stock_prices
    mode: append
- name: slv_stock_prices
  source:
    node_name: brz_stock_prices
    as_stream: true
  transformer:
    nodes:
    - expr: |
        SELECT
          CAST(data.created_at AS TIMESTAMP) AS created_at,
          data.symbol AS name,
          data.symbol AS symbol,
          data.open AS open,
          data.close AS close,
          data.high AS high,
          data.low AS low,
          data.volume AS volume
        FROM
          {{df}}
    - func_name: unique
      func_kwargs:
        subset: [symbol, created_at]
        keep: any
  sinks:
  - format: DELTA
    path: {out}/slv_stock_prices
    mode: append
"""


# ------------------------------------------------------------------------------ the two sides
def run_kappa(input_dir: Path, out: Path) -> dict:
    """The kappa side: the YAML pipeline on the Polars replay engine."""
    from kappa.api import Pipeline
    from kappa.runner import execute_pipeline

    text = PIPELINE.format(input=input_dir, out=out, schema=SCHEMA)
    summary = execute_pipeline(Pipeline.model_validate_yaml(text), engine="polars")
    return {
        "bronze_rows": summary.node("brz_stock_prices").output_rows,
        "silver_rows": summary.node("slv_stock_prices").output_rows,
        "node_seconds": {n.node: round(n.seconds, 3) for n in summary.nodes},
    }


def run_handwritten(input_dir: Path, out: Path) -> dict:
    """The same work written directly against Polars and deltalake."""
    import polars as pl
    from deltalake import write_deltalake

    t = time.perf_counter()
    files = sorted(str(p) for p in input_dir.glob("*.jsonl"))
    schema = {
        "name": pl.String,
        "producer": pl.Struct({"name": pl.String, "party": pl.String}),
        "data": pl.Struct(
            {
                "created_at": pl.String,
                "symbol": pl.String,
                "open": pl.Float64,
                "close": pl.Float64,
                "high": pl.Float64,
                "low": pl.Float64,
                "volume": pl.Float64,
            }
        ),
    }
    bronze = pl.scan_ndjson(files, schema=schema).collect()
    write_deltalake(str(out / "brz_stock_prices"), bronze.to_arrow(compat_level=pl.CompatLevel.oldest()), mode="append")
    n_bronze = bronze.height
    del bronze
    t_bronze = time.perf_counter() - t

    t = time.perf_counter()
    brz = pl.read_delta(str(out / "brz_stock_prices"))
    d = pl.col("data")
    silver = (
        brz.lazy()
        .select(
            d.struct.field("created_at").str.to_datetime("%Y-%m-%dT%H:%M:%S", time_unit="us", time_zone="UTC").alias("created_at"),
            d.struct.field("symbol").alias("name"),
            d.struct.field("symbol").alias("symbol"),
            d.struct.field("open").alias("open"),
            d.struct.field("close").alias("close"),
            d.struct.field("high").alias("high"),
            d.struct.field("low").alias("low"),
            d.struct.field("volume").alias("volume"),
        )
        .unique(subset=["symbol", "created_at"], keep="any")
        .collect()
    )
    del brz
    write_deltalake(str(out / "slv_stock_prices"), silver.to_arrow(compat_level=pl.CompatLevel.oldest()), mode="append")
    return {
        "bronze_rows": n_bronze,
        "silver_rows": silver.height,
        "node_seconds": {"brz_stock_prices": round(t_bronze, 3), "slv_stock_prices": round(time.perf_counter() - t, 3)},
    }


SIDES = {"kappa": run_kappa, "handwritten": run_handwritten}


def child(side: str, input_dir: Path, out: Path) -> None:
    """Runs in the subprocess: do one side's work and print one JSON line."""
    import resource

    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    result = SIDES[side](input_dir, out)
    result["seconds"] = time.perf_counter() - T0
    result["self_maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("RESULT " + json.dumps(result), flush=True)


# ------------------------------------------------------------------------------ the parent
def measure(side: str, input_dir: Path, work: Path) -> dict:
    """Run one side in a fresh interpreter; wall time from the child, CPU time and peak RSS from
    wait4 (:func:`_measure.measure`)."""
    import _measure

    args = ["--side", side, "--input", str(input_dir), "--work", str(work)]
    return _measure.measure(Path(__file__).resolve(), args, label=side)


def verify(work: Path, expected_bronze: int, expected_silver: int) -> dict:
    """Both sides wrote the same tables, with the counts the generator predicts."""
    import polars as pl

    from kappa.delta.read import read_delta

    out = {}
    tables = {}
    for side in SIDES:
        brz = read_delta(str(work / side / "brz_stock_prices")).num_rows
        slv = pl.from_arrow(read_delta(str(work / side / "slv_stock_prices")))
        tables[side] = slv.sort(slv.columns, nulls_last=True)
        out[side] = {"bronze_rows": brz, "silver_rows": slv.height}
    same = tables["kappa"].equals(tables["handwritten"])
    ok = same and all(v == {"bronze_rows": expected_bronze, "silver_rows": expected_silver} for v in out.values())
    return {"ok": ok, "silver_tables_equal": same, "expected": {"bronze_rows": expected_bronze, "silver_rows": expected_silver}, **out}


def summarise(events: int, runs: list[dict]) -> dict:
    """Per side: the median run's wall time, CPU time and peak RSS (each a median over runs)."""
    from statistics import median

    best = {}
    for side in SIDES:
        mine = [r[side] for r in runs]
        seconds = median(r["seconds"] for r in mine)
        typical = min(mine, key=lambda r: abs(r["seconds"] - seconds))
        best[side] = {
            "seconds": round(seconds, 3),
            "process_seconds": round(median(r["process_seconds"] for r in mine), 3),
            "rows_per_second": round(events / seconds),
            "cpu_seconds": round(median(r["cpu_seconds"] for r in mine), 3),
            "peak_rss_mb": round(median(r["peak_rss_mb"] for r in mine), 1),
            "node_seconds": typical["node_seconds"],
            "all_seconds": [round(r["seconds"], 3) for r in mine],
            "all_cpu_seconds": [round(r["cpu_seconds"], 3) for r in mine],
            "all_peak_rss_mb": [round(r["peak_rss_mb"], 1) for r in mine],
        }
    time_ratio = best["kappa"]["seconds"] / best["handwritten"]["seconds"]
    rss_ratio = best["kappa"]["peak_rss_mb"] / best["handwritten"]["peak_rss_mb"]
    cpu_ratio = best["kappa"]["cpu_seconds"] / best["handwritten"]["cpu_seconds"]
    return {
        **best,
        "statistic": "median over runs",
        "ratios": {"time": round(time_ratio, 3), "cpu": round(cpu_ratio, 3), "peak_rss": round(rss_ratio, 3)},
        "target": TARGET,
        "within_target": {"time": time_ratio <= TARGET, "peak_rss": rss_ratio <= TARGET},
    }


def print_table(report: dict) -> None:
    head = f"{'side':<12} {'seconds':>9} {'cpu s':>8} {'rows/s':>11} {'peak RSS MB':>12}   bronze s / silver s"
    print(head)
    print("-" * len(head))
    for side in SIDES:
        r = report[side]
        ns = r["node_seconds"]
        print(f"{side:<12} {r['seconds']:>9.2f} {r['cpu_seconds']:>8.2f} {r['rows_per_second']:>11,} {r['peak_rss_mb']:>12.1f}   "
              f"{ns.get('brz_stock_prices', 0):.2f} / {ns.get('slv_stock_prices', 0):.2f}")
    ratios, within = report["ratios"], report["within_target"]
    print(f"{'kappa/hand':<12} {ratios['time']:>8.2f}x {ratios['cpu']:>7.2f}x {'':>11} {ratios['peak_rss']:>11.2f}x   "
          f"target <= {report['target']}x: time {'met' if within['time'] else 'MISSED'}, "
          f"memory {'met' if within['peak_rss'] else 'MISSED'}")


def main(argv: list[str] | None = None) -> int:
    import _measure

    p = argparse.ArgumentParser(description="kappa Polars replay vs hand-written Polars + deltalake")
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--files", type=int, default=10, help="JSONL files the events are spread over")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--repeat", type=int, default=3, help="runs per side (alternating); medians reported")
    p.add_argument("--work", type=Path, default=DEFAULT_WORK)
    p.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    p.add_argument("--side", choices=sorted(SIDES), help=argparse.SUPPRESS)
    p.add_argument("--input", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--make-input", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.side:
        child(args.side, args.input, args.work / args.side)
        return 0
    sys.path.insert(0, str(REPO / "examples" / "stock_prices"))
    import generator

    if args.make_input:  # in a child: a parent that held the events would pass its RSS peak to every later child
        generator.write_jsonl(args.input, args.events, args.seed, files=args.files)
        counts = generator.expected_counts(args.events, args.seed)
        print("RESULT " + json.dumps({"bronze": counts.bronze, "silver_input": counts.silver_input}), flush=True)
        return 0

    def make_input(folder: Path, events: int, files: int) -> Any:
        args_ = ["--make-input", "--input", str(folder), "--events", str(events), "--files", str(files), "--seed", str(args.seed)]
        return SimpleNamespace(**_measure.measure(Path(__file__).resolve(), args_, label="input"))

    work = args.work.resolve()
    input_dir = work / "input"
    shutil.rmtree(work, ignore_errors=True)
    t = time.perf_counter()
    counts = make_input(input_dir, args.events, args.files)
    size_mb = sum(f.stat().st_size for f in input_dir.iterdir()) / 2**20
    print(f"generated {args.events:,} events in {args.files} JSONL files ({size_mb:.0f} MB) in {time.perf_counter() - t:.1f} s")

    # warm-up, not recorded: bytecode caches and the OS page cache for both sides
    make_input(work / "warmup" / "input", WARMUP_EVENTS, 2)
    for side in SIDES:
        measure(side, work / "warmup" / "input", work / "warmup")
    for f in input_dir.iterdir():
        with open(f, "rb") as fh:  # into the page cache, a block at a time
            while fh.read(1 << 20):
                pass

    runs = []
    for i in range(args.repeat):
        order = list(SIDES) if i % 2 == 0 else list(reversed(list(SIDES)))
        run = {}
        for side in order:
            run[side] = measure(side, input_dir, work)
            print(f"  run {i + 1} {side:<12} {run[side]['seconds']:.2f} s, peak RSS {run[side]['peak_rss_mb']:.0f} MB", flush=True)
        runs.append(run)
    check = verify(work, counts.bronze, counts.silver_input)
    report = {
        "benchmark": "replay_stock_prices",
        "events": args.events,
        "files": args.files,
        "input_mb": round(size_mb, 1),
        "repeat": args.repeat,
        "cpus": os.cpu_count(),
        "versions": _measure.versions(),
        **summarise(args.events, runs),
        "verification": check,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    print_table(report)
    print(f"verification: {'ok' if check['ok'] else 'FAILED'} (silver tables equal: {check['silver_tables_equal']})")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"figures written to {args.output}")
    return 0 if check["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
