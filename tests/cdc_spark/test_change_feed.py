"""A plain change feed (``id, seq, op, a, b`` with ``op`` in I/U/D) from a Kafka topic (JSON)
or from JSONL files, through one node with Delta MERGE sinks (SCD1, SCD2, ignore-null and
tracked-column variants), in two runs, once per engine (the ``engine`` fixture): every table equals the oracle's (and
the SCD1 table spelled out by hand), with the same exact schema on every engine. On Kafka the
first micro-batch holds only undecodable records: they become dead letters, and the MERGE
sinks get an empty batch. A third run with no new input changes no Delta version (targets and
their CDC state tables).
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
    EVENTS,
    PART1,
    SCD1,
    assert_tables,
    feed_records,
    merge_pipeline,
    table_rows,
    write_jsonl,
)

def _versions(root: Path) -> dict[str, int]:
    """Delta version of every table under ``root`` (targets and CDC state tables)."""
    return {p.parent.name: DeltaTable(str(p.parent)).version() for p in sorted(root.glob("*/_delta_log"))}


def _run(engine, root: Path, make):
    if engine.name == "spark":
        assert engine.spark is not None  # the session's SparkSession, which the run reuses
    summary = execute_pipeline(make(root), engine=engine.name)
    assert summary.ok, summary
    return summary


def _check_scd1_by_hand(root: Path) -> None:
    """The SCD1 table spelled out, so the oracle is not the only witness."""
    _schema, rows = table_rows(root, SCD1.name)
    assert rows == [
        {"id": 1, "seq": 3, "a": 11, "b": "x"},
        {"id": 2, "seq": 3, "a": 21, "b": "y2"},
        {"id": 4, "seq": 3, "a": 41, "b": None},
        {"id": 5, "seq": 7, "a": 51, "b": "t"},
    ]


def _assert_rerun_is_noop(engine, root: Path, make) -> None:
    before = _versions(root)
    assert len(before) == 2 * len(ALL_SINKS)  # every target and its state table
    summary = _run(engine, root, make)
    assert [n.batches for n in summary.nodes] == [0]
    assert _versions(root) == before


@pytest.mark.kafka
def test_kafka_change_feed_exact_tables(engine, tmp_path, kafka_bootstrap, make_topic):
    topic = make_topic(1)
    root = tmp_path / engine.name

    def make(root: Path):
        return merge_pipeline(root, ALL_SINKS, bootstrap=kafka_bootstrap, topic=topic, max_offsets=3)

    bad = pa.table({"key": [b"x"] * 3, "value": [b"{not json", b"[1, 2]", b'{"id": "one"}']})
    produce_table({"bootstrap.servers": kafka_bootstrap}, topic, bad)  # batch 0: dead letters only
    records = feed_records(EVENTS)
    produce(kafka_bootstrap, topic, records[: len(PART1)])
    node = _run(engine, root, make).node("changes")
    assert (node.batches, node.dead_letter_rows, node.input_rows) == (4, 3, len(PART1)), engine
    assert_tables(PART1, {engine.name: root}, ALL_SINKS, context="after part 1: ", exact_schema=True)
    produce(kafka_bootstrap, topic, records[len(PART1):])
    _run(engine, root, make)
    assert_tables(EVENTS, {engine.name: root}, ALL_SINKS, exact_schema=True)
    _check_scd1_by_hand(root)
    _assert_rerun_is_noop(engine, root, make)


def test_jsonl_change_feed_exact_tables(engine, tmp_path):
    root, feed = tmp_path / engine.name, tmp_path / f"feed_{engine.name}"

    def make(root: Path):
        return merge_pipeline(root, ALL_SINKS, feed=feed)

    records = feed_records(EVENTS)
    write_jsonl(feed / "part-1.jsonl", records[: len(PART1)])
    _run(engine, root, make)
    assert_tables(PART1, {engine.name: root}, ALL_SINKS, context="after part 1: ", exact_schema=True)
    write_jsonl(feed / "part-2.jsonl", records[len(PART1):])
    _run(engine, root, make)
    assert_tables(EVENTS, {engine.name: root}, ALL_SINKS, exact_schema=True)
    _check_scd1_by_hand(root)
    _assert_rerun_is_noop(engine, root, make)
