"""A Kafka node's dead-letter table and its sink on S3, configured once at the pipeline level."""

from __future__ import annotations

import polars as pl
import pytest

from kappa.config.loader import load_pipeline_file
from kappa.delta.read import read_delta
from kappa.runner import execute_pipeline

pytestmark = pytest.mark.kafka

PIPELINE = """\
name: s3dlq
checkpoint_root: {checkpoint}
storage_options: {options}
nodes:
  - name: events
    source:
      bootstrap_servers: {bootstrap}
      topic: {topic}
      starting_offsets: earliest
      value_format: json
      schema: {{id: int, name: string}}
      dead_letter_path: {lake}/events_dead_letters
    sinks:
      - {{path: {lake}/events, format: DELTA, mode: append}}
"""


def test_dead_letters_and_sink_on_s3(s3_endpoint, kafka_bootstrap, kafka_topic, tmp_path):
    import json

    from confluent_kafka import Producer

    from kappa.testing.kafka import conf_for

    producer = Producer(conf_for(kafka_bootstrap))
    for value in (b'{"id": 1, "name": "a"}', b"not json", b'{"id": 2, "name": "b"}'):
        producer.produce(kafka_topic, value=value)
    assert producer.flush(15) == 0
    lake = s3_endpoint.uri("lake")
    path = tmp_path / "pipeline.yaml"
    path.write_text(PIPELINE.format(checkpoint=tmp_path / "ck", options=json.dumps(s3_endpoint.storage_options),
                                    bootstrap=kafka_bootstrap, topic=kafka_topic, lake=lake))
    for _ in range(2):  # the second run reads nothing new and writes nothing twice
        result = execute_pipeline(load_pipeline_file(path), engine="polars")
        assert result.ok, result.render()
    opts = s3_endpoint.storage_options
    events = pl.from_arrow(read_delta(f"{lake}/events", storage_options=opts)).unnest("value").sort("id")
    assert events.select("offset", "id", "name").rows() == [(0, 1, "a"), (2, 2, "b")]
    dead = pl.from_arrow(read_delta(f"{lake}/events_dead_letters", storage_options=opts))
    assert dead.select("topic", "offset", "value").rows() == [(kafka_topic, 1, b"not json")]
    assert not (tmp_path / "ck" / "s3dlq" / "events" / "dead_letters").exists()
