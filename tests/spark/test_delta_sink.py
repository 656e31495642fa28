"""``kappa_delta_sink`` / ``write_delta_frame`` against ``DeltaWriter.write_arrow``.

Each case writes the same Spark DataFrame to table A through the executors
(:func:`write_delta_frame`) and to table B through ``DeltaWriter.write_arrow(df.toArrow())``
(the test collects; the writer does not) and compares rows, Delta schema, partition columns,
app transaction and the returned row counts.
"""

from __future__ import annotations

import datetime as dt
import inspect
import json
import os
from decimal import Decimal

import pytest

pytestmark = pytest.mark.spark

APP = "app-1"


def _read(path):
    import pyarrow as pa
    import pyarrow.dataset as ds
    from deltalake import DeltaTable

    table = DeltaTable(path)
    schema = pa.schema(table.schema().to_arrow())
    parts = list(table.metadata().partition_columns)
    data = ds.dataset(table.file_uris(), schema=schema, partitioning=ds.partitioning(
        pa.schema([schema.field(p) for p in parts]), flavor="hive") if parts else None).to_table()
    rows = sorted(data.to_pylist(), key=repr)
    return table, schema, parts, rows


class Pair:
    """Table A (kappa_delta_sink) and table B (DeltaWriter) written side by side."""

    def __init__(self, tmp_path, mode="append", partition_by=None, schema_mode="merge"):
        from kappa.delta.writer import DeltaWriter

        self.a, self.b = str(tmp_path / "a"), str(tmp_path / "b")
        self.kw = {"mode": mode, "partition_by": partition_by, "schema_mode": schema_mode}
        self.ref = DeltaWriter(self.b, mode=mode, app_id=APP, partition_by=partition_by, schema_mode=schema_mode)

    def write(self, df, batch_id, **kw):
        from kappa.engines.spark.datasources.delta_sink import write_delta_frame

        args = {**self.kw, **kw}
        got = write_delta_frame(df, table_uri=self.a, app_id=APP, batch_id=batch_id, **args)
        table = df.toArrow()
        expected = table.num_rows if self.ref.write_arrow(table, batch_id) else 0
        assert got == expected
        return got

    def check(self):
        ta, sa, pa_, ra = _read(self.a)
        tb, sb, pb, rb = _read(self.b)
        assert sa == sb
        assert pa_ == pb
        assert ra == rb
        assert ta.transaction_version(APP) == tb.transaction_version(APP)
        return ta, ra


def test_append_twice_and_overwrite(spark, tmp_path):
    pair = Pair(tmp_path)
    df = spark.createDataFrame([(1, "a"), (2, "b")], "id long, s string")
    assert pair.write(df, 0) == 2
    assert pair.write(spark.createDataFrame([(3, "c")], "id long, s string"), 1) == 1
    table, rows = pair.check()
    assert [r["id"] for r in rows] == [1, 2, 3]
    assert table.transaction_version(APP) == 1
    history = table.history(1)[0]
    assert history["kappa.appId"] == APP and history["kappa.batchId"] == "1"
    over = Pair(tmp_path, mode="overwrite")
    over.a, over.b = pair.a, pair.b
    assert over.write(spark.createDataFrame([(9, "z")], "id long, s string"), 2) == 1
    _, rows = over.check()
    assert rows == [{"id": 9, "s": "z"}]


def test_overwrite_schema_overwrite_and_partitioned_overwrite(spark, tmp_path):
    pair = Pair(tmp_path, mode="overwrite", schema_mode="overwrite")
    assert pair.write(spark.createDataFrame([(1, "a", 1.0)], "id long, s string, x double"), 0) == 1
    assert pair.write(spark.createDataFrame([(2, "b")], "id int, s string"), 1) == 1  # column dropped
    _, rows = pair.check()
    assert rows == [{"id": 2, "s": "b"}]
    part = Pair(tmp_path / "p", mode="overwrite", partition_by=["s"])
    df = spark.createDataFrame([(1, "a"), (2, "b")], "id long, s string")
    assert part.write(df, 0) == 2
    assert part.write(df.where("id = 2"), 1) == 1
    _, rows = part.check()
    assert rows == [{"id": 2, "s": "b"}]


