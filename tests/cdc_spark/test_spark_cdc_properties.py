"""Property test on the Spark engine: random change streams (duplicates, out-of-order events,
early deletes, same-sequence ties, deletes of unknown keys, null updates) produced to a Kafka
topic in several parts, each part followed by a run of ``execute_pipeline`` on Spark and on
Polars (micro-batches cut by a random ``max_offsets_per_trigger``; one- or two-partition topics,
records keyed by ``id``); every MERGE sink's table
(SCD1, SCD2, with and without ``ignore_null_updates`` / tracked columns) is the oracle's table,
identical on both engines.

A Spark run costs seconds, so each example packs ``STREAMS_PER_TOPIC`` independent streams of
``tests/cdc``'s generator on disjoint key ranges, interleaved at random, into one topic: every
stream meets its own random cuts and the oracle (per key) checks each one. Examples are drawn
deterministically (``derandomize``) and never shrunk; a failure prints the falsifying
interleaved stream, its run cuts and batch sizes.
"""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from tests.helpers.cdc_events import streams

from kappa.runner import execute_pipeline
from kappa.testing.kafka import produce

from .cdc_spark_util import ALL_SINKS, assert_tables, feed_records, merge_pipeline

pytestmark = [pytest.mark.spark, pytest.mark.kafka, pytest.mark.slow]

EXAMPLES = 4
STREAMS_PER_TOPIC = 5
KEY_SPAN = 10  # stream j uses ids 10*j .. 10*j+4


@st.composite
def packed_runs(draw):
    """(events, parts, partitions): ``STREAMS_PER_TOPIC`` streams interleaved on disjoint
    keys; the cut of the result into 1-3 runs, each with the ``max_offsets_per_trigger`` that
    makes it 1-3 micro-batches (``parts``: a list of ``(start, stop, max_offsets)``); the
    topic's partition count (records keyed by ``id``, so a key's events keep their order)."""
    pending = []
    for j in range(STREAMS_PER_TOPIC):
        events, _cuts = draw(streams(max_events=14).filter(lambda s: len(s[0]) >= 3))
        pending.append([{**e, "id": e["id"] + KEY_SPAN * j} for e in events])
    labels = [j for j, evs in enumerate(pending) for _ in evs]
    order = draw(st.permutations(labels))
    cursors = [0] * len(pending)
    events = []
    for j in order:
        events.append(pending[j][cursors[j]])
        cursors[j] += 1
    cuts = draw(st.lists(st.integers(1, max(len(events) - 1, 1)), max_size=2))
    bounds = [0, *sorted({c for c in cuts if 0 < c < len(events)}), len(events)]
    parts = []
    for lo, hi in itertools.pairwise(bounds):
        parts.append((lo, hi, math.ceil((hi - lo) / draw(st.integers(1, 3))) or 1))
    return events, parts, draw(st.sampled_from([1, 2]))


@settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
          phases=[Phase.generate], suppress_health_check=list(HealthCheck), print_blob=True)
@given(case=packed_runs())
def test_spark_merge_sinks_match_oracle_and_polars(case, spark, kafka_bootstrap, make_topic,
                                                   tmp_path_factory):
    events, parts, partitions = case
    topic = make_topic(partitions)
    base = tmp_path_factory.mktemp("prop")
    roots = {"polars": base / "polars", "spark": base / "spark"}
    records = feed_records(events)
    for lo, hi, limit in parts:
        produce(kafka_bootstrap, topic, records[lo:hi], key=lambda r: str(r["id"]))
        for engine, root in roots.items():
            pipeline = merge_pipeline(root, ALL_SINKS, bootstrap=kafka_bootstrap, topic=topic,
                                      max_offsets=limit)
            summary = execute_pipeline(pipeline, engine=engine)
            assert summary.ok, summary
            node = summary.node("changes")
            assert node.input_rows == hi - lo, (engine, node)
    assert_tables(events, roots, ALL_SINKS, context=f"partitions={partitions} parts={parts} ")
