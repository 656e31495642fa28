"""DeltaBatchWriter on real Delta tables: idempotent micro-batches, delta-spark's schema rules."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest
from deltalake import DeltaTable

from kappa.delta.read import read_delta
from kappa.engines.spark.delta_writer import DeltaBatchWriter
from kappa.errors import ConfigError

pytestmark = pytest.mark.spark


def _table(n: int, start: int = 0) -> pa.Table:
    return pa.table({"id": pa.array(range(start, start + n), pa.int64())})


def test_same_batch_id_twice_commits_once(tmp_path):
    writer = DeltaBatchWriter(str(tmp_path / "t"), mode="append", app_id="q1")
    assert writer.committed_version() is None
    assert writer.write_arrow(_table(3), 0) is True
    assert writer.write_arrow(_table(3), 0) is False  # replayed batch: nothing written
    assert writer.write_arrow(_table(2, 3), 1) is True
    assert writer.write_arrow(_table(2, 3), 1) is False
    table = DeltaTable(str(tmp_path / "t"))
    assert table.version() == 1
    assert table.transaction_version("q1") == 1
    assert sorted(read_delta(table.table_uri)["id"].to_pylist()) == [0, 1, 2, 3, 4]
    history = table.history()
    assert [h.get("kappa.batchId") for h in history] == ["1", "0"]
    # Another query (app id) writing the same table keeps its own batch numbering.
    other = DeltaBatchWriter(str(tmp_path / "t"), app_id="q2")
    assert other.write_arrow(_table(1, 100), 0) is True
    assert DeltaTable(str(tmp_path / "t")).transaction_version("q2") == 0


def test_overwrite_mode_and_empty_batches(tmp_path):
    uri = str(tmp_path / "t")
    writer = DeltaBatchWriter(uri, mode="overwrite", app_id="o")
    writer.write_arrow(_table(5), 0)
    writer.write_arrow(_table(2, 10), 1)
    assert sorted(read_delta(uri)["id"].to_pylist()) == [10, 11]
    writer.write_arrow(_table(0), 2)  # an empty overwrite empties the table
    assert read_delta(uri).num_rows == 0
    appender = DeltaBatchWriter(uri, mode="append", app_id="a")
    version = DeltaTable(uri).version()
    assert appender.write_arrow(_table(0), 0) is False  # empty append: no commit
    assert DeltaTable(uri).version() == version
    with pytest.raises(ConfigError):
        DeltaBatchWriter(uri, mode="merge")


def test_foreach_batch_call_writes_delta_spark_schema(spark, tmp_path):
    uri = str(tmp_path / "t")
    df = spark.sql(
        """SELECT CAST(1 AS BIGINT) AS id, 'x' AS name, TIMESTAMP'2024-01-02 03:04:05.123456' AS ts,
                  DATE'2024-01-02' AS d, CAST(1.5 AS DECIMAL(10,2)) AS amount,
                  array('a', 'b') AS tags, map('k', 1) AS attrs, named_struct('a', 1) AS s,
                  NULL AS nothing"""
    )
    writer = DeltaBatchWriter(uri, app_id="spark-q", partition_by=["name"])
    writer(df, 0)
    writer(df, 0)
    table = DeltaTable(uri)
    assert table.version() == 0
    assert table.metadata().partition_columns == ["name"]
    fields = {f["name"]: f for f in json.loads(table.schema().to_json())["fields"]}
    assert list(fields) == ["id", "name", "ts", "d", "amount", "tags", "attrs", "s"]
    # delta-spark stores the DataFrame schema asNullable (arrays and maps too).
    assert all(f["nullable"] for f in fields.values())
    assert {k: f["type"] for k, f in fields.items() if isinstance(f["type"], str)} == {
        "id": "long",
        "name": "string",
        "ts": "timestamp",
        "d": "date",
        "amount": "decimal(10,2)",
    }
    tags = {"type": "array", "elementType": "string", "containsNull": True}
    assert fields["tags"]["type"] == tags
    row = read_delta(table.table_uri).to_pylist()[0]
    assert row["ts"].isoformat() == "2024-01-02T03:04:05.123456+00:00"
    assert row["attrs"] == [("k", 1)] and row["s"] == {"a": 1}
