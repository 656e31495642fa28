"""Fixtures of the Polars engine tests: the Kafka -> bronze -> silver pipeline in tmp_path
(:data:`tests.helpers.pipelines.KAFKA_BRONZE_SILVER`, fed by ``tests.helpers.records``)."""

from __future__ import annotations

import pytest

from tests.helpers.pipelines import KAFKA_BRONZE_SILVER, write_pipeline


@pytest.fixture
def replay_pipeline(tmp_path, kafka_bootstrap, make_topic):
    """Writes the pipeline YAML; returns (path to yaml, topic, root)."""
    topic = make_topic(partitions=2)
    path = write_pipeline(KAFKA_BRONZE_SILVER, tmp_path, bootstrap=kafka_bootstrap, topic=topic)
    return path, topic, tmp_path
