"""One run at a time on an ``s3://`` checkpoint root: a lease object instead of ``flock``.

Design note. S3 has no file lock, and a crashed holder cannot release anything, so the lock of a
pipeline whose checkpoint root is on S3 is a *lease*: the object
``<checkpoint_root>/<pipeline>/.kappa.lock`` holds the holder's details (pid, host, start time,
command, as the local lock's file), a random token and ``expires_at``.

- Taking it: a conditional create (``If-None-Match: *``). When the object exists, it is read
  with its ETag; a lease that is released (``expires_at`` 0) or expired is taken over with a
  compare-and-swap (``If-Match`` that ETag), so of two runs taking over at once exactly one wins.
  A lease still valid refuses the run at once (:class:`~kappa.checkpoint.lock.PipelineBusy`)
  naming the holder and when the lease expires.
- Holding it: a daemon thread renews ``expires_at`` every third of the lease time, again with
  ``If-Match`` its own last ETag. If a renewal finds the lease taken (this process stalled longer
  than the lease time), the lease is marked lost and the next batch commit of the replay refuses
  (:func:`check_held`), so two runs never both commit.
- Releasing it: ``If-Match`` its own ETag, writing ``expires_at`` 0 (the object stays, like the
  local lock file).

A crashed run's lease is taken over once ``expires_at`` passed: ``KAPPA_S3_LEASE_SECONDS``
(default 60 s) after its last renewal. The holders' clocks are compared with ``expires_at``:
clocks more than a few seconds apart need a longer lease.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

ENV_SECONDS = "KAPPA_S3_LEASE_SECONDS"
DEFAULT_SECONDS = 60.0

_guard = threading.Lock()
_lost: set[str] = set()  # lease URIs whose renewal found them taken


def lease_seconds() -> float:
    try:
        return max(1.0, float(os.environ.get(ENV_SECONDS, DEFAULT_SECONDS)))
    except ValueError:
        return DEFAULT_SECONDS


@dataclass
class Lease:
    """A held lease: renewed by a thread until :meth:`release`."""

    uri: str
    info: dict[str, Any]
    etag: str
    seconds: float
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def _body(self, expires_at: float) -> bytes:
        return (json.dumps({**self.info, "expires_at": expires_at}, sort_keys=True) + "\n").encode()

    def start(self) -> "Lease":
        self._thread = threading.Thread(target=self._renew, name=f"kappa-lease {self.uri}", daemon=True)
        self._thread.start()
        return self

    def _renew(self) -> None:
        from kappa.checkpoint import objects

        while not self._stop.wait(self.seconds / 3):
            try:
                etag = objects.put_if(self.uri, self._body(time.time() + self.seconds), self.etag)
            except Exception:  # noqa: BLE001 - a transient error: the next renewal retries
                continue
            if etag is None:
                with _guard:
                    _lost.add(self.uri)
                return
            self.etag = etag

    def release(self) -> None:
        from kappa.checkpoint import objects

        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with _guard:
            lost = self.uri in _lost
            _lost.discard(self.uri)
        if not lost:
            try:
                objects.put_if(self.uri, self._body(0), self.etag)
            except Exception:  # noqa: BLE001 - it expires by itself
                pass


def check_held(uri: str) -> None:
    """Raise :class:`~kappa.checkpoint.lock.PipelineBusy` when this process lost lease ``uri``."""
    with _guard:
        lost = uri in _lost
    if lost:
        from kappa.checkpoint.lock import PipelineBusy

        raise PipelineBusy(f"the run lease {uri} was taken over by another run (this run stalled longer than the "
                           f"lease time, {lease_seconds():.0f} s, {ENV_SECONDS}); stopping before committing")


def _parse(data: bytes) -> dict[str, Any]:
    try:
        value = json.loads(data.decode("utf-8") or "null")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def acquire(uri: str, pipeline: str, info: dict[str, Any]) -> Lease:
    """Take the lease ``uri`` of ``pipeline`` for the holder ``info``; :class:`PipelineBusy` when
    another run holds it and it has not expired."""
    from kappa.checkpoint import objects
    from kappa.checkpoint.lock import PipelineBusy, describe_holder

    seconds = lease_seconds()
    info = {**info, "token": uuid.uuid4().hex}
    lease = Lease(uri, info, "", seconds)
    etag = objects.create_tagged(uri, lease._body(time.time() + seconds))
    if etag is None:
        current = objects.get_tagged(uri)
        if current is not None:
            held = _parse(current[0])
            expires = float(held.get("expires_at") or 0)
            if expires > time.time():
                until = time.strftime("%H:%M:%S UTC", time.gmtime(expires))
                raise PipelineBusy(
                    f"pipeline {pipeline!r} is already running ({describe_holder(held)}); wait for it to finish "
                    f"or stop it (lease {uri}, valid until {until} unless renewed)"
                )
            etag = objects.put_if(uri, lease._body(time.time() + seconds), current[1])
        else:
            etag = objects.create_tagged(uri, lease._body(time.time() + seconds))
        if etag is None:  # another run took it over in between
            held = _parse((objects.get_tagged(uri) or (b"", ""))[0])
            raise PipelineBusy(f"pipeline {pipeline!r} is already running ({describe_holder(held)}); wait for it "
                               f"to finish or stop it (lease {uri})")
    lease.etag = etag
    with _guard:
        _lost.discard(uri)
    return lease.start()
