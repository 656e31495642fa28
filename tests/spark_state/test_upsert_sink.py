"""The Delta upsert sink on Spark: the python profile's deltalake upsert (idempotent per batch id,
null-safe keys, a window struct as a key, no-data batches write nothing, only the files holding
the batch's keys rewritten, partitions and schema evolution through MERGE) and what the jvm
profile builds (delta-spark's jars are not available here: the statement is parsed by Spark and
the calls are checked on a patched session)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from kappa.engines.spark.connectors import upsert


def _frame(spark, rows):
    return spark.createDataFrame(rows, "k STRING, n BIGINT")


def _table(path):
    from deltalake import DeltaTable

    return sorted(DeltaTable(str(path)).to_pyarrow_table().to_pylist(), key=lambda r: (r["k"] is not None, r["k"] or ""))


def test_python_upsert_merges_on_keys_once_per_batch(spark, tmp_path):
    from deltalake import DeltaTable

    path = str(tmp_path / "t")
    assert upsert.python_upsert(_frame(spark, [("a", 1), (None, 2)]), path, ["k"], "app", 0, None) == 2
    assert upsert.python_upsert(_frame(spark, [("a", 5), (None, 7), ("b", 1)]), path, ["k"], "app", 1, None) == 3
    assert _table(path) == [{"k": None, "n": 7}, {"k": "a", "n": 5}, {"k": "b", "n": 1}]  # null keys match
    version = DeltaTable(path).version()
    # a replayed batch and an empty (no-data) batch commit nothing
    assert upsert.python_upsert(_frame(spark, [("a", 99)]), path, ["k"], "app", 1, None) == 0
    assert upsert.python_upsert(_frame(spark, []), path, ["k"], "app", 2, None) == 0
    assert DeltaTable(path).version() == version
    assert _table(path)[1] == {"k": "a", "n": 5}


def test_python_upsert_keys_a_window_struct(spark, tmp_path):
    path = str(tmp_path / "w")
    sql = ("SELECT 'a' AS k, window(CAST('2026-01-01 00:0{m}:00' AS TIMESTAMP), '10 minutes') AS window, {n} AS n")
    upsert.python_upsert(spark.sql(sql.format(m=1, n=1)), path, ["k", "window"], "app", 0, None)
    upsert.python_upsert(spark.sql(sql.format(m=2, n=2)), path, ["k", "window"], "app", 1, None)
    from deltalake import DeltaTable

    got = DeltaTable(path).to_pyarrow_table().to_pylist()
    assert got == [{"k": "a", "window": {"start": datetime(2026, 1, 1, tzinfo=timezone.utc),
                                         "end": datetime(2026, 1, 1, 0, 10, tzinfo=timezone.utc)}, "n": 2}]


def test_python_upsert_rewrites_only_the_files_holding_the_batch_keys(spark, tmp_path, monkeypatch):
    """The engine-neutral upsert (kappa.delta.upsert_files): the first batch is written as sorted
    bounded files, a later batch replaces only the file holding its keys (one commit: one file
    removed, the others kept as they were), with MERGE's rows."""
    from deltalake import DeltaTable

    from kappa.delta import upsert_files

    monkeypatch.setattr(upsert_files, "TARGET_BYTES", 1)  # MIN_ROWS (1,024) rows per file
    path = str(tmp_path / "g")
    first = spark.range(3000).selectExpr("id AS k", "id * 10 AS n")
    assert upsert.python_upsert(first, path, ["k"], "app", 0, None) == 3000
    files = sorted(DeltaTable(path).file_uris())
    assert len(files) == 3  # 3 x 1,000 rows, sorted by k
    batch = spark.createDataFrame([(2500, -1), (2999, -2), (3000, -3)], "k BIGINT, n BIGINT")
    assert upsert.python_upsert(batch, path, ["k"], "app", 1, None) == 3
    table = DeltaTable(path)
    after = set(table.file_uris())
    assert len(after) == 3 and len(after & set(files)) == 2  # the file of keys 2000..2999 rewritten
    assert table.history(1)[0]["operation"] == "WRITE"  # the fast path's commit, not a MERGE
    rows = {r["k"]: r["n"] for r in table.to_pyarrow_table().to_pylist()}
    assert len(rows) == 3001 and (rows[2500], rows[2999], rows[3000], rows[1999]) == (-1, -2, -3, 19990)


