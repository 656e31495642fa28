"""Cost of checking one Spark batch: apply_expectations_spark (old) vs check_batch (new).

Usage: PYTHONPATH=. flock /tmp/kappa-spark.lock python benchmarks/quality_check_batch.py [ROWS]
(default 1,000,000 rows, 6 columns, a drop, a quarantine and a warn expectation; local[2]).
Each figure is the median of 3 runs after a warm-up. "old" is today's batch.py path (persist,
then localCheckpoint + a collected aggregate row); "new noop" is check_batch (persist +
Observation + one noop write); "new count()" materialises with count() instead; "MEMORY_AND_DISK
ser" persists serialized. The second block is a node without expectations.
Results of a run: benchmarks/results/quality_check_batch.txt.
"""
import statistics, time, sys
from dataclasses import dataclass
from kappa.engines.spark.session import get_or_create_session
import kappa.quality.spark_eval as se
from pyspark import StorageLevel
@dataclass
class Exp:
    name: str; expr: str; action: str
spark = get_or_create_session(master="local[2]", app_name="bench")
N = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
def src():
    return spark.range(N).selectExpr("id", "id % 97 as k", "concat('name-', id) as name",
        "cast(id % 1000 as double) / 7 as amount", "sha1(cast(id as string)) as h",
        "case when id % 50 = 0 then null else id * 2 end as maybe")
EXPS = [Exp("pos", "amount > 1", "drop"), Exp("notnull", "maybe IS NOT NULL", "quarantine"), Exp("short", "length(name) < 10", "warn")]
def noop(df): df.write.format("noop").mode("overwrite").save()
def timeit(f, reps=3):
    f()
    ts = []
    for _ in range(reps):
        t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
    return statistics.median(ts)
def old():
    cached = src().persist()
    out, q, c = se.apply_expectations_spark(cached, EXPS, "n")
    return out, q, c, lambda: cached.unpersist()
def new():
    b = se.check_batch(src(), EXPS, "n")
    return b.output, b.quarantine, b.counts, b.release
def new_count():
    orig = se._noop_write
    se._noop_write = lambda df: df.count()
    try:
        return new()
    finally:
        se._noop_write = orig
def new_ser():
    from pyspark.sql.classic.dataframe import DataFrame as C
    p = C.persist
    C.persist = lambda self, storageLevel=StorageLevel.MEMORY_AND_DISK: p(self, storageLevel)
    try:
        return new()
    finally:
        C.persist = p
def check_only(fn):
    def run():
        out, q, c, rel = fn(); rel(); return c
    return run
def check_and_write(fn):
    def run():
        out, q, c, rel = fn(); noop(out); noop(q); rel(); return c
    return run
print("counts old", check_only(old)(), "\ncounts new", check_only(new)(), "\ncounts new_count", check_only(new_count)())
for name, fn in [("old", old), ("new noop", new), ("new count()", new_count), ("new MEMORY_AND_DISK ser", new_ser)]:
    print(f"{name:28s} check only {timeit(check_only(fn)):.2f}s   check+write out+q (noop) {timeit(check_and_write(fn)):.2f}s", flush=True)
# no expectations
def old_none():
    cached = src().persist(); c = se.apply_expectations_spark(cached, [], "n")[2]; noop(cached); cached.unpersist(); return c
def new_none():
    b = se.check_batch(src(), [], "n"); noop(b.output); c = b.counts; b.release(); return c
def lazy_none():
    b = se.check_batch(src(), [], "n", lazy_counts=True); noop(b.output); c = b.counts; b.release(); return c
def plain_write():
    noop(src())
def old_toarrow():
    t = src().toArrow(); return t.num_rows
for name, fn in [("old batch.py toArrow (no exp)", old_toarrow), ("plain write only", plain_write), ("old none (persist+count)+write", old_none), ("new none eager +write", new_none), ("new none lazy +write", lazy_none)]:
    print(f"{name:32s} {timeit(fn):.2f}s", fn() if name not in ("plain write only",) else "", flush=True)
