"""Partition listing and offset resolution (earliest, true end, Spark ``startingOffsets`` specs).

End offsets are read from FETCH responses, not from ListOffsets: Tansu answers ListOffsets
"latest" with the last batch's base offset + 1 when the producer batched records, while the
high watermark carried by fetch responses and PARTITION_EOF are right. The method used here is
exact on Apache Kafka too (see :func:`end_offsets`).
"""

from __future__ import annotations

import json
import math
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Union

from kappa.errors import KappaError

TopicPartition = tuple[str, int]

EARLIEST = -2
LATEST = -1
#: None: wait kappa.kafka.client.kafka_timeout_s() (KAPPA_KAFKA_TIMEOUT_S, default 15 s).
_DEFAULT_TIMEOUT_S: float | None = None


class OffsetError(KappaError):
    """Offsets or partitions could not be resolved."""


def _timeout(timeout: float | None) -> float:
    from kappa.kafka.client import kafka_timeout_s

    return kafka_timeout_s() if timeout is None else timeout


def _raise_unreachable(conf: Mapping[str, Any], exc: BaseException, timeout: float, client: Any) -> None:
    from kappa.kafka.client import is_unreachable, unreachable

    if is_unreachable(exc):
        raise unreachable(conf, timeout, client) from None


def consumer_config(conf: Mapping[str, Any], **overrides: Any) -> dict:
    """A group-less consumer config for assign()-based reads (no commits, no group joins)."""
    out = dict(conf)
    out.setdefault("group.id", f"kappa-reader-{uuid.uuid4().hex[:12]}")
    out.setdefault("isolation.level", "read_uncommitted")
    out["enable.auto.commit"] = False
    out["enable.auto.offset.store"] = False
    out.setdefault("auto.offset.reset", "earliest")
    # Bounded reads want the empty fetch at the log end (PARTITION_EOF) back promptly.
    out.setdefault("fetch.wait.max.ms", 100)
    out.update(overrides)
    return out


def list_partitions(
    conf: Mapping[str, Any], topics: Sequence[str], timeout: float | None = _DEFAULT_TIMEOUT_S
) -> list[TopicPartition]:
    """Every (topic, partition) of ``topics``, sorted. Raises naming a topic that does not exist."""
    from kappa.kafka.client import list_topics

    if isinstance(topics, str):
        topics = [topics]
    meta = list_topics(conf, timeout)
    out: list[TopicPartition] = []
    for topic in dict.fromkeys(topics):
        tmeta = meta.topics.get(topic)
        if tmeta is None or tmeta.error is not None or not tmeta.partitions:
            reason = f" ({tmeta.error.str()})" if tmeta is not None and tmeta.error else ""
            raise OffsetError(
                f"topic {topic!r} does not exist on {conf.get('bootstrap.servers')}{reason}"
            )
        out.extend((topic, p) for p in tmeta.partitions)
    return sorted(out)


def earliest_offsets(
    conf: Mapping[str, Any], tps: Sequence[TopicPartition], timeout: float | None = _DEFAULT_TIMEOUT_S
) -> dict[TopicPartition, int]:
    """The log start offset of each partition (ListOffsets "earliest")."""
    from confluent_kafka import Consumer, KafkaException
    from confluent_kafka import TopicPartition as KTP

    result: dict[TopicPartition, int] = {}
    if not tps:
        return result
    timeout = _timeout(timeout)
    consumer = Consumer(consumer_config(conf))
    try:
        for topic, partition in tps:
            try:
                low, _high = consumer.get_watermark_offsets(
                    KTP(topic, partition), timeout=timeout, cached=False
                )
            except KafkaException as exc:
                _raise_unreachable(conf, exc, timeout, consumer)
                raise OffsetError(
                    f"{topic}[{partition}]: cannot read the earliest offset: {exc}"
                ) from exc
            result[(topic, partition)] = int(low)
    finally:
        consumer.close()
    return result


def end_offsets(
    conf: Mapping[str, Any], tps: Sequence[TopicPartition], timeout: float | None = _DEFAULT_TIMEOUT_S
) -> dict[TopicPartition, int]:
    """The end offset of each partition: the offset the next produced record will get
    (see :func:`log_bounds`)."""
    return {tp: end for tp, (_low, end) in log_bounds(conf, tps, timeout).items()}


