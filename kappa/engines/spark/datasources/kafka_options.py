"""Spark Kafka source options for ``kappa_kafka``: parsing, subscription, offset JSON, rate limit.

Option names and meanings are those of Spark's Kafka source (``kafka.bootstrap.servers``,
``subscribe``/``subscribePattern``/``assign``, ``startingOffsets``, ``endingOffsets``,
``maxOffsetsPerTrigger``, ``minPartitions``, ``includeHeaders``, ``failOnDataLoss`` and any
``kafka.*`` client setting). Offsets travel as Spark's JSON ``{"topic": {"0": 42}}``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

from kappa.engines.spark.datasources.initial import CHECKPOINT_OPTION
from kappa.engines.spark.decode_tasks import DECODE_OPTION
from kappa.engines.spark.datasources.options import SourceOptions
from kappa.errors import ConfigError
from kappa.kafka.offsets import rate_limit  # noqa: F401  (re-exported: the Kafka data source uses it)

TopicPartition = tuple[str, int]
SOURCE_NAME = "kappa_kafka"

# kafka.* settings Spark's Kafka source rejects (it manages them itself); same messages' gist.
_UNSUPPORTED_KAFKA = {
    "auto.offset.reset": "use the option startingOffsets",
    "enable.auto.commit": "the source does not commit offsets to Kafka",
    "key.deserializer": "keys are always binary; cast in a query",
    "value.deserializer": "values are always binary; cast in a query",
    "interceptor.classes": "consumer interceptors are not supported",
}

# Spark Kafka source options kappa_kafka does not implement: refused rather than ignored.
_UNSUPPORTED_OPTIONS = {
    k.lower(): k
    for k in (
        "startingOffsetsByTimestamp",
        "endingOffsetsByTimestamp",
        "startingTimestamp",
        "endingTimestamp",
        "minOffsetsPerTrigger",
        "maxTriggerDelay",
    )
}


@dataclass(frozen=True)
class KafkaOptions:
    """Validated options of one ``kappa_kafka`` read."""

    bootstrap_servers: str
    client_options: tuple[tuple[str, str], ...]  # kafka.* options, prefix kept
    subscribe: tuple[str, ...] = ()
    subscribe_pattern: str | None = None
    assign: tuple[TopicPartition, ...] = ()
    starting_offsets: str | None = None
    ending_offsets: str | None = None
    max_offsets_per_trigger: int | None = None
    min_partitions: int | None = None
    include_headers: bool = False
    fail_on_data_loss: bool = True
    checkpoint_location: str | None = None  # kept initial offset (see .initial)
    decode: str | None = None  # kappa's own: decode in the reader (kappa.engines.spark.decode)

    @classmethod
    def parse(cls, options: Mapping[str, object]) -> "KafkaOptions":
        """Validate Spark-style options (case-insensitive keys), as Spark's source does."""
        opts = SourceOptions.of(options, SOURCE_NAME)
        bootstrap = opts.get("kafka.bootstrap.servers")
        if not bootstrap:
            raise ConfigError(f"{SOURCE_NAME}: option 'kafka.bootstrap.servers' must be specified")
        client = tuple((k, v) for k, v in opts.items if k.startswith("kafka."))
        for key, _ in client:
            reason = _UNSUPPORTED_KAFKA.get(key[len("kafka.") :])
            if reason:
                raise ConfigError(
                    f"{SOURCE_NAME}: Kafka option '{key[6:]}' is not supported: {reason}"
                )
        for key in _UNSUPPORTED_OPTIONS:
            if opts.get(key):
                raise ConfigError(
                    f"{SOURCE_NAME}: option '{_UNSUPPORTED_OPTIONS[key]}' is not supported by the "
                    "python connector profile; use startingOffsets/endingOffsets JSON or the jvm "
                    "profile"
                )
        strategies = [k for k in ("subscribe", "subscribepattern", "assign") if opts.get(k)]
        if len(strategies) != 1:
            raise ConfigError(
                f"{SOURCE_NAME}: exactly one of the options 'subscribe', 'subscribePattern' or "
                f"'assign' must be specified (got {len(strategies)})"
            )
        subscribe = tuple(t.strip() for t in (opts.get("subscribe") or "").split(",") if t.strip())
        if opts.get("subscribe") and not subscribe:
            raise ConfigError(f"{SOURCE_NAME}: 'subscribe' names no topic")
        pattern = opts.get("subscribepattern")
        if pattern:
            try:
                re.compile(pattern)
            except re.error as exc:
                message = f"{SOURCE_NAME}: bad subscribePattern {pattern!r}: {exc}"
                raise ConfigError(message) from None
        max_offsets = opts.get_int("maxoffsetspertrigger")
        if max_offsets is not None and max_offsets <= 0:
            raise ConfigError(f"{SOURCE_NAME}: maxOffsetsPerTrigger must be positive")
        min_parts = opts.get_int("minpartitions")
        if min_parts is not None and min_parts <= 0:
            raise ConfigError(f"{SOURCE_NAME}: minPartitions must be positive")
        return cls(
            bootstrap_servers=bootstrap,
            client_options=client,
            subscribe=subscribe,
            subscribe_pattern=pattern or None,
            assign=_parse_assign(opts.get("assign")),
            starting_offsets=opts.get("startingoffsets"),
            ending_offsets=opts.get("endingoffsets"),
            max_offsets_per_trigger=max_offsets,
            min_partitions=min_parts,
            include_headers=opts.get_bool("includeheaders", False),
            fail_on_data_loss=opts.get_bool("failondataloss", True),
            checkpoint_location=opts.get(CHECKPOINT_OPTION) or None,
            decode=opts.get(DECODE_OPTION) or None,
        )

    def client_conf(self) -> dict:
        """The confluent-kafka config (``kafka.*`` options translated by kappa.kafka.client)."""
        from kappa.kafka.client import client_config

        return client_config(self.bootstrap_servers, dict(self.client_options))

    def topic_partitions(self, conf: Mapping | None = None) -> list[TopicPartition]:
        """The partitions to read now: subscribed topics' partitions, pattern matches or the
        assigned list (sorted)."""
        conf = self.client_conf() if conf is None else conf
        if self.assign:
            return sorted(self.assign)
        from kappa.kafka.offsets import list_partitions

        if self.subscribe:
            return list_partitions(conf, list(self.subscribe))
        return list_partitions(conf, matching_topics(conf, self.subscribe_pattern or ""))


