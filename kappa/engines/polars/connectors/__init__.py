"""The Polars engine's connectors: one table per direction, keyed by plan kind.

Design (issue 10). ``SOURCES`` maps a source plan's ``kind`` (:mod:`kappa.plan_kinds`) to its
:class:`~kappa.engines.polars.connectors.base.SourceReader`, ``SINKS`` a sink plan's to its
:class:`~kappa.engines.polars.connectors.base.SinkWriter`; the engine's other modules only call
:func:`source_reader` / :func:`sink_writer`. A CDC merge sink is a Delta sink plan
(``kind == "delta"``) whose mode is ``merge``: it has its own entry, ``"merge"``. A new kind is
one module here and one line in each table it fills (and the same in the Spark engine's
``connectors``; the contract test ``tests/engines/test_engine_connectors.py`` checks both).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kappa.engines.polars.connectors.base import SinkWriter, SourceReader
from kappa.engines.polars.connectors.delta import DeltaReader, DeltaSinkWriter
from kappa.engines.polars.connectors.files import FileReader, FileWriter
from kappa.engines.polars.connectors.kafka import KafkaReader, KafkaWriter
from kappa.engines.polars.connectors.memory import MemoryReader
from kappa.engines.polars.connectors.merge import MergeWriter
from kappa.errors import KappaError

if TYPE_CHECKING:  # pragma: no cover
    from kappa.plan import SinkPlan, SourcePlan

SOURCES: dict[str, SourceReader] = {
    "file": FileReader(),
    "delta": DeltaReader(),
    "kafka": KafkaReader(),
    "memory": MemoryReader(),
}

SINKS: dict[str, SinkWriter] = {
    "file": FileWriter(),
    "delta": DeltaSinkWriter(),
    "merge": MergeWriter(),
    "kafka": KafkaWriter(),
}


def sink_key(sink: "SinkPlan") -> str:
    """The ``SINKS`` entry of a sink plan: its kind, ``merge`` for a CDC merge sink."""
    return "merge" if sink.kind == "delta" and sink.mode == "merge" else sink.kind


def source_reader(source: "SourcePlan") -> SourceReader:
    """The reader of ``source``'s kind (a KappaError names a kind this engine cannot read)."""
    try:
        return SOURCES[source.kind]
    except KeyError:
        raise KappaError(f"cannot read source kind {source.kind}") from None


def sink_writer(sink: "SinkPlan") -> SinkWriter:
    """The writer of ``sink``'s kind (a KappaError names a kind this engine cannot write)."""
    try:
        return SINKS[sink_key(sink)]
    except KeyError:
        raise KappaError(f"unknown sink kind {sink.kind}") from None
