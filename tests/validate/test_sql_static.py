"""``kappa.sql.static_check.check_sql``: each problem in the user's words, at its place in the SQL;
the output schema of a step whose input schemas are known; nothing invented when they are not."""

from __future__ import annotations

import polars as pl
import pytest

from kappa.sql.static_check import check_sql

DF = pl.Schema({"id": pl.Int64, "amount": pl.Float64, "data": pl.Struct({"x": pl.Int32, "sub": pl.Struct({"k": pl.String})})})
USERS = pl.Schema({"uid": pl.Int64, "name": pl.String})


def _check(sql: str, df=DF, users=USERS):
    problems, schema = check_sql(sql, df, {"users": users})
    return [p.render() for p in problems], (dict(schema) if schema is not None else None)


@pytest.mark.parametrize("sql, problems", [
    ("SELECT data.y AS y FROM {df}", ["unknown field 'y' of 'data' (fields: x, sub) (SQL line 1, column 8)"]),
    ("SELECT d.data.sub.kk AS k FROM {df} d", ["unknown field 'kk' of 'data.sub'; did you mean 'k'? (fields: k) (SQL line 1, column 8)"]),
    ("SELECT o.id, u.nme AS n FROM {df} o JOIN {nodes.users} u ON o.id = u.uid",
     ["unknown column 'nme'; did you mean 'name'? (columns of u: uid, name) (SQL line 1, column 14)"]),
    ("SELECT {df}.idd FROM {df}", ["unknown column 'idd'; did you mean 'id'? (columns of {df}: id, amount, data) (SQL line 1, column 8)"]),
    ("WITH c AS (SELECT id AS i FROM {df})\nSELECT c.id FROM c", ["unknown column 'id'; did you mean 'i'? (columns of c: i) (SQL line 2, column 8)"]),
    ("SELECT id FROM {df} WHERE id IN (SELECT uid FROM {nodes.users} WHERE nam = 'a')",
     ["unknown column 'nam'; did you mean 'name'? (columns: id, amount, data, uid, name) (SQL line 1, column 70)"]),
    ("SELECT Amount AS a FROM {df}", ["unknown column 'Amount'; did you mean 'amount'? (columns: id, amount, data) (SQL line 1, column 8)"]),
    ("SELECT APPROX_PERCENTILE(amount, 0.5) AS m FROM {df}",
     ["function approx_percentile() is not supported: kappa runs only the functions it can run with Spark's result on both engines "
      "(SQL line 1, column 8)"]),
    ("SELECT id FROM {df}; SELECT 1", ["a SQL step holds exactly one statement, found 2"]),
    ("SELECT id FROM {df} o JOIN {nodes.users} u USING (id)", ["JOIN ... USING (write ON a.x = b.x)"]),
    ("SELECT CAST(id AS INTEGR) AS i FROM {df}", ["unknown type 'INTEGR' in CAST; did you mean INTEGER? (SQL line 1, column 19)"]),
])
def test_problems_in_the_users_words(sql, problems):
    assert _check(sql) == (problems, None)


@pytest.mark.parametrize("sql, schema", [
    ("SELECT amount * 2 AS d FROM {df} ORDER BY d", {"d": pl.Float64}),
    ("SELECT d.data.x AS x, data.sub.k AS k FROM {df} d", {"x": pl.Int32, "k": pl.String}),
    ("SELECT x.i FROM (SELECT id AS i FROM {df}) x", {"i": pl.Int64}),
    ("SELECT (SELECT max(uid) FROM {nodes.users}) AS m, id FROM {df}", {"m": pl.Int64, "id": pl.Int64}),
    ("SELECT id FROM {df} o WHERE EXISTS (SELECT 1 FROM {nodes.users} u WHERE u.uid = o.id)", {"id": pl.Int64}),
    ("SELECT id, count(*) AS n, sum(amount) AS total FROM {df} GROUP BY id HAVING count(*) > 1",
     {"id": pl.Int64, "n": pl.Int64, "total": pl.Float64}),
])
def test_output_schema_of_a_step(sql, schema):
    assert _check(sql) == ([], schema)


def test_unknown_input_schemas_skip_the_schema_checks():
    assert _check("SELECT nope AS a, u.nothing AS b FROM {df} JOIN {nodes.users} u ON u.x = {df}.y", df=None) == ([], None)
    assert _check("SELECT id, u.nothing AS b FROM {df} JOIN {nodes.users} u ON u.x = id", users=None) == ([], None)


def test_schema_free_checks_run_without_a_schema():
    assert _check("SELECT uppercase(x), id + 1 FROM {df}", df=None) == ([
        "unknown function uppercase(); did you mean upper()? (SQL line 1, column 8)",
        "give the column 'uppercase(x)' a name (AS ...): Spark's generated column names are not reproduced (SQL line 1, column 8)",
        "give the column 'id + 1' a name (AS ...): Spark's generated column names are not reproduced (SQL line 1, column 22)",
    ], None)


def test_a_node_without_a_dataframe():
    assert check_sql("SELECT id FROM {df}", None, {}, df_known=False)[0][0].render() == (
        "the SQL step uses {df} but this node has no input DataFrame")
