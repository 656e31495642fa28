"""Offsets against a real broker: exact end offsets after batched produce, starting-offset specs."""

from __future__ import annotations

import json

import pytest

from kappa.kafka.offsets import (
    OffsetError,
    earliest_offsets,
    end_offsets,
    list_partitions,
    resolve_starting_offsets,
)

pytestmark = pytest.mark.kafka


def test_end_offsets_exact_after_batched_produce(conf, make_topic, produce_batched):
    topic = make_topic(3)
    produce_batched(topic, 6001, 3)  # 2001 + 2000 + 2000, in large producer batches
    tps = list_partitions(conf, [topic])
    assert tps == [(topic, 0), (topic, 1), (topic, 2)]
    assert end_offsets(conf, tps) == {(topic, 0): 2001, (topic, 1): 2000, (topic, 2): 2000}
    assert earliest_offsets(conf, tps) == {(topic, 0): 0, (topic, 1): 0, (topic, 2): 0}


def test_end_offsets_grow_with_more_batches(conf, make_topic, produce_batched):
    topic = make_topic(1)
    produce_batched(topic, 1500, 1)
    assert end_offsets(conf, [(topic, 0)]) == {(topic, 0): 1500}
    produce_batched(topic, 2500, 1)
    assert end_offsets(conf, [(topic, 0)]) == {(topic, 0): 4000}


def test_empty_partitions_end_at_earliest(conf, make_topic, produce_batched):
    topic = make_topic(2)
    produce_batched(topic, 1, 1)  # only partition 0 gets a record
    tps = list_partitions(conf, [topic])
    assert end_offsets(conf, tps) == {(topic, 0): 1, (topic, 1): 0}
    assert end_offsets(conf, []) == {}


def test_list_partitions_sorted_over_topics_and_missing_topic(conf, make_topic):
    b = make_topic(2, prefix="zz-b")
    a = make_topic(1, prefix="aa-a")
    assert list_partitions(conf, [b, a]) == [(a, 0), (b, 0), (b, 1)]
    with pytest.raises(OffsetError, match="topic 'no-such-topic-x' does not exist"):
        list_partitions(conf, ["no-such-topic-x"])


@pytest.fixture
def three_partitions(conf, make_topic, produce_batched):
    topic = make_topic(3)
    produce_batched(topic, 300, 3)  # 100 records per partition
    return topic, list_partitions(conf, [topic])


def test_starting_offsets_earliest_and_latest(conf, three_partitions):
    topic, tps = three_partitions
    assert resolve_starting_offsets(conf, tps, "earliest") == {tp: 0 for tp in tps}
    assert resolve_starting_offsets(conf, tps, "latest") == {tp: 100 for tp in tps}
    assert resolve_starting_offsets(conf, tps, " LATEST ") == {tp: 100 for tp in tps}


def test_starting_offsets_spark_json(conf, three_partitions):
    topic, tps = three_partitions
    spec = {topic: {"0": 23, "1": -1}}  # partition 2 absent -> earliest
    expected = {(topic, 0): 23, (topic, 1): 100, (topic, 2): 0}
    assert resolve_starting_offsets(conf, tps, spec) == expected
    assert resolve_starting_offsets(conf, tps, json.dumps(spec)) == expected
    spec2 = json.dumps({topic: {"0": -2, "2": 7}})
    assert resolve_starting_offsets(conf, tps, spec2) == {
        (topic, 0): 0,
        (topic, 1): 0,
        (topic, 2): 7,
    }


def test_starting_offsets_errors(conf, three_partitions):
    topic, tps = three_partitions
    with pytest.raises(OffsetError, match="'earliest', 'latest' or JSON"):
        resolve_starting_offsets(conf, tps, "newest")
    with pytest.raises(OffsetError, match=rf"{topic}\[9\]"):
        resolve_starting_offsets(conf, tps, {topic: {"9": 0}})
    with pytest.raises(OffsetError, match="not an offset"):
        resolve_starting_offsets(conf, tps, {topic: {"0": -5}})
    with pytest.raises(OffsetError, match="not a number"):
        resolve_starting_offsets(conf, tps, {topic: {"0": "x"}})
