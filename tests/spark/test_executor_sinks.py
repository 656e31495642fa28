"""kappa_kafka_sink / kappa_file_sink: the executors write exactly what the driver-side
writers (produce_rows, write_files over ``df.toArrow()``) wrote before."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import polars as pl
import pytest

from kappa.config.variables import MissingVariable
from kappa.engines.spark.datasources.file_sink import write_files_frame
from kappa.engines.spark.datasources.kafka_sink import write_kafka_frame
from kappa.files import write_files
from kappa.kafka.writer import KafkaWriteError, produce_rows
from kappa.testing.kafka import conf_for, consume_all

pytestmark = pytest.mark.spark

# Rows with timestamps, decimals, dates, nulls and a nested struct; 3 partitions, no shuffle.
COLUMNS = [
    "id",
    "concat('k', id % 4) AS k",
    "CASE WHEN id % 5 = 0 THEN NULL ELSE concat('v-', id) END AS v",
    "timestamp'2024-03-10 01:30:00' + make_interval(0, 0, 0, 0, id, id, id * 0.25) AS ts",
    "CAST(id * 1.25 - 7 AS DECIMAL(12, 3)) AS d",
    "CASE WHEN id % 3 = 0 THEN NULL ELSE date'2024-02-28' + CAST(id AS INT) END AS day",
    "CASE WHEN id % 7 = 0 THEN NULL ELSE CAST(id AS DOUBLE) / 3 END AS x",
]
NESTED = "named_struct('a', id, 'b', CASE WHEN id % 2 = 0 THEN NULL ELSE 'b' END, 'c', named_struct('t', timestamp'2024-01-01 00:00:00' + make_interval(0, 0, 0, 0, id, 0, 0))) AS s"


@contextlib.contextmanager
def _time_zone(spark, tz: str = "America/New_York"):
    """The executors' Arrow batches carry the session time zone; toArrow() gives UTC."""
    old = spark.conf.get("spark.sql.session.timeZone")
    spark.conf.set("spark.sql.session.timeZone", tz)
    try:
        yield
    finally:
        spark.conf.set("spark.sql.session.timeZone", old)


def _frame(spark, rows: int = 30, partitions: int = 3, nested: bool = True, start: int = 0):
    cols = COLUMNS + ([NESTED] if nested else [])
    return spark.range(start, start + rows, 1, partitions).selectExpr(*cols)


def _spec(bootstrap: str, topic: str, key=None, value=None, options=None):
    return SimpleNamespace(bootstrap_servers=bootstrap, topic=topic, key=key, value=value, options=options or {})


def _records(bootstrap: str, topic: str) -> Counter:
    table = consume_all(bootstrap, topic)
    return Counter(zip(table["key"].to_pylist(), table["value"].to_pylist()))


# ---- Kafka ----------------------------------------------------------------------------------


@pytest.mark.kafka
@pytest.mark.parametrize(
    ("key", "value"),
    [("k", "v"), ("k", None), (None, None), ("id", "s")],
    ids=["key-value", "key-whole-row", "whole-row", "struct-value"],
)
def test_kafka_records_equal_produce_rows(spark, kafka_bootstrap, make_topic, key, value):
    df = _frame(spark)
    assert df.rdd.getNumPartitions() == 3
    executors, driver = make_topic(3), make_topic(3)
    with _time_zone(spark):
        produced = write_kafka_frame(df, _spec(kafka_bootstrap, executors, key, value))
        expected_n = produce_rows(conf_for(kafka_bootstrap), driver, df.toArrow(), key_column=key, value_column=value)
    assert produced == expected_n == 30
    got, expected = _records(kafka_bootstrap, executors), _records(kafka_bootstrap, driver)
    assert sum(got.values()) == 30
    assert got == expected
    if value is None:  # the whole row as JSON: UTC timestamps, decimals as text, nulls, nesting
        rows = {json.loads(v)["id"]: json.loads(v) for (_k, v) in expected}
        one, zero = rows[1], rows[0]
        assert list(one) == ["id", "k", "v", "ts", "d", "day", "x", "s"]
        assert one["ts"].endswith(".250000+00:00") and one["s"]["c"]["t"].endswith(":00+00:00")
        assert (one["d"], one["day"], one["x"], one["s"]["a"], one["s"]["b"]) == ("-5.750", "2024-02-29", 1 / 3, 1, "b")
        assert (zero["v"], zero["day"], zero["x"], zero["s"]["b"]) == (None, None, None, None)


