"""The typed, engine-neutral source and sink plans (one frozen dataclass per kind).

Design. :func:`kappa.plan.build_plan` is the only place that reads the pydantic source and sink
models; it turns each into one of the dataclasses below, holding resolved values (absolute
paths, the sink's mode and app id, formats, Kafka topics, offsets, ...). Engines, checkpoint
code, quality checks and the CLI read these and never a pydantic model. ``kind`` (a class
attribute, so ``dataclasses.replace`` keeps it) stays the dispatch key.

Options that may carry secrets (Kafka client options, object-store options) are held as
:class:`SecretOptions`: the values as written in the pipeline (``${env.NAME}`` references are
kept unresolved), whose ``repr`` shows the keys only. :func:`resolve_secrets` resolves the
references at use time, right where a client is built; nothing else ever sees the secrets.

>>> opts = SecretOptions({"sasl.password": "${env.PW}", "security.protocol": "SASL_SSL"})
>>> opts
SecretOptions(keys=['sasl.password', 'security.protocol'])
>>> resolve_secrets(opts, {"PW": "s3cret"})["sasl.password"]
's3cret'
>>> "s3cret" in repr(KafkaSinkPlan(index=0, mode="append", quarantine=False, app_id="a",
...     bootstrap_servers="b:9092", topic="t", options=SecretOptions({"sasl.password": "s3cret"})))
False
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Literal, Union


class SecretOptions(Mapping[str, str]):
    """Client options as written (``${env.NAME}`` references unresolved); ``repr`` shows keys only."""

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[str, Any] | None = None):
        self._items = dict(items or {})

    def __getitem__(self, key: str) -> str:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"SecretOptions(keys={sorted(self._items)!r})"

    __str__ = __repr__

    def __reduce__(self):
        return (SecretOptions, (dict(self._items),))


def resolve_secrets(options: Mapping[str, Any] | None, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The options with their ``${env.NAME}`` references resolved (call where the client is built)."""
    from kappa.substitution import resolve_secret_refs

    return resolve_secret_refs(dict(options or {}), env)


# ---------------------------------------------------------------- sources
@dataclass(frozen=True, eq=False, kw_only=True)
class _Source:
    streaming: bool = False
    path: str | None = None
    #: the upstream node whose sink (or in-memory output) this source reads
    upstream: str | None = None


@dataclass(frozen=True, eq=False, kw_only=True)
class FileSourcePlan(_Source):
    """Files in a folder, a glob or one file (``path`` absolute or a URI)."""

    kind: ClassVar[Literal["file"]] = "file"
    format: str
    #: the declared schema as written (DDL text or a ``{column: type}`` mapping), None: inferred
    schema: Any = None
    read_options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, eq=False, kw_only=True)
class DeltaSourcePlan(_Source):
    """A Delta table, read whole (optionally at ``version``) or incrementally."""

    kind: ClassVar[Literal["delta"]] = "delta"
    version: int | None = None
    starting_version: int | None = None
    skip_change_commits: bool = False
    storage_options: SecretOptions = field(default_factory=SecretOptions)


#: Largest record (key + value bytes) a Kafka source decodes by default (``max_record_bytes``).
DEFAULT_MAX_RECORD_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True, eq=False, kw_only=True)
class KafkaSourcePlan(_Source):
    """Kafka topics, decoded with ``value_format``."""

    kind: ClassVar[Literal["kafka"]] = "kafka"
    bootstrap_servers: str
    topics: tuple[str, ...]
    starting_offsets: Any = "earliest"
    value_format: Literal["json", "raw", "debezium"] = "json"
    schema: Any = None
    include_headers: bool = False
    max_offsets_per_trigger: int | None = None
    fail_on_data_loss: bool = True
    options: SecretOptions = field(default_factory=SecretOptions)
    #: the dead-letter table as configured (absolute), None: ``<checkpoint>/dead_letters``
    dead_letter_path: str | None = None
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES


@dataclass(frozen=True, eq=False, kw_only=True)
class MemorySourcePlan(_Source):
    """The output of an upstream node without a Delta or file sink, handed over in memory."""

    kind: ClassVar[Literal["memory"]] = "memory"


SourcePlan = Union[FileSourcePlan, DeltaSourcePlan, KafkaSourcePlan, MemorySourcePlan]


# ---------------------------------------------------------------- trigger, expectations
@dataclass(frozen=True)
class ExpectationPlan:
    """One data-quality expectation of a node (:mod:`kappa.quality`)."""

    name: str
    expr: str
    action: Literal["warn", "drop", "quarantine", "fail"] = "warn"


