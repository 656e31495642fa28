"""kappa's PySpark Python data sources (the ``python`` connector profile).

- ``kappa_kafka`` (:mod:`.kafka_source`): Spark's Kafka source, same options and schema,
  read with confluent-kafka in the executors.
- ``kappa_delta`` (:mod:`.delta_source`): Delta tables read with deltalake, batch and stream.
- ``kappa_delta_sink`` (:mod:`.delta_sink`): Delta append/overwrite written by the executors,
  committed once with the app transaction.
- ``kappa_kafka_sink`` (:mod:`.kafka_sink`): Kafka records produced by the executors.
- ``kappa_file_sink`` (:mod:`.file_sink`): JSONL/CSV/Parquet part files, one task per batch.

Importing this package is cheap; :func:`register_all` imports pyspark and the sources.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import SparkSession

KAFKA_SOURCE = "kappa_kafka"
DELTA_SOURCE = "kappa_delta"
DELTA_SINK = "kappa_delta_sink"


def data_source_classes() -> list[type]:
    """The DataSource classes kappa registers."""
    from kappa.engines.spark.datasources.delta_sink import DeltaSinkDataSource
    from kappa.engines.spark.datasources.delta_source import DeltaDataSource
    from kappa.engines.spark.datasources.file_sink import FileSinkDataSource
    from kappa.engines.spark.datasources.kafka_sink import KafkaSinkDataSource
    from kappa.engines.spark.datasources.kafka_source import KafkaDataSource

    return [KafkaDataSource, DeltaDataSource, DeltaSinkDataSource, KafkaSinkDataSource, FileSinkDataSource]


def register_all(spark: "SparkSession") -> None:
    """Register every kappa data source on ``spark``; registering twice is harmless."""
    for cls in data_source_classes():
        spark.dataSource.register(cls)
