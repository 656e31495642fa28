"""Bounded reads of Kafka offset ranges into Arrow, with the columns of Spark's Kafka source.

Reads use ``assign()`` at explicit offsets: no consumer group is joined and nothing is
committed. A partition is finished when a record at or past its end offset arrives or when
PARTITION_EOF says the log ends there, so ranges whose end lies past the last real record
(transaction markers, compaction gaps) do not hang.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from itertools import groupby
from typing import TYPE_CHECKING

from kappa.errors import KappaError
from kappa.kafka.offsets import TopicPartition, consumer_config

if TYPE_CHECKING:
    import pyarrow as pa

#: None: kappa.kafka.client.kafka_timeout_s() (KAPPA_KAFKA_TIMEOUT_S, default 15 s). Transient
#: errors (broker down, connection refused) are retried by librdkafka until then, no longer.
_IDLE_TIMEOUT_S: float | None = None
# consume() waits until the batch is full or this much time passed: keep it short so the last
# partial batch and PARTITION_EOF are seen promptly.
_POLL_TIMEOUT_S = 0.05


class KafkaReadError(KappaError):
    """A record or partition could not be read; the message names topic, partition and offset."""


def kafka_schema(include_headers: bool = False) -> "pa.Schema":
    """The columns of Spark's Kafka source, in Spark's order and with Spark's types."""
    import pyarrow as pa

    fields = [
        pa.field("key", pa.binary()),
        pa.field("value", pa.binary()),
        pa.field("topic", pa.string()),
        pa.field("partition", pa.int32()),
        pa.field("offset", pa.int64()),
        pa.field("timestamp", pa.timestamp("us", tz="UTC")),
        pa.field("timestampType", pa.int32()),
    ]
    if include_headers:
        fields.append(pa.field("headers", headers_type()))
    return pa.schema(fields)


def headers_type() -> "pa.DataType":
    """``array<struct<key: string, value: binary>>`` as an Arrow type."""
    import pyarrow as pa

    return pa.list_(pa.struct([pa.field("key", pa.string()), pa.field("value", pa.binary())]))


def __getattr__(name: str):
    # KAFKA_SCHEMA is built on first access so importing this module does not import pyarrow.
    if name == "KAFKA_SCHEMA":
        return kafka_schema(False)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _to_batch(msgs: list, include_headers: bool, topic: str, partition: int) -> "pa.RecordBatch":
    """Records of one partition as a batch (topic and partition are constant columns).

    The columns are built by Polars from the messages' fields (C-level ``map`` over the
    ``Message`` methods, no per-record Python frame) and handed to Arrow without copying the
    values; ``pa.array`` over Python lists is avoided because its first call imports pandas
    (about half a second of CPU a run would otherwise spend on a library it never uses).
    """
    import polars as pl
    import pyarrow as pa
    from confluent_kafka import Message

    kinds, stamps = zip(*map(Message.timestamp, msgs)) if msgs else ((), ())
    kind = pl.col("kind")
    frame = pl.DataFrame(
        [
            pl.Series("key", list(map(Message.key, msgs)), pl.Binary),
            pl.Series("value", list(map(Message.value, msgs)), pl.Binary),
            pl.Series("offset", list(map(Message.offset, msgs)), pl.Int64),
            pl.Series("stamp", stamps, pl.Int64),
            pl.Series("kind", kinds, pl.Int32),
        ]
    ).select(
        "key",
        "value",
        pl.lit(topic, pl.String).alias("topic"),
        pl.lit(partition, pl.Int32).alias("partition"),
        "offset",
        # librdkafka: (0, -1) when the record has no timestamp; Spark's column is null then
        pl.when(kind != 0).then(pl.col("stamp") * 1000).cast(pl.Datetime("us", "UTC")).alias("timestamp"),
        # librdkafka's timestamp types 0/1/2 -> Java's TimestampType ids -1/0/1
        pl.when(kind.is_in([1, 2])).then(kind - 1).otherwise(-1).cast(pl.Int32).alias("timestampType"),
    )
    table = frame.to_arrow(compat_level=pl.CompatLevel.oldest()).cast(kafka_schema(False))
    columns = [c.combine_chunks() for c in table.columns]
    if include_headers:
        raw = [m.headers() for m in msgs]
        columns.append(
            pa.array(
                [[{"key": k, "value": v} for k, v in h] if h else None for h in raw],
                headers_type(),
            )
        )
    return pa.RecordBatch.from_arrays(columns, schema=kafka_schema(include_headers))


