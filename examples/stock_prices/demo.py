"""``make demo``: the stock-prices example end to end on the embedded broker and local Delta tables.

1. start kappa's embedded Kafka-compatible broker (Tansu) on a free loopback port;
2. create the topic and produce ``--events`` generated stock-price events (key = symbol);
3. replay ``pipeline.yaml`` on Polars: bronze (Kafka -> Delta), silver (typed, deduplicated,
   checked; bad rows quarantined), the hourly OHLC gold (a watermarked 1-hour window, append:
   each closed hour written once) and the daily gold (an incremental upsert table);
4. print each table's row count and a few rows, check the counts against the generator and
   the two gold tables against a full recompute over silver;
5. produce ``--more`` events and replay again: only the new events are read, and the gold
   tables still equal the recompute;
6. run the same pipeline on Spark with ``kappa stream start --until-idle`` (python connector
   profile) and check that both engines' tables are identical (``--no-spark`` skips it);
7. stop the broker, whatever happened.

Everything is written under ``examples/stock_prices/data/`` (gitignored), cleaned at start.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import generator  # noqa: E402  (the example's own module, next to this script)

PIPELINE = HERE / "pipeline.yaml"
TOPIC = "stock-prices"
TABLES = ("brz_stock_prices", "slv_stock_prices", "slv_stock_prices_quarantine", "gld_stock_prices_hourly",
          "gld_stock_performances")


def banner(text: str) -> None:
    print(f"\n=== {text} " + "=" * max(0, 86 - len(text)), flush=True)


def load_pipeline(bootstrap: str, data_root: Path):
    """The example pipeline with this run's broker and data folder."""
    from kappa.config.loader import load_pipeline_file

    return load_pipeline_file(PIPELINE, variables={"bootstrap": bootstrap, "topic": TOPIC, "data_root": str(data_root)})


def replay(bootstrap: str, data_root: Path):
    """``kappa replay pipeline.yaml`` in-process; returns the run summary."""
    from kappa.runner import execute_pipeline

    started = time.perf_counter()
    summary = execute_pipeline(load_pipeline(bootstrap, data_root), engine="polars")
    print(summary.render())
    print(f"(replay took {time.perf_counter() - started:.1f} s)")
    return summary


def read_table(path: Path):
    """A Delta table as a Polars DataFrame."""
    import polars as pl

    from kappa.delta.read import read_delta

    return pl.from_arrow(read_delta(str(path)))


def show_tables(data_root: Path, rows: bool = True) -> dict[str, int]:
    """Print row count (and, with ``rows``, a few rows) of every table; returns the row counts."""
    import polars as pl

    counts = {}
    with pl.Config(tbl_rows=5, tbl_cols=10, fmt_str_lengths=24, tbl_width_chars=140):
        for name in TABLES:
            path = data_root / name
            if not (path / "_delta_log").is_dir():
                print(f"\n{name}: (no table)")
                counts[name] = 0
                continue
            df = read_table(path)
            counts[name] = df.height
            sort = [c for c in ("symbol", "day", "hour", "created_at", "offset") if c in df.columns]
            print(f"\n{name}: {df.height} rows")
            if not rows:
                continue
            if "data" in df.columns:  # bronze: show the struct's fields flat
                df = df.unnest("data").drop("producer", strict=False)
            print(df.sort(sort, nulls_last=True).head(5) if sort else df.head(5))
    return counts


def check(counts: dict[str, int], expected: "generator.ExpectedCounts") -> bool:
    """Compare table row counts with what the generator says they must be."""
    want = {
        "brz_stock_prices": expected.bronze,
        "slv_stock_prices": expected.silver,
        "slv_stock_prices_quarantine": expected.quarantined,
        "gld_stock_performances": expected.gold_rows,
    }
    ok = True
    for name, n in want.items():
        good = counts.get(name) == n
        ok &= good
        print(f"  {'ok ' if good else 'BAD'} {name}: {counts.get(name)} rows (expected {n})")
    return ok


def recompute(silver):
    """The two gold tables recomputed from the whole silver table: the daily node's own SQL run
    once over all of silver (what the node computed before it was incremental: a full
    recompute), and the hourly OHLC in plain Polars for every hour the watermark (latest
    created_at - 10 minutes) has closed."""
    import datetime as dt

    import polars as pl
    import yaml

    from kappa.sql.polars_exec import run_sql

    nodes = {n["name"]: n for n in yaml.safe_load(PIPELINE.read_text())["nodes"]}
    sql = nodes["gld_stock_performances"]["transformer"]["nodes"][0]["expr"].replace("{df}", "silver")
    daily = run_sql(sql, {"silver": silver.lazy()}).collect()
    watermark = silver["created_at"].max() - dt.timedelta(minutes=10)
    hourly = silver.with_columns(pl.col("created_at").dt.truncate("1h").alias("hour")).group_by("symbol", "hour").agg(
        pl.col("open").sort_by("created_at").first(), pl.col("high").max(), pl.col("low").min(),
        pl.col("close").sort_by("created_at").last(), pl.col("volume").sum(), pl.len().cast(pl.Int64).alias("events"),
    ).filter(pl.col("hour") + dt.timedelta(hours=1) <= watermark)
    return daily, hourly


