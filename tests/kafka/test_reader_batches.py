"""The reader's per-batch work without a broker: routing a consume() result, building the batch,
and no pandas import on the way (confluent-kafka's ``Message`` is constructible)."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import textwrap

from confluent_kafka import KafkaError, Message

from kappa.kafka.reader import KAFKA_SCHEMA, _route, _to_batch


def msg(partition: int, offset: int, topic: str = "t", **kw) -> Message:
    return Message(topic=topic, partition=partition, offset=offset, value=b"v%d" % offset, **kw)


def routed(kept: dict) -> dict:
    return {key: [m.offset() for m in records] for key, records in kept.items()}


def test_route_cuts_runs_of_partitions_to_their_ranges():
    work = {("t", 0): (5, 8), ("t", 1): (0, 100), ("t", 2): (0, 3)}
    pending = set(work)
    msgs = [msg(0, o) for o in range(3, 7)] + [msg(1, o) for o in range(0, 2)] + [msg(0, 7), msg(0, 8)]
    kept, finished, error, progress = _route(msgs, pending, work)
    assert routed(kept) == {("t", 0): [5, 6, 7], ("t", 1): [0, 1]}
    assert finished == [("t", 0)] and pending == {("t", 1), ("t", 2)}
    assert error is None and progress is True
    # a record past the end finishes the partition; a finished partition's records are ignored
    kept, finished, _, _ = _route([msg(2, 2), msg(2, 3), msg(0, 9)], pending, work)
    assert routed(kept) == {("t", 2): [2]} and finished == [("t", 2)] and pending == {("t", 1)}
    assert _route([], pending, work)[1:] == ([], None, False)


def test_route_with_errors_goes_record_by_record():
    work = {("a", 0): (0, 10), ("b", 0): (0, 2)}
    pending = set(work)
    eof = Message(topic="b", partition=0, offset=2, error=KafkaError(KafkaError._PARTITION_EOF))
    kept, finished, error, progress = _route([msg(0, 0, "a"), msg(0, 0, "b"), msg(0, 1, "a"), eof], pending, work)
    assert routed(kept) == {("a", 0): [0, 1], ("b", 0): [0]}
    assert finished == [("b", 0)] and pending == {("a", 0)} and error is None and progress is True
    kept, finished, error, progress = _route([Message(topic="a", partition=0, offset=5, error=KafkaError(KafkaError._TRANSPORT))],
                                             pending, work)
    assert kept == {} and finished == [] and error.code() == KafkaError._TRANSPORT and progress is False


def test_to_batch_builds_sparks_kafka_columns():
    msgs = [Message(topic="t", partition=3, offset=10, key=b"k", value=b'{"a":1}', timestamp=(1, 1_700_000_000_123)),
            Message(topic="t", partition=3, offset=11, key=None, value=None, timestamp=(2, 1_700_000_000_456)),
            Message(topic="t", partition=3, offset=13, key=b"", value=b"", timestamp=(0, -1))]
    batch = _to_batch(msgs, False, "t", 3)
    assert batch.schema == KAFKA_SCHEMA
    utc = dt.timezone.utc
    assert batch.to_pylist() == [
        {"key": b"k", "value": b'{"a":1}', "topic": "t", "partition": 3, "offset": 10,
         "timestamp": dt.datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=utc), "timestampType": 0},
        {"key": None, "value": None, "topic": "t", "partition": 3, "offset": 11,
         "timestamp": dt.datetime(2023, 11, 14, 22, 13, 20, 456000, tzinfo=utc), "timestampType": 1},
        {"key": b"", "value": b"", "topic": "t", "partition": 3, "offset": 13, "timestamp": None, "timestampType": -1},
    ]


def test_reading_and_decoding_do_not_import_pandas():
    """pyarrow's first pa.array/pa.scalar of Python values imports pandas (~0.5 s of CPU)."""
    code = textwrap.dedent("""
        import sys
        import pyarrow as pa
        from confluent_kafka import Message
        from kappa.kafka.decode import decode_json_values
        from kappa.kafka.reader import _to_batch
        msgs = [Message(topic="t", partition=0, offset=i, key=b"k", value=b'{"a": %d}' % i, timestamp=(1, 5)) for i in range(3)]
        msgs.append(Message(topic="t", partition=0, offset=3, value=b"[1]", timestamp=(1, 5)))
        decoded, dead = decode_json_values(pa.Table.from_batches([_to_batch(msgs, False, "t", 0)]), pa.schema([("a", pa.int64())]))
        assert decoded.num_rows == 3 and dead.column("offset").to_pylist() == [3], (decoded, dead)
        print("pandas" in sys.modules)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
