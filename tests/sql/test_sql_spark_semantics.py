"""Spark 4 semantics the translation mirrors (or documents), checked against the real local Spark."""

from __future__ import annotations

import polars as pl
import pyarrow as pa
import pytest

from kappa.sql.polars_exec import run_sql

pytestmark = pytest.mark.spark

DATA = pa.table({"s": pa.array(["1", "abc", None]), "d": pa.array(["2024-01-02", "yesterday", None]),
                 "n": pa.array([1, 0, None], pa.int64())})


@pytest.fixture(scope="module")
def view(spark):
    spark.createDataFrame(DATA).createOrReplaceTempView("sem")
    return spark


def _polars(sql):
    return run_sql(sql, {"sem": pl.from_arrow(DATA).lazy()}).collect()


def test_spark4_is_ansi_by_default(view):
    assert view.conf.get("spark.sql.ansi.enabled").lower() == "true"


@pytest.mark.parametrize("sql", [
    "SELECT CAST(s AS INT) AS x FROM sem",
    "SELECT CAST(s AS DOUBLE) AS x FROM sem",
    "SELECT CAST(d AS DATE) AS x FROM sem",
    "SELECT to_date(d) AS x FROM sem",
    "SELECT to_date(d, 'yyyy-MM-dd') AS x FROM sem",
])
def test_invalid_input_raises_on_both_engines(view, sql):
    with pytest.raises(Exception):
        view.sql(sql).collect()
    with pytest.raises(Exception):
        _polars(sql)


def test_try_cast_gives_null_on_both_engines(view):
    sql = "SELECT TRY_CAST(s AS INT) AS x FROM sem"
    assert [r.x for r in view.sql(sql).collect()] == [1, None, None]
    assert _polars(sql)["x"].to_list() == [1, None, None]


def test_division_by_zero_spark_raises_polars_null(view):
    """Documented difference: Spark 4 (ANSI) raises DIVIDE_BY_ZERO, the Polars translation gives NULL."""
    sql = "SELECT 10 / n AS q FROM sem"
    with pytest.raises(Exception, match="DIVIDE_BY_ZERO"):
        view.sql(sql).collect()
    assert _polars(sql)["q"].to_list() == [10.0, None, None]


def test_guarded_division_agrees(view):
    sql = "SELECT CASE WHEN n <> 0 THEN 10 / n END AS q FROM sem"
    assert [r.q for r in view.sql(sql).collect()] == [10.0, None, None]
    assert _polars(sql)["q"].to_list() == [10.0, None, None]
