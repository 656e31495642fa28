"""Files as sources and sinks, for both engines: listing, Polars scans, part-file writes.

- :func:`list_files`: the data files of a source path (one file, a folder walked without its
  hidden ``.``/``_`` entries, or a glob), sorted;
- :func:`scan_files`: a Polars scan of some files (the Polars engine reads with it; the Spark
  engine infers an undeclared file schema with it), with ``read_options`` written for Spark
  filtered to what Polars takes (:func:`polars_read_options`);
- :func:`write_files`: one batch to a file sink -- a single file replaced atomically, or
  ``part-<batch_id>.<ext>`` in a folder, so a re-run overwrites the same part file.
"""

from __future__ import annotations

import glob as globmod
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kappa.atomic import write_with
from kappa.errors import KappaError

if TYPE_CHECKING:  # pragma: no cover
    import polars as pl

_EXT = {"JSON": (".json",), "JSONL": (".jsonl", ".ndjson", ".json"), "CSV": (".csv",), "PARQUET": (".parquet",)}


def list_files(path: str, fmt: str) -> list[str]:
    """Files of a source path: one file, every data file under a folder, or a glob's matches."""
    if any(ch in path for ch in "*?["):
        found = [p for p in globmod.glob(path, recursive=True) if os.path.isfile(p)]
    elif os.path.isdir(path):
        found = []
        for dirpath, dirnames, filenames in os.walk(path):
            dirnames[:] = [d for d in dirnames if not d.startswith((".", "_"))]
            found.extend(os.path.join(dirpath, f) for f in filenames if not f.startswith((".", "_")))
        exts = _EXT[fmt]
        if any(f.endswith(exts) for f in found):
            found = [f for f in found if f.endswith(exts)]
    elif os.path.isfile(path):
        found = [path]
    else:
        found = []
    return sorted(found)


def _polars_schema(schema: Any) -> Any:
    from kappa.types import parse_schema, polars_schema

    return polars_schema(parse_schema(schema))


def polars_read_options(fmt: str, options: dict | None) -> dict:
    """The ``read_options`` the Polars reader of ``fmt`` takes.

    ``read_options`` are written for Spark's readers (``maxFilesPerTrigger``, ``multiLine``,
    ``mode``, ...); Polars gets the ones that are parameters of its reader, plus CSV's ``header``
    and ``sep``/``delimiter`` (translated in :func:`scan_files`). The rest only mean something
    to Spark and are left out here, not passed on to fail with a ``TypeError``.
    """
    import inspect

    import polars as pl

    reader = {"JSONL": pl.scan_ndjson, "PARQUET": pl.scan_parquet, "CSV": pl.scan_csv, "JSON": pl.read_json}.get(fmt)
    if reader is None or not options:
        return dict(options or {})
    accepted = set(inspect.signature(reader).parameters) | ({"header", "delimiter", "sep"} if fmt == "CSV" else set())
    return {k: v for k, v in options.items() if k in accepted}


def _has_content(path: str, chunk: int = 1 << 16) -> bool:
    """True when the file holds anything but whitespace."""
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            if block.strip():
                return True
    return False


def scan_files(files: list[str], fmt: str, schema: Any = None, options: dict | None = None) -> "pl.LazyFrame":
    import polars as pl

    options = polars_read_options(fmt, options)
    pl_schema = _polars_schema(schema) if schema else None
    if fmt in ("JSONL", "CSV"):
        # an empty file (created, nothing written yet) has no rows, and no types to infer
        files = [f for f in files if _has_content(f)]
    if not files:
        return pl.LazyFrame(schema=pl_schema or {})
    if fmt == "JSONL":
        return pl.scan_ndjson(files, schema=pl_schema, **options)
    if fmt == "PARQUET":
        return pl.scan_parquet(files, missing_columns="insert", extra_columns="ignore", **options) if len(files) > 1 else pl.scan_parquet(files, **options)
    if fmt == "CSV":
        header = options.pop("header", True)
        sep = options.pop("delimiter", options.pop("sep", ","))
        return pl.scan_csv(files, has_header=bool(header), separator=sep, schema=pl_schema, **options)
    if fmt == "JSON":
        frames = [pl.read_json(f, schema=pl_schema, **options) for f in files]
        return pl.concat(frames, how="diagonal_relaxed").lazy()
    raise KappaError(f"unsupported file format {fmt}")


def write_files(path: str, df: "pl.DataFrame | pl.LazyFrame", fmt: str, mode: str, batch_id: int) -> Path:
    """Write one batch; returns the file written. A LazyFrame is streamed to Parquet
    (``sink_parquet``: Polars' streaming engine, never the whole batch in memory)."""
    if path.startswith("file://"):
        path = path[len("file://"):]
    elif "://" in path:  # never a local folder named "s3:" (the engine names the node, sink and path)
        raise OSError("the Polars engine writes file sinks to local (or mounted) folders only; "
                      "use a Delta sink on object storage")
    import polars as pl

    lazy = isinstance(df, pl.LazyFrame)
    if lazy and fmt != "PARQUET":
        df = df.collect()
    p = Path(path)
    ext = {"PARQUET": ".parquet", "JSONL": ".jsonl", "CSV": ".csv"}[fmt]

    def writer(target: Path) -> None:
        if fmt == "PARQUET":
            df.sink_parquet(target) if lazy else df.write_parquet(target)
        elif fmt == "JSONL":
            df.write_ndjson(target)
        else:
            df.write_csv(target)

    if p.suffix:  # a single file
        return write_with(p, writer)
    p.mkdir(parents=True, exist_ok=True)
    if mode == "overwrite":
        for child in p.iterdir():
            if child.name.startswith("part-"):
                child.unlink() if child.is_file() else shutil.rmtree(child)
    return write_with(p / f"part-{batch_id:08d}{ext}", writer)
