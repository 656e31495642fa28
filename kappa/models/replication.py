"""CDC replication configs (``kind: cdc_replication``): mirror Debezium topics into Delta tables.

One config replicates many tables: every topic of ``source`` (a list, or a regex matched
against the broker's topics) becomes one pipeline node that decodes the Debezium envelopes and
MERGEs them into the Delta table named by ``target.path``. Keys and sequence default to the
Debezium ones (the message key's fields; the source position with ``ts_ms`` and the Kafka
offset as tie-breakers), see :mod:`kappa.cdc.defaults`. ``defaults`` and per-table entries in
``tables`` override them. :func:`kappa.cdc.replication.compile_replication` turns a config into
an ordinary :class:`~kappa.models.Pipeline`.

>>> cfg = CdcReplication(
...     name="inventory",
...     source={"bootstrap_servers": "localhost:9092", "topic_pattern": r"inventory\\.public\\..*"},
...     target={"path": "./mirror/{schema}/{table}"},
...     defaults={"scd_type": 1},
...     tables={"customers": {"scd_type": 2}, "audit_log": {"enabled": False}},
... )
>>> cfg.kind, cfg.source.topics, cfg.tables["customers"].scd_type
('cdc_replication', None, 2)
>>> try:
...     CdcReplication(name="x", source={"bootstrap_servers": "b:9092"}, target={"path": "t/{table}"})
... except ValueError as err:
...     print(err.errors()[0]["msg"])
Value error, give `topics` (a list) or `topic_pattern` (a regex)
"""

from __future__ import annotations

import re
import string
from typing import Any, Literal

from pydantic import Field, PrivateAttr, field_validator, model_validator

from kappa.models.base import KappaModel
from kappa.models.pipeline import SparkSettings, Trigger, local_checkpoint_root

#: Placeholders a target path (or a dead-letter path) may use.
PATH_FIELDS = ("topic", "prefix", "db", "schema", "table")


def check_template(value: str | None, what: str = "path") -> str | None:
    """Reject placeholders other than :data:`PATH_FIELDS` in a path template."""
    if value is None:
        return value
    try:
        names = [f for _, f, _, _ in string.Formatter().parse(value) if f is not None]
    except ValueError as err:
        raise ValueError(f"{what} {value!r} is not a valid template: {err}") from None
    bad = [n for n in names if n not in PATH_FIELDS]
    if bad:
        allowed = ", ".join("{" + f + "}" for f in PATH_FIELDS)
        raise ValueError(f"{what} uses unknown placeholder(s) {bad}; allowed: {allowed}")
    return value


class ReplicationSource(KappaModel):
    """The Kafka topics Debezium writes to."""

    bootstrap_servers: str = Field(..., description="Kafka bootstrap servers, `host:port[,host:port]`.")
    topics: list[str] | None = Field(
        None, min_length=1, description="Topics to replicate (give this or `topic_pattern`)."
    )
    topic_pattern: str | None = Field(
        None,
        description="Regex (full match) selecting topics from the broker's topic list, e.g. `inventory\\.public\\..*`.",
    )
    starting_offsets: Literal["earliest", "latest"] = Field(
        "earliest", description="Where a table's first run starts: earliest (snapshot included) or latest."
    )
    options: dict[str, str] = Field(
        default_factory=dict,
        description="Kafka client settings (`security.protocol`, `sasl.*`, ...). Use `${env.NAME}` for secrets.",
    )
    max_offsets_per_trigger: int | None = Field(
        None, gt=0, description="Upper bound of records per micro-batch and topic."
    )

    @field_validator("topic_pattern")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as err:
                raise ValueError(f"not a valid regular expression: {err}") from None
        return value

    @model_validator(mode="after")
    def _one_selector(self) -> "ReplicationSource":
        if (self.topics is None) == (self.topic_pattern is None):
            if self.topics is None:
                raise ValueError("give `topics` (a list) or `topic_pattern` (a regex)")
            raise ValueError("give either `topics` or `topic_pattern`, not both")
        return self


class ReplicationTarget(KappaModel):
    """Where the mirror tables live."""

    path: str = Field(
        ...,
        description="Delta table path template: `{topic}`, `{prefix}`, `{db}`, `{schema}`, `{table}`, e.g. `./mirror/{schema}/{table}`.",
    )
    storage_options: dict[str, str] = Field(
        default_factory=dict, description="Object-store options; values may be `${env.NAME}` references."
    )

    @field_validator("path")
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        return check_template(value, "path")


