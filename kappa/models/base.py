"""Base class of every spec model."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class KappaModel(BaseModel):
    """Strict pydantic model: unknown keys are errors, every field carries a description.

    Subclasses declare fields with ``Field(..., description=...)``; a test checks that no
    field of any spec model lacks a description.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True, populate_by_name=True)
