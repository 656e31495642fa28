"""Expectations give identical outputs, quarantines and counts on Polars and Spark."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
import pyarrow as pa
import pytest

from kappa.errors import ExpectationFailed, KappaError
from kappa.quality.polars_eval import apply_expectations
from kappa.quality.result import QualityCounts
from kappa.quality.rules import ExpectationError
from kappa.quality.spark_eval import check_batch


@dataclass(frozen=True)
class Exp:
    name: str
    expr: str
    action: str


DATA = pa.table(
    {
        "id": pa.array([1, 2, 3, None, 5, 6], pa.int64()),
        "name": pa.array(["ann", None, "cy", "dee", "eve", "f"]),
        "amount": pa.array([10.0, -1.0, 5.0, 7.0, None, 0.0]),
        "s": pa.array(["1", "2", "x", "4", "5", "6"]),
    }
)


@pytest.fixture(params=["polars", pytest.param("spark", marks=pytest.mark.spark)])
def run(request):
    """run(expectations, data=DATA) -> (output, quarantine, counts) as Polars frames."""
    if request.param == "polars":
        def _run(expectations, data=DATA):
            out, q, counts = apply_expectations(pl.from_arrow(data).lazy(), expectations, "orders")
            return out, q, counts
    else:
        spark = request.getfixturevalue("spark")

        def _run(expectations, data=DATA):
            batch = check_batch(spark.createDataFrame(data), expectations, "orders")
            try:
                out, q = batch.output, batch.quarantine
                return (pl.from_arrow(out.toArrow()), None if q is None else pl.from_arrow(q.toArrow()), batch.counts)
            finally:
                batch.release()
    return _run


def _rows(df):
    return sorted(df.rows(), key=repr)


def test_rules_drop_quarantine_warn(run):
    expectations = [
        Exp("has_id", "id IS NOT NULL", "quarantine"),
        Exp("positive", "amount > 0", "drop"),
        Exp("short_name", "length(name) <= 2", "warn"),
        Exp("numeric", "TRY_CAST(s AS INT) IS NOT NULL", "quarantine"),
    ]
    out, q, counts = run(expectations)
    # row 1 ok except warn; row 2 drop (amount<0, name NULL -> warn NULL fails);
    # row 3 quarantine (numeric) + fails short? cy ok; row 4 quarantine (has_id) + warn;
    # row 5 drop (amount NULL); row 6 drop (amount 0)
    assert _rows(out) == [(1, "ann", 10.0, "1")]
    assert out.schema == pl.from_arrow(DATA).schema
    assert _rows(q) == [(3, "cy", 5.0, "x", ["numeric"]), (None, "dee", 7.0, "4", ["has_id", "short_name"])]
    assert q.schema["_kappa_failed"] == pl.List(pl.String)
    assert counts == QualityCounts(
        input_rows=6, output_rows=1, dropped_rows=3, quarantined_rows=2,
        failures={"has_id": 1, "positive": 3, "short_name": 4, "numeric": 1},
    )
    assert list(counts.failures) == ["has_id", "positive", "short_name", "numeric"]


def test_quarantine_lists_every_failed_expectation_in_declaration_order(run):
    expectations = [
        Exp("w", "name <> 'cy'", "warn"),
        Exp("d", "amount <> 5", "drop"),
        Exp("q", "s RLIKE '^[0-9]+$'", "quarantine"),
    ]
    _, q, counts = run(expectations)
    assert _rows(q) == [(3, "cy", 5.0, "x", ["w", "d", "q"])]
    # row 3 fails d and q: quarantined, not dropped; row 5 (amount NULL) fails d only: dropped
    assert (counts.quarantined_rows, counts.dropped_rows, counts.output_rows) == (1, 1, 4)


def test_no_quarantine_expectation_gives_none(run):
    out, q, counts = run([Exp("positive", "amount > 0", "drop")])
    assert q is None
    assert counts.output_rows + counts.dropped_rows == counts.input_rows == 6
    assert counts.failures == {"positive": 3}
    assert out.height == 3


def test_empty_quarantine_has_schema(run):
    out, q, counts = run([Exp("any", "true", "quarantine")])
    assert q is not None and q.height == 0 and q.columns == ["id", "name", "amount", "s", "_kappa_failed"]
    assert counts == QualityCounts(6, 6, 0, 0, {"any": 0})


def test_null_result_is_a_failure(run):
    _, _, counts = run([Exp("null_name", "name = name", "warn"), Exp("always_null", "NULL", "warn")])
    assert counts.failures == {"null_name": 1, "always_null": 6}
    assert counts.output_rows == 6


def test_fail_raises_before_returning(run):
    expectations = [Exp("warned", "amount > 0", "warn"), Exp("ids", "id IS NOT NULL", "fail"), Exp("more", "amount < 100", "fail")]
    with pytest.raises(ExpectationFailed) as info:
        run(expectations)
    assert (info.value.node, info.value.expectation, info.value.failed_rows) == ("orders", "ids", 1)


def test_fail_that_passes_and_no_expectations(run):
    out, q, counts = run([Exp("small", "amount < 100 OR amount IS NULL", "fail")])
    assert out.height == 6 and q is None and counts.failures == {"small": 0}
    out, q, counts = run([])
    assert out.height == 6 and q is None and counts == QualityCounts(6, 6, 0, 0, {})


def test_empty_batch(run):
    out, q, counts = run([Exp("q", "id > 0", "quarantine")], DATA.slice(0, 0))
    assert out.height == 0 and q.height == 0 and counts == QualityCounts(0, 0, 0, 0, {"q": 0})


@pytest.mark.parametrize(
    "expectations,message",
    [
        ([Exp("a", "id > 0", "explode")], "action must be one of"),
        ([Exp("a", "id > 0", "warn"), Exp("a", "id < 9", "warn")], "duplicate"),
        ([Exp("a", "count(*) > 0", "warn")], "row-level"),
        ([Exp("a", "SELECT 1", "warn")], "row-level"),
        ([Exp("a", "id + 1", "warn")], "not a boolean"),
        ([Exp("a", "nope > 1", "warn")], "nope"),
    ],
)
def test_bad_expectations(run, expectations, message):
    with pytest.raises(KappaError, match=message):
        run(expectations)


def test_errors_are_kappa_errors():
    assert issubclass(ExpectationError, KappaError)
    with pytest.raises(ValueError):
        QualityCounts(3, 1, 1, 0, {})


EXPECTATIONS_ALL = [
    Exp("has_id", "id IS NOT NULL", "quarantine"),
    Exp("positive", "amount > 0", "drop"),
    Exp("short", "length(name) <= 2", "warn"),
]


def test_polars_reads_the_source_once():
    reads = []

    def source():
        reads.append(1)
        return pl.from_arrow(DATA)

    lf = pl.defer(source, schema=pl.from_arrow(DATA).schema)
    out, q, counts = apply_expectations(lf, EXPECTATIONS_ALL, "orders")
    assert len(reads) == 1
    assert (out.height, q.height, counts.dropped_rows) == (2, 1, 3)


def test_spark_reads_the_source_once(spark):
    from pyspark.sql import functions as F

    reads = spark.sparkContext.accumulator(0)

    def touch(x):
        reads.add(1)
        return x

    touched = F.udf(touch, "bigint")
    df = spark.createDataFrame(DATA).withColumn("id", touched(F.col("id")))
    batch = check_batch(df, EXPECTATIONS_ALL, "orders")
    out, q, counts = batch.output, batch.quarantine, batch.counts
    assert (out.count(), q.count(), len(out.collect()), len(q.collect())) == (2, 1, 2, 1)
    batch.release()
    assert counts.dropped_rows == 3
    assert reads.value == DATA.num_rows  # one evaluation per source row, whatever the later actions
