"""The same Spark SQL statements on the real local Spark and on Polars give identical rows and types."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import polars as pl
import pyarrow as pa
import pytest

from kappa.sql.polars_exec import run_sql

pytestmark = pytest.mark.spark

UTC = dt.timezone.utc

T_SCHEMA = pa.schema(
    [
        ("id", pa.int32()),
        ("grp", pa.string()),
        ("name", pa.string()),
        ("v", pa.float64()),
        ("amount", pa.decimal128(10, 2)),
        ("ts", pa.timestamp("us", tz="UTC")),
        ("s_num", pa.string()),
        ("s_date", pa.string()),
        ("s_dmy", pa.string()),
        ("s_ts", pa.string()),
        ("s_hm", pa.string()),
        ("s_mixed", pa.string()),
        ("big", pa.int64()),
        ("flag", pa.bool_()),
        ("data", pa.struct([("x", pa.struct([("y", pa.int64())]))])),
    ]
)
T_ROWS = [
    (1, "a", "alice", 2.5, Decimal("10.25"), dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), "12",
     "2024-01-02", "02/01/2024", "2024-01-02 03:04:05", "2024-01-02 03:04", "17", 1_700_000_000, True, {"x": {"y": 7}}),
    (2, "a", " bob ", -2.5, Decimal("-3.55"), dt.datetime(2024, 2, 29, 23, 59, 59, 500000, tzinfo=UTC), "-4",
     "2024-02-29", "29/02/2024", "2024-02-29 23:59:59.5", "2024-02-29 23:59", "x1", 0, False, {"x": {"y": None}}),
    (3, "b", None, 0.125, None, None, None, None, None, None, None, None, None, None, None),
    (None, "b", "Carla", None, Decimal("0.05"), dt.datetime(1999, 12, 31, 0, 0, tzinfo=UTC), "0",
     "1999-12-31", "31/12/1999", "1999-12-31 00:00:00", "1999-12-31 00:00", "", -1, True, {"x": None}),
    (5, None, "dave", 2.675, Decimal("99999999.99"), dt.datetime(2024, 6, 30, 12, 0, 0, 120000, tzinfo=UTC), "2147483647",
     "2024-06-30", "30/06/2024", "2024-06-30 12:00:00.12", "2024-06-30 12:00", "5", 42, None, {"x": {"y": -1}}),
    (6, "c", "Eve", 1e20, Decimal("1.00"), dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), "7",
     "2024-01-02", "02/01/2024", "2024-01-02T03:04:05", "2024-01-02 03:04", "6", 3, False, {"x": {"y": 0}}),
]
U_SCHEMA = pa.schema([("id", pa.int64()), ("label", pa.string())])
U_ROWS = [(1, "one"), (2, "two"), (2, "deux"), (7, "seven"), (None, "null")]


def _table(schema: pa.Schema, rows: list[tuple]) -> pa.Table:
    return pa.Table.from_pylist([dict(zip(schema.names, r)) for r in rows], schema=schema)


T = _table(T_SCHEMA, T_ROWS)
U = _table(U_SCHEMA, U_ROWS)

# (statement, ordered): ordered statements compare row order too
STATEMENTS = [
    ("SELECT id, name, v, amount, ts, flag FROM t", False),
    ("SELECT * FROM u", False),
    ("SELECT data.x.y AS y, t.data.x.y AS y2, data.x AS x FROM t", False),
    ("SELECT data.x.y, t.id, data.x FROM t", False),
    ("SELECT CAST(id AS STRING) AS a, CAST(s_num AS INT) AS b, CAST(s_num AS BIGINT) AS c, "
     "CAST(s_num AS DOUBLE) AS d, CAST(v AS DECIMAL(30, 2)) AS e, CAST(id AS BOOLEAN) AS f, "
     "CAST(s_date AS DATE) AS g, CAST(s_ts AS TIMESTAMP) AS h, CAST(amount AS STRING) AS i, "
     "CAST(flag AS STRING) AS j, CAST(v AS INT) AS k, CAST(amount AS INT) AS l FROM t WHERE id <> 6", False),
    ("SELECT CAST(ts AS STRING) AS a, CAST(ts AS BIGINT) AS b, CAST(big AS TIMESTAMP) AS c, "
     "CAST(ts AS DATE) AS d, CAST(s_date AS TIMESTAMP) AS e, CAST(ts AS TIMESTAMP_NTZ) AS f, "
     "TIMESTAMP '2024-01-02 03:04:05' AS g, DATE '2024-01-02' AS h FROM t", False),
    ("SELECT TRY_CAST(s_mixed AS INT) AS a, TRY_CAST(name AS DOUBLE) AS b FROM t", False),
    ("SELECT CASE WHEN s_mixed RLIKE '^[0-9]+$' THEN CAST(s_mixed AS INT) END AS n FROM t", False),
    ("SELECT id / 2 AS a, big / id AS b, v / 4 AS c, id % 4 AS d, -id AS e, id * big AS f, v + id AS g FROM t", False),
    ("SELECT grp, count(*) AS n, count(name) AS nn, count(DISTINCT name) AS nd, sum(id) AS s, avg(v) AS a, "
     "min(v) AS mi, max(name) AS ma, sum(big) AS sb, sum(v) AS sv, avg(id) AS ai, min(ts) AS mt "
     "FROM t GROUP BY grp HAVING count(*) >= 1", False),
    ("SELECT grp, sum(amount) AS sa, max(amount) AS ma FROM t GROUP BY grp", False),
    ("SELECT grp, max_by(name, ts) AS last_name, min_by(id, v) AS first_id, max_by(upper(name), big) AS top "
     "FROM t GROUP BY grp", False),
    ("SELECT grp, max_by(name, ts) AS m, min_by(id, ts) AS f FROM t WHERE ts IS NULL OR grp = 'a' GROUP BY grp", False),
    ("SELECT grp, sum(id) AS s, avg(id) AS a, max(id) AS m FROM t WHERE id IS NULL GROUP BY grp", False),
    ("SELECT count(*) AS n, sum(id) AS s, max(name) AS m FROM t WHERE id > 1000", False),
    ("SELECT id, v FROM t ORDER BY v DESC, id LIMIT 4", True),
    ("SELECT id, v FROM t ORDER BY v, id", True),
    ("SELECT id, grp FROM t ORDER BY grp DESC, id DESC", True),
    ("SELECT name FROM t ORDER BY name", True),
    ("SELECT DISTINCT grp FROM t", False),
    ("SELECT id, CASE WHEN v > 1 THEN 'hi' WHEN v IS NULL THEN 'none' ELSE 'lo' END AS c, "
     "CASE grp WHEN 'a' THEN 1 WHEN 'b' THEN 2 END AS g, coalesce(name, grp, 'anon') AS n2, "
     "id IN (1, 2) AS i, id NOT IN (1, 2) AS ni, v BETWEEN 0 AND 2.5 AS b, name LIKE '%a%' AS l, "
     "name NOT LIKE 'a%' AS nl, name IS NULL AS isn, name IS NOT NULL AS inn, id <=> 3 AS ns, "
     "if(v > 1, 'x', 'y') AS iff, nvl(name, 'z') AS nv FROM t", False),
    ("SELECT id FROM t WHERE (v > 0 OR name IS NULL) AND NOT flag AND id != 3", False),
    ("SELECT lower(name) AS lo, upper(name) AS up, trim(name) AS tr, ltrim(name) AS lt, rtrim(name) AS rt, "
     "concat(name, '-', id) AS co, concat(grp, name) AS co2, name || '!' AS pp, length(name) AS le FROM t", False),
    ("SELECT substring(name, 2, 3) AS s1, substring(name, 0, 2) AS s2, substring(name, -3, 2) AS s3, "
     "substr(name, 2) AS s4, substring(name, -2) AS s5, substring(name, 3, 0) AS s6, substring(name, -10, 12) AS s7 FROM t",
     False),
    ("SELECT round(v) AS r0, round(v, 1) AS r1, round(v, 2) AS r2, round(id) AS ri, round(amount, 1) AS ra, "
     "abs(v) AS a, floor(v) AS f, ceil(v) AS c, floor(amount) AS fa, ceil(amount) AS ca, abs(id) AS ai, "
     "floor(id) AS fi, abs(amount) AS aa FROM t WHERE id <> 6 OR id IS NULL", False),
    ("SELECT to_date(s_date) AS d1, to_date(s_dmy, 'dd/MM/yyyy') AS d2, to_timestamp(s_hm, 'yyyy-MM-dd HH:mm') AS t2, "
     "to_date(ts) AS d3, date_trunc('HOUR', ts) AS tr1, date_trunc('MONTH', ts) AS tr2, "
     "date_trunc('day', s_date) AS tr3, date_trunc('week', ts) AS tr4, date_trunc('YEAR', ts) AS tr5, "
     "year(ts) AS y, month(ts) AS m, day(ts) AS d, hour(ts) AS h, minute(ts) AS mi, second(ts) AS se, "
     "year(s_date) AS ys, dayofmonth(ts) AS dm FROM t", False),
    ("SELECT to_timestamp(s_ts) AS t1, date_format(ts, 'yyyy-MM-dd HH:mm') AS f1, "
     "date_format(ts, 'dd/MM/yy HH:mm:ss.SSS') AS f2 FROM t", False),
    ("SELECT t.id, t.name, u.label FROM t JOIN u ON t.id = u.id", False),
    ("SELECT a.id, a.grp, b.label FROM t AS a LEFT JOIN u AS b ON a.id = b.id AND b.label <> 'deux'", False),
    ("SELECT id, name FROM t WHERE id IN (SELECT id FROM u WHERE label LIKE 't%')", False),
    ("SELECT id FROM t UNION ALL SELECT id FROM u", False),
    ("SELECT grp AS g FROM t UNION SELECT label FROM u", False),
    ("WITH big_v AS (SELECT id, v FROM t WHERE v > 0), named AS (SELECT id, label FROM u) "
     "SELECT b.id, b.v, n.label FROM big_v b LEFT JOIN named n ON b.id = n.id", False),
    ("SELECT g, total FROM (SELECT grp AS g, sum(big) AS total FROM t GROUP BY grp) AS s WHERE total > 0", False),
    ("SELECT id, grp, row_number() OVER (PARTITION BY grp ORDER BY v DESC, id) AS rn, "
     "rank() OVER (ORDER BY grp) AS rk, dense_rank() OVER (ORDER BY grp) AS drk FROM t", False),
    ("SELECT id, sum(id) OVER (PARTITION BY grp) AS s, count(*) OVER (PARTITION BY grp) AS n, "
     "max(v) OVER () AS mv FROM t", False),
    ("SELECT amount / 4 AS q1, amount / id AS q2, amount * 2 AS m, amount + 1 AS a, amount - amount AS z FROM t", False),
    ("SELECT amount / 6 AS q6, amount / 7 AS q7, amount * amount AS sq, amount % 3 AS md, big * amount AS bm, "
     "amount / v AS dv FROM t WHERE id <> 3", False),
    ("SELECT concat_ws('-', grp, name) AS cw, ts + INTERVAL 1 HOUR AS later, ts - INTERVAL 2 DAYS AS earlier FROM t", False),
    ("SELECT grp, count(*) AS n FROM t GROUP BY 1 ORDER BY 1", True),
    ("SELECT id, name FROM t WHERE name IS NOT NULL ORDER BY 2 DESC", True),
    ("SELECT id FROM t WHERE EXISTS (SELECT 1 AS one FROM u WHERE u.id = t.id)", False),
    ("SELECT greatest(id, 3) AS g, least(v, 1.0) AS l, nullif(grp, 'a') AS n FROM t", False),
    ("SELECT id FROM t WHERE ts > '2024-01-02 03:04:05'", False),
    ("SELECT id FROM t WHERE ts >= TIMESTAMP '2024-01-02 03:04:05' AND to_date(ts) <= DATE '2024-02-29'", False),
    ("SELECT id FROM t WHERE to_date(s_date) > '2024-01-01'", False),
    ("SELECT id, id IN (1, NULL) AS i, (v > 0) AND NULL AS a, (v > 0) OR NULL AS o, NOT (v > 0) AS n FROM t", False),
    ("SELECT id, name LIKE '_ve' AS l1, name LIKE '%a_' AS l2, name RLIKE '^[A-Z]' AS r FROM t", False),
    ("SELECT CASE WHEN id > 2 THEN id ELSE v END AS m, coalesce(v, id) AS c FROM t", False),
    ("SELECT upper(grp) AS g, count(*) AS n FROM t GROUP BY upper(grp) HAVING n >= 1", False),
    ("SELECT DISTINCT grp, flag FROM t", False),
    ("SELECT id, v AS value FROM t ORDER BY value DESC, id LIMIT 3", True),
    ("SELECT x.id FROM (SELECT id FROM t ORDER BY id LIMIT 2) AS x", False),
    ("SELECT id, CAST(v AS STRING) AS s FROM t WHERE v < 1e6 AND abs(v) >= 0.001", False),
    ("SELECT regexp_replace(name, '[aeiou]+', '_') AS rr, replace(name, 'a', 'A') AS r1, replace(name, 'e') AS r2, "
     "lpad(name, 6, '*') AS lp, rpad(name, 3) AS rp, left(name, 2) AS le, right(name, 2) AS ri FROM t", False),
    ("SELECT date_add(to_date(s_date), 3) AS a, date_sub(ts, 2) AS b, date_add(s_date, id) AS c, "
     "datediff(ts, to_date('2024-01-01')) AS d, datediff(s_date, ts) AS e FROM t", False),
    ("SELECT id, lag(id) OVER (PARTITION BY grp ORDER BY id) AS lg, lead(v, 1) OVER (ORDER BY id) AS ld, "
     "lag(name, 1, 'none') OVER (ORDER BY id DESC) AS lgd FROM t", False),
    ("SELECT * FROM (SELECT id, grp, row_number() OVER (PARTITION BY grp ORDER BY id DESC) AS rn FROM t) AS x "
     "WHERE rn = 1", False),
]


@pytest.fixture(scope="module")
def spark_views(spark):
    spark.createDataFrame(T).createOrReplaceTempView("t")
    spark.createDataFrame(U).createOrReplaceTempView("u")
    return spark


def _normalise(table: pa.Table) -> pl.DataFrame:
    return pl.from_arrow(table)


def _rows(df: pl.DataFrame, ordered: bool) -> list:
    rows = df.rows()
    return rows if ordered else sorted(rows, key=repr)


@pytest.mark.parametrize("sql,ordered", STATEMENTS, ids=[f"q{i:02d}" for i in range(len(STATEMENTS))])
def test_spark_and_polars_agree(spark_views, sql, ordered):
    expected = _normalise(spark_views.sql(sql).toArrow())
    got = run_sql(sql, {"t": pl.from_arrow(T).lazy(), "u": pl.from_arrow(U).lazy()}).collect()
    assert got.schema == expected.schema
    assert _rows(got, ordered) == _rows(expected, ordered)


def _numbers() -> pa.Table:
    import random

    rng = random.Random(7)
    doubles = [round(rng.uniform(-1000, 1000), 3) for _ in range(150)]
    doubles += [0.5, 1.5, 2.5, -0.5, -2.5, 0.125, 0.375, -0.625, 2.675, 1.005, 1e-7, 123456.785, 0.0, -0.0]
    decimals = [Decimal(f"{rng.randint(-10**9, 10**9) / 1000:.3f}") for _ in doubles]
    ints = [rng.randint(-10**6, 10**6) or 1 for _ in doubles]
    return pa.table({"x": pa.array(doubles), "d": pa.array(decimals, pa.decimal128(12, 3)), "i": pa.array(ints, pa.int32())})


NUMS = _numbers()
NUMBER_STATEMENTS = [
    "SELECT x, round(x) AS r0, round(x, 1) AS r1, round(x, 2) AS r2, floor(x) AS f, ceil(x) AS c, "
    "CAST(x AS DECIMAL(12, 2)) AS cd, CAST(x AS INT) AS ci, x / 3 AS q FROM nums",
    "SELECT d, round(d) AS r0, round(d, 2) AS r2, d / 7 AS q7, d / i AS qi, d * i AS m, d + i AS a, d % 7 AS md, "
    "CAST(d AS DECIMAL(10, 1)) AS c1, floor(d) AS f, ceil(d) AS c, CAST(d AS DOUBLE) AS dd, d * 1.5 AS m2 FROM nums",
    "SELECT i, i / 7 AS q, i % 7 AS m, abs(i) AS a, CAST(i AS STRING) AS s, i * 2 AS t, i - 3 AS u FROM nums",
    "SELECT sum(d) AS sd, avg(d) AS ad, sum(i) AS si, avg(i) AS ai, min(d) AS mn, max(x) AS mx, count(*) AS n FROM nums",
]


@pytest.fixture(scope="module")
def nums_view(spark):
    spark.createDataFrame(NUMS).createOrReplaceTempView("nums")
    return spark


@pytest.mark.parametrize("sql", NUMBER_STATEMENTS, ids=[f"n{i}" for i in range(len(NUMBER_STATEMENTS))])
def test_numbers_agree(nums_view, sql):
    expected = _normalise(nums_view.sql(sql).toArrow())
    got = run_sql(sql, {"nums": pl.from_arrow(NUMS).lazy()}).collect()
    assert got.schema == expected.schema
    assert _rows(got, False) == _rows(expected, False)


def test_rendered_placeholders_agree(spark_views):
    from kappa.sql.refs import render

    template = ("SELECT d.id, d.name, n.label FROM {df} AS d JOIN {nodes.labels} AS n ON d.id = n.id "
                "WHERE d.name <> '{not a placeholder}'")
    spark_sql = render(template, "t", {"labels": "u"})
    expected = _normalise(spark_views.sql(spark_sql).toArrow())
    polars_sql = render(template, "kappa_df", {"labels": "kappa_node_labels"})
    got = run_sql(polars_sql, {"kappa_df": pl.from_arrow(T).lazy(), "kappa_node_labels": pl.from_arrow(U).lazy()}).collect()
    assert got.schema == expected.schema
    assert _rows(got, False) == _rows(expected, False)
