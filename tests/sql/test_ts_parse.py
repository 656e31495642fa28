"""The hoisted string -> timestamp cast (kappa.sql._hoist, kappa.sql._ts_parse): value for value the
cast's result, Spark's on mixed columns, hoisted only where it is safe."""

from __future__ import annotations

import datetime as dt
import functools
import random

import polars as pl
import pytest

from kappa.sql._ts_parse import FAST_FORMATS, _fixed, parse_timestamps
from kappa.sql.polars_exec import run_sql
from kappa.sql.translate import translate_for_polars

UTC = dt.timezone.utc

EDGES = [
    "2024-01-01T10:00:00", "2024-01-01 10:00:00", "2024-1-1T1:2:3", "2024-01-01T1:02:03", "2024-01-01T10:0:00",
    "2024-02-30T00:00:00", "2024-02-29T00:00:00", "2023-02-29T00:00:00", "2024-13-01T10:00:00",
    "2024-01-01T24:00:00", "2024-01-01T23:59:60", "2024-01-01T10:00:00.5", "2024-01-01T10:00:00.123456",
    "2024-01-01T10:00:00.1234567", "2024-01-01T10:00:00.123456789", "2024-01-01T10:00:00.", "2024-01-01T10:00:00Z",
    "2024-01-01T10:00:00+01:00", " 2024-01-01T10:00:00", "2024-01-01T10:00:00 ", "+2024-01-01T10:00:00",
    "02024-01-01T10:00:00", "20240101T100000", "2024-01-01T10:00", "2024-01-01", "0001-01-01T00:00:00",
    "9999-12-31T23:59:59", "10000-01-01T00:00:00", "2024-01-01t10:00:00", "2024-01-01T10:00:00.000000000000",
    "2024-01-01T10:00:00.-5", "2024-01-01T10:00:00\n", "2024-01-01 10:00:00.5Z", "", "abc",
]


def _random_strings(n: int, seed: int) -> list[str]:
    """ISO-like strings: padded or not, T or space, optional fraction and zone, sometimes broken."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        y, mo, d = rng.choice([1, 12, 123, 999, 1000, 1970, 2024, 9999, 2023]), rng.randint(0, 13), rng.randint(0, 32)
        h, mi, s = rng.randint(0, 25), rng.randint(0, 61), rng.randint(0, 61)
        pad = rng.random() < 0.8
        date = f"{y:04d}-{mo:02d}-{d:02d}" if pad else f"{y}-{mo}-{d}"
        time = f"{h:02d}:{mi:02d}:{s:02d}" if pad else f"{h}:{mi}:{s}"
        text = date + rng.choice(["T", " ", "T", "t"]) + time
        if rng.random() < 0.2:
            text += "." + "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 9)))
        if rng.random() < 0.1:
            text += rng.choice(["Z", "+02:00", "-0530", " "])
        out.append(text)
    return out


@functools.lru_cache(maxsize=4)
def _cast_one_by_one(values: tuple[str, ...]) -> list:
    """What the cast without hoisting gives each string on its own (one column per string:
    inference then sees that string only)."""
    frame = pl.DataFrame({f"c{i}": [v] for i, v in enumerate(values)}, schema={f"c{i}": pl.String for i in range(len(values))})
    sql = "SELECT " + ", ".join(f"TRY_CAST(c{i} AS TIMESTAMP) AS c{i}" for i in range(len(values))) + " FROM t"
    from kappa.sql.translate import to_polars_sql

    polars_sql = to_polars_sql(sql, {"t": {c: "STRING" for c in frame.columns}})
    assert "__kappa_ts_" not in polars_sql
    return list(pl.SQLContext(t=frame).execute(polars_sql).collect().row(0))


@pytest.mark.parametrize("fmt", FAST_FORMATS)
@pytest.mark.parametrize("values", [EDGES, _random_strings(600, 11)], ids=["edges", "random"])
def test_the_fixed_formats_give_what_the_cast_gives_each_value_alone(values, fmt):
    expected = _cast_one_by_one(tuple(values))
    got = _fixed(pl.Series("s", values), fmt).to_list()
    taken = [(v, g) for v, g in zip(values, got) if g is not None]
    assert len(taken) >= (50 if len(values) > 100 else 1)  # the check is not vacuous
    assert taken == [(v, e) for v, e, g in zip(values, expected, got) if g is not None]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_column_of_one_form_is_what_the_cast_gives_it(seed):
    """The rest of a column goes through the cast's own inference: on a column of one form
    (fraction or not, T or space, some unparseable), the values are the cast's."""
    rng = random.Random(seed)
    sep, values = rng.choice("T "), []
    for _ in range(2000):
        text = f"{rng.randint(1000, 2999)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}{sep}{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"
        text += rng.choice(["", "", f".{rng.randint(0, 999999)}", "x"])
        values.append(None if rng.random() < 0.05 else text)
    from kappa.sql.translate import to_polars_sql

    old = pl.SQLContext(t=pl.DataFrame({"s": values})).execute(to_polars_sql("SELECT TRY_CAST(s AS TIMESTAMP) AS s FROM t", {"t": {"s": "STRING"}}))
    assert parse_timestamps(pl.Series("s", values), strict=False).to_list() == old.collect()["s"].to_list()


