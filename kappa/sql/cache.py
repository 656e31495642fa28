"""A persistent cache of the SQL work that needs sqlglot: translations and static-check schemas.

Design note (issue 14). A replay of a pipeline with SQL steps spends ~0.1 s of CPU per process on
sqlglot before any data moves: importing it (~0.075 s, its dialects and expression classes),
kappa's translator modules on top (~0.015 s), then parsing, checking and translating each step.
That is a fixed cost of every ``kappa replay`` / ``Pipeline.execute()`` process, paid again for
the same statement over the same input schema run after run. Both results are pure functions of
their inputs and of the code that computes them:

* :func:`translation` -- :func:`kappa.sql.translate.translate_for_polars` of a statement over
  ``{table: {column: Spark type name}}`` (the Polars SQL and the hoisted casts it reads);
* :func:`load_check` / :func:`store_check` -- :func:`kappa.sql.static_check.check_sql` of a step
  that has no problem, over Polars input schemas: its output Polars schema (None when an input's
  schema is unknown until the run, e.g. a JSONL source: then only the text was checked);
* :func:`fact` -- a yes/no property of a step's text alone (whether it aggregates:
  :func:`kappa.stateful.sql_shape.is_aggregate_step`, asked of every batch node's steps).

So they are kept on disk, one small JSON file per entry, under a directory named by a
fingerprint of everything they depend on: the source text of ``kappa/sql/*.py`` and of the other
kappa modules the checks call (:data:`_DEPENDS`), the Polars, sqlglot and pyarrow versions and Python's.
Any edit or upgrade gives a new directory (old ones not written for :data:`_PRUNE_DAYS` days are
removed), so an entry is never read by code that might compute a different answer. What is not
cached: a statement mentioning ``current_timestamp``/``current_date``/``now()`` (its translation
fixes the instant), anything that raised or reported a problem (errors are always computed, with
their messages and positions), and schemas holding a dtype outside :func:`_encode`'s explicit
list (no lossy key or value: a schema read back must compare and print equal to the one stored,
checked before it is written). A missing, unreadable or corrupt entry is a miss; a cache directory
that cannot be written is ignored; entries are written to a temporary file and renamed (atomic:
concurrent runs never see half an entry).

Location: ``$KAPPA_CACHE_DIR`` (default ``$XDG_CACHE_HOME/kappa``, else ``~/.cache/kappa``),
sub-directory ``sql/``. ``KAPPA_SQL_CACHE=off`` turns it off (every statement then goes through
sqlglot as before). This module imports neither sqlglot nor the translator: a hit costs a file read.
Entries are plain JSON (never unpickled or evaluated), but a translation read back is the SQL
Polars runs: the directory must be as trusted as the user's home, like Python's own bytecode
caches (it is created readable by its owner only). A directory holds at most about
:data:`_MAX_ENTRIES` entries (pipelines whose SQL text changes every run): past that, the older
half is removed.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Mapping

_MENTIONS_NOW = re.compile(r"current_(timestamp|date)|\bnow\s*\(", re.IGNORECASE)
#: kappa modules outside kappa/sql whose code a static check runs (with kappa/sql/*.py, the fingerprint)
_DEPENDS = ("stateful/intervals.py", "stateful/spec.py", "stateful/sql_shape.py", "types.py")
_PRUNE_DAYS = 7
_MAX_ENTRIES = 4096
_MEMO: dict[str, Any] = {}  # this process's hits (a streaming replay looks a step up per batch)
_MEMO_MAX = 512


def translation(spark_sql: str, schemas: Mapping[str, Mapping[str, str]],
                translate: Callable[[str, Mapping[str, Mapping[str, str]]], "tuple[str, tuple]"]) -> "tuple[str, tuple]":
    """``translate(spark_sql, schemas)`` -- :func:`kappa.sql.translate.translate_for_polars` with hoisting
    on, handed in by the caller (this module never imports the translator) -- or its cached result."""
    folder = _folder()
    if folder is None or _MENTIONS_NOW.search(spark_sql):
        return translate(spark_sql, schemas)
    payload = ["translate", spark_sql, {t: dict(c) for t, c in schemas.items()}]
    key = _key(payload)
    if key in _MEMO:
        return _MEMO[key]
    entry = _read(folder, key, payload)
    if entry is not None:
        try:
            from kappa.sql._ts_parse import Derived

            found = (str(entry["sql"]), tuple(Derived(table=str(t), path=tuple(str(f) for f in p), name=str(n), strict=bool(s))
                                               for t, p, n, s in entry["derived"]))
        except (KeyError, TypeError, ValueError):
            found = None
        if found is not None:
            return _remember(key, found)
    out = translate(spark_sql, schemas)
    sql, derived = out
    _write(folder, key, payload, {"sql": sql, "derived": [[d.table, list(d.path), d.name, d.strict] for d in derived]})
    return _remember(key, out)


def load_check(sql: str, df_schema: Any, node_schemas: Mapping[str, Any] | None, df_known: bool) -> tuple[bool, Any]:
    """``(True, output schema)`` when :func:`check_sql` found no problem in this step before (the schema
    None when its inputs' were unknown), else ``(False, None)``."""
    folder = _folder()
    payload = _check_payload(sql, df_schema, node_schemas, df_known) if folder is not None else None
    if payload is None:
        return False, None
    key = _key(payload)
    if key in _MEMO:  # a copy: a Polars schema is a mutable mapping, as a computed one is the caller's
        return True, None if _MEMO[key] is None else _MEMO[key].__class__(_MEMO[key])
    entry = _read(folder, key, payload)
    if entry is None or "schema" not in entry:
        return False, None
    try:
        schema = None if entry["schema"] is None else _schema(entry["schema"])
    except (KeyError, TypeError, ValueError, AttributeError):
        return False, None
    _remember(key, schema)
    return True, None if schema is None else schema.__class__(schema)


def store_check(sql: str, df_schema: Any, node_schemas: Mapping[str, Any] | None, df_known: bool, schema: Any) -> None:
    """Keep the output schema (or None) of a step :func:`check_sql` found no problem in, when it encodes exactly."""
    folder = _folder()
    payload = _check_payload(sql, df_schema, node_schemas, df_known) if folder is not None else None
    if payload is None:
        return
    if schema is None and df_schema is not None and all(s is not None for s in (node_schemas or {}).values()):
        return  # every input known yet no schema: the trial run failed unexpectedly (left to the run, not kept)
    encoded = None
    if schema is not None:
        try:
            encoded = [[name, _encode(dtype)] for name, dtype in schema.items()]
            if repr(_schema(encoded)) != repr(schema) or _schema(encoded) != schema:
                return
        except (TypeError, ValueError, AttributeError):
            return
    _write(folder, _key(payload), payload, {"schema": encoded})


def fact(name: str, sql: str, compute: Callable[[str], bool]) -> bool:
    """``compute(sql)``, a yes/no property of the text ``sql`` (``name`` says which), cached."""
    folder = _folder()
    if folder is None:
        return compute(sql)
    payload = ["fact", name, sql]
    key = _key(payload)
    if key in _MEMO:
        return _MEMO[key]
    entry = _read(folder, key, payload)
    if entry is not None and isinstance(entry.get("value"), bool):
        return _remember(key, entry["value"])
    value = bool(compute(sql))
    _write(folder, key, payload, {"value": value})
    return _remember(key, value)


# ----------------------------------------------------------------------------- keys and values
def _check_payload(sql: str, df_schema: Any, node_schemas: Mapping[str, Any] | None, df_known: bool) -> list | None:
    try:
        nodes = {name: None if s is None else _encode_schema(s) for name, s in (node_schemas or {}).items()}
        return ["check", sql, None if df_schema is None else _encode_schema(df_schema), nodes, bool(df_known)]
    except (TypeError, ValueError, AttributeError):
        return None


def _encode_schema(schema: Any) -> list:
    return [[str(name), _encode(dtype)] for name, dtype in dict(schema).items()]


_PLAIN = ("Boolean", "Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16", "UInt32", "UInt64", "Float32", "Float64",
          "String", "Binary", "Date", "Time", "Null")


def _encode(dtype: Any) -> Any:
    """A Polars dtype as JSON, for the types listed here only (TypeError for any other)."""
    import polars as pl

    base = dtype.base_type()
    name = base.__name__
    if name in _PLAIN and getattr(pl, name) is base:
        return name
    if not isinstance(dtype, pl.DataType):  # a parametric class without its parameters
        raise TypeError(f"not cached: {dtype!r}")
    if base is pl.Datetime:
        return ["Datetime", dtype.time_unit, dtype.time_zone]
    if base is pl.Duration:
        return ["Duration", dtype.time_unit]
    if base is pl.Decimal and dtype.precision is not None:
        return ["Decimal", dtype.precision, dtype.scale]
    if base is pl.List:
        return ["List", _encode(dtype.inner)]
    if base is pl.Struct:
        return ["Struct", [[f.name, _encode(f.dtype)] for f in dtype.fields]]
    raise TypeError(f"not cached: {dtype!r}")


def _decode(value: Any) -> Any:
    import polars as pl

    if isinstance(value, str):
        if value not in _PLAIN:
            raise ValueError(value)
        return getattr(pl, value)()
    kind, *args = value
    if kind == "Datetime":
        return pl.Datetime(args[0], args[1])
    if kind == "Duration":
        return pl.Duration(args[0])
    if kind == "Decimal":
        return pl.Decimal(args[0], args[1])
    if kind == "List":
        return pl.List(_decode(args[0]))
    if kind == "Struct":
        return pl.Struct([pl.Field(str(n), _decode(d)) for n, d in args[0]])
    raise ValueError(kind)


def _schema(encoded: list) -> Any:
    import polars as pl

    return pl.Schema([(str(name), _decode(d)) for name, d in encoded])


def _key(payload: list) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _remember(key: str, value: Any) -> Any:
    if len(_MEMO) >= _MEMO_MAX:
        _MEMO.clear()
    _MEMO[key] = value
    return value


# ----------------------------------------------------------------------------- the files
def _folder() -> Path | None:
    """This code's cache directory (None: off, or no place for it)."""
    if os.environ.get("KAPPA_SQL_CACHE", "").strip().lower() in ("off", "0", "false", "no"):
        return None
    root = os.environ.get("KAPPA_CACHE_DIR")
    if not root:
        base = os.environ.get("XDG_CACHE_HOME") or (str(Path.home() / ".cache") if os.environ.get("HOME") else "")
        if not base:
            return None
        root = os.path.join(base, "kappa")
    fingerprint = _fingerprint()
    return None if fingerprint is None else Path(root) / "sql" / fingerprint


@functools.lru_cache(maxsize=1)
def _fingerprint() -> str | None:
    """A digest of the code and versions the cached results depend on (None: sources not found)."""
    import polars as pl

    here = Path(__file__).resolve().parent
    files = sorted(here.glob("*.py")) + [here.parent / rel for rel in _DEPENDS]
    digest = hashlib.sha256(f"{sys.version}\0polars {pl.__version__}\0".encode())
    try:
        for path in files:
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
        for package in ("sqlglot", "pyarrow"):  # the parser; Arrow names the types Polars' mapping does not
            digest.update(_package_stamp(package) + b"\0")
    except OSError:
        return None
    return digest.hexdigest()[:24]


def _package_stamp(name: str) -> bytes:
    """Where package ``name`` is and its version file's text, without importing it."""
    import importlib.util

    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        return f"{name}: none".encode()
    package = Path(spec.origin).parent
    for version in ("_version.py", "_generated_version.py"):
        if (package / version).exists():
            return str(package).encode() + b"\0" + (package / version).read_bytes()
    init = (package / "__init__.py").stat()
    return f"{package}\0{init.st_size}\0{init.st_mtime_ns}".encode()


def _read(folder: Path, key: str, payload: list) -> dict | None:
    try:
        entry = json.loads((folder / f"{key}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(entry, dict) or entry.get("input") != payload:  # the whole input, not only its digest
        return None
    return entry


def _write(folder: Path, key: str, payload: list, value: dict) -> None:
    try:
        if not folder.is_dir():
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            _prune(folder)
        tmp = folder / f".{key}.{os.getpid()}.{threading.get_ident()}.tmp"  # one per writer, then renamed
        tmp.write_text(json.dumps({"input": payload, **value}), encoding="utf-8")
        os.replace(tmp, folder / f"{key}.json")
        if key.startswith("00"):  # 1 write in 256 (keys are uniform digests) counts the entries
            _cap(folder)
    except OSError:
        pass  # no cache this time: the result was computed anyway


def _cap(folder: Path) -> None:
    """Remove the older half of the entries when there are more than :data:`_MAX_ENTRIES`."""
    entries = [e for e in os.scandir(folder) if e.name.endswith(".json")]
    if len(entries) <= _MAX_ENTRIES:
        return
    entries.sort(key=lambda e: e.stat().st_mtime)
    for entry in entries[: len(entries) // 2]:
        try:
            os.unlink(entry.path)
        except OSError:
            pass


def _prune(current: Path) -> None:
    """Remove the cache directories of other code (fingerprints) not written for :data:`_PRUNE_DAYS` days."""
    import shutil

    cutoff = time.time() - _PRUNE_DAYS * 86400
    try:
        for other in current.parent.iterdir():
            if other != current and other.is_dir() and other.stat().st_mtime < cutoff:
                shutil.rmtree(other, ignore_errors=True)
    except OSError:
        pass
