"""kappa: streaming-first kappa-architecture pipelines.

Declare a pipeline in YAML (or the same pydantic models in Python); run it on Spark
Structured Streaming or replay it locally on Polars with identical results.

Heavy modules (polars, deltalake, pyspark) are imported lazily so that importing
``kappa`` and running ``kappa --help`` stay fast.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "models", "Pipeline", "PipelineNode"]


def __getattr__(name: str):
    if name == "models":
        import importlib

        return importlib.import_module("kappa.models")
    if name in ("Pipeline", "PipelineNode"):
        from kappa import models

        return getattr(models, name)
    raise AttributeError(f"module 'kappa' has no attribute {name!r}")