@pytest.mark.kafka
def test_kafka_empty_frame_produces_nothing(spark, kafka_bootstrap, make_topic):
    topic = make_topic(1)
    assert write_kafka_frame(_frame(spark).filter("id < 0"), _spec(kafka_bootstrap, topic, "k", "v")) == 0
    assert consume_all(kafka_bootstrap, topic).num_rows == 0


@pytest.mark.kafka
def test_kafka_delivery_error_fails_the_job_naming_the_topic(spark, kafka_bootstrap, make_topic):
    topic = make_topic(1)
    df = spark.range(0, 4, 1, 2).selectExpr("repeat('x', 5000) AS v")
    with pytest.raises(KafkaWriteError) as info:
        write_kafka_frame(df, _spec(kafka_bootstrap, topic, None, "v", {"message.max.bytes": "1000"}))
    assert str(info.value).startswith(f"produce to topic {topic!r} failed at {topic}: ")
    assert "too large" in str(info.value).lower()
    assert info.value.__cause__ is not None  # raised in a Spark task, brought back by the driver


@pytest.mark.kafka
def test_kafka_secret_references_resolve_on_the_executor(spark, kafka_bootstrap, make_topic):
    topic = make_topic(1)
    name = "KAPPA_TEST_UNSET_SINK_SECRET_9F3"
    assert name not in os.environ
    spec = _spec(kafka_bootstrap, topic, None, "v", {"sasl.password": f"${{env.{name}}}"})
    with pytest.raises(MissingVariable, match=f"environment variable {name} is not set"):
        write_kafka_frame(_frame(spark, 3, 1), spec)


# ---- files ----------------------------------------------------------------------------------


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _both(df, root: Path, name: str, fmt: str, mode: str, batch_id: int) -> int:
    """Write ``df`` with the executor sink under root/spark and write_files under root/polars."""
    rows = write_files_frame(df, str(root / "spark" / name), fmt, mode, batch_id)
    write_files(str(root / "polars" / name), pl.from_arrow(df.toArrow()), fmt, mode, batch_id)
    return rows


@pytest.mark.parametrize("fmt", ["JSONL", "CSV", "PARQUET"])
def test_files_identical_to_write_files(spark, tmp_path, fmt):
    nested = fmt != "CSV"  # CSV has no nested columns
    ext = {"PARQUET": ".parquet", "JSONL": ".jsonl", "CSV": ".csv"}[fmt]
    batches = [_frame(spark, 25, 3, nested, start) for start in (0, 100, 200, 300)]
    with _time_zone(spark):
        # a folder: append, replay of batch 1 (other rows, same file), overwrite, append again
        steps = [(batches[0], "append", 0), (batches[1], "append", 1), (batches[2], "append", 1), (batches[3], "overwrite", 2), (batches[0], "append", 3)]
        layouts = []
        for df, mode, batch_id in steps:
            assert _both(df, tmp_path, "dir", fmt, mode, batch_id) == 25
            spark_tree, polars_tree = _tree(tmp_path / "spark" / "dir"), _tree(tmp_path / "polars" / "dir")
            assert spark_tree == polars_tree
            layouts.append(sorted(spark_tree))
        # a single file, replaced by every batch
        for batch_id, df in enumerate(batches[:2]):
            assert _both(df, tmp_path, f"one{ext}", fmt, "append", batch_id) == 25
            assert (tmp_path / "spark" / f"one{ext}").read_bytes() == (tmp_path / "polars" / f"one{ext}").read_bytes()
        # an empty batch: an empty part file, as write_files writes one
        assert _both(batches[0].filter("id < 0"), tmp_path, "dir", fmt, "append", 4) == 0
        assert _tree(tmp_path / "spark" / "dir") == _tree(tmp_path / "polars" / "dir")
    parts = [f"part-{i:08d}{ext}" for i in range(5)]
    assert layouts == [parts[:1], parts[:2], parts[:2], parts[2:3], parts[2:4]]
    assert sorted(_tree(tmp_path / "spark")) == [f"dir/{p}" for p in [parts[2], parts[3], parts[4]]] + [f"one{ext}"]
    back = pl.read_parquet(tmp_path / "spark" / "dir" / parts[3]) if fmt == "PARQUET" else None
    if back is not None:
        assert back["id"].to_list() == list(range(25))


