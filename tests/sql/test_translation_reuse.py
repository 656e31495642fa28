"""The static check translates a ``{df}``-only SQL step as the replay renders it, so the replay's
run of the step finds the translation in the cache (one sqlglot translation per step, issue 14)."""

from __future__ import annotations

import polars as pl

from kappa.sql.polars_exec import run_sql
from kappa.sql.refs import render
from kappa.sql.static_check import check_sql
from kappa.sql.translate import _translate_cached


def test_the_replay_reuses_the_static_checks_translation(monkeypatch):
    monkeypatch.setenv("KAPPA_SQL_CACHE", "off")  # this process's cache of translations (the disk's: test_sql_cache)
    sql = "SELECT id * 2 AS twice, UPPER(name) AS name FROM {df} WHERE id > 17"
    schema = pl.Schema({"id": pl.Int64, "name": pl.String})
    problems, out = check_sql(sql, schema, {})
    assert (problems, out) == ([], pl.Schema({"twice": pl.Int64, "name": pl.String}))
    before = _translate_cached.cache_info()
    frame = run_sql(render(sql, "__kappa_df", {}), {"__kappa_df": pl.LazyFrame({"id": [17, 18], "name": ["a", "b"]})})
    after = _translate_cached.cache_info()
    assert (after.hits - before.hits, after.misses - before.misses) == (1, 0)
    assert frame.collect().to_dicts() == [{"twice": 36, "name": "B"}]


def test_a_problem_found_running_the_step_reads_as_before():
    problems, out = check_sql("SELECT SUM(name) AS s FROM {df}", pl.Schema({"id": pl.Int64, "name": pl.String}), {})
    assert out is None
    assert [p.render() for p in problems] == [
        "the SQL step cannot run on Polars: InvalidOperationError: `sum` operation not supported for dtype `str`"]
