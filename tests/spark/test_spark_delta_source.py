"""kappa_delta on real Delta tables: batch reads, streams over versions, change commits."""

from __future__ import annotations

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from kappa.delta.read import read_delta
from kappa.engines.spark.datasources.readers import build_delta_read
from kappa.engines.spark.delta_writer import DeltaBatchWriter

pytestmark = pytest.mark.spark


def _append(uri: str, ids: list[int], part: str = "a", mode: str = "append") -> None:
    data = pa.table({"id": pa.array(ids, pa.int64()), "p": [part] * len(ids)})
    write_deltalake(uri, data, mode=mode, partition_by=["p"])


def _ids(uri: str) -> list[int]:
    return sorted(read_delta(uri)["id"].to_pylist())


def _run_stream(spark, source: str, sink: str, checkpoint: str, **options):
    stream = build_delta_read(spark, "python", source, options)
    query = (
        stream.writeStream.foreachBatch(DeltaBatchWriter(sink, app_id="copy"))
        .option("checkpointLocation", checkpoint)
        .trigger(availableNow=True)
        .start()
    )
    query.awaitTermination()
    # Rows per micro-batch that read data (an idle trigger reports a progress of 0 rows).
    return [p["numInputRows"] for p in query.recentProgress if p["numInputRows"]]


def test_batch_read_latest_and_version_as_of(spark, tmp_path):
    uri = str(tmp_path / "src")
    _append(uri, [1, 2], "a")
    _append(uri, [3], "b/c d")
    df = spark.read.format("kappa_delta").load(uri)
    assert df.schema.simpleString() == "struct<id:bigint,p:string>"
    assert sorted((r.id, r.p) for r in df.collect()) == [(1, "a"), (2, "a"), (3, "b/c d")]
    old = spark.read.format("kappa_delta").option("versionAsOf", 0).load(uri)
    assert sorted(r.id for r in old.collect()) == [1, 2]
    with pytest.raises(Exception, match="timestampAsOf"):
        spark.read.format("kappa_delta").option("timestampAsOf", "2024-01-01").load(uri)


def test_stream_snapshot_then_new_versions_with_restart(spark, tmp_path):
    src, sink, ckpt = (str(tmp_path / n) for n in ("src", "sink", "ckpt"))
    _append(src, [1, 2], "a")
    _append(src, [3], "b")
    _append(src, [4], "c")
    # Snapshot of version 2 has three files: one file per micro-batch.
    assert _run_stream(spark, src, sink, ckpt, maxFilesPerTrigger=1) == [2, 1, 1]
    assert _ids(sink) == [1, 2, 3, 4]
    _append(src, [5, 6], "a")
    _append(src, [7], "d")
    # Restart from the checkpoint: only the two new commits, in one micro-batch.
    assert _run_stream(spark, src, sink, ckpt) == [3]
    assert _ids(sink) == [1, 2, 3, 4, 5, 6, 7]
    assert _run_stream(spark, src, sink, ckpt) == []
    assert DeltaTable(sink).transaction_version("copy") == 3


def test_starting_version_reads_changes_from_that_commit(spark, tmp_path):
    src, sink, ckpt = (str(tmp_path / n) for n in ("src", "sink", "ckpt"))
    for i in range(4):
        _append(src, [i], "a")
    # maxBytesPerTrigger is a soft limit: at least one file per micro-batch.
    assert _run_stream(spark, src, sink, ckpt, startingVersion=2, maxBytesPerTrigger="1b") == [1, 1]
    assert _ids(sink) == [2, 3]
    latest_sink, latest_ckpt = str(tmp_path / "s2"), str(tmp_path / "c2")
    assert _run_stream(spark, src, latest_sink, latest_ckpt, startingVersion="latest") == []
    _append(src, [9], "a")
    _run_stream(spark, src, latest_sink, latest_ckpt, startingVersion="latest")
    assert _ids(latest_sink) == [9]


def test_change_commits_fail_unless_skipped(spark, tmp_path):
    src = str(tmp_path / "src")
    _append(src, [1, 2], "a")
    _append(src, [3], "b")
    DeltaTable(src).delete("id = 1")  # version 2 rewrites a file
    _append(src, [4], "c")
    with pytest.raises(Exception, match="skipChangeCommits"):
        _run_stream(spark, src, str(tmp_path / "s1"), str(tmp_path / "c1"), startingVersion=0)
    sink = str(tmp_path / "s2")
    _run_stream(
        spark, src, sink, str(tmp_path / "c2"), startingVersion=0, skipChangeCommits=True
    )
    assert _ids(sink) == [1, 2, 3, 4]
    # ignoreDeletes skips commits that only delete (a whole partition), not rewrites.
    only_deletes = str(tmp_path / "src2")
    _append(only_deletes, [1], "a")
    _append(only_deletes, [2], "b")
    DeltaTable(only_deletes).delete("p = 'a'")
    _append(only_deletes, [3], "c")
    sink3 = str(tmp_path / "s3")
    _run_stream(
        spark, only_deletes, sink3, str(tmp_path / "c3"), startingVersion=0, ignoreDeletes=True
    )
    assert _ids(sink3) == [1, 2, 3]


def test_stream_over_an_added_column_reads_nulls_for_older_files(spark, tmp_path):
    src, sink, ckpt = (str(tmp_path / n) for n in ("src", "sink", "ckpt"))
    write_deltalake(src, pa.table({"id": pa.array([1], pa.int64())}))
    wider = pa.table({"id": pa.array([2], pa.int64()), "extra": ["x"]})
    write_deltalake(src, wider, mode="append", schema_mode="merge")
    _run_stream(spark, src, sink, ckpt, startingVersion=0)
    rows = sorted(read_delta(sink).to_pylist(), key=lambda r: r["id"])
    assert rows == [{"id": 1, "extra": None}, {"id": 2, "extra": "x"}]
