"""kappa_kafka against a real broker: Spark's Kafka schema and options, exact offsets."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest
from deltalake import DeltaTable

from kappa.delta.read import read_delta
from kappa.engines.spark.datasources.readers import build_kafka_read
from kappa.engines.spark.delta_writer import DeltaBatchWriter
from kappa.kafka.reader import read_range
from kappa.kafka.writer import produce_json
from kappa.testing.kafka import conf_for

pytestmark = [pytest.mark.spark, pytest.mark.kafka]

SPARK_KAFKA_SCHEMA = (
    "struct<key:binary,value:binary,topic:string,partition:int,offset:bigint,"
    "timestamp:timestamp,timestampType:int>"
)


def _produce(bootstrap: str, topic: str, start: int, count: int) -> None:
    records = [{"i": i} for i in range(start, start + count)]
    produce_json(conf_for(bootstrap), topic, records, key=lambda r: str(r["i"]))


def _stream_to_delta(spark, bootstrap, topic, sink, checkpoint, **extra):
    options = {"kafka.bootstrap.servers": bootstrap, "subscribe": topic}
    options.update(extra)
    query = (
        build_kafka_read(spark, "python", options)
        .load()
        .writeStream.foreachBatch(DeltaBatchWriter(sink, app_id="kafka-copy"))
        .option("checkpointLocation", checkpoint)
        .trigger(availableNow=True)
        .start()
    )
    query.awaitTermination()
    batches = [p["numInputRows"] for p in query.recentProgress if p["numInputRows"]]
    end = json.loads(query.lastProgress["sources"][0]["endOffset"])
    return batches, end


def _offsets(sink: str) -> list[tuple[int, int]]:
    table = read_delta(sink, columns=["partition", "offset"])
    return sorted(zip(table["partition"].to_pylist(), table["offset"].to_pylist()))


def test_batch_read_equals_read_range_and_schema(spark, kafka_bootstrap, make_topic):
    topic = make_topic(3)
    _produce(kafka_bootstrap, topic, 0, 60)
    df = (
        spark.read.format("kappa_kafka")
        .option("kafka.bootstrap.servers", kafka_bootstrap)
        .option("subscribe", topic)
        .load()
    )
    assert df.schema.simpleString() == SPARK_KAFKA_SCHEMA
    got = df.orderBy("partition", "offset").toArrow()
    from kappa.kafka.offsets import end_offsets, list_partitions

    conf = conf_for(kafka_bootstrap)
    ends = end_offsets(conf, list_partitions(conf, [topic]))
    expected = read_range(conf, {tp: (0, end) for tp, end in ends.items()})
    assert got.num_rows == 60 == expected.num_rows
    assert got.cast(expected.schema).equals(expected)
    # endingOffsets / startingOffsets as Spark's JSON bound the batch per partition.
    bounded = (
        spark.read.format("kappa_kafka")
        .option("kafka.bootstrap.servers", kafka_bootstrap)
        .option("subscribe", topic)
        .option("startingOffsets", json.dumps({topic: {"0": 2}}))
        .option("endingOffsets", json.dumps({topic: {"0": 5, "1": 1, "2": -1}}))
        .load()
    )
    counts = {r.partition: r["count"] for r in bounded.groupBy("partition").count().collect()}
    assert counts == {0: 3, 1: 1, 2: ends[(topic, 2)]}


def test_headers_pattern_and_assign(spark, kafka_bootstrap, make_topic):
    topic = make_topic(2, prefix="kappa-hdr")
    from kappa.kafka.writer import produce_table

    produce_table(
        conf_for(kafka_bootstrap),
        topic,
        pa.table(
            {
                "key": [b"k"],
                "value": [b"v"],
                "headers": pa.array(
                    [[{"key": "h", "value": b"1"}]],
                    pa.list_(pa.struct([("key", pa.string()), ("value", pa.binary())])),
                ),
                "partition": pa.array([1], pa.int32()),
            }
        ),
        headers_column="headers",
        partition_column="partition",
    )
    def reader():  # a DataFrameReader is mutable: one per read
        return spark.read.format("kappa_kafka").option("kafka.bootstrap.servers", kafka_bootstrap)

    pattern = reader().option("subscribePattern", topic.replace("-", ".")).option(
        "includeHeaders", "true"
    )
    with_headers = pattern.load()
    assert with_headers.schema.simpleString() == (
        SPARK_KAFKA_SCHEMA[:-1] + ",headers:array<struct<key:string,value:binary>>>"
    )
    rows = with_headers.collect()
    assert [(r.partition, r.headers[0].key, bytes(r.headers[0].value)) for r in rows] == [
        (1, "h", b"1")
    ]
    assigned = reader().option("assign", json.dumps({topic: [0]})).load()
    assert assigned.count() == 0


def test_stream_exact_offsets_rate_limit_and_restart(spark, kafka_bootstrap, make_topic, tmp_path):
    topic = make_topic(3)
    _produce(kafka_bootstrap, topic, 0, 100)
    limited = {"startingOffsets": "earliest", "maxOffsetsPerTrigger": 30}
    sink, ckpt = str(tmp_path / "sink"), str(tmp_path / "ckpt")
    batches, end = _stream_to_delta(
        spark, kafka_bootstrap, topic, sink, ckpt, **limited
    )
    # Spark's proration: each trigger advances every partition by its share of 30.
    assert sum(batches) == 100 and len(batches) == 4 and max(batches) <= 30
    assert len(_offsets(sink)) == 100
    assert sum(end[topic].values()) == 100
    # Second run on the same checkpoint reads only what was produced since.
    _produce(kafka_bootstrap, topic, 100, 10)
    batches, end2 = _stream_to_delta(
        spark, kafka_bootstrap, topic, sink, ckpt, **limited
    )
    assert batches == [10]
    assert sum(end2[topic].values()) == 110
    offsets = _offsets(sink)
    assert len(offsets) == len(set(offsets)) == 110
    values = read_delta(sink)["value"].to_pylist()
    values = sorted(json.loads(v)["i"] for v in values)
    assert values == list(range(110))
    # Nothing new: no micro-batch reads data and the sink gets no commit.
    version = DeltaTable(sink).version()
    assert _stream_to_delta(spark, kafka_bootstrap, topic, sink, ckpt)[0] == []
    assert DeltaTable(sink).version() == version


def test_stream_starting_latest_reads_only_later_records(
    spark, kafka_bootstrap, make_topic, tmp_path
):
    topic = make_topic(1)
    _produce(kafka_bootstrap, topic, 0, 5)
    sink, ckpt = str(tmp_path / "sink"), str(tmp_path / "ckpt")
    batches, end = _stream_to_delta(spark, kafka_bootstrap, topic, sink, ckpt)
    assert batches == [] and end == {topic: {"0": 5}}
    _produce(kafka_bootstrap, topic, 5, 3)
    batches, end = _stream_to_delta(spark, kafka_bootstrap, topic, sink, ckpt)
    assert batches == [3] and end == {topic: {"0": 8}}
    assert _offsets(sink) == [(0, 5), (0, 6), (0, 7)]


def test_pattern_picks_up_new_topics_from_earliest(spark, kafka_bootstrap, make_topic, tmp_path):
    import uuid

    first = make_topic(1, prefix=f"kappa-pat-{uuid.uuid4().hex[:8]}")
    stem = first.rsplit("-", 1)[0]
    _produce(kafka_bootstrap, first, 0, 4)
    sink, ckpt = str(tmp_path / "sink"), str(tmp_path / "ckpt")
    options = {"subscribePattern": f"{stem}-.*", "startingOffsets": "earliest"}

    def run():
        query = (
            build_kafka_read(
                spark, "python", {"kafka.bootstrap.servers": kafka_bootstrap, **options}
            )
            .load()
            .writeStream.foreachBatch(DeltaBatchWriter(sink, app_id="pattern"))
            .option("checkpointLocation", ckpt)
            .trigger(availableNow=True)
            .start()
        )
        query.awaitTermination()
        return json.loads(query.lastProgress["sources"][0]["endOffset"])

    assert run() == {first: {"0": 4}}
    from kappa.kafka.writer import create_topic

    second = f"{stem}-late"
    create_topic(conf_for(kafka_bootstrap), second, 1)
    _produce(kafka_bootstrap, second, 100, 2)
    assert run() == {first: {"0": 4}, second: {"0": 2}}
    topics = read_delta(sink, columns=["topic"])["topic"].to_pylist()
    assert sorted(topics) == [first] * 4 + [second] * 2


def test_offsets_going_backwards_fail_the_query(spark, kafka_bootstrap, make_topic, tmp_path):
    from confluent_kafka.admin import AdminClient

    from kappa.kafka.writer import create_topic

    topic = make_topic(1)
    _produce(kafka_bootstrap, topic, 0, 5)
    sink, ckpt = str(tmp_path / "sink"), str(tmp_path / "ckpt")
    first = _stream_to_delta(spark, kafka_bootstrap, topic, sink, ckpt, startingOffsets="earliest")
    assert first[0] == [5]
    admin = AdminClient(conf_for(kafka_bootstrap))
    admin.delete_topics([topic], operation_timeout=30)[topic].result(timeout=30)
    create_topic(conf_for(kafka_bootstrap), topic, 1)
    _produce(kafka_bootstrap, topic, 0, 2)
    with pytest.raises(Exception, match=r"committed offset 5 is past the log end 2 \(earliest 0\).*failOnDataLoss"):
        _stream_to_delta(spark, kafka_bootstrap, topic, sink, ckpt)
    assert len(_offsets(sink)) == 5
