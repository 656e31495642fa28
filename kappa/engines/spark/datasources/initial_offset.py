"""An initial offset decided once per streaming query and kept next to its checkpoint.

PySpark (4.2) asks a Python stream reader for ``initialOffset()`` more than once: when it plans
batch 0, again when it runs batch 0, and after a restart before batch 0 committed (each time in
a fresh driver-side Python process, so nothing can be cached in memory). An answer computed
from the source's *current* state ("the table's latest version", "the log end") then moves
while data arrives, and batch 0 skips or re-reads what arrived in between. Spark's own Kafka
source has the same problem and writes its initial offsets to the checkpoint
(``sources/0/0``); kappa's readers do the same with :func:`decide_once`: the first call
computes the offset and persists it as ``<state dir>/<name>.json``; every later call returns
what was persisted. Creation is atomic (unique temporary file, then a hard link that fails if
the file exists, so concurrent first calls agree on one answer).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from typing import Any

from kappa.errors import KappaError


class InitialOffsetError(KappaError):
    """The persisted initial offset cannot be read."""


def local_dir(state_dir: str) -> str:
    """A local folder path from an option value (``file:`` URIs accepted)."""
    if state_dir.startswith("file://"):
        return state_dir[len("file://") :]
    if state_dir.startswith("file:"):
        return state_dir[len("file:") :]
    return state_dir


def _read(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        if not isinstance(data, dict) or "initial_offset" not in data:
            raise ValueError("no initial_offset")
        return data
    except (OSError, ValueError) as exc:
        raise InitialOffsetError(
            f"{path}: the stream's persisted initial offset is unreadable ({exc}); restore it, "
            "or rerun the node with --full-refresh to start it over"
        ) from None


def decide_once(state_dir: str | None, name: str, source: str, compute: Callable[[], Any]) -> Any:
    """The initial offset persisted under ``state_dir`` (computed by ``compute`` the first time).

    ``source`` (the table path or topics) is stored alongside for whoever reads the file.
    Without a ``state_dir`` the offset is computed on every call (a reader used outside kappa).
    """
    if not state_dir:
        return compute()
    folder = local_dir(state_dir)
    path = os.path.join(folder, f"{name}.json")
    if os.path.exists(path):
        return _read(path)["initial_offset"]
    offset = compute()
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f".{name}.{uuid.uuid4().hex}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump({"source": source, "initial_offset": offset}, fh, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    try:
        os.link(tmp, path)  # fails if another process decided first: its answer wins
    except FileExistsError:
        pass
    except OSError:  # a filesystem without hard links: last writer wins, all read it back
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return _read(path)["initial_offset"]