def test_python_upsert_partitions_the_first_write_and_evolves_the_schema(spark, tmp_path):
    """``partition_by`` on the first write; a partitioned table takes deltalake's MERGE, which
    adds a new column of the batch (``evolve``)."""
    from deltalake import DeltaTable

    path = str(tmp_path / "p")
    batch = spark.createDataFrame([("a", "x", 1), ("b", "y", 2)], "k STRING, p STRING, n BIGINT")
    assert upsert.python_upsert(batch, path, ["k"], "app", 0, None, ["p"]) == 2
    assert DeltaTable(path).metadata().partition_columns == ["p"]
    wider = spark.createDataFrame([("a", "x", 3, True)], "k STRING, p STRING, n BIGINT, flag BOOLEAN")
    assert upsert.python_upsert(wider, path, ["k"], "app", 1, None, ["p"]) == 1
    table = DeltaTable(path)
    assert table.history(1)[0]["operation"] == "MERGE"
    assert sorted(table.to_pyarrow_table().to_pylist(), key=lambda r: r["k"]) == [
        {"k": "a", "p": "x", "n": 3, "flag": True}, {"k": "b", "p": "y", "n": 2, "flag": None}]


def test_upsert_without_keys_or_with_unknown_keys_is_refused(spark, tmp_path):
    from kappa.errors import ConfigError

    with pytest.raises(ConfigError, match="upsert key"):
        upsert.python_upsert(_frame(spark, [("a", 1)]), str(tmp_path / "x"), ["missing"], "app", 0, None)


def test_jvm_merge_statement_parses():
    sql = upsert.jvm_merge_sql("/data/gold", ["k", "window"], "kappa_upsert_1")
    assert sql == (
        "MERGE WITH SCHEMA EVOLUTION INTO delta.`/data/gold` AS t USING `kappa_upsert_1` AS s "
        "ON t.`k` <=> s.`k` AND t.`window` <=> s.`window` "
        "WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *"
    )
    assert upsert.jvm_merge_sql("/p", ["k"], "v", evolve=False).startswith("MERGE INTO delta.`/p` AS t")


def test_jvm_merge_statement_is_valid_spark_sql(spark):
    parser = spark._jsparkSession.sessionState().sqlParser()
    for evolve in (True, False):
        parser.parsePlan(upsert.jvm_merge_sql("/data/gold", ["k", "window"], "kappa_upsert_1", evolve))


def test_jvm_upsert_runs_the_merge_with_the_app_transaction(spark, tmp_path, monkeypatch):
    """An existing table: MERGE INTO from a temp view of the batch, the txn session settings set
    around it and unset after; a replayed batch is skipped from the Delta log alone."""
    import pyarrow as pa
    from deltalake import write_deltalake

    from kappa.delta.txn import commit_properties
    from kappa.engines.spark.jvm_merge import TXN_APP_CONF, TXN_VERSION_CONF

    path = str(tmp_path / "t")
    write_deltalake(path, pa.table({"k": ["a"], "n": [1]}), commit_properties=commit_properties("app", 3))
    seen = []
    real_sql = spark.sql

    def fake_sql(text, *args, **kwargs):
        if text.startswith("MERGE"):
            seen.append((text, spark.conf.get(TXN_APP_CONF), spark.conf.get(TXN_VERSION_CONF)))
            view = text.split("USING `")[1].split("`")[0]
            return real_sql(f"SELECT count(*) AS num_affected_rows FROM `{view}`")  # MERGE's metrics row
        return real_sql(text, *args, **kwargs)

    monkeypatch.setattr(spark, "sql", fake_sql)
    assert upsert.jvm_upsert(_frame(spark, [("a", 2)]), path, ["k"], "app", 3, None) == 0  # already committed
    assert seen == []
    assert upsert.jvm_upsert(_frame(spark, [("a", 2), ("b", 1)]), path, ["k"], "app", 4, None) == 2
    assert len(seen) == 1 and seen[0][1:] == ("app", "4")
    assert seen[0][0].startswith(f"MERGE WITH SCHEMA EVOLUTION INTO delta.`{path}` AS t USING `kappa_upsert_")
    assert spark.conf.get(TXN_APP_CONF, None) is None


