"""Options of a Delta sink's CDC MERGE mode (Databricks AUTO CDC / APPLY CHANGES).

``keys`` and ``sequence_by`` may be left out only where kappa can fill them: a merge sink of a
node that reads a ``value_format: debezium`` Kafka source and has no transformer steps gets the
Debezium defaults when the plan is built (:mod:`kappa.cdc.sink_defaults`); anywhere else a
missing one is a config error. :func:`kappa.cdc.merge.apply_changes` only ever sees both.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from kappa.models.base import KappaModel
from kappa.merge_columns import END_AT, RESERVED_PREFIX, START_AT  # noqa: F401 - the merge target's column names


class CdcMerge(KappaModel):
    """How a stream of change events is applied to a Delta table, as AUTO CDC does.

    Each event is an upsert, or a delete when ``apply_as_deletes`` holds for it (or a full
    truncate when ``apply_as_truncates`` holds, SCD type 1 only). Events are ordered per key by
    ``sequence_by``; several columns are compared lexicographically.

    Example:

    >>> spec = CdcMerge(keys=["id"], sequence_by=["lsn", "ts_ms"],
    ...                 apply_as_deletes="op = 'd'", except_column_list=["op"])
    >>> spec.sequence_columns
    ['lsn', 'ts_ms']
    >>> spec.stored_as_scd_type
    1
    >>> try:
    ...     CdcMerge(keys=["id"], sequence_by="ts", column_list=["a"], except_column_list=["b"])
    ... except ValueError as err:
    ...     print(err.errors()[0]["msg"])
    Value error, column_list and except_column_list are mutually exclusive: give one of them
    """

    keys: list[str] | None = Field(
        None, min_length=1,
        description="Primary-key columns identifying a row of the target; on a Debezium source "
        "default: the Kafka message key's fields.",
    )
    sequence_by: str | list[str] | None = Field(
        None,
        description="Column (or columns, compared left to right) that orders the events of a key; "
        "on a Debezium source default: the source position, then `_seq_ts_ms`, `_seq_offset`.",
    )
    apply_as_deletes: str | None = Field(
        None, description="Spark SQL predicate marking an event as a delete, e.g. \"op = 'd'\"."
    )
    apply_as_truncates: str | None = Field(
        None, description="Spark SQL predicate marking an event as a full-table truncate (SCD 1)."
    )
    column_list: list[str] | None = Field(
        None, description="Columns of the changes to keep in the target (keys are always kept)."
    )
    except_column_list: list[str] | None = Field(
        None, description="Columns of the changes to leave out of the target."
    )
    stored_as_scd_type: Literal[1, 2] = Field(
        1, description="1: keep the latest row per key; 2: keep history with __START_AT/__END_AT."
    )
    track_history_column_list: list[str] | None = Field(
        None, description="SCD 2: only changes in these columns open a new version."
    )
    track_history_except_column_list: list[str] | None = Field(
        None, description="SCD 2: changes in these columns update the current version in place."
    )
    ignore_null_updates: bool = Field(
        False, description="On update, a null in the event keeps the target's current value."
    )
    schema_evolution: Literal["merge", "fail"] = Field(
        "merge", description="A new column in the changes: add it to the target, or fail."
    )
    max_commit_retries: int = Field(
        5, ge=0, le=50, description="Retries (exponential backoff) after a concurrent commit."
    )

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

    @field_validator("keys", "column_list", "except_column_list", "track_history_column_list",
                     "track_history_except_column_list")
    @classmethod
    def _names(cls, value: list[str] | None, info) -> list[str] | None:
        if value is None:
            return value
        _check_names(value, info.field_name)
        return value

    @field_validator("sequence_by")
    @classmethod
    def _sequence(cls, value: str | list[str] | None) -> str | list[str] | None:
        if value is None:
            return value
        names = [value] if isinstance(value, str) else value
        if not names:
            raise ValueError("sequence_by needs at least one column")
        _check_names(names, "sequence_by")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> CdcMerge:
        if self.column_list is not None and self.except_column_list is not None:
            raise ValueError(
                "column_list and except_column_list are mutually exclusive: give one of them"
            )
        if self.track_history_column_list is not None and (
            self.track_history_except_column_list is not None
        ):
            raise ValueError(
                "track_history_column_list and track_history_except_column_list are mutually "
                "exclusive: give one of them"
            )
        keys = set(self.keys or ())
        overlap = sorted(keys & set(self.sequence_columns))
        if overlap:
            raise ValueError(f"sequence_by column(s) {overlap} are also keys")
        if self.except_column_list and keys & set(self.except_column_list):
            bad = sorted(keys & set(self.except_column_list))
            raise ValueError(f"except_column_list may not remove key column(s) {bad}")
        if self.stored_as_scd_type == 1:
            if self.track_history_column_list is not None or (
                self.track_history_except_column_list is not None
            ):
                raise ValueError(
                    "track_history_column_list / track_history_except_column_list need "
                    "stored_as_scd_type: 2"
                )
        else:
            if self.apply_as_truncates is not None:
                raise ValueError("apply_as_truncates is supported only with stored_as_scd_type: 1")
            tracked = (self.track_history_column_list or []) + (
                self.track_history_except_column_list or []
            )
            bad = sorted(set(tracked) & keys)
            if bad:
                raise ValueError(f"key column(s) {bad} cannot be listed in track_history lists")
        return self


def _check_names(names: list[str], field: str) -> None:
    seen: set[str] = set()
    for name in names:
        if not name or not name.strip():
            raise ValueError(f"{field}: column names must not be empty")
        if name.startswith(RESERVED_PREFIX) or name in (START_AT, END_AT):
            raise ValueError(f"{field}: column name {name!r} is reserved by kappa")
        if name in seen:
            raise ValueError(f"{field}: column {name!r} is listed twice")
        seen.add(name)
