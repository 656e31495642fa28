"""Base classes of every spec model, and of the source and sink models of every kind.

The source and sink models live with their kind (:mod:`kappa.connectors`); what they share is
here: :class:`SourceModel` (``as_stream``), :class:`SinkModel` (``is_quarantine``) and the
normalisation of ``format`` / ``mode`` values.

>>> upper_format(" ndjson "), lower_mode("APPEND")
('JSONL', 'append')
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class KappaModel(BaseModel):
    """Strict pydantic model: unknown keys are errors, every field carries a description.

    Subclasses declare fields with ``Field(..., description=...)``; a test checks that no
    field of any spec model lacks a description.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True, populate_by_name=True, defer_build=True)


FORMAT_ALIASES = {"NDJSON": "JSONL", "JSONLINES": "JSONL"}


def upper_format(value: Any) -> Any:
    """A ``format`` value upper-cased, with its aliases (``ndjson`` -> ``JSONL``)."""
    if isinstance(value, str):
        value = value.strip().upper()
        return FORMAT_ALIASES.get(value, value)
    return value


def lower_mode(value: Any) -> Any:
    """A sink ``mode`` value lower-cased."""
    return value.lower() if isinstance(value, str) else value


class SourceModel(KappaModel):
    """What every source model has: ``as_stream`` and its kind's default."""

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


class SinkModel(KappaModel):
    """What every sink model has: ``is_quarantine``."""

    is_quarantine: bool = Field(
        False, description="Write the node's quarantined rows (with `_kappa_failed`) here instead of its output."
    )
