"""The state store of a stateful node on Polars: one folder per batch under the replay checkpoint.

Layout (under ``<layout.replay>/``)::

    state/<batch_id>/meta.json              {"batch_id", "watermark", "next_watermark", "max_event_time", "operators": {...}}
    state/<batch_id>/op<i>.parquet          operator ``i``'s whole state (a snapshot), or
    state/<batch_id>/op<i>.changes.parquet  the rows the batch put into it (new or updated keys) and
    state/<batch_id>/op<i>.deleted.parquet  the keys it removed (a changelog on top of version ``base``)

``watermark`` is the watermark batch ``batch_id`` evicted with (Spark's ``batchWatermarkMs``,
in microseconds) and ``next_watermark`` the one the next batch will evict with; the next batch
drops late rows with ``watermark`` (Spark 3.4+: late events are judged by the previous batch's
watermark). ``max_event_time`` is the largest event time seen at the ``with_watermark`` step.

Changelogs (as Spark's RocksDB changelog checkpointing). An operator reports what a batch
changed (:class:`Change`: upserted rows, deleted keys); the batch then writes only that, on top
of the previous version, and a whole snapshot when there is no previous version, every
:data:`SNAPSHOT_EVERY` versions, or once the changes since the last snapshot reach
:data:`CHANGE_SHARE` of the state's rows (states under :data:`MIN_CHANGELOG_ROWS` rows are
always snapshots). Loading a
version reads its snapshot and applies the later changelogs in order (per key, the last change
wins; in one changelog deletions come before upserts). A process keeps the last state it saved
or loaded per node in memory (Spark keeps loaded state store versions the same way); a version
is taken from memory only when its ``meta.json`` is the very file the process wrote or read.

Crash safety. Batch N's state is written BEFORE batch N's commit file: to a temporary sibling
folder, every file fsynced, then renamed into place (a leftover ``state/N`` of a crashed
attempt is replaced). A batch always starts from the state of the newest COMMITTED batch, so a
re-run of a pending batch after ``kill -9`` anywhere recomputes the same state and output.
After a save, the versions older than the snapshot the previous version's chain starts from are
pruned (the previous version stays loadable: the new one is not committed yet).
``--full-refresh`` removes the whole replay folder, state included.

On an ``s3://`` checkpoint root :func:`open_store` gives the object-store twin of this store
(:mod:`kappa.engines.polars.stateful.remote_store`): same meta layout, a full snapshot per
version (no changelogs), atomic by its last object.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from kappa.errors import KappaError
from kappa.faults import failpoint

if TYPE_CHECKING:  # pragma: no cover
    import polars as pl

STATE_DIR = "state"
#: a whole snapshot at least every this many versions of an operator
SNAPSHOT_EVERY = 10
#: changelogs only for states of at least this many rows (a smaller one costs no more to rewrite)
MIN_CHANGELOG_ROWS = 4096
#: ... or once the changed rows since the last snapshot reach this share of the state's rows
CHANGE_SHARE = 0.5
_SEQ = "__kappa_seq"
_MEMORY: "dict[str, tuple[int, tuple, StateSnapshot]]" = {}  # state folder -> (batch id, meta.json identity, state)


@dataclass
class Change:
    """What one batch did to an operator's state: rows put (new or updated ``keys``) and keys removed."""

    keys: tuple[str, ...]
    upserts: "pl.DataFrame"
    deleted: "pl.DataFrame"

    @property
    def rows(self) -> int:
        return self.upserts.height + self.deleted.height


@dataclass
class StateSnapshot:
    """A node's state after one batch (or the empty state before the first); ``changes``: what
    the batch changed relative to version ``base`` (the state it started from)."""

    batch_id: int | None = None
    watermark: int = 0
    next_watermark: int = 0
    max_event_time: int | None = None
    frames: dict[str, "pl.DataFrame"] = field(default_factory=dict)
    changes: "dict[str, Change]" = field(default_factory=dict)
    base: int | None = None

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


def _remember(root: str, held: tuple) -> None:
    """Keep ``held`` as the state of ``root`` in memory (the 16 most recent nodes' states)."""
    _MEMORY.pop(root, None)
    _MEMORY[root] = held
    while len(_MEMORY) > 16:
        del _MEMORY[next(iter(_MEMORY))]


def _identity(path: Path) -> tuple:
    st = path.stat()
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def apply_changes(frame: "pl.DataFrame", changes: "list[Change]") -> "pl.DataFrame":
    """``frame`` after ``changes`` in order (per key the last wins; deletions before upserts)."""
    import polars as pl

    if not changes:
        return frame
    keys = list(changes[0].keys)
    ops = []
    for i, change in enumerate(changes):
        ops.append(change.deleted.select(keys).with_columns(pl.lit(2 * i, pl.Int64).alias(_SEQ)))
        ops.append(change.upserts.with_columns(pl.lit(2 * i + 1, pl.Int64).alias(_SEQ)))
    last = pl.concat(ops, how="diagonal_relaxed").sort(_SEQ, maintain_order=True)
    last = last.unique(subset=keys, keep="last", maintain_order=True)
    rest = frame.join(last.select(keys), on=keys, how="anti", nulls_equal=True)
    put = last.filter(pl.col(_SEQ) % 2 == 1).select(frame.columns).cast(frame.schema)
    return pl.concat([rest, put], how="vertical")


