"""Source models: where a node reads from.

A source is written without a ``type`` key when its kind is obvious from its fields, as in
laktory's format: ``node_name`` means another node, ``format: DELTA`` a Delta table,
``topics``/``topic`` a Kafka topic, ``path`` + ``format`` files. ``type`` may always be given.

Design note: each model lives with its kind (:mod:`kappa.connectors`); :data:`DataSource` is
the union of the registry's source kinds, discriminated by their ``recognise`` rules.

>>> src = FileDataSource(path="./data/stock_prices/", format="JSONL")
>>> src.type, src.format, src.streaming
('file', 'JSONL', False)
>>> KafkaDataSource(bootstrap_servers="127.0.0.1:9092", topic="prices").topics
['prices']
"""

from __future__ import annotations

from typing import Annotated, Union

from pydantic import Discriminator, Tag

from kappa.connectors.delta import DeltaDataSource
from kappa.connectors.files import FileDataSource
from kappa.connectors.kafka import KafkaDataSource
from kappa.connectors.node import PipelineNodeDataSource
from kappa.connectors.registry import SOURCES, source_kind_tag, source_tags

DataSource = Annotated[
    Union[tuple(Annotated[k.model, Tag(k.name)] for k in SOURCES.values())],  # type: ignore[misc]
    Discriminator(
        source_kind_tag,
        custom_error_type="source_kind",
        custom_error_message=f"unknown source type; expected one of {', '.join(source_tags())}",
    ),
]

__all__ = ["DataSource", "DeltaDataSource", "FileDataSource", "KafkaDataSource", "PipelineNodeDataSource"]
