"""File sources and sinks of the Spark engine.

A source reads with a schema: the declared one, else one inferred with Polars over the files
present (so both engines see the same column types); a folder is read recursively, filtered to
the format's extensions when such files exist. A sink is
:func:`~kappa.engines.spark.datasources.file_sink.write_files_frame`: one executor task per
batch runs the Polars engine's writer (``part-<batch_id>.<ext>``), so the files are identical.
"""

from __future__ import annotations

import os
from pathlib import PurePath
from typing import TYPE_CHECKING, Any, Mapping

from kappa.engines.spark.arrow_schema import spark_schema_of_arrow
from kappa.engines.spark.connectors.base import SinkWriter, SourceReader
from kappa.engines.spark.sources import ReadDescription, SourceNotReady, schema_ddl

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession

    from kappa.plan_kinds import FileSinkPlan, FileSourcePlan

_FILE_FORMATS = {"JSONL": "json", "JSON": "json", "CSV": "csv", "PARQUET": "parquet"}
_FILE_EXT = {"JSON": ("json",), "JSONL": ("jsonl", "ndjson", "json"), "CSV": ("csv",), "PARQUET": ("parquet",)}


def _file_options(spec: Any, files: list[str] | None = None) -> dict[str, str]:
    from kappa.engines.spark.datasources.readers import option_value

    fmt = spec.format
    opts: dict[str, str] = {}
    read = dict(spec.read_options)
    if fmt == "JSON":
        opts["multiLine"] = "true"
    if fmt == "CSV":
        opts["header"] = option_value(read.pop("header", True))
        sep = read.pop("delimiter", read.pop("sep", None))
        if sep is not None:
            opts["sep"] = str(sep)
    opts.update({str(k): option_value(v) for k, v in read.items()})
    return opts


def file_read_description(source: "FileSourcePlan", streaming: bool) -> ReadDescription:
    """The Spark file reader of a file source: format, options, path (folder or file)."""
    opts = _file_options(source)
    path = source.path
    if os.path.isdir(path):
        opts["recursiveFileLookup"] = "true"
        from kappa.files import list_files

        exts = _FILE_EXT[source.format]
        if any(f.endswith(tuple("." + e for e in exts)) for f in list_files(path, source.format)):
            pattern = exts[0] if len(exts) == 1 else "{" + ",".join(exts) + "}"
            opts["pathGlobFilter"] = f"*.{pattern}"
    return ReadDescription(_FILE_FORMATS[source.format], opts, path, schema_ddl(source.schema))


def file_schema(source: "FileSourcePlan"):
    """The Spark schema of a file source: declared, else inferred with Polars over its files."""
    import pyarrow as pa

    if source.schema is not None:
        from kappa.types import parse_schema

        return spark_schema_of_arrow(parse_schema(source.schema))
    import polars as pl

    from kappa.files import list_files, scan_files

    files = list_files(source.path, source.format)
    if not files:
        raise SourceNotReady(f"no {source.format} files at {source.path} to infer a schema from (declare `schema`)")
    inferred = scan_files(files, source.format, None, source.read_options).collect_schema()
    arrow = pl.DataFrame(schema=inferred).to_arrow().schema
    return spark_schema_of_arrow(pa.schema(list(arrow)))


class FileReader(SourceReader):
    def describe(self, source: "FileSourcePlan", profile: str, redact: bool) -> ReadDescription:
        return file_read_description(source, source.streaming)

    def build_stream(self, spark: "SparkSession", source: "FileSourcePlan", profile: str, checkpoint_location: str | None) -> "DataFrame":
        desc = file_read_description(source, True)
        return spark.readStream.format(desc.format).schema(file_schema(source)).options(**desc.options).load(desc.path)

    def read_static(self, spark: "SparkSession", source: "FileSourcePlan", profile: str, memory: Mapping[str, Any], decode: bool) -> "DataFrame":
        desc = file_read_description(source, False)
        try:
            schema = file_schema(source)
        except SourceNotReady:
            return spark.range(0).drop("id")  # no files yet: no rows, no columns
        return spark.read.format(desc.format).schema(schema).options(**desc.options).load(desc.path)

    def state(self, source: "FileSourcePlan") -> Any:
        from kappa.files import list_files

        files = list_files(source.path, source.format)
        out = []
        for f in files:
            st = os.stat(f)
            out.append([f, st.st_size, st.st_mtime_ns])
        return out


class FileWriter(SinkWriter):
    single_task = True

    def describe(self, sink: "FileSinkPlan", profile: str) -> dict[str, Any]:
        single = bool(PurePath(sink.path).suffix)
        return {
            "path": sink.path,
            "format": sink.format,
            "writer": ("single file, replaced" if single else "part files named by batch id") + ", written by one executor task",
        }

    def write(self, sink: "FileSinkPlan", df: "DataFrame", batch_id: int, profile: str) -> int:
        from kappa.engines.spark.datasources.file_sink import write_files_frame

        return write_files_frame(df, sink.path, sink.format, sink.mode, batch_id)
