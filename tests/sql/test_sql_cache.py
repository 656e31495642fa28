"""The persistent cache of SQL translations, static-check schemas and step facts (:mod:`kappa.sql.cache`):
a hit gives exactly what sqlglot's path computes, without importing sqlglot; problems, statements
fixing the current time and dtypes outside the explicit list are never cached."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import polars as pl
import pytest

from kappa.sql import cache
from kappa.sql.static_check import check_sql
from kappa.sql.translate import translate_for_polars

REPO = Path(__file__).resolve().parents[2]
SQL = "SELECT id * 2 AS twice, CAST(ts AS TIMESTAMP) AS ts, s.f AS f FROM {df} WHERE id > 1"
SCHEMA = pl.Schema({"id": pl.Int64, "ts": pl.String, "s": pl.Struct({"f": pl.Decimal(12, 2), "g": pl.List(pl.Date)})})


@pytest.fixture
def fresh(tmp_path, monkeypatch):
    monkeypatch.setenv("KAPPA_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("KAPPA_SQL_CACHE", raising=False)
    monkeypatch.setattr(cache, "_MEMO", {})
    return tmp_path


def _entries(root: Path) -> list[Path]:
    return sorted(root.glob("sql/*/*.json"))


def _no_compute(*args, **kwargs):
    raise AssertionError("computed again: the cache missed")


def test_a_translation_is_read_back_as_computed(fresh, monkeypatch):
    schemas = {"t": {"id": "BIGINT", "ts": "STRING"}}
    sql = "SELECT id, CAST(ts AS TIMESTAMP) AS ts FROM t"
    first = cache.translation(sql, schemas, translate_for_polars)
    assert first == translate_for_polars(sql, schemas) and first[1]  # a hoisted cast, too
    monkeypatch.setattr(cache, "_MEMO", {})  # a new process: from the file
    assert cache.translation(sql, schemas, _no_compute) == first
    assert len(_entries(fresh)) == 1


def test_a_clean_step_s_schema_is_read_back_as_computed(fresh, monkeypatch):
    problems, out = check_sql(SQL, SCHEMA, {})
    assert problems == [] and out is not None
    monkeypatch.setattr(cache, "_MEMO", {})
    monkeypatch.setattr("kappa.sql.static_check._check_sql", _no_compute)
    again = check_sql(SQL, SCHEMA, {})
    assert again == ([], out) and repr(again[1]) == repr(out)


def test_problems_time_dependent_sql_and_other_dtypes_are_not_cached(fresh):
    problems, _ = check_sql("SELECT nope AS x FROM {df}", SCHEMA, {})
    assert problems and _entries(fresh) == []
    cache.translation("SELECT current_timestamp() AS now FROM t", {"t": {"id": "BIGINT"}}, translate_for_polars)
    assert _entries(fresh) == []
    enum = pl.Schema({"id": pl.Int64, "k": pl.Enum(["a", "b"])})
    assert check_sql("SELECT id AS id FROM {df}", enum, {})[0] == []
    assert [json.loads(p.read_text())["input"][0] for p in _entries(fresh)] == ["translate"]  # its Spark types only


def test_a_different_schema_or_flag_is_another_entry(fresh, monkeypatch):
    check_sql(SQL, SCHEMA, {})
    other = pl.Schema({**SCHEMA, "id": pl.Int32})
    assert check_sql(SQL, other, {}) == ([], pl.Schema({"twice": pl.Int32, "ts": pl.Datetime("us", "UTC"), "f": pl.Decimal(12, 2)}))
    problems, out = check_sql(SQL, SCHEMA, {}, df_known=False)
    assert out is None and any("no input DataFrame" in p.message for p in problems)


def test_off_writes_nothing_and_a_corrupt_entry_is_a_miss(fresh, monkeypatch):
    monkeypatch.setenv("KAPPA_SQL_CACHE", "off")
    assert check_sql(SQL, SCHEMA, {})[0] == [] and _entries(fresh) == []
    monkeypatch.delenv("KAPPA_SQL_CACHE")
    _, out = check_sql(SQL, SCHEMA, {})
    for entry in _entries(fresh):
        entry.write_text("{not json")
    monkeypatch.setattr(cache, "_MEMO", {})
    assert check_sql(SQL, SCHEMA, {}) == ([], out)
    for entry in _entries(fresh):  # an entry of other input under the same name is a miss, too
        data = json.loads(entry.read_text())
        data["input"][1] = "SELECT 1 AS other"
        entry.write_text(json.dumps(data))
    monkeypatch.setattr(cache, "_MEMO", {})
    assert check_sql(SQL, SCHEMA, {}) == ([], out)


def test_dtypes_round_trip_exactly():
    dtypes = [pl.Boolean(), pl.UInt16(), pl.Float32(), pl.Binary(), pl.Time(), pl.Null(), pl.Datetime("ns"),
              pl.Datetime("us", "Europe/Paris"), pl.Duration("ms"), pl.Decimal(38, 10), pl.List(pl.List(pl.String())),
              pl.Struct({"a": pl.Struct({"b": pl.Int8()}), "c": pl.List(pl.Date())})]
    for dtype in dtypes:
        back = cache._decode(json.loads(json.dumps(cache._encode(dtype))))
        assert back == dtype and repr(back) == repr(dtype)
    for dtype in (pl.Categorical(), pl.Enum(["x"]), pl.Object(), pl.Datetime, pl.Array(pl.Int64, 2)):
        with pytest.raises(TypeError):
            cache._encode(dtype)


def test_a_replay_with_a_warm_cache_imports_no_sqlglot(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.jsonl").write_text('{"id": 1, "ts": "2024-01-02T03:04:05"}\n{"id": 2, "ts": "2024-01-02 03:04:06"}\n')
    yaml = textwrap.dedent(f"""\
        name: cached-sql
        checkpoint_root: {tmp_path}/ck
        nodes:
        - name: slv
          source: {{path: {tmp_path}/in/, format: JSONL}}
          transformer:
            nodes:
            - expr: SELECT id * 2 AS twice, CAST(ts AS TIMESTAMP) AS ts FROM {{df}}
          sinks:
          - {{format: DELTA, path: {tmp_path}/out/TABLE, mode: overwrite}}
        """)
    code = ("import sys, kappa; from kappa.runner import execute_pipeline; "
            "y = sys.stdin.read(); "
            "r = execute_pipeline(kappa.Pipeline.model_validate_yaml(y.replace('TABLE', sys.argv[1])), engine='polars'); "
            "import polars as pl; print(sorted(pl.read_delta(sys.argv[2]).rows()), 'sqlglot' in sys.modules)")
    env = {**os.environ, "KAPPA_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": str(REPO)}
    env.pop("KAPPA_SQL_CACHE", None)
    runs = []
    for name in ("first", "second"):
        done = subprocess.run([sys.executable, "-c", code, name, str(tmp_path / "out" / name)], input=yaml, env=env,
                              capture_output=True, text=True, check=True)
        runs.append(done.stdout.strip())
    rows = "[(2, datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=zoneinfo.ZoneInfo(key='UTC'))), " \
           "(4, datetime.datetime(2024, 1, 2, 3, 4, 6, tzinfo=zoneinfo.ZoneInfo(key='UTC')))]"
    assert runs == [f"{rows} True", f"{rows} False"]


def test_a_step_over_an_unknown_schema_keeps_its_text_check(fresh, monkeypatch):
    """A JSONL source's schema is known only when it runs: the check of the text alone is kept."""
    assert check_sql(SQL, None, {}) == ([], None)
    monkeypatch.setattr(cache, "_MEMO", {})
    monkeypatch.setattr("kappa.sql.static_check._check_sql", _no_compute)
    assert check_sql(SQL, None, {}) == ([], None)
    monkeypatch.undo()
    assert check_sql("SELECT a AS a FROM {df} WHERE", None, {})[0]  # a syntax error: always computed


def test_a_full_directory_loses_its_older_half(fresh, monkeypatch):
    monkeypatch.setattr(cache, "_MAX_ENTRIES", 8)
    folder = cache._folder()
    folder.mkdir(parents=True)
    for n in range(12):
        (folder / f"{n:02d}.json").write_text("{}")
        os.utime(folder / f"{n:02d}.json", (n, n))
    cache._cap(folder)
    assert sorted(p.name for p in folder.glob("*.json")) == [f"{n:02d}.json" for n in range(6, 12)]
