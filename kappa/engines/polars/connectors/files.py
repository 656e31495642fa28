"""File sources and sinks of the Polars engine.

A source lists the files of a folder, a glob or one file; a streaming source reads the files
not seen by an earlier batch (the batch keeps the list of files seen), at most
``read_options.maxFilesPerTrigger`` of them per batch (in name order), as Spark's file source does. A sink replaces a single
file atomically, or writes ``part-<batch_id>.<ext>`` into a folder, so a re-run overwrites the
same part file (overwrite mode: only that part file remains).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kappa.engines.polars.connectors.base import ReadResult, RunBound, SinkWriter, SourceReader, wrong_batch
from kappa.errors import KappaError
from kappa.files import list_files, scan_files, write_files

if TYPE_CHECKING:  # pragma: no cover
    import polars as pl

    from kappa.checkpoint.batches import BatchDescription
    from kappa.plan_kinds import FileSinkPlan, FileSourcePlan


class FileReader(SourceReader):
    def plan_range(self, source: "FileSourcePlan", previous: "BatchDescription | None", bound: RunBound) -> "BatchDescription | None":
        from kappa.checkpoint.batches import FileBatch

        if not source.streaming:
            return FileBatch(tuple(list_files(source.path, source.format)))
        files = bound.capture(lambda: list_files(source.path, source.format))
        seen = set(previous.seen or ()) if isinstance(previous, FileBatch) else set()
        new = [f for f in files if f not in seen]
        if not new:
            return None
        limit = _max_files(source.read_options)
        if limit:  # Spark's maxFilesPerTrigger: a stream reads at most that many new files per batch
            new = new[:limit]
        return FileBatch(tuple(new), tuple(sorted(seen | set(new))))

    def read_range(self, source: "FileSourcePlan", batch: "BatchDescription", memory: dict[str, "pl.LazyFrame"], state_dir: str | None) -> ReadResult:
        from kappa.checkpoint.batches import FileBatch

        if not isinstance(batch, FileBatch):
            raise wrong_batch(batch)
        return ReadResult(scan_files(list(batch.files), source.format, source.schema, source.read_options))

    def read_full(self, source: "FileSourcePlan", memory: dict[str, "pl.LazyFrame"]) -> "pl.LazyFrame":
        return scan_files(list_files(source.path, source.format), source.format, source.schema, source.read_options)


def _max_files(options: dict | None) -> int | None:
    """``maxFilesPerTrigger`` of a file source's ``read_options`` (any case), None when unset."""
    for key, value in (options or {}).items():
        if key.lower() == "maxfilespertrigger" and value is not None:
            try:
                limit = int(value)
            except (TypeError, ValueError):
                raise KappaError(f"read_options.maxFilesPerTrigger must be a positive integer, not {value!r}") from None
            if limit < 1:
                raise KappaError(f"read_options.maxFilesPerTrigger must be a positive integer, not {value!r}")
            return limit
    return None


class FileWriter(SinkWriter):
    def write(self, sink: "FileSinkPlan", df: "pl.DataFrame", batch_id: int) -> int:
        write_files(sink.path, df, sink.format, sink.mode, batch_id)
        return df.height

    def failure(self, sink: "FileSinkPlan", exc: BaseException, where: str) -> BaseException | None:
        if not isinstance(exc, OSError):
            return None
        detail = " ".join(str(exc).split())
        return KappaError(f"{where}: cannot write files to {sink.path}: {detail}")
