"""The lookup both engines put in front of their connector tables.

Design (issue 10). Each engine keeps its own readers and writers (``kappa/engines/<engine>/
connectors/``: the engines never import each other), but how a plan finds its entry is the same
on both and lives here, engine-neutral: sources by ``plan.kind``; sinks by ``plan.kind``, except a
CDC merge sink, a Delta sink plan in mode ``merge``, which has its own entry ``"merge"``. An
unknown kind is a :class:`~kappa.errors.KappaError` worded as each engine has always worded it.

>>> from types import SimpleNamespace as P
>>> t = EngineTables(sources={"file": "F"}, sinks={"delta": "D", "merge": "M"},
...                  unknown_source="cannot read a {kind} source")
>>> t.sink_writer(P(kind="delta", mode="merge")), t.sink_writer(P(kind="delta", mode="append"))
('M', 'D')
>>> t.source_reader(P(kind="kafka"))
Traceback (most recent call last):
...
kappa.errors.KappaError: cannot read a kafka source
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from kappa.errors import KappaError

R = TypeVar("R")
W = TypeVar("W")


def sink_key(sink: Any) -> str:
    """The table entry of a sink plan: its kind, ``merge`` for a CDC merge sink."""
    return "merge" if sink.kind == "delta" and sink.mode == "merge" else sink.kind


@dataclass(frozen=True)
class EngineTables(Generic[R, W]):
    """One engine's ``SOURCES`` and ``SINKS`` tables and their lookups."""

    sources: Mapping[str, R]
    sinks: Mapping[str, W]
    #: the message of an unknown source kind (``{kind}`` is filled in)
    unknown_source: str = "cannot read source kind {kind}"
    unknown_sink: str = "unknown sink kind {kind}"

    def source_reader(self, source: Any) -> R:
        """The reader of ``source``'s kind (a KappaError names a kind this engine cannot read)."""
        try:
            return self.sources[source.kind]
        except KeyError:
            raise KappaError(self.unknown_source.format(kind=source.kind)) from None

    def sink_writer(self, sink: Any) -> W:
        """The writer of ``sink``'s kind (a KappaError names a kind this engine cannot write)."""
        try:
            return self.sinks[sink_key(sink)]
        except KeyError:
            raise KappaError(self.unknown_sink.format(kind=sink.kind)) from None
