"""The pipeline spec: pydantic models, named as in laktory where laktory has the concept."""

from kappa.models.base import KappaModel
from kappa.models.cdc import CdcMerge
from kappa.models.expectations import Expectation
from kappa.models.pipeline import Pipeline, PipelineNode, SparkSettings, Trigger
from kappa.models.sinks import DataSink, DeltaDataSink, FileDataSink, KafkaDataSink
from kappa.models.sources import (
    DataSource,
    DeltaDataSource,
    FileDataSource,
    KafkaDataSource,
    PipelineNodeDataSource,
)
from kappa.models.transformer import DataFrameExpr, DataFrameMethod, Transformer

DataQualityExpectation = Expectation  # laktory's name

__all__ = [
    "CdcMerge",
    "DataFrameExpr",
    "DataFrameMethod",
    "DataQualityExpectation",
    "DataSink",
    "DataSource",
    "DeltaDataSink",
    "DeltaDataSource",
    "Expectation",
    "FileDataSink",
    "FileDataSource",
    "KafkaDataSink",
    "KafkaDataSource",
    "KappaModel",
    "Pipeline",
    "PipelineNode",
    "PipelineNodeDataSource",
    "SparkSettings",
    "Transformer",
    "Trigger",
]
