"""The pipeline spec: pydantic models, named as in laktory where laktory has the concept.

The names are loaded on first use (PEP 562), like :mod:`kappa`'s own: the source and sink
models live with their kinds (:mod:`kappa.connectors`), whose modules import
:mod:`kappa.models.base`; an eager package would import the unions of those kinds while a kind
module is still half-imported.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from kappa.models.base import KappaModel
    from kappa.models.cdc import CdcMerge
    from kappa.models.expectations import Expectation
    from kappa.models.expectations import Expectation as DataQualityExpectation
    from kappa.models.pipeline import Pipeline, PipelineNode, SparkSettings, Trigger
    from kappa.models.sinks import DataSink, DeltaDataSink, FileDataSink, KafkaDataSink
    from kappa.models.sources import DataSource, DeltaDataSource, FileDataSource, KafkaDataSource, PipelineNodeDataSource
    from kappa.models.transformer import DataFrameExpr, DataFrameMethod, Transformer

#: public name -> the module defining (or re-exporting) it
_HOMES = {
    "KappaModel": "base",
    "CdcMerge": "cdc",
    "Expectation": "expectations",
    "DataQualityExpectation": "expectations",
    "Pipeline": "pipeline",
    "PipelineNode": "pipeline",
    "SparkSettings": "pipeline",
    "Trigger": "pipeline",
    "DataSink": "sinks",
    "DeltaDataSink": "sinks",
    "FileDataSink": "sinks",
    "KafkaDataSink": "sinks",
    "DataSource": "sources",
    "DeltaDataSource": "sources",
    "FileDataSource": "sources",
    "KafkaDataSource": "sources",
    "PipelineNodeDataSource": "sources",
    "DataFrameExpr": "transformer",
    "DataFrameMethod": "transformer",
    "Transformer": "transformer",
}

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


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'kappa.models' has no attribute {name!r}")
    module = importlib.import_module(f"kappa.models.{home}")
    value = getattr(module, "Expectation" if name == "DataQualityExpectation" else name)  # laktory's name
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