def test_files_four_partitions_one_part_file_per_batch(spark, tmp_path):
    out = tmp_path / "out"
    for batch_id in range(3):
        df = spark.range(batch_id * 1000, batch_id * 1000 + 1000, 1, 4).selectExpr("id", "id * 2 AS twice")
        assert df.rdd.getNumPartitions() == 4
        assert write_files_frame(df, str(out), "PARQUET", "append", batch_id) == 1000
    assert sorted(p.name for p in out.iterdir()) == [f"part-{i:08d}.parquet" for i in range(3)]
    for batch_id in range(3):
        ids = pl.read_parquet(out / f"part-{batch_id:08d}.parquet")["id"].to_list()
        assert ids == list(range(batch_id * 1000, batch_id * 1000 + 1000))  # in partition order


# ---- nothing passes through the driver ------------------------------------------------------

_SMALL_DRIVER = textwrap.dedent(
    """
    import sys
    from types import SimpleNamespace
    from kappa.engines.spark.session import get_or_create_session
    from kappa.engines.spark.datasources.file_sink import write_files_frame
    from kappa.engines.spark.datasources.kafka_sink import write_kafka_frame

    bootstrap, topic, out = sys.argv[1:4]
    spark = get_or_create_session(master="local[2]", conf={"spark.driver.maxResultSize": "1m"})
    df = spark.range(0, 4000, 1, 4).selectExpr("id", "repeat(uuid(), 40) AS pad")  # ~6 MB
    try:
        df.toArrow()
    except Exception as exc:
        assert "maxResultSize" in str(exc), exc
    else:
        raise AssertionError("collecting the frame should exceed spark.driver.maxResultSize")
    spec = SimpleNamespace(bootstrap_servers=bootstrap, topic=topic, key="id", value=None, options={})
    print("kafka", write_kafka_frame(df, spec))
    print("files", write_files_frame(df, out, "JSONL", "append", 7))
    spark.stop()
    """
)


@pytest.mark.kafka
def test_sinks_write_more_than_max_result_size(kafka_bootstrap, make_topic, tmp_path):
    topic = make_topic(2)
    script = tmp_path / "small_driver.py"
    script.write_text(_SMALL_DRIVER)
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]), SPARK_LOCAL_IP="127.0.0.1")
    run = subprocess.run([sys.executable, str(script), kafka_bootstrap, topic, str(tmp_path / "out")], check=False, capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.split() == ["kafka", "4000", "files", "4000"]
    assert consume_all(kafka_bootstrap, topic).num_rows == 4000
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["part-00000007.jsonl"]
    assert pl.read_ndjson(tmp_path / "out" / "part-00000007.jsonl").height == 4000


def test_file_sink_refuses_a_batch_written_by_several_tasks(spark, tmp_path):
    df = spark.range(0, 10, 1, 2)
    writer = df.write.format("kappa_file_sink").options(path=str(tmp_path / "out"), format="JSONL", batchId="0")
    with pytest.raises(Exception, match="2 tasks wrote batch 0; coalesce the frame to one partition"):
        writer.mode("append").save()
