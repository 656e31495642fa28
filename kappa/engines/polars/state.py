"""The replay engine's checkpoint: a write-ahead log of batches, like Spark's.

Layout under ``<checkpoint>/replay/``::

    offsets/<batch_id>.json   what batch N reads (written BEFORE anything else of batch N)
    commits/<batch_id>.json   batch N is complete (written AFTER every sink of batch N)

A crash anywhere leaves either a committed batch or a planned one. On the next run, a planned
but uncommitted batch is run again over exactly the same range with the same batch id; the
sinks' idempotent commits (Delta app transactions keyed by batch id, part files named by batch
id) make the second attempt write nothing that the first already wrote.

Files are written to a temporary name (unique per process and thread), fsynced and renamed,
so a reader never sees half a file.

One writer at a time: the pipeline lock (:mod:`kappa.checkpoint.lock`) is held for the whole
run. So when a new batch is planned, the newest planned batch is the newest committed one (a
planned but uncommitted batch is re-run first, see :meth:`ReplayCheckpoint.pending`): the next
batch id (newest planned + 1) and the start offsets (the newest committed batch's end) describe
the same point. :meth:`ReplayCheckpoint.next_batch_id` checks that invariant and raises
:class:`CheckpointInconsistent` instead of planning a batch over a range already planned.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kappa.errors import KappaError

if TYPE_CHECKING:  # pragma: no cover
    from kappa.plan_layout import CheckpointLayout


class CheckpointInconsistent(KappaError):
    """The replay checkpoint's planned and committed batches disagree (two writers at once)."""


@dataclass(frozen=True)
class Batch:
    """A planned (or committed) batch: its id and what it reads."""

    batch_id: int
    offsets: dict[str, Any]


def _atomic_write(path: Path, payload: dict[str, Any]) -> None:
    from kappa.atomic import write_json

    write_json(path, payload, durable=True)


class ReplayCheckpoint:
    """Batch log of one node for the Polars engine."""

    def __init__(self, checkpoint_dir: "str | CheckpointLayout"):
        from kappa.checkpoint.objects import is_remote
        from kappa.plan_layout import CheckpointLayout

        layout = checkpoint_dir if isinstance(checkpoint_dir, CheckpointLayout) else CheckpointLayout(str(checkpoint_dir))
        self.remote = is_remote(layout.replay)
        self.root: Any = layout.replay if self.remote else Path(layout.replay)
        self.lease = layout.pipeline_lock

    def _ids(self, kind: str) -> list[int]:
        if self.remote:
            from kappa.checkpoint import objects

            return sorted(int(n[:-5]) for n in objects.names(f"{self.root}/{kind}") if n.endswith(".json") and n[:-5].isdigit())
        folder = self.root / kind
        if not folder.is_dir():
            return []
        return sorted(int(p.stem) for p in folder.glob("*.json") if p.stem.isdigit())

    def _read(self, kind: str, batch_id: int) -> dict[str, Any]:
        if self.remote:
            from kappa.checkpoint import objects

            return json.loads(objects.get(f"{self.root}/{kind}/{batch_id}.json") or b"null")
        return json.loads((self.root / kind / f"{batch_id}.json").read_text(encoding="utf-8"))

    def last_committed(self) -> Batch | None:
        """The newest committed batch, or None before the first commit."""
        commits = self._ids("commits")
        if not commits:
            return None
        return Batch(commits[-1], self._read("offsets", commits[-1]))

    def pending(self) -> Batch | None:
        """A batch that was planned but not committed (a crash or failure happened)."""
        offsets = self._ids("offsets")
        if not offsets:
            return None
        newest = offsets[-1]
        committed = newest in self._ids("commits") if self.remote else (self.root / "commits" / f"{newest}.json").exists()
        if committed:
            return None
        return Batch(newest, self._read("offsets", newest))

    def next_batch_id(self) -> int:
        """The id of the next batch to plan: newest planned + 1, which must be newest committed
        + 1 (see the module doc: with one writer there is no pending batch at this point)."""
        planned, committed = self._ids("offsets"), self._ids("commits")
        newest_planned = planned[-1] if planned else None
        newest_committed = committed[-1] if committed else None
        if newest_planned != newest_committed:
            raise CheckpointInconsistent(
                f"replay checkpoint {self.root}: newest planned batch is {newest_planned} but newest committed is "
                f"{newest_committed}; was it written by two runs at once? Run the pipeline again to re-run the planned batch"
            )
        return newest_planned + 1 if newest_planned is not None else 0

    def plan(self, batch_id: int, offsets: Any) -> Batch:
        """Record what batch ``batch_id`` reads (a :mod:`kappa.checkpoint.batches` description),
        before reading it."""
        from kappa.checkpoint.batches import batch_to_json

        payload = batch_to_json(offsets)
        if self.remote:
            self._create("offsets", batch_id, payload)
            return Batch(batch_id, payload)
        _atomic_write(self.root / "offsets" / f"{batch_id}.json", payload)
        return Batch(batch_id, payload)

    def commit(self, batch_id: int, info: dict[str, Any]) -> None:
        """Mark ``batch_id`` complete."""
        if self.remote:
            from kappa.checkpoint.lease import check_held

            check_held(self.lease)
            self._create("commits", batch_id, info)
            return
        _atomic_write(self.root / "commits" / f"{batch_id}.json", info)

    def last_commit_info(self) -> dict[str, Any] | None:
        commits = self._ids("commits")
        return self._read("commits", commits[-1]) if commits else None

    def reset(self) -> None:
        """Forget all progress (``--full-refresh``)."""
        if self.remote:
            from kappa.checkpoint import objects

            objects.delete_tree(self.root)
            return
        shutil.rmtree(self.root, ignore_errors=True)

    def _create(self, kind: str, batch_id: int, payload: dict[str, Any]) -> None:
        """Create ``<kind>/<batch_id>.json`` on the object store with a conditional put."""
        from kappa.checkpoint import objects

        uri = f"{self.root}/{kind}/{batch_id}.json"
        if not objects.create(uri, json.dumps(payload, sort_keys=True, default=str).encode()):
            raise CheckpointInconsistent(
                f"replay checkpoint {self.root}: {kind}/{batch_id}.json exists already: was batch {batch_id} written "
                f"by two runs at once? Run the pipeline again"
            )
