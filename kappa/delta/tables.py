"""Local Delta tables opened once per process and thread, reused while they are current.

Design note. Opening a ``DeltaTable`` replays its log (3-10 ms for a few dozen commits); one
replay run used to open the same tables eight times (validation, planning, the range's two
file sets, the read, the ownership check, the sink, the event log), and every run again.

- :func:`latest`: one ``DeltaTable`` per (thread, local table folder), reused while it is at
  the table's newest commit: the newest ``<version>.json`` in ``_delta_log`` (a directory
  listing, no replay) must be its version and that commit file the one it was loaded from
  (inode, mtime, size: a table deleted and written again is noticed). A newer commit is read
  with ``update_incremental`` (only the new commits). Per thread, so concurrent writers (Spark's
  batch threads) never share an object.
- :func:`files_at`: the data files of a version (kept for the last few versions per table,
  checked the same way): a streaming range's "files before" is the previous range's "files after".
- Tables on object stores (``scheme://``) are opened every time (no cheap listing).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from deltalake import DeltaTable

_COMMIT = re.compile(r"^(\d{20})\.json$")
_KEEP_VERSIONS = 4
_KEEP_TABLES = 32  # tables held per cache (the least recently used is dropped)
_LATEST: "dict[tuple[int, str], tuple[DeltaTable, int, tuple]]" = {}
_FILES: "dict[str, dict[int, tuple[tuple, frozenset[str]]]]" = {}


def _hold(cache: dict, key, value) -> None:
    cache.pop(key, None)
    cache[key] = value
    while len(cache) > _KEEP_TABLES:
        del cache[next(iter(cache))]


def local_folder(uri: str) -> str | None:
    """The folder of a local table (None for an object store)."""
    if uri.startswith("file://"):
        return uri[len("file://"):]
    return None if "://" in uri else uri


def _commit_identity(folder: str, version: int) -> tuple | None:
    try:
        st = os.stat(os.path.join(folder, "_delta_log", f"{version:020d}.json"))
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def newest_commit(folder: str) -> int | None:
    """The newest commit version in a local table's log (None: no table)."""
    try:
        names = os.listdir(os.path.join(folder, "_delta_log"))
    except OSError:
        return None
    versions = [int(m.group(1)) for m in map(_COMMIT.match, names) if m]
    return max(versions) if versions else None


def latest(uri: str, storage_options: Mapping[str, str] | None = None) -> "DeltaTable | None":
    """The table at ``uri`` at its newest version (None when there is none); see the module doc."""
    from kappa.delta.txn import open_table

    folder = local_folder(uri)
    if folder is None or storage_options:
        return open_table(uri, storage_options)
    newest = newest_commit(folder)
    if newest is None:
        return open_table(uri, storage_options)  # e.g. a log of checkpoints only: delta-rs decides
    key = (threading.get_ident(), os.path.abspath(folder))
    held = _LATEST.get(key)
    if held is not None:
        table, version, ident = held
        if table.version() != version:  # advanced by a write through it: trust its own commit
            version, ident = table.version(), _commit_identity(folder, table.version())
        if ident is not None and ident == _commit_identity(folder, version) and version <= newest:
            if version < newest:
                table.update_incremental()
                version = table.version()
            _hold(_LATEST, key, (table, version, _commit_identity(folder, version)))
            return table
    table = open_table(uri, storage_options)
    if table is not None:
        _hold(_LATEST, key, (table, table.version(), _commit_identity(folder, table.version())))
    return table


def files_at(uri: str, version: int, storage_options: Mapping[str, str] | None = None) -> frozenset[str]:
    """The data file URIs of the table at ``version``."""
    from deltalake import DeltaTable

    folder = local_folder(uri)
    if folder is None or storage_options:
        return frozenset(DeltaTable(uri, version=version, storage_options=dict(storage_options or {}) or None).file_uris())
    key = os.path.abspath(folder)
    ident = _commit_identity(folder, version)
    held = _FILES.get(key, {}).get(version)
    if held is not None and ident is not None and held[0] == ident:
        return held[1]
    current = latest(uri)
    table = current if current is not None and current.version() == version else DeltaTable(uri, version=version)
    files = frozenset(table.file_uris())
    if ident is not None:
        versions = _FILES.get(key, {})
        _hold(_FILES, key, versions)
        versions[version] = (ident, files)
        for old in sorted(versions)[:-_KEEP_VERSIONS]:
            del versions[old]
    return files
