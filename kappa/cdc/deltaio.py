"""Small deltalake helpers: existence, reading through Polars, commits with retries.

Tables are read with ``polars.scan_delta`` rather than ``DeltaTable.to_pyarrow_table()``:
the latter leaves delta-rs threads behind that abort the interpreter at exit
("terminate called without an active exception") in about half of the runs measured here.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from kappa.errors import KappaError

if TYPE_CHECKING:  # pragma: no cover
    import polars as pl
    from deltalake import DeltaTable

T = TypeVar("T")
META_APP = "kappa.cdc.app_id"
META_VERSION = "kappa.cdc.version"


def open_table(uri: str, storage_options: dict | None, version: int | None = None) -> DeltaTable | None:
    """The Delta table at ``uri`` (at ``version`` if given), or None when there is none."""
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    try:
        return DeltaTable(uri, version=version, storage_options=storage_options)
    except TableNotFoundError:
        return None


def scan(uri: str, storage_options: dict | None, version: int | None = None) -> pl.LazyFrame:
    """Lazy Polars scan of a Delta table (optionally as of ``version``)."""
    import polars as pl

    return pl.scan_delta(uri, version=version, storage_options=storage_options)


def commit_properties(app_id: str, version: int) -> Any:
    """CommitProperties carrying the app transaction and kappa's batch metadata."""
    from deltalake import CommitProperties, Transaction

    return CommitProperties(
        app_transactions=[Transaction(app_id, version)],
        custom_metadata={META_APP: app_id, META_VERSION: str(version)},
    )


@dataclass(frozen=True)
class Txn:
    """One batch of one writer: the Delta app transaction its commits carry."""

    app_id: str
    version: int

    def props(self) -> Any:
        """Fresh CommitProperties for a commit of this batch."""
        return commit_properties(self.app_id, self.version)

    def recorded(self, uri: str, storage_options: dict | None) -> bool:
        """True when the table at ``uri`` carries this batch's app transaction."""
        return txn_version(open_table(uri, storage_options), self.app_id) >= self.version

    def ensure_recorded(self, uri: str, storage_options: dict | None, schema: Any) -> None:
        """Commit an empty append carrying the transaction if no commit recorded it (a
        MERGE that changes nothing writes no commit)."""
        if self.recorded(uri, storage_options):
            return
        import pyarrow as pa
        from deltalake import write_deltalake

        write_deltalake(uri, pa.schema(schema).empty_table(), mode="append",
                        schema_mode="merge", storage_options=storage_options,
                        commit_properties=self.props())


def txn_version(table: DeltaTable | None, app_id: str) -> int:
    """Last batch version committed by ``app_id`` to ``table`` (-1 if none)."""
    if table is None:
        return -1
    got = table.transaction_version(app_id)
    return -1 if got is None else int(got)


def commit_version_of(table: DeltaTable, app_id: str, version: int) -> int | None:
    """Table version whose commit carried batch ``version`` of ``app_id`` (None if not found)."""
    for entry in table.history():
        if entry.get(META_APP) == app_id and entry.get(META_VERSION) == str(version):
            return int(entry["version"])
    return None


def is_conflict(err: BaseException) -> bool:
    """True for deltalake's concurrent-commit failures."""
    from deltalake.exceptions import CommitFailedError

    if isinstance(err, CommitFailedError):
        return True
    return "commit failed" in str(err).lower()


def with_retries(action: Callable[[], T], *, retries: int, what: str, base_delay: float = 0.05) -> T:
    """Run ``action``; on a concurrent-commit conflict retry with exponential backoff.

    After ``retries`` failed retries raise :class:`KappaError` naming ``what``.
    """
    attempt = 0
    while True:
        try:
            return action()
        except Exception as err:  # noqa: BLE001 - filtered by is_conflict
            if not is_conflict(err):
                raise
            if attempt >= retries:
                raise KappaError(
                    f"{what}: commit still conflicting with concurrent writers after "
                    f"{retries} retries ({err})"
                ) from err
            delay = min(base_delay * (2**attempt), 5.0) * (1 + random.random())
            time.sleep(delay)
            attempt += 1


def arrow(frame: pl.DataFrame) -> Any:
    """Arrow table of ``frame`` in the most compatible layout (no string views)."""
    import polars as pl

    return frame.to_arrow(compat_level=pl.CompatLevel.oldest())


def quote(name: str) -> str:
    """A column name quoted for delta-rs (DataFusion) SQL."""
    return '"' + name.replace('"', '""') + '"'
