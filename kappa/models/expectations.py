"""Data-quality expectations.

>>> Expectation(name="positive_price", expr="close > 0", action="DROP").action
'drop'
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from kappa.models.base import KappaModel


class Expectation(KappaModel):
    """A named Spark SQL boolean expression every row must satisfy, and what to do otherwise.

    A NULL result counts as a failure. ``warn`` counts, ``drop`` removes the row,
    ``quarantine`` removes it and sends it to the quarantine sink, ``fail`` stops the node
    before any sink is written.
    """

    name: str = Field(..., min_length=1, description="Unique name within the node; appears in counts and `_kappa_failed`.")
    expr: str = Field(..., min_length=1, description="Spark SQL boolean expression over the node's output columns.")
    action: Literal["warn", "drop", "quarantine", "fail"] = Field("warn", description="warn, drop, quarantine or fail.")
    type: Literal["SQL"] = Field("SQL", description="Expression language; only SQL.")

    @field_validator("action", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value
