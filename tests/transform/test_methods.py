"""DataFrame method steps on Polars (lazy and eager) and Spark give the same rows."""

from __future__ import annotations

import polars as pl
import pyarrow as pa
import pytest

from kappa.errors import KappaError
from kappa.transform.methods import MethodArgumentError, UnknownMethod, allowed_methods, apply_method

DATA = pa.table(
    {
        "id": pa.array([1, 1, 2, 3, None, 3], pa.int64()),
        "grp": pa.array(["a", "a", "b", "c", "d", "c"]),
        "val": pa.array([10.0, 10.0, 20.0, 30.0, None, 31.0]),
        "tags": pa.array([["x", "y"], ["x", "y"], ["z"], [], None, ["w"]], pa.list_(pa.string())),
    }
)


@pytest.fixture(params=["polars", "polars-eager", pytest.param("spark", marks=pytest.mark.spark)])
def backend(request):
    """The frame a method step applies to (a lazy or eager Polars frame, a Spark DataFrame)."""
    return request.param


def _native(backend, request):
    if backend == "spark":
        spark = request.getfixturevalue("spark")
        return spark.createDataFrame(DATA)
    df = pl.from_arrow(DATA)
    return df if backend == "polars-eager" else df.lazy()


def _collect(out) -> pl.DataFrame:
    if isinstance(out, pl.LazyFrame):
        return out.collect()
    if isinstance(out, pl.DataFrame):
        return out
    return pl.from_arrow(out.toArrow())


def _sorted_rows(df: pl.DataFrame) -> list:
    return sorted(df.rows(), key=repr)


SCHEMA = pl.Schema({"id": pl.Int64, "grp": pl.String, "val": pl.Float64, "tags": pl.List(pl.String)})

CASES = [
    ("select", ["grp", "id"], {}, {"rows": [("a", 1), ("a", 1), ("b", 2), ("c", 3), ("c", 3), ("d", None)]}),
    ("select", [["id"]], {}, {"columns": ["id"]}),
    ("drop", ["tags", "val"], {}, {"columns": ["id", "grp"]}),
    ("rename", [{"grp": "group"}], {}, {"columns": ["id", "group", "val", "tags"]}),
    ("withColumnRenamed", ["grp", "g"], {}, {"columns": ["id", "g", "val", "tags"]}),
    ("with_columns", [], {"id2": "id"}, {"columns": ["id", "grp", "val", "tags", "id2"]}),
    ("filter", [], {"grp": "c"}, {"rows": [(3, "c", 30.0, []), (3, "c", 31.0, ["w"])]}),
    ("drop_nulls", [], {}, {"count": 5}),
    ("dropna", [], {"subset": ["val"]}, {"count": 5}),
    ("unique", [], {}, {"count": 5}),
    ("drop_duplicates", [], {}, {"count": 5}),
    # keep='any': the duplicates are identical outside the subset too, so every engine gives this set
    ("unique", [], {"subset": ["id", "grp", "val"]}, {"schema": SCHEMA, "rows": [
        (1, "a", 10.0, ["x", "y"]), (2, "b", 20.0, ["z"]), (3, "c", 30.0, []), (3, "c", 31.0, ["w"]), (None, "d", None, None)]}),
    ("unique", [], {"subset": ["id", "grp"], "keep": "none"}, {"rows": [(2, "b", 20.0, ["z"]), (None, "d", None, None)]}),
    ("unique", [], {"subset": "grp", "keep": "first", "order_by": "val"},
     {"rows": [(1, "a", 10.0, ["x", "y"]), (2, "b", 20.0, ["z"]), (3, "c", 30.0, []), (None, "d", None, None)]}),
    ("unique", [], {"subset": "grp", "keep": "last", "order_by": ["val"]}, {"count": 4, "has": (3, "c", 31.0, ["w"])}),
    ("sort", ["val"], {"descending": True, "nulls_last": True}, {"ordered": [31.0, 30.0, 20.0, 10.0, 10.0, None]}),
    ("orderBy", [["grp", "val"]], {"descending": [False, True]}, {"ordered": [10.0, 10.0, 20.0, 31.0, 30.0, None]}),
    ("head", [0], {}, {"count": 0}),
    ("with_row_index", [], {"name": "rn", "order_by": ["grp", "val"]}, {"columns": ["rn", "id", "grp", "val", "tags"]}),
    ("explode", ["tags"], {}, {"count": 8}),  # an empty list and a null list give one null row each
    ("unpivot", [], {"on": ["val"], "index": ["grp"]}, {"columns": ["grp", "variable", "value"], "count": 6}),
]


@pytest.mark.parametrize("method,args,kwargs,expect", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_method(backend, request, method, args, kwargs, expect):
    native = _native(backend, request)
    out = apply_method(native, method, args, kwargs)
    assert type(out) is type(native)
    df = _collect(out)
    if "rows" in expect:
        assert _sorted_rows(df) == sorted(expect["rows"], key=repr)
    if "columns" in expect:
        assert df.columns == expect["columns"]
    if "count" in expect:
        assert df.height == expect["count"]
    if "has" in expect:
        assert expect["has"] in df.rows()
    if "ordered" in expect:
        assert df["val"].to_list() == expect["ordered"]
    if "schema" in expect:
        assert df.schema == expect["schema"]


def test_engines_agree_on_schema(spark):
    for method, args, kwargs, _ in CASES:
        a = _collect(apply_method(pl.from_arrow(DATA).lazy(), method, args, kwargs))
        b = _collect(apply_method(spark.createDataFrame(DATA), method, args, kwargs))
        assert a.schema == b.schema, method


def test_unknown_method_lists_allowed():
    with pytest.raises(UnknownMethod, match="allowed: .*drop_duplicates.*unique") as info:
        apply_method(pl.from_arrow(DATA).lazy(), "to_pandas")
    assert isinstance(info.value, KappaError)
    assert "select" in allowed_methods()


@pytest.mark.parametrize(
    "method,args,kwargs,message",
    [
        ("select", [], {}, "select: give at least one column"),
        ("select", [1], {}, "select: column names must be strings"),
        ("rename", ["grp"], {}, "rename: mapping"),
        ("unique", [], {"keep": "sometimes"}, "unique: keep must be"),
        ("unique", [], {"keep": "first"}, "unique: keep='first' needs order_by"),
        ("unique", [], {"bogus": 1}, "unique: .*bogus"),
        ("head", ["5"], {}, "head: n must be"),
        ("with_row_index", [], {}, "with_row_index: order_by is required"),
        ("filter", [], {"grp": None}, "filter: grp"),
        ("sort", ["nope"], {}, "sort: .*nope"),
        ("drop", ["nope"], {}, "drop: unknown column"),
    ],
)
def test_bad_arguments_name_the_method(method, args, kwargs, message):
    with pytest.raises(MethodArgumentError, match=message):
        out = apply_method(pl.from_arrow(DATA).lazy(), method, args, kwargs)
        out.collect()
