"""The state store of a stateful node on an ``s3://`` checkpoint root (no renames there).

Design note. Same layout and meta as :mod:`kappa.engines.polars.stateful.store` (``state/<batch_id>/
meta.json`` naming each operator's Parquet file), written through :mod:`kappa.checkpoint.objects`.
Without a rename, a version is made atomic by its *last* object: every operator's Parquet file is
written first under a name unique to the attempt (``op<i>.<token>.parquet``), then ``meta.json``
(one PUT, atomic) names them. A reader loads only the files ``meta.json`` names, so a crashed
attempt's files are never read; and a batch only ever loads the state of the newest COMMITTED batch
(the batch commit object comes after ``meta.json``), so a re-run of a pending batch overwrites its
own ``meta.json`` with a complete new attempt. Pruning keeps the previous version, like the local
store, and deletes the files of crashed attempts.
"""

from __future__ import annotations

import io
import json
import uuid
from typing import TYPE_CHECKING

from kappa.faults import failpoint

if TYPE_CHECKING:  # pragma: no cover
    from kappa.engines.polars.stateful.store import StateSnapshot


class RemoteStateStore:
    """Reads and writes :class:`~kappa.engines.polars.stateful.store.StateSnapshot` versions under
    ``<replay>/state/`` on an object store."""

    def __init__(self, replay_root: str):
        from kappa.engines.polars.stateful.store import STATE_DIR

        self.root = f"{str(replay_root).rstrip('/')}/{STATE_DIR}"

    def versions(self) -> list[int]:
        from kappa.checkpoint import objects

        return sorted(int(n) for n in objects.folders(self.root) if n.isdigit())

    def _meta(self, batch_id: int) -> dict | None:
        from kappa.checkpoint import objects

        data = objects.get(f"{self.root}/{batch_id}/meta.json")
        return None if data is None else json.loads(data)

    def load(self, batch_id: int | None) -> "StateSnapshot":
        import polars as pl

        from kappa.checkpoint import objects
        from kappa.engines.polars.stateful.store import StateSnapshot

        meta = None if batch_id is None else self._meta(batch_id)
        if meta is None:
            return StateSnapshot()
        frames = {}
        for name, info in meta["operators"].items():
            data = objects.get(f"{self.root}/{batch_id}/{info['file']}")
            if data is None:
                raise FileNotFoundError(f"{self.root}/{batch_id}/{info['file']} (named by its meta.json) is missing")
            frames[name] = pl.read_parquet(io.BytesIO(data))
        return StateSnapshot(batch_id, int(meta["watermark"]), int(meta["next_watermark"]), meta.get("max_event_time"), frames)

    def save(self, batch_id: int, snap: "StateSnapshot") -> int:
        """Write batch ``batch_id``'s state (its files, then ``meta.json``); returns its size in bytes."""
        from kappa.checkpoint import objects

        token = uuid.uuid4().hex[:12]
        operators, size = {}, 0
        for name, frame in snap.frames.items():
            buf = io.BytesIO()
            frame.write_parquet(buf, compression="lz4")
            data = buf.getvalue()
            file = f"{name}.{token}.parquet"
            objects.put(f"{self.root}/{batch_id}/{file}", data)
            size += len(data)
            operators[name] = {"file": file, "rows": frame.height, "bytes": len(data)}
        meta = {"batch_id": batch_id, "watermark": snap.watermark, "next_watermark": snap.next_watermark,
                "max_event_time": snap.max_event_time, "operators": operators}
        failpoint("state_before_rename")
        objects.put(f"{self.root}/{batch_id}/meta.json", json.dumps(meta, sort_keys=True).encode())
        self.prune(batch_id)
        return size

    def size(self, batch_id: int) -> int:
        meta = self._meta(batch_id)
        return sum(int(info.get("bytes", 0)) for info in meta["operators"].values()) if meta else 0

    def prune(self, newest: int) -> None:
        """Remove versions older than the one before ``newest``, and files of crashed attempts."""
        from kappa.checkpoint import objects

        versions = [v for v in self.versions() if v < newest]
        for v in versions[:-1]:
            objects.delete_tree(f"{self.root}/{v}")
        meta = self._meta(newest)
        if meta is not None:
            keep = {info["file"] for info in meta["operators"].values()} | {"meta.json"}
            for name in objects.names(f"{self.root}/{newest}"):
                if name not in keep:
                    objects.delete_tree(f"{self.root}/{newest}/{name}")
