"""check_batch (Spark, no driver collection) against the Polars engine: same rows, same counts.

The comparison cases run each expectation set through
:func:`kappa.quality.polars_eval.apply_expectations` and :func:`kappa.quality.spark_eval.check_batch`
on the same data and assert identical outputs, quarantines, schemas and counts (or the same
:class:`~kappa.errors.ExpectationFailed`). The last test runs check_batch in a separate Spark
session whose ``spark.driver.maxResultSize`` is 1 MiB over ~60 MB of rows.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest

from kappa.errors import ExpectationFailed
from kappa.quality.polars_eval import apply_expectations
from kappa.quality.result import QualityCounts
from kappa.quality.rules import ExpectationError
from kappa.quality.spark_eval import check_batch

pytestmark = pytest.mark.spark


@dataclass(frozen=True)
class Exp:
    name: str
    expr: str
    action: str


DATA = pa.table(
    {
        "id": pa.array([1, 2, 3, None, 5, 6, 7, 8], pa.int64()),
        "name": pa.array(["ann", None, "cy", "dee", "eve", "f", None, "hh"]),
        "amount": pa.array([10.0, -1.0, 5.0, 7.0, None, 0.0, 3.5, 100.0]),
        "s": pa.array(["1", "2", "x", "4", "5", None, "7", "y"]),
    }
)

CASES = {
    "none": [],
    "warn": [Exp("w1", "amount > 0", "warn"), Exp("w2", "name IS NOT NULL", "warn")],
    "drop": [Exp("pos", "amount > 0", "drop")],
    "quarantine": [Exp("num", "s RLIKE '^[0-9]+$'", "quarantine")],
    "all_actions": [
        Exp("has_id", "id IS NOT NULL", "quarantine"),
        Exp("pos", "amount > 0", "drop"),
        Exp("short", "length(name) <= 2", "warn"),
        Exp("num", "TRY_CAST(s AS INT) IS NOT NULL", "quarantine"),
        Exp("small", "amount < 1000 OR amount IS NULL", "fail"),
    ],
    "drop_and_quarantine_same_row": [Exp("d", "amount <> 5", "drop"), Exp("q", "s <> 'x'", "quarantine"), Exp("w", "true", "warn")],
    "null_results": [Exp("null_name", "name = name", "drop"), Exp("always_null", "NULL", "warn"), Exp("q_null", "s > '0'", "quarantine")],
    "fail_second": [
        Exp("w", "amount > 0", "warn"),
        Exp("ok", "amount < 1000 OR amount IS NULL", "fail"),
        Exp("ids", "id IS NOT NULL", "fail"),
        Exp("names", "name IS NOT NULL", "fail"),
        Exp("d", "amount > 0", "drop"),
    ],
    "fail_null_is_failure": [Exp("amt", "amount >= 0", "fail")],
}


def _rows(df):
    return None if df is None else sorted(df.rows(), key=repr)


def _polars(data, expectations):
    try:
        out, q, counts = apply_expectations(pl.from_arrow(data).lazy(), expectations, "orders")
    except ExpectationFailed as err:
        return ("failed", err.node, err.expectation, err.failed_rows)
    return out, q, counts


def _spark(spark, data, expectations, **kwargs):
    try:
        batch = check_batch(spark.createDataFrame(data), expectations, "orders", **kwargs)
    except ExpectationFailed as err:
        return ("failed", err.node, err.expectation, err.failed_rows)
    try:
        out = pl.from_arrow(batch.output.toArrow())  # test-side check of the rows
        q = None if batch.quarantine is None else pl.from_arrow(batch.quarantine.toArrow())
        return out, q, batch.counts
    finally:
        batch.release()


@pytest.mark.parametrize("empty", [False, True], ids=["rows", "empty"])
@pytest.mark.parametrize("case", list(CASES))
def test_check_batch_matches_polars(spark, case, empty):
    data = DATA.slice(0, 0) if empty else DATA
    expected, got = _polars(data, CASES[case]), _spark(spark, data, CASES[case])
    if isinstance(expected[0], str):  # ("failed", node, expectation, rows)
        assert got == expected
        return
    (pout, pq, pcounts), (sout, sq, scounts) = expected, got
    assert scounts == pcounts and list(scounts.failures) == list(pcounts.failures)
    assert _rows(sout) == _rows(pout) and sout.schema == pout.schema
    assert (sq is None) == (pq is None)
    if pq is not None:
        assert _rows(sq) == _rows(pq) and sq.schema == pq.schema


def test_exact_outcome_of_all_actions(spark):
    out, q, counts = _spark(spark, DATA, CASES["all_actions"])
    assert _rows(out) == [(1, "ann", 10.0, "1"), (7, None, 3.5, "7")]
    assert _rows(q) == [
        (3, "cy", 5.0, "x", ["num"]),
        (6, "f", 0.0, None, ["pos", "num"]),
        (8, "hh", 100.0, "y", ["num"]),
        (None, "dee", 7.0, "4", ["has_id", "short"]),
    ]
    assert counts == QualityCounts(8, 2, 2, 4, {"has_id": 1, "pos": 3, "short": 5, "num": 3, "small": 0})


def test_fail_raises_with_the_first_failing_expectation(spark):
    assert _spark(spark, DATA, CASES["fail_second"]) == ("failed", "orders", "ids", 1)
    assert _spark(spark, DATA, CASES["fail_null_is_failure"]) == ("failed", "orders", "amt", 2)


@pytest.mark.parametrize(
    "expectations,message",
    [
        ([Exp("a", "id + 1", "warn")], "node 'orders': expectation 'a': 'id + 1' is not a boolean expression"),
        ([Exp("a", "id > 0", "warn"), Exp("b", "concat(name, 'x')", "drop")], "node 'orders': expectation 'b': \"concat(name, 'x')\" is not a boolean expression"),
        ([Exp("a", "nope > 1", "warn")], "node 'orders': cannot evaluate expectations: nope"),
    ],
)
def test_bad_expressions_raise_expectation_error(spark, expectations, message):
    with pytest.raises(ExpectationError) as on_spark:
        check_batch(spark.createDataFrame(DATA), expectations, "orders")
    with pytest.raises(ExpectationError) as on_polars:
        apply_expectations(pl.from_arrow(DATA).lazy(), expectations, "orders")
    if message.endswith("nope"):  # the engines' own analysis errors differ after the prefix
        assert str(on_spark.value).startswith(message[: -len("nope")]) and "nope" in str(on_spark.value)
    else:
        assert str(on_spark.value) == str(on_polars.value) == message


def _persistent_rdds(spark) -> int:
    return spark.sparkContext._jsc.getPersistentRDDs().size()


def test_repeated_batches_release_their_blocks(spark):
    before = _persistent_rdds(spark)
    source = spark.createDataFrame(DATA)
    for i in range(12):
        batch = check_batch(source.selectExpr("*", f"{i} AS batch"), CASES["all_actions"], "orders")
        assert _persistent_rdds(spark) == before + 1
        assert batch.counts.output_rows == 2 and batch.output.count() == 2 and batch.quarantine.count() == 4
        batch.release()
        batch.release()  # idempotent
        assert _persistent_rdds(spark) == before
    with pytest.raises(ExpectationFailed):
        check_batch(source, CASES["fail_second"], "orders")
    assert _persistent_rdds(spark) == before  # released before raising


def test_no_expectations_eager_and_lazy(spark):
    before = _persistent_rdds(spark)
    df = spark.createDataFrame(DATA)
    eager = check_batch(df, [], "orders")
    assert eager.counts == QualityCounts(8, 8, 0, 0, {}) and eager.quarantine is None
    assert _persistent_rdds(spark) == before + 1
    eager.release()

    # lazy: the first write of the output gives the counts, no extra job, no cache by default
    lazy = check_batch(df, [], "orders", lazy_counts=True)
    assert lazy.counts_pending and _persistent_rdds(spark) == before
    lazy.output.write.format("noop").mode("overwrite").save()
    assert not lazy.counts_pending
    assert lazy.counts == QualityCounts(8, 8, 0, 0, {})
    lazy.release()

    # lazy, nothing wrote the output: reading counts runs the action itself
    unread = check_batch(df, [], "orders", lazy_counts=True)
    assert unread.counts == QualityCounts(8, 8, 0, 0, {}) and not unread.counts_pending

    # lazy + persist for several sinks: the first write fills the cache, release frees it
    shared = check_batch(df.where("id > 2"), [], "orders", lazy_counts=True, persist=True)
    assert shared.output.count() == 5
    assert _persistent_rdds(spark) == before + 1  # filled by the first action
    assert shared.output.count() == 5
    assert shared.counts == QualityCounts(5, 5, 0, 0, {})
    shared.release()
    assert _persistent_rdds(spark) == before

    empty = check_batch(df.limit(0), [], "orders", lazy_counts=True)
    assert empty.counts == QualityCounts(0, 0, 0, 0, {})


def test_lazy_counts_ignored_with_expectations(spark):
    batch = check_batch(spark.createDataFrame(DATA), CASES["drop"], "orders", lazy_counts=True)
    try:
        assert not batch.counts_pending
        assert batch.counts == QualityCounts(8, 5, 3, 0, {"pos": 3})
    finally:
        batch.release()


def test_source_is_evaluated_once(spark):
    from pyspark.sql import functions as F

    reads = spark.sparkContext.accumulator(0)

    def touch(x):
        reads.add(1)
        return x

    df = spark.createDataFrame(DATA).withColumn("id", F.udf(touch, "bigint")(F.col("id")))
    batch = check_batch(df, CASES["all_actions"], "orders")
    try:
        assert reads.value == DATA.num_rows  # the one noop action
        for frame in (batch.output, batch.quarantine, batch.output):
            frame.write.format("noop").mode("overwrite").save()
        assert (batch.output.count(), batch.quarantine.count()) == (2, 4)
        assert reads.value == DATA.num_rows  # the writes read the persisted blocks
    finally:
        batch.release()


def test_streaming_frame_is_refused(spark, tmp_path):
    stream = spark.readStream.format("rate").load()
    with pytest.raises(ExpectationError, match="micro-batches"):
        check_batch(stream, [], "orders")


_NO_COLLECTION = textwrap.dedent(
    """
    from dataclasses import dataclass
    from kappa.engines.spark.session import get_or_create_session
    from kappa.quality.result import QualityCounts
    from kappa.quality.spark_eval import check_batch

    @dataclass(frozen=True)
    class Exp:
        name: str
        expr: str
        action: str

    spark = get_or_create_session(master="local[2]", app_name="kappa-no-collect",
                                  conf={"spark.driver.maxResultSize": "1m"})
    assert spark.conf.get("spark.driver.maxResultSize") == "1m"
    df = spark.range(0, 200000, 1, 4).selectExpr(
        "id", "repeat(sha2(cast(id AS STRING), 256), 4) AS payload",
        "CASE WHEN id % 100 = 0 THEN NULL ELSE id % 7 END AS k")
    expectations = [Exp("k_set", "k IS NOT NULL", "quarantine"), Exp("k_pos", "k > 0", "drop"),
                    Exp("even", "id % 2 = 0", "warn"), Exp("small", "id < 1000000", "fail")]
    batch = check_batch(df, expectations, "wide")
    assert batch.counts == QualityCounts(200000, 169714, 28286, 2000,
        {"k_set": 2000, "k_pos": 30286, "even": 100000, "small": 0}), batch.counts
    batch.output.write.format("noop").mode("overwrite").save()
    batch.quarantine.write.format("noop").mode("overwrite").save()
    batch.release()
    plain = check_batch(df, [], "wide")
    assert plain.counts == QualityCounts(200000, 200000, 0, 0, {}), plain.counts
    plain.release()
    lazy = check_batch(df, [], "wide", lazy_counts=True)
    lazy.output.write.format("noop").mode("overwrite").save()
    assert lazy.counts == QualityCounts(200000, 200000, 0, 0, {}), lazy.counts
    try:  # control: the same rows collected to the driver exceed the limit
        df.toArrow()
    except Exception as err:
        assert "maxResultSize" in str(err), err
    else:
        raise AssertionError("collecting the frame did not hit spark.driver.maxResultSize")
    print("NO-COLLECTION-OK")
    spark.stop()
    """
)


def test_check_batch_collects_nothing_to_the_driver():
    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, PYTHONPATH=str(root), SPARK_LOCAL_IP="127.0.0.1")
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", _NO_COLLECTION], env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0 and "NO-COLLECTION-OK" in proc.stdout, proc.stderr[-3000:]
    print(f"no-collection subprocess: {time.monotonic() - started:.1f}s")
