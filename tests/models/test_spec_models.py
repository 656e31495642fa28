"""Every spec model documents every field and forbids unknown keys; docstring examples run."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
import typing

import pytest
from pydantic import BaseModel

import kappa.config
import kappa.models
from kappa.models import KappaModel, Pipeline


def _all_subclasses(cls: type) -> list[type]:
    out: list[type] = []
    for sub in cls.__subclasses__():
        out.append(sub)
        out.extend(_all_subclasses(sub))
    return out


def _reachable(model: type[BaseModel], seen: set[type]) -> None:
    """Models reachable from ``model`` through field annotations."""
    if model in seen:
        return
    seen.add(model)
    stack = [f.annotation for f in model.model_fields.values()]
    while stack:
        tp = stack.pop()
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            _reachable(tp, seen)
        stack.extend(a for a in typing.get_args(tp) if not isinstance(a, (str, int)))


def _spec_models() -> list[type[BaseModel]]:
    for info in pkgutil.iter_modules(kappa.models.__path__):
        importlib.import_module(f"kappa.models.{info.name}")
    reachable: set[type] = set()
    _reachable(Pipeline, reachable)
    found = {m for m in _all_subclasses(KappaModel) if m.__module__.startswith("kappa.")} | reachable
    return sorted(found, key=lambda m: (m.__module__, m.__name__))


SPEC_MODELS = _spec_models()


def test_the_spec_is_what_we_expect():
    names = {m.__name__ for m in SPEC_MODELS}
    assert {
        "Pipeline", "PipelineNode", "Trigger", "SparkSettings", "FileDataSource", "DeltaDataSource",
        "KafkaDataSource", "PipelineNodeDataSource", "FileDataSink", "DeltaDataSink", "KafkaDataSink",
        "Transformer", "DataFrameExpr", "DataFrameMethod", "Expectation", "CdcMerge",
    } <= names


@pytest.mark.parametrize("model", SPEC_MODELS, ids=lambda m: m.__name__)
def test_every_field_has_a_description(model):
    missing = [name for name, f in model.model_fields.items() if not (f.description or "").strip()]
    assert missing == [], f"{model.__name__}: fields without a description: {missing}"
    if not model.__name__.startswith("_"):  # private bases only share fields
        assert (model.__doc__ or "").strip(), f"{model.__name__} has no docstring"


@pytest.mark.parametrize("model", SPEC_MODELS, ids=lambda m: m.__name__)
def test_every_model_forbids_extra_keys(model):
    assert issubclass(model, KappaModel), f"{model.__name__} is not a KappaModel"
    assert model.model_config.get("extra") == "forbid"


def test_laktory_names_are_exported():
    for name in ("PipelineNode", "FileDataSource", "PipelineNodeDataSource", "FileDataSink",
                 "DataFrameExpr", "DataFrameMethod", "Pipeline", "DataQualityExpectation"):
        assert hasattr(kappa.models, name), name


def _modules(package) -> list[str]:
    return [f"{package.__name__}.{info.name}" for info in pkgutil.iter_modules(package.__path__)]


@pytest.mark.parametrize("module_name", _modules(kappa.models) + _modules(kappa.config) + ["kappa.graph"])
def test_docstring_examples_pass(module_name):
    """The same check as ``pytest --doctest-modules kappa/models kappa/config``."""
    module = importlib.import_module(module_name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


def test_the_models_and_config_carry_examples():
    counted = sum(
        doctest.testmod(importlib.import_module(m), report=False).attempted
        for m in _modules(kappa.models) + _modules(kappa.config)
    )
    assert counted >= 15