def test_partitioned_with_null_partition_value(spark, tmp_path):
    pair = Pair(tmp_path, partition_by=["s", "n"])
    df = spark.createDataFrame(
        [(1, "a b", 1), (2, "x/y=z%", None), (3, None, 3), (4, "a b", 1)], "id long, s string, n int"
    )
    assert pair.write(df, 0) == 4
    table, rows = pair.check()
    assert [r["id"] for r in rows] == [1, 2, 3, 4]
    import pyarrow as pa

    adds = pa.table(table.get_add_actions(flatten=True)).to_pylist()
    assert sorted({a["path"].split("/part-")[0] for a in adds}) == [
        "s=__HIVE_DEFAULT_PARTITION__/n=3", "s=a%2520b/n=1", "s=x%252Fy%253Dz%2525/n=__HIVE_DEFAULT_PARTITION__",
    ]
    assert os.path.isdir(os.path.join(pair.a, "s=a%20b", "n=1"))
    assert sum(a["num_records"] for a in adds) == 4


def test_schema_merge_and_strict_refusal(spark, tmp_path):
    pair = Pair(tmp_path)
    assert pair.write(spark.createDataFrame([(1, "a")], "id long, s string"), 0) == 1
    assert pair.write(spark.createDataFrame([(2, 2.5, "b")], "id long, x double, s string"), 1) == 1
    _, rows = pair.check()
    assert rows == [{"id": 1, "s": "a", "x": None}, {"id": 2, "s": "b", "x": 2.5}]
    assert pair.write(spark.createDataFrame([(3,)], "id int"), 2) == 1  # missing columns, narrower type
    pair.check()

    from kappa.delta.arrow import DeltaWriteError
    from kappa.engines.spark.datasources.delta_sink import write_delta_frame

    strict = tmp_path / "strict"
    write_delta_frame(spark.createDataFrame([(1, "a")], "id long, s string"), table_uri=str(strict),
                      mode="append", app_id=APP, batch_id=0, schema_mode=None)
    with pytest.raises(DeltaWriteError) as info:
        write_delta_frame(spark.createDataFrame([(2, "b", 1.0)], "id long, s string, x double"),
                          table_uri=str(strict), mode="append", app_id=APP, batch_id=1, schema_mode=None)
    assert str(info.value) == (
        f"cannot write Delta table {strict}: Cannot cast schema, number of fields does not match: 3 vs 2"
    )
    from kappa.delta.writer import DeltaWriter

    with pytest.raises(DeltaWriteError) as ref:
        DeltaWriter(str(strict), app_id=APP, schema_mode=None).write_arrow(
            spark.createDataFrame([(2, "b", 1.0)], "id long, s string, x double").toArrow(), 1)
    assert str(ref.value) == str(info.value)
    # an empty append to an existing table is skipped before any schema check, as DeltaWriter does
    empty = spark.createDataFrame([], "id long, s string, x double")
    assert write_delta_frame(empty, table_uri=str(strict), mode="append", app_id=APP, batch_id=1, schema_mode=None) == 0


def test_replayed_batch_writes_nothing(spark, tmp_path):
    pair = Pair(tmp_path)
    df = spark.createDataFrame([(1, "a")], "id long, s string")
    pair.write(df, 5)
    before = len(os.listdir(os.path.join(pair.a, "_delta_log")))
    files = sorted(os.listdir(pair.a))
    assert pair.write(df, 5) == 0
    assert pair.write(df, 3) == 0
    assert len(os.listdir(os.path.join(pair.a, "_delta_log"))) == before
    assert sorted(os.listdir(pair.a)) == files
    pair.check()


