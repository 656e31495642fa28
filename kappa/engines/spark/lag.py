"""How far a streaming node's committed source offset is behind its source (Spark engine).

Pure functions over a Spark checkpoint's source offset (``kappa_kafka`` / Spark's Kafka source:
``{"topic": {"0": 12}}``; ``kappa_delta``: ``{"version": 3, "index": 0, ...}``) and what the
broker or the Delta log says now. The Kafka and Delta readers
(:mod:`kappa.engines.spark.connectors`) measure with them; ``kappa stream status`` and the idle
detection of ``stream start --until-idle`` show and use the result.
"""

from __future__ import annotations

from typing import Any

TopicPartition = tuple[str, int]


def kafka_offsets(offset: Any) -> dict[TopicPartition, int]:
    """A Kafka source offset (``{"topic": {"0": 12}}``) as ``{(topic, 0): 12}``."""
    if not isinstance(offset, dict):
        return {}
    return {(str(t), int(p)): int(o) for t, parts in offset.items() if isinstance(parts, dict) for p, o in parts.items()}


def kafka_lag(committed: dict[TopicPartition, int], ends: dict[TopicPartition, int], starts: dict[TopicPartition, int] | None = None) -> dict[TopicPartition, int]:
    """Per-partition lag: end offset minus committed offset (``starts`` for unread partitions)."""
    starts = starts or {}
    return {tp: max(0, end - committed.get(tp, starts.get(tp, 0))) for tp, end in sorted(ends.items())}


def delta_lag(offset: Any, latest_version: int | None) -> int | None:
    """Table versions not yet fully consumed by a kappa_delta offset (None: unknown)."""
    if latest_version is None or not isinstance(offset, dict) or "version" not in offset:
        return None
    return max(0, latest_version - int(offset["version"]) + 1)
