"""kappa: streaming-first kappa-architecture pipelines.

Declare a pipeline in YAML (or the same pydantic models in Python); run it on Spark
Structured Streaming or replay it locally on Polars with identical results.

``kappa.Pipeline`` (and ``PipelineNode``) is the Python API's (:mod:`kappa.api`): the spec model
of :mod:`kappa.models` plus YAML loading, ``execute()`` and node outputs.

Heavy modules (polars, deltalake, pyspark) are imported lazily so that importing
``kappa`` and running ``kappa --help`` stay fast.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "api", "models", "Pipeline", "PipelineNode"]


def __getattr__(name: str):
    if name in ("api", "models"):
        import importlib

        return importlib.import_module(f"kappa.{name}")
    if name in ("Pipeline", "PipelineNode"):
        from kappa import api

        return getattr(api, name)
    raise AttributeError(f"module 'kappa' has no attribute {name!r}")
