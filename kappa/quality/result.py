"""The outcome of applying a node's expectations to one batch."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping


@dataclass(frozen=True)
class QualityCounts:
    """Row counts of one batch. ``output_rows + dropped_rows + quarantined_rows == input_rows``.

    ``failures`` maps every expectation name (declaration order) to the number of rows that
    failed it (a NULL result counts as a failure), whatever its action.
    """

    input_rows: int
    output_rows: int
    dropped_rows: int
    quarantined_rows: int
    failures: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.output_rows + self.dropped_rows + self.quarantined_rows != self.input_rows:
            raise ValueError(f"inconsistent quality counts: {self}")
