"""Bounded reads for the Polars engine: plan a batch's range, then read exactly that range.

``plan_range`` looks at what is available now and at the previous batch's offsets and returns
the offsets of the next batch (None when a streaming source has nothing new). ``read_range``
turns those offsets into a LazyFrame; reading the same offsets twice gives the same rows, which
is what makes a re-run after a crash exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kappa.delta.read import delta_version
from kappa.errors import KappaError
from kappa.files import list_files, scan_files
from kappa.plan_kinds import resolve_secrets

if TYPE_CHECKING:  # pragma: no cover
    import polars as pl
    import pyarrow as pa

    from kappa.checkpoint.batches import BatchDescription
    from kappa.plan import SourcePlan
    from kappa.plan_layout import CheckpointLayout


@dataclass
class ReadResult:
    """Rows of one batch and the records that could not be decoded."""

    frame: "pl.LazyFrame"
    dead_letters: "pa.Table | None" = None


# ---------------------------------------------------------------- delta
def _delta_files(path: str, version: int | None, storage_options: dict) -> set[str]:
    from deltalake import DeltaTable

    return set(DeltaTable(path, version=version, storage_options=storage_options or None).file_uris())


def delta_new_files(path: str, start: int, end: int, storage_options: dict, skip_change_commits: bool) -> list[str]:
    """Data files added by versions ``start..end`` (inclusive); commits that remove data fail the
    read unless ``skip_change_commits`` (then their files are skipped), as Spark's Delta source does."""
    before = _delta_files(path, start - 1, storage_options) if start > 0 else set()
    after = _delta_files(path, end, storage_options)
    if before <= after:
        return sorted(after - before)
    new: list[str] = []
    prev = before
    for v in range(start, end + 1):
        cur = _delta_files(path, v, storage_options)
        if prev - cur:
            if not skip_change_commits:
                raise KappaError(
                    f"Delta table {path}: version {v} updates or deletes rows; a streaming read only follows appends. "
                    "Set `skip_change_commits: true` to ignore such commits, or read it as a batch source."
                )
        else:
            new.extend(sorted(cur - prev))
        prev = cur
    return new


def scan_delta(path: str, version: int | None, storage_options: dict) -> "pl.LazyFrame":
    import polars as pl

    from kappa.delta.read import read_delta

    return pl.from_arrow(read_delta(path, version=version, storage_options=storage_options)).lazy()


def scan_delta_files(path: str, files: list[str], storage_options: dict) -> "pl.LazyFrame":
    """Rows of some of a Delta table's data files, with the table's current schema."""
    import polars as pl

    from kappa.delta.read import read_delta_files

    return pl.from_arrow(read_delta_files(path, files, storage_options=storage_options)).lazy()


# ---------------------------------------------------------------- planning
@dataclass
class RunBound:
    """What one node may read in this run: a replay is bounded.

    The first planning step of the node in a run (after re-running a pending batch, if any)
    captures each source's end -- Kafka ``(earliest, end)`` offsets, a Delta table's version,
    the files present -- and every later batch of the run stops there, however fast records
    keep arriving; what arrives meanwhile is left for the next run. The bound also carries the
    node's name, checkpoint layout (where a ``latest`` start is kept) and run summary (offsets
    skipped with ``fail_on_data_loss: false``).
    """

    node: str | None = None
    layout: "CheckpointLayout | None" = None
    summary: Any = None
    captured: Any = None

    def capture(self, compute: Any) -> Any:
        """The end captured at the first call (``compute()``); the same value afterwards."""
        if self.captured is None:
            self.captured = compute()
        return self.captured


def plan_range(source: "SourcePlan", previous: "BatchDescription | None", bound: RunBound | None = None) -> "BatchDescription | None":
    """What the next batch reads, given the previous batch's description (None: nothing new to
    read), never past the ends ``bound`` captured (none: what is available now)."""
    from kappa.checkpoint.batches import DeltaRange, DeltaSnapshot, FileBatch, MemoryBatch

    bound = bound or RunBound()
    if source.kind == "memory":
        return MemoryBatch()
    if source.kind == "file":
        if not source.streaming:
            return FileBatch(tuple(list_files(source.path, source.format)))
        files = bound.capture(lambda: list_files(source.path, source.format))
        seen = set(previous.seen or ()) if isinstance(previous, FileBatch) else set()
        new = [f for f in files if f not in seen]
        if not new:
            return None
        return FileBatch(tuple(new), tuple(sorted(seen | set(new))))
    if source.kind == "delta":
        if not source.streaming:
            return DeltaSnapshot(source.version)
        current = bound.capture(lambda: delta_version(source.path, resolve_secrets(source.storage_options)))
        if current is None:
            bound.captured = None  # no table yet: look again next time
            return None
        start = previous.end + 1 if isinstance(previous, DeltaRange) else (source.starting_version or 0)
        if start > current:
            return None
        return DeltaRange(start, current)
    if source.kind == "kafka":
        from kappa.engines.polars.kafka_io import plan_kafka_range

        return plan_kafka_range(source, previous, source.streaming, bound)
    raise KappaError(f"cannot read source kind {source.kind}")


def read_range(source: "SourcePlan", batch: "BatchDescription", memory: dict[str, "pl.LazyFrame"], state_dir: str | None = None) -> ReadResult:
    """The rows of exactly ``batch`` (``state_dir``: the node's checkpoint folder)."""
    from kappa.checkpoint.batches import DeltaRange, DeltaSnapshot, FileBatch, KafkaRange, MemoryBatch

    if isinstance(batch, MemoryBatch):
        if source.upstream not in memory:
            raise KappaError(
                f"node {source.upstream!r} has no sink, so its output exists only within one run: select it too"
            )
        return ReadResult(memory[source.upstream])
    if isinstance(batch, FileBatch):
        return ReadResult(scan_files(list(batch.files), source.format, source.schema, source.read_options))
    if isinstance(batch, (DeltaRange, DeltaSnapshot)):
        storage = resolve_secrets(source.storage_options)
        if isinstance(batch, DeltaRange):
            files = delta_new_files(source.path, batch.start, batch.end, storage, source.skip_change_commits)
            return ReadResult(scan_delta_files(source.path, files, storage))
        if delta_version(source.path, storage) is None:
            raise KappaError(f"Delta table {source.path} does not exist (yet)")
        return ReadResult(scan_delta(source.path, batch.version, storage))
    if isinstance(batch, KafkaRange):
        from kappa.engines.polars.kafka_io import read_kafka_range

        return read_kafka_range(source, batch, state_dir)
    raise KappaError(f"cannot read a batch of kind {batch.kind}")


def read_full(source: "SourcePlan", memory: dict[str, "pl.LazyFrame"]) -> "pl.LazyFrame":
    """Everything a source holds now (used for ``{nodes.x}`` lookups: a stream-static join)."""
    from kappa.checkpoint.batches import MemoryBatch

    if source.kind == "memory":
        return read_range(source, MemoryBatch(), memory).frame
    if source.kind == "file":
        return scan_files(list_files(source.path, source.format), source.format, source.schema, source.read_options)
    if source.kind == "delta":
        return scan_delta(source.path, None, resolve_secrets(source.storage_options))
    raise KappaError(f"cannot look up a {source.kind} source as a table")


def file_exists(path: str) -> bool:
    return Path(path).exists()
