"""The Python API, laktory style: load a pipeline, execute it, read each node's output.

>>> import kappa
>>> pl = kappa.Pipeline.model_validate_yaml(
...     "name: demo\\nnodes:\\n- name: brz\\n  source: {path: ./in/, format: JSONL}\\n")
>>> list(pl.nodes_dict), pl.nodes_dict["brz"].output_df is None
(['brz'], True)

``pl.execute()`` runs the pipeline once (Polars replay unless ``dataframe_backend`` says Spark)
and returns a :class:`~kappa.summary.RunResult`; afterwards
``pl.nodes_dict["x"].output_df`` is node ``x``'s output of that run (a lazy narwhals frame).

Design note: the spec models (:mod:`kappa.models`) know nothing of YAML files, runs or engines.
This module is the one place that joins them for users: :class:`Pipeline` subclasses the spec
model with YAML loading (:mod:`kappa.config.loader`), ``execute()`` (through
:mod:`kappa.runner`) and the last run's result. Node outputs are never written into the models:
``nodes_dict`` hands out :class:`PipelineNode` views that read them from that result (a view
shares the node's field values and equals it). Every
other spec model is re-exported here, so ``from kappa import api as models`` reads like
laktory's ``from laktory import models``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

from pydantic import PrivateAttr

from kappa import models
from kappa.models import (  # noqa: F401 - re-exported: the API's namespace of spec models
    CdcMerge,
    DataFrameExpr,
    DataFrameMethod,
    DataQualityExpectation,
    DataSink,
    DataSource,
    DeltaDataSink,
    DeltaDataSource,
    Expectation,
    FileDataSink,
    FileDataSource,
    KafkaDataSink,
    KafkaDataSource,
    KappaModel,
    PipelineNodeDataSource,
    SparkSettings,
    Transformer,
    Trigger,
)
from kappa.summary import RunResult


class PipelineNode(models.PipelineNode):
    """A node as :attr:`Pipeline.nodes_dict` hands it out: the spec, plus the output of the
    pipeline's last ``execute()``. Build pipelines with either class: they validate the same."""

    _result: RunResult | None = PrivateAttr(None)

    def __eq__(self, other: object) -> bool:
        """Equal to a spec node with the same fields (of either class; the run is not compared)."""
        if not isinstance(other, models.PipelineNode):
            return NotImplemented
        return self.__dict__ == other.__dict__

    __hash__ = None  # type: ignore[assignment]  # mutable, like every pydantic model

    @classmethod
    def _view(cls, node: models.PipelineNode, result: RunResult | None) -> "PipelineNode":
        fields = {name: getattr(node, name) for name in type(node).model_fields}
        view = cls.model_construct(_fields_set=set(node.model_fields_set), **fields)
        view._result = result
        return view

    @property
    def output_df(self) -> Any:
        """The node's output in the last ``execute()`` (a lazy narwhals frame), or None."""
        return self._result.output_df(self.name) if self._result is not None else None

    @property
    def quarantine_df(self) -> Any:
        """Rows a quarantine expectation set aside in the last ``execute()``, or None."""
        return self._result.quarantine_df(self.name) if self._result is not None else None


class Pipeline(models.Pipeline):
    """A pipeline spec that loads from YAML and runs (see the module doc)."""

    _result: RunResult | None = PrivateAttr(None)

    @property
    def nodes_dict(self) -> dict[str, PipelineNode]:  # type: ignore[override]
        """Nodes by name, each with its output of the last ``execute()`` (``output_df``)."""
        return {n.name: PipelineNode._view(n, self._result) for n in self.nodes}

    @property
    def last_run(self) -> RunResult | None:
        """The result of the last ``execute()``, or None."""
        return self._result

    @classmethod
    def model_validate(cls, obj: Any, *args: Any, **kwargs: Any) -> "Pipeline":  # type: ignore[override]
        """Validate a mapping, or (as laktory allows) an open YAML file."""
        if hasattr(obj, "read"):
            return cls.model_validate_yaml(obj)
        return super().model_validate(obj, *args, **kwargs)

    @classmethod
    def model_validate_yaml(cls, source: Any, *, path: str | None = None, variables: Mapping[str, Any] | None = None) -> "Pipeline":
        """Load YAML text or an open file; errors name file, line and field."""
        from kappa.config.loader import load_model_text, with_base_dir

        file_name = None
        if hasattr(source, "read"):
            file_name = getattr(source, "name", None)
            path = path or file_name
            source = source.read()
        pipeline = load_model_text(cls, source, path=path, variables=variables)
        return with_base_dir(pipeline, file_name) if isinstance(file_name, str) else pipeline

    def model_dump_yaml(self) -> str:
        """Serialise to YAML (the inverse of :meth:`model_validate_yaml`)."""
        from kappa.config.loader import dump_yaml

        return dump_yaml(self)

    def execute(self, select: Sequence[str] | None = None, engine: str | None = None, full_refresh: bool | Sequence[str] = False) -> RunResult:
        """Run the pipeline once (Polars replay by default); node outputs are then on
        ``nodes_dict[name].output_df``. A failed node raises :class:`~kappa.errors.RunFailed`."""
        from kappa.runner import execute_pipeline

        self._result = execute_pipeline(self, select=select, engine=engine, full_refresh=full_refresh, keep_outputs=True)
        return self._result


def load_pipeline_file(path: str | Path, variables: Mapping[str, Any] | None = None) -> Pipeline:
    """A :class:`Pipeline` from a YAML file (:func:`kappa.config.loader.load_pipeline_file`)."""
    from kappa.config.loader import load_model_file

    return load_model_file(Pipeline, path, variables=variables)


def load_pipeline_text(text: str, path: str | None = None, variables: Mapping[str, Any] | None = None) -> Pipeline:
    """A :class:`Pipeline` from YAML text (:func:`kappa.config.loader.load_pipeline_text`)."""
    from kappa.config.loader import load_model_text

    return load_model_text(Pipeline, text, path=path, variables=variables)