class MergeOptions(KappaModel):
    """CDC MERGE options of a table (see :class:`kappa.models.CdcMerge`); every field optional.

    Unset fields fall back to ``defaults``, then to the Debezium defaults.
    """

    scd_type: Literal[1, 2] | None = Field(
        None, description="1: keep the latest row per key (default); 2: keep history with __START_AT/__END_AT."
    )
    keys: list[str] | None = Field(None, min_length=1, description="Primary-key columns; default: the Kafka message key's fields.")
    sequence_by: str | list[str] | None = Field(
        None,
        description="Ordering column(s); default: the source position (`_seq_lsn` or `_seq_file`, `_seq_pos`), then `_seq_ts_ms`, `_seq_offset`.",
    )
    apply_as_deletes: str | None = Field(None, description="Spark SQL delete predicate; default `_op = 'delete'`.")
    apply_as_truncates: str | None = Field(
        None, description="Spark SQL truncate predicate (SCD 1 only); default `_op = 'truncate'` for SCD 1."
    )
    column_list: list[str] | None = Field(None, description="Columns to keep in the target (keys always kept).")
    except_column_list: list[str] | None = Field(
        None, description="Columns to leave out of the target (`_op` and `_seq_*` are left out anyway)."
    )
    track_history_column_list: list[str] | None = Field(None, description="SCD 2: only changes in these columns open a new version.")
    track_history_except_column_list: list[str] | None = Field(
        None, description="SCD 2: changes in these columns update the current version in place."
    )
    ignore_null_updates: bool | None = Field(None, description="On update, a null keeps the target's value (default false).")
    schema_evolution: Literal["merge", "fail"] | None = Field(
        None, description="A new source column: add it to the target (merge, default) or fail."
    )
    max_commit_retries: int | None = Field(None, ge=0, le=50, description="Retries after a concurrent commit (default 5).")
    keep_cdc_columns: bool | None = Field(
        None, description="Keep the bookkeeping columns `_op` and `_seq_*` in the target (default false)."
    )

    @model_validator(mode="after")
    def _exclusive(self) -> "MergeOptions":
        if self.column_list is not None and self.except_column_list is not None:
            raise ValueError("`column_list` and `except_column_list` are mutually exclusive")
        if self.track_history_column_list is not None and self.track_history_except_column_list is not None:
            raise ValueError("`track_history_column_list` and `track_history_except_column_list` are mutually exclusive")
        return self

    def overrides(self) -> dict[str, Any]:
        """The fields that were set, as :func:`kappa.cdc.defaults.merge_options_for` overrides."""
        return {k: v for k, v in self.model_dump().items() if v is not None}


class TableReplication(MergeOptions):
    """Per-table settings, keyed in ``tables`` by topic (`inventory.public.customers`),
    `schema.table` / `db.table`, or table name."""

    enabled: bool = Field(True, description="false: do not replicate this table.")
    path: str | None = Field(None, description="This table's Delta path (template allowed) instead of `target.path`.")

    @field_validator("path")
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        return check_template(value, "path")


class CdcReplication(KappaModel):
    """A CDC replication config: Debezium topics -> mirror Delta tables (one node per topic)."""

    kind: Literal["cdc_replication"] = Field("cdc_replication", description="Config kind; always `cdc_replication`.")
    name: str = Field(
        ..., pattern=r"^[A-Za-z0-9_][A-Za-z0-9_\-\.]*$", description="Replication name; names the checkpoint folder."
    )
    source: ReplicationSource = Field(..., description="The Debezium topics.")
    target: ReplicationTarget = Field(..., description="Where the mirror tables are written.")
    defaults: MergeOptions = Field(default_factory=MergeOptions, description="MERGE options of every table.")
    tables: dict[str, TableReplication] = Field(
        default_factory=dict, description="Per-table overrides by topic, `schema.table` or table name."
    )
    dead_letter_path: str | None = Field(
        None,
        description="Delta table of undecodable or key-less records (template allowed); default `<checkpoint_root>/<name>/<node>/dead_letters`.",
    )
    checkpoint_root: str | None = Field(
        None, description="Node state lives in `<root>/<name>/<node>/`; default `$KAPPA_CHECKPOINT_ROOT` or `./checkpoints`."
    )
    root_path: str | None = Field(
        None, description="Base folder of relative paths; relative itself to the file's folder (default: the config file's folder)."
    )
    trigger: Trigger = Field(default_factory=Trigger, description="Micro-batch trigger of `kappa cdc start`.")
    spark: SparkSettings = Field(default_factory=SparkSettings, description="Spark session settings.")

    @field_validator("checkpoint_root")
    @classmethod
    def _local_checkpoint_root(cls, value: str | None) -> str | None:
        return None if value is None else local_checkpoint_root(value)
    variables: dict[str, Any] = Field(default_factory=dict, description="Values for `${vars.name}` references.")

    _base_dir: str | None = PrivateAttr(None)  # folder of the YAML file it was loaded from

    @field_validator("dead_letter_path")
    @classmethod
    def _dead_template(cls, value: str | None) -> str | None:
        return check_template(value, "dead_letter_path")

    @model_validator(mode="after")
    def _scd_combinations(self) -> "CdcReplication":
        from kappa.errors import ConfigError, ConfigIssue

        issues = []
        for name, table in {"defaults": self.defaults, **{f"tables.{k}": t for k, t in self.tables.items()}}.items():
            scd = table.scd_type or self.defaults.scd_type or 1
            history = [f for f in ("track_history_column_list", "track_history_except_column_list") if getattr(table, f) is not None]
            if scd == 1 and history:
                issues.append(ConfigIssue(f"{history[0]} needs scd_type: 2", path=f"{name}.{history[0]}"))
            if scd == 2 and table.apply_as_truncates is not None:
                issues.append(ConfigIssue("apply_as_truncates is supported only with scd_type: 1", path=f"{name}.apply_as_truncates"))
        if issues:
            raise ConfigError(issues)
        return self

    def options_for(self, *names: str) -> tuple[TableReplication | None, dict[str, Any]]:
        """The first ``tables`` entry among ``names`` and the merged MERGE overrides."""
        entry = next((self.tables[n] for n in names if n in self.tables), None)
        merged = self.defaults.overrides()
        if entry is not None:
            merged.update({k: v for k, v in entry.overrides().items() if k not in ("enabled", "path")})
        return entry, merged
