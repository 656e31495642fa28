"""What a node reads, as Spark readers, for either connector profile.

- :func:`source_read_spec` describes a source (format, options, path, schema) without Spark:
  the same text ``kappa explain`` prints and the readers below apply.
- :func:`build_stream` returns the streaming DataFrame a streaming node's query consumes.
- :func:`read_static` reads a whole source as a batch DataFrame (sources of non-streaming
  nodes, re-read on every run as the Polars engine does, and ``{nodes.x}`` lookups).

Kafka options are Spark's Kafka source options (``format("kafka")`` on ``jvm``,
``kappa_kafka`` on ``python``); Delta is ``format("delta")`` / ``kappa_delta``. File sources
read with a schema: the declared one, else one inferred with Polars over the files present
(so both engines see the same column types).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping

from kappa.engines.spark.arrow_schema import spark_schema_of_arrow  # noqa: F401 - also this module's API
from kappa.errors import ConfigError, KappaError

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession

    from kappa.plan import SourcePlan

REDACTED = "***"
_FILE_FORMATS = {"JSONL": "json", "JSON": "json", "CSV": "csv", "PARQUET": "parquet"}
_FILE_EXT = {"JSON": ("json",), "JSONL": ("jsonl", "ndjson", "json"), "CSV": ("csv",), "PARQUET": ("parquet",)}


class SourceNotReady(KappaError):
    """A source that does not exist yet (e.g. an upstream Delta table nobody wrote)."""


@dataclass(frozen=True)
class ReadDescription:
    """A reader: format name, options (secrets resolved or redacted), path and schema DDL."""

    format: str | None
    options: dict[str, str]
    path: str | None = None
    schema: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"format": self.format, "options": dict(sorted(self.options.items())), "path": self.path, "schema": self.schema}


def _is_secret(key: str) -> bool:
    from kappa.kafka.client import is_secret_key

    lowered = key.lower()
    return is_secret_key(key) or any(m in lowered for m in ("access_key", "account_key", "sas_token", "session_token"))


def _values(options: Mapping[str, Any], redact: bool) -> dict[str, str]:
    """Option values as text; secret ones redacted, or ``${env.X}`` references resolved."""
    from kappa.plan_kinds import resolve_secrets
    from kappa.engines.spark.datasources.readers import option_value

    raw = {str(k): option_value(v) for k, v in options.items()}
    if redact:
        return {k: (REDACTED if _is_secret(k) else v) for k, v in raw.items()}
    return resolve_secrets(raw)


def schema_ddl(schema: Any) -> str | None:
    """A declared schema (DDL text or ``{column: type}``) as one Spark DDL string."""
    if schema is None:
        return None
    from kappa.types import arrow_to_spark_ddl, parse_schema

    return ", ".join(f"{f.name} {arrow_to_spark_ddl(f.type)}" for f in parse_schema(schema))


def kafka_options(spec: Any, redact: bool = False, batch: bool = False) -> dict[str, str]:
    """Spark Kafka source options of a :class:`~kappa.plan.KafkaSourcePlan`."""
    from kappa.kafka.client import SPARK_ONLY_OPTIONS

    out: dict[str, str] = {"kafka.bootstrap.servers": spec.bootstrap_servers, "subscribe": ",".join(spec.topics)}
    start = spec.starting_offsets
    out["startingOffsets"] = start if isinstance(start, str) else json.dumps(start, separators=(",", ":"), sort_keys=True)
    if spec.max_offsets_per_trigger and not batch:
        out["maxOffsetsPerTrigger"] = str(spec.max_offsets_per_trigger)
    if spec.include_headers:
        out["includeHeaders"] = "true"
    if not spec.fail_on_data_loss:
        out["failOnDataLoss"] = "false"
    if batch:
        out["endingOffsets"] = "latest"
    extra = {}
    for key, value in spec.options.items():
        name = key if key.startswith("kafka.") or key.lower() in SPARK_ONLY_OPTIONS else f"kafka.{key}"
        extra[name] = value
    out.update(_values(extra, redact))
    return out


def delta_options(spec: Any, profile: str, redact: bool = False, batch: bool = False) -> dict[str, str]:
    """Delta source options (``storage.*`` only for ``kappa_delta``)."""
    out: dict[str, str] = {}
    if batch:
        if spec.version is not None:
            out["versionAsOf"] = str(spec.version)
    else:
        if spec.starting_version is not None:
            out["startingVersion"] = str(spec.starting_version)
        if spec.skip_change_commits:
            out["skipChangeCommits"] = "true"
    if profile == "python" and spec.storage_options:
        out.update({f"storage.{k}": v for k, v in _values(spec.storage_options, redact).items()})
    return out


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


def file_read_description(source: "SourcePlan", streaming: bool) -> ReadDescription:
    """The Spark file reader of a file source: format, options, path (folder or file)."""
    import os

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


def describe_source(source: "SourcePlan | None", profile: str, redact: bool = True) -> dict[str, Any]:
    """The ``source`` entry of a compiled node's description."""
    from kappa.engines.spark.datasources.readers import FORMATS

    if source is None:
        return {"kind": "none", "format": None, "options": {}, "schema": None, "path": None, "streaming": False}
    batch = not source.streaming
    if source.kind == "kafka":
        desc = ReadDescription(FORMATS[("kafka", profile)], kafka_options(source, redact, batch), None, schema_ddl(source.schema))
    elif source.kind == "delta":
        desc = ReadDescription(FORMATS[("delta", profile)], delta_options(source, profile, redact, batch), source.path)
    elif source.kind == "file":
        desc = file_read_description(source, source.streaming)
    else:
        desc = ReadDescription("memory", {}, None)
    out = {"kind": source.kind, **desc.as_dict(), "streaming": source.streaming}
    if source.upstream:
        out["upstream"] = source.upstream
    if source.kind == "kafka":
        out["value_format"] = source.value_format
    return out


