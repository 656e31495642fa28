"""``kappa_file_sink``: a file sink's batch write done on an executor (python profile).

Called from ``foreachBatch`` code through :func:`write_files_frame`::

    rows = write_files_frame(batch_df, path, "PARQUET", "append", batch_id)

The file layout is :func:`kappa.files.write_files`'s, because the executor calls it: a path
with a suffix is one file replaced atomically per batch; otherwise ``part-<batch_id>.<ext>``
in the folder (``overwrite`` first removes the other part files), so a replayed batch id
rewrites the same file. One file per batch means one writer: the frame is coalesced to ONE
task (still an executor, never the driver), which casts its Arrow batches to
``toArrow()``'s types (:mod:`.sink_support`) and writes them with Polars -- the same bytes
as the driver-side write of the same rows in the same order. The price: ``coalesce(1)`` runs
the work since the last shuffle in that one task.

Options (strings): ``path``, ``format`` (PARQUET/JSONL/CSV), ``batchId``; Spark's save mode
``overwrite`` is the sink's ``overwrite`` mode, anything else appends. The row count comes
from an Observation on the written frame.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pyspark.sql.datasource import (
    DataSource,
    DataSourceArrowWriter,
    WriterCommitMessage,
)

from kappa.engines.spark.datasources.sink_support import (
    arrow_schema,
    cast_batches,
    observed,
    observed_rows,
    save,
)
from kappa.errors import ConfigError, KappaError

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa
    from pyspark.sql import DataFrame

NAME = "kappa_file_sink"
FORMATS = ("PARQUET", "JSONL", "CSV")


class FileSinkError(KappaError):
    """A file sink batch could not be written as one file (names the path)."""


@dataclass
class FileSinkCommit(WriterCommitMessage):
    """One task's rows written."""

    rows: int


class FileSinkWriter(DataSourceArrowWriter):
    """Pickled to the executor that writes the batch's one file."""

    def __init__(self, path: str, fmt: str, mode: str, batch_id: int, schema: "pa.Schema"):
        self.path, self.fmt, self.mode, self.batch_id, self.schema = path, fmt, mode, batch_id, schema

    def write(self, iterator: Iterator["pa.RecordBatch"]) -> FileSinkCommit:
        """Runs in an executor: the task's rows as one polars frame, written by write_files."""
        import polars as pl
        import pyarrow as pa

        from kappa.files import write_files

        tables = list(cast_batches(iterator, self.schema))
        table = pa.concat_tables(tables) if tables else self.schema.empty_table()
        write_files(self.path, pl.from_arrow(table), self.fmt, self.mode, self.batch_id)
        return FileSinkCommit(table.num_rows)

    def commit(self, messages: list) -> None:
        """Driver side: exactly one task may have written (else files of one batch raced)."""
        if len(messages) != 1:
            raise FileSinkError(f"{NAME} {self.path}: {len(messages)} tasks wrote batch {self.batch_id}; coalesce the frame to one partition")


class FileSinkDataSource(DataSource):
    """``df.coalesce(1).write.format("kappa_file_sink").options(path=, format=, batchId=).mode(m).save()``."""

    @classmethod
    def name(cls) -> str:
        return NAME

    def writer(self, schema, overwrite: bool) -> FileSinkWriter:
        options = {str(k).lower(): str(v) for k, v in self.options.items()}
        for required in ("path", "format", "batchid"):
            if not options.get(required):
                raise ConfigError(f"{NAME}: option {required!r} is required")
        fmt = options["format"].upper()
        if fmt not in FORMATS:
            raise ConfigError(f"{NAME}: format {options['format']!r} is not one of {', '.join(FORMATS)}")
        try:
            batch_id = int(options["batchid"])
        except ValueError:
            raise ConfigError(f"{NAME}: option 'batchId' must be an integer, not {options['batchid']!r}") from None
        return FileSinkWriter(options["path"], fmt, "overwrite" if overwrite else "append", batch_id, arrow_schema(schema))


def write_files_frame(df: "DataFrame", path: str, fmt: str, mode: str, batch_id: int) -> int:
    """Write ``df`` as the file sink batch ``batch_id`` from one executor task, laid out as
    :func:`kappa.files.write_files` does; returns the rows written (observed while writing)."""
    frame, obs = observed(df)
    options = {"path": path, "format": fmt, "batchId": batch_id}
    save(frame.coalesce(1), NAME, options, "overwrite" if mode == "overwrite" else "append", (FileSinkError, ConfigError))
    return observed_rows(obs)
