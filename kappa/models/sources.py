"""Source models: where a node reads from.

A source is written without a ``type`` key when its kind is obvious from its fields, as in
laktory's format: ``node_name`` means another node, ``format: DELTA`` a Delta table,
``topics``/``topic`` a Kafka topic, ``path`` + ``format`` files. ``type`` may always be given.

>>> src = FileDataSource(path="./data/stock_prices/", format="JSONL")
>>> src.type, src.format, src.streaming
('file', 'JSONL', False)
>>> KafkaDataSource(bootstrap_servers="127.0.0.1:9092", topic="prices").topics
['prices']
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import Discriminator, Field, Tag, field_validator, model_validator

from kappa.models.base import KappaModel

FileFormat = Literal["JSON", "JSONL", "CSV", "PARQUET"]
_FORMAT_ALIASES = {"NDJSON": "JSONL", "JSONLINES": "JSONL"}


def _upper_format(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip().upper()
        return _FORMAT_ALIASES.get(value, value)
    return value


class _SourceBase(KappaModel):
    as_stream: bool | None = Field(
        None,
        description=(
            "Read incrementally: each run (or micro-batch) processes only data that is new since "
            "the last committed one. Defaults to true for Kafka and false for files, Delta tables "
            "and nodes (laktory's default)."
        ),
    )

    @property
    def streaming(self) -> bool:
        """Whether this source is read incrementally (``as_stream`` with its default applied)."""
        return bool(self.as_stream) if self.as_stream is not None else self._default_stream

    _default_stream: bool = False


class FileDataSource(_SourceBase):
    """Files in a folder, a glob or a single file: JSON, JSONL, CSV or Parquet."""

    type: Literal["file"] = Field("file", description="Source kind; inferred from `path` + `format`.")
    path: str = Field(..., description="A file, a folder (every file inside) or a glob pattern.")
    format: FileFormat = Field(..., description="File format: JSON, JSONL, CSV or PARQUET (case-insensitive).")
    schema_: str | dict[str, Any] | None = Field(
        None,
        alias="schema",
        description="Declared schema as Spark DDL (`a INT, b STRING`) or a `{column: type}` mapping; inferred when absent.",
    )
    read_options: dict[str, Any] = Field(
        default_factory=dict,
        description="Extra reader options (e.g. `header`, `delimiter` for CSV).",
    )

    _norm_format = field_validator("format", mode="before")(_upper_format)


class DeltaDataSource(_SourceBase):
    """A Delta table, read whole (optionally at a version) or incrementally over its versions."""

    type: Literal["delta"] = Field("delta", description="Source kind; inferred from `format: DELTA`.")
    path: str = Field(..., description="Table location: a local path or an object-store URI.")
    format: Literal["DELTA"] = Field("DELTA", description="Always DELTA for this source.")
    version: int | None = Field(None, ge=0, description="Read the table as of this version (batch reads only).")
    starting_version: int | None = Field(
        None, ge=0, description="Streaming reads: first version to read (default: the whole table, then new versions)."
    )
    skip_change_commits: bool = Field(
        False,
        description="Streaming reads: ignore commits that update or delete rows instead of failing (Spark's `skipChangeCommits`).",
    )
    storage_options: dict[str, str] = Field(
        default_factory=dict, description="Object-store options passed to delta-rs / Spark; values may be `${env.NAME}` references."
    )

    _norm_format = field_validator("format", mode="before")(_upper_format)

    @model_validator(mode="after")
    def _version_is_batch_only(self) -> "DeltaDataSource":
        if self.version is not None and self.streaming:
            raise ValueError("`version` reads a fixed snapshot; it cannot be combined with `as_stream: true`")
        return self


class KafkaDataSource(_SourceBase):
    """Kafka topics, read with the columns of Spark's Kafka source and then decoded.

    The records first become ``key, value, topic, partition, offset, timestamp, timestampType``
    (and ``headers`` with ``include_headers``); with ``value_format: json`` the ``value`` column
    becomes a struct decoded with ``schema`` (inferred when absent). Records whose value cannot
    be decoded go to the dead-letter table, never silently away.
    """

    type: Literal["kafka"] = Field("kafka", description="Source kind; inferred from `topics` / `topic`.")
    bootstrap_servers: str = Field(..., description="Kafka bootstrap servers, `host:port[,host:port]`.")
    topics: list[str] = Field(..., min_length=1, description="Topics to read (`topic` is accepted for a single one).")
    starting_offsets: Literal["earliest", "latest"] | dict[str, dict[str, int]] = Field(
        "earliest",
        description="Where a first run starts: earliest, latest, or `{topic: {partition: offset}}` (-2 earliest, -1 latest).",
    )
    value_format: Literal["json", "raw", "debezium"] = Field(
        "json",
        description="How `value` is decoded: json (to a struct), raw (bytes kept), debezium (CDC envelope); `format` is accepted too.",
    )
    schema_: str | dict[str, Any] | None = Field(
        None,
        alias="schema",
        description="Schema of the JSON value as Spark DDL or a `{field: type}` mapping; inferred from the data when absent.",
    )
    include_headers: bool = Field(False, description="Add the `headers` column (array of key/value structs).")
    max_offsets_per_trigger: int | None = Field(
        None, gt=0, description="Upper bound of records per micro-batch (Spark's `maxOffsetsPerTrigger`)."
    )
    fail_on_data_loss: bool = Field(
        True,
        description=(
            "Stop when committed offsets lie outside the topic's log (topic re-created or truncated, broker lost its log, "
            "records deleted by retention before they were read). False: continue from the earliest available offset, "
            "with a warning and the count of skipped offsets (Spark's `failOnDataLoss`)."
        ),
    )
    options: dict[str, str] = Field(
        default_factory=dict,
        description="Kafka client settings (`security.protocol`, `sasl.*`, ...; a `kafka.` prefix is accepted). Use `${env.NAME}` for secrets.",
    )
    dead_letter_path: str | None = Field(
        None,
        description="Delta table receiving undecodable records (topic, partition, offset, raw bytes, error). Default: `<checkpoint>/dead_letters`.",
    )
    max_record_bytes: int = Field(
        8 * 1024 * 1024,
        gt=0,
        description="Largest record (key + value bytes) decoded; a larger one goes to the dead-letter table. Default 8 MiB.",
    )
    _default_stream: bool = True

    @model_validator(mode="before")
    @classmethod
    def _single_topic(cls, data: Any) -> Any:
        if isinstance(data, dict) and "format" in data:
            data = dict(data)
            if "value_format" in data:
                raise ValueError("give either `format` or `value_format`, not both")
            fmt = data.pop("format")
            data["value_format"] = fmt.lower() if isinstance(fmt, str) else fmt
        if isinstance(data, dict) and "topic" in data:
            data = dict(data)
            topic = data.pop("topic")
            if "topics" in data:
                raise ValueError("give either `topic` or `topics`, not both")
            data["topics"] = [topic] if isinstance(topic, str) else topic
        return data

    @field_validator("topics", mode="before")
    @classmethod
    def _split_topics(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [t.strip() for t in value.split(",") if t.strip()]
        return value


class PipelineNodeDataSource(_SourceBase):
    """Another node of the pipeline: reads what that node wrote to its (first) sink."""

    type: Literal["node"] = Field("node", description="Source kind; inferred from `node_name`.")
    node_name: str = Field(..., description="Name of the upstream node.")


def _source_kind(value: Any) -> str | None:
    if isinstance(value, KappaModel):
        return getattr(value, "type", None)
    if not isinstance(value, dict):
        return None
    if "type" in value:
        return str(value["type"]).lower()
    if "node_name" in value:
        return "node"
    if "topics" in value or "topic" in value or "bootstrap_servers" in value:
        return "kafka"
    if str(value.get("format", "")).upper() == "DELTA":
        return "delta"
    return "file"


DataSource = Annotated[
    Union[
        Annotated[FileDataSource, Tag("file")],
        Annotated[DeltaDataSource, Tag("delta")],
        Annotated[KafkaDataSource, Tag("kafka")],
        Annotated[PipelineNodeDataSource, Tag("node")],
    ],
    Discriminator(_source_kind, custom_error_type="source_kind", custom_error_message="unknown source type; expected one of file, delta, kafka, node"),
]