class StateStore:
    """Reads and writes :class:`StateSnapshot` versions under ``<replay>/state/``."""

    def __init__(self, replay_root: str | os.PathLike):
        self.root = Path(replay_root) / STATE_DIR

    def versions(self) -> list[int]:
        if not self.root.is_dir():
            return []
        return sorted(int(p.name) for p in self.root.iterdir() if p.is_dir() and p.name.isdigit())

    def _meta(self, batch_id: int) -> dict:
        path = self.root / str(batch_id) / "meta.json"
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise KappaError(f"state {self.root}: version {batch_id} is missing (a later version is built on it); "
                             "reset the node with --full-refresh") from None

    def _frame(self, batch_id: int, name: str, info: dict) -> "pl.DataFrame":
        """Operator ``name``'s state at ``batch_id``: its snapshot plus the changelogs after it."""
        import polars as pl

        chain = []
        while "file" not in info:
            chain.append((batch_id, info))
            batch_id = int(info["base"])
            info = self._meta(batch_id)["operators"][name]
        frame = pl.read_parquet(self.root / str(batch_id) / info["file"])
        changes = []
        for version, link in reversed(chain):
            folder = self.root / str(version)
            upserts = pl.read_parquet(folder / link["changes"])
            deleted = pl.read_parquet(folder / link["deleted"]) if link.get("deleted") else upserts.select(link["keys"]).clear()
            changes.append(Change(tuple(link["keys"]), upserts, deleted))
        return apply_changes(frame, changes)

    def load(self, batch_id: int | None) -> StateSnapshot:
        """The state saved by committed batch ``batch_id`` (None, or no state saved: empty)."""
        if batch_id is None:
            return StateSnapshot()
        meta_path = self.root / str(batch_id) / "meta.json"
        if not meta_path.exists():
            return StateSnapshot()
        ident = _identity(meta_path)
        held = _MEMORY.get(str(self.root))
        if held is not None and held[0] == batch_id and held[1] == ident:
            snap = held[2]
        else:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            frames = {name: self._frame(batch_id, name, info) for name, info in meta["operators"].items()}
            snap = StateSnapshot(batch_id, int(meta["watermark"]), int(meta["next_watermark"]), meta.get("max_event_time"), frames)
            _remember(str(self.root), (batch_id, ident, snap))
        return StateSnapshot(snap.batch_id, snap.watermark, snap.next_watermark, snap.max_event_time, dict(snap.frames))

    def _entry(self, tmp: Path, name: str, frame: "pl.DataFrame", change: "Change | None", base: dict | None) -> tuple[dict, list[Path]]:
        """Operator ``name``'s files in ``tmp`` (a changelog when worth it): its meta entry and files."""
        chain, chain_rows = (int(base.get("chain", 0)), int(base.get("chain_rows", 0))) if base is not None else (0, 0)
        log = (change is not None and base is not None and "since" in base and chain + 1 < SNAPSHOT_EVERY
               and frame.height >= MIN_CHANGELOG_ROWS
               and chain_rows + change.rows <= CHANGE_SHARE * frame.height)
        if not log:
            path = tmp / f"{name}.parquet"
            frame.write_parquet(path, compression="lz4")  # fast to write
            return {"file": path.name, "rows": frame.height, "chain": 0, "chain_rows": 0}, [path]
        assert change is not None and base is not None
        entry = {"changes": f"{name}.changes.parquet", "deleted": None, "keys": list(change.keys), "base": None,
                 "since": base["since"], "rows": frame.height, "chain": chain + 1, "chain_rows": chain_rows + change.rows}
        paths = [tmp / entry["changes"]]
        change.upserts.write_parquet(paths[0], compression="lz4")
        if change.deleted.height:
            entry["deleted"] = f"{name}.deleted.parquet"
            paths.append(tmp / entry["deleted"])
            change.deleted.write_parquet(paths[1], compression="lz4")
        return entry, paths

    def save(self, batch_id: int, snap: StateSnapshot) -> int:
        """Write batch ``batch_id``'s state atomically; returns its size in bytes."""
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f".{batch_id}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
        tmp.mkdir()
        base_ops = {}
        if snap.base is not None and snap.changes and (self.root / str(snap.base) / "meta.json").exists():
            base_ops = self._meta(snap.base)["operators"]
        operators = {}
        for name, frame in snap.frames.items():
            base = base_ops.get(name)
            entry, paths = self._entry(tmp, name, frame, snap.changes.get(name), base)
            if "base" in entry:
                entry["base"] = snap.base
            else:
                entry["since"] = batch_id
            for path in paths:
                with open(path, "rb") as fh:
                    os.fsync(fh.fileno())
            operators[name] = entry
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
        kept = StateSnapshot(batch_id, snap.watermark, snap.next_watermark, snap.max_event_time, dict(snap.frames))
        _remember(str(self.root), (batch_id, _identity(final / "meta.json"), kept))
        self.prune(batch_id)
        return self.size(batch_id)

    def _since(self, batch_id: int) -> int:
        """The oldest version loading ``batch_id`` reads (its snapshots' versions; changelogs
        build on the batch before them, so every version from there on is read)."""
        try:
            ops = self._meta(batch_id)["operators"]
        except KappaError:
            return batch_id
        return min([int(info.get("since", batch_id)) for info in ops.values()] + [batch_id])

    def size(self, batch_id: int) -> int:
        """Bytes of the state files loading batch ``batch_id`` reads (its changelogs' bases too)."""
        if not (self.root / str(batch_id)).is_dir():
            return 0
        since = self._since(batch_id)
        return sum(p.stat().st_size for v in self.versions() if since <= v <= batch_id for p in (self.root / str(v)).glob("*.parquet"))

    def prune(self, newest: int) -> None:
        """Remove the versions the one before ``newest`` does not build on, and stray temporary folders."""
        older = [v for v in self.versions() if v < newest]
        if older:
            since = self._since(older[-1])
            for v in older:
                if v < since:
                    shutil.rmtree(self.root / str(v), ignore_errors=True)
        for p in self.root.glob(".*.tmp"):
            shutil.rmtree(p, ignore_errors=True)
