"""Benchmark: kappa's CDC ``apply_changes`` (SCD type 1) against one bare deltalake MERGE.

Input: a ``--rows`` row Delta table (default 10,000,000; columns ``id, name, qty, price,
updated``) and ``--events`` Debezium-shaped change events (default 1,000,000: 70% updates of
existing keys, 20% inserts of new keys, 10% deletes of existing keys, in random order; the
columns of :func:`kappa.kafka.debezium.decode_debezium`'s output: the row, ``_op``,
``_seq_lsn``, ``_seq_ts_ms``, ``_seq_offset``). Keys repeat among the events (drawn with
replacement), so deduplication and ordering matter.

Runs, each in its own subprocess on a fresh copy of the table (peak RSS from ``wait4``, wall
time measured around the apply only, after the events were loaded):

* ``kappa_1``: ``apply_changes`` with the Debezium defaults (:mod:`kappa.cdc.defaults`), one batch;
* ``kappa_10``: the same events in 10 consecutive batches;
* ``floor``: one ``DeltaTable.merge`` of the changes already deduplicated to the latest event per
  key (dedup done beforehand, not timed): delete when matched and deleted, update when matched,
  insert when not matched;
* ``floor_10``: the same bare MERGE per batch of the 10-batch split (each batch deduplicated
  beforehand), the floor of ``kappa_10``.

kappa's time is also split into its steps (``phases_s``: prepare, state lookup, plan, target
MERGE, state append) by wrapping those functions in the kappa child.

The kappa table was built with ``apply_changes`` of a snapshot (``op = r``) of the rows, so its
CDC state table holds every key, as after a real initial snapshot. All three final tables are
compared (sorted by id). Target: kappa within 1.3x of the floor's time.

    python benchmarks/cdc_merge.py                          # 10M rows, 1M events
    python benchmarks/cdc_merge.py --rows 1000000 --events 100000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_WORK = HERE / ".work" / "cdc_merge"
DEFAULT_OUTPUT = HERE / "results" / "cdc_merge.json"
TARGET = 1.3
DATA = ["id", "name", "qty", "price", "updated"]


# ------------------------------------------------------------------------------ data
def _rows(ids, seed: int):
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    n = len(ids)
    return {
        "id": pa.array(ids, pa.int64()),
        "name": pa.array(np.char.add("name-", rng.integers(0, 1_000_000, n).astype(str)), pa.string()),
        "qty": pa.array(rng.integers(0, 1000, n), pa.int64()),
        "price": pa.array(rng.random(n) * 100, pa.float64()),
        "updated": pa.array(rng.integers(1_700_000_000_000, 1_800_000_000_000, n), pa.int64()),
    }


def setup(work: Path, rows: int, events: int) -> dict:
    """Build the base tables and the event files (in a child, not measured)."""
    import numpy as np
    import polars as pl
    import pyarrow as pa
    from deltalake import write_deltalake

    from kappa.cdc.defaults import merge_options
    from kappa.cdc.merge import apply_changes

    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    seq = ["_seq_lsn", "_seq_ts_ms", "_seq_offset"]
    base = pa.table(_rows(np.arange(rows), 1))
    t0 = time.perf_counter()
    write_deltalake(str(work / "base_floor"), base)
    plain_s = time.perf_counter() - t0
    snap = base.append_column("_op", pa.array(["upsert"] * rows)).append_column(
        "_seq_lsn", pa.array(np.ones(rows, dtype=np.int64))).append_column(
        "_seq_ts_ms", pa.array(np.full(rows, 1_700_000_000_000, dtype=np.int64))).append_column(
        "_seq_offset", pa.array(np.arange(rows, dtype=np.int64)))
    spec = merge_options(["id"], seq, snap.column_names, {})
    t0 = time.perf_counter()
    apply_changes(str(work / "base_kappa" / "t"), snap, spec, app_id="bench", version=0)
    snapshot_s = time.perf_counter() - t0
    del snap, base

    rng = np.random.default_rng(2)
    n_upd, n_ins = int(events * 0.7), int(events * 0.2)
    n_del = events - n_upd - n_ins
    ids = np.concatenate([rng.integers(0, rows, n_upd), np.arange(rows, rows + n_ins), rng.integers(0, rows, n_del)])
    ops = np.array(["upsert"] * (n_upd + n_ins) + ["delete"] * n_del)
    order = rng.permutation(events)
    ids, ops = ids[order], ops[order]
    ev = pl.DataFrame(_rows(ids, 3)).with_columns(
        pl.Series("_op", ops),
        pl.Series("_seq_lsn", np.arange(2, events + 2, dtype=np.int64)),
        pl.lit(1_800_000_000_000, pl.Int64).alias("_seq_ts_ms"),
        pl.Series("_seq_offset", np.arange(rows, rows + events, dtype=np.int64)),
    )
    # a Debezium delete carries the `before` image: the row as it was; keep the key, null the rest
    ev = ev.with_columns([pl.when(pl.col("_op") == "delete").then(None).otherwise(pl.col(c)).alias(c) for c in DATA[1:]])
    ev.write_parquet(work / "events.parquet")
    latest = ev.unique(subset=["id"], keep="last", maintain_order=True)  # ev is in _seq_lsn order
    for batches in (1, 10):
        size = -(-events // batches)
        for i in range(batches):
            part = ev.slice(i * size, size).unique(subset=["id"], keep="last", maintain_order=True)
            part.select(*DATA, "_op").write_parquet(work / f"events_dedup_{batches}_{i}.parquet")
    return {"setup_plain_write_s": plain_s, "setup_kappa_snapshot_s": snapshot_s,
            "distinct_event_keys": latest.height}


# ------------------------------------------------------------------------------ the sides
PHASES = {  # module attribute -> phase name, timed by wrapping (kappa.cdc.merge calls them)
    ("kappa.cdc.merge", "prepare"): "prepare (normalise, predicates)",
    ("kappa.cdc.state", "load_scd1"): "state: load touched keys",
    ("kappa.cdc.scd1", "plan_scd1"): "plan (dedup, compare with state)",
    ("kappa.cdc.target", "write_scd1"): "target: deltalake MERGE",
    ("kappa.cdc.state", "write_scd1"): "state: append (and compact)",
    ("kappa.cdc.target", "table_columns"): "target: read schema",
}


def _time_phases() -> dict:
    """Wrap kappa's CDC steps to sum their wall time (in the kappa child only)."""
    import functools
    import importlib

    spent: dict[str, float] = {}
    for (mod, attr), label in PHASES.items():
        module = importlib.import_module(mod)
        inner = getattr(module, attr)

        @functools.wraps(inner)
        def timed(*a, __inner=inner, __label=label, **k):
            t = time.perf_counter()
            try:
                return __inner(*a, **k)
            finally:
                spent[__label] = spent.get(__label, 0.0) + time.perf_counter() - t

        setattr(module, attr, timed)
    return spent


