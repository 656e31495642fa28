"""Decide a stream's initial offset once and keep it (both engines).

A source whose start is a moving target (Kafka ``latest``, a Delta table's current version)
must resolve it once per checkpoint: PySpark 4.2 calls a Python stream reader's
``initialOffset()`` again when it runs batch 0 and on a restart before batch 0 commits, and a
replay that found nothing new in its first run must continue, in the next run, from where the
first one started. :func:`decide_once` keeps the first resolved value in a small JSON file
(inside the checkpoint, so a full refresh forgets it) and returns that value on every later call,
from any process: the driver-side methods of a Python data source run in a Python process the
JVM spawns, so memory cannot hold it.

The file is written under a name unique to the process and then linked into place, so two
processes deciding at once agree on the first one's value; where hard links are unavailable it
is renamed into place (``os.replace``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kappa.errors import KappaError


class InitialOffsetError(KappaError):
    """A kept initial offset cannot be read."""


def read_decided(path: str | os.PathLike) -> Any:
    """The value kept at ``path``, or None when nothing was decided yet. A file that is not
    JSON stops the run (guessing again could skip or re-read records)."""
    from kappa.checkpoint.objects import is_remote

    try:
        if is_remote(path):
            from kappa.checkpoint import objects

            data = objects.get(str(path))
            return None if data is None else json.loads(data)
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise InitialOffsetError(
            f"{path}: the stream's kept initial offset is unreadable ({exc}); restore it, or "
            "rerun the node with --full-refresh to start it over"
        ) from None


def decide_once(path: str | os.PathLike, compute: Callable[[], Any]) -> Any:
    """The JSON value kept at ``path``; the first call computes it with ``compute()`` and keeps
    it (atomically: readers never see half a file, the first writer wins)."""
    from kappa.checkpoint.objects import is_remote

    remote = is_remote(path)
    path = str(path) if remote else Path(path)  # type: ignore[assignment]
    kept = read_decided(path)
    if kept is not None:
        return kept
    value = compute()
    if remote:  # a conditional put: the first writer wins there too
        from kappa.checkpoint import objects

        return value if objects.create(str(path), json.dumps(value, sort_keys=True).encode()) else read_decided(path)
    from kappa.atomic import create_text

    if not create_text(path, json.dumps(value, sort_keys=True)):
        return read_decided(path)  # another process decided first: its value wins
    return value
