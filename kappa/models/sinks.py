"""Sink models: where a node writes.

Like sources, sinks need no ``type`` key when the kind is clear: ``format: DELTA`` is a Delta
table, ``topic`` a Kafka topic, ``path`` + another format files. Any sink with
``is_quarantine: true`` receives the rows that failed a ``quarantine`` expectation instead of
the node's output.

>>> FileDataSink(path="./data/out.parquet", format="parquet").format
'PARQUET'
>>> DeltaDataSink(path="./tables/slv", mode="append").type
'delta'
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import Discriminator, Field, Tag, field_validator, model_validator

from kappa.models.base import KappaModel
from kappa.models.cdc import CdcMerge
from kappa.models.sources import _upper_format


class _SinkBase(KappaModel):
    is_quarantine: bool = Field(
        False, description="Write the node's quarantined rows (with `_kappa_failed`) here instead of its output."
    )


class FileDataSink(_SinkBase):
    """Files: a single Parquet/JSONL/CSV file (path with an extension) or a folder of part files."""

    type: Literal["file"] = Field("file", description="Sink kind; inferred from `path` + `format`.")
    path: str = Field(..., description="Target file (`out.parquet`) or folder (`out/`, one part file per batch).")
    format: Literal["PARQUET", "JSONL", "CSV"] = Field(..., description="File format (case-insensitive).")
    mode: Literal["append", "overwrite"] | None = Field(
        None, description="append or overwrite; default: append for streaming nodes, overwrite otherwise."
    )

    _norm_format = field_validator("format", mode="before")(_upper_format)

    @field_validator("mode", mode="before")
    @classmethod
    def _lower_mode(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value


class DeltaDataSink(_SinkBase):
    """A Delta table: append, overwrite, or CDC MERGE (SCD type 1 or 2) with `merge`."""

    type: Literal["delta"] = Field("delta", description="Sink kind; inferred from `format: DELTA`.")
    path: str = Field(..., description="Table location: a local path or an object-store URI.")
    format: Literal["DELTA"] = Field("DELTA", description="Always DELTA for this sink.")
    mode: Literal["append", "overwrite", "merge"] | None = Field(
        None,
        description="append, overwrite or merge (CDC); default: merge when `merge` is set, append for streaming nodes, overwrite otherwise.",
    )
    partition_by: list[str] = Field(default_factory=list, description="Partition columns of the table.")
    merge: CdcMerge | None = Field(
        None,
        description="CDC MERGE options (keys, sequence_by, SCD type, ...); on a `value_format: debezium` "
        "node without transformer steps `merge: {}` takes the replication defaults.",
    )
    schema_mode: Literal["merge", "overwrite", "strict"] = Field(
        "merge", description="New columns: merge them into the table schema (default), overwrite the schema, or fail (strict)."
    )
    storage_options: dict[str, str] = Field(
        default_factory=dict, description="Object-store options; values may be `${env.NAME}` references."
    )

    _norm_format = field_validator("format", mode="before")(_upper_format)

    @field_validator("mode", mode="before")
    @classmethod
    def _lower_mode(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _merge_needs_options(self) -> "DeltaDataSink":
        if self.mode == "merge" and self.merge is None:
            raise ValueError("mode `merge` needs the `merge` options (keys, sequence_by, ...)")
        if self.merge is not None and self.mode not in (None, "merge"):
            raise ValueError(f"`merge` options given but mode is `{self.mode}`; use mode `merge` or drop `merge`")
        return self

    @property
    def effective_merge(self) -> bool:
        """Whether this sink applies changes with MERGE."""
        return self.merge is not None


class KafkaDataSink(_SinkBase):
    """A Kafka topic: one record per row, key and value taken from columns."""

    type: Literal["kafka"] = Field("kafka", description="Sink kind; inferred from `topic`.")
    bootstrap_servers: str = Field(..., description="Kafka bootstrap servers, `host:port[,host:port]`.")
    topic: str = Field(..., description="Target topic.")
    key: str | None = Field(None, description="Column holding the record key (string or binary); none: null keys.")
    value: str | None = Field(
        None, description="Column holding the value (string, binary or struct -> JSON); default: every column as one JSON object."
    )
    options: dict[str, str] = Field(
        default_factory=dict, description="Kafka producer settings; values may be `${env.NAME}` references."
    )


def _sink_kind(value: Any) -> str | None:
    if isinstance(value, KappaModel):
        return getattr(value, "type", None)
    if not isinstance(value, dict):
        return None
    if "type" in value:
        return str(value["type"]).lower()
    if "topic" in value or "bootstrap_servers" in value:
        return "kafka"
    if str(value.get("format", "")).upper() == "DELTA" or "merge" in value:
        return "delta"
    return "file"


DataSink = Annotated[
    Union[
        Annotated[FileDataSink, Tag("file")],
        Annotated[DeltaDataSink, Tag("delta")],
        Annotated[KafkaDataSink, Tag("kafka")],
    ],
    Discriminator(_sink_kind, custom_error_type="sink_kind", custom_error_message="unknown sink type; expected one of file, delta, kafka"),
]