def run_kappa(table: Path, work: Path, batches: int) -> dict:
    import pyarrow.parquet as pq

    from kappa.cdc.defaults import merge_options
    from kappa.cdc.merge import apply_changes

    phases = _time_phases()
    events = pq.read_table(work / "events.parquet")
    spec = merge_options(["id"], ["_seq_lsn", "_seq_ts_ms", "_seq_offset"], events.column_names, {})
    size = -(-events.num_rows // batches)
    t0 = time.perf_counter()
    stats = []
    for i in range(batches):
        part = events.slice(i * size, size)
        s = apply_changes(str(table / "t"), part, spec, app_id="bench", version=1 + i)
        stats.append({"inserted": s.inserted, "updated": s.updated, "deleted": s.deleted})
    total = time.perf_counter() - t0
    phases["other"] = total - sum(phases.values())
    return {"apply_s": total, "batches": batches, "stats": stats,
            "phases_s": {k: round(v, 3) for k, v in phases.items()}}


def run_floor(table: Path, work: Path, batches: int) -> dict:
    """Bare MERGEs of changes deduplicated beforehand (per batch when ``batches`` > 1)."""
    import pyarrow.parquet as pq
    from deltalake import DeltaTable

    sources = [pq.read_table(work / f"events_dedup_{batches}_{i}.parquet") for i in range(batches)]
    values = {c: f"s.{c}" for c in DATA}
    t0 = time.perf_counter()
    stats = []
    for src in sources:
        dt = DeltaTable(str(table))
        m = (dt.merge(src, "t.id = s.id", source_alias="s", target_alias="t")
             .when_matched_delete(predicate="s._op = 'delete'")
             .when_matched_update(updates={c: f"s.{c}" for c in DATA[1:]}, predicate="s._op = 'upsert'")
             .when_not_matched_insert(updates=values, predicate="s._op = 'upsert'")
             .execute())
        stats.append({k: m.get(k) for k in ("num_target_rows_inserted", "num_target_rows_updated", "num_target_rows_deleted")})
    return {"apply_s": time.perf_counter() - t0, "batches": batches, "stats": stats}


RUNS = {"floor": ("floor", 1), "kappa_1": ("kappa", 1), "floor_10": ("floor", 10), "kappa_10": ("kappa", 10)}


def child(run: str, work: Path) -> None:
    """In the subprocess: one run on its own copy of the table; prints one JSON line."""
    import resource

    side, batches = RUNS[run]
    table = work / f"run_{run}"
    result = (run_kappa if side == "kappa" else run_floor)(table, work, batches)
    result["self_maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("RESULT " + json.dumps(result), flush=True)


# ------------------------------------------------------------------------------ the parent
def spawn(args: list[str]) -> dict:
    """Run this script with ``args`` in a fresh interpreter; peak RSS of exactly that child."""
    cmd = [sys.executable, str(Path(__file__).resolve()), *args]
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    outputs: dict[str, str] = {}
    readers = [threading.Thread(target=lambda n=n, p=p: outputs.__setitem__(n, p.read()))
               for n, p in (("stdout", proc.stdout), ("stderr", proc.stderr))]
    for r in readers:
        r.start()
    _, status, usage = os.wait4(proc.pid, 0)
    for r in readers:
        r.join()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"{args} failed (exit {code}):\n{outputs.get('stderr', '')[-4000:]}")
    line = next(ln for ln in outputs["stdout"].splitlines() if ln.startswith("RESULT "))
    result = json.loads(line[len("RESULT "):])
    result["peak_rss_mb"] = usage.ru_maxrss / 1024
    result["cpu_seconds"] = usage.ru_utime + usage.ru_stime
    return result


def measure(run: str, work: Path) -> dict:
    side, _ = RUNS[run]
    dest = work / f"run_{run}"
    shutil.rmtree(dest, ignore_errors=True)
    if side == "kappa":
        shutil.copytree(work / "base_kappa", dest)
    else:
        shutil.copytree(work / "base_floor", dest)
    return spawn(["--run", run, "--work", str(work)])


def verify(work: Path) -> dict:
    import polars as pl
    from deltalake import DeltaTable

    frames = {}
    for run, (side, _) in RUNS.items():
        path = work / f"run_{run}" / ("t" if side == "kappa" else "")
        frames[run] = pl.from_arrow(DeltaTable(str(path)).to_pyarrow_table()).select(DATA).sort("id")
    ref = frames["floor"]
    return {"rows_after": ref.height, **{f"{run}_equals_floor": frames[run].equals(ref) for run in frames if run != "floor"}}


def print_phases(results: dict) -> None:
    for run in ("kappa_1", "kappa_10"):
        phases = results[run].get("phases_s", {})
        print(f"{run} phases: " + ", ".join(f"{k} {v:.2f}s" for k, v in phases.items()), flush=True)


def _versions() -> dict:
    from importlib.metadata import version

    out = {"python": platform.python_version(), "cpus": os.cpu_count()}
    for pkg in ("polars", "deltalake", "pyarrow"):
        out[pkg] = version(pkg)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000, help="rows of the target table")
    ap.add_argument("--events", type=int, default=1_000_000, help="change events")
    ap.add_argument("--work", type=Path, default=DEFAULT_WORK, help="scratch folder (deleted at the end)")
    ap.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="JSON results file")
    ap.add_argument("--keep", action="store_true", help="keep the scratch folder")
    ap.add_argument("--repeat", type=int, default=1, help="rounds of all runs, interleaved; the median counts")
    ap.add_argument("--run", choices=sorted(RUNS), help=argparse.SUPPRESS)
    ap.add_argument("--setup", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.run:
        child(args.run, args.work)
        return 0
    if args.setup:
        res = setup(args.work, args.rows, args.events)
        print("RESULT " + json.dumps(res), flush=True)
        return 0
    print(f"setup: {args.rows:,} rows, {args.events:,} events in {args.work}", flush=True)
    info = spawn(["--setup", "--work", str(args.work), "--rows", str(args.rows), "--events", str(args.events)])
    rounds: dict[str, list[dict]] = {run: [] for run in RUNS}
    for _ in range(args.repeat):
        for run in RUNS:
            r = measure(run, args.work)
            rounds[run].append(r)
            print(f"{run:<9} {r['apply_s']:8.2f} s  peak RSS {r['peak_rss_mb']:8.0f} MB  {r['stats'][:1]}", flush=True)
    results = {}
    for run, rs in rounds.items():
        rs = sorted(rs, key=lambda r: r["apply_s"])
        results[run] = dict(rs[len(rs) // 2], all_apply_s=[round(r["apply_s"], 3) for r in rounds[run]])
    check = verify(args.work)
    print_phases(results)
    floor = results["floor"]["apply_s"]
    report = {
        "benchmark": "cdc_merge", "rows": args.rows, "events": args.events,
        "mix": {"updates": 0.7, "inserts": 0.2, "deletes": 0.1}, "target_ratio": TARGET,
        "repeat": args.repeat, "load_average_at_end": os.getloadavg(),
        "setup": info, "runs": results, "verify": check,
        "ratio_kappa_1": results["kappa_1"]["apply_s"] / floor,
        "ratio_kappa_10": results["kappa_10"]["apply_s"] / results["floor_10"]["apply_s"],
        "target_met": results["kappa_1"]["apply_s"] / floor <= TARGET,
        "versions": _versions(), "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"kappa 1 batch: {report['ratio_kappa_1']:.2f}x floor; 10 batches: {report['ratio_kappa_10']:.2f}x floor_10; "
          f"tables equal: {check}", flush=True)
    if not args.keep:
        shutil.rmtree(args.work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