def test_jvm_upsert_creates_the_table_with_an_idempotent_append(spark, tmp_path, monkeypatch):
    import kappa.engines.spark.delta_writer as dw

    calls = []

    def fake_write(df, batch_id, path, mode, app_id, parts, merge):
        df.write.format("noop").mode("overwrite").save()  # runs the observed frame
        calls.append((batch_id, path, mode, app_id, parts, merge))

    monkeypatch.setattr(dw, "jvm_delta_write", fake_write)
    path = str(tmp_path / "new")
    assert upsert.jvm_upsert(_frame(spark, [("a", 1)]), path, ["k"], "app", 0, None) == 1
    assert calls == [(0, path, "append", "app", None, True)]


@pytest.fixture
def executors_only(spark, monkeypatch):
    """Upsert every batch on the executors (no driver budget) and fail any collection of a
    batch's rows on the driver."""
    from pyspark.sql.classic.dataframe import DataFrame

    from kappa.engines.spark.upsert_exec import DRIVER_BYTES_CONF

    def refuse(self, *args, **kwargs):
        raise AssertionError("a batch was collected on the driver")

    for method in ("toArrow", "toPandas", "toLocalIterator"):
        monkeypatch.setattr(DataFrame, method, refuse)
    spark.conf.set(DRIVER_BYTES_CONF, "0")
    yield
    spark.conf.unset(DRIVER_BYTES_CONF)


def test_python_upsert_runs_on_the_executors_with_merge_outcomes(spark, tmp_path, executors_only):
    """An unpartitioned local table: created, then upserted with null and struct keys, without
    a row on the driver; a replay commits nothing; unmatched duplicate keys are inserted (as a
    MERGE does) and a table row matched by two batch rows fails the batch, naming the file."""
    from deltalake import DeltaTable

    from kappa.delta.arrow import DeltaWriteError

    path = str(tmp_path / "x")
    assert upsert.python_upsert(_frame(spark, [("a", 1), (None, 2), ("c", 3)]), path, ["k"], "app", 0, None) == 3
    assert upsert.python_upsert(_frame(spark, [("a", 5), (None, 7), ("d", 1), ("d", 2)]), path, ["k"], "app", 1, None) == 4
    assert sorted(map(str, _table(path))) == sorted(map(str, [
        {"k": None, "n": 7}, {"k": "a", "n": 5}, {"k": "c", "n": 3}, {"k": "d", "n": 1}, {"k": "d", "n": 2}]))
    version = DeltaTable(path).version()
    assert DeltaTable(path).history(1)[0]["operation"] == "WRITE"
    assert upsert.python_upsert(_frame(spark, [("a", 99)]), path, ["k"], "app", 1, None) == 0  # replayed
    with pytest.raises(DeltaWriteError, match=r"upsert batch 2 has several rows with the keys of one table row \(in part-"):
        upsert.python_upsert(_frame(spark, [("a", 8), ("a", 9)]), path, ["k"], "app", 2, None)
    assert DeltaTable(path).version() == version
    assert upsert.python_upsert(_frame(spark, []), path, ["k"], "app", 2, None) == 0  # no-data batch: no commit
    assert DeltaTable(path).version() == version


def test_python_upsert_first_batch_is_sorted_bounded_files(spark, tmp_path, monkeypatch, executors_only):
    """The first batch is range-partitioned by the keys into files of about rows_per_file_of rows,
    each sorted, so a later batch of high keys touches one file."""
    import pyarrow.parquet as pq
    from deltalake import DeltaTable

    from kappa.delta import upsert_files

    monkeypatch.setattr(upsert_files, "TARGET_BYTES", 1)  # MIN_ROWS (1,024) rows per file
    path = str(tmp_path / "s")
    first = spark.range(4000).selectExpr("(3999 - id) AS k", "id AS n").repartition(3)
    assert upsert.python_upsert(first, path, ["k"], "app", 0, None) == 4000
    files = sorted(DeltaTable(path).file_uris())
    ranges = sorted((min(ks), max(ks), ks == sorted(ks)) for ks in (pq.read_table(f).column("k").to_pylist() for f in files))
    assert len(files) == 4 and all(ordered for _, _, ordered in ranges)
    assert all(a[1] < b[0] for a, b in zip(ranges, ranges[1:]))  # disjoint key ranges
    assert upsert.python_upsert(spark.createDataFrame([(3998, -1)], "k BIGINT, n BIGINT"), path, ["k"], "app", 1, None) == 1
    table = DeltaTable(path)
    after = set(table.file_uris())
    # the three files without key 3998 stay; the range partitioner's sampled bounds may leave the
    # touched file with over 1,023 rows, rewritten as two files then
    assert len(after & set(files)) == 3 and len(after) in (4, 5)
    rows = {r["k"]: r["n"] for r in table.to_pyarrow_table().to_pylist()}
    assert len(rows) == 4000 and (rows[3998], rows[3997], rows[0]) == (-1, 2, 3999)