def _is_transient(err) -> bool:
    from confluent_kafka import KafkaError

    return err.code() in (KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN) or (
        err.retriable() and not err.fatal()
    )


def _error_text(key: TopicPartition, offset: int, err) -> str:
    from confluent_kafka import KafkaError

    text = f"{key[0]}[{key[1]}]@{offset}: read failed: {err.str()}"
    if err.code() in (KafkaError._AUTO_OFFSET_RESET, KafkaError.OFFSET_OUT_OF_RANGE):
        text += " (the offset is out of range: deleted by retention or not yet written)"
    return text


def _at_log_end(consumer, pending: set, position: dict, work: dict) -> list[TopicPartition]:
    """Pending partitions whose next offset reached the high watermark of the last fetch.

    Finishes ranges without waiting for an empty fetch; raises when the start offset lies
    past the log end (Apache Kafka reports that as OFFSET_OUT_OF_RANGE, Tansu does not).
    """
    from confluent_kafka import TopicPartition as KTP

    done = []
    for key in list(pending):
        _low, high = consumer.get_watermark_offsets(KTP(*key), cached=True)
        if high is None or high < 0 or position[key] < high:
            continue
        start = work[key][0]
        if position[key] == start and start > high:
            raise KafkaReadError(
                f"{key[0]}[{key[1]}]@{start}: start offset is past the end of the log ({high})"
            )
        pending.discard(key)
        done.append(key)
    return done


@contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a consume() result is turned into Arrow.

    Every ``Message`` is a GC-tracked object: tens of thousands of them per batch trigger
    collections that traverse the whole heap again and again (about a sixth of a replay's CPU
    on a large topic), while the loop creates no reference cycles (everything it allocates is
    freed by reference counting once the batch is built). Collection is enabled again before
    the batch is handed out, also when reading fails.
    """
    import gc

    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _route(msgs: list, pending: set, work: dict) -> tuple[dict, list, object, bool]:
    """Sort one ``consume()`` result: per partition the records in its range (offset order),
    the partitions finished, the last transient error, and whether any record arrived.

    A result without errors (the common case) is split into runs of one partition and each
    run is cut to its range by bisecting its offsets: no per-record Python frame.
    """
    from confluent_kafka import Message

    kept: dict[TopicPartition, list] = {}
    finished: list[TopicPartition] = []
    errors = list(map(Message.error, msgs))
    if any(e is not None for e in errors):  # (KafkaError == None raises: no list.count)
        return _route_slow(msgs, errors, pending, work)
    topics = {t for t, _p in work}
    if len(topics) == 1:  # only assigned partitions deliver: the topic is known
        (topic,) = topics
        parts = list(map(Message.partition, msgs))
        if parts and parts.count(parts[0]) == len(parts):
            runs: Iterable = [((topic, parts[0]), msgs)]
        else:
            runs = (((topic, p), list(run)) for p, run in groupby(msgs, Message.partition))
    else:
        runs = ((key, list(run)) for key, run in groupby(msgs, lambda m: (m.topic(), m.partition())))
    for key, run in runs:
        if key not in pending:
            continue
        start, end = work[key]
        offsets = list(map(Message.offset, run))
        lo, hi = bisect_left(offsets, start), bisect_left(offsets, end)
        kept.setdefault(key, []).extend(run[lo:hi])
        if hi < len(offsets) or (hi > lo and offsets[hi - 1] == end - 1):
            pending.discard(key)
            finished.append(key)
    return kept, finished, None, bool(msgs)


def _route_slow(msgs: list, errors: list, pending: set, work: dict) -> tuple[dict, list, object, bool]:
    """:func:`_route` record by record, for a result holding errors (end of partition, fetch errors)."""
    from confluent_kafka import KafkaError

    kept: dict[TopicPartition, list] = {}
    finished: list[TopicPartition] = []
    transient = None
    current, bucket, start, end = None, None, 0, 0
    for msg, err in zip(msgs, errors):
        if err is not None:
            key = (msg.topic(), msg.partition())
            if err.code() == KafkaError._PARTITION_EOF:
                if key in pending:
                    pending.discard(key)
                    finished.append(key)
                    if key == current:
                        bucket = None
                continue
            if _is_transient(err):
                transient = err
                continue
            raise KafkaReadError(_error_text(key, msg.offset(), err))
        key = (msg.topic(), msg.partition())
        if key != current:  # records come in runs of one partition
            current = key
            bucket = kept.setdefault(key, []) if key in pending else None
            if bucket is not None:
                start, end = work[key]
        if bucket is None:
            continue
        offset = msg.offset()
        if offset >= end:
            pending.discard(key)
            finished.append(key)
            bucket = None
            continue
        if offset < start:
            continue
        bucket.append(msg)
        if offset == end - 1:
            pending.discard(key)
            finished.append(key)
            bucket = None
    return kept, finished, transient, any(e is None for e in errors)


def iter_range_batches(
    conf: dict,
    ranges: Mapping[TopicPartition, tuple[int, int]],
    include_headers: bool = False,
    batch_size: int = 10000,
    idle_timeout: float | None = _IDLE_TIMEOUT_S,
) -> Iterator["pa.RecordBatch"]:
    """Yield every record with ``start <= offset < end`` of each partition as record batches.

    Within a partition records come in offset order; batches may interleave partitions.
    Raises :class:`KafkaReadError` naming topic, partition and offset when a start offset is
    out of range (deleted by retention) or a fetch fails, and when nothing arrives for
    ``idle_timeout`` seconds (default :func:`~kappa.kafka.client.kafka_timeout_s`) while
    partitions are still unfinished -- :class:`~kappa.kafka.client.BrokerUnreachable` when the
    broker could not be reached meanwhile.
    """
    from confluent_kafka import Consumer
    from confluent_kafka import TopicPartition as KTP

    from kappa.kafka.client import kafka_timeout_s, last_broker_error, unreachable

    if idle_timeout is None:
        idle_timeout = kafka_timeout_s()
    work = {(str(t), int(p)): (int(s), int(e)) for (t, p), (s, e) in ranges.items()}
    for (topic, part), (start, _end) in work.items():
        if start < 0:
            raise KafkaReadError(f"{topic}[{part}]: start offset {start} is not a real offset")
    pending = {tp for tp, (s, e) in work.items() if e > s}
    if not pending:
        return
    cconf = consumer_config(
        conf, **{"enable.partition.eof": True, "auto.offset.reset": "error"}
    )
    consumer = Consumer(cconf)
    try:
        consumer.incremental_assign([KTP(t, p, work[(t, p)][0]) for t, p in sorted(pending)])
        position = {tp: work[tp][0] for tp in pending}  # next offset expected
        last_progress = time.monotonic()
        transient = None  # the last retriable error since the last progress
        while pending:
            with _gc_paused():
                msgs = consumer.consume(num_messages=batch_size, timeout=_POLL_TIMEOUT_S)
                kept, finished, error, progress = _route(msgs, pending, work)
                msgs = None
                if error is not None:
                    transient = error
                for key, records in kept.items():
                    if records:
                        position[key] = records[-1].offset() + 1
                batches = [_to_batch(records, include_headers, t, p) for (t, p), records in kept.items() if records]
                kept = None
            finished.extend(_at_log_end(consumer, pending, position, work))
            # error messages are no progress: a broker that stays down must not keep it alive
            if finished or progress:
                last_progress, transient = time.monotonic(), None
            elif time.monotonic() - last_progress > idle_timeout:
                if transient is not None or last_broker_error(cconf) is not None:
                    raise unreachable(cconf, idle_timeout)
                names = ", ".join(f"{t}[{p}]" for t, p in sorted(pending))
                raise KafkaReadError(
                    f"no records or end-of-partition for {idle_timeout:.0f}s from {names}"
                )
            if finished and pending:
                consumer.incremental_unassign([KTP(t, p) for t, p in finished])
            yield from batches
    finally:
        consumer.close()


def read_range(
    conf: dict,
    ranges: Mapping[TopicPartition, tuple[int, int]],
    include_headers: bool = False,
    batch_size: int = 10000,
) -> "pa.Table":
    """Read every record with ``start <= offset < end`` per partition into one Arrow table,
    ordered by topic, partition, offset. See :func:`iter_range_batches`."""
    import pyarrow as pa

    schema = kafka_schema(include_headers)
    batches = list(iter_range_batches(conf, ranges, include_headers, batch_size))
    table = pa.Table.from_batches(batches, schema=schema)
    if table.num_rows > 1 and len(ranges) > 1:
        table = table.sort_by(
            [("topic", "ascending"), ("partition", "ascending"), ("offset", "ascending")]
        )
    return table
