"""Offsets out of range: the one check both engines apply before reading (Spark's ``failOnDataLoss``).

A Kafka source resumes from offsets it committed in its checkpoint (or from explicit starting
offsets). Each must lie within the partition's log, ``earliest <= offset <= end``:

- past the end: the topic was deleted and re-created, truncated, or the broker lost its log
  (an embedded broker with memory storage restarts its offsets at 0). Reading on would wait
  for offsets the new log may reach much later, skipping everything written before;
- before the earliest offset: retention (or ``delete_records``) removed records that were
  never read;
- a partition read before that no longer exists.

With ``fail_on_data_loss`` (the default, as in Spark) the node stops with a
:class:`DataLossError` naming topic, partition, the offset and the broker's earliest and end
offsets. Without it, each such partition continues from its earliest available offset, a
warning is logged, and :attr:`Resumed.skipped` counts the offsets known to be lost (those
below the earliest offset; a re-created log is read from its start, so none of it is skipped).

``earliest`` comes from ListOffsets "earliest" and ``end`` from
:func:`kappa.kafka.offsets.log_bounds` (fetch high watermark, not ListOffsets "latest", which
Tansu answers wrongly).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from kappa.kafka.offsets import OffsetError, TopicPartition

log = logging.getLogger("kappa.kafka")

HINT = "set fail_on_data_loss: false (Spark option failOnDataLoss) to continue from the earliest offset"


@dataclass(frozen=True)
class OffsetGap:
    """One partition whose offset lies outside its log (``earliest``/``end`` None: the
    partition no longer exists)."""

    topic: str
    partition: int
    offset: int
    earliest: int | None
    end: int | None
    what: str = "committed offset"

    @property
    def skipped(self) -> int:
        """Offsets that can no longer be read (records deleted before they were read)."""
        if self.earliest is None or self.offset >= self.earliest:
            return 0
        return self.earliest - self.offset

    def describe(self) -> str:
        head = f"topic {self.topic!r} partition {self.partition}: {self.what} {self.offset}"
        if self.earliest is None or self.end is None:
            return f"{head} is in a partition that no longer exists: the topic was deleted or re-created with fewer partitions"
        if self.offset > self.end:
            return (
                f"{head} is past the log end {self.end} (earliest {self.earliest}): the topic was "
                "re-created, truncated or the broker lost its log"
            )
        return (
            f"{head} is before the earliest available offset {self.earliest} (log end {self.end}): "
            f"{self.skipped} offset(s) were deleted (retention) before they were read"
        )


class DataLossError(OffsetError):
    """Offsets out of range and ``fail_on_data_loss`` is true (exit code 1)."""

    def __init__(self, gaps: list[OffsetGap], node: str | None = None):
        self.gaps = gaps
        self.node = node
        prefix = f"node {node!r}: " if node else ""
        text = "; ".join(g.describe() for g in gaps)
        super().__init__(f"{prefix}{text}; {HINT}")


@dataclass(frozen=True)
class Resumed:
    """Offsets to read from, and the gaps found on the way (empty when all was in range)."""

    offsets: dict[TopicPartition, int]
    gaps: list[OffsetGap] = field(default_factory=list)

    @property
    def skipped(self) -> int:
        return sum(g.skipped for g in self.gaps)


def find_gaps(
    offsets: Mapping[TopicPartition, int],
    bounds: Mapping[TopicPartition, tuple[int, int]],
    what: str = "committed offset",
) -> list[OffsetGap]:
    """Partitions of ``offsets`` outside ``bounds`` (``{tp: (earliest, end)}``), sorted."""
    gaps = []
    for (topic, part), offset in sorted(offsets.items()):
        if (topic, part) not in bounds:
            gaps.append(OffsetGap(topic, part, int(offset), None, None, what))
            continue
        earliest, end = bounds[(topic, part)]
        if offset < earliest or offset > end:
            gaps.append(OffsetGap(topic, part, int(offset), int(earliest), int(end), what))
    return gaps


def resume_offsets(
    offsets: Mapping[TopicPartition, int],
    bounds: Mapping[TopicPartition, tuple[int, int]],
    *,
    fail_on_data_loss: bool = True,
    node: str | None = None,
    what: str = "committed offset",
) -> Resumed:
    """Where to read from: ``offsets`` where they are within ``bounds``; out-of-range ones raise
    :class:`DataLossError` or (``fail_on_data_loss`` false) continue from the earliest offset.
    Partitions that no longer exist are dropped (and reported). Partitions of ``bounds``
    missing from ``offsets`` are left to the caller (new partitions start at earliest)."""
    gaps = find_gaps(offsets, bounds, what)
    if gaps and fail_on_data_loss:
        raise DataLossError(gaps, node)
    out = {tp: int(o) for tp, o in offsets.items() if tp in bounds}
    prefix = f"node {node!r}: " if node else ""
    for gap in gaps:
        tp = (gap.topic, gap.partition)
        if gap.earliest is not None:
            out[tp] = gap.earliest
        where = f"offset {gap.earliest}" if gap.earliest is not None else "nothing (partition gone)"
        log.warning("%s%s; fail_on_data_loss is false: continuing from %s", prefix, gap.describe(), where)
    return Resumed(out, gaps)