def log_bounds(
    conf: Mapping[str, Any], tps: Sequence[TopicPartition], timeout: float = _DEFAULT_TIMEOUT_S
) -> dict[TopicPartition, tuple[int, int]]:
    """``(earliest, end)`` of each partition: the log start offset and the true end offset.

    With ``isolation.level=read_uncommitted`` (the default here, as in Spark) that is the high
    watermark; with ``read_committed`` it is the last stable offset. Method: ListOffsets gives a
    candidate ``c`` that is exact on Apache Kafka and too low on Tansu. Each partition is
    assigned at ``max(low, c - 1)`` and fetched: the first message's fetch response carries the
    exact high watermark (``get_watermark_offsets(cached=True)``); PARTITION_EOF gives the end
    position directly (empty partitions, read_committed, ends past compaction gaps or
    transaction markers). At most one record per partition is read on Apache Kafka.
    """
    from confluent_kafka import Consumer, KafkaError, KafkaException
    from confluent_kafka import TopicPartition as KTP

    result: dict[TopicPartition, int] = {}
    lows: dict[TopicPartition, int] = {}
    if not tps:
        return {}
    timeout = _timeout(timeout)
    cconf = consumer_config(conf, **{"enable.partition.eof": True})
    read_committed = str(cconf.get("isolation.level")) == "read_committed"
    consumer = Consumer(cconf)
    try:
        starts: list = []
        for topic, partition in tps:
            ktp = KTP(topic, partition)
            try:
                low, high = consumer.get_watermark_offsets(ktp, timeout=timeout, cached=False)
            except KafkaException as exc:
                _raise_unreachable(conf, exc, timeout, consumer)
                raise OffsetError(f"{topic}[{partition}]: cannot read offsets: {exc}") from exc
            lows[(topic, partition)] = int(low)
            starts.append(KTP(topic, partition, max(int(low), int(high) - 1, 0)))
        consumer.assign(starts)
        pending = {(s.topic, s.partition) for s in starts}
        deadline = time.monotonic() + timeout
        while pending:
            if time.monotonic() > deadline:
                names = ", ".join(f"{t}[{p}]" for t, p in sorted(pending))
                raise OffsetError(f"timed out after {timeout:.0f}s reading the end of {names}")
            for msg in consumer.consume(num_messages=1000, timeout=0.05):
                key = (msg.topic(), msg.partition())
                if key not in pending:
                    continue
                err = msg.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        result[key] = int(msg.offset())
                        pending.discard(key)
                        continue
                    raise OffsetError(
                        f"{key[0]}[{key[1]}]: fetch failed while reading the end offset: "
                        f"{err.str()}"
                    )
                if read_committed:
                    continue  # keep reading: PARTITION_EOF marks the last stable offset
                _low, hw = consumer.get_watermark_offsets(KTP(*key), cached=True)
                if hw is not None and hw >= 0:
                    result[key] = max(int(hw), int(msg.offset()) + 1)
                    pending.discard(key)
    finally:
        consumer.close()
    return {tp: (lows[tp], result[tp]) for tp in tps}


StartingOffsets = Union[str, Mapping[str, Mapping[str, int]]]


def _parse_spec(spec: StartingOffsets) -> str | dict[str, dict[int, int]]:
    if isinstance(spec, str):
        text = spec.strip()
        if text.lower() in ("earliest", "latest"):
            return text.lower()
        try:
            spec = json.loads(text)
        except json.JSONDecodeError as exc:
            raise OffsetError(
                f"startingOffsets must be 'earliest', 'latest' or JSON like "
                f'{{"topic": {{"0": 23, "1": -2}}}}; got {spec!r}'
            ) from exc
    if not isinstance(spec, Mapping):
        raise OffsetError(f"startingOffsets JSON must be an object per topic; got {spec!r}")
    parsed: dict[str, dict[int, int]] = {}
    for topic, parts in spec.items():
        if not isinstance(parts, Mapping):
            raise OffsetError(f"startingOffsets for topic {topic!r} must map partition -> offset")
        parsed[str(topic)] = {}
        for part, offset in parts.items():
            try:
                p, o = int(part), int(offset)
            except (TypeError, ValueError) as exc:
                raise OffsetError(
                    f"startingOffsets {topic!r}: partition {part!r} -> {offset!r} is not a number"
                ) from exc
            if o < EARLIEST:
                raise OffsetError(
                    f"startingOffsets {topic}[{p}]: {o} is not an offset (-2 earliest, -1 latest)"
                )
            parsed[str(topic)][p] = o
    return parsed