@dataclass(frozen=True)
class TriggerPlan:
    """When a node's micro-batches run (the pipeline's or the node's ``trigger``)."""

    kind: Literal["available_now", "processing_time", "once"] = "available_now"
    interval: str | None = None


# ---------------------------------------------------------------- merge options
from kappa.merge_columns import END_AT, RESERVED_PREFIX, START_AT  # noqa: E402,F401 - the merge target's column names


@dataclass(frozen=True)
class MergeOptions:
    """A resolved CDC MERGE (the fields, names and defaults of :class:`kappa.models.cdc.CdcMerge`).

    Lists stay lists (as the model gives them) so ``keys + sequence_columns`` keeps working;
    the dataclass is frozen: no field is ever re-bound.
    """

    keys: list[str] | None = None
    sequence_by: str | list[str] | None = None
    apply_as_deletes: str | None = None
    apply_as_truncates: str | None = None
    column_list: list[str] | None = None
    except_column_list: list[str] | None = None
    stored_as_scd_type: Literal[1, 2] = 1
    track_history_column_list: list[str] | None = None
    track_history_except_column_list: list[str] | None = None
    ignore_null_updates: bool = False
    schema_evolution: Literal["merge", "fail"] = "merge"
    max_commit_retries: int = 5

    __hash__ = None  # type: ignore[assignment]  # list fields

    @property
    def sequence_columns(self) -> list[str]:
        """``sequence_by`` as a list (empty while it is not resolved)."""
        if self.sequence_by is None:
            return []
        return [self.sequence_by] if isinstance(self.sequence_by, str) else list(self.sequence_by)

    @property
    def resolved(self) -> bool:
        """Whether ``keys`` and ``sequence_by`` are both known (needed to apply changes)."""
        return bool(self.keys) and self.sequence_by is not None

    def as_dict(self) -> dict[str, Any]:
        """The fields that differ from their defaults, in declaration order: exactly the model's
        ``model_dump(exclude_defaults=True)``, which the fingerprints have always stored."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value != f.default:
                out[f.name] = list(value) if isinstance(value, tuple) else value
        return out


# ---------------------------------------------------------------- sinks
@dataclass(frozen=True, eq=False, kw_only=True)
class _Sink:
    """One sink with its resolved mode and the id its idempotent commits carry.

    :func:`kappa.plan.build_plan` gives the engine-less (legacy) id
    ``kappa:<pipeline>:<node>:sink<i>``; every engine runs
    :meth:`kappa.plan.PipelinePlan.for_engine`, whose ids carry the engine."""

    index: int
    mode: Literal["append", "overwrite", "merge", "upsert"]
    quarantine: bool
    app_id: str
    path: str | None = None


@dataclass(frozen=True, eq=False, kw_only=True)
class FileSinkPlan(_Sink):
    """A single Parquet/JSONL/CSV file or a folder of part files."""

    kind: ClassVar[Literal["file"]] = "file"
    format: str


@dataclass(frozen=True, eq=False, kw_only=True)
class DeltaSinkPlan(_Sink):
    """A Delta table written with append, overwrite or upsert (``mode == "upsert"``: each batch is
    MERGEd on ``keys``, matched rows updated, the others inserted)."""

    kind: ClassVar[Literal["delta"]] = "delta"
    partition_by: tuple[str, ...] = ()
    schema_mode: Literal["merge", "overwrite", "strict"] = "merge"
    storage_options: SecretOptions = field(default_factory=SecretOptions)
    #: ``mode == "upsert"``: the match keys (given, else the node's ``state.upsert_keys``)
    keys: tuple[str, ...] = ()


@dataclass(frozen=True, eq=False, kw_only=True)
class MergeSinkPlan(DeltaSinkPlan):
    """A Delta table the node's change events are MERGEd into (``mode == "merge"``)."""

    merge: MergeOptions


@dataclass(frozen=True, eq=False, kw_only=True)
class KafkaSinkPlan(_Sink):
    """A Kafka topic: one record per row (``key``/``value`` columns)."""

    kind: ClassVar[Literal["kafka"]] = "kafka"
    bootstrap_servers: str
    topic: str
    key: str | None = None
    value: str | None = None
    options: SecretOptions = field(default_factory=SecretOptions)


SinkPlan = Union[FileSinkPlan, DeltaSinkPlan, MergeSinkPlan, KafkaSinkPlan]
