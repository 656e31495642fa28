"""Delta app transactions: the one commit helper of appends and CDC merges.

Design note. Every kappa commit to a Delta table is one batch of one writer, ``(app_id,
version)``, and carries it twice: as the Delta app transaction (``txn`` action, read back with
``transaction_version``) and in the commit's metadata, so the history tells which commit
carried which batch. Appends (:mod:`kappa.delta.writer`, :mod:`kappa.delta.commit`) and CDC
merges (:mod:`kappa.cdc.merge`) share what follows; they differ only in the metadata keys
(:data:`APPEND_TAGS` ``kappa.appId``/``kappa.batchId``, :data:`CDC_TAGS`
``kappa.cdc.app_id``/``kappa.cdc.version``, both kept so existing tables stay readable):

- :func:`open_table`: the table, or None when there is none yet (the one such helper);
- :class:`Txn` / :func:`commit_properties`: the ``CommitProperties`` of a batch's commit;
- :func:`txn_version` / :meth:`Txn.done`: whether a table already carries a batch (a replayed
  batch is skipped); :func:`commit_version_of`: the table version whose commit carried it;
- :func:`is_conflict` / :func:`with_retries`: the retry policy for concurrent writers (the
  action re-reads the table on each attempt, exponential backoff with jitter, then one error:
  a CDC merge's ``max_commit_retries``, an append's :data:`COMMIT_RETRIES` attempts,
  :func:`with_batch_retries`).
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from kappa.delta.arrow import DeltaWriteError
from kappa.errors import KappaError

if TYPE_CHECKING:  # pragma: no cover
    from deltalake import DeltaTable

T = TypeVar("T")
#: Commit attempts of an append batch (:func:`with_batch_retries`) before it gives up.
COMMIT_RETRIES = 5


@dataclass(frozen=True)
class CommitTags:
    """The commit metadata keys naming a batch's app id and version."""

    app: str
    version: str


APPEND_TAGS = CommitTags("kappa.appId", "kappa.batchId")
CDC_TAGS = CommitTags("kappa.cdc.app_id", "kappa.cdc.version")


def open_table(uri: str, storage_options: Mapping[str, str] | None = None,
               version: int | None = None) -> DeltaTable | None:
    """The Delta table at ``uri`` (at ``version`` if given), or None when there is none."""
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    try:
        return DeltaTable(uri, version=version, storage_options=dict(storage_options) if storage_options else None)
    except TableNotFoundError:
        return None


def commit_properties(app_id: str, version: int, custom_metadata: Mapping[str, Any] | None = None,
                      *, tags: CommitTags = APPEND_TAGS) -> Any:
    """deltalake ``CommitProperties`` of batch ``version`` of ``app_id``: the app transaction
    and the batch's commit metadata (``tags``), plus ``custom_metadata``."""
    from deltalake import CommitProperties, Transaction

    metadata = {tags.app: app_id, tags.version: str(version)}
    metadata.update({str(k): str(v) for k, v in (custom_metadata or {}).items()})
    return CommitProperties(
        custom_metadata=metadata,
        app_transactions=[Transaction(app_id, version, int(time.time() * 1000))],
    )


def txn_version(table: DeltaTable | None, app_id: str) -> int:
    """Last batch version committed by ``app_id`` to ``table`` (-1 if none, or no table)."""
    if table is None:
        return -1
    got = table.transaction_version(app_id)
    return -1 if got is None else int(got)


def commit_version_of(table: DeltaTable, app_id: str, version: int) -> int | None:
    """Table version whose commit carried batch ``version`` of ``app_id`` (None if not found)."""
    for entry in table.history():
        for tags in (CDC_TAGS, APPEND_TAGS):
            if entry.get(tags.app) == app_id and entry.get(tags.version) == str(version):
                return int(entry["version"])
    return None


@dataclass(frozen=True)
class Txn:
    """One batch of one writer: the Delta app transaction its commits carry."""

    app_id: str
    version: int
    tags: CommitTags = APPEND_TAGS

    def props(self, custom_metadata: Mapping[str, Any] | None = None) -> Any:
        """Fresh CommitProperties for a commit of this batch."""
        return commit_properties(self.app_id, self.version, custom_metadata, tags=self.tags)

    def done(self, table: DeltaTable | None) -> bool:
        """True when ``table`` already carries this batch (or a later one)."""
        return txn_version(table, self.app_id) >= self.version

    def recorded(self, uri: str, storage_options: Mapping[str, str] | None) -> bool:
        """True when the table at ``uri`` carries this batch's app transaction."""
        return self.done(open_table(uri, storage_options))

    def ensure_recorded(self, uri: str, storage_options: Mapping[str, str] | None, schema: Any) -> None:
        """Commit an empty append carrying the transaction if no commit recorded it (a
        MERGE that changes nothing writes no commit)."""
        if self.recorded(uri, storage_options):
            return
        import pyarrow as pa
        from deltalake import write_deltalake

        write_deltalake(uri, pa.schema(schema).empty_table(), mode="append",
                        schema_mode="merge", storage_options=storage_options,
                        commit_properties=self.props())


def is_conflict(err: BaseException) -> bool:
    """True for deltalake's concurrent-commit failures."""
    from deltalake.exceptions import CommitFailedError

    if isinstance(err, CommitFailedError):
        return True
    return "commit failed" in str(err).lower()


def with_retries(
    action: Callable[[], T], *, retries: int, what: str = "", base_delay: float = 0.05,
    retry_on: Callable[[BaseException], bool] = is_conflict,
    exhausted: Callable[[BaseException], BaseException] | None = None,
) -> T:
    """Run ``action``; when it fails with an error ``retry_on`` accepts (a concurrent-commit
    conflict), run it again after an exponential backoff, up to ``retries`` more times.

    When the retries are used up, a conflict raises ``exhausted(err)`` or else
    :class:`KappaError` naming ``what``; any other error is raised as it is.
    """
    attempt = 0
    while True:
        try:
            return action()
        except Exception as err:  # noqa: BLE001 - filtered by retry_on
            if not retry_on(err):
                raise
            if attempt >= retries:
                if not is_conflict(err):
                    raise
                if exhausted is not None:
                    raise exhausted(err) from err
                raise KappaError(
                    f"{what}: commit still conflicting with concurrent writers after "
                    f"{retries} retries ({err})"
                ) from err
            delay = min(base_delay * (2**attempt), 5.0) * (1 + random.random())
            time.sleep(delay)
            attempt += 1


def commit_conflict_error(uri: str, app_id: str, batch_id: int, exc: BaseException) -> DeltaWriteError:
    """The error of an append batch that lost every commit attempt to concurrent writers."""
    return DeltaWriteError(
        f"cannot write Delta table {uri}: batch {batch_id} of {app_id!r} "
        f"could not be committed after {COMMIT_RETRIES} attempts (concurrent writers): "
        + " ".join(str(exc).split())
    )


def with_batch_retries(action: Callable[[], T], uri: str, txn: Txn,
                       retry_on: Callable[[BaseException], bool] = is_conflict) -> T:
    """:func:`with_retries` for an append batch: :data:`COMMIT_RETRIES` attempts, then
    :func:`commit_conflict_error`."""
    return with_retries(
        action, retries=COMMIT_RETRIES - 1, retry_on=retry_on,
        exhausted=lambda err: commit_conflict_error(uri, txn.app_id, txn.version, err),
    )