def test_null_column_dropped_and_empty_batches(spark, tmp_path):
    from pyspark.sql import functions as F

    pair = Pair(tmp_path)
    empty = spark.createDataFrame([], "id long, s string")
    assert pair.write(empty, 0) == 0  # creates the table with the schema
    table, rows = pair.check()
    assert rows == [] and table.version() == 0
    assert pair.write(empty, 1) == 0  # empty append to an existing table: no commit
    assert table.version() == 0 and _read(pair.a)[0].version() == 0
    df = spark.createDataFrame([(1, "a")], "id long, s string").withColumn("gone", F.lit(None))
    assert pair.write(df, 2) == 1
    _, schema, _, rows = _read(pair.a)
    assert schema.names == ["id", "s"] and rows == [{"id": 1, "s": "a"}]
    pair.check()
    over = Pair(tmp_path, mode="overwrite")
    over.a, over.b = pair.a, pair.b
    assert over.write(empty, 3) == 0
    _, rows = over.check()
    assert rows == []
    assert _read(pair.a)[0].transaction_version(APP) == 3


def test_nested_and_temporal_types(spark, tmp_path):
    import pyarrow as pa

    pair = Pair(tmp_path)
    rows = [
        (1, {"a": 1, "b": "x"}, [1, 2], {"k": 1}, Decimal("1.23"), dt.date(2024, 1, 2),
         dt.datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=dt.timezone.utc), dt.datetime(2024, 5, 6, 7, 8, 9)),
        (2, None, None, None, None, None, None, None),
        (3, {"a": None, "b": "y"}, [], {}, Decimal("-4.50"), dt.date(1999, 12, 31),
         dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc), dt.datetime(2000, 1, 1)),
    ]
    df = spark.createDataFrame(rows, "id long, st struct<a:int,b:string>, li array<long>, m map<string,long>, "
                                     "d decimal(10,2), day date, ts timestamp, ntz timestamp_ntz")
    assert pair.write(df.coalesce(1), 0) == 3
    _, schema, _, got = _read(pair.a)
    pair.check()
    assert schema.field("ts").type == pa.timestamp("us", tz="UTC")
    assert schema.field("ntz").type == pa.timestamp("us")
    assert [r["id"] for r in got] == [1, 2, 3]
    # one file each: the statistics are delta-rs's, value for value
    stats_a, stats_b = _add_stats(pair.a), _add_stats(pair.b)
    assert len(stats_a) == 1 and stats_a == stats_b
    assert stats_a[0]["maxValues"]["ts"] == "2024-01-02T03:04:05.123Z"
    assert stats_a[0]["nullCount"]["st"] == {"a": 2, "b": 1}


def _add_stats(path):
    out = []
    for name in sorted(os.listdir(os.path.join(path, "_delta_log"))):
        if name.endswith(".json"):
            with open(os.path.join(path, "_delta_log", name)) as log:
                for line in log:
                    action = json.loads(line)
                    if "add" in action:
                        out.append(json.loads(action["add"]["stats"]))
    return out


def test_multi_partition_frame_is_one_commit(spark, tmp_path):
    pair = Pair(tmp_path)
    df = spark.range(0, 20000, numPartitions=1).selectExpr("id", "cast(id % 7 as string) as s").repartition(4)
    assert pair.write(df, 0) == 20000
    table, rows = pair.check()
    assert len(rows) == 20000
    assert table.version() == 0
    assert len(table.file_uris()) == 4


def test_writer_path_never_collects():
    from kappa.delta import commit, stats
    from kappa.engines.spark.datasources import delta_sink

    for module in (delta_sink, commit, stats):
        source = inspect.getsource(module)
        for call in ("toArrow(", "collect(", "toPandas(", "createDataFrame(", "toLocalIterator("):
            assert call not in source, (module.__name__, call)


def test_registered(spark):
    from kappa.engines.spark.datasources import data_source_classes
    from kappa.engines.spark.datasources.delta_sink import DeltaSinkDataSource

    assert DeltaSinkDataSource in data_source_classes()
    assert DeltaSinkDataSource.name() == "kappa_delta_sink"


