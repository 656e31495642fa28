"""Benchmark: kappa's Polars replay against its hand-written Polars floor (issue 14).

Three cases, each against the plainest code that does the same work with the same libraries:

* ``seed`` - laktory's ``pl-stock-prices`` pipeline exactly as laktory ships it
  (``examples/stock_prices/pipeline_files.yaml``, unchanged, run with ``Pipeline.execute()``):
  JSONL files -> bronze Parquet -> SQL cast/flatten + ``unique`` -> silver Parquet. Floor:
  ``scan_ndjson -> sink_parquet``; ``scan_parquet -> select -> unique -> sink_parquet``.
* ``delta`` - one Delta -> Delta node (batch source, the same SQL + ``unique``, append sink).
  Floor: ``scan_delta -> select -> unique -> collect -> write_delta``.
* ``kafka`` - the example's Kafka -> bronze -> silver (``examples/stock_prices/pipeline.yaml``,
  its bronze and silver nodes) over ``--kafka-events`` events produced once into kappa's
  embedded broker; floor: a confluent-kafka consumer + Polars + ``write_delta``
  (``replay_floor_kafka.py``).

Input: ``--events`` generated stock-price events (the example's generator) plus 5 % exact
duplicates (every 20th event again), spread over ``--files`` JSONL files. Each side runs in its
own subprocess; CPU time (user + sys) and peak RSS come from ``wait4`` (see ``_measure.py``).
All sides first run once over 2,000 events (not recorded); then each case runs ``--repeat`` times,
alternating which side goes first; medians are reported, with the load average of the machine.
kappa's side runs as a pipeline's repeated runs do: the warm-up leaves the SQL step's translation
and static-check result in kappa's SQL cache (:mod:`kappa.sql.cache`, ``$KAPPA_CACHE_DIR`` or
``~/.cache/kappa``), so the recorded runs import no sqlglot. ``KAPPA_SQL_CACHE=off`` measures every
run as a first run (~0.1 s more CPU per process); the report records which (``kappa_sql_cache``).

    python benchmarks/replay_floor.py                       # 1,000,000 events, kafka 500,000, repeat 3
    python benchmarks/replay_floor.py --events 100000 --cases seed

Figures go to ``benchmarks/results/replay_floor.json`` (a case not run keeps its last figures).
Target: kappa within 1.2x of the floor on CPU and peak RSS, with identical output tables (checked).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

T0 = time.perf_counter()  # the child's clock starts before any heavy import

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SEED_YAML = REPO / "examples" / "stock_prices" / "pipeline_files.yaml"
DEFAULT_WORK = HERE / ".work" / "replay_floor"
DEFAULT_OUTPUT = HERE / "results" / "replay_floor.json"
WARMUP_EVENTS = 2_000
TARGET = 1.2
SIDES = ("kappa", "floor")

SILVER_SQL = """
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
  {df}
"""

DELTA_YAML = """
name: bench-delta-node
dataframe_backend: POLARS
checkpoint_root: {out}/checkpoints
nodes:
- name: slv_stock_prices
  source:
    path: {src}
    format: DELTA
  transformer:
    nodes:
    - expr: |
{sql}
    - func_name: unique
      func_kwargs:
        subset: [symbol, created_at]
        keep: any
  sinks:
  - format: DELTA
    path: {out}/slv_stock_prices
    mode: append