def test_a_column_mixing_forms_parses_every_form_as_spark_does():
    values = ["2024-01-02T03:04:05", None, "2024-01-02T03:04:05+02:00", "2024-01-02 03:04:05.5", "2024-01-03", "2024-01-02T03:04:05Z"]
    got = run_sql("SELECT CAST(s AS TIMESTAMP) AS t FROM t", {"t": pl.LazyFrame({"s": values})}).collect()["t"].to_list()
    assert got == [dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), None, dt.datetime(2024, 1, 2, 1, 4, 5, tzinfo=UTC),
                   dt.datetime(2024, 1, 2, 3, 4, 5, 500000, tzinfo=UTC), dt.datetime(2024, 1, 3, tzinfo=UTC),
                   dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)]


def test_a_strict_cast_still_fails_naming_the_column_and_values():
    frame = pl.LazyFrame({"data": [{"created_at": "2024-01-02T03:04:05"}, {"created_at": "abc"}, {"created_at": "x"}]})
    with pytest.raises(pl.exceptions.PolarsError) as err:
        run_sql("SELECT CAST(data.created_at AS TIMESTAMP) AS t FROM t", {"t": frame}).collect()
    # Polars hands the derived column over in morsels: the count is the failing morsel's
    assert "conversion from `str` to `datetime[μs, UTC]` failed in column 'created_at' for 1 out of " in str(err.value)
    assert '["abc"]' in str(err.value) or '["abc", "x"]' in str(err.value)
    tried = run_sql("SELECT TRY_CAST(data.created_at AS TIMESTAMP) AS t FROM t", {"t": frame}).collect()
    assert tried["t"].to_list() == [dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), None, None]


def test_what_is_hoisted_and_what_is_not():
    schemas = {"df": {"data": "STRUCT<created_at: STRING>", "s": "STRING", "__kappa_ts_0": "INT"}, "u": {"s": "STRING"}}
    sql, derived = translate_for_polars(
        "WITH c AS (SELECT * FROM u) "
        "SELECT CAST(x.data.created_at AS TIMESTAMP) AS a, TRY_CAST(x.s AS TIMESTAMP) AS b, CAST(c.s AS TIMESTAMP) AS d, "
        "CASE WHEN x.s > 'a' THEN CAST(x.s AS TIMESTAMP) END AS e, CAST(x.data.created_at AS TIMESTAMP) AS f "
        "FROM df x JOIN c ON x.s = c.s", schemas)
    assert [(d.table, d.path, d.name, d.strict) for d in derived] == [
        ("df", ("data", "created_at"), "__kappa_ts_1", True), ("df", ("s",), "__kappa_ts_2", False)]
    assert '"x"."__kappa_ts_1" AS "a"' in sql and '"x"."__kappa_ts_1" AS "f"' in sql  # one column per field
    assert 'CAST("c"."s" AS TIMESTAMPTZ) AS "d"' in sql  # a CTE's column: cast in the statement
    assert 'THEN "x"."__kappa_ts_2" END' in sql  # a cast in a CASE branch is a TRY_CAST (see translate)


def test_a_star_never_shows_the_derived_column():
    frame = pl.LazyFrame({"s": ["2024-01-02T03:04:05"], "n": [1]})
    out = run_sql("SELECT *, CAST(s AS TIMESTAMP) AS t FROM t WHERE CAST(s AS TIMESTAMP) > TIMESTAMP '2024-01-01 00:00:00'",
                  {"t": frame}).collect()
    assert out.columns == ["s", "n", "t"]
    assert out.rows() == [("2024-01-02T03:04:05", 1, dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC))]


@pytest.mark.spark
def test_spark_gives_the_same_instants(spark):
    import pyarrow as pa

    values = ["2024-01-02T03:04:05", None, "2024-01-02T03:04:05+02:00", "2024-01-02 03:04:05.5", "2024-01-03",
              "2024-01-02T03:04:05Z", "2024-1-2T3:4:5", "2024-01-02 03:04:05.1234567", "abc"]
    table = pa.table({"s": pa.array(values, pa.string())})
    sql = "SELECT s, TRY_CAST(s AS TIMESTAMP) AS t FROM ts_strings"
    spark.createDataFrame(table.to_pandas()).createOrReplaceTempView("ts_strings")
    expected = pl.from_arrow(spark.sql(sql).toArrow()).rows()
    got = run_sql(sql, {"ts_strings": pl.from_arrow(table).lazy()}).collect().rows()
    assert got == expected
