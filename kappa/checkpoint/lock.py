"""One run at a time per pipeline and checkpoint root.

Every command that writes (``kappa replay``, ``kappa run``, ``kappa stream start``, the ``kappa
cdc`` runners, :meth:`kappa.api.Pipeline.execute`; :mod:`kappa.runner` takes it for all of
them, before Spark starts) holds an exclusive ``fcntl.flock`` on
``<checkpoint_root>/<pipeline>/.kappa.lock`` for the whole run. A second run fails at once
(:class:`PipelineBusy`, exit 1) naming the holder, which the holder writes into the lock file
(pid, host, start time, command) right after taking the lock.

A killed holder needs no cleanup: the kernel releases a ``flock`` when its process dies, so
the next run takes the lock over and rewrites the holder information. The lock file itself is
never deleted (unlinking a locked file lets a third process lock a new inode).

The lock is re-entrant within one thread (a caller may hold it around a run); another thread
of the same process is refused like another process.

A checkpoint root on ``s3://`` has no ``flock``: the lock there is a lease object at the same
place, taken with a conditional put and renewed while the run lasts (:mod:`kappa.checkpoint.lease`).
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from kappa.errors import KappaError

from kappa.plan_layout import LOCK_FILE  # noqa: F401 - where kappa.checkpoint.lock always had it

_guard = threading.Lock()
_held: dict[tuple[str, int], list] = {}  # (lock path, thread id) -> [fd, depth]
_command: str | None = None


class PipelineBusy(KappaError):
    """Another run of the same pipeline (same checkpoint root) holds the lock."""

    exit_code = 1


def set_command(label: str | None) -> None:
    """The command recorded as the lock holder (the CLI sets e.g. ``kappa replay``)."""
    global _command
    _command = label


def lock_path(checkpoint_root: str, pipeline: str) -> Path:
    return Path(checkpoint_root) / pipeline / LOCK_FILE


def _utc(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts))


def holder_info(command: str) -> dict[str, Any]:
    now = time.time()
    return {"pid": os.getpid(), "host": socket.gethostname(), "started_at": now, "started": _utc(now), "command": command}


def read_holder(path: Path) -> dict[str, Any] | None:
    """The holder information in a lock file (None when empty or unreadable)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8") or "null")
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def describe_holder(info: dict[str, Any] | None) -> str:
    if not info:
        return "holder unknown: it has not written its details yet"
    return f"pid {info.get('pid')} on host {info.get('host')} since {info.get('started')}, {info.get('command')}"


def _write(fd: int, info: dict[str, Any]) -> None:
    data = (json.dumps(info, sort_keys=True) + "\n").encode()
    os.ftruncate(fd, 0)
    os.pwrite(fd, data, 0)
    os.fsync(fd)


@contextmanager
def pipeline_lock(checkpoint_root: str, pipeline: str, command: str | None = None) -> Iterator[Path]:
    """Hold the pipeline's lock for the ``with`` block; :class:`PipelineBusy` when another run has it."""
    import fcntl

    from kappa.checkpoint.objects import is_remote

    if is_remote(checkpoint_root):
        with _remote_lock(checkpoint_root, pipeline, command) as uri:
            yield uri  # type: ignore[misc]
        return
    path = lock_path(checkpoint_root, pipeline)
    key = (str(path.absolute()), threading.get_ident())
    with _guard:
        if key in _held:
            _held[key][1] += 1
            reentered = True
        else:
            reentered = False
    if reentered:
        try:
            yield path
        finally:
            with _guard:
                _held[key][1] -= 1
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        info = read_holder(path)
        for _ in range(10):  # the holder may be between taking the lock and writing its details
            if info:
                break
            time.sleep(0.05)
            info = read_holder(path)
        raise PipelineBusy(
            f"pipeline {pipeline!r} is already running ({describe_holder(info)}); "
            f"wait for it to finish or stop it (lock {path})"
        ) from None
    try:
        _write(fd, holder_info(command or _command or "Python API"))
        with _guard:
            _held[key] = [fd, 1]
        try:
            yield path
        finally:
            with _guard:
                _held.pop(key, None)
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # closing the descriptor releases the flock


def lease_uri(checkpoint_root: str, pipeline: str) -> str:
    """The lease object of a pipeline on an object-store checkpoint root."""
    return f"{checkpoint_root.rstrip('/')}/{pipeline}/{LOCK_FILE}"


@contextmanager
def _remote_lock(checkpoint_root: str, pipeline: str, command: str | None) -> Iterator[str]:
    """The S3 lease (:mod:`kappa.checkpoint.lease`), re-entrant within a thread like the local lock."""
    from kappa.checkpoint.lease import acquire

    uri = lease_uri(checkpoint_root, pipeline)
    key = (uri, threading.get_ident())
    with _guard:
        entry = _held.get(key)
        if entry is not None:
            entry[1] += 1
    if entry is not None:
        try:
            yield uri
        finally:
            with _guard:
                entry[1] -= 1
        return
    lease = acquire(uri, pipeline, holder_info(command or _command or "Python API"))
    with _guard:
        _held[key] = [lease, 1]
    try:
        yield uri
    finally:
        with _guard:
            _held.pop(key, None)
        lease.release()
