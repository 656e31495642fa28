"""Atomic small-file writes for checkpoints and state: readers never see half a file.

Every file kappa keeps next to a checkpoint (the replay's offsets and commits logs, fingerprints,
inferred value types, initial offsets, run ticks) is written to a temporary name unique to the
host, process and thread, flushed to disk, then moved into place: :func:`write_text` replaces
(last writer wins; with ``durable`` the folder is synced too, so the rename survives a crash),
:func:`create_text` creates only if the file does not exist yet (first writer wins, through a
hard link; a file system without links falls back to a replace); :func:`write_with` replaces
``path`` with what a writer callback (Parquet, CSV, ...) wrote to the temporary name.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import uuid
from pathlib import Path
from typing import Any, Callable


def temp_path(path: Path) -> Path:
    """A sibling name no other writer (host, process, thread) uses."""
    tag = f"{socket.gethostname()}.{os.getpid()}.{threading.get_ident()}.{uuid.uuid4().hex[:8]}"
    return path.with_name(f".{path.name}.{tag}.tmp")


def _write_tmp(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    return tmp


def _sync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_text(path: str | os.PathLike, text: str, *, durable: bool = False) -> Path:
    """Replace ``path`` with ``text`` atomically."""
    path = Path(path)
    os.replace(_write_tmp(path, text), path)
    if durable:
        _sync_dir(path.parent)
    return path


def write_json(path: str | os.PathLike, payload: Any, *, durable: bool = False, indent: int | None = None) -> Path:
    """Replace ``path`` with ``payload`` as JSON (keys sorted) atomically."""
    text = json.dumps(payload, sort_keys=True, indent=indent, default=str) + ("\n" if indent else "")
    return write_text(path, text, durable=durable)


def write_with(path: str | os.PathLike, write: Callable[[Path], Any]) -> Path:
    """Replace ``path`` atomically with the file ``write(temporary path)`` creates."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def create_text(path: str | os.PathLike, text: str) -> bool:
    """Create ``path`` with ``text`` unless it exists; False when another writer was first."""
    path = Path(path)
    tmp = _write_tmp(path, text)
    try:
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        except OSError:  # no hard links here: last writer wins, every reader reads the file back
            os.replace(tmp, path)
        return True
    finally:
        tmp.unlink(missing_ok=True)
