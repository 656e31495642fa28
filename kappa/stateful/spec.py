"""The frozen, engine-neutral description of a streaming node's state (see the package doc).

A node is *stateful* when it reads a stream and its steps hold a watermark
(``with_watermark``), a streaming dedup (``unique`` / ``drop_duplicates`` /
``drop_duplicates_within_watermark``) or an aggregate SQL step (``GROUP BY``, possibly over
``window(...)`` / ``session_window(...)``). Step indices point into ``NodePlan.steps``.

Times are microseconds (Spark's timestamp unit); ``delay``/``size`` keep the text as written for
messages and fingerprints.

>>> w = WindowSpec(kind="tumbling", column="ts", size="1 hour", size_us=3_600_000_000)
>>> w.slide_us is None
True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

OutputMode = Literal["append", "update", "complete"]


@dataclass(frozen=True)
class WatermarkSpec:
    """``with_watermark(column, delay)`` at step ``step``."""

    step: int
    column: str
    delay: str
    delay_us: int


@dataclass(frozen=True)
class DedupSpec:
    """A streaming dedup at step ``step``: the first row of each ``subset`` key (None: all
    columns) over the whole stream survives; ``within_watermark`` bounds the state by the
    watermark (Spark's ``dropDuplicatesWithinWatermark``)."""

    step: int
    subset: tuple[str, ...] | None
    within_watermark: bool = False


@dataclass(frozen=True)
class WindowSpec:
    """A ``window(column, size[, slide[, start]])`` or ``session_window(column, gap)`` grouping key."""

    kind: Literal["tumbling", "sliding", "session"]
    column: str
    size: str | None = None
    size_us: int | None = None
    slide_us: int | None = None
    start_us: int = 0
    gap: str | None = None
    gap_us: int | None = None
    #: the slide as written (sliding windows)
    slide: str | None = None


@dataclass(frozen=True)
class AggregateCall:
    """One aggregate function call of an aggregate step (``count``, ``sum``, ``min``, ``max``,
    ``avg``, ``min_by``, ``max_by``), its argument SQL texts (``()`` for ``count(*)``), and the
    output column it is selected as when the SELECT item is the call itself (``count(*) AS n``)."""

    func: str
    args: tuple[str, ...]
    sql: str
    output: str | None = None


@dataclass(frozen=True)
class AggregateSpec:
    """An aggregate SQL step at ``step``: its grouping keys as output column names (the window
    struct's included, named ``window_output``), the window if any, and its aggregate calls.
    A window selected as its fields (``window.start AS hour``) instead of the whole struct has
    ``window_output`` None and ``window_fields`` ``(("hour", "start"),)`` (those names are keys)."""

    step: int
    keys: tuple[str, ...]
    window: WindowSpec | None = None
    window_output: str | None = None
    calls: tuple[AggregateCall, ...] = ()
    window_fields: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class StatefulPlan:
    """A streaming node's stateful operators, in step order, and its output mode."""

    output_mode: OutputMode
    watermark: WatermarkSpec | None = None
    operators: tuple[DedupSpec | AggregateSpec, ...] = field(default_factory=tuple)

    @property
    def aggregate(self) -> AggregateSpec | None:
        return next((op for op in self.operators if isinstance(op, AggregateSpec)), None)

    @property
    def upsert_keys(self) -> tuple[str, ...]:
        """The default keys of an upsert sink: the aggregate's grouping keys (window included)."""
        agg = self.aggregate
        return agg.keys if agg is not None else ()
