"""Typed descriptions of what one batch reads (the replay checkpoint's ``offsets/<id>.json``).

Design. The Polars engine plans each batch's range before reading it and records it in its
write-ahead log (:mod:`kappa.engines.polars.state`). Each kind of range is a frozen dataclass;
:meth:`to_json` gives exactly the JSON kappa has always written (``{"kind": ..., ...}``, same
keys in the same order) and :func:`batch_from_json` reads it back, so existing checkpoints keep
resuming. Kafka offsets keep Spark's shape ``{topic: {"partition": offset}}``. Each kind of
range lives with its source kind (:mod:`kappa.connectors`), which reads it back
(``batch_from_json``); the stored ``kind`` is the source plan's.

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

from kappa.connectors.delta import DeltaRange, DeltaSnapshot
from kappa.connectors.files import FileBatch
from kappa.connectors.kafka import KafkaRange
from kappa.connectors.node import MemoryBatch
from kappa.connectors.registry import batch_kind
from kappa.errors import KappaError


@dataclass(frozen=True)
class NoSourceBatch:
    """A node without a source: one batch of no rows."""

    kind: ClassVar[str] = "none"

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind}


BatchDescription = Union[NoSourceBatch, MemoryBatch, FileBatch, DeltaSnapshot, DeltaRange, KafkaRange]


def batch_from_json(data: Mapping[str, Any] | None) -> BatchDescription | None:
    """The typed description of a stored ``offsets`` entry (None stays None)."""
    if data is None:
        return None
    kind = data.get("kind")
    if kind == "none":
        return NoSourceBatch()
    source = batch_kind(str(kind))
    if source is None or source.batch_from_json is None:
        raise KappaError(f"cannot read a batch description of kind {kind!r}")
    return source.batch_from_json(data)


def batch_to_json(batch: BatchDescription | Mapping[str, Any]) -> dict[str, Any]:
    """The JSON of a description (a mapping, as older callers pass, is kept as it is)."""
    return dict(batch) if isinstance(batch, Mapping) else batch.to_json()
