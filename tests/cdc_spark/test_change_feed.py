"""A plain change feed (``id, seq, op, a, b`` with ``op`` in I/U/D) from a Kafka topic (JSON)
or from JSONL files, through one node with Delta MERGE sinks (SCD1, SCD2, ignore-null and
tracked-column variants), in two runs: the Spark and the Polars engine write identical tables
(rows and schema), each equal to the oracle's. On Kafka the first micro-batch holds only
undecodable records: they become dead letters on both engines, and the MERGE sinks get an
empty batch. A third run with no new input changes no Delta
version (targets and their CDC state tables).
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable

from kappa.kafka.writer import produce_table
from kappa.runner import execute_pipeline
from kappa.testing.kafka import produce

from .cdc_spark_util import (
    ALL_SINKS,
    SCD1,
    assert_tables,
    feed_records,
    merge_pipeline,
    table_rows,
    write_jsonl,
)

pytestmark = pytest.mark.spark


def _up(i: int, seq: int, a, b) -> dict:
    return {"id": i, "seq": seq, "op": "upsert", "a": a, "b": b}


def _del(i: int, seq: int) -> dict:
    return {"id": i, "seq": seq, "op": "delete", "a": None, "b": None}


#: Two parts of a change feed with every awkward case AUTO CDC has to get right.
PART1 = [
    _up(1, 1, 10, "x"),
    _up(2, 1, 20, "y"),
    _up(1, 3, 11, "x"),
    _up(1, 2, 99, "z"),   # out of order: older than the update before it
    _del(3, 5),           # delete of a key never seen
    _up(3, 4, 30, "w"),   # ... whose older insert arrives after the delete
    _up(2, 1, 20, "y"),   # exact duplicate
    _up(4, 1, 40, "v"),
]
PART2 = [
    _up(4, 2, None, "u"),  # null update
    _del(2, 2),
    _up(2, 3, 21, "y2"),   # re-insert after the delete
    _up(5, 7, 50, "t"),
    _up(5, 7, 51, "t"),    # same-sequence tie: the later arrival wins
    _up(1, 3, 11, "x"),    # duplicate re-delivered in a later run
    _up(4, 3, 41, None),
]
EVENTS = PART1 + PART2


def _versions(root: Path) -> dict[str, int]:
    """Delta version of every table under ``root`` (targets and CDC state tables)."""
    return {p.parent.name: DeltaTable(str(p.parent)).version() for p in sorted(root.glob("*/_delta_log"))}


def _run_both(roots: dict[str, Path], make) -> dict:
    summaries = {}
    for engine, root in roots.items():
        summaries[engine] = execute_pipeline(make(root), engine=engine)
        assert summaries[engine].ok, summaries[engine]
    return summaries


def _check_scd1_by_hand(root: Path) -> None:
    """The SCD1 table spelled out, so the oracle is not the only witness."""
    _schema, rows = table_rows(root, SCD1.name)
    assert rows == [
        {"id": 1, "seq": 3, "a": 11, "b": "x"},
        {"id": 2, "seq": 3, "a": 21, "b": "y2"},
        {"id": 4, "seq": 3, "a": 41, "b": None},
        {"id": 5, "seq": 7, "a": 51, "b": "t"},
    ]


def _assert_rerun_is_noop(root: Path, make) -> None:
    before = _versions(root)
    assert len(before) == 2 * len(ALL_SINKS)  # every target and its state table
    summary = execute_pipeline(make(root), engine="spark")
    assert [n.batches for n in summary.nodes] == [0]
    assert _versions(root) == before


@pytest.mark.kafka
def test_kafka_change_feed_same_tables_on_both_engines(spark, tmp_path, kafka_bootstrap, make_topic):
    topic = make_topic(1)
    roots = {"polars": tmp_path / "polars", "spark": tmp_path / "spark"}

    def make(root: Path):
        return merge_pipeline(root, ALL_SINKS, bootstrap=kafka_bootstrap, topic=topic, max_offsets=3)

    bad = pa.table({"key": [b"x"] * 3, "value": [b"{not json", b"[1, 2]", b'{"id": "one"}']})
    produce_table({"bootstrap.servers": kafka_bootstrap}, topic, bad)  # batch 0: dead letters only
    records = feed_records(EVENTS)
    produce(kafka_bootstrap, topic, records[: len(PART1)])
    for engine, summary in _run_both(roots, make).items():
        node = summary.node("changes")
        assert (node.batches, node.dead_letter_rows, node.input_rows) == (4, 3, len(PART1)), engine
    assert_tables(PART1, roots, ALL_SINKS, context="after part 1: ")
    produce(kafka_bootstrap, topic, records[len(PART1):])
    _run_both(roots, make)
    assert_tables(EVENTS, roots, ALL_SINKS)
    _check_scd1_by_hand(roots["spark"])
    _assert_rerun_is_noop(roots["spark"], make)


def test_jsonl_change_feed_same_tables_on_both_engines(spark, tmp_path):
    roots = {"polars": tmp_path / "polars", "spark": tmp_path / "spark"}
    feeds = {engine: tmp_path / f"feed_{engine}" for engine in roots}

    def make(root: Path):
        engine = root.name
        return merge_pipeline(root, ALL_SINKS, feed=feeds[engine])

    records = feed_records(EVENTS)
    for feed in feeds.values():
        write_jsonl(feed / "part-1.jsonl", records[: len(PART1)])
    _run_both(roots, make)
    assert_tables(PART1, roots, ALL_SINKS, context="after part 1: ")
    for feed in feeds.values():
        write_jsonl(feed / "part-2.jsonl", records[len(PART1):])
    _run_both(roots, make)
    assert_tables(EVENTS, roots, ALL_SINKS)
    _check_scd1_by_hand(roots["spark"])
    _assert_rerun_is_noop(roots["spark"], make)