# ---------------------------------------------------------------- schemas
def file_schema(source: "SourcePlan"):
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


# ---------------------------------------------------------------- readers
def _delta_exists(path: str, storage_options: Mapping[str, str]) -> bool:
    from kappa.delta.read import delta_version

    return delta_version(path, _values(storage_options, False)) is not None


def _initial_option(profile: str, checkpoint_location: str | None) -> dict[str, str]:
    """The reader option that lets kappa's Python sources keep their initial offset."""
    if profile != "python" or not checkpoint_location:
        return {}
    from kappa.engines.spark.datasources.initial import CHECKPOINT_OPTION

    return {CHECKPOINT_OPTION: checkpoint_location}


def build_stream(spark: "SparkSession", source: "SourcePlan", profile: str, checkpoint_location: str | None = None) -> "DataFrame":
    """The streaming DataFrame of a streaming source (raises SourceNotReady when there is none yet).

    ``checkpoint_location`` is the query's checkpoint folder: kappa's python-profile readers keep
    their initial offset there, decided once (:mod:`kappa.engines.spark.datasources.initial`;
    not part of the description, so not of the fingerprint).
    """
    from kappa.engines.spark.datasources.readers import FORMATS

    if source.kind == "kafka":
        options = {**kafka_options(source), **_initial_option(profile, checkpoint_location), **_decode_option(source, profile)}
        return spark.readStream.format(FORMATS[("kafka", profile)]).options(**options).load()
    if source.kind == "delta":
        if not _delta_exists(source.path, source.storage_options):
            raise SourceNotReady(f"Delta table {source.path} does not exist yet")
        fmt = FORMATS[("delta", profile)]
        options = {**delta_options(source, profile), **_initial_option(profile, checkpoint_location)}
        return spark.readStream.format(fmt).options(**options).load(source.path)
    if source.kind == "file":
        desc = file_read_description(source, True)
        return spark.readStream.format(desc.format).schema(file_schema(source)).options(**desc.options).load(desc.path)
    raise ConfigError(f"a {source.kind} source cannot be streamed")


def _decode_option(spec: Any, profile: str) -> dict[str, str]:
    """python profile: the reader decodes a JSON source with a declared schema (not part of the
    description, so not of the fingerprint: it changes where decoding runs, not what it gives)."""
    if profile != "python":
        return {}
    from kappa.engines.spark.decode import decode_option

    return decode_option(spec)


def read_static(spark: "SparkSession", source: "SourcePlan", profile: str, memory: Mapping[str, Any], decode: bool = False) -> "DataFrame":
    """Everything a source holds now, as a batch DataFrame (``decode``: a Kafka source as the
    node's input, decoded in the reader where it can be, see :func:`_decode_option`)."""
    from kappa.engines.spark.datasources.readers import FORMATS

    if source.kind == "memory":
        if source.upstream not in memory:
            raise KappaError(f"node {source.upstream!r} has no sink, so its output exists only within one run: select it too")
        return memory[source.upstream]  # a DataFrame checkpointed on the executors
    if source.kind == "kafka":
        options = {**kafka_options(source, batch=True), **(_decode_option(source, profile) if decode else {})}
        return spark.read.format(FORMATS[("kafka", profile)]).options(**options).load()
    if source.kind == "delta":
        if not _delta_exists(source.path, source.storage_options):
            raise KappaError(f"Delta table {source.path} does not exist (yet)")
        fmt = FORMATS[("delta", profile)]
        return spark.read.format(fmt).options(**delta_options(source, profile, batch=True)).load(source.path)
    if source.kind == "file":
        desc = file_read_description(source, False)
        try:
            schema = file_schema(source)
        except SourceNotReady:
            return spark.range(0).drop("id")  # no files yet: no rows, no columns
        return spark.read.format(desc.format).schema(schema).options(**desc.options).load(desc.path)
    raise KappaError(f"cannot read a {source.kind} source")