"""


def _silver_exprs():
    """The SQL of the seed, as Polars expressions (the floor's hand-written translation)."""
    import polars as pl

    d = pl.col("data")
    return [
        d.struct.field("created_at").str.to_datetime("%Y-%m-%dT%H:%M:%S", time_unit="us", time_zone="UTC").alias("created_at"),
        d.struct.field("symbol").alias("name"),
        d.struct.field("symbol").alias("symbol"),
        *(d.struct.field(c).alias(c) for c in ("open", "close", "high", "low", "volume")),
    ]


# ------------------------------------------------------------------------------ the sides
def seed_kappa(inp: Path, out: Path) -> None:
    """laktory's YAML, unchanged, in a folder whose ./data/stock_prices holds the input files."""
    from kappa import api as models

    (out / "data").mkdir()
    (out / "data" / "stock_prices").symlink_to(inp / "jsonl", target_is_directory=True)
    shutil.copy(SEED_YAML, out / "pipeline.yaml")
    os.chdir(out)
    with open("pipeline.yaml") as fp:
        pipeline = models.Pipeline.model_validate_yaml(fp)
    pipeline.execute()


def seed_floor(inp: Path, out: Path) -> None:
    import polars as pl

    pl.scan_ndjson(sorted(str(p) for p in (inp / "jsonl").glob("*.jsonl"))).sink_parquet(out / "brz_stock_prices.parquet")
    (pl.scan_parquet(out / "brz_stock_prices.parquet").select(_silver_exprs())
     .unique(subset=["symbol", "created_at"], keep="any").sink_parquet(out / "slv_stock_prices.parquet"))


def delta_kappa(inp: Path, out: Path) -> None:
    from kappa.api import Pipeline
    from kappa.runner import execute_pipeline

    sql = "\n".join("        " + ln for ln in SILVER_SQL.strip().splitlines())
    text = DELTA_YAML.format(src=inp / "brz_delta", out=out, sql=sql)
    execute_pipeline(Pipeline.model_validate_yaml(text), engine="polars")


def delta_floor(inp: Path, out: Path) -> None:
    import polars as pl

    (pl.scan_delta(str(inp / "brz_delta")).select(_silver_exprs())
     .unique(subset=["symbol", "created_at"], keep="any").collect()
     .write_delta(str(out / "slv_stock_prices"), mode="append"))


def kafka_kappa(inp: Path, out: Path) -> None:
    import replay_floor_kafka

    replay_floor_kafka.kappa_side(inp, out)


def kafka_floor(inp: Path, out: Path) -> None:
    import replay_floor_kafka

    replay_floor_kafka.floor_side(inp, out, _silver_exprs)


RUNNERS = {("seed", "kappa"): seed_kappa, ("seed", "floor"): seed_floor,
           ("delta", "kappa"): delta_kappa, ("delta", "floor"): delta_floor,
           ("kafka", "kappa"): kafka_kappa, ("kafka", "floor"): kafka_floor}
CASES = ("seed", "delta", "kafka")
SILVER = {"seed": "slv_stock_prices.parquet", "delta": "slv_stock_prices"}
SEED_SILVER = {"kappa": "data/slv_stock_prices.parquet", "floor": "slv_stock_prices.parquet"}


def child(case: str, side: str, inp: Path, out: Path) -> None:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    RUNNERS[(case, side)](inp, out)
    print("RESULT " + json.dumps({"seconds": time.perf_counter() - T0}), flush=True)


# ------------------------------------------------------------------------------ the parent
def make_input(folder: Path, events: int, files: int, seed: int) -> dict:
    """JSONL files (events + every 20th event again) and the same rows as a bronze Delta table."""
    import polars as pl

    sys.path.insert(0, str(REPO / "examples" / "stock_prices"))
    import generator

    df = generator.frame(events, seed)
    df = pl.concat([df, df.gather_every(20)])
    (folder / "jsonl").mkdir(parents=True)
    bounds = [(df.height * k) // files for k in range(files + 1)]
    for k, (lo, hi) in enumerate(zip(bounds, bounds[1:])):
        df.slice(lo, hi - lo).write_ndjson(folder / "jsonl" / f"stock_prices-{k:03d}.jsonl")
    pl.read_ndjson(sorted((folder / "jsonl").glob("*.jsonl"))).write_delta(str(folder / "brz_delta"))
    return {"rows": df.height, "distinct_keys": df.unique(subset=[pl.col("data").struct.field("symbol"),
                                                                   pl.col("data").struct.field("created_at")]).height}


def silver_table(case: str, side: str, out: Path):
    import polars as pl

    if case == "seed":
        df = pl.read_parquet(out / SEED_SILVER[side])
    else:
        df = pl.read_delta(str(out / SILVER[case]))
    return df.sort(df.columns, nulls_last=True)


def verify(case: str, work: Path, expected_silver: int) -> dict:
    if case == "kafka":
        import replay_floor_kafka

        return replay_floor_kafka.verify(work / case, work / "input")
    tables = {side: silver_table(case, side, work / case / side) for side in SIDES}
    same = tables["kappa"].equals(tables["floor"])
    rows = {side: t.height for side, t in tables.items()}
    return {"ok": same and all(r == expected_silver for r in rows.values()), "silver_tables_equal": same,
            "silver_rows": rows, "expected_silver_rows": expected_silver}


def run_side(case: str, side: str, inp: Path, work: Path) -> dict:
    import _measure

    args = ["--case", case, "--side", side, "--input", str(inp), "--work", str(work)]
    return _measure.measure(Path(__file__).resolve(), args, label=f"{case}/{side}")


def job(args: list[str]) -> dict:
    import _measure

    return _measure.measure(Path(__file__).resolve(), args, label=" ".join(args[:2]))


def print_table(report: dict) -> None:
    print(f"\n{'case':<7}{'side':<8}{'wall s':>8}{'CPU s':>8}{'peak RSS MiB':>14}")
    for case, res in report["cases"].items():
        for side in SIDES:
            s = res[side]
            print(f"{case:<7}{side:<8}{s['seconds']:>8.2f}{s['cpu_seconds']:>8.2f}{s['peak_rss_mb']:>14.0f}")
        r = res["ratios"]
        print(f"{case:<7}{'ratio':<8}{r['time']:>7.2f}x{r['cpu']:>7.2f}x{r['peak_rss']:>13.2f}x   "
              f"target <= {TARGET}x: CPU {'met' if r['cpu'] <= TARGET else 'MISSED'}, "
              f"memory {'met' if r['peak_rss'] <= TARGET else 'MISSED'}; "
              f"tables {'identical' if res['verification']['ok'] else 'DIFFER'}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="kappa Polars replay vs its hand-written Polars floor")
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--files", type=int, default=10)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--cases", default=",".join(CASES), help="comma-separated: " + ", ".join(CASES))
    p.add_argument("--work", type=Path, default=DEFAULT_WORK)
    p.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    p.add_argument("--kafka-events", type=int, default=500_000, help="events produced once for the kafka case")
    p.add_argument("--case", choices=CASES, help=argparse.SUPPRESS)
    p.add_argument("--side", choices=SIDES, help=argparse.SUPPRESS)
    p.add_argument("--input", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--job", choices=("input", "verify", "produce"), help=argparse.SUPPRESS)
    p.add_argument("--bootstrap", help=argparse.SUPPRESS)
    p.add_argument("--topic", default="stock-prices", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.side:
        child(args.case, args.side, args.input, args.work / args.case / args.side)
        return 0
    if args.job:  # heavy work of the parent, in a child: wait4's ru_maxrss of every later child
        # would otherwise start at the parent's own high-water mark (inherited across fork + exec)
        if args.job == "produce":
            import replay_floor_kafka

            out = replay_floor_kafka.produce(args.input, args.bootstrap, args.events, args.seed, args.topic)
        else:
            out = (make_input(args.input, args.events, args.files, args.seed) if args.job == "input"
                   else {c: verify(c, args.work, args.events) for c in args.cases.split(",")})
        print("RESULT " + json.dumps(out), flush=True)
        return 0

    sys.path.insert(0, str(HERE))
    import _measure

    cases = [c for c in args.cases.split(",") if c]
    work = args.work.resolve()
    shutil.rmtree(work, ignore_errors=True)
    report = {"benchmark": "replay_floor", "events": args.events, "repeat": args.repeat,
              "cpus": os.cpu_count(), "versions": _measure.versions(), "cases": {},
              "kappa_sql_cache": "off" if os.environ.get("KAPPA_SQL_CACHE", "").strip().lower() in ("off", "0", "false", "no") else "on"}
    broker = None
    try:
        if "kafka" in cases:
            broker = _start_broker()
        report.update(_inputs(args, cases, work, broker))
        for case in cases:  # warm-up, not recorded
            for side in SIDES:
                run_side(case, side, work / "warmup" / "input", work / "warmup")
        for case in cases:
            load_before = _measure.load_average()
            runs = []
            for i in range(args.repeat):
                run = {}
                for side in (SIDES if i % 2 == 0 else SIDES[::-1]):
                    run[side] = run_side(case, side, work / "input", work)
                    print(f"  {case} run {i + 1} {side:<6} CPU {run[side]['cpu_seconds']:.2f} s, "
                          f"peak RSS {run[side]['peak_rss_mb']:.0f} MiB", flush=True)
                runs.append(run)
            res = _measure.summarise(runs, list(SIDES))
            res["ratios"] = _measure.ratios(res, "kappa", "floor")
            res["load_average_1_5_15"] = {"before": load_before, "after": _measure.load_average()}
            report["cases"][case] = res
    finally:
        if broker is not None:
            broker.stop()
    checks = job(["--job", "verify", "--work", str(work), "--events", str(report.get("distinct_keys", 0)), "--cases", ",".join(cases)])
    for case in cases:
        report["cases"][case]["verification"] = checks[case]
    report["target"] = TARGET
    report["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    print_table(report)
    print("load average (1, 5, 15 min) before/after each case: " + "; ".join(
        f"{c} {r['load_average_1_5_15']['before']} / {r['load_average_1_5_15']['after']}" for c, r in report["cases"].items()))
    _save(args.output, report)
    print(f"figures written to {args.output}")
    return 0 if all(c["verification"]["ok"] for c in report["cases"].values()) else 1


def _start_broker():
    sys.path.insert(0, str(REPO))
    from kappa.broker import EmbeddedBroker

    return EmbeddedBroker().start()


def _inputs(args, cases: list[str], work: Path, broker) -> dict:
    """The inputs of the cases (each made by a child job), the warm-up's too; what the report says of them."""
    out: dict = {}
    warm = work / "warmup" / "input"
    if {"seed", "delta"} & set(cases):
        t = time.perf_counter()
        counts = job(["--job", "input", "--input", str(work / "input"), "--events", str(args.events), "--files", str(args.files), "--seed", str(args.seed)])
        size_mb = sum(f.stat().st_size for f in (work / "input" / "jsonl").iterdir()) / 2**20
        print(f"input: {counts['rows']:,} rows ({size_mb:.0f} MB JSONL, {counts['distinct_keys']:,} distinct keys) "
              f"in {time.perf_counter() - t:.1f} s", flush=True)
        job(["--job", "input", "--input", str(warm), "--events", str(WARMUP_EVENTS), "--files", "2", "--seed", str(args.seed)])
        out.update({"input_rows": counts["rows"], "input_mb": round(size_mb, 1), "files": args.files, "distinct_keys": counts["distinct_keys"]})
    if "kafka" in cases:
        t = time.perf_counter()
        events = args.kafka_events
        boot = ["--bootstrap", broker.bootstrap_servers, "--seed", str(args.seed)]
        info = job(["--job", "produce", "--input", str(work / "input"), "--events", str(events), "--topic", "stock-prices", *boot])
        job(["--job", "produce", "--input", str(warm), "--events", str(WARMUP_EVENTS), "--topic", "stock-prices-warmup", *boot])
        print(f"kafka input: {info['sent']:,} events produced to the embedded broker in {time.perf_counter() - t:.1f} s", flush=True)
        out["kafka_events"] = events
    return out


def _save(path: Path, report: dict) -> None:
    """Write the report; the cases not run this time keep their last figures."""
    old = json.loads(path.read_text()) if path.exists() else {}
    old.pop("load_average_1_5_15", None)  # now per case
    cases = {**old.get("cases", {}), **report["cases"]}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**old, **report, "cases": cases}, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
