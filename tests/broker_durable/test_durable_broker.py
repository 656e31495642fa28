"""A broker that keeps its log: records and committed offsets survive a restart of Tansu and
its SeaweedFS S3 server on the same data folder (``durable_kafka``, kappa.broker_durable)."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.kafka

N = 300


def _read_partition(bootstrap: str, topic: str, partition: int) -> list[tuple[int, bytes, dict]]:
    """(offset, key, value) of every record of one partition, from offset 0 to its end."""
    from confluent_kafka import Consumer, KafkaError, TopicPartition

    consumer = Consumer({
        "bootstrap.servers": bootstrap, "group.id": "kappa-durable-read", "enable.auto.commit": False,
        "enable.partition.eof": True,
    })
    try:
        consumer.assign([TopicPartition(topic, partition, 0)])
        out = []
        while True:
            msg = consumer.poll(10)
            assert msg is not None, f"no end of partition {partition} within 10 s after {len(out)} records"
            if msg.error():
                assert msg.error().code() == KafkaError._PARTITION_EOF, msg.error()
                return out
            out.append((msg.offset(), msg.key(), json.loads(msg.value())))
    finally:
        consumer.close()


def _expected(partition: int, start: int, stop: int) -> list[tuple[int, bytes, dict]]:
    rows = [i for i in range(start, stop) if i % 2 == partition]
    return [(n, b"k%d" % i, {"i": i}) for n, i in enumerate(rows)]


def test_records_and_committed_offsets_survive_a_restart(durable_kafka):
    from confluent_kafka import Consumer, TopicPartition

    from kappa.kafka.writer import create_topic
    from kappa.testing.kafka import conf_for, produce

    bootstrap = durable_kafka.bootstrap_servers
    create_topic(conf_for(bootstrap), "orders", 2)
    records = [{"i": i} for i in range(N)]
    assert produce(bootstrap, "orders", records[: N // 2], key=lambda r: f"k{r['i']}") == N // 2
    # with a key function the partition is the key's hash: pin partitions with explicit produce
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True})
    for i in range(N // 2, N):
        producer.produce("orders", key=b"k%d" % i, value=json.dumps({"i": i}).encode(), partition=i % 2)
    assert producer.flush(20) == 0
    before = {p: _read_partition(bootstrap, "orders", p) for p in (0, 1)}
    group = Consumer({"bootstrap.servers": bootstrap, "group.id": "kappa-durable-group"})
    group.commit(offsets=[TopicPartition("orders", 0, 17), TopicPartition("orders", 1, 42)], asynchronous=False)
    group.close()

    old_port = durable_kafka.port
    durable_kafka.restart()

    data = durable_kafka.data_dir
    assert (data / "s3" / "weed.log").is_file()
    assert durable_kafka.describe() == (
        f"the log is kept in {data} (S3 bucket kappa-broker served by SeaweedFS on "
        f"{durable_kafka.s3_url}; Tansu's log: {data / 'tansu.log'})"
    )

    assert durable_kafka.port == old_port
    after = {p: _read_partition(bootstrap, "orders", p) for p in (0, 1)}
    assert after == before
    assert sum(len(v) for v in after.values()) == N
    assert sorted(r[2]["i"] for v in after.values() for r in v) == list(range(N))
    assert [r[0] for r in after[0]] == list(range(len(after[0])))
    assert [r[0] for r in after[1]] == list(range(len(after[1])))
    # the second half went to partition i % 2 at the offsets following the first half's
    for p in (0, 1):
        tail = [r for r in after[p] if r[2]["i"] >= N // 2]
        assert [(r[1], r[2]) for r in tail] == [(b"k%d" % i, {"i": i}) for i in range(N // 2, N) if i % 2 == p]
    group = Consumer({"bootstrap.servers": bootstrap, "group.id": "kappa-durable-group"})
    committed = group.committed([TopicPartition("orders", 0), TopicPartition("orders", 1)], timeout=10)
    group.close()
    assert [(tp.partition, tp.offset) for tp in committed] == [(0, 17), (1, 42)]

    # appending after the restart continues the offsets
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    producer.produce("orders", key=b"late", value=b'{"i": -1}', partition=0)
    assert producer.flush(20) == 0
    assert _read_partition(bootstrap, "orders", 0)[-1] == (len(after[0]), b"late", {"i": -1})