def resolve_starting_offsets(
    conf: Mapping[str, Any], tps: Sequence[TopicPartition], spec: StartingOffsets
) -> dict[TopicPartition, int]:
    """Resolve a Spark ``startingOffsets`` spec to concrete offsets for ``tps``.

    ``spec`` is ``"earliest"``, ``"latest"`` or Spark's JSON form (dict or string)
    ``{topic: {"0": 23, "1": -2}}`` with -2 = earliest and -1 = latest. Partitions absent
    from the JSON start at earliest. Explicit offsets are used as given.
    """
    parsed = _parse_spec(spec)
    tps = list(tps)
    if parsed == "earliest":
        return earliest_offsets(conf, tps)
    if parsed == "latest":
        return end_offsets(conf, tps)
    assert isinstance(parsed, dict)
    known = set(tps)
    for topic, parts in parsed.items():
        for p in parts:
            if (topic, p) not in known:
                raise OffsetError(
                    f"startingOffsets names {topic}[{p}], which is not among the partitions read"
                )
    wanted = {tp: parsed.get(tp[0], {}).get(tp[1], EARLIEST) for tp in tps}
    need_earliest = [tp for tp, o in wanted.items() if o == EARLIEST]
    need_latest = [tp for tp, o in wanted.items() if o == LATEST]
    earliest = earliest_offsets(conf, need_earliest)
    latest = end_offsets(conf, need_latest)
    out: dict[TopicPartition, int] = {}
    for tp, o in wanted.items():
        out[tp] = earliest[tp] if o == EARLIEST else latest[tp] if o == LATEST else o
    return out


def starting_from_bounds(
    spec: StartingOffsets, bounds: Mapping[TopicPartition, tuple[int, int]]
) -> dict[TopicPartition, int]:
    """:func:`resolve_starting_offsets` over bounds already read (:func:`log_bounds`): no
    broker call, and "latest" is the same end the batch is bounded by."""
    parsed = _parse_spec(spec)
    if parsed in ("earliest", "latest"):
        return {tp: (low if parsed == "earliest" else end) for tp, (low, end) in bounds.items()}
    assert isinstance(parsed, dict)
    for topic, parts in parsed.items():
        for p in parts:
            if (topic, p) not in bounds:
                raise OffsetError(
                    f"startingOffsets names {topic}[{p}], which is not among the partitions read"
                )
    out: dict[TopicPartition, int] = {}
    for tp, (low, end) in bounds.items():
        o = parsed.get(tp[0], {}).get(tp[1], EARLIEST)
        out[tp] = low if o == EARLIEST else end if o == LATEST else o
    return out


def mentions_latest(spec: StartingOffsets) -> bool:
    """Whether a starting spec resolves any partition to "latest" (a moving target that must
    be decided once and kept)."""
    parsed = _parse_spec(spec)
    if isinstance(parsed, str):
        return parsed == "latest"
    return any(o == LATEST for parts in parsed.values() for o in parts.values())


def rate_limit(
    start: Mapping[tuple[str, int], int], end: Mapping[tuple[str, int], int], limit: int
) -> dict[tuple[str, int], int]:
    """Spark's ``maxOffsetsPerTrigger`` split: each partition advances in proportion to its
    backlog, at least one offset when it has any, never past ``end``."""
    sizes = {tp: e - start.get(tp, e) for tp, e in end.items()}
    sizes = {tp: s for tp, s in sizes.items() if s > 0}
    total = float(sum(sizes.values()))
    if total < 1:
        return dict(end)
    out = {}
    for tp, e in end.items():
        if tp not in sizes:
            out[tp] = e
            continue
        prorate = limit * (sizes[tp] / total)
        step = math.ceil(prorate) if prorate < 1 else math.floor(prorate)
        out[tp] = min(e, start[tp] + int(step))
    return out