def test_errors_name_the_table_and_cause(spark, tmp_path):
    from kappa.delta.arrow import DeltaWriteError
    from kappa.delta.writer import DeltaWriter
    from kappa.engines.spark.datasources.delta_sink import write_delta_frame

    df = spark.createDataFrame([(1, "a")], "id long, s string")
    afile = tmp_path / "file"
    afile.write_text("x")
    with pytest.raises(DeltaWriteError) as info:
        write_delta_frame(df, table_uri=str(afile), mode="append", app_id=APP, batch_id=0)
    with pytest.raises(DeltaWriteError) as ref:
        DeltaWriter(str(afile), app_id=APP).write_arrow(df.toArrow(), 0)
    assert str(info.value) == str(ref.value) == f"cannot write Delta table {afile}: the path is a file, not a folder"
    # a value the executors cannot cast to the table's type: the Python cause, one line
    table = str(tmp_path / "t")
    write_delta_frame(df, table_uri=table, mode="append", app_id=APP, batch_id=0)
    bad = spark.createDataFrame([("x", "b")], "id string, s string")
    with pytest.raises(DeltaWriteError) as info:
        write_delta_frame(bad, table_uri=table, mode="append", app_id=APP, batch_id=1)
    assert str(info.value).startswith(
        f"cannot write Delta table {table}: column 'id' of type string cannot be stored as int64: "
    )
    assert "\n" not in str(info.value) and "Traceback" not in str(info.value)
    from deltalake import DeltaTable

    on_disk = {n for n in os.listdir(table) if n.endswith(".parquet")}
    assert on_disk == {os.path.basename(u) for u in DeltaTable(table).file_uris()}  # no orphans
    assert DeltaTable(table).version() == 0 and DeltaTable(table).transaction_version(APP) == 0


_SMALL_RESULT = r'''
import sys
from kappa.engines.spark.session import get_or_create_session
from kappa.engines.spark.datasources.delta_sink import write_delta_frame
spark = get_or_create_session(master="local[2]", app_name="kappa-maxresult",
                              conf={"spark.driver.maxResultSize": "1m", "spark.ui.enabled": "false"})
df = spark.range(0, 200000, numPartitions=2).selectExpr("id", "repeat(cast(id as string), 8) as s")
try:
    df.collect()
    print("COLLECTED")
except Exception as exc:
    print("COLLECT REFUSED" if "maxResultSize" in str(exc) else "OTHER " + str(exc)[:200])
print("ROWS", write_delta_frame(df, table_uri=sys.argv[1], mode="append", app_id="a", batch_id=0))
spark.stop()
'''


def test_no_collection_under_small_max_result_size(tmp_path):
    """A frame far bigger than ``spark.driver.maxResultSize=1m``: collecting it fails, the
    sink writes it (own Spark session in a subprocess: the shared one's conf is fixed)."""
    import subprocess
    import sys

    table = tmp_path / "big"
    script = tmp_path / "run.py"
    script.write_text(_SMALL_RESULT)
    env = dict(os.environ, PYTHONPATH=os.getcwd() + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, str(script), str(table)], capture_output=True, text=True, check=False,
                         timeout=300, env=env, cwd=os.getcwd())
    assert "COLLECT REFUSED" in out.stdout, out.stdout + out.stderr[-3000:]
    assert "ROWS 200000" in out.stdout, out.stdout + out.stderr[-3000:]
    data_bytes = sum(f.stat().st_size for f in table.glob("*.parquet"))
    assert data_bytes > 0


def test_storage_options_stay_references_until_used(monkeypatch):
    from kappa.engines.spark.datasources.delta_sink import DeltaSinkWriter

    writer = DeltaSinkWriter({"path": "/t", "mode": "append", "appId": "a", "batchId": "3",
                              "targetSchema": "x", "storage.AWS_SECRET_ACCESS_KEY": "${env.KAPPA_TEST_SECRET}"})
    assert writer.storage == {"aws_secret_access_key": "${env.KAPPA_TEST_SECRET}"}
    monkeypatch.setenv("KAPPA_TEST_SECRET", "s3cr3t")
    assert writer._storage_options() == {"aws_secret_access_key": "s3cr3t"}
