"""A stateful query on a local master starts with as many state stores as local cores (not
kappa's default of 4 shuffle partitions), pinned by its checkpoint; a pipeline's own
``spark.sql.shuffle.partitions`` wins (:func:`kappa.engines.spark.stateful.state_partitions`)."""

from __future__ import annotations

import json

from kappa.engines.spark.stateful import SHUFFLE_PARTITIONS, state_partitions
from tests.spark_state.helpers import commit, node_yaml, pipeline, rows

GROUP = "expr: SELECT k, count(*) AS n, sum(v) AS s FROM {{df}} GROUP BY k"


def _offsets_conf(root) -> str:
    [first] = sorted(root.glob("ck/**/spark/offsets/0"))
    return json.loads(first.read_text().splitlines()[1])["conf"][SHUFFLE_PARTITIONS]


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
