"""Translation rules that do not need Spark: refusals, aliases, output shape."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from kappa.errors import KappaError
from kappa.sql.errors import SqlError, UnsupportedSql
from kappa.sql.polars_exec import run_sql
from kappa.sql.translate import to_polars_sql


def _lf():
    return pl.DataFrame({"id": [1, 2, None], "s": ["x", "y", None], "v": [1.0, 0.0, None]}).lazy()


@pytest.mark.parametrize(
    "sql,construct",
    [
        ("SELECT regexp_extract(s, 'a', 0) AS r FROM t", "regexp_extract"),
        ("SELECT explode(a) AS r FROM t", "explode"),
        ("SELECT my_udf(s) AS r FROM t", "my_udf"),
        ("SELECT t.id FROM t RIGHT JOIN u ON t.id = u.id", "RIGHT JOIN"),
        ("SELECT t.id FROM t FULL OUTER JOIN u ON t.id = u.id", "FULL"),
        ("SELECT t.id FROM t JOIN u USING (id)", "USING"),
        ("SELECT sum(id) OVER (ORDER BY id) AS r FROM t", "running aggregate"),
        ("SELECT sum(id) OVER (ORDER BY id ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS r FROM t", "window frame"),
        ("INSERT INTO x SELECT * FROM t", "INSERT"),
        ("SELECT date_trunc('fortnight', ts) AS r FROM t", "(?i)fortnight"),
        ("SELECT to_date(s, 'yyyy-QQQ') AS r FROM t", "QQQ"),
        ("SELECT round(v, id) AS r FROM t", "round"),
    ],
)
def test_unsupported_constructs_are_named(sql, construct):
    with pytest.raises(UnsupportedSql, match=construct):
        to_polars_sql(sql)
    assert issubclass(UnsupportedSql, KappaError)


@pytest.mark.parametrize("sql", ["SELECT lower(s) FROM t", "SELECT count(*) FROM t", "SELECT id + 1 FROM t",
                                 "WITH c AS (SELECT upper(s) FROM t) SELECT * FROM c"])
def test_computed_columns_need_an_alias(sql):
    with pytest.raises(UnsupportedSql, match="give the column .* a name"):
        to_polars_sql(sql)


def test_alias_not_needed_in_scalar_subqueries():
    out = run_sql("SELECT id FROM t WHERE v = (SELECT max(v) FROM t)", {"t": _lf()}).collect()
    assert out.to_dict(as_series=False) == {"id": [1]}


def test_syntax_error_and_several_statements():
    with pytest.raises(SqlError, match="cannot parse"):
        to_polars_sql("SELEC id FROM t")
    with pytest.raises(SqlError, match="exactly one statement"):
        to_polars_sql("SELECT 1 AS a; SELECT 2 AS b")


def test_unknown_column_is_reported():
    with pytest.raises(SqlError, match="nope"):
        run_sql("SELECT nope FROM t", {"t": _lf()})


def test_run_sql_is_lazy():
    assert isinstance(run_sql("SELECT id FROM t", {"t": _lf()}), pl.LazyFrame)


def test_division_by_zero_is_null_on_polars():
    out = run_sql("SELECT id / v AS q FROM t", {"t": _lf()}).collect()
    assert out["q"].to_list() == [1.0, None, None]


def test_current_timestamp_is_one_utc_instant():
    before = dt.datetime.now(dt.timezone.utc)
    out = run_sql("SELECT current_timestamp() AS a, current_timestamp AS b FROM t", {"t": _lf()}).collect()
    after = dt.datetime.now(dt.timezone.utc)
    assert out.schema["a"] == pl.Datetime("us", "UTC")
    values = set(out["a"].to_list()) | set(out["b"].to_list())
    assert len(values) == 1 and before <= values.pop() <= after


def test_fixed_now():
    now = dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.timezone.utc)
    sql = to_polars_sql("SELECT current_date() AS d, current_timestamp() AS ts FROM t", now=now)
    out = pl.SQLContext(t=_lf()).execute(sql, eager=True)
    assert out.row(0) == (dt.date(2024, 5, 6), now)


def test_column_names_keep_their_case():
    lf = pl.DataFrame({"userId": [1], "Name": ["a"]}).lazy()
    out = run_sql("SELECT userId, Name AS `Full Name` FROM t", {"t": lf}).collect()
    assert out.columns == ["userId", "Full Name"]


def test_duplicate_output_columns_are_refused():
    a = pl.DataFrame({"id": [1], "x": [2]}).lazy()
    b = pl.DataFrame({"id": [1], "y": [3]}).lazy()
    with pytest.raises(UnsupportedSql, match="duplicate output column 'id'"):
        run_sql("SELECT * FROM a JOIN b ON a.id = b.id", {"a": a, "b": b})
    out = run_sql("SELECT a.*, b.y FROM a JOIN b ON a.id = b.id", {"a": a, "b": b}).collect()
    assert out.rows() == [(1, 2, 3)]


def test_table_names_that_need_quoting():
    from kappa.sql.refs import render

    sql = render("SELECT id FROM {df}", "my-view", {})
    assert run_sql(sql, {"my-view": _lf()}).collect()["id"].to_list() == [1, 2, None]


def test_validate_spark_sql_refuses_like_the_translation():
    from kappa.sql.translate import validate_spark_sql

    validate_spark_sql("SELECT id, lower(s) AS s FROM t")
    with pytest.raises(UnsupportedSql, match="regexp_extract"):
        validate_spark_sql("SELECT regexp_extract(s, 'a', 0) AS r FROM t")
    with pytest.raises(UnsupportedSql, match="a name"):
        validate_spark_sql("SELECT lower(s) FROM t")


def test_unknown_table_and_struct_field_are_reported():
    lf = pl.DataFrame({"id": [1], "data": [{"x": {"y": 1}}]}).lazy()
    with pytest.raises(SqlError, match="reads table 'other', which is not an input"):
        run_sql("SELECT id FROM other", {"t": lf})
    with pytest.raises(SqlError, match="zz"):
        run_sql("SELECT data.x.zz AS z FROM t", {"t": lf}).collect()
    out = run_sql("WITH c AS (SELECT data.x.y AS y FROM t) SELECT y FROM c", {"t": lf}).collect()
    assert out.rows() == [(1,)]
