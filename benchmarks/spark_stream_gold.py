"""Benchmark: Spark incremental gold as a RUNNING stream (issue 11, part (a) on Spark).

What a Spark user means by the per-batch time of an incremental gold is a micro-batch of a
running query, not a process start. So the streaming ``GROUP BY symbol, day`` node
(``output_mode: update``, Delta ``mode: upsert``, python profile) runs the way ``kappa stream
start`` runs it: a :class:`~kappa.engines.spark.streaming.StreamRunner` on one ``local[2]``
session, its query started with the ``--interval`` trigger. Its first micro-batch reads the
whole ``rows``-row silver table (set up, not measured). Then ``batches`` times: ``batch_rows``
new rows are appended to the silver Delta table and the benchmark waits for the micro-batch
that consumes them; per batch it keeps Spark's own ``StreamingQueryProgress`` durations
(``durationMs``: ``triggerExecution`` and its parts, ``addBatch`` being the aggregate + the
``foreachBatch`` upsert) and the wall time from the append's commit to the batch's commit in the
query's checkpoint (``commits/<id>``, polled: gold and the checkpoint then hold the batch;
includes up to one trigger interval of waiting).

Recompute = today's non-streaming node over the whole table (the same SQL, ``as_stream:
false``, overwrite), one ``SparkEngine(profile="python").run`` as ``kappa run`` runs it, in the
same session while the stream waits between appends; it is measured only after the batches in
``recompute_at`` (each takes long at 10M rows). After the last batch the gold table must equal
the recompute's table.

    python benchmarks/incremental_state.py --no-polars --spark-stream --spark-rows 10000000 --only gold
"""

from __future__ import annotations

import os
import shutil
import statistics
import threading
import time
from pathlib import Path

STATE_PARTS = ("allUpdatesTimeMs", "allRemovalsTimeMs", "commitTimeMs", "numShufflePartitions", "numStateStoreInstances", "memoryUsedBytes")
PARTS = ("latestOffset", "getBatch", "queryPlanning", "walCommit", "addBatch", "commitOffsets", "triggerExecution")


class _Batches:
    """The gold query's micro-batches as they commit, seen from its checkpoint: ``commits/<id>``
    appears once a batch is done (polled on the file system every ``poll`` s, nothing asked of the
    JVM), then the query's ``lastProgress`` for that batch is read once.

    Not a Python ``StreamingQueryListener``: PySpark calls it back through py4j for every event,
    ``onQueryIdle`` included (about ten a second at a 100 ms trigger), and each callback resolves
    JVM names by searching the jars' class path; measured on 2 cores, that thread used more JVM
    CPU than the stream's own thread, a load ``kappa stream start`` does not have."""

    def __init__(self, checkpoint: str, poll: float = 0.005):
        self.commits = Path(checkpoint) / "commits"
        self.poll = poll

    def next(self, batch_id: int, query, timeout: float = 600.0):
        """Batch ``batch_id``'s progress and the perf_counter when its commit was seen."""
        deadline = time.monotonic() + timeout
        done = self.commits / str(batch_id)
        while not done.exists():
            if not query.isActive:
                raise SystemExit(f"the gold query stopped: {query.exception()}")
            if time.monotonic() > deadline:
                raise SystemExit(f"no micro-batch {batch_id} after {timeout} s")
            time.sleep(self.poll)
        seen = time.perf_counter()
        while True:  # the progress is reported just after the commit (an idle trigger's has no rows)
            progress = query.lastProgress
            if progress is not None and progress.batchId == batch_id and progress.numInputRows > 0:
                return progress, seen
            if (progress is not None and progress.batchId > batch_id) or time.perf_counter() - seen > 2.0:
                found = [p for p in query.recentProgress if p.batchId == batch_id and p.numInputRows > 0]
                if found:
                    return found[-1], seen
            if time.monotonic() > deadline:
                raise SystemExit(f"no progress of micro-batch {batch_id} after {timeout} s")
            time.sleep(self.poll)


