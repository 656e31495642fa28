"""Property test on both engines over Debezium topics: what found the JSON-typed-feed defects.

Random table histories (``tests.helpers.cdc_events.changes``: envelopes
with or without the schema wrapper, null before-images, tombstones after most deletes, value
columns null throughout a batch, no declared schema) are packed ``STREAMS_PER_TOPIC`` to a
topic on disjoint keys, produced in 1-3 parts, each part followed by a run of a
``value_format: debezium`` node with an SCD1 and an SCD2 MERGE sink on Spark and on Polars
(micro-batches cut by a random ``max_offsets_per_trigger``, so tombstone-only batches happen).
Both engines' tables equal the oracle's. Examples are drawn deterministically and not shrunk;
a failure prints the example.
"""

from __future__ import annotations

import itertools
import math

import pytest
from tests.helpers.cdc_events import read_rows, sort_rows
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from tests.helpers.cdc_events import COLUMNS, SEQ, changes, render

from tests.helpers import cdc_oracle as oracle
from kappa.api import Pipeline
from kappa.runner import execute_pipeline

pytestmark = [pytest.mark.spark, pytest.mark.kafka, pytest.mark.slow]

EXAMPLES = 4
STREAMS_PER_TOPIC = 5
KEY_SPAN = 10

_PIPELINE = """\
name: dbzprop
checkpoint_root: {root}/ck
nodes:
- name: mirror
  source:
    bootstrap_servers: "{bootstrap}"
    topic: {topic}
    value_format: debezium
    max_offsets_per_trigger: {limit}
  sinks:
  - format: DELTA
    path: {root}/scd1
    merge: {{keys: [id], sequence_by: [{seq}], apply_as_deletes: "_op = 'delete'", except_column_list: [_op, {seq}]}}
  - format: DELTA
    path: {root}/scd2
    merge: {{keys: [id], sequence_by: [{seq}], apply_as_deletes: "_op = 'delete'", except_column_list: [_op, {seq}], stored_as_scd_type: 2}}
"""


@st.composite
def packed(draw):
    """(items, parts, with_schema, full_before): streams on disjoint keys, interleaved; the
    cut into runs, each with the rate limit making it 1-3 micro-batches."""
    pending = []
    for j in range(STREAMS_PER_TOPIC):
        items = draw(changes(max_events=10, min_events=3))
        pending.append([(op, {**row, "id": row["id"] + KEY_SPAN * j}, lsn, t) for op, row, lsn, t in items])
    order = draw(st.permutations([j for j, its in enumerate(pending) for _ in its]))
    cursors = [0] * len(pending)
    items = []
    for j in order:
        items.append(pending[j][cursors[j]])
        cursors[j] += 1
    cuts = draw(st.lists(st.integers(1, max(len(items) - 1, 1)), max_size=2))
    bounds = [0, *sorted({c for c in cuts if 0 < c < len(items)}), len(items)]
    parts = [(lo, hi, draw(st.integers(1, 3))) for lo, hi in itertools.pairwise(bounds)]
    return items, parts, draw(st.booleans()), draw(st.booleans())


def _produce(bootstrap: str, topic: str, records: list) -> None:
    from confluent_kafka import Producer

    from kappa.testing.kafka import conf_for

    producer = Producer({**conf_for(bootstrap), "enable.idempotence": True, "acks": "all"})
    for key, value in records:
        producer.produce(topic, key=key, value=value)
    assert producer.flush(30) == 0


def _rows(path, extra: list[str]) -> list[dict]:
    return sort_rows([{c: r.get(c) for c in COLUMNS + extra} for r in read_rows(str(path))])


@settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
          phases=[Phase.generate], suppress_health_check=list(HealthCheck), print_blob=True)
@given(case=packed())
def test_debezium_merges_match_oracle_on_both_engines(case, spark, kafka_bootstrap, make_topic, tmp_path_factory):
    items, parts, with_schema, full_before = case
    topic = make_topic(1)
    base = tmp_path_factory.mktemp("dbzprop")
    roots = {"polars": base / "polars", "spark": base / "spark"}
    events: list[dict] = []
    produced = 0
    for lo, hi, batches in parts:
        records, evs = render(items[lo:hi], with_schema=with_schema, full_before=full_before,
                              first_offset=produced)
        _produce(kafka_bootstrap, topic, records)
        produced += len(records)
        events += evs
        limit = math.ceil(len(records) / batches) or 1
        for engine, root in roots.items():
            text = _PIPELINE.format(root=root, bootstrap=kafka_bootstrap, topic=topic, limit=limit,
                                    seq=", ".join(SEQ))
            summary = execute_pipeline(Pipeline.model_validate_yaml(text), engine=engine)
            assert summary.ok, (engine, summary.render())
    scd1 = sort_rows(oracle.scd1(events, keys=["id"], seq=SEQ, columns=COLUMNS, ignore_null=False))
    scd2 = sort_rows(oracle.scd2(events, keys=["id"], seq=SEQ, columns=COLUMNS, tracked=["a", "b"],
                                 ignore_null=False))
    context = f"with_schema={with_schema} full_before={full_before} parts={parts}"
    for engine, root in roots.items():
        assert _rows(root / "scd1", []) == scd1, (engine, context)
        assert _rows(root / "scd2", ["__START_AT", "__END_AT"]) == scd2, (engine, context)