def check_gold(data_root: Path) -> bool:
    """Both incremental gold tables equal their full recompute over silver."""
    silver = read_table(data_root / "slv_stock_prices")
    ok = True
    for name, want in zip(("gld_stock_performances", "gld_stock_prices_hourly"), recompute(silver)):
        got = read_table(data_root / name)
        same = _same_table(got, want.select(got.columns))
        ok &= same
        print(f"  {'ok ' if same else 'BAD'} {name}: {got.height} rows{', equal to' if same else ', DIFFERENT from'} "
              f"the full recompute over silver ({want.height} rows)")
    return ok


def _same_table(a, b) -> bool:
    """Equal schemas and equal rows, whatever their order."""
    if a.schema != b.schema or a.height != b.height:
        return False
    cols = [c for c, t in a.schema.items() if not t.is_nested()]
    return a.sort(cols, nulls_last=True).equals(b.sort(cols, nulls_last=True))


def run_spark_and_compare(bootstrap: str, data_root: Path, enabled: bool) -> bool:
    """Run the same pipeline with ``kappa stream start --until-idle`` on Spark (python connector
    profile, a subprocess so the JVM is gone afterwards) into ``<data_root>/spark`` and compare
    every table with the Polars replay's. Returns True when all match (or when disabled)."""
    import subprocess

    if not enabled:
        return True
    spark_root = data_root / "spark"
    cmd = [
        sys.executable, "-m", "kappa.cli", "stream", "start", str(PIPELINE), "--until-idle",
        "--profile", "python", "--refresh", "5",
        "--var", f"bootstrap={bootstrap}", "--var", f"topic={TOPIC}", "--var", f"data_root={spark_root}",
    ]
    print("$ kappa stream start examples/stock_prices/pipeline.yaml --until-idle --profile python "
          f"--var data_root={spark_root} ...", flush=True)
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    tail = [line for line in done.stdout.splitlines() if line.strip()][-8:]
    print("\n".join(tail))
    print(f"(Spark streaming run took {time.perf_counter() - started:.1f} s, exit code {done.returncode})")
    if done.returncode != 0:
        print(done.stderr[-3000:])
        return False
    ok = True
    for name in TABLES:
        polars_table, spark_table = read_table(data_root / name), read_table(spark_root / name)
        same = _same_table(polars_table, spark_table)
        ok &= same
        print(f"  {'ok ' if same else 'BAD'} {name}: Polars {polars_table.height} rows, Spark {spark_table.height} rows"
              f"{', identical' if same else ', DIFFERENT'}")
    return ok


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="kappa stock-prices demo")
    p.add_argument("--events", type=int, default=20_000, help="events of the first run (multiple of 1000)")
    p.add_argument("--more", type=int, default=5_000, help="events added before the second run (multiple of 1000)")
    p.add_argument("--seed", type=int, default=generator.DEFAULT_SEED)
    p.add_argument("--data", type=Path, default=HERE / "data", help="working folder (cleaned at start)")
    p.add_argument("--spark", action=argparse.BooleanOptionalAction, default=True,
                   help="also run on Spark (kappa stream start --until-idle) and compare the engines' tables")
    args = p.parse_args(argv)
    for n in (args.events, args.more):
        if n % generator.BLOCK:
            p.error(f"--events/--more must be multiples of {generator.BLOCK}")

    from kappa.broker import EmbeddedBroker

    data_root = args.data.resolve()
    shutil.rmtree(data_root, ignore_errors=True)
    data_root.mkdir(parents=True)
    broker = EmbeddedBroker()
    ok = True
    try:
        banner("starting the embedded broker")
        broker.start()
        bootstrap = broker.bootstrap_servers
        print(f"broker listening on {bootstrap}")

        banner(f"run 1: producing {args.events} events to topic {TOPIC!r}")
        sent = generator.produce_kafka(bootstrap, TOPIC, args.events, args.seed)
        first = generator.expected_counts(args.events, args.seed)
        print(f"produced {sent} events: {first.duplicates} exact duplicates, "
              f"{first.null_symbols} without a symbol, {first.negative_prices} with negative prices")
        summary = replay(bootstrap, data_root)
        ok &= check(show_tables(data_root), first)
        ok &= check_gold(data_root)

        banner(f"run 2: {args.more} more events, replay again (incremental)")
        generator.produce_kafka(bootstrap, TOPIC, args.more, args.seed, start=args.events)
        summary = replay(bootstrap, data_root)
        new = generator.expected_counts(args.more, args.seed, start=args.events)
        brz = summary.node("brz_stock_prices")
        incremental = brz.output_rows == args.more
        ok &= incremental
        print(f"  {'ok ' if incremental else 'BAD'} bronze read only the {brz.output_rows} new records "
              f"(expected {args.more}); silver read {summary.node('slv_stock_prices').input_rows} "
              f"deduplicated rows (expected {new.silver_input})")
        total = generator.expected_counts(args.events + args.more, args.seed)
        ok &= check(show_tables(data_root, rows=False), total)
        ok &= check_gold(data_root)

        if args.spark:
            banner("Spark run and engine comparison")
        ok &= run_spark_and_compare(bootstrap, data_root, args.spark)
    finally:
        banner("stopping the broker")
        broker.stop()
    banner("demo " + ("finished: every check passed" if ok else "FAILED: see BAD lines above"))
    print(f"tables are under {data_root}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