def bench_spark_stream_gold(spark, work: Path, rows: int, batches: int, batch_rows: int, interval: str = "100 milliseconds",
                            recompute_at: tuple[int, ...] | None = None) -> dict:
    from incremental_state import Runner, gold_setup, silver_rows, sorted_table

    from kappa.engines.spark.streaming import StreamRunner
    from kappa.plan import build_plan

    recompute_at = recompute_at or (1, max(1, batches // 2), batches)  # the last one: compared with gold
    root = work / "gold_spark_stream"
    load_before = os.getloadavg()[0]
    inc, full = gold_setup(root, rows, "spark stream", full_node="recompute")
    recompute = Runner.__new__(Runner)
    recompute.engine, recompute.spark = "spark", spark

    runner = StreamRunner(spark, build_plan(inc), "python", interval=interval, refresh_seconds=2.0)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            runner.run()
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            failure.append(exc)

    thread = threading.Thread(target=run, name="kappa-stream", daemon=True)
    started = time.perf_counter()
    thread.start()
    while not runner.nodes or runner.nodes[0].query is None:
        if failure or not thread.is_alive():
            raise SystemExit(f"the stream did not start: {failure}")
        time.sleep(0.05)
    query = runner.nodes[0].query
    batches_seen = _Batches(runner.nodes[0].compiled.checkpoint_location)
    first, _ = batches_seen.next(0, query, 3600)
    first_s = time.perf_counter() - started
    print(f"[spark stream] first micro-batch (the whole table, {first.numInputRows:,} rows): {first_s:.1f} s "
          f"(triggerExecution {first.durationMs['triggerExecution'] / 1000:.1f} s)", flush=True)
    out, full_s = [], []
    try:
        for b in range(1, batches + 1):
            data = silver_rows(batch_rows, 100 + b, (1990, 2010))
            from deltalake import write_deltalake

            write_deltalake(str(root / "silver"), data, mode="append")
            t0 = time.perf_counter()
            progress, t1 = batches_seen.next(b, query)
            d = {k: int(progress.durationMs.get(k, 0)) for k in PARTS}
            state = progress.stateOperators[0] if progress.stateOperators else None
            row = {"batch": b, "input_rows": progress.numInputRows, "trigger_ms": d["triggerExecution"], "wall_s": round(t1 - t0, 4),
                   "duration_ms": d, "state_rows": state.numRowsTotal if state else None,
                   "updated_groups": state.numRowsUpdated if state else None,
                   "state_ms": {k: getattr(state, k) for k in STATE_PARTS} if state else None,
                   "state_metrics": {k: v for k, v in (state.customMetrics if state else {}).items() if v and "Snapshot" not in k}}
            if b in recompute_at:
                s_full, _ = recompute.run(full)
                row["recompute_s"] = round(s_full, 3)
                full_s.append(s_full)
            out.append(row)
            print(f"[spark stream] batch {b:2d}: trigger {d['triggerExecution']} ms (addBatch {d['addBatch']} ms), wall {t1 - t0:.3f} s, "
                  f"{row['updated_groups']} groups updated" + (f", recompute {row['recompute_s']:.2f} s" if "recompute_s" in row else ""), flush=True)
    finally:
        runner.request_stop("benchmark done")
        thread.join(120)
    if failure:
        raise SystemExit(f"the stream failed: {failure[0]}")
    same = sorted_table(root / "gold_inc").equals(sorted_table(root / "gold_full"))
    trig = [r["trigger_ms"] / 1000 for r in out]
    wall = [r["wall_s"] for r in out]
    med_full = statistics.median(full_s)
    result = {
        "mode": "running stream (kappa stream start: StreamRunner, processingTime trigger)", "trigger_interval": interval,
        "rows": rows, "batch_rows": batch_rows, "batches": out, "first_batch_s": round(first_s, 2),
        "micro_batch_median_s": round(statistics.median(trig), 4), "wall_median_s": round(statistics.median(wall), 4),
        "recompute_s": [round(s, 3) for s in full_s], "recompute_median_s": round(med_full, 3),
        "speedup_median": round(med_full / statistics.median(trig), 1),
        "speedup_wall_median": round(med_full / statistics.median(wall), 1),
        "load_avg_1min": [round(load_before, 1), round(os.getloadavg()[0], 1)], "last_over_first": round(trig[-1] / trig[0], 2),
        "last3_over_first3": round(statistics.median(trig[-3:]) / statistics.median(trig[:3]), 2), "tables_equal": same,
        "duration_ms_median": {k: statistics.median(r["duration_ms"][k] for r in out) for k in PARTS},
        "state_store": spark.conf.get("spark.sql.streaming.stateStore.providerClass", None) or "kappa's default (kappa.engines.spark.stateful.state_store)",
    }
    print(f"[spark stream] gold: recompute/micro-batch x{result['speedup_median']} (x{result['speedup_wall_median']} on wall time), "
          f"batch {batches}/batch 1 {result['last_over_first']} (medians of 3: {result['last3_over_first3']}), tables equal: {same}", flush=True)
    shutil.rmtree(root, ignore_errors=True)
    return result
