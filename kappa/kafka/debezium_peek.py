"""What the first records of a Debezium topic tell, before any pipeline runs.

Design note. Both users of the Debezium defaults need, at plan time, the keys and sequence of a
topic and the names in its envelopes: replication configs (:mod:`kappa.replication.discovery`,
which also fills the target path template from them) and the merge sinks of pipeline nodes
reading ``value_format: debezium`` (:mod:`kappa.cdc.sink_defaults`). :func:`peek_debezium` reads
up to :data:`PEEK_RECORDS` records per partition from the earliest offset, decodes them with
:func:`kappa.kafka.debezium.decode_debezium` and returns that batch with the first envelope's
``source`` block (connector, ``db``, ``schema``, ``table``). It lives in the Kafka layer because
it is a bounded Kafka read plus Debezium decoding; what a replication does with the names is
the front-end's business.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from kappa.kafka.debezium import DebeziumBatch

#: Records read per partition at compile time to learn keys, sequence and source names.
PEEK_RECORDS = 100


@dataclass(frozen=True)
class DebeziumPeek:
    """The decoded first records of a topic (None: no record) and the first envelope's
    ``source`` block (empty when no record has one)."""

    batch: "DebeziumBatch | None"
    source: dict = field(default_factory=dict)

    @property
    def connector(self) -> str | None:
        """Debezium's ``source.connector`` (``postgresql``, ``mysql``, ...), if told."""
        return self.source.get("connector")


def peek_debezium(conf: dict, topic: str, records: int = PEEK_RECORDS) -> DebeziumPeek:
    """Decode the first ``records`` records of each partition of ``topic`` (confluent-kafka
    settings ``conf``). Raises :class:`~kappa.kafka.offsets.OffsetError` when the topic does
    not exist."""
    from kappa.kafka.debezium import decode_debezium
    from kappa.kafka.offsets import earliest_offsets, end_offsets, list_partitions
    from kappa.kafka.reader import read_range

    tps = list_partitions(conf, [topic])
    lows, highs = earliest_offsets(conf, tps), end_offsets(conf, tps)
    ranges = {tp: (lows[tp], min(highs[tp], lows[tp] + records)) for tp in tps}
    raw = read_range(conf, ranges)
    source: dict = {}
    for value in raw.column("value").to_pylist():
        source = _source_block(value)
        if source:
            break
    batch = decode_debezium(raw) if raw.num_rows else None
    return DebeziumPeek(batch, source)


def _source_block(value: bytes | None) -> dict:
    if value is None:
        return {}
    try:
        doc = json.loads(value)
    except (ValueError, TypeError):
        return {}
    if isinstance(doc, dict) and "payload" in doc and "schema" in doc:
        doc = doc["payload"]
    src = doc.get("source") if isinstance(doc, dict) else None
    return src if isinstance(src, dict) else {}
