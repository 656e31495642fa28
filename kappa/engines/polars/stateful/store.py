"""The state store of a stateful node on Polars: one folder per batch under the replay checkpoint.

Layout (under ``<layout.replay>/``)::

    state/<batch_id>/meta.json       {"batch_id", "watermark", "next_watermark", "max_event_time", "operators": {...}}
    state/<batch_id>/op<i>.parquet   operator ``i``'s state (dedup keys, or partial aggregates per group)

``watermark`` is the watermark batch ``batch_id`` evicted with (Spark's ``batchWatermarkMs``,
in microseconds) and ``next_watermark`` the one the next batch will evict with; the next batch
drops late rows with ``watermark`` (Spark 3.4+: late events are judged by the previous batch's
watermark). ``max_event_time`` is the largest event time seen at the ``with_watermark`` step.

Crash safety. Batch N's state is written BEFORE batch N's commit file: to a temporary sibling
folder, every file fsynced, then renamed into place (a leftover ``state/N`` of a crashed
attempt is replaced). A batch always starts from the state of the newest COMMITTED batch, so a
re-run of a pending batch after ``kill -9`` anywhere recomputes the same state and output.
After a save, versions older than the previous one are pruned (the previous stays: the new one
is not committed yet). ``--full-refresh`` removes the whole replay folder, state included.

On an ``s3://`` checkpoint root :func:`open_store` gives the object-store twin of this store
(:mod:`kappa.engines.polars.stateful.remote_store`): same layout, atomic by its last object.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from kappa.faults import failpoint

if TYPE_CHECKING:  # pragma: no cover
    import polars as pl

STATE_DIR = "state"


@dataclass
class StateSnapshot:
    """A node's state after one batch (or the empty state before the first)."""

    batch_id: int | None = None
    watermark: int = 0
    next_watermark: int = 0
    max_event_time: int | None = None
    frames: dict[str, "pl.DataFrame"] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return sum(f.height for f in self.frames.values())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def open_store(replay_root: str) -> "StateStore":
    """The state store under a node's replay folder: local, or on an object store."""
    from kappa.checkpoint.objects import is_remote

    if is_remote(replay_root):
        from kappa.engines.polars.stateful.remote_store import RemoteStateStore

        return RemoteStateStore(replay_root)  # type: ignore[return-value]
    return StateStore(replay_root)


class StateStore:
    """Reads and writes :class:`StateSnapshot` versions under ``<replay>/state/``."""

    def __init__(self, replay_root: str | os.PathLike):
        self.root = Path(replay_root) / STATE_DIR

    def versions(self) -> list[int]:
        if not self.root.is_dir():
            return []
        return sorted(int(p.name) for p in self.root.iterdir() if p.is_dir() and p.name.isdigit())

    def load(self, batch_id: int | None) -> StateSnapshot:
        """The state saved by committed batch ``batch_id`` (None, or no state saved: empty)."""
        import polars as pl

        if batch_id is None:
            return StateSnapshot()
        folder = self.root / str(batch_id)
        meta_path = folder / "meta.json"
        if not meta_path.exists():
            return StateSnapshot()
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        frames = {name: pl.read_parquet(folder / info["file"]) for name, info in meta["operators"].items()}
        return StateSnapshot(batch_id, int(meta["watermark"]), int(meta["next_watermark"]), meta.get("max_event_time"), frames)

    def save(self, batch_id: int, snap: StateSnapshot) -> int:
        """Write batch ``batch_id``'s state atomically; returns its size in bytes."""
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f".{batch_id}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
        tmp.mkdir()
        operators, size = {}, 0
        for name, frame in snap.frames.items():
            path = tmp / f"{name}.parquet"
            frame.write_parquet(path, compression="lz4")  # fast to write: it is rewritten every batch
            with open(path, "rb") as fh:
                os.fsync(fh.fileno())
            size += path.stat().st_size
            operators[name] = {"file": path.name, "rows": frame.height}
        meta = {"batch_id": batch_id, "watermark": snap.watermark, "next_watermark": snap.next_watermark,
                "max_event_time": snap.max_event_time, "operators": operators}
        with open(tmp / "meta.json", "w", encoding="utf-8") as fh:
            fh.write(json.dumps(meta, sort_keys=True))
            fh.flush()
            os.fsync(fh.fileno())
        _fsync_dir(tmp)
        failpoint("state_before_rename")
        final = self.root / str(batch_id)
        if final.exists():  # a crashed attempt of this batch
            shutil.rmtree(final)
        os.replace(tmp, final)
        _fsync_dir(self.root)
        self.prune(batch_id)
        return size

    def size(self, batch_id: int) -> int:
        """Bytes of the state files batch ``batch_id`` saved."""
        folder = self.root / str(batch_id)
        return sum(p.stat().st_size for p in folder.glob("*.parquet")) if folder.is_dir() else 0

    def prune(self, newest: int) -> None:
        """Remove versions older than the one before ``newest``, and stray temporary folders."""
        versions = [v for v in self.versions() if v < newest]
        for v in versions[:-1]:
            shutil.rmtree(self.root / str(v), ignore_errors=True)
        for p in self.root.glob(".*.tmp"):
            shutil.rmtree(p, ignore_errors=True)
