"""The Polars engine's connector tables: a reader per source kind, a writer per sink kind.

Keyed by plan kind (``"merge"``: a CDC merge sink) and looked up through
:class:`kappa.connectors.engine_tables.EngineTables`, as in the Spark engine; the contract test
``tests/engines/test_engine_connectors.py`` checks that both cover every kind of the plan.
"""

from __future__ import annotations

from kappa.connectors.engine_tables import EngineTables, sink_key
from kappa.engines.polars.connectors.base import SinkWriter, SourceReader
from kappa.engines.polars.connectors.delta import DeltaReader, DeltaSinkWriter
from kappa.engines.polars.connectors.files import FileReader, FileWriter
from kappa.engines.polars.connectors.kafka import KafkaReader, KafkaWriter
from kappa.engines.polars.connectors.memory import MemoryReader
from kappa.engines.polars.connectors.merge import MergeWriter

SOURCES: dict[str, SourceReader] = {"file": FileReader(), "delta": DeltaReader(), "kafka": KafkaReader(), "memory": MemoryReader()}

SINKS: dict[str, SinkWriter] = {"file": FileWriter(), "delta": DeltaSinkWriter(), "merge": MergeWriter(), "kafka": KafkaWriter()}

_TABLES = EngineTables(sources=SOURCES, sinks=SINKS, unknown_source="cannot read source kind {kind}")
#: the reader of a source plan's kind, the writer of a sink plan's (a KappaError names an unknown kind)
source_reader = _TABLES.source_reader
sink_writer = _TABLES.sink_writer

__all__ = ["SINKS", "SOURCES", "sink_key", "sink_writer", "source_reader"]
