"""Idempotent Delta commits keyed by (app id, batch id).

Every commit carries the app transaction ``(app_id, batch_id)``; a batch whose id is not above
the table's recorded ``transaction_version(app_id)`` is skipped, so a batch replayed after a
crash writes nothing the second time. Concurrent commit conflicts are retried.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from kappa.delta.arrow import DeltaWriteError, normalize_arrow_table
from kappa.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa

WriteMode = Literal["append", "overwrite"]
_COMMIT_RETRIES = 5


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
        table = self._open()
        return None if table is None else table.transaction_version(self.app_id)

    def _open(self):
        from deltalake import DeltaTable
        from deltalake.exceptions import TableNotFoundError

        try:
            return DeltaTable(self.table_uri, storage_options=self._storage_options())
        except TableNotFoundError:
            return None

    def _storage_options(self) -> dict[str, str] | None:
        return dict(self.storage_options) if self.storage_options else None

    def write_arrow(self, data: "pa.Table", batch_id: int) -> bool:
        """Commit ``data`` as batch ``batch_id``; False when the batch was already committed
        (or is an empty append to an existing table) and nothing was written."""
        from deltalake import CommitProperties, Transaction, write_deltalake
        from deltalake.exceptions import CommitFailedError

        normalized = None
        for attempt in range(_COMMIT_RETRIES):
            table = self._open()
            if table is not None:
                done = table.transaction_version(self.app_id)
                if done is not None and done >= batch_id:
                    return False
                if data.num_rows == 0 and self.mode == "append":
                    return False
            if normalized is None:
                normalized = normalize_arrow_table(data)
            metadata = {"kappa.appId": self.app_id, "kappa.batchId": str(batch_id)}
            metadata.update({str(k): str(v) for k, v in self.custom_metadata.items()})
            props = CommitProperties(
                custom_metadata=metadata,
                app_transactions=[Transaction(self.app_id, batch_id, int(time.time() * 1000))],
            )
            try:
                write_deltalake(
                    table if table is not None else self.table_uri,
                    normalized,
                    mode=self.mode,
                    partition_by=list(self.partition_by) if self.partition_by else None,
                    schema_mode=self.schema_mode,
                    storage_options=self._storage_options(),
                    commit_properties=props,
                )
                return True
            except CommitFailedError as exc:  # a concurrent writer won; re-check and retry
                if attempt == _COMMIT_RETRIES - 1:
                    raise DeltaWriteError(
                        f"Delta table {self.table_uri}: batch {batch_id} of {self.app_id!r} "
                        f"could not be committed after {_COMMIT_RETRIES} attempts: {exc}"
                    ) from exc
                time.sleep(0.05 * (attempt + 1))
        return False  # pragma: no cover - loop always returns or raises
