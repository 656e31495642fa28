"""Typed descriptions of what one batch reads (the replay checkpoint's ``offsets/<id>.json``).

Design. The Polars engine plans each batch's range before reading it and records it in its
write-ahead log (:mod:`kappa.engines.polars.state`). Each kind of range is a frozen dataclass;
:meth:`to_json` gives exactly the JSON kappa has always written (``{"kind": ..., ...}``, same
keys in the same order) and :func:`batch_from_json` reads it back, so existing checkpoints keep
resuming. Kafka offsets keep Spark's shape ``{topic: {"partition": offset}}``.

>>> d = FileBatch(files=("a.json",), seen=("a.json",))
>>> d.to_json()
{'kind': 'file', 'files': ['a.json'], 'seen': ['a.json']}
>>> batch_from_json(d.to_json()) == d, batch_from_json({"kind": "delta", "version": None})
(True, DeltaSnapshot(version=None))
>>> batch_from_json({"kind": "delta", "start": 0, "end": 2})
DeltaRange(start=0, end=2)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Mapping, Union

from kappa.errors import KappaError


@dataclass(frozen=True)
class NoSourceBatch:
    """A node without a source: one batch of no rows."""

    kind: ClassVar[str] = "none"

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind}


@dataclass(frozen=True)
class MemoryBatch:
    """The in-memory output of an upstream node in this run."""

    kind: ClassVar[str] = "memory"

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind}


@dataclass(frozen=True)
class FileBatch:
    """Files to read; a stream also records every file ``seen`` so far."""

    files: tuple[str, ...]
    seen: tuple[str, ...] | None = None
    kind: ClassVar[str] = "file"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "files": list(self.files)}
        if self.seen is not None:
            out["seen"] = list(self.seen)
        return out


@dataclass(frozen=True)
class DeltaSnapshot:
    """A whole Delta table, at ``version`` (None: the latest)."""

    version: int | None = None
    kind: ClassVar[str] = "delta"

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "version": self.version}


@dataclass(frozen=True)
class DeltaRange:
    """The files Delta versions ``start..end`` (inclusive) added."""

    start: int
    end: int
    kind: ClassVar[str] = "delta"

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "start": self.start, "end": self.end}


@dataclass(frozen=True, eq=False)
class KafkaRange:
    """Kafka offsets ``start`` (inclusive) to ``end`` (exclusive), ``{topic: {"partition": offset}}``."""

    start: Mapping[str, Mapping[str, int]]
    end: Mapping[str, Mapping[str, int]]
    kind: ClassVar[str] = "kafka"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, KafkaRange) and self.to_json() == other.to_json()

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "start": _plain(self.start), "end": _plain(self.end)}


def _plain(offsets: Mapping[str, Mapping[str, int]]) -> dict[str, dict[str, int]]:
    return {str(t): {str(p): int(o) for p, o in parts.items()} for t, parts in offsets.items()}


BatchDescription = Union[NoSourceBatch, MemoryBatch, FileBatch, DeltaSnapshot, DeltaRange, KafkaRange]


def batch_from_json(data: Mapping[str, Any] | None) -> BatchDescription | None:
    """The typed description of a stored ``offsets`` entry (None stays None)."""
    if data is None:
        return None
    kind = data.get("kind")
    if kind == "none":
        return NoSourceBatch()
    if kind == "memory":
        return MemoryBatch()
    if kind == "file":
        seen = data.get("seen")
        return FileBatch(tuple(data["files"]), tuple(seen) if seen is not None else None)
    if kind == "delta":
        return DeltaRange(int(data["start"]), int(data["end"])) if "start" in data else DeltaSnapshot(data.get("version"))
    if kind == "kafka":
        return KafkaRange(_plain(data["start"]), _plain(data["end"]))
    raise KappaError(f"cannot read a batch description of kind {kind!r}")


def batch_to_json(batch: BatchDescription | Mapping[str, Any]) -> dict[str, Any]:
    """The JSON of a description (a mapping, as older callers pass, is kept as it is)."""
    return dict(batch) if isinstance(batch, Mapping) else batch.to_json()