def _parse_assign(text: str | None) -> tuple[TopicPartition, ...]:
    if not text:
        return ()
    try:
        spec = json.loads(text)
        out = [(str(t), int(p)) for t, parts in spec.items() for p in parts]
    except (ValueError, AttributeError, TypeError):
        raise ConfigError(
            f'{SOURCE_NAME}: assign must be JSON like {{"topicA":[0,1],"topicB":[2,4]}}, '
            f"got {text!r}"
        ) from None
    return tuple(sorted(set(out)))


def matching_topics(conf: Mapping, pattern: str, timeout: float | None = None) -> list[str]:
    """Topics whose whole name matches ``pattern`` (Java ``Pattern.matches`` semantics);
    internal topics (``__consumer_offsets``...) are left out. Waits at most ``timeout``
    (default: the Kafka timeout, ``KAPPA_KAFKA_TIMEOUT_S``) for a broker."""
    from kappa.kafka.client import list_topics

    regex = re.compile(pattern)
    meta = list_topics(conf, timeout)
    return sorted(t for t in meta.topics if not t.startswith("__") and regex.fullmatch(t))


def to_json_offsets(offsets: Mapping[TopicPartition, int]) -> dict[str, dict[str, int]]:
    """``{(topic, p): o}`` -> Spark's offset JSON object ``{"topic": {"p": o}}`` (sorted)."""
    out: dict[str, dict[str, int]] = {}
    for (topic, part), offset in sorted(offsets.items()):
        out.setdefault(topic, {})[str(part)] = int(offset)
    return out


def from_json_offsets(obj: Mapping | str) -> dict[TopicPartition, int]:
    """Spark's offset JSON (object or text) -> ``{(topic, p): o}``."""
    if isinstance(obj, str):
        obj = json.loads(obj)
    return {(str(t), int(p)): int(o) for t, parts in obj.items() for p, o in parts.items()}


def split_ranges(
    ranges: Mapping[TopicPartition, tuple[int, int]], min_partitions: int | None
) -> list[tuple[str, int, int, int]]:
    """One ``(topic, partition, start, end)`` per non-empty range, split further (by size,
    as Spark's ``minPartitions``) until there are at least ``min_partitions`` pieces."""
    items = [(t, p, s, e) for (t, p), (s, e) in sorted(ranges.items()) if e > s]
    if not min_partitions or len(items) >= min_partitions:
        return items
    total = sum(e - s for _, _, s, e in items)
    out = []
    for topic, part, start, end in items:
        pieces = max(1, min(end - start, round(min_partitions * (end - start) / total)))
        step = (end - start) / pieces
        bounds = [start + round(i * step) for i in range(pieces)] + [end]
        out.extend((topic, part, a, b) for a, b in zip(bounds, bounds[1:]) if b > a)
    return out
