"""Kafka: the Kafka source (topics decoded with ``value_format``) and the Kafka sink (a topic).

Recognised by ``topics`` / ``topic`` / ``bootstrap_servers``. Client ``options`` keep their
``${env.X}`` references until a client is built. A Kafka source gives its node a dead-letter
table (undecodable records), written with app transactions and deleted by ``--full-refresh``.
A replay batch is an offset range (:class:`KafkaRange`, Spark's ``{topic: {"partition": offset}}``).

>>> KafkaDataSource(bootstrap_servers="127.0.0.1:9092", topic="prices").topics
['prices']
>>> KafkaRange({"t": {0: 1}}, {"t": {0: 5}}).to_json()
{'kind': 'kafka', 'start': {'t': {'0': 1}}, 'end': {'t': {'0': 5}}}
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Mapping

from pydantic import Field, field_validator, model_validator

from kappa.connectors.base import AppTable, Redact, SinkContext, SinkKind, SourceContext, SourceKind, schema_text
from kappa.models.base import SinkModel, SourceModel
from kappa.plan_kinds import DEFAULT_MAX_RECORD_BYTES, KafkaSinkPlan, KafkaSourcePlan, SecretOptions


# ---------------------------------------------------------------- models
class KafkaDataSource(SourceModel):
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
        DEFAULT_MAX_RECORD_BYTES,
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


class KafkaDataSink(SinkModel):
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


# ---------------------------------------------------------------- replay batches
@dataclass(frozen=True, eq=False)
class KafkaRange:
    """Kafka offsets ``start`` (inclusive) to ``end`` (exclusive), ``{topic: {"partition": offset}}``."""

    start: Mapping[str, Mapping[str, int]]
    end: Mapping[str, Mapping[str, int]]
    kind: ClassVar[str] = "kafka"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, KafkaRange) and self.to_json() == other.to_json()

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "start": _plain(self.start), "end": _plain(self.end)}


def _plain(offsets: Mapping[str, Mapping[str, int]]) -> dict[str, dict[str, int]]:
    return {str(t): {str(p): int(o) for p, o in parts.items()} for t, parts in offsets.items()}


# ---------------------------------------------------------------- source hooks
def _source_plan(src: KafkaDataSource, ctx: SourceContext) -> KafkaSourcePlan:
    return KafkaSourcePlan(
        streaming=src.streaming,
        bootstrap_servers=src.bootstrap_servers,
        topics=tuple(src.topics),
        starting_offsets=src.starting_offsets,
        value_format=src.value_format,
        schema=src.schema_,
        include_headers=src.include_headers,
        max_offsets_per_trigger=src.max_offsets_per_trigger,
        fail_on_data_loss=src.fail_on_data_loss,
        options=SecretOptions(src.options),
        dead_letter_path=ctx.path(src.dead_letter_path),
        max_record_bytes=src.max_record_bytes,
    )


def _describe_source(source: KafkaSourcePlan, redact: Redact) -> dict[str, Any]:
    start = source.starting_offsets
    opts = {
        "kafka.bootstrap.servers": source.bootstrap_servers,
        "subscribe": ",".join(source.topics),
        "startingOffsets": start if isinstance(start, str) else json.dumps(start, separators=(",", ":"), sort_keys=True),
    }
    if source.max_offsets_per_trigger:
        opts["maxOffsetsPerTrigger"] = str(source.max_offsets_per_trigger)
    if source.include_headers:
        opts["includeHeaders"] = "true"
    opts.update(redact({f"kafka.{k}" if not k.startswith("kafka.") else k: v for k, v in source.options.items()}))
    return {"format": "kafka", "options": opts, "schema": schema_text(source.schema), "value_format": source.value_format}


def _dead_letters(source: KafkaSourcePlan, layout: Any) -> tuple[str, ...]:
    return (layout.dead_letters,)


def _dead_letter_table(source: KafkaSourcePlan, layout: Any) -> tuple[AppTable, ...]:
    return (AppTable("dead letters", layout.dead_letters, "dead_letters"),)


SOURCE = SourceKind(
    name="kafka",
    model=KafkaDataSource,
    plan_classes=(KafkaSourcePlan,),
    plan=_source_plan,
    describe=_describe_source,
    recognise=lambda raw: "topics" in raw or "topic" in raw or "bootstrap_servers" in raw,
    precedence=20,
    secret_fields=("options",),
    owned_paths=_dead_letters,
    app_tables=_dead_letter_table,
    batch_from_json=lambda data: KafkaRange(_plain(data["start"]), _plain(data["end"])),
)


# ---------------------------------------------------------------- sink hooks
def _sink_plan(sink: KafkaDataSink, ctx: SinkContext) -> KafkaSinkPlan:
    return KafkaSinkPlan(
        index=ctx.index,
        mode="append",
        quarantine=sink.is_quarantine,
        app_id=ctx.app_id,
        path=None,
        bootstrap_servers=sink.bootstrap_servers,
        topic=sink.topic,
        key=sink.key,
        value=sink.value,
        options=SecretOptions(sink.options),
    )


def _describe_sink(sink: KafkaSinkPlan) -> dict[str, Any]:
    out: dict[str, Any] = {"topic": sink.topic, "bootstrap_servers": sink.bootstrap_servers}
    if sink.key:
        out["key"] = sink.key
    if sink.value:
        out["value"] = sink.value
    return out


SINK = SinkKind(
    name="kafka",
    tag="kafka",
    model=KafkaDataSink,
    plan_classes=(KafkaSinkPlan,),
    plan=_sink_plan,
    describe=_describe_sink,
    recognise=lambda raw: "topic" in raw or "bootstrap_servers" in raw,
    precedence=20,
    secret_fields=("options",),
)
