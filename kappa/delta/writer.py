"""Idempotent Delta commits keyed by (app id, batch id).

Every commit carries the app transaction ``(app_id, batch_id)``; a batch whose id is not above
the table's recorded ``transaction_version(app_id)`` is skipped, so a batch replayed after a
crash writes nothing the second time. Concurrent commit conflicts are retried. The app
transaction, its metadata and the retry policy are :mod:`kappa.delta.txn`'s (shared with the
CDC merge).

Every other failure of deltalake or of the file system becomes one :class:`DeltaWriteError`
line naming the table and the cause (:func:`delta_write_error`), e.g. ``cannot write Delta table
/x/bronze: the path is a file, not a folder``; the caller adds the node and sink.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from kappa.delta.arrow import DeltaWriteError, normalize_arrow_table
from kappa.delta.txn import Txn, open_table, with_batch_retries
from kappa.errors import ConfigError, KappaError

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa

WriteMode = Literal["append", "overwrite"]


def _local_path(uri: str) -> str | None:
    if uri.startswith("file://"):
        return uri[len("file://"):]
    return None if "://" in uri else uri


def explain_failure(uri: str, exc: BaseException) -> str:
    """Why writing the Delta table at ``uri`` failed, in a few words on one line."""
    local = _local_path(uri)
    if local is not None:
        from pathlib import Path

        path = Path(local)
        if path.exists() and not path.is_dir():
            return "the path is a file, not a folder"
        for parent in path.parents:
            if parent.exists():
                if not parent.is_dir():
                    return f"{parent} is a file, not a folder"
                if not os.access(parent, os.W_OK | os.X_OK):
                    return f"permission denied on {parent}"
                break
    text = str(exc)
    if "\u21b3" in text:  # delta-rs / object_store: a cause chain, one "↳ cause" per line
        text = cause_chain(text)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    text = " ".join(lines if len(lines) <= 4 else lines[:1])
    if len(text) > 400:
        text = text[:397] + "..."
    return text or type(exc).__name__


def cause_chain(text: str) -> str:
    """delta-rs's multi-line cause chain (ANSI-coloured ``↳`` continuation lines, one element
    sometimes split over several) as one line, the causes joined by ``: ``; the innermost cause
    (e.g. ``Connection refused``) is what a user needs.

    >>> cause_chain("Kernel error -> Generic S3 error\\n  \\x1b[31m\u21b3\\x1b[0m Error performing GET http://h/t after 10"
    ...             " retries, max_retries\\n   \\x1b[31m\u21b3\\x1b[0m 10 - HTTP error\\n    \\x1b[31m\u21b3\\x1b[0m Connection refused")
    'Kernel error -> Generic S3 error: Error performing GET http://h/t after 10 retries, max_retries: 10 - HTTP error: Connection refused'
    """
    import re

    plain = re.sub(r"\x1b\[[0-9;]*m", "", text)
    parts = [part.strip() for part in plain.split("\u21b3")]
    return ": ".join(part for part in parts if part)


def delta_write_error(uri: str, exc: BaseException, action: str = "write") -> DeltaWriteError:
    """A :class:`DeltaWriteError` naming the table and the cause of ``exc``."""
    if isinstance(exc, DeltaWriteError):
        return exc
    return DeltaWriteError(f"cannot {action} Delta table {uri}: {explain_failure(uri, exc)}")


def sink_write_error(where: str, uri: str | None, exc: BaseException) -> DeltaWriteError:
    """``<where>: cannot write Delta table <uri>: <cause>`` (``where``: e.g. ``sink 0``)."""
    return DeltaWriteError(f"{where}: {delta_write_error(uri or '?', exc)}")


def delta_failures() -> tuple[type[BaseException], ...]:
    """The exceptions a deltalake read or write raises for a bad table, path or data: its own
    ``DeltaError``s, ``OSError`` and, for some data errors (a cast), a bare ``Exception``.
    Catch ``KappaError`` before these."""
    return (Exception,)


@dataclass(frozen=True)
class DeltaWriter:
    """Idempotent appends/overwrites of Arrow batches to a Delta table with deltalake.

    ``mode`` is ``append`` (every batch adds rows) or ``overwrite`` (every batch replaces the
    table's content). ``app_id`` names the streaming query in the table's app transactions;
    it must be stable across restarts and unique per (query, table). ``schema_mode="merge"``
    lets new columns appear; ``None`` makes a schema change an error.
    """

    table_uri: str
    mode: WriteMode = "append"
    app_id: str = "kappa"
    partition_by: Sequence[str] | None = None
    storage_options: Mapping[str, str] | None = None
    schema_mode: Literal["merge", "overwrite"] | None = "merge"
    custom_metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.mode not in ("append", "overwrite"):
            raise ConfigError(f"Delta write mode must be append or overwrite, not {self.mode!r}")
        if not self.app_id:
            raise ConfigError("DeltaBatchWriter needs a non-empty app_id")

    def committed_version(self) -> int | None:
        """The last batch id committed by ``app_id`` (None: no table or no commit yet)."""
        try:
            table = open_table(self.table_uri, self.storage_options)
            return None if table is None else table.transaction_version(self.app_id)
        except KappaError:
            raise
        except delta_failures() as exc:
            raise delta_write_error(self.table_uri, exc, "read") from exc

    def write_arrow(self, data: "pa.Table", batch_id: int) -> bool:
        """Commit ``data`` as batch ``batch_id``; False when the batch was already committed
        (or is an empty append to an existing table) and nothing was written. Failures raise
        one :class:`DeltaWriteError` naming the table and the cause."""
        try:
            return self._write_arrow(data, batch_id)
        except DeltaWriteError as exc:
            if str(exc).startswith("cannot write Delta table"):
                raise
            raise DeltaWriteError(f"cannot write Delta table {self.table_uri}: {exc}") from exc
        except KappaError:
            raise
        except delta_failures() as exc:
            raise delta_write_error(self.table_uri, exc) from exc

    def _storage_options(self) -> dict[str, str] | None:
        return dict(self.storage_options) if self.storage_options else None

    def _write_arrow(self, data: "pa.Table", batch_id: int) -> bool:
        from deltalake import write_deltalake

        txn = Txn(self.app_id, batch_id)
        normalized: list[pa.Table] = []

        def attempt() -> bool:  # a concurrent writer won: re-check and retry
            table = open_table(self.table_uri, self.storage_options)
            if table is not None and (txn.done(table) or (data.num_rows == 0 and self.mode == "append")):
                return False
            if not normalized:
                normalized.append(normalize_arrow_table(data))
            write_deltalake(
                table if table is not None else self.table_uri,
                normalized[0],
                mode=self.mode,
                partition_by=list(self.partition_by) if self.partition_by else None,
                schema_mode=self.schema_mode,
                storage_options=self._storage_options(),
                commit_properties=txn.props(self.custom_metadata),
            )
            return True

        return with_batch_retries(attempt, self.table_uri, txn)
