"""Which topics a replication mirrors, and what their first records tell.

Design note. Topics: ``source.topics`` is taken as given; ``source.topic_pattern`` is matched
(full match) against ``topics_available`` or, when that is None, the broker's topic list
(Kafka's internal ``__*`` topics never match). A CdcMerge needs its keys and sequence when the
node is built, so each topic's first records are decoded
(:func:`kappa.kafka.debezium_peek.peek_debezium`, up to :data:`PEEK_RECORDS` per partition);
they also tell the connector kind and the envelope's ``source.db`` / ``schema`` / ``table``,
which fill the names of :mod:`kappa.replication.naming`. Only this module talks to the broker.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kappa.kafka.debezium_peek import PEEK_RECORDS
from kappa.replication.naming import path_names

if TYPE_CHECKING:  # pragma: no cover
    from kappa.kafka.debezium import DebeziumBatch
    from kappa.models.replication import CdcReplication

@dataclass(frozen=True)
class TopicInfo:
    """What the first records of a topic tell: names for the path template and the batch."""

    topic: str
    names: dict[str, str | None]
    connector: str | None = None
    batch: "DebeziumBatch | None" = None


def match_topics(config: "CdcReplication", topics_available: list[str] | None = None) -> list[str]:
    """The topics to replicate, sorted (see the module doc)."""
    src = config.source
    if src.topics is not None:
        return list(dict.fromkeys(src.topics))
    if topics_available is None:
        from confluent_kafka.admin import AdminClient

        from kappa.kafka.client import kafka_conf

        meta = AdminClient(kafka_conf(src)).list_topics(timeout=30)
        topics_available = list(meta.topics)
    pattern = re.compile(src.topic_pattern or "")
    return sorted(t for t in topics_available if not t.startswith("__") and pattern.fullmatch(t))


def peek_topic(config: "CdcReplication", topic: str, records: int = PEEK_RECORDS) -> TopicInfo:
    """Decode the first ``records`` records of each partition of ``topic`` (see the module doc).
    Raises :class:`~kappa.kafka.offsets.OffsetError` when the topic does not exist."""
    from kappa.kafka.client import kafka_conf
    from kappa.kafka.debezium_peek import peek_debezium

    peek = peek_debezium(kafka_conf(config.source), topic, records)
    return TopicInfo(topic, path_names(topic, peek.connector, peek.source), peek.connector, peek.batch)
