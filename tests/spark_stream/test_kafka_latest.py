"""``starting_offsets: latest`` under a live producer on Spark (issue 7, item 1.7, Kafka half).

PySpark 4.2 calls a Python stream reader's ``initialOffset()`` again when it runs batch 0 (and on
a restart before batch 0 commits); a "latest" recomputed then made batch 0 fail with "offset went
backwards". The ``kappa_kafka`` reader now keeps its first resolved initial offset under the
query's checkpoint and returns it on every later call.
"""

from __future__ import annotations

import json
import time

import pytest

from kappa.cli import main
from kappa.delta.read import read_delta
from kappa.testing.kafka import consume_all, produce
from kappa.testing.steady import SteadyProducer
from tests.helpers.pipelines import kafka_bronze

pytestmark = pytest.mark.kafka


def _reader(bootstrap: str, topic: str, checkpoint: str | None):
    from kappa.engines.spark.datasources.initial import CHECKPOINT_OPTION
    from kappa.engines.spark.datasources.kafka_options import KafkaOptions
    from kappa.engines.spark.datasources.kafka_source import KafkaStreamReader

    options = {"kafka.bootstrap.servers": bootstrap, "subscribe": topic, "startingOffsets": "latest"}
    if checkpoint:
        options[CHECKPOINT_OPTION] = checkpoint
    return KafkaStreamReader(KafkaOptions.parse(options))


def test_reader_keeps_its_initial_offset(tmp_path, kafka_bootstrap, make_topic):
    from kappa.engines.spark.datasources.initial import initial_offset_path

    topic = make_topic(partitions=1)
    produce(kafka_bootstrap, topic, [{"id": i} for i in range(5)])
    checkpoint = str(tmp_path / "spark")
    first = _reader(kafka_bootstrap, topic, checkpoint).initialOffset()
    assert first == {topic: {"0": 5}}
    assert json.loads(initial_offset_path(checkpoint, "kappa_kafka").read_text()) == first

    produce(kafka_bootstrap, topic, [{"id": i} for i in range(5, 8)])
    # another reader over the same checkpoint (a restart before batch 0 commits, or PySpark's
    # second call in a new driver-side process): the same initial offset
    again = _reader(kafka_bootstrap, topic, checkpoint)
    assert again.initialOffset() == first
    assert again.initialOffset() == first
    # without a checkpoint it is recomputed (a query built by hand, as before)
    assert _reader(kafka_bootstrap, topic, None).initialOffset() == {topic: {"0": 8}}

    # an AvailableNow target taken before the start was resolved is no data loss
    late = _reader(kafka_bootstrap, topic, str(tmp_path / "other"))
    late.prepareForTriggerAvailableNow()  # end 8
    produce(kafka_bootstrap, topic, [{"id": 8}, {"id": 9}])
    start = late.initialOffset()
    assert start == {topic: {"0": 10}}
    assert late.latestOffset(start) == start


PIPELINE = kafka_bronze("latest", source=(("starting_offsets", "latest"), ("schema", '"id BIGINT, name STRING"')),
                        select="SELECT value.id AS id, `partition`, `offset` FROM {{df}}")


def _committed_end(root, topic: str) -> dict[str, int]:
    from kappa.engines.spark.status import read_checkpoint

    state = read_checkpoint(str(root / "ck/latest/brz/spark"))
    return state.last_committed.sources[0][topic] if state.last_committed else {}


@pytest.mark.spark
def test_latest_under_a_live_producer(spark, tmp_path, write_pipeline, kafka_bootstrap, make_topic, capsys):
    topic = make_topic(partitions=2)
    produce(kafka_bootstrap, topic, [{"id": i, "name": "old"} for i in range(10)])
    path = write_pipeline(PIPELINE, bootstrap=kafka_bootstrap, topic=topic)
    kept_file = tmp_path / "ck/latest/brz/spark/kappa/initial_offset_kappa_kafka.json"
    with SteadyProducer(kafka_bootstrap, topic, first=1000, per_tick=2, tick_s=0.01) as producer:
        time.sleep(0.5)
        main(["run", path, "--profile", "python"])  # no "offset went backwards"
        kept = json.loads(kept_file.read_text())[topic]
        time.sleep(0.5)
        main(["run", path, "--profile", "python"])
        assert json.loads(kept_file.read_text())[topic] == kept
        assert _committed_end(tmp_path, topic)  # batches committed while records kept arriving
    main(["run", path, "--profile", "python"])  # the rest
    out = capsys.readouterr().out
    assert "error" not in out

    end = _committed_end(tmp_path, topic)
    records = consume_all(kafka_bootstrap, topic).to_pylist()
    expected = sorted(
        json.loads(r["value"])["id"] for r in records if kept[str(r["partition"])] <= r["offset"] < end[str(r["partition"])]
    )
    ids = sorted(read_delta(str(tmp_path / "brz"))["id"].to_pylist())
    assert ids == expected
    # everything after the kept start, nothing before it, nothing twice
    assert sum(end.values()) == 10 + producer.produced
    assert ids == list(range(1000 + producer.produced - len(ids), 1000 + producer.produced))
