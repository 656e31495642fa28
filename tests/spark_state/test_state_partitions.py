"""A stateful query on a local master starts with as many state stores as local cores (not
kappa's default of 4 shuffle partitions) and with RocksDB's state store (changelog
checkpointing), both pinned by its checkpoint; a pipeline's own ``spark.sql.shuffle.partitions``
or state store provider wins (:func:`kappa.engines.spark.stateful.state_partitions`,
:func:`~kappa.engines.spark.stateful.state_store`)."""

from __future__ import annotations

import json

from kappa.engines.spark.stateful import CHANGELOG, ROCKSDB_PROVIDER, SHUFFLE_PARTITIONS, STATE_PROVIDER, state_partitions, state_store
from tests.spark_state.helpers import commit, node_yaml, pipeline, rows

GROUP = "expr: SELECT k, count(*) AS n, sum(v) AS s FROM {{df}} GROUP BY k"


HDFS_PROVIDER = "org.apache.spark.sql.execution.streaming.state.HDFSBackedStateStoreProvider"


def _offsets_conf(root, key: str = SHUFFLE_PARTITIONS, batch: int = 0) -> str:
    [first] = sorted(root.glob(f"ck/**/spark/offsets/{batch}"))
    return json.loads(first.read_text().splitlines()[1])["conf"][key]


def test_state_partitions_follow_the_local_cores_unless_the_pipeline_sets_them(spark):
    assert spark.conf.get(SHUFFLE_PARTITIONS) == "4" and spark.sparkContext.defaultParallelism == 2
    assert state_partitions(spark) == 2
    spark.conf.set(SHUFFLE_PARTITIONS, "3")  # the pipeline's own number
    try:
        assert state_partitions(spark) is None
    finally:
        spark.conf.set(SHUFFLE_PARTITIONS, "4")


def test_a_stateful_query_keeps_two_state_stores_across_runs(spark, tmp_path):
    from kappa.engines.spark.engine import SparkEngine
    from kappa.plan import build_plan

    pl = pipeline(tmp_path, [node_yaml("agg", [GROUP], "upsert", "update")])
    plan = build_plan(pl)
    commit(tmp_path / "src", [("a", 1, 1), ("b", 2, 2), ("c", 3, 3)])
    assert SparkEngine(spark=spark, profile="python").run(pl, plan).ok
    assert spark.conf.get(SHUFFLE_PARTITIONS) == "4"  # the session's setting is back
    assert _offsets_conf(tmp_path) == "2"
    assert _offsets_conf(tmp_path, STATE_PROVIDER) == ROCKSDB_PROVIDER
    assert spark.conf.get(STATE_PROVIDER, None) is None  # the session names no provider again
    [state] = tmp_path.glob("ck/**/spark/state/0")
    assert sorted(p.name for p in state.iterdir() if p.is_dir() and p.name.isdigit()) == ["0", "1"]
    commit(tmp_path / "src", [("a", 4, 10), ("d", 5, 1)])
    spark.conf.set(SHUFFLE_PARTITIONS, "3")  # a restart keeps the checkpoint's number
    try:
        assert SparkEngine(spark=spark, profile="python").run(pl, plan).ok
    finally:
        spark.conf.set(SHUFFLE_PARTITIONS, "4")
    assert sorted(p.name for p in state.iterdir() if p.is_dir() and p.name.isdigit()) == ["0", "1"]
    assert rows(tmp_path / "agg", "k", "n", "s") == [("a", 2, 11), ("b", 1, 2), ("c", 1, 3), ("d", 1, 1)]


def test_state_store_is_rocksdb_unless_the_session_names_a_provider(spark):
    assert state_store(spark) == {STATE_PROVIDER: ROCKSDB_PROVIDER, CHANGELOG: "true"}
    spark.conf.set(STATE_PROVIDER, HDFS_PROVIDER)  # the pipeline's own provider
    try:
        assert state_store(spark) == {}
    finally:
        spark.conf.unset(STATE_PROVIDER)


def test_a_checkpoint_keeps_its_state_store_provider(spark, tmp_path):
    """A checkpoint started with Spark's default (HDFS-backed) provider, as before kappa chose
    RocksDB, keeps it on a restart: the state carries over (counts add up)."""
    from kappa.engines.spark.engine import SparkEngine
    from kappa.plan import build_plan

    pl = pipeline(tmp_path, [node_yaml("agg", [GROUP], "upsert", "update")])
    plan = build_plan(pl)
    commit(tmp_path / "src", [("a", 1, 1), ("b", 2, 2)])
    spark.conf.set(STATE_PROVIDER, HDFS_PROVIDER)
    try:
        assert SparkEngine(spark=spark, profile="python").run(pl, plan).ok
    finally:
        spark.conf.unset(STATE_PROVIDER)
    commit(tmp_path / "src", [("a", 3, 10)])
    assert SparkEngine(spark=spark, profile="python").run(pl, plan).ok
    assert _offsets_conf(tmp_path, STATE_PROVIDER, 1) == HDFS_PROVIDER
    assert rows(tmp_path / "agg", "k", "n", "s") == [("a", 2, 11), ("b", 1, 2)]