def test_only_a_batch_within_the_driver_budget_is_collected(spark, tmp_path, monkeypatch):
    """``spark.kappa.upsert.driverBytes``: 100 bytes is 3 rows of (k STRING, n BIGINT) at the
    estimated 28 bytes a row: 3 rows are upserted by the driver, 4 by the executors, and the
    driver never holds more than 4 rows of a batch."""
    from pyspark.sql.classic.dataframe import DataFrame

    from kappa.engines.spark import upsert_exec

    seen, ran = [], []
    real_to_arrow, real_write = DataFrame.toArrow, upsert_exec.write

    def to_arrow(self):
        out = real_to_arrow(self)
        seen.append(out.num_rows)
        return out

    monkeypatch.setattr(DataFrame, "toArrow", to_arrow)
    monkeypatch.setattr(upsert_exec, "write", lambda *a, **k: ran.append(1) or real_write(*a, **k))
    spark.conf.set(upsert_exec.DRIVER_BYTES_CONF, "100")
    try:
        path = str(tmp_path / "b")
        assert upsert.python_upsert(_frame(spark, [("a", 1), ("b", 2), ("c", 3)]), path, ["k"], "app", 0, None) == 3
        assert (seen, ran) == ([3], [])
        rows = [("a", 5), ("b", 6), ("d", 7), ("e", 8)]
        assert upsert.python_upsert(_frame(spark, rows), path, ["k"], "app", 1, None) == 4
        assert (seen, ran) == ([3, 4], [1])
    finally:
        spark.conf.unset(upsert_exec.DRIVER_BYTES_CONF)
    assert _table(path) == [{"k": "a", "n": 5}, {"k": "b", "n": 6}, {"k": "c", "n": 3}, {"k": "d", "n": 7}, {"k": "e", "n": 8}]


def test_python_upsert_on_the_executors_keeps_a_partitioned_table(spark, tmp_path, executors_only):
    """Partition values from the Delta log (a space, a slash, null; a date): the files of the
    partitions holding the batch's keys are rewritten with their values, the others kept."""
    from datetime import date

    import polars as pl
    from deltalake import DeltaTable

    path = str(tmp_path / "pt")
    ddl = "k STRING, p STRING, d DATE, n BIGINT"
    first = [("a", "x y", date(2026, 1, 1), 1), ("b", "z/1", date(2026, 1, 1), 2), ("c", None, date(2026, 1, 2), 3),
             ("e", "x y", date(2026, 1, 2), 4)]
    assert upsert.python_upsert(spark.createDataFrame(first, ddl), path, ["k", "p", "d"], "app", 0, None, ["p", "d"]) == 4
    table = DeltaTable(path)
    assert table.metadata().partition_columns == ["p", "d"] and len(table.file_uris()) == 4
    before = set(table.file_uris())
    batch = [("a", "x y", date(2026, 1, 1), 10), ("c", None, date(2026, 1, 2), 30), ("f", "z/1", date(2026, 1, 1), 6)]
    assert upsert.python_upsert(spark.createDataFrame(batch, ddl), path, ["k", "p", "d"], "app", 1, None) == 3
    table = DeltaTable(path)
    assert table.history(1)[0]["operation"] == "WRITE"
    kept = {u.split("/pt/")[1].rsplit("/", 1)[0] for u in set(table.file_uris()) & before}
    # the files holding the keys of a and c are replaced; the other two are kept, but for the
    # table's newest file when small (all four are: new keys fill it) -- which one is newest varies
    assert kept <= {"p=x%20y/d=2026-01-02", "p=z%2F1/d=2026-01-01"} and len(kept) >= 1
    got = pl.read_delta(path).sort("k").rows()
    assert got == [("a", "x y", date(2026, 1, 1), 10), ("b", "z/1", date(2026, 1, 1), 2), ("c", None, date(2026, 1, 2), 30),
                   ("e", "x y", date(2026, 1, 2), 4), ("f", "z/1", date(2026, 1, 1), 6)]
    assert sorted(pl.read_delta(path).columns) == ["d", "k", "n", "p"]
