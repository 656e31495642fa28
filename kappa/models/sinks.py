"""Sink models: where a node writes.

Like sources, sinks need no ``type`` key when the kind is clear: ``format: DELTA`` is a Delta
table, ``topic`` a Kafka topic, ``path`` + another format files. Any sink with
``is_quarantine: true`` receives the rows that failed a ``quarantine`` expectation instead of
the node's output.

Design note: each model lives with its kind (:mod:`kappa.connectors`); :data:`DataSink` is the
union of the registry's sink kinds that have a ``type`` tag (a Delta sink with ``merge`` is
planned by the ``cdc_merge`` kind but written as a Delta sink).

>>> FileDataSink(path="./data/out.parquet", format="parquet").format
'PARQUET'
>>> DeltaDataSink(path="./tables/slv", mode="append").type
'delta'
"""

from __future__ import annotations

from typing import Annotated, Union

from pydantic import Discriminator, Tag

from kappa.connectors.delta import DeltaDataSink
from kappa.connectors.files import FileDataSink
from kappa.connectors.kafka import KafkaDataSink
from kappa.connectors.registry import SINKS, sink_kind_tag, sink_tags

DataSink = Annotated[
    Union[tuple(Annotated[k.model, Tag(k.tag)] for k in SINKS.values() if k.tag is not None)],  # type: ignore[misc]
    Discriminator(
        sink_kind_tag,
        custom_error_type="sink_kind",
        custom_error_message=f"unknown sink type; expected one of {', '.join(sink_tags())}",
    ),
]

__all__ = ["DataSink", "DeltaDataSink", "FileDataSink", "KafkaDataSink"]
